//! One manual page, as roff.

/// One page, as roff.
pub struct Page {
    /// `groundwork-plan`.
    pub name: String,
    pub section: &'static str,
    pub roff: String,
}

impl Page {
    /// `groundwork-plan.1`, as man looks for it.
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.name, self.section)
    }
}
