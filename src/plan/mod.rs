//! The plan: an ordered list of items, computed by a pure function of spec and facts, and the
//! whole truth of what apply does. Every action apply takes is a step here, in order: the
//! changes, and the bookkeeping between them (reloading the user manager, waiting for it,
//! recording and clearing a pending restart). `plan` prints it, `plan --out` saves it, and
//! `apply` runs exactly these steps.
//!
//! An item is either a change with the step that makes it, or a blocked gap that no step can
//! close, with the manual fix.

mod model;
mod saved;

pub use model::*;
pub use saved::{SavedPlan, SavedPlanError};
