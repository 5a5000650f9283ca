//! Postgres tests: Bad responses and bad data: a clear ERROR with the tables unchanged, or a WARNING with the rest kept.

#[pgrx::pg_schema]
mod tests {
    use crate::tests::support::*;
    use crate::tests::testkit::sql::{count, one, run};
    use crate::tests::testkit::{fixture, Reply, TestServer, NEW, OLD};
    use pgrx::prelude::*;
    use serde_json::Value;

    /// Every failure: a clear ERROR naming the URL, and the tables exactly as they were.
    #[pg_test]
    fn errors_leave_the_tables_unchanged() {
        let others = other_sources_write();
        let _good = serve(OLD);
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
            ("no id", Reply::json(200, r#"{"data":[{"id":"a/b","pricing":{"prompt":"0","completion":"0"}},{"name":"x"}]}"#), "22000: openrouter: the response of GET {url} is unusable: model #2 in the response has no \"id\""),
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
        assert_other_sources_untouched(&others, "errors_leave_the_tables_unchanged");
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
        let expected = "22000: openrouter: the response of GET {url} is unusable: model #251 in the response has no \"id\"";
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

    /// One poison value upstream (issue 18: `\u0000`, a 20,000-digit price, a number out of
    /// numeric's range, a lone surrogate) used to roll back the sync, and every later one
    /// until the API changed. Now it is null with a WARNING, field by field; a model whose id
    /// holds `\u0000` is skipped; and the same for the endpoints sync.
    #[pg_test]
    fn poison_values_are_null_and_every_sync_goes_on() {
        let mut doc: Value = serde_json::from_str(&fixture(NEW)).unwrap();
        let models = doc["data"].as_array_mut().unwrap();
        let target = models
            .iter_mut()
            .find(|m| m["id"] == "openai/gpt-oss-120b")
            .unwrap();
        target["description"] = Value::String("caf\u{0}e".into());
        target["pricing"]["prompt"] = Value::String(format!("0.{}", "3".repeat(20_000)));
        target["top_provider"]["max_completion_tokens"] = Value::String("@@1".into());
        target["architecture"]["tokenizer"] = Value::String("@@2".into());
        let mut nul_id = target.clone();
        nul_id["id"] = Value::String("acme/x\u{0}y".into());
        models.push(nul_id);
        let models_body = doc
            .to_string()
            .replace(r#""@@1""#, "1e-16384")
            .replace(r#""@@2""#, r#""\ud800""#);
        let endpoints = crate::tests::testkit::endpoints_body("openai/gpt-oss-120b")
            .unwrap()
            .replacen(r#""DeepInfra""#, r#""Deep\u0000Infra""#, 1)
            .replacen(r#""bf16""#, "1e131072", 1);
        assert!(endpoints.contains("1e131072") && endpoints.contains(r"Deep\u0000Infra"));
        let server = TestServer::start(move |path, _| {
            if path.starts_with("/api/v1/models/openai/gpt-oss-120b/endpoints") {
                Reply::json(200, endpoints.clone())
            } else if path == "/api/v1/providers" {
                Reply::json(
                    200,
                    r#"{"data":[{"slug":"deepinfra","name":"DeepInfra","x":"\u0000"}]}"#,
                )
            } else {
                Reply::json(200, models_body.clone())
            }
        });
        point_at(&server.models_url());
        for round in 0..2 {
            let s = sync();
            assert_eq!(s["models"], 346, "round {round}: {s}");
            let e = one::<pgrx::JsonB>(
                "SELECT openrouter_sync_endpoints(ARRAY['openai/gpt-oss-120b'])",
            )
            .0;
            assert_eq!(e["endpoints"], 3, "round {round}: {e}");
        }
        assert!(one::<bool>(
            "SELECT content = '' AND data->'pricing'->'prompt' = 'null'
                    AND coalesce(data->'top_provider', 'null') = 'null'
                    AND coalesce(data->'architecture', 'null') = 'null'
                    AND data->'pricing'->>'completion' IS NOT NULL
               FROM things WHERE ns = 'models' AND id = 'openai/gpt-oss-120b'"
        ));
        assert!(one::<bool>(
            "SELECT prompt_price IS NULL AND completion_price > 0 AND context_length = 131072
               FROM openrouter_models WHERE id = 'openai/gpt-oss-120b'"
        ));
        assert_eq!(
            count("SELECT count(*) FROM things WHERE id LIKE 'acme/x%'"),
            0
        );
        assert!(one::<bool>(
            "SELECT data->'provider_name' = 'null' AND data->'quantization' = 'null'
               FROM things WHERE ns = 'endpoints' AND id = 'openai/gpt-oss-120b@deepinfra/bf16'"
        ));
        assert!(one::<bool>(
            "SELECT data->'x' = 'null' FROM things WHERE ns = 'providers' AND id = 'deepinfra'"
        ));
        let warnings = one::<String>(
            "SELECT array_to_string(warnings, ' | ') FROM openrouter_sync_runs ORDER BY id LIMIT 1",
        );
        for needle in [
            r#"openai/gpt-oss-120b: ignored "description": \u0000 cannot be stored in jsonb"#,
            r#"openai/gpt-oss-120b: ignored price "prompt""#,
            r#"openai/gpt-oss-120b: ignored "top_provider": a number out of numeric's range"#,
            r#"openai/gpt-oss-120b: ignored "architecture""#,
            r#"skipped model "acme/x y": its id holds \u0000"#,
        ] {
            assert!(warnings.contains(needle), "{needle} in {warnings}");
        }
    }
}
