//! Postgres tests of issue 22: one run history and change log for every dataset (models,
//! endpoints, providers), staleness and health per dataset, a schedule per dataset, and the
//! metric history by model and provider. Against `TestServer::openrouter` and a variant of it
//! whose endpoints and providers changed.

#[pgrx::pg_schema]
mod tests {
    use crate::tests::support::err;
    use crate::tests::testkit::sql::{count, one, run};
    use crate::tests::testkit::{
        endpoints_body, fixture, with_benchmarks, Reply, TestServer, NEW, PROVIDERS,
    };
    use pgrx::prelude::*;

    fn text(sql: &str) -> String {
        one::<String>(sql)
    }

    fn point_at(url: &str) {
        run(&format!("SET openrouter.api_url = '{url}'"));
        run("SET openrouter.max_retries = 1");
        run("SET client_min_messages = error");
    }

    fn sync_gpt_oss() -> serde_json::Value {
        one::<pgrx::JsonB>("SELECT openrouter_sync_endpoints(ARRAY['openai/gpt-oss-120b'])").0
    }

    /// The same API an hour later: Groq's prices for gpt-oss-120b went up, DeepInfra serves it
    /// at fp8 instead of bf16, Cerebras no longer serves it, OpenAI left the providers list.
    fn changed_server(models_body: String) -> TestServer {
        TestServer::start(move |path, _| {
            if path == "/api/v1/providers" {
                let mut doc: serde_json::Value = serde_json::from_str(PROVIDERS).unwrap();
                doc["data"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|p| p["slug"] != "openai");
                return Reply::json(200, doc.to_string());
            }
            if path == "/api/v1/models/openai/gpt-oss-120b/endpoints" {
                let mut doc: serde_json::Value =
                    serde_json::from_str(&endpoints_body("openai/gpt-oss-120b").unwrap()).unwrap();
                let list = doc["data"]["endpoints"].as_array_mut().unwrap();
                list.retain(|e| e["tag"] != "cerebras");
                for e in list.iter_mut() {
                    if e["tag"] == "groq" {
                        e["pricing"]["completion"] = "0.0000008".into();
                    }
                    if e["tag"] == "deepinfra/bf16" {
                        e["quantization"] = "fp8".into();
                    }
                }
                return Reply::json(200, doc.to_string());
            }
            Reply::json(200, models_body.clone())
        })
    }

    #[pg_test]
    fn endpoint_runs_and_change_log_between_two_responses() {
        let server = TestServer::openrouter(with_benchmarks(&fixture(NEW)), &[]);
        point_at(&server.models_url());
        one::<pgrx::JsonB>("SELECT openrouter_sync()");
        let s = sync_gpt_oss();
        assert_eq!(s["changes"], 3);
        assert_eq!(s["provider_changes"], 6);
        // One row per dataset; the model columns of the other datasets are 0.
        assert_eq!(
            text("SELECT string_agg(dataset || ':' || models || ':' || requests || ':' || changes::text, ' | ' ORDER BY id)
                    FROM openrouter_sync_runs"),
            "models:346:1:{\"added\": 346, \"expired\": 0, \"removed\": 0, \"renamed\": 0, \"repriced\": 0, \"returned\": 0, \"prices_changed\": 0, \"context_changed\": 0} \
             | endpoints:1:1:{\"endpoint_added\": 3, \"endpoint_removed\": 0, \"endpoint_repriced\": 0, \"quantization_changed\": 0} \
             | providers:0:1:{\"provider_gone\": 0, \"provider_listed\": 6}"
        );
        assert!(one::<bool>(
            "SELECT bool_and(labs = 0 AND added = 0 AND pages = 0 AND bytes > 0 AND duration_ms > 0)
               FROM openrouter_sync_runs WHERE dataset <> 'models'"
        ));
        assert_eq!(
            text("SELECT source FROM openrouter_sync_runs WHERE dataset = 'providers'"),
            server.url("/api/v1/providers")
        );
        assert_eq!(
            text("SELECT string_agg(endpoint_id || ' ' || provider, ', ' ORDER BY endpoint_id)
                    FROM openrouter_changes('-infinity', dataset => 'endpoints') WHERE change = 'endpoint_added'"),
            "openai/gpt-oss-120b@cerebras cerebras, openai/gpt-oss-120b@deepinfra/bf16 deepinfra, openai/gpt-oss-120b@groq groq"
        );
        let since = text("SELECT clock_timestamp()::text");

        // An hour later, in another transaction's clock: the changes are logged.
        let later = changed_server(with_benchmarks(&fixture(NEW)));
        point_at(&later.models_url());
        let s = sync_gpt_oss();
        assert_eq!(s["removed_endpoints"], 1);
        assert_eq!(
            text(&format!(
                "SELECT string_agg(concat_ws(' ', dataset, change, model_id, provider, endpoint_id, old_value, new_value), E'\\n'
                         ORDER BY dataset, change)
                   FROM openrouter_changes('{since}')"
            )),
            [
                "endpoints endpoint_removed openai/gpt-oss-120b cerebras openai/gpt-oss-120b@cerebras {\"prompt\": 0.00000035, \"completion\": 0.00000075}",
                "endpoints endpoint_repriced openai/gpt-oss-120b groq openai/gpt-oss-120b@groq {\"prompt\": 0.00000015, \"completion\": 0.00000075} {\"prompt\": 0.00000015, \"completion\": 0.0000008}",
                "endpoints quantization_changed openai/gpt-oss-120b deepinfra openai/gpt-oss-120b@deepinfra/bf16 \"bf16\" \"fp8\"",
                "providers provider_gone openai \"OpenAI\"",
            ]
            .join("\n")
        );
        // The prices of an endpoint change per million tokens too, beside the stored per-token ones.
        assert_eq!(
            text(&format!(
                "SELECT string_agg(concat_ws(' ', change, endpoint_id, old_value_per_million, new_value_per_million), E'\\n' ORDER BY change)
                   FROM openrouter_changes('{since}') WHERE old_value_per_million IS NOT NULL OR new_value_per_million IS NOT NULL"
            )),
            [
                "endpoint_removed openai/gpt-oss-120b@cerebras {\"prompt\": 0.35, \"completion\": 0.75}",
                "endpoint_repriced openai/gpt-oss-120b@groq {\"prompt\": 0.15, \"completion\": 0.75} {\"prompt\": 0.15, \"completion\": 0.8}",
            ]
            .join("\n")
        );
        // One dataset at a time; the models' own changes are not mixed in.
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM openrouter_changes('{since}', dataset => 'endpoints')"
            )),
            3
        );
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM openrouter_changes('{since}', 'models')"
            )),
            0
        );
        // No dataset: all of them.
        assert_eq!(
            count("SELECT count(*) FROM openrouter_changes('-infinity')"),
            count("SELECT count(*) FROM openrouter_changes('-infinity', 'models')")
                + count("SELECT count(*) FROM openrouter_changes('-infinity', 'endpoints')")
                + count("SELECT count(*) FROM openrouter_changes('-infinity', 'providers')")
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_changes('-infinity', 'providers')"),
            7
        );
        assert!(one::<bool>(
            "SELECT changes = '{\"endpoint_added\": 0, \"endpoint_removed\": 1, \"endpoint_repriced\": 1, \"quantization_changed\": 1}'
               FROM openrouter_sync_runs WHERE dataset = 'endpoints' ORDER BY id DESC LIMIT 1"
        ));
        // A provider gone is marked, and reported once.
        assert!(!one::<bool>(
            "SELECT is_listed FROM openrouter_providers WHERE id = 'openai'"
        ));
        let s = sync_gpt_oss();
        assert_eq!(s["changes"], 0);
        assert_eq!(s["provider_changes"], 0);
        // It comes back: listed again; Cerebras returns.
        point_at(&server.models_url());
        sync_gpt_oss();
        assert_eq!(
            text("SELECT string_agg(change || ' ' || coalesce(endpoint_id, provider), ', ' ORDER BY change)
                    FROM openrouter_change_log WHERE run_id IN (SELECT id FROM openrouter_sync_runs WHERE dataset <> 'models' ORDER BY id DESC LIMIT 2)"),
            "endpoint_added openai/gpt-oss-120b@cerebras, endpoint_repriced openai/gpt-oss-120b@groq, provider_listed openai, quantization_changed openai/gpt-oss-120b@deepinfra/bf16"
        );
    }

    #[pg_test]
    fn health_and_staleness_per_dataset() {
        // Never synced: every dataset says so.
        assert_eq!(
            text("SELECT string_agg(dataset || ' ' || status, ', ' ORDER BY dataset) FROM openrouter_health_by_dataset()"),
            "endpoints never synced, models never synced, providers never synced"
        );
        assert!(one::<bool>(
            "SELECT openrouter_is_stale(dataset => 'endpoints')"
        ));
        let server = TestServer::openrouter(with_benchmarks(&fixture(NEW)), &[]);
        point_at(&server.models_url());
        one::<pgrx::JsonB>("SELECT openrouter_sync()");
        // Models synced, endpoints never: only the endpoints are stale.
        assert!(!one::<bool>("SELECT openrouter_is_stale()"));
        assert!(one::<bool>(
            "SELECT openrouter_is_stale('1 hour', dataset => 'endpoints')"
        ));
        assert!(one::<bool>(
            "SELECT openrouter_last_sync(dataset => 'endpoints') IS NULL"
        ));
        sync_gpt_oss();
        assert!(!one::<bool>(
            "SELECT openrouter_is_stale('1 hour', dataset => 'endpoints')"
        ));
        // The endpoints' runs are three hours old, the models' fresh.
        run("UPDATE openrouter_sync_runs SET started_at = started_at - interval '3 hours', finished_at = finished_at - interval '3 hours'
              WHERE dataset IN ('endpoints', 'providers')");
        assert!(one::<bool>(
            "SELECT openrouter_is_stale('2 hours', dataset => 'endpoints')"
        ));
        assert!(one::<bool>(
            "SELECT openrouter_is_stale('2 hours', 'providers')"
        ));
        assert!(!one::<bool>("SELECT openrouter_is_stale('2 hours')"));
        assert!(!one::<bool>(
            "SELECT openrouter_is_stale('2 hours', dataset => 'models')"
        ));
        assert!(one::<bool>(
            "SELECT openrouter_last_sync('endpoints') < openrouter_last_sync() - interval '2 hours'"
        ));
        assert_eq!(
            text("SELECT string_agg(dataset || ' ' || status || ' ' || is_stale || ' ' || last_run_requests || ' ' || last_run_warnings, ', ' ORDER BY dataset)
                    FROM openrouter_health_by_dataset(endpoints_max_age => '2 hours')"),
            "endpoints stale true 1 0, models ok false 1 0, providers stale true 1 0"
        );
        assert!(one::<bool>(
            "SELECT hours_since_success >= 3 AND last_run_changes->>'endpoint_added' = '3'
               FROM openrouter_health_by_dataset() WHERE dataset = 'endpoints'"
        ));
        // openrouter_health() stays about the models: their last run, not the endpoints'.
        assert!(one::<bool>(
            "SELECT h.status = 'ok' AND h.last_run_id = r.id AND h.last_run_changes->>'added' = '346'
               FROM openrouter_health() h, openrouter_sync_runs r WHERE r.dataset = 'models'"
        ));
        // The models' runs old, the endpoints' fresh: the other way round.
        sync_gpt_oss();
        run("UPDATE openrouter_sync_runs SET finished_at = finished_at - interval '30 hours' WHERE dataset = 'models'");
        run("UPDATE things SET updated_at = updated_at - interval '30 hours' WHERE ns = 'models'");
        assert_eq!(
            text("SELECT string_agg(dataset || ' ' || status, ', ' ORDER BY dataset) FROM openrouter_health_by_dataset()"),
            "endpoints ok, models stale, providers ok"
        );
        assert_eq!(text("SELECT status FROM openrouter_health()"), "stale");
        // ... and its last run is still the models' last run, though the endpoints' is newer.
        assert!(one::<bool>(
            "SELECT h.last_run_id = (SELECT max(id) FROM openrouter_sync_runs WHERE dataset = 'models')
                    AND h.last_run_changes->>'added' = '346'
               FROM openrouter_health() h"
        ));
        // Every new object is commented.
        assert_eq!(
            count("SELECT count(*) FROM pg_proc WHERE proname IN ('openrouter_health_by_dataset', 'openrouter_endpoint_history', 'openrouter_changes', 'openrouter_is_stale', 'openrouter_last_sync', 'openrouter_schedule', 'openrouter_unschedule')
                    AND obj_description(oid, 'pg_proc') IS NULL"),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM pg_attribute a WHERE a.attrelid IN ('openrouter_sync_runs'::regclass, 'openrouter_change_log'::regclass)
                    AND a.attnum > 0 AND NOT a.attisdropped AND col_description(a.attrelid, a.attnum) IS NULL"),
            0
        );
    }

    #[pg_test]
    fn a_failed_endpoints_run_changes_nothing_and_blocks_nothing() {
        let server = TestServer::openrouter(with_benchmarks(&fixture(NEW)), &[]);
        point_at(&server.models_url());
        one::<pgrx::JsonB>("SELECT openrouter_sync()");
        sync_gpt_oss();
        let before = text(
            "SELECT count(*) || md5(string_agg(ns || id || data::text, ',' ORDER BY ns, id)) FROM things",
        );
        let runs = count("SELECT count(*) FROM openrouter_sync_runs");
        let stats = count("SELECT count(*) FROM openrouter_endpoint_stats");
        // Nothing answers: an ERROR, nothing written, no run recorded.
        run("SET openrouter.api_url = 'http://127.0.0.1:9/api/v1/models'");
        run("SET openrouter.max_retries = 0");
        let e = err("SELECT openrouter_sync_endpoints(ARRAY['openai/gpt-oss-120b'])");
        assert!(
            e.starts_with("58000: openrouter: the endpoints sync read nothing from http://127.0.0.1:9/api/v1: every one of its 2 requests failed (the first: could not connect to http://127.0.0.1:9/api/v1/models/openai/gpt-oss-120b/endpoints"),
            "{e}"
        );
        assert_eq!(
            text("SELECT count(*) || md5(string_agg(ns || id || data::text, ',' ORDER BY ns, id)) FROM things"),
            before
        );
        assert_eq!(count("SELECT count(*) FROM openrouter_sync_runs"), runs);
        assert_eq!(
            count("SELECT count(*) FROM openrouter_endpoint_stats"),
            stats
        );
        // The models' sync does not depend on it.
        point_at(&server.models_url());
        one::<pgrx::JsonB>("SELECT openrouter_sync()");
        assert_eq!(
            count("SELECT count(*) FROM openrouter_sync_runs WHERE dataset = 'models'"),
            2
        );
        // A run where only some models fail is a run: they are in its warnings.
        let s = one::<pgrx::JsonB>(
            "SELECT openrouter_sync_endpoints(ARRAY['openai/gpt-oss-120b', 'mistralai/mistral-nemo'])",
        )
        .0;
        assert_eq!(s["endpoints"], 3);
        assert!(one::<bool>(
            "SELECT warnings[1] LIKE 'the endpoints of mistralai/mistral-nemo were not synced: GET % answered HTTP 404%'
               FROM openrouter_sync_runs WHERE dataset = 'endpoints' ORDER BY id DESC LIMIT 1"
        ));
    }

    // pg_cron exists for Debian's 15 only here (issue 21): its tests run there.
    #[cfg(feature = "pg15")]
    #[pg_test]
    fn each_dataset_its_own_job() {
        run("CREATE EXTENSION IF NOT EXISTS pg_cron");
        let schema = text("SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'openrouter_registry'");
        let models_job = one::<i64>("SELECT openrouter_schedule()");
        let endpoints_job = one::<i64>("SELECT openrouter_schedule(endpoints => '17 * * * *')");
        assert_ne!(models_job, endpoints_job);
        let jobs = || {
            text("SELECT string_agg(jobname || ' ' || schedule || ' ' || command, ' | ' ORDER BY jobname) FROM cron.job")
        };
        assert_eq!(
            jobs(),
            format!("openrouter-sync 0 2 * * * SELECT {schema}.openrouter_sync() | openrouter-sync-endpoints 17 * * * * SELECT {schema}.openrouter_sync_endpoints()")
        );
        // Rescheduled: replaced, not duplicated; the models' job is left as it is.
        assert_eq!(
            one::<i64>("SELECT openrouter_schedule(endpoints => '*/30 * * * *')"),
            endpoints_job
        );
        assert_eq!(count("SELECT count(*) FROM cron.job"), 2);
        assert!(jobs().contains("openrouter-sync 0 2 * * * "));
        assert!(jobs().contains("openrouter-sync-endpoints */30 * * * * "));
        assert_eq!(
            text("SELECT string_agg(dataset || ' ' || coalesce(schedule, '-') || ' ' || coalesce(job_name, '-'), ', ' ORDER BY dataset) FROM openrouter_health_by_dataset()"),
            "endpoints */30 * * * * openrouter-sync-endpoints, models 0 2 * * * openrouter-sync, providers */30 * * * * openrouter-sync-endpoints"
        );
        assert_eq!(
            text("SELECT schedule || ' ' || job_name FROM openrouter_health()"),
            "0 2 * * * openrouter-sync"
        );
        assert!(err("SELECT openrouter_schedule(endpoints => '* * * * *', endpoints_job_name => 'openrouter-sync')")
            .starts_with("22023: openrouter_schedule: the models and endpoints jobs need distinct names"));
        // Removed alone.
        assert!(one::<bool>(
            "SELECT openrouter_unschedule(dataset => 'endpoints')"
        ));
        assert_eq!(
            jobs(),
            format!("openrouter-sync 0 2 * * * SELECT {schema}.openrouter_sync()")
        );
        assert!(!one::<bool>(
            "SELECT openrouter_unschedule(dataset => 'endpoints')"
        ));
        assert!(err("SELECT openrouter_unschedule(dataset => 'providers')").starts_with("22023: "));
        assert!(one::<bool>("SELECT openrouter_unschedule()"));
        assert_eq!(count("SELECT count(*) FROM cron.job"), 0);
    }

    #[pg_test]
    fn metric_history_by_model_and_provider() {
        run("SET LOCAL TimeZone = 'UTC'");
        // Three days of hourly history for two providers of a model.
        run("INSERT INTO openrouter_endpoint_stats (observed_at, endpoint_id, model_id, provider, latency_p50_ms, latency_p90_ms,
                                                    throughput_p50, uptime_last_30m, uptime_last_1d)
             SELECT date_trunc('day', now()) - make_interval(hours => h), 'm/x@' || p, 'm/x', p,
                    100 + h, 200 + h, 50, CASE WHEN h = 30 THEN 90.5 ELSE 100 END, 99
               FROM generate_series(1, 72) h, unnest(ARRAY['groq', 'deepinfra']) p");
        // The day before yesterday (UTC): 24 samples, p50 latencies 125..148 ms, one dip in uptime.
        assert_eq!(
            text("SELECT samples || ' ' || latency_p50_ms || ' ' || latency_p50_ms_max || ' ' || latency_p90_ms || ' '
                         || throughput_p50 || ' ' || uptime_last_30m_min || ' ' || uptime_last_1d_min
                    FROM openrouter_endpoint_history('m/x', 'groq', days => 3)
                   WHERE bucket_start = date_trunc('day', now()) - interval '2 days'"),
            "24 136 148 236 50 90.5 99"
        );
        assert_eq!(
            count("SELECT count(DISTINCT provider_slug) FROM openrouter_endpoint_history('m/x')"),
            2
        );
        // The covering index answers it, among a hundred other models' history.
        run("INSERT INTO openrouter_endpoint_stats (observed_at, endpoint_id, model_id, provider, latency_p50_ms)
             SELECT now() - make_interval(hours => h), 'm/other-' || m || '@groq', 'm/other-' || m, 'groq', 100
               FROM generate_series(1, 72) h, generate_series(1, 100) m");
        run("ANALYZE openrouter_endpoint_stats");
        run("SET LOCAL enable_seqscan = off");
        run("SET LOCAL enable_bitmapscan = off");
        // On so few rows the planners of 16 and later take the older (model_id, observed_at)
        // index as readily: without it (for this test's transaction only), the question is
        // whether the new one answers by model and provider at all.
        run("DROP INDEX openrouter_endpoint_stats_model_idx");
        let plan = Spi::connect(|c| {
            c.select(
                "EXPLAIN (COSTS OFF) SELECT observed_at, latency_p50_ms, uptime_last_30m FROM openrouter_endpoint_stats
                  WHERE model_id = 'm/x' AND provider = 'groq' AND observed_at >= now() - interval '7 days'",
                None,
                &[],
            )
            .unwrap()
            .map(|r| r.get::<String>(1).unwrap().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
        });
        assert!(
            plan.contains("openrouter_endpoint_stats_model_provider_idx"),
            "{plan}"
        );
    }
}
