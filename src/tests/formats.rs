//! Postgres tests: PostgreSQL's formats built in Rust (binary jsonb, array parameters, LZ4) against the server's own.

#[pgrx::pg_schema]
mod tests {
    use crate::tests::support::*;
    use crate::tests::testkit::sql::{count, empty, run};
    use crate::tests::testkit::{fixture, TestServer, NEW, OLD};
    use pgrx::prelude::*;
    use serde_json::Value;

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
            let page = crate::models::parse_page(&body).unwrap();
            let raws: Vec<&str> = page.models.iter().map(|m| m.get()).collect();
            let reg = crate::models::map_models(&raws, today).unwrap();
            let docs = reg
                .models
                .iter()
                .flat_map(|m| [m.data(), m.pricing.as_str()])
                .chain(reg.labs.iter().map(|l| l.data.as_str()))
                .chain(raws.iter().copied());
            for doc in docs {
                let ours = crate::pg::jsonb::encode(doc)
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
        assert!(crate::pg::jsonb::encode(&big).is_err());
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
                crate::pg::arrays::jsonb_array_of_texts(&docs),
                docs.clone().into(),
            ],
        )
        .unwrap();
        assert_eq!(same, Some(true));
        let empty = Spi::get_one_with_args::<bool>(
            "SELECT $1 = '{}'::jsonb[] AND cardinality($1) = 0",
            &[crate::pg::arrays::jsonb_array_of_texts(&[])],
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
                crate::pg::arrays::nullable_text_array(&texts),
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
                crate::pg::arrays::text_array(&present),
                literal(&present_opt)
            ),
            Some(true)
        );
        // Nulls are where the bitmap says: positions 1, 5, 8, 11, 14 and the last (1-based).
        let nulls = Spi::get_one_with_args::<String>(
            "SELECT string_agg(i::text, ',' ORDER BY i) FROM generate_subscripts($1::text[], 1) i
              WHERE ($1::text[])[i] IS NULL",
            &[crate::pg::arrays::nullable_text_array(&texts)],
        )
        .unwrap();
        assert_eq!(nulls.as_deref(), Some("1,5,8,11,14,17,20"));
        let empty = Spi::get_one_with_args::<bool>(
            "SELECT $1 = '{}'::text[] AND cardinality($1) = 0",
            &[crate::pg::arrays::text_array::<&str>(&[])],
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
        // This test alters things (an AccessExclusiveLock until its end) and syncs. Another
        // test may hold a lock on things (having read it) while it waits for the sync lock,
        // or hold the sync lock while it waits for things: to join neither cycle, this one
        // takes both at once or neither (the sync lock as a session lock, given back when
        // things is not free; things without waiting).
        run(&format!(
            "DO $$
             BEGIN
               LOOP
                 PERFORM pg_advisory_lock({key});
                 BEGIN
                   LOCK TABLE things IN ACCESS EXCLUSIVE MODE NOWAIT;
                   EXIT;
                 EXCEPTION WHEN lock_not_available THEN
                   PERFORM pg_advisory_unlock({key});
                   PERFORM pg_sleep(0.05);
                 END;
               END LOOP;
             END $$",
            key = crate::pg::spi::SYNC_LOCK_KEY
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
        // The session's sync lock (the transaction's lock on things ends with the test).
        run(&format!(
            "SELECT pg_advisory_unlock({})",
            crate::pg::spi::SYNC_LOCK_KEY
        ));
    }
}
