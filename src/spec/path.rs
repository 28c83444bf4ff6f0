//! Field paths: where in the spec a problem is, as the user reads it.

/// One step of a field path: a map key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A problem at a field: (field path, message, hint).
pub type Finding = (Vec<Seg>, String, Option<String>);

pub fn key(k: &str) -> Seg {
    Seg::Key(k.to_string())
}

/// Renders a path as `sysctls["net.ipv4.ip_forward"]`, `packages[2]` or `user.name`.
pub fn render_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Key(k) => out.push_str(&format!("[{k:?}]")),
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Whether `path` is `prefix` or lies below it.
pub fn is_within(path: &[Seg], prefix: &[Seg]) -> bool {
    path.starts_with(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_paths_readably() {
        let path = [key("sysctls"), key("net.ipv4.ip_forward")];
        assert_eq!(render_path(&path), "sysctls[\"net.ipv4.ip_forward\"]");
        let path = [key("packages"), Seg::Index(2)];
        assert_eq!(render_path(&path), "packages[2]");
    }
}
