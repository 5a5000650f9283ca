//! One endpoints sync: the live models' `/endpoints` and the `/providers` list, fetched by a
//! few worker threads while this backend thread polls for a cancel; parsed and mapped
//! (`super::map`); then stored in one go, in the caller's transaction, under the
//! sync lock. A model whose endpoints cannot be fetched or read is named in the summary
//! and in a WARNING; it does not fail the run.

use super::map::{self, MappedEndpoint, MappedProvider};
use super::store;
use crate::error::{safe_url, SyncError};
use crate::pg::{progress, spi};
use crate::{http, settings};
use pgrx::prelude::*;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

pub fn run(model_ids: Option<Vec<Option<String>>>) -> pgrx::JsonB {
    progress::start_clock();
    match try_run(model_ids) {
        Ok(summary) => pgrx::JsonB(summary),
        Err(e) => e.raise(),
    }
}

/// One `/endpoints` request: the stored model its endpoints belong to, and the URL.
struct Request {
    model_id: String,
    url: String,
}

pub(crate) fn try_run(
    model_ids: Option<Vec<Option<String>>>,
) -> Result<serde_json::Value, SyncError> {
    if let Some(encoding) = crate::pg::spi::non_utf8_encoding() {
        return Err(SyncError::Encoding { encoding });
    }
    if let Some(objects) = crate::pg::spi::outdated_objects() {
        return Err(SyncError::OldObjects {
            entry: "openrouter_sync_endpoints",
            library: env!("CARGO_PKG_VERSION"),
            objects,
        });
    }
    let started = Instant::now();
    let mut cfg = settings::fetch_config();
    cfg.api_key = settings::api_key()?;
    crate::error::hide_secret(cfg.api_key.as_deref());
    let base = map::api_base(&cfg.url);
    http::check_url(&base)?;
    let wanted: Option<Vec<String>> = model_ids.map(|v| v.into_iter().flatten().collect());
    let live = store::live_models(wanted.as_deref());
    let mut failed = not_live(wanted.as_deref(), &live);
    let requests = plan_requests(&base, &live, &mut failed);
    let mut urls: Vec<String> = requests.iter().map(|r| r.url.clone()).collect();
    let providers_url = format!("{base}/providers");
    urls.push(providers_url.clone());
    progress::poll(&format!(
        "fetching the endpoints of {} models and the providers list from {} ({} at a time)",
        requests.len(),
        safe_url(&base),
        settings::endpoints_concurrency()
    ));
    let mut poll = progress::poll;
    let mut outcomes = http::get_many(&cfg, &urls, settings::endpoints_concurrency(), &mut poll);
    let providers_outcome = outcomes.pop();

    let mut got = Received::default();
    got.endpoints(&requests, outcomes, &mut failed);
    let (listed, providers_error) = got.providers(providers_outcome, &providers_url);
    let unlisted = map::providers_from_endpoints(&listed, &got.mapped);
    warn_about(&failed, providers_error.as_deref(), &got.warnings);
    // Nothing read at all (the API is down, or unreachable): a failed run, so that the
    // endpoints go stale instead of looking freshly synced; nothing is written.
    if got.fetched_models.is_empty() && providers_error.is_some() {
        return Err(SyncError::NothingRead {
            base: safe_url(&base),
            requests: got.requests,
            first: failed
                .iter()
                .find(|(_, why)| !why.starts_with("not a live model"))
                .map(|(_, why)| why.clone())
                .or(providers_error)
                .unwrap_or_default(),
        });
    }

    spi::lock();
    progress::poll("locked");
    let fetched_models: Vec<&str> = got.fetched_models.iter().map(String::as_str).collect();
    let written = store::write(&store::Batch {
        endpoints: &got.mapped,
        listed_providers: &listed,
        unlisted_providers: &unlisted,
        fetched_models: &fetched_models,
        // An empty list would make every provider gone: only a list with providers counts.
        providers_read: providers_error.is_none() && !listed.is_empty(),
        retention_days: settings::endpoint_stats_retention_days(),
    });
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut run_warnings: Vec<String> = failed
        .iter()
        .map(|(model, why)| format!("the endpoints of {model} were not synced: {why}"))
        .collect();
    run_warnings.extend(
        providers_error
            .iter()
            .map(|e| format!("the providers list was not synced: {e}")),
    );
    run_warnings.extend(got.warnings.iter().cloned());
    let providers_source = safe_url(&providers_url);
    store::record(&store::RunRecord {
        at: &written.at,
        elapsed_ms,
        source: &safe_url(&base),
        models: fetched_models.len() as i32,
        requests: (got.requests - got.providers_requests) as i32,
        bytes: (got.bytes - got.providers_bytes) as i64,
        warnings: run_warnings,
        endpoint_changes: &written.endpoint_changes,
        providers: providers_error.is_none().then_some((
            providers_source.as_str(),
            got.providers_requests as i32,
            got.providers_bytes as i64,
        )),
        provider_changes: &written.provider_changes,
    });
    let duration_ms = (elapsed_ms * 10.0).round() / 10.0;
    progress::poll(&format!(
        "stored {} endpoints of {} models and {} providers ({} models failed) in {duration_ms} ms",
        got.mapped.len(),
        fetched_models.len(),
        listed.len() + unlisted.len(),
        failed.len()
    ));
    let models_failed: Vec<serde_json::Value> = failed
        .iter()
        .map(|(model, error)| json!({"model": model, "error": crate::error::redact(error)}))
        .collect();
    Ok(json!({
        "source": safe_url(&base),
        "models": fetched_models.len(),
        "endpoints": got.mapped.len(),
        "providers": listed.len() + unlisted.len(),
        "providers_listed": listed.len(),
        "models_failed": models_failed,
        "providers_error": providers_error.as_deref().map(crate::error::redact),
        "removed_endpoints": written.removed,
        "stats_rows": written.stats_rows,
        "stats_deleted": written.stats_deleted,
        "changes": written.endpoint_changes.len(),
        "provider_changes": written.provider_changes.len(),
        "requests": got.requests,
        "bytes": got.bytes,
        "warnings": got.warnings.len(),
        "duration_ms": duration_ms,
    }))
}

/// The asked-for models that are not live, each with why it is not synced.
fn not_live(wanted: Option<&[String]>, live: &[String]) -> Vec<(String, String)> {
    let Some(wanted) = wanted else {
        return Vec::new();
    };
    let live_set: HashSet<&str> = live.iter().map(String::as_str).collect();
    let mut unknown: Vec<&String> = wanted
        .iter()
        .filter(|id| !live_set.contains(id.as_str()))
        .collect();
    unknown.sort();
    unknown.dedup();
    unknown
        .into_iter()
        .map(|id| {
            (
                id.clone(),
                "not a live model (see SELECT id FROM openrouter_models)".into(),
            )
        })
        .collect()
}

/// One request per base id: `qwen/qwen3-coder` and `qwen/qwen3-coder:free` share it. The
/// endpoints belong to the base model when it is live, else to its first live variant. A
/// model whose id has no URL is added to `failed`.
fn plan_requests(base: &str, live: &[String], failed: &mut Vec<(String, String)>) -> Vec<Request> {
    let mut by_base: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for id in live {
        by_base
            .entry(map::base_id(id))
            .or_default()
            .push(id.as_str());
    }
    let mut requests: Vec<Request> = Vec::new();
    for (base_id, ids) in &by_base {
        let owner = if ids.contains(base_id) {
            *base_id
        } else {
            ids[0]
        };
        match map::endpoints_url(base, owner) {
            Some(url) => requests.push(Request {
                model_id: owner.to_string(),
                url,
            }),
            None => failed.push((owner.to_string(), "the id has no author/slug form".into())),
        }
    }
    requests
}

/// What the requests brought: the mapped endpoints, and the counts of the run.
#[derive(Default)]
struct Received {
    mapped: Vec<MappedEndpoint>,
    /// Models whose endpoints were fetched and read: their stored endpoints not listed are gone.
    fetched_models: Vec<String>,
    warnings: Vec<String>,
    requests: u32,
    bytes: usize,
    /// Of which the providers list's.
    providers_requests: u32,
    providers_bytes: usize,
}

impl Received {
    /// Maps each model's `/endpoints` answer; a model that failed is added to `failed`.
    fn endpoints(
        &mut self,
        requests: &[Request],
        outcomes: Vec<http::Outcome>,
        failed: &mut Vec<(String, String)>,
    ) {
        for (req, outcome) in requests.iter().zip(outcomes) {
            match outcome {
                Ok((body, n)) => {
                    self.requests += n;
                    self.bytes += body.len();
                    match map::map_endpoints(&body, &req.model_id, &mut self.warnings) {
                        Ok(list) => {
                            self.fetched_models.push(req.model_id.clone());
                            self.mapped.extend(list);
                        }
                        Err(why) => failed.push((
                            req.model_id.clone(),
                            format!(
                                "the response of GET {} is not an endpoints list: {why}",
                                safe_url(&req.url)
                            ),
                        )),
                    }
                }
                Err(e) => {
                    self.requests += match &e {
                        SyncError::Http { attempts, .. } => *attempts,
                        _ => 1,
                    };
                    failed.push((req.model_id.clone(), e.to_string()));
                }
            }
        }
    }

    /// Maps the `/providers` answer: the providers listed, or why there are none.
    fn providers(
        &mut self,
        outcome: Option<http::Outcome>,
        url: &str,
    ) -> (Vec<MappedProvider>, Option<String>) {
        match outcome {
            Some(Ok((body, n))) => {
                self.requests += n;
                self.bytes += body.len();
                self.providers_requests += n;
                self.providers_bytes += body.len();
                match map::map_providers(&body, &mut self.warnings) {
                    Ok(listed) => (listed, None),
                    Err(why) => (
                        Vec::new(),
                        Some(format!(
                            "the response of GET {} is not a providers list: {why}",
                            safe_url(url)
                        )),
                    ),
                }
            }
            Some(Err(e)) => {
                self.requests += 1;
                self.providers_requests += 1;
                (Vec::new(), Some(e.to_string()))
            }
            None => (Vec::new(), None),
        }
    }
}

/// One WARNING per model not synced (the first 20), for the providers list, and for the
/// first 20 odd values.
fn warn_about(failed: &[(String, String)], providers_error: Option<&str>, warnings: &[String]) {
    for (model, why) in failed.iter().take(20) {
        warning!(
            "openrouter: the endpoints of {model} were not synced: {}",
            crate::error::redact(why)
        );
    }
    if failed.len() > 20 {
        warning!(
            "openrouter: the endpoints of {} more models were not synced (see models_failed in the result)",
            failed.len() - 20
        );
    }
    if let Some(e) = providers_error {
        warning!(
            "openrouter: the providers list was not synced: {}",
            crate::error::redact(e)
        );
    }
    for w in warnings.iter().take(20) {
        warning!("openrouter: {w}");
    }
}
