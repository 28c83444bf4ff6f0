//! Packages, by logical name, resolved per distribution family; and the id-mapping tools they
//! provide, which only work when setuid root or with file capabilities.

use super::contract::{Cost, DiffCx, ObserveCx, ObserveError, Observed, Resource, observing};
use crate::host::HostRoot;
use crate::plan::{Action, Item, PlanBuilder, ResourceId, Step};
use crate::privileged::Request;
use crate::spec::Spec;
use serde::Serialize;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

pub const ID: ResourceId = ResourceId::new("packages");

pub struct Packages;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Debian,
    RedHat,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OsRelease {
    pub id: String,
    pub id_like: Vec<String>,
    pub version_id: String,
    pub pretty_name: String,
}

pub fn parse_os_release(text: &str) -> OsRelease {
    let mut map = BTreeMap::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            map.insert(
                k.trim().to_string(),
                v.trim().trim_matches('"').trim_matches('\'').to_string(),
            );
        }
    }
    let get = |k: &str| map.get(k).cloned().unwrap_or_default();
    OsRelease {
        id: get("ID"),
        id_like: get("ID_LIKE")
            .split_whitespace()
            .map(String::from)
            .collect(),
        version_id: get("VERSION_ID"),
        pretty_name: get("PRETTY_NAME"),
    }
}

pub fn family(os: &OsRelease) -> Family {
    let ids = std::iter::once(os.id.as_str()).chain(os.id_like.iter().map(String::as_str));
    for id in ids {
        match id {
            "debian" | "ubuntu" => return Family::Debian,
            "fedora" | "rhel" | "centos" | "rocky" | "almalinux" => return Family::RedHat,
            _ => {}
        }
    }
    Family::Unknown
}

/// The distribution's name for a logical package name. Names not in the table are the same
/// everywhere.
pub fn resolve(logical: &str, family: Family) -> String {
    let redhat = match logical {
        "uidmap" => "shadow-utils",
        "dbus-user-session" => "dbus-daemon",
        "iptables" => "iptables-nft",
        "fuse3" => "fuse3",
        other => other,
    };
    match family {
        Family::RedHat => redhat.to_string(),
        _ => logical.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IdmapTool {
    pub path: String,
    pub present: bool,
    pub setuid_root: bool,
    pub file_caps: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PackageFacts {
    pub os: OsRelease,
    pub family: Family,
    /// Distribution package name → installed version, for the spec's packages.
    pub installed: BTreeMap<String, Option<String>>,
    pub newuidmap: IdmapTool,
    pub newgidmap: IdmapTool,
}

/// The installed versions of the WANTED packages, from dpkg's status database: paragraphs whose
/// Status is `install ok installed`. The database holds every package on the host (hundreds of
/// kilobytes) and drift reads it on every run, so it is not split into lines: a vectorised search
/// jumps from one `Package:` field to the next, and only a wanted package's paragraph is read.
pub fn parse_dpkg_status(db: &[u8], wanted: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if wanted.is_empty() {
        return out;
    }
    // Bytes, not text: only the few values kept are decoded, where a whole-file UTF-8 check
    // of a real host's database (a few MiB) would cost more than the search.
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let blank = memchr::memmem::Finder::new(b"\n\n");
    // Every `P`, then the rest of the field's name: here that costs less than a substring
    // search, whose rare-byte guesses for `Package: ` match on every line.
    let fields = memchr::memchr_iter(b'P', db).filter(|&at| db[at..].starts_with(b"Package: "));
    for hit in fields {
        // A field starts a line; ` Package: ` inside a description is not one.
        if hit > 0 && db[hit - 1] != b'\n' {
            continue;
        }
        let value_at = hit + "Package: ".len();
        let value = &db[value_at..];
        // Most packages are not wanted, and their names differ from every wanted name in the
        // first bytes: no need to find where the line ends (a value that starts with a blank
        // takes the long way, trimmed).
        // (The first byte compared inline: a call to memcmp per wanted name cost more.)
        let may_be = |w: &String| {
            let w = w.as_bytes();
            w.first() == value.first() && value.starts_with(w)
        };
        if value.first().is_some_and(|b| !b.is_ascii_whitespace()) && !wanted.iter().any(may_be) {
            continue;
        }
        let line_end = memchr::memchr(b'\n', value).map_or(db.len(), |i| value_at + i);
        let name = db[value_at..line_end].trim_ascii();
        if !wanted.iter().any(|w| w.as_bytes() == name) {
            continue;
        }
        // The paragraph around it: fields may come in any order.
        let start = memchr::memmem::rfind(&db[..hit], b"\n\n").map_or(0, |i| i + 2);
        let end = blank.find(&db[hit..]).map_or(db.len(), |i| hit + i);
        let (mut status, mut version) = (None, None);
        for line in db[start..end].split(|&b| b == b'\n') {
            if let Some(v) = line.strip_prefix(b"Status: ") {
                status = Some(v.trim_ascii());
            } else if let Some(v) = line.strip_prefix(b"Version: ") {
                version = Some(v.trim_ascii());
            }
        }
        if let (Some(s), Some(v)) = (status, version)
            && s.starts_with(b"install ")
            && s.ends_with(b" installed")
        {
            out.insert(text(name), text(v));
        }
    }
    out
}

fn idmap_tool(root: &HostRoot, path: &str) -> std::io::Result<IdmapTool> {
    let full = root.path(path);
    let meta = match std::fs::metadata(&full) {
        Ok(m) => Some(m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(std::io::Error::new(
                e.kind(),
                format!("cannot stat {path}: {e}"),
            ));
        }
    };
    let setuid_root = meta
        .as_ref()
        .is_some_and(|m| m.uid() == 0 && m.mode() & 0o4000 != 0);
    let file_caps = meta.is_some() && has_xattr(&full, "security.capability");
    Ok(IdmapTool {
        path: path.into(),
        present: meta.is_some(),
        setuid_root,
        file_caps,
    })
}

fn has_xattr(path: &std::path::Path, name: &str) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(p) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    let n = std::ffi::CString::new(name).expect("static name");
    // SAFETY: both are valid NUL-terminated strings; a null buffer of size 0 only asks the size.
    let r = unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), std::ptr::null_mut(), 0) };
    r > 0
}

fn os_release(root: &HostRoot) -> std::io::Result<OsRelease> {
    Ok(parse_os_release(
        &root
            .read_optional("/etc/os-release")?
            .or(root.read_optional("/usr/lib/os-release")?)
            .unwrap_or_default(),
    ))
}

pub fn observe(root: &HostRoot, spec: &Spec) -> std::io::Result<PackageFacts> {
    let os = os_release(root)?;
    let family = family(&os);
    let names: Vec<String> = spec.packages.iter().map(|p| resolve(p, family)).collect();
    let installed = match family {
        Family::Debian => {
            let db = parse_dpkg_status(&root.read_bytes("/var/lib/dpkg/status")?, &names);
            names
                .iter()
                .map(|n| (n.clone(), db.get(n).cloned()))
                .collect()
        }
        Family::RedHat => rpm_query(root, &names)?,
        Family::Unknown => names.iter().map(|n| (n.clone(), None)).collect(),
    };
    Ok(PackageFacts {
        os,
        family,
        installed,
        newuidmap: idmap_tool(root, "/usr/bin/newuidmap")?,
        newgidmap: idmap_tool(root, "/usr/bin/newgidmap")?,
    })
}

/// The rpm database is SQLite or Berkeley DB; `rpm -q` is its only stable reader.
fn rpm_query(
    root: &HostRoot,
    names: &[String],
) -> std::io::Result<BTreeMap<String, Option<String>>> {
    let mut out: BTreeMap<String, Option<String>> =
        names.iter().map(|n| (n.clone(), None)).collect();
    if names.is_empty() {
        return Ok(out);
    }
    let output = std::process::Command::new("/usr/bin/rpm")
        .arg("--root")
        .arg(root.base())
        .args(["-q", "--qf", "%{NAME} %{VERSION}-%{RELEASE}\\n"])
        .args(names)
        .env_clear()
        .output()
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot run /usr/bin/rpm: {e}")))?;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some((n, v)) = line.split_once(' ')
            && let Some(slot) = out.get_mut(n)
        {
            *slot = Some(v.to_string());
        }
    }
    Ok(out)
}

impl Resource for Packages {
    fn id(&self) -> ResourceId {
        ID
    }

    fn steps(&self) -> &'static [&'static str] {
        &["install_packages"]
    }

    /// Only Red Hat hosts start a process (`rpm -q`); dpkg's database is a file.
    fn cost(&self, cx: &ObserveCx) -> Cost {
        match os_release(cx.root) {
            Ok(os) if family(&os) == Family::RedHat && !cx.spec.packages.is_empty() => Cost::Slow,
            _ => Cost::Cheap,
        }
    }

    fn observe(&self, cx: &ObserveCx) -> Result<Box<dyn Observed>, ObserveError> {
        Ok(Box::new(observing("packages", observe(cx.root, cx.spec))?))
    }

    fn diff(&self, cx: &DiffCx, plan: &mut PlanBuilder) {
        diff(cx.spec, cx.facts.get::<PackageFacts>(), plan);
    }
}

fn diff(spec: &Spec, facts: &PackageFacts, items: &mut PlanBuilder) {
    if spec.packages.is_empty() {
        return;
    }
    if facts.family == Family::Unknown {
        items.push(Item::blocked(
            ID,
            "packages",
            format!(
                "groundwork cannot install packages on {} (ID={})",
                if facts.os.pretty_name.is_empty() {
                    "this distribution"
                } else {
                    &facts.os.pretty_name
                },
                facts.os.id
            ),
            format!(
                "install {} by hand; Debian, Ubuntu, Fedora and RHEL-like hosts are supported",
                spec.packages.join(", ")
            ),
        ));
        return;
    }
    let missing: Vec<String> = facts
        .installed
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| n.clone())
        .collect();
    if !missing.is_empty() {
        items.push(
            Item::change(
                ID,
                "packages",
                format!("install {}", missing.join(", ")),
                Step::Privileged(Request::InstallPackages {
                    names: missing.clone(),
                }),
            )
            .action(Action::Create)
            .reason("required by rootless k3s and not installed")
            .values(Some("not installed".into()), Some(missing.join(", "))),
        );
    }
    // Installed but unusable id-mapping tools cannot be fixed by installing again.
    let uidmap_pkg = resolve("uidmap", facts.family);
    let uidmap_installed = facts
        .installed
        .get(&uidmap_pkg)
        .is_some_and(Option::is_some);
    for tool in [&facts.newuidmap, &facts.newgidmap] {
        if uidmap_installed && tool.present && !tool.setuid_root && !tool.file_caps {
            items.push(Item::blocked(
                ID,
                format!("packages{}", tool.path),
                format!("{} is neither setuid root nor has file capabilities", tool.path),
                format!("reinstall {uidmap_pkg} (`apt-get install --reinstall {uidmap_pkg}` or `dnf reinstall {uidmap_pkg}`), or `chmod u+s {}`", tool.path),
            ).reason("without them newuidmap cannot map the subordinate ids"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_status_only_counts_installed() {
        let db = "Package: uidmap\nStatus: install ok installed\nVersion: 1:4.13+dfsg1-1+b1\n\nPackage: slirp4netns\nStatus: deinstall ok config-files\nVersion: 1.2.0-1\n\nPackage: gone\nStatus: purge ok not-installed\n";
        let wanted = ["uidmap", "slirp4netns", "gone"].map(String::from);
        let got = parse_dpkg_status(db.as_bytes(), &wanted);
        assert_eq!(got.len(), 1);
        assert_eq!(got["uidmap"], "1:4.13+dfsg1-1+b1");
    }

    #[test]
    fn dpkg_status_keeps_only_wanted_packages_in_any_field_order() {
        // The last paragraph has no trailing blank line; the first has a continuation line that
        // looks like a field, which must not count.
        let db = "Package: fuse3\nStatus: install ok installed\nDescription: x\n Package: uidmap\nVersion: 3.3.0-1\n\nVersion: 1:4.13\nStatus: install ok installed\nPackage: uidmap";
        let got = parse_dpkg_status(db.as_bytes(), &["uidmap".to_string()]);
        assert_eq!(got.len(), 1);
        assert_eq!(got["uidmap"], "1:4.13");
        let both = parse_dpkg_status(db.as_bytes(), &["uidmap".to_string(), "fuse3".to_string()]);
        assert_eq!(both["fuse3"], "3.3.0-1");
        assert!(parse_dpkg_status(db.as_bytes(), &[]).is_empty());
    }

    /// The plain reading the search replaced: every line, paragraph by paragraph.
    fn line_by_line(text: &str, wanted: &[String]) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let (mut name, mut status, mut version): (Option<&str>, Option<&str>, Option<&str>) =
            (None, None, None);
        for line in text.split('\n').chain(std::iter::once("")) {
            if line.is_empty() {
                if let (Some(n), Some(s), Some(v)) = (name.take(), status.take(), version.take())
                    && s.starts_with("install ")
                    && s.ends_with(" installed")
                    && wanted.iter().any(|w| w == n)
                {
                    out.insert(n.to_string(), v.to_string());
                }
                continue;
            }
            if let Some(v) = line.strip_prefix("Package: ") {
                name = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Status: ") {
                status = Some(v.trim());
            } else if let Some(v) = line.strip_prefix("Version: ") {
                version = Some(v.trim());
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn the_search_reads_what_a_line_by_line_reading_reads(
            lines in proptest::collection::vec(proptest::sample::select(vec![
                "Package: uidmap", "Package: fuse3", "Package: other", " Package: uidmap",
                "Status: install ok installed", "Status: deinstall ok config-files",
                "Version: 1:4.13", "Version: 3.3.0-1", "Description: x", " Package: fuse3",
                "", "Depends: libc6", "Package: uidmap2", "Package:  uidmap", "Package: uidmap ",
                "Package: fuse", "Package: \tfuse3",
            ]), 0..40),
            trailing_newline in proptest::bool::ANY,
        ) {
            // One package per paragraph, as dpkg writes it.
            let mut text = String::new();
            let mut named = false;
            for l in lines {
                if l.starts_with("Package: ") {
                    if named {
                        text.push('\n');
                    }
                    named = true;
                } else if l.is_empty() {
                    named = false;
                }
                text.push_str(l);
                text.push('\n');
            }
            if !trailing_newline {
                text.pop();
            }
            let wanted = ["uidmap", "fuse3"].map(String::from);
            proptest::prop_assert_eq!(parse_dpkg_status(text.as_bytes(), &wanted), line_by_line(&text, &wanted));
        }
    }

    #[test]
    fn families_and_names() {
        let ubuntu = parse_os_release("ID=ubuntu\nID_LIKE=debian\nVERSION_ID=\"24.04\"\n");
        assert_eq!(family(&ubuntu), Family::Debian);
        let rocky = parse_os_release("ID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n");
        assert_eq!(family(&rocky), Family::RedHat);
        assert_eq!(resolve("uidmap", Family::RedHat), "shadow-utils");
        assert_eq!(resolve("uidmap", Family::Debian), "uidmap");
        assert_eq!(family(&parse_os_release("ID=alpine\n")), Family::Unknown);
    }
}
