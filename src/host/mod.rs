//! The host as groundwork reads it and acts on it, below everything that decides: its files
//! (through a root that may be a captured tree), the machine (sysinfo), a user's files read with
//! that user's rights, and the user's session (their account, commands as them, their systemd
//! manager).

pub mod root;
pub mod session;
pub mod system;
pub mod user_files;

pub use root::HostRoot;
