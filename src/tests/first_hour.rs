//! Postgres tests: what a DBA and an analyst ran into in their first hour (issue 20), one test
//! per defect, on the real fixtures.

#[pgrx::pg_schema]
mod tests {
    use crate::tests::support::*;
    use crate::tests::testkit::sql::{count, one, run};
    use crate::tests::testkit::{fixture, fixture_dir, TestServer, NEW, OLD};
    use pgrx::prelude::*;
    use serde_json::Value;

    /// `openrouter_sync_from_text(pg_read_file(<fixture>) <rest>)`, its summary.
    fn load(file: &str, rest: &str) -> Value {
        one::<pgrx::JsonB>(&format!(
            "SELECT openrouter_sync_from_text(pg_read_file('{}'){rest})",
            fixture_dir().join(file).display()
        ))
        .0
    }

    fn text(sql: &str) -> String {
        one::<String>(sql)
    }

    // 2. duration_ms of the run's row is the whole sync (finished_at - started_at), and the
    // summary says the same figure.
    #[pg_test]
    fn run_duration_is_finished_minus_started() {
        run("SET client_min_messages = warning");
        let s = load(NEW, "");
        let row = text(
            "SELECT duration_ms::text || ' ' || round(extract(epoch FROM finished_at - started_at) * 1000, 1)::text
               FROM openrouter_sync_runs",
        );
        let (stored, span) = row.split_once(' ').unwrap();
        assert_eq!(stored, span, "duration_ms vs finished_at - started_at");
        assert_eq!(s["duration_ms"].to_string(), stored, "the summary's figure");
    }

    // 3. Every deprecated model has deprecated_at: expired ones too.
    #[pg_test]
    fn expired_models_have_deprecated_at() {
        run("SET client_min_messages = warning");
        let expired = expired_in(NEW);
        assert_eq!(expired.len(), 10);
        load(NEW, "");
        assert_eq!(
            count("SELECT count(*) FROM openrouter_models_all WHERE deprecated_reason = 'expired' AND deprecated_at = first_seen"),
            10,
            "first seen expired: deprecated since that sync"
        );
        // Seen live first, expired later: the time of the sync that saw it expired.
        empty(&[
            "things",
            "relationships",
            "openrouter_model_state",
            "openrouter_price_history",
            "openrouter_change_log",
            "openrouter_sync_runs",
        ]);
        load(OLD, "");
        load(NEW, ", force => true");
        assert_eq!(
            count("SELECT count(*) FROM openrouter_models_all WHERE is_deprecated AND deprecated_at IS NULL"),
            0
        );
        assert!(one::<bool>(
            "SELECT bool_and(m.deprecated_at = c.changed_at) AND count(*) > 0
               FROM openrouter_models_all m JOIN openrouter_change_log c ON c.model_id = m.id AND c.change = 'expired'"
        ));
        // A later sync keeps the time.
        let before = text("SELECT string_agg(id || deprecated_at, ',' ORDER BY id) FROM openrouter_models_all WHERE is_deprecated");
        load(NEW, "");
        assert_eq!(before, text("SELECT string_agg(id || deprecated_at, ',' ORDER BY id) FROM openrouter_models_all WHERE is_deprecated"));
    }

    fn empty(tables: &[&str]) {
        crate::tests::testkit::sql::empty(tables);
    }

    // 12. model_cost over every model: NULL for a variable price; NULL in, NULL out.
    #[pg_test]
    fn model_cost_over_all_models() {
        run("SET client_min_messages = warning");
        load(NEW, "");
        assert_eq!(
            count("SELECT count(*) FROM (SELECT id, model_cost(id, 10000, 1000) AS c FROM openrouter_models) x WHERE c IS NULL"),
            count("SELECT count(*) FROM openrouter_models WHERE is_variable_price")
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_models WHERE is_variable_price"),
            2
        );
        assert!(one::<bool>(
            "SELECT model_cost('openrouter/auto', 10000, 1000) IS NULL"
        ));
        assert!(one::<bool>("SELECT model_cost(NULL, 10000, 1000) IS NULL"));
        assert!(one::<bool>(
            "SELECT model_cost('anthropic/claude-opus-4', NULL, 1000) IS NULL"
        ));
        assert!(one::<bool>(
            "SELECT model_cost('anthropic/claude-opus-4', 10000, 1000, requests => NULL) IS NULL"
        ));
        // 10000 * 0.000015 + 1000 * 0.000075
        assert_eq!(
            one::<pgrx::AnyNumeric>("SELECT model_cost('anthropic/claude-opus-4', 10000, 1000)")
                .to_string(),
            "0.225"
        );
        assert!(err("SELECT model_cost('no/such-model', 1, 1)")
            .starts_with("P0002: model_cost: unknown model"));
    }

    // 23. NULL arguments of the syncs are an error, not a silent NULL.
    #[pg_test]
    fn null_arguments_raise() {
        run("SET client_min_messages = warning");
        let before = fingerprint();
        assert_eq!(
            err("SELECT openrouter_sync_from_text(NULL)"),
            "22023: openrouter: openrouter_sync_from_text: payload must not be NULL"
        );
        assert_eq!(
            err("SELECT openrouter_sync_from_json(NULL)"),
            "22023: openrouter: openrouter_sync_from_json: payload must not be NULL"
        );
        assert_eq!(
            err(&format!(
                "SELECT openrouter_sync_from_text(pg_read_file('{}'), force => NULL)",
                fixture_dir().join(NEW).display()
            )),
            "22023: openrouter: openrouter_sync_from_text: force must not be NULL"
        );
        assert_eq!(
            err("SELECT openrouter_sync(force => NULL)"),
            "22023: openrouter: openrouter_sync: force must not be NULL"
        );
        assert_eq!(
            err("SELECT openrouter_sync(endpoints => NULL)"),
            "22023: openrouter: openrouter_sync: endpoints must not be NULL"
        );
        assert_eq!(fingerprint(), before);
    }

    /// Models live in the newer file (not expired today).
    fn live_in_new() -> Vec<Value> {
        let doc: Value = serde_json::from_str(&fixture(NEW)).unwrap();
        let expired = expired_in(NEW);
        doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| !expired.contains(m["id"].as_str().unwrap()))
            .cloned()
            .collect()
    }

    // 10. The first parameter says "strictly more than".
    #[pg_test]
    fn context_above_is_strict_and_says_so() {
        run("SET client_min_messages = warning");
        load(NEW, "");
        let exact = live_in_new()
            .iter()
            .filter(|m| m["context_length"] == 128000 && m["pricing"]["prompt"] != "-1")
            .count() as i64;
        assert_eq!(exact, 42);
        assert_eq!(count("SELECT count(*) FROM cheapest_models(context_above => 128000, max_results => 1000) WHERE context_length = 128000"), 0);
        assert_eq!(
            count(
                "SELECT count(*) FROM cheapest_models(127999, 1000) WHERE context_length = 128000"
            ),
            exact
        );
        assert!(
            err("SELECT * FROM cheapest_models(min_context => 128000)").contains("does not exist")
        );
    }

    // 9. Filters accept what a person types, and refuse the rest naming the valid values.
    #[pg_test]
    fn cheapest_models_filters_are_tolerant() {
        run("SET client_min_messages = warning");
        load(NEW, "");
        let tools = live_in_new()
            .iter()
            .filter(|m| m["pricing"]["prompt"] != "-1")
            .filter(|m| {
                m["supported_parameters"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p == "tools"))
            })
            .count() as i64;
        assert!(tools > 100, "{tools}");
        for f in [
            "tools",
            "TOOLS",
            "function_calling",
            "supports_tools",
            " Tools ",
        ] {
            assert_eq!(
                count(&format!(
                    "SELECT count(*) FROM cheapest_models(0, 1000, feature => '{f}')"
                )),
                tools,
                "{f}"
            );
        }
        let openai = count(
            "SELECT count(*) FROM openrouter_models WHERE lab = 'openai' AND NOT is_variable_price",
        );
        assert!(openai > 10);
        for l in ["openai", "OpenAI", "OPENAI"] {
            assert_eq!(
                count(&format!(
                    "SELECT count(*) FROM cheapest_models(0, 1000, lab => '{l}')"
                )),
                openai,
                "{l}"
            );
        }
        let image = count("SELECT count(*) FROM openrouter_models WHERE 'image' = ANY(modalities) AND NOT is_variable_price");
        assert!(image > 50);
        for m in ["image", "IMAGE", "Image"] {
            assert_eq!(
                count(&format!(
                    "SELECT count(*) FROM cheapest_models(0, 1000, modality => '{m}')"
                )),
                image,
                "{m}"
            );
        }
        assert_eq!(
            err("SELECT * FROM cheapest_models(0, feature => 'telepathy')"),
            "22023: cheapest_models: unknown feature 'telepathy'"
        );
        assert_eq!(
            err("SELECT * FROM cheapest_models(0, modality => 'smell')"),
            "22023: cheapest_models: unknown modality 'smell'"
        );
        assert_eq!(
            err("SELECT * FROM cheapest_models(0, lab => 'Acme')"),
            "22023: cheapest_models: unknown lab 'Acme'"
        );
        run("CREATE OR REPLACE FUNCTION pg_temp.hint(q text) RETURNS text LANGUAGE plpgsql AS $$
             DECLARE h text; BEGIN EXECUTE q; RETURN NULL;
             EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT; RETURN h; END $$");
        let hint = text(
            "SELECT pg_temp.hint('SELECT * FROM cheapest_models(0, feature => ''telepathy'')')",
        );
        assert!(
            hint.contains("function_calling")
                && hint.contains("tools")
                && hint.contains("reasoning"),
            "{hint}"
        );
        let hint = text("SELECT pg_temp.hint('SELECT * FROM cheapest_models(0, lab => ''Acme'')')");
        assert!(
            hint.contains("anthropic, ") && hint.contains("openai"),
            "{hint}"
        );
    }

    // 16. A key at zero and a key left out are the same price: no change, no new period.
    #[pg_test]
    fn zero_and_absent_prices_are_equal() {
        run("SET client_min_messages = warning");
        load(OLD, "");
        let s = load(NEW, ", force => true");
        assert_eq!(s["repriced"], 63);
        assert_eq!(
            s["prices_changed"], 35,
            "85 in the file, 50 of them only lost zero keys"
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_change_log WHERE change = 'prices_changed'"),
            35
        );
        // Only those opened a second price period.
        assert_eq!(
            count("SELECT count(*) FROM (SELECT model_id FROM openrouter_price_history GROUP BY model_id HAVING count(*) > 1) x"),
            63 + 35
        );
    }

    // 15. Modalities sorted, the API's architecture.modality exposed.
    #[pg_test]
    fn modalities_are_sorted() {
        run("SET client_min_messages = warning");
        load(NEW, "");
        assert_eq!(
            count("SELECT count(DISTINCT input_modalities) FROM openrouter_models_all"),
            9
        );
        assert_eq!(count("SELECT count(*) FROM openrouter_models_all WHERE input_modalities <> ARRAY(SELECT unnest(input_modalities) ORDER BY 1)"), 0);
        assert_eq!(
            text("SELECT modality || ' ' || input_modalities::text FROM openrouter_models_all WHERE id = 'openai/gpt-4o'"),
            "text+image+file->text {file,image,text}"
        );
    }

    // 7. A read-only transaction: a clear error before anything is fetched.
    #[pg_test]
    fn read_only_transaction_fails_before_the_fetch() {
        let server = TestServer::registry(fixture(NEW), None);
        point_at(&server.models_url());
        err("SELECT 1"); // creates pg_temp.err while it still can
        run("SET LOCAL transaction_read_only = on");
        assert_eq!(
            err("SELECT openrouter_sync()"),
            "25006: openrouter: openrouter_sync() cannot run in a read-only transaction (it writes the registry)"
        );
        assert_eq!(server.hits(), 0);
    }

    // 22. Every message names the entry point that was called.
    #[pg_test]
    fn messages_name_the_entry_point() {
        run("SET client_min_messages = warning");
        let s = load(OLD, "");
        assert_eq!(s["source"], "openrouter_sync_from_text");
        assert_eq!(count("SELECT count(*) FROM openrouter_sync_runs WHERE source = 'openrouter_sync_from_text'"), 1);
        assert_eq!(
            err("SELECT openrouter_sync_from_text('{\"data\": [{\"name\": \"no id\"}]}')"),
            "22000: openrouter: the payload given to openrouter_sync_from_text is unusable: model #1 in the response has no \"id\""
        );
        run("CREATE OR REPLACE FUNCTION pg_temp.hint(q text) RETURNS text LANGUAGE plpgsql AS $$
             DECLARE h text; BEGIN EXECUTE q; RETURN NULL;
             EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT; RETURN h; END $$");
        let hint =
            text("SELECT pg_temp.hint('SELECT openrouter_sync_from_json(''{\"data\": {}}'')')");
        assert!(!hint.contains("api_url"), "{hint}");
        let hint = text(&format!(
            "SELECT pg_temp.hint($q$SELECT openrouter_sync_from_text(pg_read_file('{}'))$q$)",
            fixture_dir().join(NEW).display()
        ));
        assert!(
            hint.contains("openrouter_sync_from_text(..., force => true)"),
            "{hint}"
        );
    }

    // 21. Archived snapshots loaded in date order build real price history.
    #[pg_test]
    fn as_of_builds_price_history() {
        run("SET client_min_messages = warning");
        load(OLD, ", as_of => '2025-05-23 00:00:00+00'");
        let s = load(NEW, ", force => true, as_of => '2026-03-10 00:00:00+00'");
        // Expired on 2026-03-10, not today: 4 models, 2 of them listed live before.
        let doc: Value = serde_json::from_str(&fixture(NEW)).unwrap();
        let expired: Vec<&str> = doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| {
                m["expiration_date"]
                    .as_str()
                    .is_some_and(|d| d < "2026-03-10")
            })
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(expired.len(), 4);
        let before = expired
            .iter()
            .filter(|id| ids_of(OLD).contains(**id))
            .count();
        assert_eq!(s["expired"], before);
        assert_eq!(
            count("SELECT count(*) FROM openrouter_models_all WHERE deprecated_reason = 'expired'"),
            4
        );
        assert_eq!(count("SELECT count(*) FROM openrouter_models_all WHERE deprecated_reason = 'expired' AND deprecated_at IN ('2025-05-23 00:00:00+00', '2026-03-10 00:00:00+00')"), 4);
        assert_eq!(
            one::<pgrx::AnyNumeric>(
                "SELECT model_cost('mistralai/devstral-small', 1000000, 0, at => '2025-06-01')"
            )
            .to_string(),
            "0.07"
        );
        assert_eq!(
            one::<pgrx::AnyNumeric>(
                "SELECT model_cost('mistralai/devstral-small', 1000000, 0, at => '2026-03-11')"
            )
            .to_string(),
            "0.1"
        );
        assert_eq!(
            text("SELECT string_agg(valid_from::date::text, ' ' ORDER BY valid_from) FROM openrouter_price_history WHERE model_id = 'mistralai/devstral-small'"),
            "2025-05-23 2026-03-10"
        );
        assert_eq!(count("SELECT count(*) FROM openrouter_change_log WHERE changed_at <> '2026-03-10 00:00:00+00'"), 0);
        let before = fingerprint();
        assert_eq!(
            err(&format!("SELECT openrouter_sync_from_text(pg_read_file('{}'), as_of => '2025-05-24 00:00:00+00')", fixture_dir().join(OLD).display())),
            "55000: openrouter: openrouter_sync_from_text: as_of 2025-05-24 00:00:00+00 is not after the last sync (2026-03-10 00:00:00+00): snapshots are loaded in date order"
        );
        assert_eq!(fingerprint(), before);
    }

    // 19, 20, 17, 13: one definition of a live lab, `lab` in the views, per-million twins,
    // openrouter_labs in one pass.
    #[pg_test]
    fn labs_live_named_and_in_one_pass() {
        run("SET client_min_messages = warning");
        load(OLD, "");
        load(NEW, ", force => true");
        let live = count("SELECT count(DISTINCT lab) FROM openrouter_models");
        assert_eq!(count("SELECT count(*) FROM openrouter_labs"), live);
        assert_eq!(one::<i64>("SELECT labs FROM openrouter_health()"), live);
        assert_eq!(
            count("SELECT count(*) FROM openrouter_labs WHERE model_count = 0"),
            0
        );
        assert_eq!(
            count("SELECT count(*) FROM openrouter_labs_all WHERE is_deprecated"),
            count("SELECT count(*) FROM things WHERE ns = 'labs'") - live
        );
        assert!(one::<bool>(
            "SELECT bool_and(cheapest_prompt_price_per_million = cheapest_prompt_price * 1000000) FROM openrouter_labs"
        ));
        assert!(one::<bool>(
            "SELECT bool_and(input_cache_read_price_per_million IS NOT DISTINCT FROM input_cache_read_price * 1000000
                         AND input_cache_write_price_per_million IS NOT DISTINCT FROM input_cache_write_price * 1000000
                         AND internal_reasoning_price_per_million IS NOT DISTINCT FROM internal_reasoning_price * 1000000
                         AND audio_price_per_million IS NOT DISTINCT FROM audio_price * 1000000)
               FROM openrouter_models_all"
        ));
        assert_eq!(
            count("SELECT count(*) FROM openrouter_models WHERE lab = 'openai'"),
            count("SELECT count(*) FROM openrouter_models WHERE id LIKE 'openai/%'")
        );
        // One pass: every aggregate of the plan runs once, not once per lab.
        run("CREATE FUNCTION pg_temp.plan(q text) RETURNS jsonb LANGUAGE plpgsql AS $$
             DECLARE p jsonb; BEGIN EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || q INTO p; RETURN p; END $$");
        assert_eq!(
            count("SELECT count(*) FROM jsonb_path_query(pg_temp.plan('SELECT * FROM openrouter_labs'),
                     'lax $.** ? (@.\"Node Type\" == \"Aggregate\" && @.\"Actual Loops\" > 1)')"),
            0
        );
    }

    // 18. Every column of the analyst's views and of the extension's tables has a COMMENT.
    #[pg_test]
    fn every_column_says_what_it_holds() {
        let missing = text(
            "SELECT coalesce(string_agg(c.relname || '.' || a.attname, ', ' ORDER BY c.relname, a.attnum), '')
               FROM pg_class c
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v')
                AND (c.relname LIKE 'openrouter_%' OR c.relname IN ('things', 'relationships'))
                AND col_description(c.oid, a.attnum) IS NULL",
        );
        assert_eq!(missing, "");
        assert_eq!(
            text("SELECT col_description('openrouter_models'::regclass, a.attnum) FROM pg_attribute a
                   WHERE a.attrelid = 'openrouter_models'::regclass AND a.attname = 'prompt_price'"),
            "USD per prompt (input) token; null when variable (is_variable_price)."
        );
    }

    // 1 and 4: health and scheduling for roles other than a superuser; an unscheduled job's
    // failure is history.
    // pg_cron exists for Debian's 15 only here (issue 21): its tests run there.
    #[cfg(feature = "pg15")]
    #[pg_test]
    fn health_and_schedule_for_other_roles() {
        run("SET client_min_messages = warning");
        run("CREATE EXTENSION IF NOT EXISTS pg_cron");
        let job = one::<i64>("SELECT openrouter_schedule()");
        run(&format!(
            "INSERT INTO cron.job_run_details (jobid, runid, job_pid, database, username, command, status, return_message, start_time, end_time)
             VALUES ({job}, 1, 1, current_database(), current_user, 'SELECT public.openrouter_sync()', 'failed',
                     'ERROR:  openrouter: could not connect', now(), now())"
        ));
        run("CREATE ROLE or_monitor");
        run("CREATE ROLE or_scheduler IN ROLE openrouter_admin");
        run("GRANT USAGE ON SCHEMA cron TO or_scheduler");
        err("SELECT 1"); // pg_temp.err, created as the superuser
                         // A monitoring role sees the superuser's job and its failure.
        run("SET LOCAL ROLE or_monitor");
        assert_eq!(
            text("SELECT concat_ws(' | ', status, schedule, job_name, last_failure) FROM openrouter_health()"),
            "failing | 0 2 * * * | openrouter-sync | ERROR:  openrouter: could not connect"
        );
        run("RESET ROLE");
        // A member of openrouter_admin passes the check of pg_cron's settings.
        run("SET LOCAL ROLE or_scheduler");
        let e = err("SELECT openrouter_schedule('0 3 * * *', 'openrouter-sync-2')");
        run("RESET ROLE");
        assert!(
            !e.contains("shared_preload_libraries") && !e.contains("pg_read_all_settings"),
            "{e}"
        );
        // Unscheduled, the job's failure is no longer the current state.
        assert!(one::<bool>("SELECT openrouter_unschedule()"));
        run("SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = 'openrouter-sync-2'");
        assert_eq!(
            text("SELECT status || ' ' || (last_failure IS NULL) FROM openrouter_health()"),
            "never synced true"
        );
    }

    // 11. A workload ranks by the cost model_cost() gives, and returns it.
    #[pg_test]
    fn cheapest_for_a_workload() {
        run("SET client_min_messages = warning");
        load(NEW, "");
        assert!(one::<bool>(
            "SELECT bool_and(c.cost = model_cost(c.id, 10000, 1000)) AND count(*) = 20
               FROM cheapest_models(100000, 20, prompt_tokens => 10000, completion_tokens => 1000) c"
        ));
        // Cheapest first by that cost, which orders otherwise than the prompt price.
        let by_cost = text("SELECT string_agg(id, ',' ORDER BY n) FROM (SELECT id, row_number() OVER () AS n FROM cheapest_models(100000, 30, exclude_free => true, prompt_tokens => 10000, completion_tokens => 1000)) x");
        let expected = text("SELECT string_agg(id, ',' ORDER BY c, p, cp, id) FROM (
                               SELECT id, model_cost(id, 10000, 1000) AS c, prompt_price AS p, completion_price AS cp FROM openrouter_models
                                WHERE context_length > 100000 AND NOT is_variable_price AND NOT is_free
                                ORDER BY 2, 3, 4, 1 LIMIT 30) x");
        assert_eq!(by_cost, expected);
        assert_ne!(
            by_cost,
            text(
                "SELECT string_agg(id, ',') FROM cheapest_models(100000, 30, exclude_free => true)"
            )
        );
    }

    // 5. The key is never shown, even when the server echoes it back.
    #[pg_test]
    fn the_key_is_never_shown() {
        let key = "sk-or-v1-0123456789abcdef0123456789abcdef";
        let server = TestServer::start(move |_, _| {
            crate::tests::testkit::Reply::json(
                400,
                format!(
                    r#"{{"error":{{"message":"bad request; headers were Authorization: Bearer {key}"}}}}"#
                ),
            )
        });
        point_at(&server.models_url());
        run(&format!("SET openrouter.api_key = '{key}'"));
        let e = err("SELECT openrouter_sync()");
        assert!(e.starts_with("58000: openrouter: GET"), "{e}");
        assert!(!e.contains(key) && !e.contains("0123456789abcdef"), "{e}");
        assert!(e.ends_with("Authorization: Bearer ***"), "{e}");
        run("RESET openrouter.api_key");
    }

    // 14. Alias models (~lab/...): their lab is the lab, they are marked, and cheapest_models
    // leaves them out unless asked. A registry of our own in the API's shape (the shared
    // fixtures predate aliases): both shapes of alias_target, and a name without a colon.
    #[pg_test]
    fn alias_models_belong_to_their_lab() {
        run("SET client_min_messages = warning");
        let model = |id: &str, name: &str, prompt: &str, extra: &str| {
            format!(
                r#"{{"id": "{id}", "name": "{name}", "context_length": 200000, "architecture": {{"modality": "text->text", "input_modalities": ["text"], "output_modalities": ["text"]}},
                    "pricing": {{"prompt": "{prompt}", "completion": "0.000075"}}, "supported_parameters": ["tools"]{extra}}}"#
            )
        };
        let body = format!(
            r#"{{"data": [{}, {}, {}, {}]}}"#,
            model(
                "anthropic/claude-opus-4.1",
                "Anthropic: Claude Opus 4.1",
                "0.000015",
                ""
            ),
            model(
                "~anthropic/claude-opus-latest",
                "Anthropic: Claude Opus Latest",
                "0.000015",
                r#", "alias_target": {"name": "Anthropic: Claude Opus 4.1", "slug": "anthropic/claude-opus-4.1"}"#
            ),
            model("openai/gpt-5", "OpenAI: GPT-5", "0.00000125", ""),
            model("~openai/gpt-latest", "OpenAI GPT Latest", "0.00000125", ""),
        );
        Spi::run_with_args("SELECT openrouter_sync_from_text($1)", &[body.into()]).unwrap();
        assert_eq!(
            text("SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM openrouter_labs"),
            "anthropic=Anthropic,openai=OpenAI"
        );
        assert_eq!(
            count("SELECT count(*) FROM things WHERE ns = 'labs' AND id LIKE '~%'"),
            0
        );
        assert_eq!(
            text("SELECT string_agg(concat_ws(' ', id, lab, is_alias, coalesce(alias_target, '-')), ', ' ORDER BY id) FROM openrouter_models WHERE is_alias"),
            "~anthropic/claude-opus-latest anthropic t anthropic/claude-opus-4.1, ~openai/gpt-latest openai t -"
        );
        assert_eq!(
            count("SELECT count(*) FROM relationships WHERE from_id = 'anthropic'"),
            2
        );
        assert_eq!(
            text("SELECT string_agg(id, ',') FROM cheapest_models(0)"),
            "openai/gpt-5,anthropic/claude-opus-4.1"
        );
        assert_eq!(
            count("SELECT count(*) FROM cheapest_models(0, include_aliases => true)"),
            4
        );
        assert_eq!(count("SELECT count(*) FROM things WHERE ns = 'models' AND data->'extra' ? 'alias_target'"), 0);
    }

    // 5. A key stored in pg_db_role_setting (ALTER DATABASE ... SET in a session that had not
    // loaded the library) is found and reported, with the statement that removes it.
    #[pg_test]
    fn a_key_in_the_catalog_is_reported() {
        run("SET client_min_messages = warning");
        // As a session without the library would store it (the check hook refuses it here).
        run("INSERT INTO pg_db_role_setting (setdatabase, setrole, setconfig)
             SELECT oid, 0, '{openrouter.api_key=sk-or-v1-stored}' FROM pg_database WHERE datname = current_database()");
        assert_eq!(
            text("SELECT status || ' | ' || exposed_key FROM openrouter_health()"),
            "key exposed | openrouter.api_key is stored in pg_db_role_setting, readable by every role: run ALTER DATABASE pgrx_tests RESET openrouter.api_key"
        );
        run("DELETE FROM pg_db_role_setting WHERE setconfig = '{openrouter.api_key=sk-or-v1-stored}'");
        assert!(one::<bool>(
            "SELECT exposed_key IS NULL FROM openrouter_health()"
        ));
    }

    // 5. A function's SET clause is kept in pg_proc.proconfig, which every role can read, and
    // such a function puts the key in force whenever it runs: found and reported too.
    #[pg_test]
    fn a_key_in_a_function_set_clause_is_reported() {
        run("SET client_min_messages = warning");
        run("CREATE FUNCTION pg_temp.with_key() RETURNS int LANGUAGE sql AS 'SELECT 1'");
        // As a session without the library would store it (the check hook refuses it here).
        run("UPDATE pg_proc SET proconfig = '{search_path=public,openrouter.api_key=sk-or-v1-stored}'
              WHERE proname = 'with_key' AND pronamespace = pg_my_temp_schema()");
        let fname = text("SELECT oid::regprocedure::text FROM pg_proc WHERE proname = 'with_key'");
        assert_eq!(
            text("SELECT status || ' | ' || exposed_key FROM openrouter_health()"),
            format!("key exposed | openrouter.api_key is stored in the SET clause of function {fname} (pg_proc), readable by every role: run ALTER FUNCTION {fname} RESET openrouter.api_key")
        );
        run(&format!("ALTER FUNCTION {fname} RESET openrouter.api_key"));
        assert!(one::<bool>(
            "SELECT exposed_key IS NULL FROM openrouter_health()"
        ));
    }
}
