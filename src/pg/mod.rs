//! PostgreSQL machinery both datasets use. `jsonb` and `lz4` build PostgreSQL's binary
//! formats in pure Rust (no pgrx: tested against the server's own functions in
//! `tests::formats`); `arrays`, `spi`, `memory` and `progress` work inside the backend;
//! `cron` reaches pg_cron in the database that keeps its jobs.

pub(crate) mod arrays;
pub mod cron;
pub mod jsonb;
pub mod lz4;
pub(crate) mod memory;
pub(crate) mod progress;
pub(crate) mod spi;
