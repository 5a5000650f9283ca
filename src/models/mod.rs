//! The models dataset: `GET /models`, stored as `things` rows of the `models` and `labs`
//! namespaces with their `relationships`, price history and change log.
//!
//! `page`, `map`, `labs`, `prices` and `diff` are pure Rust (no Postgres), so `cargo test`
//! checks parsing, mapping and change tracking against the real fixture files in seconds;
//! `store` is the SQL, `sync` the steps of one sync.

pub mod diff;
pub mod labs;
pub mod map;
pub mod page;
pub mod prices;
pub(crate) mod store;
pub(crate) mod sync;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod fuzz_tests;

pub use map::{assemble, map_models, map_part, Documents, Known, MappedModel, Part, Registry};
pub use page::{parse_page, Page, ShapeError};
