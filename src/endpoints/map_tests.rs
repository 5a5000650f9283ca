use super::*;
use crate::tests::testkit::{endpoints_body, PROVIDERS};

#[test]
fn base_url_and_paths() {
    assert_eq!(
        api_base("https://openrouter.ai/api/v1/models?output_modalities=all"),
        "https://openrouter.ai/api/v1"
    );
    assert_eq!(
        api_base("http://127.0.0.1:9/api/v1/models/"),
        "http://127.0.0.1:9/api/v1"
    );
    assert_eq!(api_base("http://h/api/v1"), "http://h/api/v1");
    assert_eq!(base_id("qwen/qwen3-coder:free"), "qwen/qwen3-coder");
    assert_eq!(
        endpoints_url("http://h/api/v1", "qwen/qwen3-coder:free").as_deref(),
        Some("http://h/api/v1/models/qwen/qwen3-coder/endpoints")
    );
    assert_eq!(
        endpoints_url("http://h/v1", "a b/c?d").as_deref(),
        Some("http://h/v1/models/a%20b/c%3Fd/endpoints")
    );
    assert_eq!(endpoints_url("http://h/v1", "noslash"), None);
}

#[test]
fn endpoints_map_exactly() {
    let mut w = Vec::new();
    let body = endpoints_body("openai/gpt-oss-120b").unwrap();
    let eps = map_endpoints(&body, "openai/gpt-oss-120b", &mut w).unwrap();
    assert!(w.is_empty(), "{w:?}");
    let ids: Vec<&str> = eps.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "openai/gpt-oss-120b@cerebras",
            "openai/gpt-oss-120b@deepinfra/bf16",
            "openai/gpt-oss-120b@groq"
        ]
    );
    let deepinfra = &eps[1];
    assert_eq!(deepinfra.provider, "deepinfra");
    assert_eq!(deepinfra.provider_name.as_deref(), Some("DeepInfra"));
    assert_eq!(
        deepinfra.stats,
        Stats {
            latency_p50: Some("412.5".into()),
            latency_p90: Some("780.25".into()),
            throughput_p50: Some("95.4".into()),
            uptime_5m: Some("100".into()),
            uptime_30m: Some("99.52".into()),
            uptime_1d: Some("99.871".into()),
        }
    );
    let data: serde_json::Value = serde_json::from_str(&deepinfra.data).unwrap();
    assert_eq!(data["model_id"], "openai/gpt-oss-120b");
    assert_eq!(data["provider"], "deepinfra");
    assert_eq!(data["quantization"], "bf16");
    assert!(data["max_prompt_tokens"].is_null());
    // Prices become exact JSON numbers, verbatim.
    assert!(deepinfra.data.contains(
        r#""pricing":{"completion":0.00000045,"image":0,"prompt":0.00000005,"request":0}"#
    ));
    // No metrics without a key: nulls, kept as nulls.
    let cerebras = &eps[0];
    assert_eq!(
        cerebras.stats,
        Stats {
            uptime_30m: Some("97.25".into()),
            uptime_1d: Some("98.5".into()),
            ..Stats::default()
        }
    );
    let data: serde_json::Value = serde_json::from_str(&cerebras.data).unwrap();
    assert!(data["latency_last_30m"].is_null());
    assert_eq!(data["status"], -5);
}

#[test]
fn odd_endpoints_are_skipped_or_repaired() {
    let mut w = Vec::new();
    let body = r#"{"data":{"id":"a/b","endpoints":[
        {"tag":"x","pricing":{"prompt":"-1","completion":"abc","discount":0.25},"latency_last_30m":{"p50":"fast"}},
        {"provider_name":"NoTag"},
        7,
        {"tag":"x","pricing":{"prompt":"0.1"}}]}}"#;
    let eps = map_endpoints(body, "a/b", &mut w).unwrap();
    assert_eq!(eps.len(), 1, "the repeated tag keeps its last occurrence");
    assert!(eps[0].data.contains(r#""pricing":{"prompt":0.1}"#));
    assert_eq!(w.len(), 3, "{w:?}");
    let first = map_endpoints(
        r#"{"data":{"endpoints":[{"tag":"x","pricing":{"prompt":"-1","completion":"abc","discount":0.25},"latency_last_30m":{"p50":"fast"}}]}}"#,
        "a/b",
        &mut w,
    )
    .unwrap();
    assert!(first[0]
        .data
        .contains(r#""pricing":{"completion":null,"discount":0.25,"prompt":null}"#));
    assert_eq!(first[0].stats.latency_p50, None);
    assert!(w
        .last()
        .unwrap()
        .contains("price completion \"abc\" is not a price"));

    for (bad, why) in [
        ("<html>", "not JSON"),
        (r#"{"error":{}}"#, "no \"data\""),
        (r#"{"data":[]}"#, "not an object"),
        (r#"{"data":{}}"#, "no \"endpoints\""),
        (r#"{"data":{"endpoints":{}}}"#, "not an array"),
    ] {
        let e = map_endpoints(bad, "a/b", &mut w).unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
    assert!(
        map_endpoints(r#"{"data":{"endpoints":null}}"#, "a/b", &mut w)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn providers_map_and_fill_in() {
    let mut w = Vec::new();
    let listed = map_providers(PROVIDERS, &mut w).unwrap();
    assert!(w.is_empty());
    let slugs: Vec<&str> = listed.iter().map(|p| p.slug.as_str()).collect();
    assert_eq!(
        slugs,
        [
            "anthropic",
            "cerebras",
            "deepinfra",
            "google-vertex",
            "groq",
            "openai"
        ]
    );
    assert_eq!(listed[3].name.as_deref(), Some("Google Vertex"));
    let eps = map_endpoints(
        &endpoints_body("qwen/qwen3-coder").unwrap(),
        "qwen/qwen3-coder",
        &mut w,
    )
    .unwrap();
    let extra = providers_from_endpoints(&listed, &eps);
    assert_eq!(extra.len(), 1);
    assert_eq!(extra[0].slug, "alibaba");
    assert_eq!(
        extra[0].data,
        r#"{"listed":false,"name":"Alibaba","slug":"alibaba"}"#
    );
    assert!(map_providers(r#"{"data":{}}"#, &mut w).is_err());
    map_providers(r#"{"data":[{"name":"x"}]}"#, &mut w).unwrap();
    assert!(w.last().unwrap().contains("has no \"slug\""));
}

/// A value jsonb or text cannot hold (`\u0000`, a lone surrogate, a number out of numeric's
/// range) becomes null with a warning, the rest of the endpoint kept; an endpoint whose tag
/// holds `\u0000` is skipped (issue 18). A real endpoint of the fixture with poison in it.
#[test]
fn poison_values_become_null_field_by_field() {
    let body = endpoints_body("openai/gpt-oss-120b").unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    let eps = doc["data"]["endpoints"].as_array_mut().unwrap();
    let deepinfra = eps
        .iter_mut()
        .find(|e| e["tag"] == "deepinfra/bf16")
        .unwrap();
    deepinfra["name"] = serde_json::json!("Deep\u{0}Infra");
    deepinfra["max_prompt_tokens"] = serde_json::json!("@@1e-16384@@");
    deepinfra["quantization"] = serde_json::json!("@@\"\\udc00\"@@");
    deepinfra["uptime_last_5m"] = serde_json::json!("@@1e131072@@");
    deepinfra["pricing"]["prompt"] = serde_json::json!(format!("0.{}", "3".repeat(20_000)));
    let mut nul_tag = deepinfra.clone();
    nul_tag["tag"] = serde_json::json!("x\u{0}y");
    eps.push(nul_tag);
    let body = doc
        .to_string()
        .replace("\"@@", "")
        .replace("@@\"", "")
        .replace("\\\"\\\\udc00\\\"", "\"\\udc00\"");
    let mut w = Vec::new();
    let eps = map_endpoints(&body, "openai/gpt-oss-120b", &mut w).unwrap();
    assert_eq!(eps.len(), 3, "{w:?}");
    let e = eps
        .iter()
        .find(|e| e.id.ends_with("@deepinfra/bf16"))
        .unwrap();
    assert!(crate::pg::jsonb::encode(&e.data).is_ok(), "{}", e.data);
    let data: serde_json::Value = serde_json::from_str(&e.data).unwrap();
    assert!(data["name"].is_null() && data["max_prompt_tokens"].is_null());
    assert!(data["quantization"].is_null() && data["uptime_last_5m"].is_null());
    assert!(data["pricing"]["prompt"].is_null());
    assert_eq!(data["pricing"]["completion"], serde_json::json!(0.00000045));
    assert_eq!(e.stats.uptime_5m, None);
    assert_eq!(e.stats.uptime_30m.as_deref(), Some("99.52"));
    let w = w.join("\n");
    for expected in [
        "endpoint #1: ignored \"name\": \\u0000 cannot be stored in jsonb; stored as null",
        "endpoint #1: ignored \"max_prompt_tokens\": a number out of numeric's range",
        "endpoint #1: ignored \"quantization\": invalid JSON for jsonb (a lone surrogate?)",
        "endpoint #1: ignored \"uptime_last_5m\": a number out of numeric's range",
        "price prompt",
        "endpoint #4 has no \"tag\"; skipped",
    ] {
        assert!(w.contains(expected), "{expected:?} not in\n{w}");
    }
    let mut w = Vec::new();
    let providers = map_providers(
        r#"{"data":[{"slug":"a","name":"A\u0000","x":1e-16384},{"slug":"b\u0000"}]}"#,
        &mut w,
    )
    .unwrap();
    assert_eq!(providers.len(), 1, "{w:?}");
    assert_eq!(providers[0].name, None);
    assert!(crate::pg::jsonb::encode(&providers[0].data).is_ok());
}
