//! The spec: the desired state of one host role, as the user writes it in YAML.
//!
//! The types here are the single source of the JSON Schema in `schema/`. Every struct denies
//! unknown fields, so a misspelt key is an error and never silently ignored.

mod choose;
mod error;
mod field_schemas;
mod load;
pub mod network;
mod network_limits;
mod parsed_cache;
mod path;
mod resolve;
mod schema;
mod shape;
mod starter;
mod static_json;
mod syntax;
mod tree;
mod typed;
mod types;
mod validate;
mod validate_network;

pub use choose::choose;
pub use error::{Problem, SpecError};
pub use load::{SpecSource, load_default, load_file, parse};
pub use resolve::{
    EMBEDDED_NAME, SPEC_ENV, SYSTEM_SPEC, SpecChoice, check_trusted, is_embedded, resolve,
};
pub use schema::schema_json;
pub use starter::starter;
pub use types::*;
pub use validate::validate;
