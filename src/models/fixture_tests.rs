//! Parsing, mapping and diffing on the two real API responses in ../shared/fixtures.

use super::diff::{diff, Prior};
use super::map::{map_models, Registry};
use super::parse_page;
use super::prices::prices_from_stored;
use crate::tests::testkit::{fixture, NEW, OLD};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap()
}

/// Every model of a fixture, mapped (also used by mapping's own tests).
pub(super) fn mapped(name: &str) -> Registry {
    let body = fixture(name);
    let page = parse_page(&body).unwrap();
    assert!(page.next.is_none());
    map_models(
        &page.models.iter().map(|r| r.get()).collect::<Vec<_>>(),
        today(),
    )
    .unwrap()
}

fn data_of(reg: &Registry, id: &str) -> Value {
    let m = reg
        .models
        .iter()
        .find(|m| m.id == id)
        .unwrap_or_else(|| panic!("{id} missing"));
    serde_json::from_str(m.data()).unwrap()
}

/// Independent reading of a fixture with a generic JSON parser.
fn raw_models(name: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(&fixture(name)).unwrap();
    v["data"].as_array().unwrap().clone()
}

#[test]
fn counts_match_the_files() {
    for (name, models, labs) in [(OLD, 321, 54), (NEW, 346, 57)] {
        let reg = mapped(name);
        assert_eq!(reg.models.len(), models, "{name}");
        assert_eq!(reg.labs.len(), labs, "{name}");
        let raw = raw_models(name);
        let expected_labs: BTreeSet<String> = raw
            .iter()
            .map(|m| {
                m["id"]
                    .as_str()
                    .unwrap()
                    .split('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let got: BTreeSet<String> = reg.labs.iter().map(|l| l.id.clone()).collect();
        assert_eq!(got, expected_labs);
    }
}

#[test]
fn prices_are_exact_and_minus_one_is_variable() {
    let reg = mapped(OLD);
    let opus = data_of(&reg, "anthropic/claude-opus-4");
    // serde_json without arbitrary precision reads numbers as f64; compare the text instead.
    let m = reg
        .models
        .iter()
        .find(|m| m.id == "anthropic/claude-opus-4")
        .unwrap();
    assert!(m.data().contains(r#""prompt":0.000015"#), "{}", m.data());
    assert!(m.data().contains(r#""completion":0.000075"#));
    assert!(m.data().contains(r#""input_cache_write":0.00001875"#));
    assert!(m.data().contains(r#""image":0.024"#));
    assert_eq!(m.prices()["prompt"].as_deref(), Some("0.000015"));
    assert_eq!(m.prices()["request"].as_deref(), Some("0"));
    assert_eq!(opus["context_length"], 200000);
    assert_eq!(opus["released"], "2025-05-22");
    assert_eq!(opus["variable_price"], false);
    assert_eq!(opus["modalities"], serde_json::json!(["image", "text"]));
    assert_eq!(
        opus["features"],
        serde_json::json!(["function_calling", "tool_choice", "reasoning", "streaming"])
    );

    let auto = data_of(&reg, "openrouter/auto");
    assert_eq!(auto["pricing"]["prompt"], Value::Null);
    assert_eq!(auto["pricing"]["completion"], Value::Null);
    assert_eq!(auto["variable_price"], true);

    let new = mapped(NEW);
    let flash = new
        .models
        .iter()
        .find(|m| m.id == "google/gemini-3.1-flash-lite-preview")
        .unwrap();
    assert!(flash
        .data()
        .contains(r#""input_cache_write":0.00000008333333333333334"#));
    let glm = new
        .models
        .iter()
        .find(|m| m.id == "z-ai/glm-4.7-flash")
        .unwrap();
    assert!(glm
        .data()
        .contains(r#""input_cache_read":0.0000000100000002"#));
    for id in ["openrouter/auto", "openrouter/bodybuilder"] {
        assert_eq!(data_of(&new, id)["variable_price"], true, "{id}");
    }
    // No negative price anywhere.
    for m in new.models.iter().chain(reg.models.iter()) {
        assert!(
            m.prices().values().flatten().all(|p| !p.starts_with('-')),
            "{}",
            m.id
        );
    }
}

#[test]
fn every_api_field_is_kept() {
    let reg = mapped(NEW);
    let raw = raw_models(NEW);
    for r in &raw {
        let id = r["id"].as_str().unwrap();
        let d = data_of(&reg, id);
        assert_eq!(d["canonical_slug"], r["canonical_slug"], "{id}");
        assert_eq!(d["hugging_face_id"], r["hugging_face_id"], "{id}");
        assert_eq!(d["top_provider"], r["top_provider"], "{id}");
        assert_eq!(d["default_parameters"], r["default_parameters"], "{id}");
        assert_eq!(d["expiration_date"], r["expiration_date"], "{id}");
        assert_eq!(d["supported_parameters"], r["supported_parameters"], "{id}");
        // The API's modalities, sorted (it lists the same set in varying orders).
        let sorted = |v: &serde_json::Value| {
            let mut v: Vec<String> = serde_json::from_value(v.clone()).unwrap_or_default();
            v.sort();
            serde_json::json!(v)
        };
        assert_eq!(
            d["input_modalities"],
            sorted(&r["architecture"]["input_modalities"]),
            "{id}"
        );
        assert_eq!(
            d["output_modalities"],
            sorted(&r["architecture"]["output_modalities"]),
            "{id}"
        );
        assert_eq!(d["description"], r["description"], "{id}");
        let keys: BTreeSet<&String> = r["pricing"].as_object().unwrap().keys().collect();
        let got: BTreeSet<&String> = d["pricing"].as_object().unwrap().keys().collect();
        assert_eq!(got, keys, "{id}");
        assert_eq!(
            d["metadata"],
            serde_json::json!({"ns": "models", "visibility": "public"})
        );
    }
    let nulls = raw
        .iter()
        .filter(|r| r["hugging_face_id"].is_null())
        .count();
    assert_eq!(nulls, 32);
}

#[test]
fn variants_labs_and_parameters() {
    let reg = mapped(NEW);
    let variants: HashMap<String, usize> = reg.models.iter().fold(HashMap::new(), |mut acc, m| {
        let d: Value = serde_json::from_str(m.data()).unwrap();
        if let Some(v) = d["variant"].as_str() {
            *acc.entry(v.to_string()).or_default() += 1;
        }
        acc
    });
    assert_eq!(variants["free"], 24);
    assert_eq!(variants["exacto"], 5);
    assert_eq!(variants["thinking"], 2);
    assert_eq!(variants["extended"], 1);

    let name = |id: &str| reg.labs.iter().find(|l| l.id == id).unwrap().name.clone();
    assert_eq!(name("mistralai"), "Mistral");
    assert_eq!(name("x-ai"), "xAI");
    assert_eq!(name("meta-llama"), "Meta");
    assert_eq!(name("z-ai"), "Z.ai");
    assert_eq!(name("openai"), "OpenAI");
    assert_eq!(name("openrouter"), "OpenRouter");
    let openai: Value =
        serde_json::from_str(&reg.labs.iter().find(|l| l.id == "openai").unwrap().data).unwrap();
    assert_eq!(openai["models"].as_array().unwrap().len(), 61);
    assert_eq!(openai["website"], "https://openai.com");

    let old = mapped(OLD);
    let qwen = data_of(&old, "qwen/qwen3-30b-a3b");
    assert_eq!(qwen["parameters"], "30B-A3B");
    assert_eq!(qwen["active_parameters_billions"], 3);
}

#[test]
fn diff_between_the_two_dates() {
    let old = mapped(OLD);
    let new = mapped(NEW);
    // What a stored 2025 registry looks like to change tracking.
    let prior: Vec<Prior> = old
        .models
        .iter()
        .map(|m| {
            let d: Value = serde_json::from_str(m.data()).unwrap();
            Prior {
                id: m.id.clone(),
                name: m.name.clone(),
                context_length: m.context_length,
                prices: prices_from_stored(Some(&d["pricing"].to_string())),
                deprecated: false,
            }
        })
        .collect();
    // Stored prices read back exactly as mapped (no spurious changes).
    let same = diff(&prior, &old.models.iter().collect::<Vec<_>>());
    assert_eq!(
        (same.added.len(), same.removed.len(), same.repriced.len()),
        (0, 0, 0)
    );
    assert_eq!(same.other_prices_changed.len(), 0);
    assert_eq!(same.unchanged, 321);

    // Independent count from the raw files.
    let raw_old: HashMap<String, Value> = raw_models(OLD)
        .into_iter()
        .map(|m| (m["id"].as_str().unwrap().to_string(), m))
        .collect();
    let raw_new = raw_models(NEW);
    let kept: Vec<&Value> = raw_new
        .iter()
        .filter(|m| raw_old.contains_key(m["id"].as_str().unwrap()))
        .collect();
    let num = |v: &Value| v.as_str().unwrap().parse::<f64>().unwrap();
    let repriced = kept
        .iter()
        .filter(|m| {
            let o = &raw_old[m["id"].as_str().unwrap()]["pricing"];
            num(&o["prompt"]) != num(&m["pricing"]["prompt"])
                || num(&o["completion"]) != num(&m["pricing"]["completion"])
        })
        .count();
    assert_eq!(kept.len(), 149);
    assert_eq!(repriced, 63);

    let d = diff(&prior, &new.models.iter().collect::<Vec<_>>());
    assert_eq!(d.added.len(), 197);
    assert_eq!(d.removed.len(), 172);
    assert_eq!(d.repriced.len(), repriced);
    assert_eq!(d.live_before, 321);
    assert!(d.removed.len() as f64 > 0.25 * d.live_before as f64);
}

/// A lab is live when one of its listed models is not past its expiration date (issue 20,
/// item 19). The 2026 file without allenai's four models that do not expire, mapped on
/// 2026-03-24: allenai is listed (three models, expired 2026-03-23) but not live.
#[test]
fn a_listed_lab_whose_models_all_expired_is_not_live() {
    let body: Value = serde_json::from_str(&fixture(NEW)).unwrap();
    let kept: Vec<String> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            !m["id"].as_str().unwrap().starts_with("allenai/")
                || m["expiration_date"] == "2026-03-23"
        })
        .map(|m| m.to_string())
        .collect();
    let on = |y, m, d| {
        map_models(
            &kept.iter().map(String::as_str).collect::<Vec<_>>(),
            chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap(),
        )
        .unwrap()
    };
    let lab = |reg: &Registry| {
        let l = reg.labs.iter().find(|l| l.id == "allenai").unwrap();
        let data: Value = serde_json::from_str(&l.data).unwrap();
        (
            l.live,
            data["deprecated"].clone(),
            data["model_count"].clone(),
        )
    };
    let before = on(2026, 3, 23);
    assert_eq!(lab(&before), (true, Value::Bool(false), Value::from(3)));
    assert_eq!((before.labs.len(), before.live_labs()), (57, 57));
    let after = on(2026, 3, 24);
    assert_eq!(lab(&after), (false, Value::Bool(true), Value::from(3)));
    assert_eq!((after.labs.len(), after.live_labs()), (57, 56));
}
