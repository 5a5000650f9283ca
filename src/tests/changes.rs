//! Postgres tests: What changes between syncs: vanished and returning models, price periods, the change log.

#[pgrx::pg_schema]
mod tests {
    use crate::tests::support::*;
    use crate::tests::testkit::sql::{count, one, run};
    use crate::tests::testkit::{fixture, NEW, OLD};
    use pgrx::prelude::*;
    use serde_json::Value;

    #[pg_test]
    fn older_then_newer_registry() {
        let others = other_sources_write();
        let _old = serve(OLD);
        assert_eq!(sync()["models"], 321);

        let _new = serve(NEW);
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
        assert_other_sources_untouched(&others, "older_then_newer_registry");
    }

    #[pg_test]
    fn vanished_models_are_kept_marked_and_come_back() {
        let others = other_sources_write();
        let (old_ids, new_ids, expired) = (ids_of(OLD), ids_of(NEW), expired_in(NEW));
        Spi::run_with_args(
            "SELECT openrouter_sync_from_text($1)",
            &[fixture(OLD).into()],
        )
        .unwrap();
        assert_state_matches_things("older file");
        let s = one::<pgrx::JsonB>(&format!(
            "SELECT openrouter_sync_from_text(pg_read_file('{}'), force => true)",
            crate::tests::testkit::fixture_dir().join(NEW).display()
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
        // A lab is live while it has a live model (one definition: openrouter_labs).
        let all_labs: std::collections::BTreeSet<String> =
            lab(&old_ids).union(&lab(&new_ids)).cloned().collect();
        let dead_labs = all_labs.difference(&lab(&live_new)).count() as i64;
        assert_eq!(
            count("SELECT count(*) FROM openrouter_labs_all WHERE is_deprecated"),
            dead_labs
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_labs WHERE is_deprecated"),
            0
        );

        // The older file again: what vanished returns, what was added in between vanishes.
        let s = one::<pgrx::JsonB>(&format!(
            "SELECT openrouter_sync_from_text(pg_read_file('{}'), force => true)",
            crate::tests::testkit::fixture_dir().join(OLD).display()
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
            count("SELECT count(*) FROM openrouter_labs_all WHERE is_deprecated"),
            lab(&new_ids).difference(&lab(&old_ids)).count() as i64
        );
        assert_other_sources_untouched(&others, "vanished_models_are_kept_marked_and_come_back");
    }

    #[pg_test]
    fn prices_in_force_at_a_time() {
        let _old = serve(OLD);
        sync();
        let _new = serve(NEW);
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

    /// `openrouter_sync_from_text(pg_read_file(<fixture>), <rest>)`.
    fn load(file: &str, rest: &str) {
        run(&format!(
            "SELECT openrouter_sync_from_text(pg_read_file('{}'), {rest})",
            crate::tests::testkit::fixture_dir().join(file).display()
        ));
    }

    // Issue 20, item 17: the change log's prices (USD per token, as stored) read per million
    // tokens too, for every per-token key; per request, per image and per search have no
    // twin. Computed from what is stored, so rows logged before 0.3.0 have them as well.
    #[pg_test]
    fn price_changes_per_million() {
        run("SET client_min_messages = warning");
        load(OLD, "as_of => '2025-05-23'");
        load(NEW, "force => true, as_of => '2026-03-10'");
        let change = |model: &str, kind: &str| {
            one::<String>(&format!(
                "SELECT concat_ws(' -> ', old_value_per_million, new_value_per_million)
                   FROM openrouter_changes('-infinity') WHERE model_id = '{model}' AND change = '{kind}'"
            ))
        };
        // devstral-small: 0.07 / 0.1 USD per million in May 2025, 0.1 / 0.3 in March 2026.
        assert_eq!(
            change("mistralai/devstral-small", "repriced"),
            r#"{"prompt": 0.07, "completion": 0.1} -> {"prompt": 0.1, "completion": 0.3}"#
        );
        // gemini-2.5-pro-preview: the cache prices fell and audio came. "image" (per image),
        // "request" and "web_search" are not per token: no twin, the stored value as it was.
        assert_eq!(
            change("google/gemini-2.5-pro-preview", "prices_changed"),
            r#"{"prompt": 1.25, "completion": 10, "input_cache_read": 0.31, "input_cache_write": 1.625, "internal_reasoning": 0} -> {"audio": 1.25, "prompt": 1.25, "completion": 10, "input_cache_read": 0.125, "input_cache_write": 0.375, "internal_reasoning": 10}"#
        );
        assert_eq!(
            one::<String>(
                "SELECT concat_ws(' -> ', old_value->'image', new_value->'image')
                   FROM openrouter_changes('-infinity') WHERE model_id = 'google/gemini-2.5-pro-preview' AND change = 'prices_changed'"
            ),
            "0.00516 -> 0.00000125",
            "the stored values are as they were"
        );
        // Every price object (added and removed models carry their prompt and completion
        // prices), each per-token key exactly a million times the stored price, no other key;
        // changes that are not prices have none.
        assert_eq!(
            count(
                "SELECT count(*) FROM openrouter_changes('-infinity') c,
                        LATERAL (VALUES (c.old_value, c.old_value_per_million), (c.new_value, c.new_value_per_million)) v(raw, pm)
                  WHERE c.change IN ('added', 'removed', 'repriced', 'prices_changed') AND v.raw IS NOT NULL
                    AND v.pm IS DISTINCT FROM (SELECT jsonb_object_agg(k, (v.raw->>k)::numeric * 1000000)
                                                 FROM jsonb_object_keys(v.raw) k
                                                WHERE k IN ('prompt', 'completion', 'input_cache_read', 'input_cache_write', 'audio', 'internal_reasoning'))"
            ),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_changes('-infinity') WHERE change IN ('added', 'removed', 'repriced', 'prices_changed')
                      AND old_value_per_million IS NULL AND new_value_per_million IS NULL"),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_changes('-infinity') WHERE change IN ('added', 'removed')"),
            count("SELECT count(*) FROM openrouter_changes('-infinity') WHERE change = 'added' AND new_value_per_million ? 'prompt'")
                + count("SELECT count(*) FROM openrouter_changes('-infinity') WHERE change = 'removed' AND old_value_per_million ? 'prompt'")
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_changes('-infinity') WHERE change NOT IN ('added', 'removed', 'repriced', 'prices_changed')
                      AND (old_value_per_million IS NOT NULL OR new_value_per_million IS NOT NULL)"),
            0
        );
        // A price period, per million too.
        assert_eq!(
            one::<String>(
                "SELECT concat_ws(' ', prompt_price_per_million, completion_price_per_million, pricing_per_million)
                   FROM openrouter_price_at('mistralai/devstral-small', '2025-06-01')"
            ),
            r#"0.07 0.1 {"prompt": 0.07, "completion": 0.1, "internal_reasoning": 0}"#
        );
    }

    #[pg_test]
    fn rename_context_change_expiry_and_other_prices() {
        let others = other_sources_write();
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
        assert_other_sources_untouched(&others, "rename_context_change_expiry_and_other_prices");
    }
}
