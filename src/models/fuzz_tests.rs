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

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        "\\PC{0,40}".prop_map(Value::String),
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
    fn arbitrary_text_never_panics(body in "\\PC{0,300}") {
        if let Ok(page) = parse_page(&body) {
            let _ = map_models(&page.models.iter().map(|r| r.get()).collect::<Vec<_>>(), today());
        }
    }

    #[test]
    fn arbitrary_models_map_or_are_refused(models in prop::collection::vec(odd_model(), 1..8)) {
        let body = json!({"data": models}).to_string();
        let page = parse_page(&body).expect("a data array is a page");
        match map_models(&page.models.iter().map(|r| r.get()).collect::<Vec<_>>(), today()) {
            Ok(reg) => {
                for m in &reg.models {
                    // Whatever came in, what goes out is JSON Postgres can read, and no price is negative.
                    let data: Value = serde_json::from_str(m.data()).expect("valid JSON");
                    prop_assert_eq!(data["id"].as_str(), Some(m.id.as_str()));
                    prop_assert!(m.prices().values().flatten().all(|p| !p.starts_with('-')));
                    if let Some(c) = m.context_length { prop_assert!((0..=super::map::MAX_CONTEXT_LENGTH).contains(&c)); }
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
