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
    let started = Instant::now();
    let mut cfg = settings::fetch_config();
    cfg.api_key = settings::api_key()?;
    crate::error::hide_secret(cfg.api_key.as_deref());
    let base = map::api_base(&cfg.url);
    http::check_url(&base)?;
    let wanted: Option<Vec<String>> = model_ids.map(|v| v.into_iter().flatten().collect());
    let live = store::live_models(wanted.as_deref());
    let mut failed: Vec<(String, String)> = Vec::new();
    if let Some(wanted) = &wanted {
        let live_set: HashSet<&str> = live.iter().map(String::as_str).collect();
        let mut unknown: Vec<&String> = wanted
            .iter()
            .filter(|id| !live_set.contains(id.as_str()))
            .collect();
        unknown.sort();
        unknown.dedup();
        for id in unknown {
            failed.push((
                id.clone(),
                "not a live model (see SELECT id FROM openrouter_models)".into(),
            ));
        }
    }

    // One request per base id: `qwen/qwen3-coder` and `qwen/qwen3-coder:free` share it. The
    // endpoints belong to the base model when it is live, else to its first live variant.
    let mut by_base: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for id in &live {
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
        match map::endpoints_url(&base, owner) {
            Some(url) => requests.push(Request {
                model_id: owner.to_string(),
                url,
            }),
            None => failed.push((owner.to_string(), "the id has no author/slug form".into())),
        }
    }
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

    let mut warnings: Vec<String> = Vec::new();
    let mut mapped: Vec<MappedEndpoint> = Vec::new();
    let mut fetched_models: Vec<&str> = Vec::new();
    let mut request_count: u32 = 0;
    let mut bytes = 0usize;
    for (req, outcome) in requests.iter().zip(outcomes) {
        match outcome {
            Ok((body, n)) => {
                request_count += n;
                bytes += body.len();
                match map::map_endpoints(&body, &req.model_id, &mut warnings) {
                    Ok(list) => {
                        fetched_models.push(&req.model_id);
                        mapped.extend(list);
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
                request_count += match &e {
                    SyncError::Http { attempts, .. } => *attempts,
                    _ => 1,
                };
                failed.push((req.model_id.clone(), e.to_string()));
            }
        }
    }
    let mut providers_error: Option<String> = None;
    let listed: Vec<MappedProvider> = match providers_outcome {
        Some(Ok((body, n))) => {
            request_count += n;
            bytes += body.len();
            map::map_providers(&body, &mut warnings).unwrap_or_else(|why| {
                providers_error = Some(format!(
                    "the response of GET {} is not a providers list: {why}",
                    safe_url(&providers_url)
                ));
                Vec::new()
            })
        }
        Some(Err(e)) => {
            request_count += 1;
            providers_error = Some(e.to_string());
            Vec::new()
        }
        None => Vec::new(),
    };
    let unlisted = map::providers_from_endpoints(&listed, &mapped);

    for (model, why) in failed.iter().take(20) {
        warning!(
            "openrouter: the endpoints of {model} were not synced: {}",
            crate::error::redact(&why.to_string())
        );
    }
    if failed.len() > 20 {
        warning!(
            "openrouter: the endpoints of {} more models were not synced (see models_failed in the result)",
            failed.len() - 20
        );
    }
    if let Some(e) = &providers_error {
        warning!(
            "openrouter: the providers list was not synced: {}",
            crate::error::redact(&e.to_string())
        );
    }
    for w in warnings.iter().take(20) {
        warning!("openrouter: {w}");
    }

    spi::lock();
    progress::poll("locked");
    let written = store::write(&store::Batch {
        endpoints: &mapped,
        listed_providers: &listed,
        unlisted_providers: &unlisted,
        fetched_models: &fetched_models,
        retention_days: settings::endpoint_stats_retention_days(),
    });
    let duration_ms = (started.elapsed().as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    progress::poll(&format!(
        "stored {} endpoints of {} models and {} providers ({} models failed) in {duration_ms} ms",
        mapped.len(),
        fetched_models.len(),
        listed.len() + unlisted.len(),
        failed.len()
    ));
    let models_failed: Vec<serde_json::Value> = failed
        .iter()
        .map(|(model, error)| json!({"model": model, "error": error}))
        .collect();
    Ok(json!({
        "source": safe_url(&base),
        "models": fetched_models.len(),
        "endpoints": mapped.len(),
        "providers": listed.len() + unlisted.len(),
        "providers_listed": listed.len(),
        "models_failed": models_failed,
        "providers_error": providers_error,
        "removed_endpoints": written.removed,
        "stats_rows": written.stats_rows,
        "stats_deleted": written.stats_deleted,
        "requests": request_count,
        "bytes": bytes,
        "warnings": warnings.len(),
        "duration_ms": duration_ms,
    }))
}
