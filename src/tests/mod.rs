//! Test support (`testkit`: the fixtures and a loopback HTTP server, also used by the pure
//! unit tests) and the Postgres tests, one file per concern: everything through SPI, as a
//! user would, against a loopback server started by the test itself (127.0.0.1).

pub mod testkit;

#[cfg(any(test, feature = "pg_test"))]
mod support;

mod analyst;
mod changes;
mod datasets;
mod endpoints;
mod faults;
mod first_hour;
mod formats;
mod operate;
mod reads;
mod security;
mod seed;
mod sync;
