//! The endpoints dataset: each live model's provider endpoints
//! (`GET /models/{author}/{slug}/endpoints`) and the providers list (`GET /providers`),
//! stored as `things` rows of the `endpoints` and `providers` namespaces with their
//! `relationships` and a metric history.
//!
//! `map` is pure Rust (no Postgres); `store` is the SQL, `sync` the steps of one sync.

pub mod map;
pub(crate) mod store;
pub(crate) mod sync;

pub use map::*;
