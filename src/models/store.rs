//! SPI at the edge: a handful of set-based statements per sync. Values travel as array
//! parameters, never formatted into SQL text, and are unrolled in the select list
//! (`SELECT unnest($1::text[]), unnest($2::text[])`): that streams row by row, where
//! `FROM unnest($1, $2)` would first copy every row into a tuplestore (spilling megabytes of
//! model data to a temporary file once past work_mem).

use super::diff::{Diff, Prior};
use super::prices::prices_from_stored;
use super::{Documents, MappedModel, Registry};
use crate::pg::arrays::{jsonb_array, jsonb_array_of_texts, nullable_text_array, text_array, Doc};
use crate::pg::memory::give_back_free_memory;
use crate::pg::progress::poll;
use crate::pg::spi::{has_no_pages, in_batch, timestamptz, update_generic, upsert_things, R};
use foldhash::{HashMap, HashMapExt};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::PgMemoryContexts;

pub struct Written {
    pub inserted: i64,
    pub updated: i64,
    pub run_id: i64,
    /// The run's finished_at - started_at.
    pub duration_ms: f64,
}

/// Where openrouter.api_key is stored readable by every role (see openrouter_exposed_key()).
pub fn exposed_key() -> Vec<String> {
    Spi::connect(|client| -> R<Vec<String>> {
        client
            .select("SELECT k FROM openrouter_exposed_key() k", None, &[])?
            .map(|r| r.get::<String>(1).map(Option::unwrap_or_default))
            .collect()
    })
    .unwrap_or_default()
}

/// The data time (openrouter_sync_runs.as_of) of the last sync when it is not before `as_of`:
/// a snapshot loaded with as_of must be newer than everything stored.
pub fn last_sync_not_before(as_of: &str) -> Option<String> {
    Spi::get_one_with_args::<String>(
        "SELECT max(as_of)::text FROM openrouter_sync_runs HAVING max(as_of) >= $1::timestamptz",
        &[as_of.into()],
    )
    .unwrap_or(None)
}

/// Expired models that are deprecated without a deprecated_at (the mapping, which knows no
/// sync time, writes none): stamped with the time a sync first saw them expired, the time
/// of their 'expired' change, or when the model was first stored (a first load, which logs no
/// changes). Only `ids`, the expired models this sync wrote.
fn stamp_expired(client: &mut SpiClient<'_>, changed: &[&MappedModel]) -> R<()> {
    let ids: Vec<&str> = changed
        .iter()
        .filter(|m| m.expired)
        .map(|m| m.id.as_str())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    client.update(
        "UPDATE things t
            SET data = t.data || jsonb_build_object('deprecated_at', coalesce(
                    (SELECT max(c.changed_at) FROM openrouter_change_log c
                      WHERE c.model_id = t.id AND c.change = 'expired'), t.created_at))
          WHERE t.ns = 'models' AND t.id = ANY($1::text[])
            AND t.data->'deprecated' = 'true'::jsonb AND NOT t.data ? 'deprecated_at'",
        None,
        &[text_array(&ids)],
    )?;
    Ok(())
}

pub struct RunInfo<'a> {
    /// The sync's timestamp (see `now`).
    pub at: &'a str,
    pub source: &'a str,
    pub forced: bool,
    pub pages: i32,
    pub requests: i32,
    pub bytes: i64,
    /// When the sync started (the run's started_at is computed from it).
    pub started: std::time::Instant,
    pub warnings: &'a [String],
}

/// Where the mapping threads may compress model documents themselves (see pg::lz4):
/// the row length above which the toaster compresses `things.data` with LZ4, or `None`
/// wherever precompressing could store a row otherwise than the server would: another
/// method or the server's default, storage other than EXTENDED (MAIN is compressed only
/// after `content` went to the TOAST table), a toast_tuple_target below the threshold at
/// which the toaster runs at all, columns other than the extension's own, no liblz4 in
/// this process, a big-endian machine. Read from the relation cache, which the INSERTs
/// load anyway (a catalog query here cost a millisecond, a twentieth of a first sync at 1x).
pub fn lz4_above() -> Option<usize> {
    if !cfg!(target_endian = "little") {
        return None;
    }
    let rel = pgrx::PgRelation::open_with_name_and_share_lock("things").ok()?;
    if !rel.is_table() {
        return None;
    }
    // The row models::map::things_row_len counts: these columns, none dropped (a
    // dropped one adds a null bitmap, and a longer tuple header).
    let desc = rel.tuple_desc();
    let names: Vec<&str> = desc.iter().map(|a| a.name()).collect();
    if desc.iter().any(|a| a.is_dropped()) || names != crate::models::map::THINGS_COLUMNS {
        return None;
    }
    let data = desc.get(3)?; // THINGS_COLUMNS[3], data
    if data.attcompression != b'l' as std::ffi::c_char
        || data.attstorage != b'x' as std::ffi::c_char
    {
        return None;
    }
    // heap_prepare_insert calls the toaster only for tuples over TOAST_TUPLE_THRESHOLD (a
    // quarter page, MAXALIGNed down); it then compresses down to RelationGetToastTupleTarget
    // (toast_tuple_target, by default that threshold) less the tuple header (24 bytes here).
    let threshold = ((pg_sys::BLCKSZ as usize - 40) / 4) & !7;
    // SAFETY: rd_options of a table is null or a StdRdOptions (heap reloptions).
    let target = unsafe {
        let options = rel.rd_options as *const pg_sys::StdRdOptions;
        options.as_ref().map_or(threshold, |o| {
            usize::try_from(o.toast_tuple_target).unwrap_or(threshold)
        })
    };
    if target < threshold {
        // A row between the two is left alone by the server, but a smaller one, once
        // compressed here, would skip the toaster that would have shrunk it further.
        return None;
    }
    let above = target - 24;
    // Only now is liblz4 looked up: a server that offers lz4 is linked with it.
    crate::pg::lz4::available().then_some(above)
}

/// What the sync wrote last time, per model: data hash and deprecated flag.
pub struct State {
    pub hash: i64,
    pub deprecated: bool,
    /// `raw_hash` of the API object it was mapped from (None: not recorded yet).
    pub raw_hash: Option<i64>,
    pub name: Option<String>,
    /// Its API object has an expiration date.
    pub expires: bool,
}

pub fn load_state() -> HashMap<String, State> {
    Spi::connect(|client| -> R<HashMap<String, State>> {
        let rows = client.select(
            "SELECT model_id, data_hash, deprecated, raw_hash, name, expires FROM openrouter_model_state",
            None,
            &[],
        )?;
        let mut out = HashMap::with_capacity(rows.len());
        for row in rows {
            out.insert(
                row.get::<String>(1)?.unwrap_or_default(),
                State {
                    hash: row.get(2)?.unwrap_or(0),
                    deprecated: row.get(3)?.unwrap_or(false),
                    raw_hash: row.get(4)?,
                    name: row.get(5)?,
                    expires: row.get(6)?.unwrap_or(false),
                },
            );
        }
        Ok(out)
    })
    .expect("reading openrouter_model_state")
}

/// Models stored without a state row (written by another tool, or before an upgrade).
pub fn untracked_ids() -> Vec<String> {
    Spi::connect(|client| -> R<Vec<String>> {
        let rows = client.select(
            "SELECT t.id FROM things t
              WHERE t.ns = 'models'
                AND NOT EXISTS (SELECT 1 FROM openrouter_model_state s WHERE s.model_id = t.id)",
            None,
            &[],
        )?;
        rows.map(|r| r.get::<String>(1).map(|v| v.unwrap_or_default()))
            .collect()
    })
    .expect("reading things")
}

/// The stored models among `ids`, as far as change tracking needs them.
pub fn load_prior(ids: &[&str]) -> Vec<Prior> {
    if ids.is_empty() {
        return Vec::new();
    }
    Spi::connect(|client| -> R<Vec<Prior>> {
        let rows = client.select(
            "SELECT t.id, t.data->>'name', t.data->>'context_length', (t.data->'pricing')::text,
                    coalesce(t.data->'deprecated' = 'true'::jsonb, false)
               FROM unnest($1::text[]) AS u(id)
               JOIN things t ON t.ns = 'models' AND t.id = u.id",
            None,
            &[ids.to_vec().into()],
        )?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let pricing: Option<String> = row.get(4)?;
            out.push(Prior {
                id: row.get::<String>(1)?.unwrap_or_default(),
                name: row.get(2)?,
                context_length: row.get::<String>(3)?.and_then(|s| s.parse().ok()),
                prices: prices_from_stored(pricing.as_deref()),
                deprecated: row.get(5)?.unwrap_or(false),
            });
        }
        Ok(out)
    })
    .expect("reading the stored models")
}

/// What this sync writes: `changed` models get their full row; `unchanged` ones (same hash)
/// only have updated_at confirmed.
pub struct Plan<'a> {
    pub changed: Vec<&'a MappedModel>,
    pub unchanged: Vec<&'a str>,
    /// Among `changed`: models not stored at all yet (a plain INSERT, cheaper than an upsert).
    /// Left empty on a first load (`new_written`), where every changed model is new.
    pub new: foldhash::HashSet<&'a str>,
    /// A first load: every changed model is new, and its things row is written already (see
    /// `insert_new_models`).
    pub new_written: bool,
    /// Among the unchanged: models whose state does not record the API object they were
    /// just mapped from.
    pub restamp: Vec<&'a MappedModel>,
}

/// Rows per statement: bounds the memory of the array parameters and of the statement.
const BATCH: usize = 4000;

/// A sync that adds fewer models than this leaves table statistics to autovacuum.
const ANALYZE_FROM: i64 = 5000;

/// Writes the things rows of models that are stored nowhere yet (a plain INSERT); returns
/// how many. A first load calls it batch by batch while the rest is still being mapped.
pub fn insert_new_models(models: &[&MappedModel], at: &str) -> i64 {
    Spi::connect_mut(|client| -> R<i64> {
        let mut cx = PgMemoryContexts::new("openrouter sync batch");
        let mut inserted = 0;
        let mut models = models.to_vec();
        models.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        for batch in models.chunks(BATCH) {
            inserted += insert_new_batch(client, &mut cx, batch, at)?;
        }
        Ok(inserted)
    })
    .unwrap_or_else(|e| pgrx::error!("openrouter: writing the registry failed: {e}"))
}

fn insert_new_batch(
    client: &mut SpiClient<'_>,
    cx: &mut PgMemoryContexts,
    batch: &[&MappedModel],
    at: &str,
) -> R<i64> {
    let (ids, docs, contents) = things_columns(batch);
    in_batch(cx, || {
        update_generic(
            client,
            "INSERT INTO things (ns, id, type, data, content, created_at, updated_at)
             SELECT 'models', u.id, 'Model', u.data, u.content, $3::timestamptz, $3::timestamptz
               FROM (SELECT unnest($1::text[]) AS id, unnest($2::jsonb[]) AS data,
                            unnest($4::text[]) AS content) u",
            &[
                text_array(&ids),
                jsonb_array(&docs),
                timestamptz(at),
                text_array(&contents),
            ],
        )
        .map(|n| n as i64)
    })
}

/// Rewrites the things rows of models (data and content), e.g. a repeated model written
/// with its first occurrence during a streamed first load.
pub fn rewrite_models(models: &[&MappedModel], at: &str) {
    Spi::connect_mut(|client| upsert_models(client, models, at).map(|_| ()))
        .unwrap_or_else(|e| pgrx::error!("openrouter: writing the registry failed: {e}"))
}

/// Inserts or overwrites the things rows of models; returns (inserted, updated).
fn upsert_models(client: &mut SpiClient<'_>, models: &[&MappedModel], at: &str) -> R<(i64, i64)> {
    let (ids, docs, contents) = things_columns(models);
    upsert_things(
        client,
        "models",
        "Model",
        ids,
        jsonb_array(&docs),
        contents,
        at,
        true,
    )
}

/// The id, data and content of the things rows of `models`.
fn things_columns<'a>(models: &[&'a MappedModel]) -> (Vec<&'a str>, Vec<Doc<'a>>, Vec<&'a str>) {
    (
        models.iter().map(|m| m.id.as_str()).collect(),
        models.iter().map(|m| m.doc()).collect(),
        models.iter().map(|m| m.description()).collect(),
    )
}

/// The state rows of `batch` (see openrouter_model_state); `upsert` where some may exist.
fn write_state(
    client: &mut SpiClient<'_>,
    cx: &mut PgMemoryContexts,
    batch: &[&MappedModel],
    upsert: bool,
) -> R<()> {
    let ids: Vec<&str> = batch.iter().map(|m| m.id.as_str()).collect();
    let hashes: Vec<i64> = batch.iter().map(|m| m.fingerprint).collect();
    let expired: Vec<bool> = batch.iter().map(|m| m.expired).collect();
    let prices: Vec<_> = batch.iter().map(|m| m.prompt_and_completion()).collect();
    let prompts: Vec<Option<&str>> = prices.iter().map(|p| p.0.as_deref()).collect();
    let completions: Vec<Option<&str>> = prices.iter().map(|p| p.1.as_deref()).collect();
    let contexts: Vec<Option<i32>> = batch
        .iter()
        .map(|m| m.context_length.and_then(|c| i32::try_from(c).ok()))
        .collect();
    let raw_hashes: Vec<i64> = batch.iter().map(|m| m.raw_hash).collect();
    let names: Vec<Option<&str>> = batch.iter().map(|m| m.name.as_deref()).collect();
    let expires: Vec<bool> = batch.iter().map(|m| m.expires).collect();
    let sql = format!(
        "INSERT INTO openrouter_model_state AS s
                (model_id, data_hash, deprecated, prompt_price, completion_price, context_length,
                 raw_hash, name, expires)
         SELECT unnest($1::text[]), unnest($2::bigint[]), unnest($3::boolean[]),
                unnest($4::text[])::numeric, unnest($5::text[])::numeric, unnest($6::integer[]),
                unnest($7::bigint[]), unnest($8::text[]), unnest($9::boolean[])
         {}",
        if upsert {
            "ON CONFLICT (model_id) DO UPDATE
                SET data_hash = EXCLUDED.data_hash, deprecated = EXCLUDED.deprecated,
                    prompt_price = EXCLUDED.prompt_price,
                    completion_price = EXCLUDED.completion_price,
                    context_length = EXCLUDED.context_length,
                    raw_hash = EXCLUDED.raw_hash, name = EXCLUDED.name,
                    expires = EXCLUDED.expires"
        } else {
            ""
        }
    );
    in_batch(cx, || {
        update_generic(
            client,
            &sql,
            &[
                text_array(&ids),
                hashes.into(),
                expired.into(),
                nullable_text_array(&prompts),
                nullable_text_array(&completions),
                contexts.into(),
                raw_hashes.into(),
                nullable_text_array(&names),
                expires.into(),
            ],
        )
    })?;
    Ok(())
}

impl MappedModel {
    pub(crate) fn doc(&self) -> Doc<'_> {
        match self.docs.as_deref() {
            Some(Documents {
                jsonb: Some(block),
                lz4_raw: Some(raw),
                ..
            }) => Doc::Lz4 { raw: *raw, block },
            Some(Documents {
                jsonb: Some(body), ..
            }) => Doc::Jsonb(body),
            _ => Doc::Text(self.data()),
        }
    }
}

pub fn write(reg: &Registry, plan: &Plan, diff: &Diff, run: &RunInfo) -> Written {
    Spi::connect_mut(|client| write_all(client, reg, plan, diff, run)).unwrap_or_else(|e| {
        pgrx::error!("openrouter: writing the registry failed: {e}");
    })
}

fn count(v: &[String]) -> i32 {
    v.len() as i32
}

fn write_all(
    client: &mut SpiClient<'_>,
    reg: &Registry,
    plan: &Plan,
    diff: &Diff,
    run: &RunInfo,
) -> R<Written> {
    let at = run.at;
    let mut cx = PgMemoryContexts::new("openrouter sync batch");
    // Changed and new models (their data hash differs from what the sync last wrote): the
    // whole row.
    let mut changed = plan.changed.clone();
    changed.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    let (fresh, known): (Vec<&MappedModel>, Vec<&MappedModel>) = changed
        .iter()
        .partition(|m| plan.new_written || plan.new.contains(m.id.as_str()));
    let (inserted, updated) = write_models(client, &mut cx, plan, &fresh, &known, at)?;
    poll(&format!("wrote {} models", plan.changed.len()));
    confirm_unchanged(client, &mut cx, plan, at)?;
    poll(&format!(
        "confirmed {} unchanged models",
        plan.unchanged.len()
    ));
    write_states(client, &mut cx, plan, &fresh, &known)?;
    mark_removed(client, diff, at)?;
    write_labs(client, reg, at)?;
    write_edges(client, &mut cx, &changed, at)?;
    poll("labs and relationships written");
    write_price_periods(client, &mut cx, &changed, diff, at)?;
    poll("price history written");
    // The batches above left freed arrays all over the heap; what follows (ANALYZE, the
    // run's row) is the end of the sync, when a first load's memory peaks: give whole free
    // pages back first.
    give_back_free_memory();
    refresh_statistics(client, inserted)?;
    // The run, then what it changed.
    let (run_id, duration_ms) = record_run(client, reg, diff, run, inserted, updated)?;
    log_changes(client, run_id, diff, at)?;
    stamp_expired(client, &changed)?;
    Ok(Written {
        inserted,
        updated,
        run_id,
        duration_ms,
    })
}

/// The whole things rows of new and changed models; returns (inserted, updated).
fn write_models(
    client: &mut SpiClient<'_>,
    cx: &mut PgMemoryContexts,
    plan: &Plan,
    fresh: &[&MappedModel],
    known: &[&MappedModel],
    at: &str,
) -> R<(i64, i64)> {
    let (mut inserted, mut updated) = (0i64, 0i64);
    // New models, the bulk of a first load: a plain INSERT (unless written already).
    if plan.new_written {
        inserted += fresh.len() as i64;
    } else {
        for batch in fresh.chunks(BATCH) {
            inserted += insert_new_batch(client, cx, batch, at)?;
        }
    }
    for batch in known.chunks(BATCH) {
        let row = in_batch(cx, || upsert_models(client, batch, at))?;
        inserted += row.0;
        updated += row.1;
    }
    Ok((inserted, updated))
}

/// Confirms the rows of unchanged models (updated_at); a model whose row was deleted outside
/// the sync loses its state row, so that the next sync writes it again.
fn confirm_unchanged(
    client: &mut SpiClient<'_>,
    cx: &mut PgMemoryContexts,
    plan: &Plan,
    at: &str,
) -> R<()> {
    // Unchanged models: confirmed, nothing else (a small HOT update). `= ANY` rather than a
    // join with unnest(): the planner may then read the index in key order (the array is
    // sorted here, the index scan sorts it anyway) or scan the table once when most of it
    // is listed; half the time of a re-sync at 100x goes here.
    let mut unchanged = plan.unchanged.clone();
    unchanged.sort_unstable();
    let mut lost: Vec<String> = Vec::new();
    for batch in unchanged.chunks(BATCH * 4) {
        let confirmed = in_batch(cx, || {
            client
                .update(
                    "UPDATE things SET updated_at = $2::timestamptz
                      WHERE ns = 'models' AND id = ANY($1::text[])",
                    None,
                    &[text_array(batch), at.into()],
                )
                .map(|t| t.len())
        })?;
        if confirmed < batch.len() {
            // Rows deleted outside the sync: their state says "written, unchanged", and
            // unchanged models are not mapped again, so nothing would ever rewrite them.
            let rows = in_batch(cx, || {
                client
                    .select(
                        "SELECT u.id FROM unnest($1::text[]) AS u(id)
                          WHERE NOT EXISTS (SELECT 1 FROM things t
                                             WHERE t.ns = 'models' AND t.id = u.id)",
                        None,
                        &[text_array(batch)],
                    )?
                    .map(|r| r.get::<String>(1).map(Option::unwrap_or_default))
                    .collect::<R<Vec<String>>>()
            })?;
            lost.extend(rows);
        }
    }
    if !lost.is_empty() {
        // Forgotten, they are new to the next sync, which writes them again.
        client.update(
            "DELETE FROM openrouter_model_state WHERE model_id = ANY($1::text[])",
            None,
            &[text_array(&lost)],
        )?;
        pgrx::warning!(
            "openrouter: {} stored models have no things row any more ({}{}): deleted outside the sync? The next sync writes them again",
            lost.len(),
            lost[0],
            if lost.len() > 1 { ", ..." } else { "" }
        );
    }
    Ok(())
}

/// The state rows (openrouter_model_state) of the models written or mapped again.
fn write_states(
    client: &mut SpiClient<'_>,
    cx: &mut PgMemoryContexts,
    plan: &Plan,
    fresh: &[&MappedModel],
    known: &[&MappedModel],
) -> R<()> {
    // What the sync wrote, for the next one. New models have no state row yet (that is what
    // makes them new): a plain INSERT, cheaper than the upsert the others need. Unchanged
    // models mapped again (their API object or the mapping changed, their data did not) get
    // the record of what they were mapped from, so that the next sync can skip them.
    for batch in fresh.chunks(BATCH) {
        write_state(client, cx, batch, false)?;
    }
    for batch in known.chunks(BATCH).chain(plan.restamp.chunks(BATCH)) {
        write_state(client, cx, batch, true)?;
    }
    Ok(())
}

/// Marks the models that vanished upstream as deprecated.
fn mark_removed(client: &mut SpiClient<'_>, diff: &Diff, at: &str) -> R<()> {
    // Models that vanished upstream: kept, marked, with the time they were first missed.
    if !diff.removed.is_empty() {
        client.update(
            "UPDATE things
                SET data = data || jsonb_build_object('deprecated', true, 'deprecated_reason', 'removed',
                                                      'deprecated_at', $2::timestamptz)
              WHERE ns = 'models' AND id = ANY($1::text[])",
            None,
            &[diff.removed.clone().into(), at.into()],
        )?;
        client.update(
            "UPDATE openrouter_model_state SET deprecated = true WHERE model_id = ANY($1::text[])",
            None,
            &[diff.removed.clone().into()],
        )?;
    }
    Ok(())
}

/// The labs of this response, and the one definition of a live lab: a lab is deprecated
/// exactly when it has no live model after this sync (its models gone upstream or past their
/// expiration date), as openrouter_labs_all.is_deprecated says. A lab that has a live model
/// again is live again: its row is rewritten without the mark. `deprecated_at` is the time a
/// sync first saw the lab without a live model, kept while it stays so.
fn write_labs(client: &mut SpiClient<'_>, reg: &Registry, at: &str) -> R<()> {
    // When the labs that are deprecated now became so: rewriting a listed lab (all of its
    // models expired) would lose it.
    let mut since_ids: Vec<String> = Vec::new();
    let mut since_ats: Vec<String> = Vec::new();
    for row in client.select(
        "SELECT id, (data->'deprecated_at')::text FROM things
          WHERE ns = 'labs' AND data->'deprecated' = 'true'::jsonb AND data ? 'deprecated_at'",
        None,
        &[],
    )? {
        if let (Some(id), Some(since)) = (row.get::<String>(1)?, row.get::<String>(2)?) {
            since_ids.push(id);
            since_ats.push(since);
        }
    }
    let lab_ids: Vec<&str> = reg.labs.iter().map(|l| l.id.as_str()).collect();
    let lab_datas: Vec<&str> = reg.labs.iter().map(|l| l.data.as_str()).collect();
    let lab_contents: Vec<&str> = reg.labs.iter().map(|l| l.description.as_str()).collect();
    upsert_things(
        client,
        "labs",
        "Lab",
        lab_ids,
        jsonb_array_of_texts(&lab_datas),
        lab_contents,
        at,
        true,
    )?;
    let live_ids: Vec<&str> = reg
        .labs
        .iter()
        .filter(|l| l.live)
        .map(|l| l.id.as_str())
        .collect();
    client.update(
        "UPDATE things l
            SET data = l.data || jsonb_build_object(
                    'deprecated', true, 'deprecated_reason', 'no live models',
                    'deprecated_at', coalesce((SELECT s.since::jsonb FROM unnest($3::text[], $4::text[]) AS s(id, since)
                                                WHERE s.id = l.id),
                                              to_jsonb($2::timestamptz)))
          WHERE l.ns = 'labs' AND l.id <> ALL($1::text[])
            AND (l.data->'deprecated' IS DISTINCT FROM 'true'::jsonb OR NOT l.data ? 'deprecated_at'
                 OR l.data->>'deprecated_reason' IS DISTINCT FROM 'no live models')",
        None,
        &[
            live_ids.into(),
            at.into(),
            since_ids.into(),
            since_ats.into(),
        ],
    )?;
    Ok(())
}

/// The lab -> model edges of new models.
fn write_edges(
    client: &mut SpiClient<'_>,
    cx: &mut PgMemoryContexts,
    changed: &[&MappedModel],
    at: &str,
) -> R<()> {
    // Lab -> model edges (the id determines both ends: only new models can add one). An
    // anti-join rather than ON CONFLICT DO NOTHING: one pass, no speculative insertions
    // (a third faster on a first load); the sync lock keeps other syncs out meanwhile. Into
    // an empty table (a first load) not even that: with a generic plan it is an index probe
    // per row.
    let edges_sql = format!(
        "INSERT INTO relationships (ns, id, type, from_ns, from_id, to_ns, to_id, data, created_at)
         SELECT 'relationships', 'provider-' || u.id, 'provider', 'labs', u.lab, 'models', u.id, '{{}}', $3::timestamptz
           FROM (SELECT unnest($1::text[]) AS id, unnest($2::text[]) AS lab) u
         {}",
        if has_no_pages("relationships") {
            ""
        } else {
            "WHERE NOT EXISTS (SELECT 1 FROM relationships r
                                WHERE r.ns = 'relationships' AND r.id = 'provider-' || u.id)"
        }
    );
    for batch in changed.chunks(BATCH) {
        let ids: Vec<&str> = batch.iter().map(|m| m.id.as_str()).collect();
        let labs_of: Vec<&str> = batch.iter().map(|m| m.lab()).collect();
        in_batch(cx, || {
            update_generic(
                client,
                &edges_sql,
                &[text_array(&ids), text_array(&labs_of), timestamptz(at)],
            )
        })?;
    }
    Ok(())
}

/// Price periods: closes those of changed and vanished models, opens one for every listed
/// model without an open period.
fn write_price_periods(
    client: &mut SpiClient<'_>,
    cx: &mut PgMemoryContexts,
    changed: &[&MappedModel],
    diff: &Diff,
    at: &str,
) -> R<()> {
    // Price periods: close the changed and the vanished, open one for every listed model
    // without an open period (new, returned, repriced).
    let periods_sql = format!(
        "INSERT INTO openrouter_price_history
            (model_id, valid_from, pricing, prompt_price, completion_price, variable_price)
         SELECT u.id, $3::timestamptz, u.pricing, (u.pricing->>'prompt')::numeric,
                (u.pricing->>'completion')::numeric, u.variable
           FROM (SELECT unnest($1::text[]) AS id, unnest($2::jsonb[]) AS pricing,
                        unnest($4::boolean[]) AS variable) u
         {}",
        if has_no_pages("openrouter_price_history") {
            ""
        } else {
            "WHERE NOT EXISTS (SELECT 1 FROM openrouter_price_history h
                                WHERE h.model_id = u.id AND h.valid_to IS NULL)"
        }
    );
    if !diff.close_price_periods.is_empty() {
        client.update(
            "UPDATE openrouter_price_history SET valid_to = $2::timestamptz
              WHERE valid_to IS NULL AND model_id = ANY($1::text[])",
            None,
            &[diff.close_price_periods.clone().into(), at.into()],
        )?;
    }
    for batch in changed.chunks(BATCH) {
        let ids: Vec<&str> = batch.iter().map(|m| m.id.as_str()).collect();
        let pricings: Vec<&str> = batch.iter().map(|m| m.pricing.as_str()).collect();
        let variable: Vec<bool> = batch.iter().map(|m| m.variable_price).collect();
        in_batch(cx, || {
            update_generic(
                client,
                &periods_sql,
                &[
                    text_array(&ids),
                    jsonb_array_of_texts(&pricings),
                    timestamptz(at),
                    variable.into(),
                ],
            )
        })?;
    }
    Ok(())
}

/// Refreshes the statistics of the state table and things after a large first load.
fn refresh_statistics(client: &mut SpiClient<'_>, inserted: i64) -> R<()> {
    // A table that never had statistics, or just grew by half, misleads the planner: right
    // after the first load cheapest_models() would sort every row instead of reading its index
    // (autovacuum catches up only a minute later). A small-sample ANALYZE of the narrow state
    // table (the distributions cheapest_models() filters on) and of things.ns and .type (how many rows
    // the join to things meets) sets both; it is skipped on ordinary re-syncs, and below
    // ANALYZE_FROM new rows, where any plan reads the few rows in well under a millisecond.
    let stale_stats = inserted >= ANALYZE_FROM
        && client
            .select(
                "SELECT (c.reltuples < 0 OR $1::float8 > 0.5 * greatest(c.reltuples, 1))
                    AND pg_has_role(c.relowner, 'USAGE')  -- only the owner may ANALYZE
               FROM pg_class c WHERE c.oid = 'openrouter_model_state'::regclass",
                None,
                &[(inserted as f64).into()],
            )?
            .first()
            .get::<bool>(1)?
            .unwrap_or(false);
    if stale_stats {
        let previous = client
            .update(
                "SELECT current_setting('default_statistics_target')",
                None,
                &[],
            )?
            .first()
            .get::<String>(1)?
            .unwrap_or_else(|| "100".into());
        // things.ns and .type hold a handful of values: the smallest sample (300 rows)
        // sees them. ANALYZE keeps whole sampled rows, documents included: 3000 of them
        // were 8 MB of the backend's memory at the end of a first load at 100x.
        for (target, table) in [("10", "openrouter_model_state"), ("1", "things (ns, type)")] {
            client.update(
                "SELECT set_config('default_statistics_target', $1, true)",
                None,
                &[target.into()],
            )?;
            client.update(&format!("ANALYZE {table}"), None, &[])?;
        }
        client.update(
            "SELECT set_config('default_statistics_target', $1, true)",
            None,
            &[previous.into()],
        )?;
        poll("statistics refreshed (ANALYZE openrouter_model_state, things)");
    }
    Ok(())
}

/// The run's row in openrouter_sync_runs; returns its id and duration.
fn record_run(
    client: &mut SpiClient<'_>,
    reg: &Registry,
    diff: &Diff,
    run: &RunInfo,
    inserted: i64,
    updated: i64,
) -> R<(i64, f64)> {
    // Its start is the clock now less the time since the sync started; its duration is
    // finished_at - started_at, the figure the summary gives too.
    let elapsed_ms = run.started.elapsed().as_secs_f64() * 1000.0;
    let row = client
        .update(
            "INSERT INTO openrouter_sync_runs
                    (started_at, finished_at, duration_ms, source, forced, models, labs, inserted, updated,
                     unchanged, added, removed, returned, expired, repriced, prices_changed, renamed, context_changed,
                     pages, requests, bytes, warnings, as_of, dataset, changes)
             SELECT t.started, t.finished, round(extract(epoch FROM t.finished - t.started) * 1000, 1),
                     $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $21, $12, $13, $14, $15, $16, $17, $18, $19, $20::timestamptz,
                     'models', jsonb_build_object('added', $9, 'removed', $10, 'returned', $11, 'expired', $21,
                                                  'repriced', $12, 'prices_changed', $13, 'renamed', $14,
                                                  'context_changed', $15)
               FROM (SELECT clock_timestamp() - make_interval(secs => $1 / 1000.0) AS started,
                            clock_timestamp() AS finished) t
             RETURNING id, duration_ms::float8",
            None,
            &[
                elapsed_ms.into(),
                run.source.into(),
                run.forced.into(),
                (reg.models.len() as i32).into(),
                (reg.live_labs() as i32).into(),
                (inserted as i32).into(),
                (updated as i32).into(),
                (diff.unchanged as i32).into(),
                (diff.added_count() as i32).into(),
                count(&diff.removed).into(),
                count(&diff.returned).into(),
                count(&diff.repriced).into(),
                count(&diff.other_prices_changed).into(),
                (diff.renamed as i32).into(),
                (diff.context_changed as i32).into(),
                run.pages.into(),
                run.requests.into(),
                run.bytes.into(),
                run.warnings.iter().take(100).cloned().collect::<Vec<String>>().into(),
                run.at.into(),
                (diff.expired as i32).into(),
            ],
        )?
        .first();
    Ok((
        row.get::<i64>(1)?.unwrap_or(0),
        row.get::<f64>(2)?.unwrap_or(0.0),
    ))
}

/// What the run changed, model by model, in openrouter_change_log.
fn log_changes(client: &mut SpiClient<'_>, run_id: i64, diff: &Diff, at: &str) -> R<()> {
    if !diff.changes.is_empty() {
        let model_ids: Vec<&str> = diff.changes.iter().map(|c| c.model_id.as_str()).collect();
        let kinds: Vec<&str> = diff.changes.iter().map(|c| c.kind).collect();
        let olds: Vec<Option<&str>> = diff.changes.iter().map(|c| c.old.as_deref()).collect();
        let news: Vec<Option<&str>> = diff.changes.iter().map(|c| c.new.as_deref()).collect();
        client.update(
            "INSERT INTO openrouter_change_log (run_id, changed_at, model_id, change, old_value, new_value)
             SELECT $1, $6::timestamptz, u.model_id, u.change, u.old::jsonb, u.new::jsonb
               FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(model_id, change, old, new)",
            None,
            &[run_id.into(), model_ids.into(), kinds.into(), olds.into(), news.into(), at.into()],
        )?;
    }
    Ok(())
}
