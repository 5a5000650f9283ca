//! Helpers shared by the Postgres tests: pointing the extension at a loopback server,
//! syncing, and reading back what is stored.

use crate::tests::testkit::sql::{count, one, run};
use crate::tests::testkit::{fixture, TestServer, OLD};
use pgrx::prelude::*;
use serde_json::Value;

/// A loopback server answering with a fixture file, and the extension pointed at it.
pub(super) fn serve(file: &str) -> TestServer {
    let server = TestServer::registry(fixture(file), None);
    point_at(&server.models_url());
    server
}

pub(super) fn point_at(url: &str) {
    run(&format!("SET openrouter.api_url = '{url}'"));
    run("SET openrouter.max_retries = 0");
    run("SET client_min_messages = warning");
}

pub(super) fn sync() -> Value {
    one::<pgrx::JsonB>("SELECT openrouter_sync()").0
}

pub(super) fn sync_forced() -> Value {
    one::<pgrx::JsonB>("SELECT openrouter_sync(force => true)").0
}

/// Everything stored, timestamps included: equal fingerprints mean nothing changed.
pub(super) fn fingerprint() -> String {
    one::<String>(
        "SELECT concat_ws(' ',
           (SELECT count(*) || ':' || coalesce(md5(string_agg(concat_ws('|', ns, id, type, data::text, content, created_at, updated_at), E'\\n' ORDER BY ns, id)), '') FROM things),
           (SELECT count(*) || ':' || coalesce(md5(string_agg(concat_ws('|', ns, id, type, from_id, to_id, created_at), E'\\n' ORDER BY ns, id)), '') FROM relationships),
           (SELECT count(*) FROM openrouter_price_history), (SELECT count(*) FROM openrouter_sync_runs),
           (SELECT count(*) FROM openrouter_change_log))",
    )
}

/// Runs a sync in a subtransaction and returns its error as 'SQLSTATE: message', or None.
pub(super) fn sync_error() -> Option<String> {
    run(
        "CREATE OR REPLACE FUNCTION pg_temp.try_sync() RETURNS text LANGUAGE plpgsql AS $$
         BEGIN PERFORM openrouter_sync(); RETURN NULL;
         EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$",
    );
    Spi::get_one::<String>("SELECT pg_temp.try_sync()").unwrap()
}

pub(super) fn ids_of(file: &str) -> std::collections::BTreeSet<String> {
    let doc: Value = serde_json::from_str(&fixture(file)).unwrap();
    doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

/// The models of a fixture file as the API lists them, and whether each is past its
/// expiration date today.
pub(super) fn models_in(file: &str) -> Vec<(Value, bool)> {
    let doc: Value = serde_json::from_str(&fixture(file)).unwrap();
    let today = chrono::Utc::now().date_naive().to_string();
    doc["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let expired = m["expiration_date"]
                .as_str()
                .is_some_and(|d| d < today.as_str());
            (m.clone(), expired)
        })
        .collect()
}

/// The models of a fixture file that are not past their expiration date today.
pub(super) fn live_in(file: &str) -> Vec<Value> {
    models_in(file)
        .into_iter()
        .filter_map(|(m, expired)| (!expired).then_some(m))
        .collect()
}

pub(super) fn expired_in(file: &str) -> std::collections::BTreeSet<String> {
    models_in(file)
        .into_iter()
        .filter(|(_, expired)| *expired)
        .map(|(m, _)| m["id"].as_str().unwrap().to_string())
        .collect()
}

/// openrouter_model_state (what cheapest_models() searches) agrees with things.data for
/// every model: same prices, context and deprecated flag, one row per model.
pub(super) fn assert_state_matches_things(when: &str) {
    let off = one::<String>(
        "SELECT count(*) || ' of ' || (SELECT count(*) FROM things WHERE ns = 'models') || ': '
                || coalesce(string_agg(t.id, ', ' ORDER BY t.id), '')
           FROM things t LEFT JOIN openrouter_model_state s ON s.model_id = t.id
          WHERE t.ns = 'models'
            AND (s.model_id IS NULL
                 OR s.prompt_price IS DISTINCT FROM (t.data->'pricing'->>'prompt')::numeric
                 OR s.completion_price IS DISTINCT FROM (t.data->'pricing'->>'completion')::numeric
                 OR s.context_length IS DISTINCT FROM (t.data->>'context_length')::integer
                 OR s.deprecated IS DISTINCT FROM coalesce(t.data->'deprecated' = 'true'::jsonb, false))",
    );
    assert!(
        off.starts_with("0 of "),
        "{when}: state differs from things for {off}"
    );
    assert!(!off.starts_with("0 of 0:"), "{when}: no models");
    // Scale too: cheapest_models() returns these numerics as they are.
    assert_eq!(
        count(
            "SELECT count(*) FROM things t JOIN openrouter_model_state s ON s.model_id = t.id
                WHERE t.ns = 'models' AND s.prompt_price::text <> t.data->'pricing'->>'prompt'"
        ),
        0,
        "{when}"
    );
}

pub(super) fn err(sql: &str) -> String {
    if !one::<bool>("SELECT to_regprocedure('pg_temp.err(text)') IS NOT NULL") {
        run("CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
             BEGIN EXECUTE q; RETURN NULL; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$");
    }
    Spi::get_one_with_args::<String>("SELECT pg_temp.err($1)", &[sql.into()])
        .unwrap()
        .unwrap_or_default()
}

pub(super) fn seeded() {
    Spi::run_with_args(
        "SELECT openrouter_sync_from_text($1)",
        &[fixture(OLD).into()],
    )
    .unwrap();
}

/// tests/seed/worker.sql: the worker this extension replaces, and the application's other
/// sources, as pg_temp functions (created once per session, and again on every call: cheap).
fn seed_functions() {
    run(include_str!("../../tests/seed/worker.sql"));
}

/// Writes rows of the application's other sources into things and relationships (their own
/// namespaces, and an edge of theirs in the shared 'relationships' namespace); returns them
/// as `assert_other_sources_untouched` compares them.
pub(super) fn other_sources_write() -> String {
    // The sync lock first, as a sync takes it before it touches things: a test that alters
    // things holds that lock (see formats.rs), and would otherwise wait for these rows
    // while this test waits for the lock.
    run(&format!(
        "SELECT pg_advisory_xact_lock({})",
        crate::pg::spi::SYNC_LOCK_KEY
    ));
    seed_functions();
    run("SELECT pg_temp.other_sources_write('@' || pg_backend_pid())");
    let rows = one::<String>("SELECT pg_temp.other_sources_rows()");
    assert!(rows.starts_with("4:"), "{rows}");
    rows
}

/// The other sources' rows are all there, unchanged, not even rewritten with the same
/// values (their ctid would differ).
pub(super) fn assert_other_sources_untouched(before: &str, when: &str) {
    assert_eq!(
        one::<String>("SELECT pg_temp.other_sources_rows()"),
        before,
        "{when}: rows of other namespaces were changed"
    );
}

/// Fills things and relationships the way the worker did from the fixture `file`.
pub(super) fn worker_ingest(file: &str) {
    seed_functions();
    Spi::run_with_args(
        "SELECT pg_temp.worker_ingest($1::jsonb)",
        &[fixture(file).into()],
    )
    .unwrap();
}
