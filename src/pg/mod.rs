//! PostgreSQL machinery both datasets use. `jsonb` and `lz4` build PostgreSQL's binary
//! formats in pure Rust (no pgrx: tested against the server's own functions in
//! `tests::formats`); `arrays`, `spi`, `memory` and `progress` work inside the backend.

pub(crate) mod arrays;
pub mod jsonb;
pub mod lz4;
pub(crate) mod memory;
pub(crate) mod progress;
pub(crate) mod spi;
