//! The registry as the API sends it, and as we store it. Pure Rust: no Postgres here, so
//! `cargo test` checks parsing and mapping against the real fixture files in seconds.

pub mod decimal;
pub mod diff;
pub mod jsonb;
pub mod labs;
pub mod lz4;
pub mod mapping;
pub mod page;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod fuzz_tests;

pub use mapping::{assemble, map_models, map_part, Documents, Known, MappedModel, Part, Registry};
pub use page::{parse_page, Page, ShapeError};
