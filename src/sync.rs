//! One sync, start to end: fetch -> parse -> map -> diff -> store, in the caller's
//! transaction. Any error raises before the first write or aborts the transaction, so the
//! tables are either fully updated or exactly as they were.

use crate::error::SyncError;
use crate::fetch::{self, Fetched};
use crate::registry::{diff, map_models, parse_page};
use crate::{gucs, store};
use pgrx::prelude::*;
use serde_json::json;
use std::time::Instant;

pub enum Source {
    /// GET openrouter.api_url (and its links.next pages).
    Api,
    /// A response body given by the caller (offline).
    Payload(String),
}

/// Lets a blocked fetch notice a cancel or statement_timeout, and reports progress.
fn poll(message: &str) {
    if !message.is_empty() {
        notice!("openrouter: {message}");
    }
    pgrx::pg_sys::check_for_interrupts!();
}

pub fn run(source: Source, force: bool) -> pgrx::JsonB {
    match try_run(source, force) {
        Ok(summary) => pgrx::JsonB(summary),
        Err(e) => e.raise(),
    }
}

fn try_run(source: Source, force: bool) -> Result<serde_json::Value, SyncError> {
    let started = Instant::now();
    let fetched = match source {
        Source::Api => {
            let mut cfg = gucs::fetch_config();
            cfg.api_key = gucs::api_key()?;
            fetch::fetch_all(&cfg, &mut poll)?
        }
        Source::Payload(body) => {
            let bytes = body.len();
            Fetched {
                bodies: vec![body],
                source: crate::error::PAYLOAD.into(),
                requests: 0,
                bytes,
            }
        }
    };
    let url = fetched.source.clone();

    let mut raw_models = Vec::new();
    for body in &fetched.bodies {
        let page = parse_page(body).map_err(|e| SyncError::from_shape(&url, e, body))?;
        raw_models.extend(page.models);
    }
    let today = chrono::Utc::now().date_naive();
    let registry = map_models(&raw_models, today).map_err(|e| SyncError::Model {
        url: url.clone(),
        source: e,
    })?;
    drop(raw_models);
    let pages = fetched.bodies.len();
    drop(fetched.bodies);
    if registry.models.is_empty() {
        return Err(SyncError::Empty { url });
    }
    poll(&format!(
        "mapped {} models from {} labs",
        registry.models.len(),
        registry.labs.len()
    ));
    for w in registry.warnings.iter().take(20) {
        warning!("openrouter: {w}");
    }
    if registry.warnings.len() > 20 {
        warning!(
            "openrouter: {} more warnings (see openrouter_sync_runs.warnings)",
            registry.warnings.len() - 20
        );
    }

    store::lock();
    let prior = store::load_prior();
    let diff = diff::diff(&prior, &registry.models);
    let limit = gucs::max_removed_fraction();
    if !force && diff.live_before > 0 && diff.removed.len() as f64 > limit * diff.live_before as f64
    {
        return Err(SyncError::TooManyRemoved {
            removing: diff.removed.len(),
            live: diff.live_before,
            percent: 100.0 * diff.removed.len() as f64 / diff.live_before as f64,
            limit,
        });
    }
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let written = store::write(
        &registry,
        &diff,
        &store::RunInfo {
            source: &url,
            forced: force,
            pages: pages as i32,
            requests: fetched.requests as i32,
            bytes: fetched.bytes as i64,
            elapsed_ms,
            warnings: &registry.warnings,
        },
    );
    let duration_ms = (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    poll(&format!(
        "stored {} models ({} new, {} updated, {} removed) in {duration_ms} ms",
        registry.models.len(),
        written.inserted,
        written.updated,
        diff.removed.len()
    ));
    Ok(json!({
        "run_id": written.run_id,
        "source": url,
        "models": registry.models.len(),
        "labs": registry.labs.len(),
        "inserted": written.inserted,
        "updated": written.updated,
        "unchanged": diff.unchanged,
        "added": diff.added.len(),
        "removed": diff.removed.len(),
        "returned": diff.returned.len(),
        "expired": diff.expired,
        "repriced": diff.repriced.len(),
        "prices_changed": diff.other_prices_changed.len(),
        "renamed": diff.renamed,
        "context_changed": diff.context_changed,
        "pages": pages,
        "requests": fetched.requests,
        "bytes": fetched.bytes,
        "warnings": registry.warnings.len(),
        "forced": force,
        "duration_ms": duration_ms,
    }))
}
