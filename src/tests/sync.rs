//! Postgres tests: Syncing the registry: first loads, re-syncs, paging, models stored by others.

#[pgrx::pg_schema]
mod tests {
    use crate::tests::support::*;
    use crate::tests::testkit::sql::{count, empty, one, run};
    use crate::tests::testkit::{fixture, TestServer, NEW};
    use pgrx::prelude::*;
    use serde_json::Value;

    #[pg_test]
    fn sync_stores_the_2026_registry() {
        let others = other_sources_write();
        let server = serve(NEW);
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
        assert_other_sources_untouched(&others, "sync_stores_the_2026_registry");
    }

    #[pg_test]
    fn paginated_and_single_page_store_the_same() {
        let _single = serve(NEW);
        sync();
        // deprecated_at of the expired models is the time of the sync that first stored them.
        let content = "SELECT md5(string_agg(concat_ws('|', ns, id, type, (data - 'deprecated_at')::text, content), E'\\n' ORDER BY ns, id)) FROM things";
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
        let _server = serve(NEW);
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
        let others = other_sources_write();
        let _server = serve(NEW);
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
        assert_other_sources_untouched(&others, "models_stored_without_state_are_taken_over");
    }

    /// A model row deleted outside the sync: the next sync forgets its state (it would
    /// otherwise count as unchanged and never be written again), and the one after writes
    /// it back, logged as added.
    #[pg_test]
    fn a_deleted_model_row_is_written_again() {
        let others = other_sources_write();
        let _server = serve(NEW);
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
        assert_eq!(
            count("SELECT count(*) FROM relationships WHERE type = 'provider'"),
            346
        );
        assert_other_sources_untouched(&others, "a_deleted_model_row_is_written_again");
    }

    #[pg_test]
    fn resync_is_idempotent() {
        let others = other_sources_write();
        let _server = serve(NEW);
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
        assert_other_sources_untouched(&others, "resync_is_idempotent");
    }

    #[pg_test]
    fn offline_sync_from_json() {
        let path = crate::tests::testkit::fixture_dir().join(NEW);
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
            "{n} models make more than two parts (MAX_PART in models/sync.rs)"
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
}
