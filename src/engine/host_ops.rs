//! The executor's seam: every way apply acts on the host, as one trait. `LiveHost` acts on the
//! real host (privileged requests in-process or through the helper, the user's session, the
//! k3s download); tests put a recording fake in its place, so that the executor's rules are
//! checked without a VM.

use super::k3s_fetch::{self, Fetched};
pub use super::op_error::{OpError, OpKind};
use super::privilege::Privilege;
use crate::host::session::{self, Account};
use crate::privileged::{Done, Request};
use crate::spec::K3sSpec;
use std::path::Path;
use std::time::Duration;

/// How long to wait for a user manager that linger or a restart has just started.
pub const MANAGER_TIMEOUT: Duration = Duration::from_secs(90);

/// A file groundwork keeps in the target user's home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HomeFile {
    /// ~/.config/systemd/user/k3s-rootless.service
    Unit,
    /// ~/.local/state/groundwork/pending-restart
    PendingRestart,
}

#[allow(async_fn_in_trait)]
pub trait HostOps {
    /// A privileged request, with the file whose bytes follow it (install_k3s).
    async fn privileged(&mut self, req: &Request, payload: Option<&Path>) -> Result<Done, OpError>;
    /// The k3s binary the spec pins, downloaded (or taken from the local file) and verified.
    async fn fetch_k3s(&mut self, k3s: &K3sSpec) -> Result<Fetched, OpError>;
    /// Writes (Some) or removes (None) a file in the user's home, with the user's rights.
    async fn home_file(
        &mut self,
        user: &str,
        file: HomeFile,
        content: Option<&[u8]>,
    ) -> Result<(), OpError>;
    /// `systemctl --user ARGS` for the user.
    async fn systemctl_user(&mut self, user: &str, args: &[&str]) -> Result<(), OpError>;
    /// Waits until the user's systemd manager answers.
    async fn wait_for_user_manager(&mut self, user: &str) -> Result<(), OpError>;
}

/// The real host.
pub struct LiveHost {
    pub privilege: Privilege,
    /// Show download progress on stderr.
    pub progress: bool,
}

impl HostOps for LiveHost {
    async fn privileged(&mut self, req: &Request, payload: Option<&Path>) -> Result<Done, OpError> {
        self.privilege.run(req, payload).await
    }

    async fn fetch_k3s(&mut self, k3s: &K3sSpec) -> Result<Fetched, OpError> {
        let spec = k3s.clone();
        let progress = self.progress;
        let arch = crate::host::system::architecture();
        // ureq and the hashing are blocking: off the async runtime.
        let fetched = tokio::task::spawn_blocking(move || k3s_fetch::fetch(&spec, &arch, progress))
            .await
            .map_err(|e| OpError::failed(format!("the download panicked: {e}")))?
            .map_err(OpError::failed)?;
        // Verified against the pin or the release's own sha256 file: later plans on this host
        // know these bytes as this release without a download.
        let asset = crate::resources::k3s_binary::asset_for(&crate::host::system::architecture())
            .map_err(OpError::failed)?;
        crate::resources::k3s_binary::remember_release(&k3s.version, asset, &fetched.sha256);
        Ok(fetched)
    }

    async fn home_file(
        &mut self,
        user: &str,
        file: HomeFile,
        content: Option<&[u8]>,
    ) -> Result<(), OpError> {
        let account = Account::resolve(user)?;
        let path = match file {
            HomeFile::Unit => session::unit_path(&account.home),
            HomeFile::PendingRestart => session::pending_restart_marker(&account.home),
        };
        session::write_as_user(&account, Path::new(&path), content).await?;
        Ok(())
    }

    async fn systemctl_user(&mut self, user: &str, args: &[&str]) -> Result<(), OpError> {
        let account = Account::resolve(user)?;
        session::systemctl(&account, args).await?;
        Ok(())
    }

    async fn wait_for_user_manager(&mut self, user: &str) -> Result<(), OpError> {
        let account = Account::resolve(user)?;
        session::wait_for_manager(&account, MANAGER_TIMEOUT).await?;
        Ok(())
    }
}
