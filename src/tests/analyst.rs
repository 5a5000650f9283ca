//! Postgres tests: The analyst's questions: cheapest_models, the typed views, model_cost.

#[pgrx::pg_schema]
mod tests {
    use crate::tests::support::*;
    use crate::tests::testkit::sql::{count, one, run};
    use crate::tests::testkit::{fixture, NEW};
    use pgrx::prelude::*;
    use serde_json::Value;

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
        let mut rows: Vec<(u128, u128, String)> = live_in(file)
            .iter()
            .filter(|m| m["context_length"].as_i64().unwrap_or(0) > min_context)
            .filter(|m| m["pricing"]["prompt"] != "-1" && m["pricing"]["completion"] != "-1")
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
        let _server = serve(NEW);
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
        let others = other_sources_write();
        let _server = serve(NEW);
        sync();
        let doc: Value = serde_json::from_str(&fixture(NEW)).unwrap();
        let live_models = live_in(NEW);
        let live = live_models.len() as i64;
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
        let tools_and_images = live_models
            .iter()
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
        assert_other_sources_untouched(&others, "typed_views");
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
        // A variable price is no error: no cost (NULL), so that model_cost runs over every model.
        assert!(one::<bool>(
            "SELECT model_cost('acme/router', 1, 1) IS NULL"
        ));
    }

    // Issue 20, item 19: one definition of a live lab, in things too. The 2026 snapshot lists
    // seven allenai models, three of them expiring on 2026-03-23. The same response without
    // the four that do not expire (gone upstream), loaded as of 2026-03-24, still lists
    // allenai, but none of its models is live: the views call it deprecated, and so must its
    // stored row, the sync's summary, the run's row and health. Until 0.3.0 the stored flag
    // said "absent from the response": allenai stayed live there, and was counted in `labs`.
    #[pg_test]
    fn a_lab_is_deprecated_exactly_when_it_has_no_live_model() {
        run("SET client_min_messages = warning");
        let newer: Value = serde_json::from_str(&fixture(NEW)).unwrap();
        let is_allenai = |m: &Value| m["id"].as_str().unwrap().starts_with("allenai/");
        let expiring: Vec<&str> = newer["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| is_allenai(m) && m["expiration_date"] == "2026-03-23")
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            expiring,
            [
                "allenai/molmo-2-8b",
                "allenai/olmo-3-7b-instruct",
                "allenai/olmo-3-7b-think"
            ]
        );
        let mut only_expiring = newer.clone();
        only_expiring["data"]
            .as_array_mut()
            .unwrap()
            .retain(|m| !is_allenai(m) || m["expiration_date"] == "2026-03-23");
        let (full, only_expiring) = (fixture(NEW), only_expiring.to_string());
        let load = |body: &str, as_of: &str| {
            Spi::get_one_with_args::<pgrx::JsonB>(
                "SELECT openrouter_sync_from_text($1, as_of => $2::timestamptz)",
                &[body.into(), as_of.into()],
            )
            .unwrap()
            .unwrap()
            .0
        };
        // The stored mark of every lab against the views', and the counts that use it.
        let disagreeing = || {
            one::<String>(
                "SELECT coalesce(string_agg(v.id, ', ' ORDER BY v.id), 'none')
                   FROM openrouter_labs_all v JOIN things t ON t.ns = 'labs' AND t.id = v.id
                  WHERE (t.data->'deprecated' = 'true'::jsonb) IS DISTINCT FROM v.is_deprecated",
            )
        };
        let counts = || {
            one::<String>(
                "SELECT concat_ws(' ', (SELECT count(*) FROM openrouter_labs), (SELECT labs FROM openrouter_health()),
                                  (SELECT labs FROM openrouter_sync_runs ORDER BY id DESC LIMIT 1))",
            )
        };
        let allenai = || {
            one::<String>(
                "SELECT concat_ws(' ', v.is_deprecated, v.model_count, t.data->'deprecated', t.data->>'deprecated_reason',
                                  (t.data->>'deprecated_at')::timestamptz = '2026-03-24'::timestamptz)
                   FROM openrouter_labs_all v JOIN things t ON t.ns = 'labs' AND t.id = v.id WHERE v.id = 'allenai'",
            )
        };

        let s = load(&full, "2026-03-10");
        assert_eq!(s["labs"], 57);
        assert_eq!(
            (disagreeing(), counts()),
            ("none".into(), "57 57 57".into())
        );
        assert_eq!(allenai(), "f 7 false");

        // Listed, every model expired: deprecated, stored so, counted nowhere.
        let s = load(&only_expiring, "2026-03-24");
        assert_eq!(
            (s["removed"].as_i64(), s["expired"].as_i64()),
            (Some(4), Some(3))
        );
        assert_eq!(s["labs"], 56, "{s}");
        assert_eq!(
            (disagreeing(), counts()),
            ("none".into(), "56 56 56".into())
        );
        assert_eq!(allenai(), "t 0 true no live models t");
        assert_eq!(
            count("SELECT count(*) FROM cheapest_models(0, 1000, include_aliases => true) WHERE lab_id = 'allenai'"),
            0
        );
        // Still so a day later: deprecated since the sync that first saw it so.
        load(&only_expiring, "2026-03-25");
        assert_eq!(allenai(), "t 0 true no live models t");
        assert_eq!(disagreeing(), "none");

        // Its models are back: live again, the mark cleared.
        let s = load(&full, "2026-03-26");
        assert_eq!(s["labs"], 57);
        assert_eq!(
            (disagreeing(), counts()),
            ("none".into(), "57 57 57".into())
        );
        assert_eq!(allenai(), "f 4 false");
        assert_eq!(
            count("SELECT count(*) FROM things WHERE ns = 'labs' AND id = 'allenai' AND (data ? 'deprecated_at' OR data ? 'deprecated_reason')"),
            0
        );
    }
}
