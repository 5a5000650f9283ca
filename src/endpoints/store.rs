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
    pub retention_days: i32,
}

pub struct Written {
    pub removed: i64,
    pub stats_rows: i64,
    pub stats_deleted: i64,
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
    let at = crate::pg::spi::sync_time(client)?;
    let at = at.as_str();
    write_providers(client, b, at)?;
    write_endpoints(client, b.endpoints, at)?;
    let removed = mark_removed(client, b, at)?;
    write_edges(client, b.endpoints, at)?;
    let (stats_rows, stats_deleted) = write_stats(client, b, at)?;
    Ok(Written {
        removed,
        stats_rows,
        stats_deleted,
    })
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
