//! Postgres tests: everything through SPI, as a user would, against a loopback server
//! started by the test itself (127.0.0.1, ephemeral port).

#[pgrx::pg_schema]
mod tests {
    use crate::testkit::{fixture, Reply, TestServer, NEW, OLD};
    use pgrx::prelude::*;
    use serde_json::Value;

    fn one<T: pgrx::FromDatum + pgrx::IntoDatum>(sql: &str) -> T {
        Spi::get_one::<T>(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("{sql}: NULL"))
    }

    fn run(sql: &str) {
        Spi::run(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    fn point_at(url: &str) {
        run(&format!("SET openrouter.api_url = '{url}'"));
        run("SET openrouter.max_retries = 0");
        run("SET client_min_messages = warning");
    }

    fn sync() -> Value {
        one::<pgrx::JsonB>("SELECT openrouter_sync()").0
    }

    fn sync_forced() -> Value {
        one::<pgrx::JsonB>("SELECT openrouter_sync(force => true)").0
    }

    /// Everything stored, timestamps included: equal fingerprints mean nothing changed.
    fn fingerprint() -> String {
        one::<String>(
            "SELECT concat_ws(' ',
               (SELECT count(*) || ':' || coalesce(md5(string_agg(concat_ws('|', ns, id, type, data::text, content, created_at, updated_at), E'\\n' ORDER BY ns, id)), '') FROM things),
               (SELECT count(*) || ':' || coalesce(md5(string_agg(concat_ws('|', ns, id, type, from_id, to_id, created_at), E'\\n' ORDER BY ns, id)), '') FROM relationships),
               (SELECT count(*) FROM openrouter_price_history), (SELECT count(*) FROM openrouter_sync_runs),
               (SELECT count(*) FROM openrouter_change_log))",
        )
    }

    /// Runs a sync in a subtransaction and returns its error as 'SQLSTATE: message', or None.
    fn sync_error() -> Option<String> {
        run(
            "CREATE OR REPLACE FUNCTION pg_temp.try_sync() RETURNS text LANGUAGE plpgsql AS $$
             BEGIN PERFORM openrouter_sync(); RETURN NULL;
             EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$",
        );
        Spi::get_one::<String>("SELECT pg_temp.try_sync()").unwrap()
    }

    fn count(sql: &str) -> i64 {
        one::<i64>(sql)
    }

    #[pg_test]
    fn sync_stores_the_2026_registry() {
        let server = TestServer::registry(fixture(NEW), None);
        point_at(&server.models_url());
        let s = sync();
        assert_eq!(s["models"], 346);
        assert_eq!(s["labs"], 57);
        assert_eq!(s["inserted"], 346);
        assert_eq!(s["updated"], 0);
        assert_eq!(s["pages"], 1);
        assert_eq!(s["source"], server.models_url());
        assert!(s["duration_ms"].as_f64().unwrap() > 0.0);

        // The seed's queries run unchanged.
        assert_eq!(
            count("SELECT COUNT(*) FROM things WHERE ns='models' AND type='Model'"),
            346
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM things WHERE ns='labs' AND type='Lab'"),
            57
        );
        assert_eq!(
            count("SELECT COUNT(*) FROM relationships WHERE type = 'provider'"),
            346
        );
        let top = one::<String>(
            "SELECT string_agg(id, ',') FROM (SELECT id, data->>'name', (data->'pricing'->>'prompt')::float,
                    (data->>'context_length')::int FROM things WHERE ns='models' AND type='Model'
                    AND (data->>'context_length')::int > 100000 ORDER BY 3 LIMIT 10) q",
        );
        assert_eq!(top.split(',').count(), 10);
        assert!(one::<bool>(
            "SELECT MAX(updated_at) > now() - interval '1 minute' FROM things WHERE ns = 'models'"
        ));

        // Exact numerics, never through float.
        assert_eq!(
            one::<String>("SELECT (data->'pricing'->'input_cache_write')::text FROM things WHERE ns='models' AND id='google/gemini-3.1-flash-lite-preview'"),
            "0.00000008333333333333334"
        );
        assert_eq!(
            one::<String>("SELECT jsonb_typeof(data->'pricing'->'prompt') FROM things WHERE ns='models' AND id='anthropic/claude-opus-4'"),
            "number"
        );
        assert!(one::<bool>("SELECT (data->'pricing'->>'prompt')::numeric = 0.000015 FROM things WHERE ns='models' AND id='anthropic/claude-opus-4'"));
        // "-1" is null plus a flag.
        assert!(one::<bool>("SELECT data->'pricing'->'prompt' = 'null'::jsonb AND (data->>'variable_price')::boolean FROM things WHERE ns='models' AND id='openrouter/auto'"));
        assert_eq!(count("SELECT count(*) FROM things WHERE ns='models' AND (data->'pricing'->>'prompt')::numeric < 0"), 0);
        // Labs and edges.
        assert_eq!(
            one::<String>("SELECT data->>'name' FROM things WHERE ns='labs' AND id='x-ai'"),
            "xAI"
        );
        assert_eq!(
            one::<String>(
                "SELECT from_id FROM relationships WHERE id = 'provider-mistralai/devstral-small'"
            ),
            "mistralai"
        );
        // One run recorded, one open price period per model.
        assert_eq!(count("SELECT count(*) FROM openrouter_sync_runs"), 1);
        assert_eq!(
            count("SELECT count(*) FROM openrouter_price_history WHERE valid_to IS NULL"),
            346
        );
    }

    #[pg_test]
    fn paginated_and_single_page_store_the_same() {
        let single = TestServer::registry(fixture(NEW), None);
        point_at(&single.models_url());
        sync();
        let content = "SELECT md5(string_agg(concat_ws('|', ns, id, type, data::text, content), E'\\n' ORDER BY ns, id)) FROM things";
        let one_page = one::<String>(content);
        run("TRUNCATE things, relationships, openrouter_price_history, openrouter_change_log, openrouter_sync_runs");

        let paged = TestServer::registry(fixture(NEW), Some(50));
        point_at(&paged.models_url());
        let s = sync();
        assert_eq!(s["pages"], 7);
        assert_eq!(s["models"], 346);
        assert_eq!(paged.hits(), 7);
        assert_eq!(one::<String>(content), one_page);
    }

    #[pg_test]
    fn resync_is_idempotent() {
        let server = TestServer::registry(fixture(NEW), None);
        point_at(&server.models_url());
        sync();
        let data = "SELECT md5(string_agg(concat_ws('|', ns, id, type, data::text, content, created_at), E'\\n' ORDER BY ns, id)) FROM things";
        let before = one::<String>(data);
        let s = sync();
        assert_eq!(s["inserted"], 0);
        assert_eq!(s["updated"], 0);
        assert_eq!(s["added"], 0);
        assert_eq!(s["removed"], 0);
        assert_eq!(s["repriced"], 0);
        assert_eq!(
            s["unchanged"],
            346 - 10,
            "the ten expired models are deprecated, not unchanged"
        );
        assert_eq!(one::<String>(data), before);
        assert_eq!(count("SELECT count(*) FROM openrouter_price_history"), 346);
        assert_eq!(count("SELECT count(*) FROM openrouter_sync_runs"), 2);
        // updated_at moved: the second sync confirmed every row.
        assert!(one::<bool>(
            "SELECT bool_and(updated_at > created_at) FROM things WHERE ns = 'models'"
        ));
    }

    #[pg_test]
    fn older_then_newer_registry() {
        let old = TestServer::registry(fixture(OLD), None);
        point_at(&old.models_url());
        assert_eq!(sync()["models"], 321);

        let new = TestServer::registry(fixture(NEW), None);
        point_at(&new.models_url());
        let before = fingerprint();
        let refused = sync_error().expect("the guard refuses");
        assert!(
            refused.starts_with(
                "55000: openrouter: this sync would mark 172 of 321 live models as removed"
            ),
            "{refused}"
        );
        assert_eq!(fingerprint(), before, "a refused sync changes nothing");

        let s = sync_forced();
        assert_eq!(s["added"], 197);
        assert_eq!(s["removed"], 172);
        assert_eq!(s["repriced"], 63);
        assert_eq!(
            count("SELECT count(*) FROM things WHERE ns='models'"),
            321 + 197
        );
        assert_eq!(count("SELECT count(*) FROM things WHERE ns='models' AND data->>'deprecated_reason' = 'removed'"), 172);

        // The 346 listed models carry the newer file's prices.
        let newer: Value = serde_json::from_str(&fixture(NEW)).unwrap();
        for m in newer["data"].as_array().unwrap() {
            let id = m["id"].as_str().unwrap();
            let prompt = m["pricing"]["prompt"].as_str().unwrap();
            if prompt == "-1" {
                continue;
            }
            let same = Spi::get_one_with_args::<bool>(
                "SELECT (data->'pricing'->>'prompt')::numeric = $2::numeric FROM things WHERE ns='models' AND id=$1",
                &[id.into(), prompt.into()],
            )
            .unwrap();
            assert_eq!(same, Some(true), "{id}");
        }
        // A repriced model has two price periods, the first closed when the second opened.
        let devstral = "SELECT count(*) FROM openrouter_price_history WHERE model_id = 'mistralai/devstral-small'";
        assert_eq!(count(devstral), 2);
        assert!(one::<bool>(
            "SELECT (array_agg(valid_to ORDER BY valid_from))[1] = (array_agg(valid_from ORDER BY valid_from))[2]
                AND (array_agg(prompt_price ORDER BY valid_from)) = '{0.00000007,0.0000001}'::numeric[]
               FROM openrouter_price_history WHERE model_id = 'mistralai/devstral-small'"
        ));
    }

    #[pg_test]
    fn offline_sync_from_json() {
        let path = crate::testkit::fixture_dir().join(NEW);
        let s = Spi::get_one_with_args::<pgrx::JsonB>(
            "SELECT openrouter_sync_from_json(pg_read_file($1)::jsonb)",
            &[path.to_string_lossy().as_ref().into()],
        )
        .unwrap()
        .unwrap()
        .0;
        assert_eq!(s["models"], 346);
        assert_eq!(s["source"], "openrouter_sync_from_json");
        assert_eq!(count("SELECT count(*) FROM things WHERE ns='models'"), 346);
    }

    /// Every failure: a clear ERROR naming the URL, and the tables exactly as they were.
    #[pg_test]
    fn errors_leave_the_tables_unchanged() {
        let good = TestServer::registry(fixture(OLD), None);
        point_at(&good.models_url());
        sync();
        let before = fingerprint();

        let cases: Vec<(&str, Reply, &str)> = vec![
            ("500", Reply::json(500, "oops"), "58000: openrouter: GET {url} answered HTTP 500: oops"),
            (
                "401",
                Reply::json(401, r#"{"error":{"code":401,"message":"No auth credentials found"}}"#),
                "58000: openrouter: GET {url} answered HTTP 401: No auth credentials found",
            ),
            ("html", Reply::json(200, "<html>Bad gateway</html>"), "22000: openrouter: the response of GET {url} is not JSON"),
            ("no data", Reply::json(200, r#"{"models":[]}"#), "22000: openrouter: the response of GET {url} is not a model list (no \"data\" key"),
            ("data object", Reply::json(200, r#"{"data":{"id":"a/b"}}"#), "22000: openrouter: the response of GET {url} is not a model list (\"data\" is an object"),
            ("no id", Reply::json(200, r#"{"data":[{"id":"a/b","pricing":{"prompt":"0","completion":"0"}},{"name":"x"}]}"#), "22000: openrouter: the response of GET {url} is unusable: model #1 in the response has no \"id\""),
            ("empty", Reply::json(200, r#"{"data":[]}"#), "55000: openrouter: the response of GET {url} holds no models"),
            ("truncated", Reply::Truncate { body: fixture(NEW).into_bytes(), sent: 1000 }, "08000: openrouter: GET {url} failed"),
        ];
        for (label, reply, expected) in cases {
            let server = TestServer::start(move |_, _| reply.clone());
            point_at(&server.models_url());
            let err = sync_error().unwrap_or_else(|| panic!("{label}: no error"));
            let expected = expected.replace("{url}", &server.models_url());
            assert!(
                err.starts_with(&expected),
                "{label}: {err}\n  expected: {expected}"
            );
            assert_eq!(fingerprint(), before, "{label}: tables changed");
        }

        // Connection refused: a port nobody listens on (bound, then released).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        point_at(&format!("http://127.0.0.1:{port}/api/v1/models"));
        let err = sync_error().unwrap();
        assert!(
            err.starts_with(&format!(
                "08000: openrouter: could not connect to http://127.0.0.1:{port}/api/v1/models"
            )),
            "{err}"
        );

        // A server that accepts and never answers: the timeout fires.
        let hang = TestServer::start(|_, _| Reply::Hang);
        point_at(&hang.models_url());
        run("SET openrouter.timeout_ms = 500");
        let t = std::time::Instant::now();
        let err = sync_error().unwrap();
        assert!(
            err.starts_with(&format!(
                "08000: openrouter: GET {} timed out after 500 ms",
                hang.models_url()
            )),
            "{err}"
        );
        assert!(t.elapsed() < std::time::Duration::from_secs(5));

        // The key never appears in messages.
        run("SET openrouter.api_key = 'sk-or-v1-secret-test-key'");
        let unauthorized =
            TestServer::start(|_, _| Reply::json(403, r#"{"error":{"message":"Forbidden"}}"#));
        point_at(&unauthorized.models_url());
        let err = sync_error().unwrap();
        assert!(
            err.contains("HTTP 403: Forbidden") && !err.contains("sk-or-v1"),
            "{err}"
        );

        // Only http(s).
        run("SET openrouter.api_url = 'file:///etc/passwd'");
        let err = sync_error().unwrap();
        assert!(
            err.starts_with(
                "22023: openrouter: openrouter.api_url \"file:///etc/passwd\" is not usable"
            ),
            "{err}"
        );
        assert_eq!(fingerprint(), before);
    }

    /// A decimal string as an integer number of 1e-30 USD: exact ordering without floats.
    fn scaled(d: &str) -> u128 {
        let (i, f) = d.split_once('.').unwrap_or((d, ""));
        let f = format!("{f:0<30}");
        i.parse::<u128>().unwrap() * 10u128.pow(30) + f[..30].parse::<u128>().unwrap()
    }

    /// The top of cheapest_models computed from the fixture file alone.
    fn expected_cheapest(
        file: &str,
        min_context: i64,
        n: usize,
        exclude_free: bool,
    ) -> Vec<String> {
        let doc: Value = serde_json::from_str(&fixture(file)).unwrap();
        let today = chrono::Utc::now().date_naive().to_string();
        let mut rows: Vec<(u128, u128, String)> = doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["context_length"].as_i64().unwrap_or(0) > min_context)
            .filter(|m| m["pricing"]["prompt"] != "-1" && m["pricing"]["completion"] != "-1")
            .filter(|m| {
                m["expiration_date"]
                    .as_str()
                    .is_none_or(|d| d >= today.as_str())
            })
            .map(|m| {
                (
                    scaled(m["pricing"]["prompt"].as_str().unwrap()),
                    scaled(m["pricing"]["completion"].as_str().unwrap()),
                    m["id"].as_str().unwrap().to_string(),
                )
            })
            .filter(|(p, c, _)| !(exclude_free && *p == 0 && *c == 0))
            .collect();
        rows.sort();
        rows.into_iter().take(n).map(|r| r.2).collect()
    }

    fn ids(sql: &str) -> Vec<String> {
        Spi::connect(|c| {
            c.select(sql, None, &[])
                .unwrap()
                .map(|r| r.get::<String>(1).unwrap().unwrap())
                .collect()
        })
    }

    #[pg_test]
    fn cheapest_models_matches_the_file() {
        let server = TestServer::registry(fixture(NEW), None);
        point_at(&server.models_url());
        sync();
        let expected = expected_cheapest(NEW, 100_000, 10, false);
        assert_eq!(expected.len(), 10);
        assert_eq!(ids("SELECT id FROM cheapest_models(100000)"), expected);
        assert_eq!(
            ids("SELECT id FROM cheapest_models(100000, max_results => 25)"),
            expected_cheapest(NEW, 100_000, 25, false)
        );
        assert_eq!(
            ids("SELECT id FROM cheapest_models(100000, max_results => 10, exclude_free => true)"),
            expected_cheapest(NEW, 100_000, 10, true)
        );
        // Variable-price routers never appear, whatever the limit.
        assert_eq!(count("SELECT count(*) FROM cheapest_models(0, 100000) WHERE id IN ('openrouter/auto', 'openrouter/bodybuilder')"), 0);
        assert_eq!(count("SELECT count(*) FROM cheapest_models(0, 100000) c JOIN openrouter_models m USING (id) WHERE m.is_variable_price"), 0);
        // Context is "more than": a model with exactly the threshold is out.
        let exact = one::<i32>("SELECT (data->>'context_length')::int FROM things WHERE ns='models' AND id='anthropic/claude-opus-4'");
        assert_eq!(count(&format!("SELECT count(*) FROM cheapest_models({exact}, 100000) WHERE id = 'anthropic/claude-opus-4'")), 0);
        assert_eq!(count(&format!("SELECT count(*) FROM cheapest_models({}, 100000) WHERE id = 'anthropic/claude-opus-4'", exact - 1)), 1);
        // Per-million columns are exact multiples.
        assert!(one::<bool>(
            "SELECT bool_and(prompt_price_per_million = prompt_price * 1000000
                         AND completion_price_per_million = completion_price * 1000000)
               FROM cheapest_models(0, 100000)"
        ));
        assert_eq!(
            one::<pgrx::AnyNumeric>("SELECT prompt_price_per_million FROM cheapest_models(0, 100000) WHERE id = 'anthropic/claude-opus-4'")
                .to_string(),
            "15"
        );
        // Filters: feature and modality.
        assert!(one::<bool>("SELECT bool_and(id IN (SELECT id FROM openrouter_models WHERE supports_tools)) FROM cheapest_models(0, 1000, feature => 'function_calling')"));
        assert!(one::<bool>("SELECT bool_and('image' = ANY(input_modalities || output_modalities)) FROM openrouter_models WHERE id IN (SELECT id FROM cheapest_models(0, 1000, modality => 'image'))"));
    }

    #[pg_test]
    fn typed_views() {
        let server = TestServer::registry(fixture(NEW), None);
        point_at(&server.models_url());
        sync();
        let doc: Value = serde_json::from_str(&fixture(NEW)).unwrap();
        let today = chrono::Utc::now().date_naive().to_string();
        let live = doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| {
                m["expiration_date"]
                    .as_str()
                    .is_none_or(|d| d >= today.as_str())
            })
            .count() as i64;
        assert_eq!(count("SELECT count(*) FROM openrouter_models"), live);
        assert_eq!(count("SELECT count(*) FROM openrouter_models_all"), 346);
        assert_eq!(
            one::<String>("SELECT input_cache_write_price::text FROM openrouter_models_all WHERE id = 'google/gemini-3.1-flash-lite-preview'"),
            "0.00000008333333333333334"
        );
        assert_eq!(
            one::<String>("SELECT pg_typeof(prompt_price)::text FROM openrouter_models LIMIT 1"),
            "numeric"
        );
        assert_eq!(
            one::<String>("SELECT pg_typeof(context_length)::text FROM openrouter_models LIMIT 1"),
            "integer"
        );
        assert_eq!(
            one::<String>(
                "SELECT pg_typeof(input_modalities)::text FROM openrouter_models LIMIT 1"
            ),
            "text[]"
        );
        assert!(one::<bool>("SELECT is_variable_price AND prompt_price IS NULL FROM openrouter_models WHERE id = 'openrouter/auto'"));
        // Capability filters agree with the raw supported_parameters and modalities.
        let tools_and_images = doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| {
                m["expiration_date"]
                    .as_str()
                    .is_none_or(|d| d >= today.as_str())
            })
            .filter(|m| {
                m["supported_parameters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p == "tools")
            })
            .filter(|m| {
                m["architecture"]["input_modalities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|p| p == "image")
            })
            .count() as i64;
        assert_eq!(count("SELECT count(*) FROM openrouter_models WHERE supports_tools AND 'image' = ANY(input_modalities)"), tools_and_images);
        let free = doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["id"].as_str().unwrap().ends_with(":free"))
            .count() as i64;
        assert_eq!(
            count("SELECT count(*) FROM openrouter_models_all WHERE variant = 'free'"),
            free
        );
        assert!(one::<bool>(
            "SELECT bool_and(is_free) FROM openrouter_models_all WHERE variant = 'free'"
        ));
        assert_eq!(
            one::<String>("SELECT lab_name FROM openrouter_models WHERE id = 'x-ai/grok-4'"),
            "xAI"
        );
        assert_eq!(
            one::<String>(
                "SELECT released::text FROM openrouter_models WHERE id = 'anthropic/claude-opus-4'"
            ),
            "2025-05-22"
        );
        assert_eq!(one::<String>("SELECT expiration_date::text FROM openrouter_models_all WHERE id = 'google/gemini-2.0-flash-001'"), "2026-03-31");
        // Labs.
        assert_eq!(count("SELECT count(*) FROM openrouter_labs"), 57);
        assert_eq!(one::<String>("SELECT name || ' ' || founded || ' ' || website FROM openrouter_labs WHERE id = 'mistralai'"), "Mistral 2023 https://mistral.ai");
    }

    /// Hand-made payload: a plain price, a discount, and a long-context override.
    const COST_PAYLOAD: &str = r#"{"data":[
      {"id":"acme/plain","name":"Acme: Plain","context_length":128000,
       "pricing":{"prompt":"0.000003","completion":"0.000015","input_cache_read":"0.0000003","input_cache_write":"0.00000375"}},
      {"id":"acme/discounted","name":"Acme: Discounted","context_length":128000,
       "pricing":{"prompt":"0.000002","completion":"0.000008","discount":0.25}},
      {"id":"acme/long","name":"Acme: Long","context_length":1000000,
       "pricing":{"prompt":"0.000003","completion":"0.000015",
                  "overrides":[{"min_prompt_tokens":200000,"prompt":"0.000006","completion":"0.0000225"}]}},
      {"id":"acme/router","name":"Acme: Router","context_length":1000000,"pricing":{"prompt":"-1","completion":"-1"}}
    ]}"#;

    fn cost(sql: &str) -> String {
        one::<pgrx::AnyNumeric>(sql).normalize().to_string()
    }

    #[pg_test]
    fn model_cost_applies_what_the_api_says() {
        Spi::run_with_args(
            "SELECT openrouter_sync_from_text($1)",
            &[COST_PAYLOAD.into()],
        )
        .unwrap();
        // 250,000 x 0.000003 + 2,000 x 0.000015 = 0.75 + 0.03
        assert_eq!(cost("SELECT model_cost('acme/plain', prompt_tokens => 250000, completion_tokens => 2000)"), "0.78");
        // Cached: 50,000 at 0.0000003, 200,000 at 0.000003, 2,000 at 0.000015
        assert_eq!(
            cost("SELECT model_cost('acme/plain', 250000, 2000, cached_prompt_tokens => 50000)"),
            "0.645"
        );
        // Discount 25% of (1,000,000 x 0.000002 + 100,000 x 0.000008) = 0.75 x 2.8
        assert_eq!(
            cost("SELECT model_cost('acme/discounted', 1000000, 100000)"),
            "2.1"
        );
        // Override: exactly 200,000 is not above the threshold; 200,001 is.
        assert_eq!(
            cost("SELECT model_cost('acme/long', 200000, 1000)"),
            "0.615"
        );
        assert_eq!(
            cost("SELECT model_cost('acme/long', 200001, 1000)"),
            "1.222506"
        );
        // Errors.
        run("CREATE OR REPLACE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
             BEGIN EXECUTE q; RETURN NULL; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$");
        assert_eq!(
            one::<String>("SELECT pg_temp.err('SELECT model_cost(''acme/nope'', 1, 1)')"),
            "P0002: model_cost: unknown model acme/nope"
        );
        assert_eq!(
            one::<String>("SELECT pg_temp.err('SELECT model_cost(''acme/router'', 1, 1)')"),
            "22023: model_cost: acme/router has a variable price (decided by the router per request)"
        );
    }

    fn err(sql: &str) -> String {
        run("CREATE OR REPLACE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
             BEGIN EXECUTE q; RETURN NULL; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$");
        Spi::get_one_with_args::<String>("SELECT pg_temp.err($1)", &[sql.into()])
            .unwrap()
            .unwrap_or_default()
    }

    #[pg_test]
    fn schedule_without_pg_cron_says_how_to_enable_it() {
        let e = err("SELECT openrouter_schedule()");
        assert_eq!(e, "55000: openrouter_schedule: the pg_cron extension is not created in this database: run CREATE EXTENSION pg_cron");
        // The hint names every step.
        run("CREATE OR REPLACE FUNCTION pg_temp.hint() RETURNS text LANGUAGE plpgsql AS $$
             DECLARE h text; BEGIN PERFORM openrouter_schedule(); RETURN NULL;
             EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT; RETURN h; END $$");
        let hint = one::<String>("SELECT pg_temp.hint()");
        for needle in [
            "shared_preload_libraries",
            "cron.database_name",
            "CREATE EXTENSION pg_cron",
        ] {
            assert!(hint.contains(needle), "{hint}");
        }
    }

    #[pg_test]
    fn schedule_reschedule_unschedule() {
        run("CREATE EXTENSION IF NOT EXISTS pg_cron");
        let job = one::<i64>("SELECT openrouter_schedule()");
        assert_eq!(
            one::<String>("SELECT schedule || ' | ' || command || ' | ' || database FROM cron.job WHERE jobname = 'openrouter-sync'"),
            "0 2 * * * | SELECT public.openrouter_sync() | pgrx_tests"
        );
        let again = one::<i64>("SELECT openrouter_schedule('30 3 * * *')");
        assert_eq!(again, job, "rescheduling replaces the job");
        assert_eq!(
            count("SELECT count(*) FROM cron.job WHERE command LIKE '%openrouter_sync%'"),
            1
        );
        assert_eq!(
            one::<String>(&format!(
                "SELECT schedule FROM cron.job WHERE jobid = {job}"
            )),
            "30 3 * * *"
        );
        let health_schedule =
            one::<String>("SELECT schedule || ' ' || job_name FROM openrouter_health()");
        assert_eq!(health_schedule, "30 3 * * * openrouter-sync");
        assert!(one::<bool>("SELECT openrouter_unschedule()"));
        assert_eq!(
            count("SELECT count(*) FROM cron.job WHERE command LIKE '%openrouter_sync%'"),
            0
        );
        assert!(!one::<bool>("SELECT openrouter_unschedule()"));
        assert!(err("SELECT openrouter_schedule('every full moon')").contains("invalid schedule"));
    }

    #[pg_test]
    fn staleness_and_health() {
        // Never synced: stale, and the health row says so without erroring.
        assert!(one::<bool>("SELECT openrouter_is_stale()"));
        assert_eq!(
            one::<String>("SELECT status FROM openrouter_health()"),
            "never synced"
        );
        assert!(Spi::get_one::<pgrx::datum::TimestampWithTimeZone>(
            "SELECT openrouter_last_sync()"
        )
        .unwrap()
        .is_none());

        let server = TestServer::registry(fixture(NEW), None);
        point_at(&server.models_url());
        sync();
        assert!(!one::<bool>("SELECT openrouter_is_stale()"));
        assert_eq!(
            one::<String>("SELECT status FROM openrouter_health()"),
            "ok"
        );
        assert!(one::<bool>("SELECT live_models = 336 AND deprecated_models = 10 AND labs = 57 AND NOT is_stale FROM openrouter_health()"));
        // The seed's check agrees with ours.
        assert!(one::<bool>("SELECT openrouter_last_sync() - MAX(updated_at) BETWEEN '0' AND '5 seconds' FROM things WHERE ns = 'models'"));

        // Move the recorded times back instead of sleeping.
        run("UPDATE openrouter_sync_runs SET started_at = started_at - interval '26 hours', finished_at = finished_at - interval '26 hours'");
        run("UPDATE things SET updated_at = updated_at - interval '26 hours'");
        assert!(one::<bool>("SELECT openrouter_is_stale()"));
        assert!(!one::<bool>("SELECT openrouter_is_stale('2 days')"));
        assert!(one::<bool>(
            "SELECT MAX(updated_at) < now() - interval '25 hours' FROM things WHERE ns = 'models'"
        ));
        assert!(one::<bool>("SELECT status = 'stale' AND is_stale AND hours_since_success >= 26 FROM openrouter_health()"));

        // The history row of the run.
        assert!(one::<bool>(
            "SELECT models = 346 AND labs = 57 AND inserted = 346 AND updated = 0 AND pages = 1 AND requests = 1
                    AND source LIKE 'http://127.0.0.1:%/api/v1/models' AND duration_ms > 0 AND finished_at >= started_at
               FROM openrouter_sync_runs"
        ));
    }
}
