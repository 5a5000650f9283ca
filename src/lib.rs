//! openrouter_registry: the OpenRouter model registry inside PostgreSQL.
//! Data flows one way: fetch -> parse -> map -> diff -> store; the SQL API reads what is stored.

use pgrx::prelude::*;

pub mod endpoints;
pub mod error;
pub mod fetch;
pub mod registry;

mod api;
mod endpoints_store;
mod endpoints_sync;
mod gucs;
mod store;
mod sync;

#[cfg(any(test, feature = "pg_test"))]
pub mod testkit;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!("../sql/analyst.sql", name = "analyst");
extension_sql_file!("../sql/operate.sql", name = "operate", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::note_preloaded();
    gucs::init();
}

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;
#[cfg(any(test, feature = "pg_test"))]
mod pg_tests_endpoints;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![
            "shared_preload_libraries = 'pg_cron'",
            "cron.database_name = 'pgrx_tests'",
        ]
    }
}
