//! SPI at the edge for the endpoints sync: set-based statements, values passed as array
//! parameters (`unnest($1::text[], ...)`), never formatted into SQL text.

use super::map::{MappedEndpoint, MappedProvider};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

type R<T> = Result<T, pgrx::spi::Error>;

/// The live (not deprecated) models, all of them or those among `ids`, by id.
pub fn live_models(ids: Option<&[String]>) -> Vec<String> {
    Spi::connect(|client| -> R<Vec<String>> {
        let rows = client.select(
            "SELECT t.id FROM things t
              WHERE t.ns = 'models' AND t.type = 'Model'
                AND t.data->'deprecated' IS DISTINCT FROM 'true'::jsonb
                AND ($1::text[] IS NULL OR t.id = ANY($1::text[]))
              ORDER BY t.id",
            None,
            &[ids.map(<[String]>::to_vec).into()],
        )?;
        rows.map(|r| r.get::<String>(1).map(|v| v.unwrap_or_default()))
            .collect()
    })
    .expect("reading the live models")
}

pub struct Batch<'a> {
    pub endpoints: &'a [MappedEndpoint],
    /// From `/providers`: their data replaces what is stored.
    pub listed_providers: &'a [MappedProvider],
    /// Known only from an endpoint: stored if new, else only confirmed.
    pub unlisted_providers: &'a [MappedProvider],
    /// Models whose endpoints were fetched: their stored endpoints not in `endpoints` are gone.
    pub fetched_models: &'a [&'a str],
    /// The providers list was read: providers stored as listed but missing from it are gone.
    pub providers_read: bool,
    pub retention_days: i32,
}

pub struct Written {
    pub removed: i64,
    pub stats_rows: i64,
    pub stats_deleted: i64,
    /// The sync's time (`crate::pg::spi::sync_time`): the change log's changed_at.
    pub at: String,
    pub endpoint_changes: Vec<Change>,
    pub provider_changes: Vec<Change>,
}

/// One row of openrouter_change_log, as the endpoints sync saw it (values as jsonb text).
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: String,
    pub model_id: Option<String>,
    pub provider: Option<String>,
    pub endpoint_id: Option<String>,
    pub old: Option<String>,
    pub new: Option<String>,
}

pub fn write(batch: &Batch) -> Written {
    Spi::connect_mut(|client| write_all(client, batch)).unwrap_or_else(|e| {
        pgrx::error!("openrouter: writing the endpoints failed: {e}");
    })
}

/// The id, model and provider of each endpoint, as array parameters take them.
struct Columns<'a> {
    ids: Vec<&'a str>,
    models: Vec<&'a str>,
    providers: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    fn of(endpoints: &'a [MappedEndpoint]) -> Self {
        Columns {
            ids: endpoints.iter().map(|e| e.id.as_str()).collect(),
            models: endpoints.iter().map(|e| e.model_id.as_str()).collect(),
            providers: endpoints.iter().map(|e| e.provider.as_str()).collect(),
        }
    }
}

fn write_all(client: &mut SpiClient<'_>, b: &Batch) -> R<Written> {
    let at_text = crate::pg::spi::sync_time(client)?;
    let at = at_text.as_str();
    // What changed, read before anything is written.
    let endpoint_changes = diff_endpoints(client, b)?;
    let provider_changes = if b.providers_read {
        diff_providers(client, b.listed_providers)?
    } else {
        Vec::new()
    };
    mark_gone_providers(client, &provider_changes)?;
    write_providers(client, b, at)?;
    write_endpoints(client, b.endpoints, at)?;
    let removed = mark_removed(client, b, at)?;
    write_edges(client, b.endpoints, at)?;
    let (stats_rows, stats_deleted) = write_stats(client, b, at)?;
    Ok(Written {
        removed,
        stats_rows,
        stats_deleted,
        at: at_text.clone(),
        endpoint_changes,
        provider_changes,
    })
}

fn changes_of(rows: pgrx::spi::SpiTupleTable<'_>) -> R<Vec<Change>> {
    rows.map(|r| {
        Ok(Change {
            kind: r.get::<String>(1)?.unwrap_or_default(),
            model_id: r.get::<String>(2)?,
            provider: r.get::<String>(3)?,
            endpoint_id: r.get::<String>(4)?,
            old: r.get::<String>(5)?,
            new: r.get::<String>(6)?,
        })
    })
    .collect()
}

/// The fetched models' endpoints that appear (or return), disappear, change any price or
/// their quantization, against what is stored.
fn diff_endpoints(client: &mut SpiClient<'_>, b: &Batch) -> R<Vec<Change>> {
    let Columns {
        ids,
        models,
        providers,
    } = Columns::of(b.endpoints);
    let datas: Vec<&str> = b.endpoints.iter().map(|e| e.data.as_str()).collect();
    let rows = client.select(
        "WITH incoming AS (
              SELECT u.id, u.model, u.provider, u.data::jsonb AS data
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(id, model, provider, data)),
         stored AS (
              SELECT t.id, t.data->>'model_id' AS model, t.data->>'provider' AS provider, t.data
                FROM things t
               WHERE t.ns = 'endpoints' AND t.data->>'model_id' = ANY($5::text[])
                 AND t.data->'deprecated' IS DISTINCT FROM 'true'::jsonb)
         SELECT 'endpoint_added', i.model, i.provider, i.id, NULL::text, (i.data->'pricing')::text
           FROM incoming i WHERE NOT EXISTS (SELECT 1 FROM stored s WHERE s.id = i.id)
         UNION ALL
         SELECT 'endpoint_removed', s.model, s.provider, s.id, (s.data->'pricing')::text, NULL
           FROM stored s WHERE NOT EXISTS (SELECT 1 FROM incoming i WHERE i.id = s.id)
         UNION ALL
         SELECT 'endpoint_repriced', i.model, i.provider, i.id, (s.data->'pricing')::text, (i.data->'pricing')::text
           FROM incoming i JOIN stored s ON s.id = i.id
          WHERE s.data->'pricing' IS DISTINCT FROM i.data->'pricing'
         UNION ALL
         SELECT 'quantization_changed', i.model, i.provider, i.id,
                coalesce(s.data->'quantization', 'null')::text, coalesce(i.data->'quantization', 'null')::text
           FROM incoming i JOIN stored s ON s.id = i.id
          WHERE coalesce(s.data->'quantization', 'null') IS DISTINCT FROM coalesce(i.data->'quantization', 'null')
         ORDER BY 2, 4, 1",
        None,
        &[
            ids.into(),
            models.into(),
            providers.into(),
            datas.into(),
            b.fetched_models.to_vec().into(),
        ],
    )?;
    changes_of(rows)
}

/// Providers in the list that were not listed before (new, or known only from an endpoint,
/// or gone earlier), and providers listed before that the list no longer has.
fn diff_providers(client: &mut SpiClient<'_>, listed: &[MappedProvider]) -> R<Vec<Change>> {
    let slugs: Vec<&str> = listed.iter().map(|p| p.slug.as_str()).collect();
    let names: Vec<Option<&str>> = listed.iter().map(|p| p.name.as_deref()).collect();
    let rows = client.select(
        "WITH incoming AS (SELECT u.slug, u.name FROM unnest($1::text[], $2::text[]) AS u(slug, name)),
         stored AS (SELECT t.id AS slug, coalesce(t.data->>'name', t.content) AS name FROM things t
                     WHERE t.ns = 'providers' AND t.data->'listed' IS DISTINCT FROM 'false'::jsonb)
         SELECT 'provider_listed', NULL::text, i.slug, NULL::text, NULL::text, to_jsonb(coalesce(i.name, i.slug))::text
           FROM incoming i WHERE NOT EXISTS (SELECT 1 FROM stored s WHERE s.slug = i.slug)
         UNION ALL
         SELECT 'provider_gone', NULL, s.slug, NULL, to_jsonb(coalesce(s.name, s.slug))::text, NULL
           FROM stored s WHERE NOT EXISTS (SELECT 1 FROM incoming i WHERE i.slug = s.slug)
         ORDER BY 3, 1",
        None,
        &[slugs.into(), names.into()],
    )?;
    changes_of(rows)
}

/// Providers gone from the list are kept, marked as not listed (as those known only from an
/// endpoint are), so that they are reported gone once.
fn mark_gone_providers(client: &mut SpiClient<'_>, changes: &[Change]) -> R<()> {
    let gone: Vec<&str> = changes
        .iter()
        .filter(|c| c.kind == "provider_gone")
        .filter_map(|c| c.provider.as_deref())
        .collect();
    if !gone.is_empty() {
        client.update(
            "UPDATE things SET data = data || '{\"listed\": false}'::jsonb
              WHERE ns = 'providers' AND id = ANY($1::text[])",
            None,
            &[gone.into()],
        )?;
    }
    Ok(())
}

/// What one endpoints sync records: its run row (and the providers list's, when read) and
/// their changes.
pub struct RunRecord<'a> {
    pub at: &'a str,
    pub elapsed_ms: f64,
    pub source: &'a str,
    pub models: i32,
    pub requests: i32,
    pub bytes: i64,
    pub warnings: Vec<String>,
    pub endpoint_changes: &'a [Change],
    /// `Some((source, requests, bytes))` when the providers list was read.
    pub providers: Option<(&'a str, i32, i64)>,
    pub provider_changes: &'a [Change],
}

/// Counts per kind, every kind of the dataset present (0 when none).
fn counts(kinds: &[&str], changes: &[Change]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = kinds
        .iter()
        .map(|k| {
            let n = changes.iter().filter(|c| c.kind == *k).count();
            ((*k).to_string(), serde_json::Value::from(n))
        })
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// Writes the run rows and the change log; returns the endpoints run's id.
pub fn record(rec: &RunRecord) -> i64 {
    Spi::connect_mut(|client| record_all(client, rec)).unwrap_or_else(|e| {
        pgrx::error!("openrouter: recording the endpoints run failed: {e}");
    })
}

fn record_all(client: &mut SpiClient<'_>, rec: &RunRecord) -> R<i64> {
    let endpoint_kinds = [
        "endpoint_added",
        "endpoint_removed",
        "endpoint_repriced",
        "quantization_changed",
    ];
    let run_id = insert_run(
        client,
        rec,
        "endpoints",
        rec.source,
        rec.models,
        rec.requests,
        rec.bytes,
        &counts(&endpoint_kinds, rec.endpoint_changes),
        &rec.warnings,
    )?;
    log_changes(client, run_id, "endpoints", rec.endpoint_changes, rec.at)?;
    if let Some((source, requests, bytes)) = rec.providers {
        let providers_run = insert_run(
            client,
            rec,
            "providers",
            source,
            0,
            requests,
            bytes,
            &counts(&["provider_listed", "provider_gone"], rec.provider_changes),
            &[],
        )?;
        log_changes(
            client,
            providers_run,
            "providers",
            rec.provider_changes,
            rec.at,
        )?;
    }
    Ok(run_id)
}

#[allow(clippy::too_many_arguments)]
fn insert_run(
    client: &mut SpiClient<'_>,
    rec: &RunRecord,
    dataset: &str,
    source: &str,
    models: i32,
    requests: i32,
    bytes: i64,
    changes: &str,
    warnings: &[String],
) -> R<i64> {
    Ok(client
        .update(
            "INSERT INTO openrouter_sync_runs
                    (started_at, finished_at, duration_ms, source, models, requests, bytes, warnings, dataset, changes,
                     as_of)
             SELECT t.started, t.finished, round(extract(epoch FROM t.finished - t.started) * 1000, 1),
                    $3, $4, $5, $6, $7, $8, $9::jsonb, $1::timestamptz
               FROM (SELECT clock_timestamp() - make_interval(secs => $2 / 1000.0) AS started,
                            clock_timestamp() AS finished) t
             RETURNING id",
            None,
            &[
                rec.at.into(),
                rec.elapsed_ms.into(),
                source.into(),
                models.into(),
                requests.into(),
                bytes.into(),
                warnings
                    .iter()
                    .take(100)
                    .map(|w| crate::error::redact(w))
                    .collect::<Vec<String>>()
                    .into(),
                dataset.into(),
                changes.into(),
            ],
        )?
        .first()
        .get::<i64>(1)?
        .unwrap_or(0))
}

fn log_changes(
    client: &mut SpiClient<'_>,
    run_id: i64,
    dataset: &str,
    changes: &[Change],
    at: &str,
) -> R<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let col =
        |f: fn(&Change) -> Option<&str>| -> Vec<Option<&str>> { changes.iter().map(f).collect() };
    client.update(
        "INSERT INTO openrouter_change_log
                (run_id, changed_at, dataset, change, model_id, provider, endpoint_id, old_value, new_value)
         SELECT $1, $2::timestamptz, $3, u.change, u.model_id, u.provider, u.endpoint_id, u.old::jsonb, u.new::jsonb
           FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
                AS u(change, model_id, provider, endpoint_id, old, new)",
        None,
        &[
            run_id.into(),
            at.into(),
            dataset.into(),
            col(|c| Some(c.kind.as_str())).into(),
            col(|c| c.model_id.as_deref()).into(),
            col(|c| c.provider.as_deref()).into(),
            col(|c| c.endpoint_id.as_deref()).into(),
            col(|c| c.old.as_deref()).into(),
            col(|c| c.new.as_deref()).into(),
        ],
    )?;
    Ok(())
}

/// The providers: those of `/providers` replace what is stored, those known only from an
/// endpoint are stored if new.
fn write_providers(client: &mut SpiClient<'_>, b: &Batch, at: &str) -> R<()> {
    for (providers, overwrite) in [(b.listed_providers, true), (b.unlisted_providers, false)] {
        let ids: Vec<&str> = providers.iter().map(|p| p.slug.as_str()).collect();
        let datas: Vec<&str> = providers.iter().map(|p| p.data.as_str()).collect();
        let names: Vec<&str> = providers
            .iter()
            .map(|p| p.name.as_deref().unwrap_or(p.slug.as_str()))
            .collect();
        crate::pg::spi::upsert_things(
            client,
            "providers",
            "Provider",
            ids,
            crate::pg::arrays::jsonb_array_of_texts(&datas),
            names,
            at,
            overwrite,
        )?;
    }
    Ok(())
}

/// The endpoints' things rows.
fn write_endpoints(client: &mut SpiClient<'_>, endpoints: &[MappedEndpoint], at: &str) -> R<()> {
    let ids: Vec<&str> = endpoints.iter().map(|e| e.id.as_str()).collect();
    let datas: Vec<&str> = endpoints.iter().map(|e| e.data.as_str()).collect();
    let contents: Vec<String> = endpoints
        .iter()
        .map(|e| {
            format!(
                "{} serving {}",
                e.provider_name.as_deref().unwrap_or(&e.provider),
                e.model_id
            )
        })
        .collect();
    let content_refs: Vec<&str> = contents.iter().map(String::as_str).collect();
    crate::pg::spi::upsert_things(
        client,
        "endpoints",
        "Endpoint",
        ids,
        crate::pg::arrays::jsonb_array_of_texts(&datas),
        content_refs,
        at,
        true,
    )?;
    Ok(())
}

/// Endpoints a fetched model no longer lists: kept, marked, like vanished models. Returns
/// how many.
fn mark_removed(client: &mut SpiClient<'_>, b: &Batch, at: &str) -> R<i64> {
    let ids: Vec<&str> = b.endpoints.iter().map(|e| e.id.as_str()).collect();
    Ok(client
        .update(
            "UPDATE things
                SET data = data || jsonb_build_object('deprecated', true, 'deprecated_reason', 'removed',
                                                      'deprecated_at', $3::timestamptz)
              WHERE ns = 'endpoints' AND data->>'model_id' = ANY($1::text[])
                AND id <> ALL($2::text[])
                AND data->'deprecated' IS DISTINCT FROM 'true'::jsonb",
            None,
            &[b.fetched_models.to_vec().into(), ids.clone().into(), at.into()],
        )?
        .len() as i64)
}

/// Edges: provider -> model ('serves') and endpoint -> model ('endpoint-of').
fn write_edges(client: &mut SpiClient<'_>, endpoints: &[MappedEndpoint], at: &str) -> R<()> {
    let Columns {
        ids,
        models,
        providers,
    } = Columns::of(endpoints);
    client.update(
        "INSERT INTO relationships (ns, id, type, from_ns, from_id, to_ns, to_id, data, created_at)
         SELECT DISTINCT 'relationships', 'serves-' || u.model || '@' || u.provider, 'serves',
                'providers', u.provider, 'models', u.model, '{}'::jsonb, $3::timestamptz
           FROM unnest($1::text[], $2::text[]) AS u(provider, model)
         ON CONFLICT (ns, id) DO NOTHING",
        None,
        &[providers.clone().into(), models.clone().into(), at.into()],
    )?;
    client.update(
        "INSERT INTO relationships (ns, id, type, from_ns, from_id, to_ns, to_id, data, created_at)
         SELECT 'relationships', 'endpoint-of-' || u.id, 'endpoint-of',
                'endpoints', u.id, 'models', u.model, '{}'::jsonb, $3::timestamptz
           FROM unnest($1::text[], $2::text[]) AS u(id, model)
         ON CONFLICT (ns, id) DO NOTHING",
        None,
        &[ids.clone().into(), models.clone().into(), at.into()],
    )?;
    Ok(())
}

/// Metric history: one row per endpoint per sync, then the retention window. Returns (rows
/// written, rows deleted).
fn write_stats(client: &mut SpiClient<'_>, b: &Batch, at: &str) -> R<(i64, i64)> {
    let Columns {
        ids,
        models,
        providers,
    } = Columns::of(b.endpoints);
    let stat = |f: fn(&MappedEndpoint) -> &Option<String>| -> Vec<Option<String>> {
        b.endpoints.iter().map(|e| f(e).clone()).collect()
    };
    let stats_rows = client
        .update(
            "INSERT INTO openrouter_endpoint_stats
                    (observed_at, endpoint_id, model_id, provider, status,
                     latency_p50_ms, latency_p90_ms, throughput_p50, uptime_last_5m, uptime_last_30m, uptime_last_1d)
             SELECT $1::timestamptz, u.id, u.model, u.provider, t.data->>'status',
                    u.l50::numeric, u.l90::numeric, u.t50::numeric, u.u5::numeric, u.u30::numeric, u.u1d::numeric
               FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                           $8::text[], $9::text[], $10::text[])
                    AS u(id, model, provider, l50, l90, t50, u5, u30, u1d)
               JOIN things t ON t.ns = 'endpoints' AND t.id = u.id",
            None,
            &[
                at.into(),
                ids.into(),
                models.into(),
                providers.into(),
                stat(|e| &e.stats.latency_p50).into(),
                stat(|e| &e.stats.latency_p90).into(),
                stat(|e| &e.stats.throughput_p50).into(),
                stat(|e| &e.stats.uptime_5m).into(),
                stat(|e| &e.stats.uptime_30m).into(),
                stat(|e| &e.stats.uptime_1d).into(),
            ],
        )?
        .len() as i64;
    let stats_deleted = client
        .update(
            "DELETE FROM openrouter_endpoint_stats
              WHERE observed_at < $1::timestamptz - make_interval(days => $2)",
            None,
            &[at.into(), b.retention_days.into()],
        )?
        .len() as i64;
    Ok((stats_rows, stats_deleted))
}
