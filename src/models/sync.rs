//! One sync, start to end: fetch -> parse -> map -> diff -> store, in the caller's
//! transaction. Any error raises before the first write or aborts the transaction, so the
//! tables are either fully updated or exactly as they were.

use super::{assemble, diff, map_part, parse_page, store, Known, MappedModel, Part};
use crate::error::{safe_url, SyncError};
use crate::http::{self, Fetched};
use crate::pg::memory::{give_back_free_memory, BodyPages};
use crate::pg::progress::poll;
use crate::pg::spi;
use crate::settings;
use foldhash::{HashMap, HashSet, HashSetExt};
use pgrx::prelude::*;
use serde_json::json;
use std::time::Instant;

/// Models per part of the mapping, at most (and per batch of a streamed first load). The
/// parts mapped ahead of the writes hold their documents until written: at the end of a
/// large first load, when the writes have filled shared_buffers, they are most of what the
/// backend holds privately. Peak RSS of a 100x first load with 2000: 202-207 MB, 1000:
/// 188-193, 500: 187-189, 250: 187-189 but 2% slower (time the same down to 500).
const MAX_PART: usize = 500;

/// What the sync reads under its lock before the mapping, while the first page is still
/// being fetched (see `prelude`).
struct Prelude {
    /// The sync's time (`store::now`, or the snapshot's `as_of`).
    at: String,
    /// Where the toaster would compress a document with LZ4 (the mapping threads do it; see
    /// store::lz4_above).
    lz4_above: Option<usize>,
    state: HashMap<String, store::State>,
    /// Models without a state row, when there is no state at all (else read after the
    /// mapping, see try_run).
    untracked: Option<Vec<String>>,
}

/// Takes the sync lock and reads what the previous sync stored. Called from the fetch's
/// waiting loop, right after the first request went out: at 1x the request takes about as
/// long as this (1.5-2 ms each), and the mapping, which needs the state, can start as soon
/// as the body is in.
fn prelude(as_of: Option<&str>) -> Prelude {
    // The sync lock first, then any table's: the order every sync takes them in.
    spi::lock();
    poll("locked");
    let at = as_of.map_or_else(spi::now, str::to_string);
    let lz4_above = store::lz4_above();
    let state = store::load_state();
    // Models without a state row matter before the mapping only when there is no state at
    // all (is this a first load?). Otherwise they are read after it: the query visits every
    // things row (the whole heap, right after a first load, before VACUUM sets the
    // visibility map), which must not happen while the body is still in memory.
    let untracked = state.is_empty().then(store::untracked_ids);
    Prelude {
        at,
        lz4_above,
        state,
        untracked,
    }
}

pub enum Source {
    /// GET openrouter.api_url (and its links.next pages).
    Api,
    /// A response body given by the caller (offline) through the function `entry`, with
    /// the time and date of the snapshot when the caller gave one (`as_of`).
    Payload {
        body: String,
        entry: &'static str,
        as_of: Option<(String, chrono::NaiveDate)>,
    },
}

pub fn run(source: Source, force: bool) -> pgrx::JsonB {
    // Said loudly on every sync until it is removed: every role can read it there.
    for where_and_fix in store::exposed_key() {
        warning!("openrouter: {where_and_fix}");
    }
    let result = try_run(source, force);
    // The registry (tens of MB at scale) is freed by now: give the memory back to the OS
    // instead of leaving it in this backend's heap.
    give_back_free_memory();
    match result {
        Ok(summary) => pgrx::JsonB(summary),
        Err(e) => e.raise(),
    }
}

fn try_run(source: Source, force: bool) -> Result<serde_json::Value, SyncError> {
    let started = Instant::now();
    crate::pg::progress::start_clock();
    // Each page is parsed once, as it arrives; models are kept as spans of the bodies.
    let mut spans: Vec<(usize, usize, usize)> = Vec::new();
    let mut page_no = 0;
    let mut on_page = |url: &str, body: &str| -> Result<Option<String>, SyncError> {
        let page = parse_page(body).map_err(|e| SyncError::from_shape(&safe_url(url), e, body))?;
        let base = body.as_ptr() as usize;
        for m in &page.models {
            let text = m.get();
            spans.push((page_no, text.as_ptr() as usize - base, text.len()));
        }
        page_no += 1;
        Ok(page.next)
    };
    // The lock and the state are read while the first request is in flight: the fetch
    // polls right after sending it.
    let mut read_before: Option<Prelude> = None;
    let (entry, as_of) = match &source {
        Source::Api => ("openrouter_sync", None),
        Source::Payload { entry, as_of, .. } => (*entry, as_of.clone()),
    };
    if spi::read_only() {
        return Err(SyncError::ReadOnly { entry });
    }
    let fetched = match source {
        Source::Api => {
            let mut cfg = settings::fetch_config();
            cfg.api_key = settings::api_key()?;
            crate::error::hide_secret(cfg.api_key.as_deref());
            let mut poll_and_prepare = |message: &str| {
                poll(message);
                if read_before.is_none() {
                    read_before = Some(prelude(None));
                }
            };
            http::fetch_all(&cfg, &mut poll_and_prepare, &mut on_page)?
        }
        Source::Payload { body, entry, .. } => {
            // Offline: one page; a links.next in it is not followed.
            on_page(entry, &body)?;
            let bytes = body.len();
            Fetched {
                bodies: vec![body],
                source: entry.into(),
                requests: 0,
                bytes,
            }
        }
    };
    let Prelude {
        at,
        lz4_above,
        state,
        untracked,
    } = read_before.unwrap_or_else(|| prelude(as_of.as_ref().map(|a| a.0.as_str())));
    if let Some((as_of, _)) = &as_of {
        if let Some(last) = store::last_sync_not_before(as_of) {
            return Err(SyncError::OutOfOrder {
                entry,
                as_of: as_of.clone(),
                last,
            });
        }
    }
    // Which models need their full row written: new ones, those whose data hash changed,
    // those whose deprecated flag must change, and any the sync did not write itself. The
    // others' API objects are not mapped again.
    let known: HashMap<i64, Known> = state
        .iter()
        .filter(|(_, st)| !st.deprecated && !st.expires)
        .filter_map(|(id, st)| {
            let known = Known {
                id: id.clone(),
                name: st.name.clone(),
                fingerprint: st.hash,
            };
            st.raw_hash.map(|h| (h, known))
        })
        .collect();
    // The first load of an empty registry: written part by part as it is mapped, not
    // logged model by model, no prior state to read.
    let first_load = untracked.as_ref().is_some_and(Vec::is_empty);
    let url = fetched.source.clone();
    let raw_models: Vec<&str> = spans
        .iter()
        .map(|&(page, start, len)| &fetched.bodies[page][start..start + len])
        .collect();
    // Expiration dates are judged on the snapshot's date when it has one.
    let today = as_of.map_or_else(|| chrono::Utc::now().date_naive(), |a| a.1);
    // Mapping (and encoding the jsonb) is pure Rust, done part by part on helper threads and
    // received here in API order. On a first load this thread writes the things rows of each
    // part as it arrives, so that mapping and writing overlap. Whenever it would wait for a
    // part, it maps one itself.
    let workers = if raw_models.len() < 200 {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(4)
    };
    // Parts small enough for every worker to get some, large enough to keep statements few.
    let part_size = raw_models.len().div_ceil(2 * workers).clamp(100, MAX_PART);
    let parts: Vec<&[&str]> = raw_models.chunks(part_size).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    // Part k, mapped and its documents encoded as jsonb, by whichever thread takes it.
    let map_encoded = |k: usize, raw: &[&str]| {
        map_part(k * part_size, raw, today, &known).map(|(mut models, w)| {
            models.iter_mut().for_each(|m| m.encode_jsonb(lz4_above));
            (models, w)
        })
    };
    let (mapped, repeated) = std::thread::scope(|scope| {
        let (tx, results) = std::sync::mpsc::channel();
        let spawn_worker = || {
            let (tx, parts, next, map_encoded) = (tx.clone(), &parts, &next, &map_encoded);
            scope.spawn(move || loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(raw) = parts.get(k) else { break };
                let part = map_encoded(k, raw);
                let failed = part.is_err();
                // The receiver is gone when this sync failed: stop.
                if tx.send((k, part)).is_err() || failed {
                    break;
                }
            });
        };
        // A first load is streamed: this thread's writes need a core of their own.
        for _ in 0..if first_load { 1 } else { workers } {
            spawn_worker();
        }
        drop(tx);
        let mut seen = HashSet::new();
        let mut repeated = HashSet::new();
        // Mapped parts (or why one could not be), by index, until their turn comes: an
        // error is raised in its turn, so that it names the first bad model in API order
        // whichever thread finished first.
        let mut waiting: Vec<Option<Result<Part, _>>> = (0..parts.len()).map(|_| None).collect();
        let mut mapped = Vec::with_capacity(parts.len());
        let mut body_pages = BodyPages::new(&fetched.bodies);
        while mapped.len() < parts.len() {
            // The parts in API order, whichever thread finishes first.
            let mut part = match waiting[mapped.len()].take() {
                Some(Ok(part)) => part,
                Some(Err(e)) => return (Err(e), repeated),
                None => {
                    if let Ok((k, part)) = results.try_recv() {
                        waiting[k] = Some(part);
                        continue;
                    }
                    // Rather than wait for the workers, map the next part not taken yet.
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if let Some(raw) = parts.get(k) {
                        waiting[k] = Some(map_encoded(k, raw));
                        continue;
                    }
                    match results.recv() {
                        Ok((k, part)) => waiting[k] = Some(part),
                        Err(_) => panic!("openrouter: a mapping thread stopped"),
                    }
                    continue;
                }
            };
            if first_load {
                let first: Vec<bool> = part
                    .0
                    .iter()
                    .map(|m| {
                        let first = seen.insert(m.id.clone());
                        if !first {
                            repeated.insert(m.id.clone());
                        }
                        first
                    })
                    .collect();
                let new: Vec<&MappedModel> = part
                    .0
                    .iter()
                    .zip(&first)
                    .filter_map(|(m, &first)| first.then_some(m))
                    .collect();
                store::insert_new_models(&new, &at);
                // Their things rows are written: the documents are not needed again (a
                // repeat, not written here, keeps its own for rewrite_models).
                part.0
                    .iter_mut()
                    .zip(&first)
                    .filter(|(_, &first)| first)
                    .for_each(|(m, _)| m.release_documents());
                poll("");
            }
            mapped.push(part);
            let (body, start, len) = spans[(mapped.len() * part_size).min(spans.len()) - 1];
            body_pages.done_upto(&fetched.bodies, body, start + len);
        }
        (Ok(mapped), repeated)
    });
    let registry = assemble(mapped.map_err(|e| SyncError::Model {
        url: url.clone(),
        source: e,
    })?);
    if !repeated.is_empty() {
        // Written with their first occurrence; the registry keeps the last.
        let last: Vec<&MappedModel> = registry
            .models
            .iter()
            .filter(|m| repeated.contains(&m.id))
            .collect();
        store::rewrite_models(&last, &at);
    }
    drop(raw_models);
    let pages = fetched.bodies.len();
    drop(fetched.bodies);
    drop(known);
    let untracked = untracked.unwrap_or_else(store::untracked_ids);
    if registry.models.is_empty() {
        return Err(SyncError::Empty { url });
    }
    poll(&format!(
        "mapped {} models from {} labs",
        registry.models.len(),
        registry.labs.len()
    ));
    for w in registry.warnings.iter().take(20) {
        warning!("openrouter: {}", crate::error::redact(w));
    }
    if registry.warnings.len() > 20 {
        warning!(
            "openrouter: {} more warnings (see openrouter_sync_runs.warnings)",
            registry.warnings.len() - 20
        );
    }

    let untracked_set: HashSet<&str> = untracked.iter().map(String::as_str).collect();
    let mut plan = store::Plan {
        changed: Vec::new(),
        unchanged: Vec::new(),
        new: Default::default(),
        new_written: first_load,
        restamp: Vec::new(),
    };
    let mut unchanged_live = 0;
    for m in &registry.models {
        match state.get(&m.id) {
            Some(st) if st.hash == m.fingerprint && st.deprecated == m.expired => {
                plan.unchanged.push(m.id.as_str());
                unchanged_live += usize::from(!st.deprecated);
                if st.raw_hash != Some(m.raw_hash) || st.name != m.name || st.expires != m.expires {
                    plan.restamp.push(m);
                }
            }
            found => {
                if !first_load && found.is_none() && !untracked_set.contains(m.id.as_str()) {
                    plan.new.insert(m.id.as_str());
                }
                plan.changed.push(m)
            }
        }
    }
    let prior = if first_load {
        Vec::new()
    } else {
        let listed: HashSet<&str> = registry.models.iter().map(|m| m.id.as_str()).collect();
        let changed_ids: HashSet<&str> = plan.changed.iter().map(|m| m.id.as_str()).collect();
        // The prior state of everything that may have changed: changed models, vanished ones, untracked ones.
        let mut prior_ids: Vec<&str> = changed_ids
            .iter()
            .copied()
            .filter(|id| state.contains_key(*id))
            .collect();
        prior_ids.extend(
            state
                .iter()
                .filter(|(id, st)| !st.deprecated && !listed.contains(id.as_str()))
                .map(|(id, _)| id.as_str()),
        );
        prior_ids.extend(
            untracked
                .iter()
                .map(String::as_str)
                .filter(|id| !changed_ids.contains(id) || !state.contains_key(*id)),
        );
        prior_ids.sort_unstable();
        prior_ids.dedup();
        store::load_prior(&prior_ids)
    };
    let mut diff = if first_load {
        // The first load of an empty registry is not a change: its models are not logged
        // one by one as "added" (the summary still counts them), and there is nothing to
        // compare them with.
        diff::Diff {
            loaded: plan.changed.len(),
            ..Default::default()
        }
    } else {
        diff::diff(&prior, &plan.changed)
    };
    diff.unchanged += unchanged_live;
    diff.live_before = state.values().filter(|st| !st.deprecated).count()
        + prior
            .iter()
            .filter(|p| !p.deprecated && untracked_set.contains(p.id.as_str()))
            .count();

    poll(&format!(
        "{} models to write, {} unchanged",
        plan.changed.len(),
        plan.unchanged.len()
    ));
    let limit = settings::max_removed_fraction();
    if !force && diff.live_before > 0 && diff.removed.len() as f64 > limit * diff.live_before as f64
    {
        return Err(SyncError::TooManyRemoved {
            entry,
            removing: diff.removed.len(),
            live: diff.live_before,
            percent: 100.0 * diff.removed.len() as f64 / diff.live_before as f64,
            limit,
        });
    }
    // What only the plan and the diff needed, freed before the writes (which touch up to all
    // of shared_buffers): the state of every model, the mapped documents a first load wrote
    // (holes all over the heap), given back to the OS. At 100x about 15 MB.
    drop((state, untracked_set, prior));
    drop(untracked);
    give_back_free_memory();
    let written = store::write(
        &registry,
        &plan,
        &diff,
        &store::RunInfo {
            source: &url,
            forced: force,
            pages: pages as i32,
            requests: fetched.requests as i32,
            bytes: fetched.bytes as i64,
            at: &at,
            started,
            elapsed_ms: 0.0,
            warnings: &registry
                .warnings
                .iter()
                .take(100)
                .map(|w| crate::error::redact(w))
                .collect::<Vec<_>>(),
        },
    );
    // The run's row and the summary give the same figure: the row's finished_at -
    // started_at.
    let duration_ms = written.duration_ms;
    crate::pg::progress::summary(&format!(
        "{entry} stored {} models ({} new, {} updated, {} removed)",
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
        "added": diff.added_count(),
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
