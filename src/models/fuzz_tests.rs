//! Inputs built to break the parser and the mapper: property tests with a bounded number of
//! cases (run by cargo test, so in CI). Nothing may panic: every input is either mapped or
//! refused with an error.

use super::map::map_models;
use super::parse_page;
use crate::decimal::canonical_decimal;
use proptest::prelude::*;
use serde_json::{json, Value};

static FIXTURE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| crate::tests::testkit::fixture(crate::tests::testkit::NEW));

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap()
}

/// Marks a raw JSON text in a generated `Value`: `poison` puts the text itself in the body.
const POISON: &str = "@@raw@@";

/// The JSON text of `v` with every `"@@raw@@<text>@@raw@@"` string replaced by `<text>`.
fn poison(v: &Value) -> String {
    let text = v.to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    let open = format!("\"{POISON}");
    let close = format!("{POISON}\"");
    while let Some(i) = rest.find(&open) {
        out.push_str(&rest[..i]);
        let after = &rest[i + open.len()..];
        let j = after.find(&close).expect("closed");
        // The marked text went through a JSON string: undo its escaping.
        let raw: String = serde_json::from_str(&format!("\"{}\"", &after[..j])).unwrap();
        out.push_str(&raw);
        rest = &after[j + close.len()..];
    }
    out.push_str(rest);
    out
}

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        // Every code point, NUL and the other control characters included.
        prop::collection::vec(any::<char>(), 0..40)
            .prop_map(|c| Value::String(c.into_iter().collect())),
        // Numbers numeric cannot hold, and lone surrogates: JSON only as text (see `poison`).
        prop_oneof![
            Just("1e-16384"),
            Just("1e131072"),
            Just("-0.1e-16383"),
            Just("0e1073741823"),
            Just("\"\\ud800\""),
            Just("\"a\\udc00b\""),
            Just("\"\\u0000\""),
            Just("1e131071"),
        ]
        .prop_map(|raw| Value::String(format!("{POISON}{raw}{POISON}"))),
        prop_oneof![
            Just("-1"),
            Just("0"),
            Just("1e-7"),
            Just("0.000015"),
            Just("-0.5"),
            Just("1e999"),
            Just("NaN")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A model whose fields are replaced by arbitrary JSON here and there.
fn odd_model() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just(json!("acme/x")),
            Just(json!("acme/x:free")),
            Just(json!("no-slash")),
            Just(json!("a/b/c")),
            any_json()
        ],
        any_json(),
        any_json(),
        any_json(),
        any_json(),
        any_json(),
        any_json(),
    )
        .prop_map(|(id, name, ctx, pricing, arch, params, created)| {
            json!({"id": id, "name": name, "context_length": ctx, "pricing": pricing,
                   "architecture": arch, "supported_parameters": params, "created": created,
                   "expiration_date": "2020-01-01", "description": "d"})
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(body in "(?s).{0,300}") {
        if let Ok(page) = parse_page(&body) {
            let _ = map_models(&page.models.iter().map(|r| r.get()).collect::<Vec<_>>(), today());
        }
    }

    #[test]
    fn arbitrary_models_map_or_are_refused(models in prop::collection::vec(odd_model(), 1..8)) {
        let body = poison(&json!({"data": models}));
        let page = parse_page(&body).expect("a data array is a page");
        match map_models(&page.models.iter().map(|r| r.get()).collect::<Vec<_>>(), today()) {
            Ok(reg) => {
                for m in &reg.models {
                    // Whatever came in, what goes out is JSON Postgres can read, and no price is negative.
                    // (As raw values: 1e131071 is a fine numeric and no f64.)
                    let data: std::collections::BTreeMap<String, &serde_json::value::RawValue> =
                        serde_json::from_str(m.data()).expect("valid JSON");
                    prop_assert_eq!(data["id"].get(), serde_json::to_string(&m.id).unwrap());
                    prop_assert!(m.prices().values().flatten().all(|p| !p.starts_with('-')));
                    if let Some(c) = m.context_length { prop_assert!((0..=super::map::MAX_CONTEXT_LENGTH).contains(&c)); }
                    // ... and that PostgreSQL stores: jsonb accepts the documents, text the
                    // texts (no NUL), numeric the prices.
                    prop_assert!(crate::pg::jsonb::encode(m.data()).is_ok(), "{}", m.data());
                    prop_assert!(crate::pg::jsonb::encode(&m.pricing).is_ok(), "{}", m.pricing);
                    for text in [m.id.as_str(), m.description(), m.name.as_deref().unwrap_or("")] {
                        prop_assert!(!text.contains('\0'));
                    }
                    prop_assert!(reg.warnings.iter().all(|w| !w.contains('\0')));
                }
            }
            Err(e) => prop_assert!(e.reason.contains("id") || e.reason.contains("object"), "{}", e),
        }
    }

    #[test]
    fn canonical_decimals_are_stable(text in "[-+]?[0-9]{0,12}(\\.[0-9]{0,12})?([eE][-+]?[0-9]{1,3})?") {
        if let Some(c) = canonical_decimal(&text) {
            let again = canonical_decimal(&c);
            prop_assert_eq!(again.as_deref(), Some(c.as_str()));
            let a: f64 = c.parse().unwrap();
            let b: f64 = text.parse().unwrap();
            if b.is_finite() {
                prop_assert!((a - b).abs() <= b.abs() * 1e-12 + f64::MIN_POSITIVE);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn truncated_fixture_never_panics(cut in 0usize..737_295) {
        let body = &*FIXTURE;
        let cut = (0..=cut.min(body.len())).rev().find(|i| body.is_char_boundary(*i)).unwrap();
        if let Ok(page) = parse_page(&body[..cut]) {
            let _ = map_models(&page.models.iter().map(|r| r.get()).collect::<Vec<_>>(), today());
        }
    }
}

/// One bad value upstream must not fail every sync (issue 18): each becomes null with a
/// warning naming it, the rest of the model is kept, and a model whose id cannot be stored
/// is skipped. A real model of the fixture, with poison put into it.
#[test]
fn poison_values_become_null_field_by_field() {
    let page = parse_page(&FIXTURE).unwrap();
    let real = page.models[0].get();
    let mut model: Value = serde_json::from_str(real).unwrap();
    let id = model["id"].as_str().unwrap().to_string();
    let context_length = model["context_length"].as_i64().unwrap();
    let completion = model["pricing"]["completion"].as_str().unwrap().to_string();
    let mark = |raw: &str| Value::String(format!("{POISON}{raw}{POISON}"));
    model["description"] = json!("caf\u{0}e");
    model["name"] = json!("nul\u{0}name");
    model["pricing"]["prompt"] = json!(format!("0.{}", "3".repeat(20_000)));
    model["pricing"]["image"] = mark("1e-16384");
    model["top_provider"]["max_completion_tokens"] = mark("1e-16384");
    model["architecture"]["tokenizer"] = mark("\"\\ud800\"");
    model["benchmarks"] = json!({"a": [{"\u{0}": 1}]});
    model["new_field"] = json!({"deep": "x\u{0}"});
    model["\u{0}key"] = json!(1);
    let mut unstorable_id = model.clone();
    unstorable_id["id"] = json!("acme/x\u{0}y");
    let body = poison(&json!({"data": [model, unstorable_id]}));
    let page = parse_page(&body).unwrap();
    let raws: Vec<&str> = page.models.iter().map(|r| r.get()).collect();
    let reg = map_models(&raws, today()).expect("mapped");
    assert_eq!(reg.models.len(), 1, "{:?}", reg.warnings);
    let m = &reg.models[0];
    assert_eq!(m.id, id);
    let data: Value = serde_json::from_str(m.data()).unwrap();
    assert!(crate::pg::jsonb::encode(m.data()).is_ok(), "{}", m.data());
    assert!(crate::pg::jsonb::encode(&m.pricing).is_ok());
    // Null, field by field; the rest as the API sent it.
    assert_eq!(m.description(), "");
    assert_eq!(m.name, None);
    assert!(data.get("name").is_none());
    assert!(data["pricing"]["prompt"].is_null() && data["pricing"]["image"].is_null());
    assert_eq!(
        m.prices()["completion"].as_deref(),
        Some(completion.as_str())
    );
    assert!(data["top_provider"].is_null() && data["architecture"].is_null());
    assert!(data["benchmarks"].is_null() && data["extra"].get("new_field").is_none());
    assert_eq!(data["context_length"], context_length);
    assert_eq!(m.context_length, Some(context_length));
    let w = reg.warnings.join("\n");
    for expected in [
        format!("{id}: ignored \"description\": \\u0000 cannot be stored in jsonb"),
        format!("{id}: ignored \"name\": \\u0000"),
        format!("{id}: ignored price \"prompt\""),
        format!("{id}: ignored price \"image\""),
        format!("{id}: ignored \"top_provider\": a number out of numeric's range"),
        format!("{id}: ignored \"architecture\": invalid JSON for jsonb (a lone surrogate?)"),
        format!("{id}: ignored \"benchmarks\""),
        format!("{id}: ignored \"new_field\""),
        format!("{id}: ignored field \" key\": its name holds \\u0000"),
        "skipped model \"acme/x y\": its id holds \\u0000".to_string(),
    ] {
        assert!(w.contains(&expected), "{expected:?} not in\n{w}");
    }
    assert!(!w.contains('\0'));
}
