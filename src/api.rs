//! Every function users call, grouped by dataset. Thin: the work is in `models::sync` and
//! `endpoints::sync`.

use crate::models::sync::{self, Source};
use pgrx::prelude::*;

/// Fetches the registry from openrouter.api_url and upserts it, in the caller's transaction;
/// with `endpoints => true` then also every live model's provider endpoints (one request per
/// model), whose summary lands under "endpoints".
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_catalog, pg_temp)]
fn openrouter_sync(force: default!(bool, false), endpoints: default!(bool, false)) -> pgrx::JsonB {
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

/// Same as openrouter_sync(), from a response body given as text (offline; one page).
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(@extschema@, pg_catalog, pg_temp)]
fn openrouter_sync_from_text(payload: &str, force: default!(bool, false)) -> pgrx::JsonB {
    // A copy as large as the payload: fallible, so that a lack of memory is an ERROR, not an
    // abort of the server process.
    let mut copy = String::new();
    if copy.try_reserve_exact(payload.len()).is_err() {
        crate::error::SyncError::OutOfMemory {
            what: "copying the payload given to openrouter_sync_from_text".into(),
            bytes: payload.len(),
        }
        .raise();
    }
    copy.push_str(payload);
    sync::run(Source::Payload(copy), force)
}

extension_sql!(
    r#"
CREATE FUNCTION openrouter_sync_from_json(payload jsonb, force boolean DEFAULT false)
RETURNS jsonb
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = @extschema@, pg_catalog, pg_temp
AS $$ SELECT openrouter_sync_from_text(payload::text, force) $$;

COMMENT ON FUNCTION openrouter_sync(boolean, boolean) IS
'Fetches the OpenRouter model registry from openrouter.api_url (following links.next) and upserts models, labs and their relationships in the current transaction. Returns a summary (models, labs, inserted, updated, added, removed, repriced, ..., duration_ms, source). force => true overrides the guard against removing more than openrouter.max_removed_fraction of the live models. endpoints => true then also runs openrouter_sync_endpoints() (one request per live model) and puts its summary under "endpoints".';
COMMENT ON FUNCTION openrouter_sync_from_text(text, boolean) IS
'Same as openrouter_sync(), from a response body given as text, e.g. pg_read_file(''/path/models.json''). No network access.';
COMMENT ON FUNCTION openrouter_sync_from_json(jsonb, boolean) IS
'Same as openrouter_sync(), from a response body given as jsonb. No network access.';
"#,
    name = "sync_from_json",
    requires = [openrouter_sync_from_text, openrouter_sync]
);
