//! One sync, start to end: fetch -> parse -> map -> diff -> store, in the caller's
//! transaction. Any error raises before the first write or aborts the transaction, so the
//! tables are either fully updated or exactly as they were.

use super::map::ModelError;
use super::{assemble, diff, map_part, parse_page, store, Known, MappedModel, Part, Registry};
use crate::error::{safe_url, SyncError};
use crate::http::{self, Fetched};
use crate::pg::memory::{give_back_free_memory, has_headroom, BodyPages};
use crate::pg::progress::poll;
use crate::pg::spi;
use crate::settings;
use foldhash::{HashMap, HashSet};
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
    // A database of another encoding is refused before anything else runs.
    if let Some(encoding) = spi::non_utf8_encoding() {
        SyncError::Encoding { encoding }.raise();
    }
    if let Some(objects) = spi::outdated_objects() {
        let entry = match &source {
            Source::Api => "openrouter_sync",
            Source::Payload { entry, .. } => entry,
        };
        SyncError::OldObjects {
            entry,
            library: env!("CARGO_PKG_VERSION"),
            objects,
        }
        .raise();
    }
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

/// The models of the fetched pages, as spans of their bodies: (page, start, length).
type Spans = Vec<(usize, usize, usize)>;

fn try_run(source: Source, force: bool) -> Result<serde_json::Value, SyncError> {
    let started = Instant::now();
    crate::pg::progress::start_clock();
    let (entry, as_of) = match &source {
        Source::Api => ("openrouter_sync", None),
        Source::Payload { entry, as_of, .. } => (*entry, as_of.clone()),
    };
    if spi::read_only() {
        return Err(SyncError::ReadOnly { entry });
    }
    let (fetched, spans, prelude) = fetch(source, as_of.as_ref().map(|a| a.0.as_str()))?;
    let Prelude {
        at,
        lz4_above,
        state,
        untracked,
    } = prelude;
    if let Some((as_of, _)) = &as_of {
        if let Some(last) = store::last_sync_not_before(as_of) {
            return Err(SyncError::OutOfOrder {
                entry,
                as_of: as_of.clone(),
                last,
            });
        }
    }
    // Expiration dates are judged on the snapshot's date when it has one.
    let today = as_of.map_or_else(|| chrono::Utc::now().date_naive(), |a| a.1);
    let known = known_models(&state);
    // The first load of an empty registry: written part by part as it is mapped, not
    // logged model by model, no prior state to read.
    let first_load = untracked.as_ref().is_some_and(Vec::is_empty);
    let url = fetched.source.clone();
    let raw_models: Vec<&str> = spans
        .iter()
        .map(|&(page, start, len)| &fetched.bodies[page][start..start + len])
        .collect();
    let (registry, repeated) = map_all(
        today,
        &raw_models,
        &fetched.bodies,
        &spans,
        &known,
        lz4_above,
        first_load.then_some(at.as_str()),
    );
    let registry = registry.map_err(|e| SyncError::Model {
        url: url.clone(),
        source: e,
    })?;
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
    warn_about(&registry.warnings);

    let untracked_set: HashSet<&str> = untracked.iter().map(String::as_str).collect();
    let (plan, unchanged_live) = plan_writes(&registry, &state, &untracked_set, first_load);
    let prior = if first_load {
        Vec::new()
    } else {
        store::load_prior(&prior_ids(&registry, &plan, &state, &untracked))
    };
    let diff = compare(
        &plan,
        &prior,
        &state,
        &untracked_set,
        unchanged_live,
        first_load,
    );
    poll(&format!(
        "{} models to write, {} unchanged",
        plan.changed.len(),
        plan.unchanged.len()
    ));
    check_removals(&diff, force, entry)?;
    // What only the plan and the diff needed, freed before the writes (which touch up to all
    // of shared_buffers): the state of every model, the mapped documents a first load wrote
    // (holes all over the heap), given back to the OS. At 100x about 15 MB.
    drop((state, untracked_set, prior));
    drop(untracked);
    give_back_free_memory();
    let warnings: Vec<String> = registry
        .warnings
        .iter()
        .take(100)
        .map(|w| crate::error::redact(w))
        .collect();
    let run = store::RunInfo {
        source: &url,
        forced: force,
        pages: pages as i32,
        requests: fetched.requests as i32,
        bytes: fetched.bytes as i64,
        at: &at,
        started,
        warnings: &warnings,
    };
    let written = store::write(&registry, &plan, &diff, &run);
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
    Ok(summary(&registry, &diff, &run, &written, duration_ms))
}

/// Fetches every page (or takes the caller's body) and parses each as it arrives; the lock
/// and the state are read while the first request is in flight (the fetch polls right after
/// sending it).
fn fetch(source: Source, as_of: Option<&str>) -> Result<(Fetched, Spans, Prelude), SyncError> {
    // Each page is parsed once, as it arrives; models are kept as spans of the bodies.
    let mut spans: Spans = Vec::new();
    let mut page_no = 0;
    let mut on_page = |url: &str, body: &str| -> Result<Option<String>, SyncError> {
        // Parsing, mapping and writing a page take about three times its size again (a
        // 100x first load peaks at 3.8x the payload): refuse now, rather than abort later.
        let needed = body.len().saturating_mul(3);
        if !has_headroom(needed) {
            return Err(SyncError::OutOfMemory {
                what: format!("syncing the {} bytes of {}", body.len(), safe_url(url)),
                bytes: needed,
            });
        }
        let page = parse_page(body).map_err(|e| SyncError::from_shape(&safe_url(url), e, body))?;
        let base = body.as_ptr() as usize;
        for m in &page.models {
            let text = m.get();
            spans.push((page_no, text.as_ptr() as usize - base, text.len()));
        }
        page_no += 1;
        Ok(page.next)
    };
    let mut read_before: Option<Prelude> = None;
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
    let prelude = read_before.unwrap_or_else(|| prelude(as_of));
    Ok((fetched, spans, prelude))
}

/// The live models whose stored row is what mapping their API object would give again, by
/// the hash of that object: those are not mapped again. Models that are new, changed,
/// deprecated, expiring or written by someone else are.
fn known_models(state: &HashMap<String, store::State>) -> HashMap<i64, Known> {
    state
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
        .collect()
}

/// Maps every model (and encodes its jsonb), part by part on helper threads, received here
/// in API order. On a first load (`first_load_at`: the sync's time) this thread writes the
/// things rows of each part as it arrives, so that mapping and writing overlap. Whenever it
/// would wait for a part, it maps one itself. Returns the registry, or the first bad model
/// in API order, and the ids listed more than once (written with their first occurrence).
fn map_all(
    today: chrono::NaiveDate,
    raw_models: &[&str],
    bodies: &[String],
    spans: &Spans,
    known: &HashMap<i64, Known>,
    lz4_above: Option<usize>,
    first_load_at: Option<&str>,
) -> (Result<Registry, ModelError>, HashSet<String>) {
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
        map_part(k * part_size, raw, today, known).map(|(mut models, w)| {
            models.iter_mut().for_each(|m| m.encode_jsonb(lz4_above));
            (models, w)
        })
    };
    let (mapped, repeated) = std::thread::scope(|scope| {
        let (tx, results) = std::sync::mpsc::channel();
        let spawn_worker = || {
            let (tx, parts, next, map_encoded) = (tx.clone(), &parts, &next, &map_encoded);
            // Born with signals blocked: PostgreSQL's handlers belong on the backend's thread.
            http::with_signals_blocked(|| {
                scope.spawn(move || loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(raw) = parts.get(k) else { break };
                    let part = map_encoded(k, raw);
                    let failed = part.is_err();
                    // The receiver is gone when this sync failed: stop.
                    if tx.send((k, part)).is_err() || failed {
                        break;
                    }
                })
            });
        };
        // A first load is streamed: this thread's writes need a core of their own.
        for _ in 0..if first_load_at.is_some() { 1 } else { workers } {
            spawn_worker();
        }
        drop(tx);
        let mut streamed = Streamed::default();
        // Mapped parts (or why one could not be), by index, until their turn comes: an
        // error is raised in its turn, so that it names the first bad model in API order
        // whichever thread finished first.
        let mut waiting: Vec<Option<Result<Part, _>>> = (0..parts.len()).map(|_| None).collect();
        let mut mapped = Vec::with_capacity(parts.len());
        let mut body_pages = BodyPages::new(bodies);
        while mapped.len() < parts.len() {
            // The parts in API order, whichever thread finishes first.
            let mut part = match waiting[mapped.len()].take() {
                Some(Ok(part)) => part,
                Some(Err(e)) => return (Err(e), streamed.repeated),
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
            if let Some(at) = first_load_at {
                streamed.write(&mut part, at);
            }
            mapped.push(part);
            let (body, start, len) = spans[(mapped.len() * part_size).min(spans.len()) - 1];
            // SAFETY: no model before this part's end is read again (see done_upto).
            unsafe { body_pages.done_upto(bodies, body, start + len) };
        }
        (Ok(mapped), streamed.repeated)
    });
    (mapped.map(assemble), repeated)
}

/// What a streamed first load has written so far.
#[derive(Default)]
struct Streamed {
    seen: HashSet<String>,
    /// Ids listed more than once: written with their first occurrence.
    repeated: HashSet<String>,
}

impl Streamed {
    /// Writes the things rows of a mapped part's models not written yet, then frees their
    /// documents (a repeat, not written here, keeps its own for `store::rewrite_models`).
    fn write(&mut self, part: &mut Part, at: &str) {
        let first: Vec<bool> = part
            .0
            .iter()
            .map(|m| {
                let first = self.seen.insert(m.id.clone());
                if !first {
                    self.repeated.insert(m.id.clone());
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
        store::insert_new_models(&new, at);
        part.0
            .iter_mut()
            .zip(&first)
            .filter(|(_, &first)| first)
            .for_each(|(m, _)| m.release_documents());
        poll("");
    }
}

/// Names the first 20 of the mapping's warnings (the run's row keeps 100).
fn warn_about(warnings: &[String]) {
    for w in warnings.iter().take(20) {
        warning!("openrouter: {}", crate::error::redact(w));
    }
    if warnings.len() > 20 {
        warning!(
            "openrouter: {} more warnings (see openrouter_sync_runs.warnings)",
            warnings.len() - 20
        );
    }
}

/// Which models get their whole row written (new, changed, deprecated or returning) and
/// which are only confirmed; and how many of the confirmed ones are live.
fn plan_writes<'a>(
    registry: &'a Registry,
    state: &HashMap<String, store::State>,
    untracked: &HashSet<&str>,
    first_load: bool,
) -> (store::Plan<'a>, usize) {
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
                if !first_load && found.is_none() && !untracked.contains(m.id.as_str()) {
                    plan.new.insert(m.id.as_str());
                }
                plan.changed.push(m)
            }
        }
    }
    (plan, unchanged_live)
}

/// The models whose stored form the diff needs: changed ones, vanished ones, untracked ones.
fn prior_ids<'a>(
    registry: &'a Registry,
    plan: &store::Plan<'a>,
    state: &'a HashMap<String, store::State>,
    untracked: &'a [String],
) -> Vec<&'a str> {
    let listed: HashSet<&str> = registry.models.iter().map(|m| m.id.as_str()).collect();
    let changed_ids: HashSet<&str> = plan.changed.iter().map(|m| m.id.as_str()).collect();
    let mut ids: Vec<&str> = changed_ids
        .iter()
        .copied()
        .filter(|id| state.contains_key(*id))
        .collect();
    ids.extend(
        state
            .iter()
            .filter(|(id, st)| !st.deprecated && !listed.contains(id.as_str()))
            .map(|(id, _)| id.as_str()),
    );
    ids.extend(
        untracked
            .iter()
            .map(String::as_str)
            .filter(|id| !changed_ids.contains(id) || !state.contains_key(*id)),
    );
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// What this sync changes, from the stored form of the models it writes.
fn compare(
    plan: &store::Plan,
    prior: &[diff::Prior],
    state: &HashMap<String, store::State>,
    untracked: &HashSet<&str>,
    unchanged_live: usize,
    first_load: bool,
) -> diff::Diff {
    let mut diff = if first_load {
        // The first load of an empty registry is not a change: its models are not logged
        // one by one as "added" (the summary still counts them), and there is nothing to
        // compare them with.
        diff::Diff {
            loaded: plan.changed.len(),
            ..Default::default()
        }
    } else {
        diff::diff(prior, &plan.changed)
    };
    diff.unchanged += unchanged_live;
    diff.live_before = state.values().filter(|st| !st.deprecated).count()
        + prior
            .iter()
            .filter(|p| !p.deprecated && untracked.contains(p.id.as_str()))
            .count();
    diff
}

/// The guard against an upstream accident: refuses to mark more than
/// openrouter.max_removed_fraction of the live models as removed, unless forced.
fn check_removals(diff: &diff::Diff, force: bool, entry: &'static str) -> Result<(), SyncError> {
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
    Ok(())
}

/// What `openrouter_sync()` returns.
fn summary(
    registry: &Registry,
    diff: &diff::Diff,
    run: &store::RunInfo,
    written: &store::Written,
    duration_ms: f64,
) -> serde_json::Value {
    json!({
        "run_id": written.run_id,
        "source": run.source,
        "models": registry.models.len(),
        "labs": registry.live_labs(),
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
        "pages": run.pages,
        "requests": run.requests,
        "bytes": run.bytes,
        "warnings": registry.warnings.len(),
        "forced": run.forced,
        "duration_ms": duration_ms,
    })
}
