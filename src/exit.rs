//! Exit codes, shared by every command so that scripts can rely on them.

/// In sync, converged, valid, healthy.
pub const OK: i32 = 0;
/// An error: bad input, a failed observation or step, not converged, unhealthy.
pub const ERROR: i32 = 1;
/// Changes are pending (plan) or drift was found (drift).
pub const CHANGES: i32 = 2;
/// Something blocks convergence that only a person can fix.
pub const BLOCKED: i32 = 3;
