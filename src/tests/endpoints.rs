//! Postgres tests of the endpoints sync (issue 8): through SPI, as a user would, against the
//! loopback API of `TestServer::openrouter` (hand-made endpoints and providers payloads,
//! a 404, a 429 that never ends and one that clears after Retry-After).

#[pgrx::pg_schema]
mod tests {
    use crate::tests::support::{assert_other_sources_untouched, other_sources_write};
    use crate::tests::testkit::{fixture, with_benchmarks, TestServer, NEW};
    use pgrx::prelude::*;
    use serde_json::{json, Value};

    use crate::tests::testkit::sql::{count, one, run};

    fn text(sql: &str) -> String {
        one::<String>(sql)
    }

    fn point_at(url: &str) {
        run(&format!("SET openrouter.api_url = '{url}'"));
        run("SET openrouter.max_retries = 1");
        run("SET client_min_messages = error");
    }

    /// Runs a statement in a subtransaction; its error as 'SQLSTATE: message', or None.
    fn try_sql(sql: &str) -> String {
        if !one::<bool>("SELECT to_regprocedure('pg_temp.try_sql(text)') IS NOT NULL") {
            run("CREATE FUNCTION pg_temp.try_sql(q text) RETURNS text LANGUAGE plpgsql AS $$
                 BEGIN EXECUTE q; RETURN 'no error'; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$");
        }
        Spi::get_one_with_args::<String>("SELECT pg_temp.try_sql($1)", &[sql.into()])
            .unwrap()
            .unwrap()
    }

    fn json(sql: &str) -> Value {
        one::<pgrx::JsonB>(sql).0
    }

    /// The four models with endpoints, a variant sharing its base's request, a 404, a 429
    /// and an id that is not a model.
    const CHOSEN: &str = "ARRAY['openai/gpt-oss-120b', 'anthropic/claude-sonnet-4.5', 'qwen/qwen3-coder',
                                'qwen/qwen3-coder:free', 'google/gemini-2.5-flash', 'mistralai/mistral-nemo',
                                'deepseek/deepseek-v3.2', 'no/such-model']";

    fn synced(server: &TestServer) -> Value {
        point_at(&server.models_url());
        json("SELECT openrouter_sync()");
        json(&format!("SELECT openrouter_sync_endpoints({CHOSEN})"))
    }

    fn hits(server: &TestServer, path: &str) -> usize {
        server
            .request_heads()
            .iter()
            .filter(|h| h.starts_with(&format!("GET {path} ")))
            .count()
    }

    #[pg_test]
    fn endpoints_sync_stores_what_the_api_says() {
        let others = other_sources_write();
        let server = TestServer::openrouter(with_benchmarks(&fixture(NEW)), &[]);
        let s = synced(&server);
        let base = server.url("/api/v1");
        assert_eq!(s["source"], base);
        assert_eq!(s["models"], 4);
        assert_eq!(s["endpoints"], 8);
        assert_eq!(s["providers"], 7);
        assert_eq!(s["providers_listed"], 6);
        assert_eq!(s["stats_rows"], 8);
        assert_eq!(s["stats_deleted"], 0);
        assert_eq!(s["removed_endpoints"], 0);
        assert_eq!(s["providers_error"], Value::Null);
        // 4 models + 404 + 429 twice (max_retries = 1) + gemini 429 then 200 + providers.
        assert_eq!(s["requests"], 9);
        assert_eq!(
            s["models_failed"],
            json!([
                {"model": "no/such-model", "error": "not a live model (see SELECT id FROM openrouter_models)"},
                {"model": "deepseek/deepseek-v3.2",
                 "error": format!("GET {base}/models/deepseek/deepseek-v3.2/endpoints answered HTTP 429: Rate limit exceeded")},
                {"model": "mistralai/mistral-nemo",
                 "error": format!("GET {base}/models/mistralai/mistral-nemo/endpoints answered HTTP 404: No endpoints found for mistralai/mistral-nemo.")},
            ])
        );
        assert_eq!(
            hits(&server, "/api/v1/models/deepseek/deepseek-v3.2/endpoints"),
            2
        );
        assert_eq!(
            hits(&server, "/api/v1/models/google/gemini-2.5-flash/endpoints"),
            2
        );
        // The :free variant shares its base model's request.
        assert_eq!(
            hits(&server, "/api/v1/models/qwen/qwen3-coder/endpoints"),
            1
        );
        assert_eq!(hits(&server, "/api/v1/providers"), 1);

        // things and relationships.
        assert_eq!(
            count("SELECT count(*) FROM things WHERE ns = 'providers' AND type = 'Provider'"),
            7
        );
        assert_eq!(
            count("SELECT count(*) FROM things WHERE ns = 'endpoints' AND type = 'Endpoint'"),
            8
        );
        assert_eq!(
            count("SELECT count(*) FROM relationships WHERE type = 'serves'"),
            8
        );
        assert_eq!(
            count("SELECT count(*) FROM relationships WHERE type = 'endpoint-of'"),
            8
        );
        assert_eq!(
            text("SELECT concat_ws(' ', from_ns, from_id, to_ns, to_id) FROM relationships WHERE id = 'serves-qwen/qwen3-coder@alibaba'"),
            "providers alibaba models qwen/qwen3-coder"
        );
        assert_eq!(
            text("SELECT concat_ws(' ', from_ns, from_id, to_ns, to_id) FROM relationships WHERE id = 'endpoint-of-openai/gpt-oss-120b@deepinfra/bf16'"),
            "endpoints openai/gpt-oss-120b@deepinfra/bf16 models openai/gpt-oss-120b"
        );
        assert_eq!(
            text("SELECT (data->'pricing')::text FROM things WHERE ns = 'endpoints' AND id = 'openai/gpt-oss-120b@deepinfra/bf16'"),
            r#"{"image": 0, "prompt": 0.00000005, "request": 0, "completion": 0.00000045}"#
        );
        assert_eq!(
            text("SELECT content FROM things WHERE ns = 'endpoints' AND id = 'anthropic/claude-sonnet-4.5@google-vertex/global'"),
            "Google serving anthropic/claude-sonnet-4.5"
        );

        // The typed view, exact.
        assert_eq!(
            text("SELECT concat_ws('|', model_id, model_name, provider, provider_name, tag, status, quantization,
                                   prompt_price, completion_price, prompt_price_per_million, completion_price_per_million,
                                   request_price, context_length, coalesce(max_prompt_tokens::text, 'null'), max_completion_tokens,
                                   supports_implicit_caching, latency_p50_ms, latency_p90_ms, throughput_p50,
                                   uptime_last_5m, uptime_last_30m, uptime_last_1d, array_to_string(supported_parameters, ','))
                    FROM openrouter_endpoints WHERE id = 'openai/gpt-oss-120b@deepinfra/bf16'"),
            "openai/gpt-oss-120b|OpenAI: gpt-oss-120b|deepinfra|DeepInfra|deepinfra/bf16|0|bf16|0.00000005|0.00000045|0.05|0.45|0|131072|null|16384|f|412.5|780.25|95.4|100|99.52|99.871|max_tokens,temperature,tools,reasoning"
        );
        // Without metrics (no API key): nulls, not zeros.
        assert_eq!(
            text("SELECT concat_ws('|', status, quantization, context_length, coalesce(latency_p50_ms::text, 'null'),
                                   coalesce(throughput_p50::text, 'null'), coalesce(uptime_last_5m::text, 'null'), uptime_last_30m)
                    FROM openrouter_endpoints WHERE id = 'openai/gpt-oss-120b@cerebras'"),
            "-5|fp16|65536|null|null|null|97.25"
        );
        assert_eq!(
            text("SELECT concat_ws('|', input_cache_read_price, input_cache_write_price, image_price, coalesce(quantization, 'null'),
                                   supports_implicit_caching, latency_p90_ms, pricing->>'web_search')
                    FROM openrouter_endpoints WHERE id = 'anthropic/claude-sonnet-4.5@anthropic'"),
            "0.0000003|0.00000375|0.0048|null|t|2890|0.01"
        );
        // Every per-token price has its per-million twin; per image, per request, per search
        // have none.
        assert_eq!(
            text("SELECT concat_ws('|', input_cache_read_price_per_million, input_cache_write_price_per_million,
                                   prompt_price_per_million, completion_price_per_million, pricing_per_million)
                    FROM openrouter_endpoints WHERE id = 'anthropic/claude-sonnet-4.5@anthropic'"),
            r#"0.3|3.75|3|15|{"prompt": 3, "completion": 15, "input_cache_read": 0.3, "input_cache_write": 3.75}"#
        );
        assert_eq!(
            text("SELECT concat_ws('|', latency_p50_ms, coalesce(latency_p90_ms::text, 'null'), throughput_p50)
                    FROM openrouter_endpoints WHERE id = 'qwen/qwen3-coder@alibaba/opensource'"),
            "300.2|null|88"
        );
        assert_eq!(count("SELECT count(*) FROM openrouter_endpoints"), 8);
        assert_eq!(
            count("SELECT count(*) FROM openrouter_endpoints WHERE model_id = 'qwen/qwen3-coder'"),
            2
        );

        // Providers.
        assert_eq!(
            text("SELECT string_agg(concat_ws(':', id, name, is_listed, endpoint_count, model_count), ' ' ORDER BY id) FROM openrouter_providers"),
            "alibaba:Alibaba:f:1:1 anthropic:Anthropic:t:1:1 cerebras:Cerebras:t:1:1 deepinfra:DeepInfra:t:2:2 google-vertex:Google Vertex:t:2:2 groq:Groq:t:1:1 openai:OpenAI:t:0:0"
        );
        assert_eq!(
            text("SELECT concat_ws('|', headquarters, array_to_string(datacenters, ','), privacy_policy_url, terms_of_service_url, status_page_url)
                    FROM openrouter_providers WHERE id = 'groq'"),
            "US|US,CA,FI,SA|https://groq.com/privacy-policy/|https://groq.com/terms-of-use/|https://groqstatus.com/"
        );
        assert_eq!(text("SELECT coalesce(status_page_url, 'null') || '|' || cardinality(datacenters) FROM openrouter_providers WHERE id = 'deepinfra'"), "null|1");

        // Metric history: one row per endpoint.
        assert_eq!(count("SELECT count(*) FROM openrouter_endpoint_stats"), 8);
        assert_eq!(
            text("SELECT concat_ws('|', model_id, provider, status, latency_p50_ms, latency_p90_ms, throughput_p50, uptime_last_5m, uptime_last_30m, uptime_last_1d)
                    FROM openrouter_endpoint_stats WHERE endpoint_id = 'openai/gpt-oss-120b@groq'"),
            "openai/gpt-oss-120b|groq|0|180|320.5|512.3|100|100|99.99"
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_endpoint_stats WHERE latency_p50_ms IS NULL AND throughput_p50 IS NULL"),
            1
        );

        // Quality scores.
        assert_eq!(
            text("SELECT string_agg(concat_ws(':', id, intelligence_index, coding_index, coalesce(agentic_index::text, 'null'), design_arena_best_elo), ' ' ORDER BY id)
                    FROM openrouter_model_quality"),
            "anthropic/claude-sonnet-4.5:70.8:63.5:66.1:1348.2 google/gemini-2.5-flash:54.1:40.2:45.9:1210.0 openai/gpt-oss-120b:61.3:49.6:47.2:1261.8 qwen/qwen3-coder:45.2:44.0:null:1201.75"
        );

        // fastest_endpoints: by throughput, or by latency; a variant finds its base's endpoints.
        assert_eq!(
            text("SELECT string_agg(concat_ws(':', provider, coalesce(throughput_p50::text, '-'), coalesce(latency_p50_ms::text, '-')), ' ')
                    FROM fastest_endpoints('openai/gpt-oss-120b')"),
            "groq:512.3:180 deepinfra:95.4:412.5 cerebras:-:-"
        );
        assert_eq!(
            text("SELECT string_agg(endpoint_id, ' ') FROM fastest_endpoints('anthropic/claude-sonnet-4.5', order_by => 'latency')"),
            "anthropic/claude-sonnet-4.5@anthropic anthropic/claude-sonnet-4.5@google-vertex/global"
        );
        assert_eq!(
            text("SELECT string_agg(tag, ' ') FROM fastest_endpoints('qwen/qwen3-coder:free')"),
            "alibaba/opensource deepinfra/fp8"
        );
        assert_eq!(
            text("SELECT string_agg(tag, ' ') FROM fastest_endpoints('qwen/qwen3-coder', 'latency', 1)"),
            "alibaba/opensource"
        );
        assert_eq!(
            count("SELECT count(*) FROM fastest_endpoints('mistralai/mistral-nemo')"),
            0
        );
        let err = try_sql("SELECT * FROM fastest_endpoints('openai/gpt-oss-120b', 'cheapest')");
        assert_eq!(
            err,
            "22023: fastest_endpoints: order_by must be 'throughput' or 'latency', not 'cheapest'"
        );

        // best_value_models: intelligence per blended dollar (3:1), exact.
        assert_eq!(
            text("SELECT string_agg(concat_ws(':', id, blended_price_per_million, intelligence_per_dollar, best_endpoint, latency_p50_ms), ' ')
                    FROM best_value_models(100000)"),
            "openai/gpt-oss-120b:0.07675:798.70:openai/gpt-oss-120b@groq:180 \
             qwen/qwen3-coder:0.415:108.92:qwen/qwen3-coder@alibaba/opensource:300.2 \
             google/gemini-2.5-flash:0.85:63.65:google/gemini-2.5-flash@google-vertex:540 \
             anthropic/claude-sonnet-4.5:6:11.80:anthropic/claude-sonnet-4.5@anthropic:1650"
        );
        assert_eq!(
            text("SELECT string_agg(id, ' ') FROM best_value_models(200000)"),
            "qwen/qwen3-coder google/gemini-2.5-flash anthropic/claude-sonnet-4.5"
        );
        assert_eq!(
            text(
                "SELECT string_agg(id, ' ') FROM best_value_models(100000, max_latency_ms => 600)"
            ),
            "openai/gpt-oss-120b qwen/qwen3-coder google/gemini-2.5-flash"
        );
        assert_eq!(
            text("SELECT string_agg(id || '@' || best_endpoint, ' ') FROM best_value_models(100000, min_uptime => 99.96)"),
            "openai/gpt-oss-120b@openai/gpt-oss-120b@groq qwen/qwen3-coder@qwen/qwen3-coder@alibaba/opensource google/gemini-2.5-flash@google/gemini-2.5-flash@google-vertex"
        );
        assert_eq!(
            text("SELECT string_agg(id || ':' || coding_index || ':' || agentic_index, ' ') FROM best_value_models(100000, min_intelligence => 60)"),
            "openai/gpt-oss-120b:49.6:47.2 anthropic/claude-sonnet-4.5:63.5:66.1"
        );
        assert_eq!(
            text("SELECT string_agg(id, ' ') FROM best_value_models(100000, max_results => 1)"),
            "openai/gpt-oss-120b"
        );
        assert_other_sources_untouched(&others, "endpoints_sync_stores_what_the_api_says");
    }

    #[pg_test]
    fn resync_appends_history_keeps_removed_endpoints_and_retention() {
        let others = other_sources_write();
        let server = TestServer::openrouter(with_benchmarks(&fixture(NEW)), &[]);
        point_at(&server.models_url());
        json("SELECT openrouter_sync()");
        let s = json("SELECT openrouter_sync_endpoints(ARRAY['openai/gpt-oss-120b'])");
        assert_eq!(s["endpoints"], 3);
        assert_eq!(s["models_failed"], json!([]));
        run("INSERT INTO openrouter_endpoint_stats (observed_at, endpoint_id, model_id, provider, latency_p50_ms)
             VALUES (now() - interval '100 days', 'openai/gpt-oss-120b@groq', 'openai/gpt-oss-120b', 'groq', 200),
                    (now() - interval '80 days', 'openai/gpt-oss-120b@groq', 'openai/gpt-oss-120b', 'groq', 190)");
        let created = text("SELECT created_at::text FROM things WHERE ns = 'endpoints' AND id = 'openai/gpt-oss-120b@groq'");

        // Cerebras stops serving the model.
        let later = TestServer::openrouter(with_benchmarks(&fixture(NEW)), &["cerebras"]);
        point_at(&later.models_url());
        let s = json("SELECT openrouter_sync_endpoints(ARRAY['openai/gpt-oss-120b'])");
        assert_eq!(s["endpoints"], 2);
        assert_eq!(s["removed_endpoints"], 1);
        assert_eq!(s["stats_rows"], 2);
        assert_eq!(
            s["stats_deleted"], 1,
            "the 100-day-old row is past the 90-day retention"
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_endpoint_stats"),
            3 + 2 + 1
        );
        assert_eq!(count("SELECT count(*) FROM openrouter_endpoint_stats WHERE endpoint_id = 'openai/gpt-oss-120b@groq'"), 3);
        assert_eq!(
            count("SELECT count(*) FROM things WHERE ns = 'endpoints'"),
            3,
            "nothing is deleted"
        );
        assert_eq!(
            text("SELECT concat_ws('|', data->>'deprecated', data->>'deprecated_reason') FROM things WHERE ns = 'endpoints' AND id = 'openai/gpt-oss-120b@cerebras'"),
            "true|removed"
        );
        assert_eq!(
            text("SELECT string_agg(provider, ' ') FROM fastest_endpoints('openai/gpt-oss-120b')"),
            "groq deepinfra"
        );
        assert_eq!(
            text("SELECT created_at::text FROM things WHERE ns = 'endpoints' AND id = 'openai/gpt-oss-120b@groq'"),
            created
        );
        assert!(one::<bool>("SELECT updated_at > created_at FROM things WHERE ns = 'endpoints' AND id = 'openai/gpt-oss-120b@groq'"));

        // A shorter retention applies at the next run.
        run("SET openrouter.endpoint_stats_retention_days = 30");
        let s = json("SELECT openrouter_sync_endpoints(ARRAY['openai/gpt-oss-120b'])");
        assert_eq!(s["stats_deleted"], 1);
        assert_eq!(
            count("SELECT count(*) FROM openrouter_endpoint_stats"),
            3 + 2 + 2
        );

        // openrouter_sync(endpoints => true): every live model, one request per base id;
        // Cerebras is back.
        point_at(&server.models_url());
        let s = json("SELECT openrouter_sync(endpoints => true)");
        assert_eq!(s["models"], 346);
        let e = &s["endpoints"];
        let bases = count("SELECT count(DISTINCT split_part(id, ':', 1)) FROM openrouter_models");
        assert_eq!(e["models"], bases - 2);
        assert_eq!(e["endpoints"], 8);
        assert_eq!(e["removed_endpoints"], 0);
        assert_eq!(
            e["models_failed"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["model"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["deepseek/deepseek-v3.2", "mistralai/mistral-nemo"]
        );
        assert_eq!(count("SELECT count(*) FROM openrouter_endpoints"), 8);
        assert_eq!(text("SELECT coalesce(data->>'deprecated', 'live') FROM things WHERE ns = 'endpoints' AND id = 'openai/gpt-oss-120b@cerebras'"), "live");
        // Requests only went to live models.
        assert_eq!(
            count("SELECT count(*) FROM openrouter_models_all WHERE is_deprecated"),
            10
        );
        assert_eq!(
            hits(&server, "/api/v1/models/openai/gpt-oss-120b/endpoints"),
            2
        );
        assert_other_sources_untouched(
            &others,
            "resync_appends_history_keeps_removed_endpoints_and_retention",
        );
    }

    #[pg_test]
    fn endpoints_settings_rights_and_faults() {
        assert_eq!(
            text("SELECT string_agg(name || '=' || setting || ':' || context, ' ' ORDER BY name) FROM pg_settings
                   WHERE name IN ('openrouter.endpoints_concurrency', 'openrouter.endpoint_stats_retention_days')"),
            "openrouter.endpoint_stats_retention_days=90:superuser openrouter.endpoints_concurrency=4:superuser"
        );
        run("CREATE ROLE or_endpoints_reader NOLOGIN");
        assert!(!one::<bool>("SELECT has_function_privilege('or_endpoints_reader', 'openrouter_sync_endpoints(text[])', 'EXECUTE')"));
        assert!(one::<bool>("SELECT has_function_privilege('openrouter_admin', 'openrouter_sync_endpoints(text[])', 'EXECUTE')"));
        assert!(!one::<bool>("SELECT has_function_privilege('or_endpoints_reader', 'openrouter_sync(boolean, boolean)', 'EXECUTE')"));
        assert!(one::<bool>("SELECT has_function_privilege('or_endpoints_reader', 'fastest_endpoints(text, text, integer)', 'EXECUTE')"));
        assert!(one::<bool>(
            "SELECT has_table_privilege('or_endpoints_reader', 'openrouter_endpoints', 'SELECT')"
        ));
        assert!(one::<bool>(
            "SELECT has_table_privilege('openrouter_admin', 'openrouter_endpoint_stats', 'DELETE')"
        ));
        // Every new object is commented.
        assert_eq!(
            count("SELECT count(*) FROM pg_proc WHERE proname IN ('openrouter_sync_endpoints', 'fastest_endpoints', 'best_value_models', 'openrouter_number')
                    AND obj_description(oid, 'pg_proc') IS NULL"),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM pg_class WHERE relname IN ('openrouter_endpoints', 'openrouter_providers', 'openrouter_model_quality', 'openrouter_endpoint_stats')
                    AND obj_description(oid, 'pg_class') IS NOT NULL"),
            4
        );

        let server = TestServer::openrouter(with_benchmarks(&fixture(NEW)), &[]);
        point_at(&server.models_url());
        json("SELECT openrouter_sync()");
        // Nothing answers: every model and the providers list fail, so the run fails (a run
        // that read nothing would make stale metrics look fresh); nothing is written.
        run("SET openrouter.api_url = 'http://127.0.0.1:9/api/v1/models'");
        let failure = try_sql("SELECT openrouter_sync_endpoints(ARRAY['openai/gpt-oss-120b'])");
        assert!(
            failure.starts_with("58000: openrouter: the endpoints sync read nothing from http://127.0.0.1:9/api/v1: every one of its 2 requests failed (the first: could not connect to http://127.0.0.1:9/api/v1/models/openai/gpt-oss-120b/endpoints"),
            "{failure}"
        );
        assert_eq!(
            count("SELECT count(*) FROM things WHERE ns IN ('endpoints', 'providers')"),
            0
        );
        assert_eq!(count("SELECT count(*) FROM openrouter_endpoint_stats"), 0);
        assert_eq!(
            count("SELECT count(*) FROM openrouter_sync_runs WHERE dataset <> 'models'"),
            0
        );
        // A URL that is not http(s) is an error, before any request.
        run("SET openrouter.api_url = 'file:///etc/passwd'");
        assert_eq!(
            try_sql("SELECT openrouter_sync_endpoints()"),
            "22023: openrouter: openrouter.api_url \"file:///etc/passwd\" is not usable: only http:// and https:// URLs are allowed"
        );
    }
}
