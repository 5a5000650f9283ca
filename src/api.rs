//! Every function users call, grouped by dataset. Thin: the work is in `models::sync` and
//! `endpoints::sync`.

use crate::models::sync::{self, Source};
use pgrx::prelude::*;

/// Fetches the registry from openrouter.api_url and upserts it, in the caller's transaction;
/// with `endpoints => true` then also every live model's provider endpoints (one request per
/// model), whose summary lands under "endpoints".
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_catalog, pg_temp)]
fn openrouter_sync(
    force: default!(Option<bool>, false),
    endpoints: default!(Option<bool>, false),
) -> pgrx::JsonB {
    let force = not_null("openrouter_sync", "force", force);
    let endpoints = not_null("openrouter_sync", "endpoints", endpoints);
    let summary = sync::run(Source::Api, force);
    if !endpoints {
        return summary;
    }
    let mut summary = summary.0;
    summary["endpoints"] = crate::endpoints::sync::run(None).0;
    pgrx::JsonB(summary)
}

/// Fetches the provider endpoints of the live models (all, or those in `model_ids`) and the
/// providers list, and stores them in the caller's transaction.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_catalog, pg_temp)]
fn openrouter_sync_endpoints(
    model_ids: default!(Option<Vec<Option<String>>>, "NULL"),
) -> pgrx::JsonB {
    crate::endpoints::sync::run(model_ids)
}

extension_sql_file!(
    "../sql/endpoints.sql",
    name = "endpoints",
    requires = ["analyst", openrouter_sync_endpoints, openrouter_sync]
);

// One run history and change log for every dataset (issue 22): widens the tables above.
extension_sql_file!(
    "../sql/datasets.sql",
    name = "datasets",
    requires = ["endpoints"]
);

/// Internal: pg_cron's side of openrouter_schedule(), openrouter_unschedule() and
/// openrouter_cron_status(), run where pg_cron keeps its jobs (cron.database_name's
/// database: here in this transaction, or from elsewhere through a background worker).
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_catalog, pg_temp)]
fn openrouter_cron_job(
    operation: Option<&str>,
    job_name: Option<&str>,
    schedule: Option<&str>,
    command: Option<&str>,
) -> pgrx::JsonB {
    pgrx::JsonB(crate::pg::cron::call(
        operation, job_name, schedule, command,
    ))
}

/// A NULL where a sync needs a value is a mistake, not "do nothing": a clear error.
fn not_null<T>(entry: &str, name: &str, value: Option<T>) -> T {
    value.unwrap_or_else(|| {
        crate::error::SyncError::Argument(format!("{entry}: {name} must not be NULL")).raise()
    })
}

/// The offline syncs: openrouter_sync_from_text() and openrouter_sync_from_json() (SQL
/// wrappers below) both call this, naming themselves in `entry_point`, so that the run's
/// source and every message name the function the user called.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_catalog, pg_temp)]
fn openrouter_sync_offline(
    payload: Option<&str>,
    force: Option<bool>,
    as_of: Option<pgrx::datum::TimestampWithTimeZone>,
    entry_point: Option<&str>,
) -> pgrx::JsonB {
    let entry = match entry_point {
        Some("openrouter_sync_from_text") => "openrouter_sync_from_text",
        Some("openrouter_sync_from_json") => "openrouter_sync_from_json",
        _ => crate::error::SyncError::Argument(
            "openrouter_sync_offline is called by openrouter_sync_from_text() and openrouter_sync_from_json(); call those".into(),
        )
        .raise(),
    };
    let payload = not_null(entry, "payload", payload);
    let force = not_null(entry, "force", force);
    // The snapshot's time, as the sync's timestamp text, and its date (UTC) for
    // expiration dates.
    let as_of = as_of.map(|t| {
        let row = Spi::get_two_with_args::<String, String>(
            "SELECT $1::text, ($1 AT TIME ZONE 'UTC')::date::text",
            &[t.into()],
        )
        .expect("reading as_of");
        let (Some(at), Some(day)) = row else {
            unreachable!("a timestamptz has a text and a date")
        };
        let day = chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").unwrap_or_else(|_| {
            crate::error::SyncError::Argument(format!("{entry}: as_of {at} has no calendar date"))
                .raise()
        });
        (at, day)
    });
    // A copy as large as the payload: fallible, so that a lack of memory is an ERROR, not an
    // abort of the server process.
    let mut body = String::new();
    if body.try_reserve_exact(payload.len()).is_err() {
        crate::error::SyncError::OutOfMemory {
            what: format!("copying the payload given to {entry}"),
            bytes: payload.len(),
        }
        .raise();
    }
    body.push_str(payload);
    sync::run(Source::Payload { body, entry, as_of }, force)
}

extension_sql!(
    r#"
CREATE FUNCTION openrouter_sync_from_text(payload text, force boolean DEFAULT false, as_of timestamptz DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$ SELECT openrouter_sync_offline(payload, force, as_of, 'openrouter_sync_from_text') $$;

CREATE FUNCTION openrouter_sync_from_json(payload jsonb, force boolean DEFAULT false, as_of timestamptz DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$ SELECT openrouter_sync_offline(payload::text, force, as_of, 'openrouter_sync_from_json') $$;

COMMENT ON FUNCTION openrouter_sync(boolean, boolean) IS
'Fetches the OpenRouter model registry from openrouter.api_url (following links.next) and upserts models, labs and their relationships in the current transaction. Returns a summary (models, labs, inserted, updated, added, removed, repriced, ..., duration_ms, source). force => true overrides the guard against removing more than openrouter.max_removed_fraction of the live models. endpoints => true then also runs openrouter_sync_endpoints() (one request per live model) and puts its summary under "endpoints". NULL arguments are an error.';
COMMENT ON FUNCTION openrouter_sync_offline(text, boolean, timestamptz, text) IS
'Internal: the offline sync behind openrouter_sync_from_text() and openrouter_sync_from_json(), which name themselves in entry_point. Call those instead.';
COMMENT ON FUNCTION openrouter_sync_from_text(text, boolean, timestamptz) IS
'Same as openrouter_sync(), from a response body given as text, e.g. pg_read_file(''/path/models.json''). No network access. as_of => the time the snapshot was taken: everything is stamped with it (price periods, change log, first and last seen) and expiration dates are judged on its date, so archived snapshots loaded in date order build real price history; a snapshot not after the last sync is refused. NULL payload or force is an error.';
COMMENT ON FUNCTION openrouter_sync_from_json(jsonb, boolean, timestamptz) IS
'Same as openrouter_sync_from_text(), from a response body given as jsonb. No network access.';
"#,
    name = "sync_from_json",
    requires = [openrouter_sync_offline, openrouter_sync]
);

/// The C symbol of 0.1.0's openrouter_sync_from_text (a C function then, a SQL wrapper now):
/// kept so that 0.1.0's script still installs against this library, the first step of
/// `CREATE EXTENSION ... VERSION '0.1.0'` + `ALTER EXTENSION ... UPDATE`. Called before the
/// update, it says so.
#[no_mangle]
#[doc(hidden)]
pub extern "C" fn pg_finfo_openrouter_sync_from_text_wrapper() -> &'static pg_sys::Pg_finfo_record {
    const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

/// See `pg_finfo_openrouter_sync_from_text_wrapper`.
#[no_mangle]
#[doc(hidden)]
#[pg_guard]
pub extern "C-unwind" fn openrouter_sync_from_text_wrapper(
    _fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    crate::error::SyncError::OldObjects {
        entry: "openrouter_sync_from_text",
        library: env!("CARGO_PKG_VERSION"),
        objects: "0.1.0".into(),
    }
    .raise()
}
