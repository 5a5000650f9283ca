//! Postgres tests: everything through SPI, as a user would, against a loopback server
//! started by the test itself (127.0.0.1, ephemeral port).

#[pgrx::pg_schema]
mod tests {
    use crate::testkit::{fixture, Reply, TestServer, NEW, OLD};
    use pgrx::prelude::*;
    use serde_json::Value;

    use crate::testkit::sql::{count, empty, one, run};

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
        empty(&[
            "things",
            "relationships",
            "openrouter_price_history",
            "openrouter_change_log",
            "openrouter_sync_runs",
        ]);

        let paged = TestServer::registry(fixture(NEW), Some(50));
        point_at(&paged.models_url());
        let s = sync();
        assert_eq!(s["pages"], 7);
        assert_eq!(s["models"], 346);
        assert_eq!(paged.hits(), 7);
        assert_eq!(one::<String>(content), one_page);
    }

    #[pg_test]
    fn a_first_load_beside_kept_edges_and_prices_adds_no_duplicates() {
        // things and the state emptied, edges and price periods kept: the sync loads the
        // registry as a first load (streamed), but must not insert an edge or open a period
        // twice: the anti-joins stay whenever those tables have any page. (Into tables with
        // no pages at all they are left out: tests/integration, first sync of a new
        // database. Not here: TRUNCATE in a test deadlocks with the tests running beside it.)
        let server = TestServer::registry(fixture(NEW), None);
        point_at(&server.models_url());
        sync();
        let periods = "SELECT count(*) FROM openrouter_price_history";
        assert_eq!(count(periods), 346);
        run("DELETE FROM things");
        run("DELETE FROM openrouter_model_state");
        let s = sync_forced();
        assert_eq!(s["models"], 346);
        assert_eq!(s["inserted"], 346);
        assert_eq!(
            count("SELECT count(*) FROM things WHERE ns = 'models'"),
            346
        );
        assert_eq!(count("SELECT count(*) FROM relationships"), 346);
        assert_eq!(count(periods), 346);
        assert_eq!(
            count("SELECT count(DISTINCT valid_from) FROM openrouter_price_history"),
            1
        );
    }

    /// Models stored without a state row (by another tool, or before an upgrade) beside
    /// tracked ones: listed ones are rewritten as existing rows (no duplicate insert), an
    /// unlisted one is marked removed, and every listed model is tracked afterwards.
    #[pg_test]
    fn models_stored_without_state_are_taken_over() {
        let server = TestServer::registry(fixture(NEW), None);
        point_at(&server.models_url());
        sync();
        let ids = one::<String>(
            "SELECT string_agg(quote_literal(model_id), ',' ORDER BY model_id)
               FROM (SELECT model_id FROM openrouter_model_state WHERE NOT deprecated
                      ORDER BY model_id LIMIT 3) s",
        );
        run(&format!(
            "DELETE FROM openrouter_model_state WHERE model_id IN ({ids})"
        ));
        run("INSERT INTO things (ns, id, type, data, content)
             VALUES ('models', 'othertool/kept-model', 'Model',
                     '{\"id\": \"othertool/kept-model\", \"name\": \"Kept\"}', 'written by another tool')");
        let s = sync_forced();
        assert_eq!(s["inserted"], 0, "{s}");
        assert_eq!(s["updated"], 3, "{s}");
        assert_eq!(s["removed"], 1, "{s}");
        assert_eq!(
            one::<String>(
                "SELECT data->>'deprecated' || ' ' || (data->>'deprecated_reason')
                   FROM things WHERE ns = 'models' AND id = 'othertool/kept-model'"
            ),
            "true removed"
        );
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM openrouter_model_state WHERE model_id IN ({ids})"
            )),
            3
        );
        assert_eq!(
            count("SELECT count(*) FROM things WHERE ns = 'models'"),
            347
        );
    }

    /// A model row deleted outside the sync: the next sync forgets its state (it would
    /// otherwise count as unchanged and never be written again), and the one after writes
    /// it back, logged as added.
    #[pg_test]
    fn a_deleted_model_row_is_written_again() {
        let server = TestServer::registry(fixture(NEW), None);
        point_at(&server.models_url());
        sync();
        let id = "anthropic/claude-sonnet-4.5";
        let models = "SELECT count(*) FROM things WHERE ns = 'models'";
        let before = one::<String>(&format!(
            "SELECT data::text FROM things WHERE ns = 'models' AND id = '{id}'"
        ));
        run(&format!(
            "DELETE FROM things WHERE ns = 'models' AND id = '{id}'"
        ));
        let s = sync();
        assert_eq!(s["inserted"], 0, "{s}");
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM openrouter_model_state WHERE model_id = '{id}'"
            )),
            0
        );
        assert_eq!(count(models), 345);
        let s = sync();
        assert_eq!(
            (s["inserted"].clone(), s["added"].clone()),
            (1.into(), 1.into()),
            "{s}"
        );
        assert_eq!(count(models), 346);
        assert_eq!(
            one::<String>(&format!(
                "SELECT data::text FROM things WHERE ns = 'models' AND id = '{id}'"
            )),
            before
        );
        assert_state_matches_things("a deleted row written again");
        assert_eq!(count("SELECT count(*) FROM relationships"), 346);
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

        // Every state row records the API object it was mapped from (re-syncs skip mapping
        // those again); objects with an expiration date are marked to be mapped every time.
        let newer: Value = serde_json::from_str(&fixture(NEW)).unwrap();
        let expiring = newer["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| !m["expiration_date"].is_null())
            .count() as i64;
        assert!(expiring >= 10, "{expiring}");
        assert_eq!(
            count("SELECT count(*) FROM openrouter_model_state WHERE raw_hash IS NULL OR name IS NULL"),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_model_state WHERE expires"),
            expiring
        );
        // As after an upgrade whose mapping changed: nothing recorded. The next sync maps every
        // model again, finds the same data, writes nothing but the record.
        let stamps = "SELECT md5(string_agg(model_id || raw_hash || name || expires, ',' ORDER BY model_id)) FROM openrouter_model_state";
        let recorded = one::<String>(stamps);
        run("UPDATE openrouter_model_state SET raw_hash = NULL, name = NULL");
        let s = sync();
        assert_eq!(
            (s["inserted"].clone(), s["updated"].clone()),
            (0.into(), 0.into())
        );
        assert_eq!(s["unchanged"], 346 - 10);
        assert_eq!(one::<String>(stamps), recorded);
        assert_eq!(one::<String>(data), before);
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

    /// A first load large enough to be written part by part while it is mapped (and to
    /// refresh the statistics): the same rows as the one-shot path, a model repeated across
    /// parts keeps its last occurrence, cheapest_models() reads its index at once, and a
    /// re-sync of the same registry finds every model unchanged.
    #[pg_test]
    fn large_first_load_is_written_while_mapped() {
        let mut reg: Value = serde_json::from_str(&fixture(NEW)).unwrap();
        let base = reg["data"].as_array().unwrap().clone();
        let mut all = Vec::new();
        for k in 0..15 {
            for m in &base {
                let mut m = m.clone();
                m["id"] = Value::from(format!("{}-x{k}", m["id"].as_str().unwrap()));
                all.push(m);
            }
        }
        // The first model again at the end (another part), repriced: the last one wins.
        let mut again = all[0].clone();
        again["pricing"]["prompt"] = Value::from("0.123");
        let repeated = again["id"].as_str().unwrap().to_string();
        all.push(again);
        let n = all.len() - 1;
        assert!(
            n > 2 * 500,
            "{n} models make more than two parts (MAX_PART in sync.rs)"
        );
        reg["data"] = Value::from(all.clone());
        let text = reg.to_string();

        let s = Spi::get_one_with_args::<pgrx::JsonB>(
            "SELECT openrouter_sync_from_text($1)",
            &[text.as_str().into()],
        )
        .unwrap()
        .unwrap()
        .0;
        assert_eq!(s["models"], n, "{s}");
        assert_eq!(s["inserted"], n);
        // Counted as added (not listed one by one), in the summary and in the run's row.
        assert_eq!(s["added"], n);
        assert_eq!(
            count("SELECT added::bigint FROM openrouter_sync_runs ORDER BY id DESC LIMIT 1"),
            n as i64
        );
        assert_eq!(
            count("SELECT count(*) FROM things WHERE ns = 'models'"),
            n as i64
        );
        assert_eq!(
            count("SELECT count(*) FROM relationships WHERE type = 'provider'"),
            n as i64
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_price_history WHERE valid_to IS NULL"),
            n as i64
        );
        assert_eq!(
            one::<String>(&format!(
                "SELECT data->'pricing'->>'prompt' FROM things WHERE ns = 'models' AND id = '{repeated}'"
            )),
            "0.123"
        );
        assert_eq!(
            one::<String>(&format!(
                "SELECT count(*) || ' ' || min(prompt_price) FROM openrouter_price_history
                  WHERE model_id = '{repeated}' AND valid_to IS NULL"
            )),
            "1 0.123"
        );
        assert_eq!(
            one::<String>(&format!(
                "SELECT count(*) || ' ' || min(prompt_price) FROM openrouter_model_state
                  WHERE model_id = '{repeated}'"
            )),
            "1 0.123"
        );
        // Every model's prompt price as the file says (the last occurrence for the repeat).
        let mut expected = std::collections::BTreeMap::new();
        for m in &all {
            expected.insert(
                m["id"].as_str().unwrap().to_string(),
                m["pricing"]["prompt"].as_str().unwrap().to_string(),
            );
        }
        let stored = Spi::connect(|c| {
            c.select(
                "SELECT id, data->'pricing'->>'prompt' FROM things WHERE ns = 'models'",
                None,
                &[],
            )
            .unwrap()
            .map(|r| {
                (
                    r.get::<String>(1).unwrap().unwrap(),
                    r.get::<String>(2).unwrap(),
                )
            })
            .collect::<Vec<_>>()
        });
        assert_eq!(stored.len(), expected.len());
        for (id, prompt) in stored {
            let want = &expected[&id];
            if want == "-1" {
                assert_eq!(prompt, None, "{id}");
            } else {
                assert_eq!(
                    prompt.as_deref().map(|p| p.parse::<f64>().unwrap()),
                    Some(want.parse::<f64>().unwrap()),
                    "{id}"
                );
            }
        }
        assert_state_matches_things("large first load");
        // More than ANALYZE_FROM new models: statistics were taken, things.ns from the
        // smallest sample, and the planner reads the price index right away.
        assert!(n as i64 >= 5000, "{n} models refresh the statistics");
        assert_eq!(
            one::<String>(
                "SELECT (most_common_vals::text::text[])[1] FROM pg_stats
                  WHERE tablename = 'things' AND attname = 'ns'"
            ),
            "models"
        );
        assert_eq!(
            count("SELECT count(*) FROM pg_stats WHERE tablename = 'openrouter_model_state'"),
            9
        );
        let plan: Vec<String> = Spi::connect(|c| {
            c.select("EXPLAIN SELECT * FROM cheapest_models(100000)", None, &[])
                .unwrap()
                .map(|r| r.get::<String>(1).unwrap().unwrap_or_default())
                .collect()
        });
        assert!(
            plan.iter()
                .any(|l| l.contains("Index Scan using openrouter_model_state_live_by_price_idx")),
            "{plan:#?}"
        );

        let again = Spi::get_one_with_args::<pgrx::JsonB>(
            "SELECT openrouter_sync_from_text($1)",
            &[text.as_str().into()],
        )
        .unwrap()
        .unwrap()
        .0;
        assert_eq!(again["inserted"], 0);
        assert_eq!(again["updated"], 0);
        // "unchanged" counts live models (those past their expiration date count nowhere).
        assert_eq!(
            again["unchanged"],
            count("SELECT count(*) FROM openrouter_models")
        );
        assert!(again["unchanged"].as_i64().unwrap() > n as i64 / 2);
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
        // Everything works whatever the caller's search_path.
        run("SET search_path = pg_catalog");
        assert_eq!(
            count("SELECT count(*) FROM public.cheapest_models(100000)"),
            10
        );
        assert!(count("SELECT count(*) FROM public.openrouter_health() WHERE status = 'ok'") == 1);
        assert_eq!(
            one::<pgrx::AnyNumeric>(
                "SELECT public.model_cost('anthropic/claude-opus-4', 1000000, 0)"
            )
            .to_string(),
            "15"
        );
        assert_eq!(
            one::<pgrx::JsonB>("SELECT public.openrouter_sync()").0["unchanged"],
            336
        );
        run("RESET search_path");
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
        if !one::<bool>("SELECT to_regprocedure('pg_temp.err(text)') IS NOT NULL") {
            run("CREATE FUNCTION pg_temp.err(q text) RETURNS text LANGUAGE plpgsql AS $$
                 BEGIN EXECUTE q; RETURN NULL; EXCEPTION WHEN OTHERS THEN RETURN SQLSTATE || ': ' || SQLERRM; END $$");
        }
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

    fn ids_of(file: &str) -> std::collections::BTreeSet<String> {
        let doc: Value = serde_json::from_str(&fixture(file)).unwrap();
        doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    }

    fn expired_in(file: &str) -> std::collections::BTreeSet<String> {
        let doc: Value = serde_json::from_str(&fixture(file)).unwrap();
        let today = chrono::Utc::now().date_naive().to_string();
        doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| {
                m["expiration_date"]
                    .as_str()
                    .is_some_and(|d| d < today.as_str())
            })
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    }

    /// openrouter_model_state (what cheapest_models() searches) agrees with things.data for
    /// every model: same prices, context and deprecated flag, one row per model.
    fn assert_state_matches_things(when: &str) {
        let off = one::<String>(
            "SELECT count(*) || ' of ' || (SELECT count(*) FROM things WHERE ns = 'models') || ': '
                    || coalesce(string_agg(t.id, ', ' ORDER BY t.id), '')
               FROM things t LEFT JOIN openrouter_model_state s ON s.model_id = t.id
              WHERE t.ns = 'models'
                AND (s.model_id IS NULL
                     OR s.prompt_price IS DISTINCT FROM (t.data->'pricing'->>'prompt')::numeric
                     OR s.completion_price IS DISTINCT FROM (t.data->'pricing'->>'completion')::numeric
                     OR s.context_length IS DISTINCT FROM (t.data->>'context_length')::integer
                     OR s.deprecated IS DISTINCT FROM coalesce(t.data->'deprecated' = 'true'::jsonb, false))",
        );
        assert!(
            off.starts_with("0 of "),
            "{when}: state differs from things for {off}"
        );
        assert!(!off.starts_with("0 of 0:"), "{when}: no models");
        // Scale too: cheapest_models() returns these numerics as they are.
        assert_eq!(
            count(
                "SELECT count(*) FROM things t JOIN openrouter_model_state s ON s.model_id = t.id
                    WHERE t.ns = 'models' AND s.prompt_price::text <> t.data->'pricing'->>'prompt'"
            ),
            0,
            "{when}"
        );
    }

    /// The bytes PostgreSQL's own jsonb_in builds from `doc` (after the varlena header).
    fn jsonb_in_bytes(doc: &str) -> Vec<u8> {
        let text = std::ffi::CString::new(doc).unwrap();
        // SAFETY: jsonb_in returns a fresh, untoasted varlena in the current context.
        unsafe {
            let d = pgrx::direct_function_call_as_datum(
                pgrx::pg_sys::jsonb_in,
                &[Some(pgrx::pg_sys::Datum::from(text.as_ptr()))],
            )
            .unwrap();
            let p = d.cast_mut_ptr::<pgrx::pg_sys::varlena>();
            std::slice::from_raw_parts(
                pgrx::vardata_any(p) as *const u8,
                pgrx::varsize_any_exhdr(p),
            )
            .to_vec()
        }
    }

    #[pg_test]
    fn binary_jsonb_is_what_jsonb_in_builds() {
        // Every document the sync writes as jsonb for both fixture files (model data, lab
        // data, pricing), encoded in Rust, against this server's jsonb_in, byte for byte.
        let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let mut checked = 0;
        for file in [OLD, NEW] {
            let body = fixture(file);
            let page = crate::registry::parse_page(&body).unwrap();
            let raws: Vec<&str> = page.models.iter().map(|m| m.get()).collect();
            let reg = crate::registry::map_models(&raws, today).unwrap();
            let docs = reg
                .models
                .iter()
                .flat_map(|m| [m.data(), m.pricing.as_str()])
                .chain(reg.labs.iter().map(|l| l.data.as_str()))
                .chain(raws.iter().copied());
            for doc in docs {
                let ours = crate::registry::jsonb::encode(doc)
                    .unwrap_or_else(|e| panic!("declined ({e}): {}", &doc[..doc.len().min(120)]));
                assert!(
                    ours == jsonb_in_bytes(doc),
                    "differs from jsonb_in: {}",
                    &doc[..doc.len().min(120)]
                );
                checked += 1;
            }
        }
        assert!(checked > 2 * (321 + 346), "{checked}");

        // A document the encoder declines (a number of 1,001 digits) still arrives, through
        // jsonb_in, in the same jsonb[] parameter as encoded ones.
        let big = format!("{{\"n\": {}}}", "7".repeat(1001));
        assert!(crate::registry::jsonb::encode(&big).is_err());
        let docs = vec![
            r#"{"a": [1, 2.50, "\u00e9"], "b": null}"#,
            big.as_str(),
            "{}",
            "[]",
        ];
        let same = Spi::get_one_with_args::<bool>(
            "SELECT $1 = $2::jsonb[] AND ($1)[2]->>'n' = repeat('7', 1001)
                AND array_length($1, 1) = 4 AND array_lower($1, 1) = 1",
            &[
                crate::store::jsonb_array_of_texts(&docs),
                docs.clone().into(),
            ],
        )
        .unwrap();
        assert_eq!(same, Some(true));
        let empty = Spi::get_one_with_args::<bool>(
            "SELECT $1 = '{}'::jsonb[] AND cardinality($1) = 0",
            &[crate::store::jsonb_array_of_texts(&[])],
        )
        .unwrap();
        assert_eq!(empty, Some(true));
    }

    #[pg_test]
    fn text_array_parameters_match_the_servers_arrays() {
        // The text[] parameters are built in one allocation (store::varlena_array): with and
        // without NULLs (a null bitmap across byte boundaries), empty, multibyte, long.
        let long = "x".repeat(70_000);
        let mut texts: Vec<Option<&str>> = vec![None, Some("a"), Some(""), Some("é€𝄞")];
        texts.extend((0..14).map(|i| (i % 3 != 0).then_some(["b", "cc", "ddd"][i % 3])));
        texts.push(Some(long.as_str()));
        texts.push(None);
        let literal = |t: &[Option<&str>]| -> Vec<Option<String>> {
            t.iter().map(|t| t.map(str::to_owned)).collect()
        };
        let same = |sql: &str, ours: pgrx::datum::DatumWithOid, theirs: Vec<Option<String>>| {
            Spi::get_one_with_args::<bool>(sql, &[ours, theirs.into()]).unwrap()
        };
        let check = "SELECT $1::text[] IS NOT DISTINCT FROM $2::text[]
                        AND array_to_string($1, ',', '<null>') = array_to_string($2, ',', '<null>')
                        AND array_lower($1, 1) = 1 AND cardinality($1) = cardinality($2)";
        assert_eq!(
            same(
                check,
                crate::store::nullable_text_array(&texts),
                literal(&texts)
            ),
            Some(true)
        );
        let present: Vec<&str> = texts.iter().flatten().copied().collect();
        assert_eq!(present.len(), 13);
        let present_opt: Vec<Option<&str>> = present.iter().map(|t| Some(*t)).collect();
        assert_eq!(
            same(
                check,
                crate::store::text_array(&present),
                literal(&present_opt)
            ),
            Some(true)
        );
        // Nulls are where the bitmap says: positions 1, 5, 8, 11, 14 and the last (1-based).
        let nulls = Spi::get_one_with_args::<String>(
            "SELECT string_agg(i::text, ',' ORDER BY i) FROM generate_subscripts($1::text[], 1) i
              WHERE ($1::text[])[i] IS NULL",
            &[crate::store::nullable_text_array(&texts)],
        )
        .unwrap();
        assert_eq!(nulls.as_deref(), Some("1,5,8,11,14,17,20"));
        let empty = Spi::get_one_with_args::<bool>(
            "SELECT $1 = '{}'::text[] AND cardinality($1) = 0",
            &[crate::store::text_array::<&str>(&[])],
        )
        .unwrap();
        assert_eq!(empty, Some(true));
    }

    /// The stored models, row by row, against the same documents stored by the server itself
    /// (jsonb_in, then its toaster) into a copy of things: which rows are compressed, how,
    /// and how many bytes each takes. Returns (models, compressed with LZ4, rows that differ).
    fn compare_with_server_toasting() -> (i64, i64, i64) {
        run("CREATE TEMP TABLE server_made (LIKE things INCLUDING ALL)");
        // LIKE copies compression and storage, not the storage parameters.
        run("DO $$ DECLARE o text; BEGIN
               SELECT array_to_string(reloptions, ', ') INTO o FROM pg_class WHERE oid = 'things'::regclass;
               IF o IS NOT NULL THEN EXECUTE format('ALTER TABLE server_made SET (%s)', o); END IF;
             END $$");
        run("INSERT INTO server_made
             SELECT ns, id, type, (data::text)::jsonb, data->>'description', created_at, updated_at
               FROM things WHERE ns = 'models'");
        let row = Spi::get_three::<i64, i64, i64>(
            "SELECT count(*),
                    count(*) FILTER (WHERE pg_column_compression(t.data) = 'lz4'),
                    count(*) FILTER (WHERE t.data <> s.data OR t.content IS DISTINCT FROM s.content
                                        OR pg_column_compression(t.data) IS DISTINCT FROM pg_column_compression(s.data)
                                        OR pg_column_size(t.data) <> pg_column_size(s.data)
                                        OR pg_column_compression(t.content) IS DISTINCT FROM pg_column_compression(s.content)
                                        OR pg_column_size(t.content) <> pg_column_size(s.content))
               FROM things t JOIN server_made s USING (ns, id)",
        )
        .unwrap();
        run("DROP TABLE server_made");
        (row.0.unwrap(), row.1.unwrap(), row.2.unwrap())
    }

    #[pg_test]
    fn documents_are_compressed_as_the_server_would() {
        // things.data is COMPRESSION lz4: the mapping threads compress the documents the
        // toaster would compress, and the rows come out as the server makes them. One more
        // model carries 6,000 random letters in a field of its own and a repetitive
        // description: compressed, its document is still too long for the row, so the server
        // moves it to the TOAST table at once and leaves the description plain (compressed
        // beforehand, the toaster would compress the description first).
        // This test alters things (an AccessExclusiveLock until its end) and then syncs: it
        // takes the sync lock first, so that no sync in another test holds it meanwhile and
        // waits for things (a deadlock).
        run(&format!(
            "SELECT pg_advisory_xact_lock({})",
            crate::store::SYNC_LOCK_KEY
        ));
        let mut reg: Value = serde_json::from_str(&fixture(NEW)).unwrap();
        let mut huge = reg["data"][0].clone();
        huge["id"] = Value::from("test/huge-description");
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let text: String = (0..6000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (b'a' + (x % 26) as u8) as char
            })
            .collect();
        huge["x_blob"] = Value::from(text);
        huge["description"] = Value::from("lorem ipsum dolor sit amet ".repeat(60));
        reg["data"].as_array_mut().unwrap().push(huge);
        // And a short, repetitive one: under 2032 bytes the server does not compress at all,
        // whatever toast_tuple_target says.
        reg["data"].as_array_mut().unwrap().push(serde_json::json!({
            "id": "test/short-repetitive",
            "name": "Short",
            "description": "ab".repeat(300),
            "pricing": {"prompt": "0", "completion": "0"},
            "context_length": 1000
        }));
        let server = TestServer::registry(reg.to_string(), None);
        point_at(&server.models_url());
        let stored_as_the_server_would = |label: &str| -> i64 {
            empty(&[
                "things",
                "relationships",
                "openrouter_model_state",
                "openrouter_price_history",
            ]);
            sync();
            let (models, lz4, differ) = compare_with_server_toasting();
            assert_eq!(
                (models, differ),
                (348, 0),
                "{label}: rows unlike the server's own"
            );
            lz4
        };
        let lz4_default = stored_as_the_server_would("default settings");
        assert!(lz4_default > 250, "{lz4_default} of 348 compressed");
        assert_eq!(
            count(
                "SELECT count(*) FROM things WHERE id = 'test/huge-description'
                      AND pg_column_compression(content) IS NULL AND strpos(data::text, 'x_blob') > 0"
            ),
            1,
            "the long document's description is stored plain"
        );
        // Read back: every field of every model, through the views as through the table.
        assert_eq!(
            count("SELECT count(*) FROM things WHERE ns = 'models' AND data = (data::text)::jsonb AND content = data->>'description'"),
            348
        );
        // With another method on the column (a DBA's choice), the server compresses, as it
        // would anyway: nothing arrives as LZ4.
        run("ALTER TABLE things ALTER COLUMN data SET COMPRESSION pglz");
        assert_eq!(stored_as_the_server_would("COMPRESSION pglz"), 0);
        assert!(
            count("SELECT count(*) FROM things WHERE pg_column_compression(data) = 'pglz'") > 250
        );
        // STORAGE MAIN: compressed by the server, after it moved content out where needed.
        run("ALTER TABLE things ALTER COLUMN data SET COMPRESSION lz4, ALTER COLUMN data SET STORAGE MAIN");
        let main = stored_as_the_server_would("STORAGE MAIN");
        assert!(main > 0, "{main} of 348 compressed");
        run("ALTER TABLE things ALTER COLUMN data SET STORAGE EXTENDED");
        // A larger toast_tuple_target: fewer rows reach it, and the same ones as the server's.
        run("ALTER TABLE things SET (toast_tuple_target = 3000)");
        let fewer = stored_as_the_server_would("toast_tuple_target = 3000");
        assert!(
            fewer > 0 && fewer < lz4_default,
            "{fewer} of 348 compressed, {lz4_default} by default"
        );
        // A smaller one: the toaster still runs only above 2032 bytes, then shrinks to 1000.
        run("ALTER TABLE things SET (toast_tuple_target = 1000)");
        assert!(stored_as_the_server_would("toast_tuple_target = 1000") >= lz4_default);
    }

    #[pg_test]
    fn vanished_models_are_kept_marked_and_come_back() {
        let (old_ids, new_ids, expired) = (ids_of(OLD), ids_of(NEW), expired_in(NEW));
        Spi::run_with_args(
            "SELECT openrouter_sync_from_text($1)",
            &[fixture(OLD).into()],
        )
        .unwrap();
        assert_state_matches_things("older file");
        let s = one::<pgrx::JsonB>(&format!(
            "SELECT openrouter_sync_from_text(pg_read_file('{}'), force => true)",
            crate::testkit::fixture_dir().join(NEW).display()
        ))
        .0;
        assert_state_matches_things("then the newer file");
        let gone: Vec<&String> = old_ids.difference(&new_ids).collect();
        assert_eq!(s["removed"], gone.len());
        assert_eq!(
            count("SELECT count(*) FROM openrouter_models_all WHERE is_deprecated AND deprecated_reason = 'removed' AND deprecated_at IS NOT NULL"),
            gone.len() as i64
        );
        // Their price periods are closed; the change log names each.
        assert_eq!(
            count("SELECT count(*) FROM openrouter_price_history h JOIN openrouter_models_all m ON m.id = h.model_id WHERE m.deprecated_reason = 'removed' AND h.valid_to IS NULL"),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_changes('-infinity') WHERE change = 'removed'"),
            gone.len() as i64
        );
        let repriced_change = one::<String>(
            "SELECT old_value::text || ' -> ' || new_value::text FROM openrouter_changes('-infinity')
              WHERE change = 'repriced' AND model_id = 'mistralai/devstral-small'",
        );
        assert_eq!(
            repriced_change,
            r#"{"prompt": 0.00000007, "completion": 0.0000001} -> {"prompt": 0.0000001, "completion": 0.0000003}"#
        );
        // Labs without a live model are marked too.
        let lab = |ids: &std::collections::BTreeSet<String>| -> std::collections::BTreeSet<String> {
            ids.iter()
                .map(|i| i.split('/').next().unwrap().to_string())
                .collect()
        };
        let live_new: std::collections::BTreeSet<String> =
            new_ids.difference(&expired).cloned().collect();
        let dead_labs = lab(&old_ids).difference(&lab(&new_ids)).count() as i64;
        assert_eq!(
            count("SELECT count(*) FROM openrouter_labs WHERE is_deprecated"),
            dead_labs
        );

        // The older file again: what vanished returns, what was added in between vanishes.
        let s = one::<pgrx::JsonB>(&format!(
            "SELECT openrouter_sync_from_text(pg_read_file('{}'), force => true)",
            crate::testkit::fixture_dir().join(OLD).display()
        ))
        .0;
        assert_state_matches_things("then the older file again");
        let returning = old_ids.iter().filter(|i| !live_new.contains(*i)).count();
        assert_eq!(s["returned"], returning);
        assert_eq!(s["removed"], live_new.difference(&old_ids).count());
        assert_eq!(s["added"], 0);
        assert_eq!(
            count("SELECT count(*) FROM openrouter_models"),
            old_ids.len() as i64
        );
        assert!(one::<bool>("SELECT NOT is_deprecated AND deprecated_at IS NULL FROM openrouter_models_all WHERE id = 'openai/gpt-4-turbo'")
            || !old_ids.contains("openai/gpt-4-turbo"));
        // A returned model has a new open price period.
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM openrouter_price_history WHERE valid_to IS NULL AND model_id = '{}'",
                gone[0]
            )),
            1
        );
        assert_eq!(
            count(&format!(
                "SELECT count(*) FROM openrouter_price_history WHERE model_id = '{}'",
                gone[0]
            )),
            2
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_labs WHERE is_deprecated"),
            lab(&live_new).difference(&lab(&old_ids)).count() as i64
        );
    }

    #[pg_test]
    fn prices_in_force_at_a_time() {
        let old = TestServer::registry(fixture(OLD), None);
        point_at(&old.models_url());
        sync();
        let new = TestServer::registry(fixture(NEW), None);
        point_at(&new.models_url());
        sync_forced();
        let (first, second) = (
            one::<String>("SELECT min(valid_from)::text FROM openrouter_price_history WHERE model_id = 'mistralai/devstral-small'"),
            one::<String>("SELECT max(valid_from)::text FROM openrouter_price_history WHERE model_id = 'mistralai/devstral-small'"),
        );
        let price_at = |t: &str| {
            one::<String>(&format!(
                "SELECT prompt_price::text FROM openrouter_price_at('mistralai/devstral-small', '{t}'::timestamptz)"
            ))
        };
        assert_eq!(price_at(&first), "0.00000007");
        assert_eq!(price_at(&second), "0.0000001");
        assert_eq!(count(&format!("SELECT count(*) FROM openrouter_price_at('mistralai/devstral-small', '{first}'::timestamptz - interval '1 day')")), 0);
        // model_cost at a past time uses the price then: 1M prompt + 1M completion tokens.
        assert_eq!(
            one::<pgrx::AnyNumeric>(&format!(
                "SELECT model_cost('mistralai/devstral-small', 1000000, 1000000, at => '{first}')"
            ))
            .to_string(),
            "0.17"
        );
        assert_eq!(
            one::<pgrx::AnyNumeric>(
                "SELECT model_cost('mistralai/devstral-small', 1000000, 1000000)"
            )
            .to_string(),
            "0.4"
        );
        // An unchanged sync adds no price period and no change.
        let (periods, changes) = (
            count("SELECT count(*) FROM openrouter_price_history"),
            count("SELECT count(*) FROM openrouter_change_log"),
        );
        let s = sync();
        assert_eq!(s["repriced"], 0);
        assert_eq!(s["prices_changed"], 0);
        assert_eq!(
            count("SELECT count(*) FROM openrouter_price_history"),
            periods
        );
        assert_eq!(count("SELECT count(*) FROM openrouter_change_log"), changes);
    }

    #[pg_test]
    fn rename_context_change_expiry_and_other_prices() {
        let before = r#"{"data":[
          {"id":"acme/a","name":"Acme: A","context_length":1000,"pricing":{"prompt":"0.000001","completion":"0.000002","input_cache_read":"0.0000001"}},
          {"id":"acme/b","name":"Acme: B","context_length":1000,"pricing":{"prompt":"0.000001","completion":"0.000002"},"expiration_date":null},
          {"id":"acme/c","name":"Acme: C","context_length":1000,"pricing":{"prompt":"0.000001","completion":"0.000002"}},
          {"id":"acme/d","name":"Acme: D","context_length":1000,"pricing":{"prompt":"0.000001","completion":"0.000002"}}
        ]}"#;
        let after = r#"{"data":[
          {"id":"acme/a","name":"Acme: A Prime","context_length":1000,"pricing":{"prompt":"0.000001","completion":"0.000002","input_cache_read":"0.00000005"}},
          {"id":"acme/b","name":"Acme: B","context_length":1000,"pricing":{"prompt":"0.000001","completion":"0.000002"},"expiration_date":"2020-01-01"},
          {"id":"acme/c","name":"Acme: C","context_length":2000,"pricing":{"prompt":"0.000001","completion":"0.000002"}},
          {"id":"acme/d","name":"Acme: D","context_length":1000,"pricing":{"prompt":"0.0000010","completion":"0.000002"}}
        ]}"#;
        Spi::run_with_args("SELECT openrouter_sync_from_text($1)", &[before.into()]).unwrap();
        let s = Spi::get_one_with_args::<pgrx::JsonB>(
            "SELECT openrouter_sync_from_text($1)",
            &[after.into()],
        )
        .unwrap()
        .unwrap()
        .0;
        assert_eq!(
            (
                s["renamed"].as_i64(),
                s["context_changed"].as_i64(),
                s["prices_changed"].as_i64()
            ),
            (Some(1), Some(1), Some(1))
        );
        assert_eq!(
            (
                s["repriced"].as_i64(),
                s["removed"].as_i64(),
                s["unchanged"].as_i64()
            ),
            (Some(0), Some(0), Some(1))
        );
        assert_eq!(s["expired"], 1);
        let changes = Spi::connect(|c| {
            c.select("SELECT model_id || ' ' || change || ' ' || coalesce(old_value::text, '') || ' -> ' || coalesce(new_value::text, '')
                        FROM openrouter_changes(now() - interval '1 hour') WHERE change <> 'added'", None, &[])
                .unwrap()
                .map(|r| r.get::<String>(1).unwrap().unwrap())
                .collect::<Vec<_>>()
        });
        assert_eq!(
            changes,
            vec![
                r#"acme/a prices_changed {"prompt": 0.000001, "completion": 0.000002, "input_cache_read": 0.0000001} -> {"prompt": 0.000001, "completion": 0.000002, "input_cache_read": 0.00000005}"#,
                r#"acme/a renamed "Acme: A" -> "Acme: A Prime""#,
                "acme/b expired  -> ",
                "acme/c context_changed 1000 -> 2000",
            ]
        );
        // Past its expiration date: deprecated, still there.
        assert_eq!(
            one::<String>(
                "SELECT deprecated_reason FROM openrouter_models_all WHERE id = 'acme/b'"
            ),
            "expired"
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_models WHERE id = 'acme/b'"),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM cheapest_models(0, 100) WHERE id = 'acme/b'"),
            0
        );
        // Other price keys open a new period too.
        assert_eq!(
            count("SELECT count(*) FROM openrouter_price_history WHERE model_id = 'acme/a'"),
            2
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_price_history WHERE model_id = 'acme/d'"),
            1,
            "0.0000010 = 0.000001"
        );
    }

    #[pg_test]
    fn a_bad_model_is_named_in_api_order() {
        // Models #250 and #330 of 346 have no id: four parts of 100, mapped by whichever
        // thread is free. The error names #250 (the first in API order) every time, on a
        // first load (written part by part) and on a re-sync, and nothing is written.
        let mut reg: Value = serde_json::from_str(&fixture(NEW)).unwrap();
        for i in [250, 330] {
            reg["data"][i].as_object_mut().unwrap().remove("id");
        }
        let body = reg.to_string();
        let server = TestServer::start(move |_, _| Reply::json(200, body.clone()));
        let expected = "22000: openrouter: the response of GET {url} is unusable: model #250 in the response has no \"id\"";
        for round in 0..3 {
            fails_cleanly(&format!("first load, round {round}"), &server, expected);
            assert_eq!(count("SELECT count(*) FROM things"), 0);
        }
        seeded();
        for round in 0..3 {
            fails_cleanly(&format!("re-sync, round {round}"), &server, expected);
        }
    }

    /// Asserts that a sync against `reply` fails with an error starting with `expected`
    /// (`{url}` stands for the server's URL) and that nothing changed.
    fn fails_cleanly(label: &str, server: &TestServer, expected: &str) -> String {
        let before = fingerprint();
        point_at(&server.models_url());
        let err = sync_error().unwrap_or_else(|| panic!("{label}: no error"));
        let expected = expected.replace("{url}", &server.models_url());
        assert!(
            err.starts_with(&expected),
            "{label}: {err}\n  expected: {expected}"
        );
        assert_eq!(fingerprint(), before, "{label}: tables changed");
        assert_eq!(
            one::<i32>("SELECT 1"),
            1,
            "{label}: the session is still usable"
        );
        err
    }

    fn seeded() {
        Spi::run_with_args(
            "SELECT openrouter_sync_from_text($1)",
            &[fixture(OLD).into()],
        )
        .unwrap();
    }

    #[pg_test]
    fn http_statuses_and_retries() {
        seeded();
        for status in [500u16, 502, 503] {
            let server = TestServer::start(move |_, _| {
                Reply::json(
                    status,
                    r#"{"error":{"code":500,"message":"upstream broke"}}"#,
                )
            });
            let err = fails_cleanly(
                &status.to_string(),
                &server,
                &format!("58000: openrouter: GET {{url}} answered HTTP {status}: upstream broke"),
            );
            assert!(err.contains("upstream broke"));
            assert_eq!(server.hits(), 1, "max_retries = 0: one request");
        }
        // 429 with Retry-After: retried a bounded number of times, honouring the wait, then a clear error.
        let limited = TestServer::start(|_, _| {
            Reply::json(
                429,
                r#"{"error":{"code":429,"message":"Rate limit exceeded"}}"#,
            )
            .with_header("Retry-After", "1")
        });
        point_at(&limited.models_url());
        run("SET openrouter.max_retries = 2");
        let t = std::time::Instant::now();
        let err = sync_error().unwrap();
        assert!(
            err.starts_with(&format!(
                "58000: openrouter: GET {} answered HTTP 429: Rate limit exceeded",
                limited.models_url()
            )),
            "{err}"
        );
        assert_eq!(limited.hits(), 3);
        assert!(
            t.elapsed() >= std::time::Duration::from_millis(1900),
            "Retry-After honoured: {:?}",
            t.elapsed()
        );
        // A transient 503 followed by the registry: the retry succeeds.
        let body = fixture(NEW);
        let flaky = TestServer::start(move |_, n| {
            if n == 1 {
                Reply::json(503, "busy")
            } else {
                Reply::json(200, body.clone())
            }
        });
        point_at(&flaky.models_url());
        run("SET openrouter.max_retries = 2");
        let s = sync_forced();
        assert_eq!(
            (s["requests"].as_i64(), s["models"].as_i64()),
            (Some(2), Some(346))
        );
    }

    #[pg_test]
    fn broken_bodies() {
        seeded();
        run("SET openrouter.timeout_ms = 700");
        let body = fixture(NEW).into_bytes();
        let b = body.clone();
        fails_cleanly(
            "stall",
            &TestServer::start(move |_, _| Reply::Stall {
                body: b.clone(),
                sent: 4096,
            }),
            "08000: openrouter: GET {url} timed out after 700 ms",
        );
        let mut bad = br#"{"data":[{"id":"a/b","name":"caf"#.to_vec();
        bad.extend_from_slice(&[0xff, 0xfe]);
        bad.extend_from_slice(br#""}]}"#);
        fails_cleanly(
            "utf8",
            &TestServer::start(move |_, _| Reply::json(200, bad.clone())),
            "22021: openrouter: the response of GET {url} is not valid UTF-8 (byte 32)",
        );
        fails_cleanly(
            "json",
            &TestServer::start(|_, _| Reply::json(200, r#"{"data":[{"id":"a/b",}]}"#)),
            "22000: openrouter: the response of GET {url} is not JSON",
        );
        fails_cleanly(
            "prices",
            &TestServer::start(|_, _| {
                Reply::json(
                    200,
                    r#"{"data":[{"id":"a/b","pricing":"cheap"}], "links": "x"}"#,
                )
            }),
            "22000: openrouter: the response of GET {url} is not a model list (\"links.next\"",
        );
        // Larger than openrouter.max_response_bytes: announced, or found while reading.
        run("SET openrouter.max_response_bytes = '100kB'");
        let b = body.clone();
        fails_cleanly("announced", &TestServer::start(move |_, _| Reply::json(200, b.clone())), "54000: openrouter: the response of GET {url} is larger than openrouter.max_response_bytes (102400 bytes)");
        fails_cleanly("endless", &TestServer::start(|_, _| Reply::Endless), "54000: openrouter: the response of GET {url} is larger than openrouter.max_response_bytes (102400 bytes)");
        run("RESET openrouter.max_response_bytes");
    }

    #[pg_test]
    fn pagination_and_redirect_faults() {
        seeded();
        let page = r#"{"data":[{"id":"a/b","pricing":{"prompt":"0","completion":"0"}}],"links":{"next":"/api/v1/models"}}"#;
        fails_cleanly(
            "loop",
            &TestServer::start(move |_, _| Reply::json(200, page)),
            "22000: openrouter: pagination of {url} loops: links.next points back to {url}",
        );
        let endless = TestServer::start(|path, _| {
            let n: usize = path
                .rsplit('=')
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            Reply::json(
                200,
                format!(
                    r#"{{"data":[{{"id":"a/m{n}"}}],"links":{{"next":"/api/v1/models?page={}"}}}}"#,
                    n + 1
                ),
            )
        });
        run("SET openrouter.max_pages = 5");
        fails_cleanly("never ends", &endless, "22000: openrouter: pagination of {url} does not end after 5 pages (openrouter.max_pages)");
        run("RESET openrouter.max_pages");
        let elsewhere = TestServer::start(|_, _| {
            Reply::json(302, "").with_header("Location", "http://127.0.0.2:9/api/v1/models")
        });
        fails_cleanly("redirect", &elsewhere, "08000: openrouter: GET {url} redirects to http://127.0.0.2:9/api/v1/models, which is refused");
        assert_eq!(elsewhere.hits(), 1);
        let next_host = TestServer::start(|_, _| {
            Reply::json(
                200,
                r#"{"data":[{"id":"a/b"}],"links":{"next":"http://127.0.0.2:9/p2"}}"#,
            )
        });
        fails_cleanly("next elsewhere", &next_host, "22000: openrouter: pagination of {url} points to another host (http://127.0.0.2:9/p2): refused");
        // A same-host redirect is followed.
        let body = fixture(OLD);
        let moved = TestServer::start(move |path, _| {
            if path.starts_with("/api/v1/models") {
                Reply::json(301, "").with_header("Location", "/v2/models")
            } else {
                Reply::json(200, body.clone())
            }
        });
        point_at(&moved.models_url());
        assert_eq!(sync()["models"], 321);
    }

    #[pg_test]
    fn odd_fields_keep_the_good_data_and_warn() {
        let long_name = format!("Acme: {}", "x".repeat(10_000));
        let payload = serde_json::json!({"data": [
            {"id": "acme/number-prices", "name": "Acme: Numbers", "context_length": 8192,
             "pricing": {"prompt": 0.000001, "completion": 2e-6}},
            {"id": "acme/garbage", "name": "Acme: Garbage", "context_length": -5,
             "pricing": {"prompt": "cheap", "completion": "0.000002", "image": true}},
            {"id": "acme/absurd", "name": "Acme: Absurd", "context_length": 1_000_000_000_000u64,
             "pricing": {"prompt": "0.000001", "completion": "0.000002"}},
            {"id": "acme/dup", "name": "Acme: First", "pricing": {"prompt": "1", "completion": "1"}},
            {"id": "acme/dup", "name": "Acme: Second", "pricing": {"prompt": "0.5", "completion": "0.5"}},
            {"id": "no-slash", "name": "Nobody", "pricing": {"prompt": "0", "completion": "0"}},
            {"id": "acme/long", "name": long_name, "pricing": {"prompt": "0", "completion": "0"}, "brand_new_field": {"x": [1, 2]}},
        ]});
        let s = Spi::get_one_with_args::<pgrx::JsonB>(
            "SELECT openrouter_sync_from_json($1)",
            &[pgrx::JsonB(payload).into()],
        )
        .unwrap()
        .unwrap()
        .0;
        assert_eq!(s["models"], 5);
        assert_eq!(s["warnings"], 6);
        assert_eq!(one::<String>("SELECT prompt_price::text || ' ' || completion_price::text FROM openrouter_models WHERE id = 'acme/number-prices'"), "0.000001 0.000002");
        assert!(one::<bool>("SELECT prompt_price IS NULL AND completion_price = 0.000002 AND context_length IS NULL FROM openrouter_models WHERE id = 'acme/garbage'"));
        assert!(one::<bool>(
            "SELECT context_length IS NULL FROM openrouter_models WHERE id = 'acme/absurd'"
        ));
        assert_eq!(
            one::<String>("SELECT name FROM openrouter_models WHERE id = 'acme/dup'"),
            "Acme: Second"
        );
        assert_eq!(
            count("SELECT count(*) FROM things WHERE id = 'no-slash'"),
            0
        );
        assert_eq!(
            count("SELECT length(name) FROM openrouter_models WHERE id = 'acme/long'"),
            10_006
        );
        assert_eq!(
            one::<String>(
                "SELECT data->'extra'->'brand_new_field'->>'x' FROM things WHERE id = 'acme/long'"
            ),
            "[1, 2]"
        );
        let warnings =
            one::<String>("SELECT array_to_string(warnings, ' | ') FROM openrouter_sync_runs");
        for needle in [
            "acme/garbage: ignored \"context_length\" -5",
            "acme/garbage: ignored price \"prompt\" \"cheap\"",
            "acme/absurd: ignored \"context_length\" 1000000000000",
            "acme/dup: listed more than once; kept the last occurrence",
            "skipped model \"no-slash\"",
        ] {
            assert!(warnings.contains(needle), "{needle} in {warnings}");
        }
        // A model garbage-priced is never "cheapest".
        assert_eq!(
            count("SELECT count(*) FROM cheapest_models(0, 100) WHERE id = 'acme/garbage'"),
            0
        );
    }

    #[pg_test]
    fn roles_settings_and_the_key() {
        seeded();
        let server = TestServer::registry(fixture(OLD), None);
        point_at(&server.models_url());
        run("CREATE ROLE test_analyst");
        run("CREATE ROLE test_syncer IN ROLE openrouter_admin");
        run("SET openrouter.api_key = 'sk-or-v1-pgtest-secret'");
        // Even a superuser sees it masked.
        assert_eq!(
            one::<String>("SELECT current_setting('openrouter.api_key')"),
            "(set)"
        );
        assert_eq!(
            count("SELECT count(*) FROM pg_settings WHERE setting LIKE '%sk-or-v1%'"),
            0
        );
        // It is sent, as a Bearer token.
        sync();
        assert!(
            server.request_heads().iter().any(|h| h
                .contains("Authorization: Bearer sk-or-v1-pgtest-secret")
                || h.contains("authorization: Bearer sk-or-v1-pgtest-secret")),
            "{:?}",
            server.request_heads()
        );

        err("SELECT 1");
        run("SET ROLE test_analyst");
        assert!(
            err("SHOW openrouter.api_key").starts_with("42501: "),
            "{}",
            err("SHOW openrouter.api_key")
        );
        assert!(err("SELECT current_setting('openrouter.api_key')").starts_with("42501: "));
        assert_eq!(
            count("SELECT count(*) FROM pg_settings WHERE name = 'openrouter.api_key'"),
            0
        );
        assert_eq!(
            err("SET openrouter.api_url = 'http://127.0.0.1:1/'"),
            "42501: permission denied to set parameter \"openrouter.api_url\""
        );
        assert_eq!(
            err("SELECT openrouter_sync()"),
            "42501: permission denied for function openrouter_sync"
        );
        assert_eq!(
            err("SELECT openrouter_schedule()"),
            "42501: permission denied for function openrouter_schedule"
        );
        assert!(count("SELECT count(*) FROM cheapest_models(100000)") > 0);
        assert!(count("SELECT count(*) FROM openrouter_models") > 0);
        run("RESET ROLE");

        run("SET ROLE test_syncer");
        assert_eq!(
            err("SET openrouter.api_url = 'http://127.0.0.1:1/'"),
            "42501: permission denied to set parameter \"openrouter.api_url\""
        );
        assert_eq!(
            err("SET openrouter.api_key = 'mine'"),
            "42501: permission denied to set parameter \"openrouter.api_key\""
        );
        assert!(err("SHOW openrouter.api_key").starts_with("42501: "));
        assert_eq!(
            sync()["models"],
            321,
            "a member of openrouter_admin may sync"
        );
        run("RESET ROLE");

        // The key is refused where every role could read it.
        let e = err("ALTER ROLE test_syncer SET openrouter.api_key = 'sk-or-v1-leak'");
        assert!(
            e.starts_with(
                "42501: openrouter.api_key cannot be stored with ALTER DATABASE/ROLE ... SET"
            ),
            "{e}"
        );
        let e = err("ALTER DATABASE pgrx_tests SET openrouter.api_key = 'sk-or-v1-leak'");
        assert!(
            e.starts_with(
                "42501: openrouter.api_key cannot be stored with ALTER DATABASE/ROLE ... SET"
            ),
            "{e}"
        );
        assert_eq!(count("SELECT count(*) FROM pg_db_role_setting WHERE array_to_string(setconfig, ',') LIKE '%sk-or-v1%'"), 0);
        // The key file: only its path is a setting.
        let path = std::env::temp_dir().join(format!("openrouter-key-{}", std::process::id()));
        std::fs::write(&path, "sk-or-v1-from-file\n").unwrap();
        run("RESET openrouter.api_key");
        run(&format!(
            "SET openrouter.api_key_file = '{}'",
            path.display()
        ));
        sync();
        std::fs::remove_file(&path).unwrap();
        assert!(server
            .request_heads()
            .last()
            .unwrap()
            .to_ascii_lowercase()
            .contains("authorization: bearer sk-or-v1-from-file"));
        let e = sync_error().unwrap();
        assert!(
            e.starts_with("22023: openrouter: cannot read openrouter.api_key_file")
                && !e.contains("sk-or"),
            "{e}"
        );
        // Nothing recorded holds a key.
        assert_eq!(count("SELECT count(*) FROM openrouter_sync_runs WHERE source LIKE '%sk-or%' OR array_to_string(warnings, ' ') LIKE '%sk-or%'"), 0);
    }
}
