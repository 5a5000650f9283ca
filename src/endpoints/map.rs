//! Provider endpoints and providers, as the API sends them and as we store them. Pure Rust:
//! no Postgres here. `GET {base}/models/{author}/{slug}/endpoints` answers
//! `{"data": {"id", "name", ..., "endpoints": [endpoint, ...]}}`; `GET {base}/providers`
//! answers `{"data": [provider, ...]}`. Every field is kept as the API wrote it (numbers
//! verbatim, never through `f64`); only prices are rewritten, to exact decimals as JSON
//! numbers (null where variable or unreadable), exactly like the models' prices.

use crate::decimal::{parse_price, Price};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// The API base (`https://openrouter.ai/api/v1`) from `openrouter.api_url`
/// (`https://openrouter.ai/api/v1/models?output_modalities=all`): query and fragment
/// dropped, then a trailing `/models`. A URL without `/models` is taken as the base itself.
pub fn api_base(api_url: &str) -> String {
    let url = api_url.split(['?', '#']).next().unwrap_or(api_url);
    let url = url.trim_end_matches('/');
    url.strip_suffix("/models").unwrap_or(url).to_string()
}

/// A model id without its variant: `qwen/qwen3-coder:free` -> `qwen/qwen3-coder`.
pub fn base_id(model_id: &str) -> &str {
    model_id.split(':').next().unwrap_or(model_id)
}

/// `{base}/models/{author}/{slug}/endpoints` for a model id (its variant stripped), or
/// `None` when the id has no `author/slug` shape.
pub fn endpoints_url(base: &str, model_id: &str) -> Option<String> {
    let id = base_id(model_id);
    let (author, slug) = id.split_once('/')?;
    if author.is_empty() || slug.is_empty() {
        return None;
    }
    Some(format!(
        "{base}/models/{}/{}/endpoints",
        encode(author),
        slug.split('/').map(encode).collect::<Vec<_>>().join("/")
    ))
}

/// Percent-encodes everything but unreserved characters (ids are plain ASCII today).
fn encode(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One endpoint, ready to store as `('endpoints', id, 'Endpoint', data)`.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedEndpoint {
    /// `<model id>@<provider tag>`.
    pub id: String,
    pub model_id: String,
    /// The provider's slug: the tag up to its first `/` (`deepinfra/fp8` -> `deepinfra`).
    pub provider: String,
    pub provider_name: Option<String>,
    /// `things.data`, as JSON text.
    pub data: String,
    /// The metric columns of `openrouter_endpoint_stats`, as exact decimal text.
    pub stats: Stats,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub latency_p50: Option<String>,
    pub latency_p90: Option<String>,
    pub throughput_p50: Option<String>,
    pub uptime_5m: Option<String>,
    pub uptime_30m: Option<String>,
    pub uptime_1d: Option<String>,
}

/// One provider, ready to store as `('providers', slug, 'Provider', data)`.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedProvider {
    pub slug: String,
    pub name: Option<String>,
    pub data: String,
}

type Object<'a> = BTreeMap<String, &'a RawValue>;

#[derive(Deserialize)]
struct Doc<'a> {
    #[serde(borrow, default)]
    data: Option<&'a RawValue>,
}

/// The `data` member of a response body, or why there is none.
fn data_of(body: &str) -> Result<&RawValue, String> {
    let doc: Doc = serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))?;
    doc.data.ok_or_else(|| "no \"data\" member".to_string())
}

/// A string member; None when missing, empty, or holding `\u0000` (no text column can).
fn string(obj: &Object, key: &str) -> Option<String> {
    obj.get(key)
        .and_then(|v| serde_json::from_str::<String>(v.get()).ok())
        .filter(|s| !s.is_empty() && !s.contains('\0'))
}

/// `obj` with the members jsonb cannot hold (see `pg::jsonb::unstorable`) set to
/// null and those whose name holds `\u0000` left out, each with a warning: stored, they
/// would make this sync and every later one fail.
fn storable<'a>(obj: &Object<'a>, what: &str, warnings: &mut Vec<String>) -> Object<'a> {
    const NULL: &str = "null";
    let null: &'a RawValue = serde_json::from_str(NULL).expect("null is JSON");
    let mut out = Object::new();
    for (key, value) in obj {
        if key.contains('\0') {
            warnings.push(format!(
                "{what}: ignored field {:?}: its name holds \\u0000",
                crate::text::excerpt(key, 40)
            ));
        } else if let Some(why) = crate::pg::jsonb::unstorable(value.get()) {
            warnings.push(format!("{what}: ignored \"{key}\": {why}; stored as null"));
            out.insert(key.clone(), null);
        } else {
            out.insert(key.clone(), value);
        }
    }
    out
}

/// A JSON number as exact decimal text (a numeric string is accepted too); None otherwise.
fn decimal(v: Option<&RawValue>) -> Option<String> {
    let text = v?.get().trim();
    let text = match serde_json::from_str::<String>(text) {
        Ok(s) => s,
        Err(_) => text.to_string(),
    };
    if text == "null" {
        return None;
    }
    crate::decimal::canonical_decimal(&text).filter(|d| !d.starts_with('-'))
}

/// One of the `{"p50": .., "p75": .., "p90": .., "p99": ..}` percentiles (null without an
/// API key, or when the object lacks it).
fn percentile(v: Option<&RawValue>, key: &str) -> Option<String> {
    let obj: Object = serde_json::from_str(v?.get()).ok()?;
    decimal(obj.get(key).copied())
}

/// Prices as exact JSON numbers: "-1" (variable) and unreadable values become null.
fn pricing(v: Option<&RawValue>, what: &str, warnings: &mut Vec<String>) -> Option<String> {
    let obj: Object = serde_json::from_str(v?.get()).ok()?;
    let mut out = Vec::with_capacity(obj.len());
    for (key, value) in &obj {
        let text = match serde_json::from_str::<String>(value.get()) {
            Ok(s) => s,
            Err(_) => value.get().to_string(),
        };
        let price = if value.get().starts_with(['{', '[']) {
            // Nested structures (overrides) are kept as they are.
            value.get().to_string()
        } else {
            match parse_price(&text) {
                Some(Price::Exact(d)) => d,
                Some(Price::Variable) => "null".into(),
                None => {
                    if text != "null" {
                        warnings.push(format!(
                            "{what}: price {key} {} is not a price; stored as null",
                            crate::text::excerpt(value.get(), 40)
                        ));
                    }
                    "null".into()
                }
            }
        };
        out.push(format!(
            "{}:{price}",
            serde_json::to_string(key).expect("a string serializes")
        ));
    }
    Some(format!("{{{}}}", out.join(",")))
}

/// The endpoints of one model from the body of its `/endpoints` request. `model_id` is
/// the stored model the endpoints belong to. An endpoint without a tag is skipped with a
/// warning; two with the same tag keep the last.
pub fn map_endpoints(
    body: &str,
    model_id: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<MappedEndpoint>, String> {
    let data: Object = serde_json::from_str(data_of(body)?.get())
        .map_err(|_| "\"data\" is not an object".to_string())?;
    let list = data
        .get("endpoints")
        .ok_or_else(|| "\"data\" has no \"endpoints\"".to_string())?;
    if list.get() == "null" {
        return Ok(Vec::new());
    }
    let list: Vec<&RawValue> = serde_json::from_str(list.get())
        .map_err(|_| "\"endpoints\" is not an array".to_string())?;
    let mut out: BTreeMap<String, MappedEndpoint> = BTreeMap::new();
    for (n, raw) in list.iter().enumerate() {
        let Ok(obj) = serde_json::from_str::<Object>(raw.get()) else {
            warnings.push(format!(
                "{model_id}: endpoint #{} is not an object; skipped",
                n + 1
            ));
            continue;
        };
        let obj = storable(&obj, &format!("{model_id}: endpoint #{}", n + 1), warnings);
        let Some(tag) = string(&obj, "tag") else {
            warnings.push(format!(
                "{model_id}: endpoint #{} has no \"tag\"; skipped",
                n + 1
            ));
            continue;
        };
        let id = format!("{model_id}@{tag}");
        let provider = tag.split('/').next().unwrap_or(&tag).to_ascii_lowercase();
        let stats = Stats {
            latency_p50: percentile(obj.get("latency_last_30m").copied(), "p50"),
            latency_p90: percentile(obj.get("latency_last_30m").copied(), "p90"),
            throughput_p50: percentile(obj.get("throughput_last_30m").copied(), "p50"),
            uptime_5m: decimal(obj.get("uptime_last_5m").copied()),
            uptime_30m: decimal(obj.get("uptime_last_30m").copied()),
            uptime_1d: decimal(obj.get("uptime_last_1d").copied()),
        };
        let prices = pricing(obj.get("pricing").copied(), &id, warnings);
        let extra = |s: String| RawValue::from_string(s).expect("valid JSON");
        let prices = prices.map(extra);
        let model_json = extra(serde_json::to_string(model_id).expect("serializes"));
        let provider_json = extra(serde_json::to_string(&provider).expect("serializes"));
        let mut owned: BTreeMap<String, Box<RawValue>> = obj
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    RawValue::from_string(v.get().to_string()).expect("valid JSON"),
                )
            })
            .collect();
        if let Some(p) = prices {
            owned.insert("pricing".into(), p);
        }
        owned.insert("model_id".into(), model_json);
        owned.insert("provider".into(), provider_json);
        let provider_name = owned
            .get("provider_name")
            .and_then(|v| serde_json::from_str::<String>(v.get()).ok());
        out.insert(
            tag,
            MappedEndpoint {
                id,
                model_id: model_id.to_string(),
                provider,
                provider_name,
                data: serde_json::to_string(&owned).expect("endpoint data serializes"),
                stats,
            },
        );
    }
    Ok(out.into_values().collect())
}

/// The providers list. A provider without a slug is skipped with a warning.
pub fn map_providers(
    body: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<MappedProvider>, String> {
    let list: Vec<&RawValue> = serde_json::from_str(data_of(body)?.get())
        .map_err(|_| "\"data\" is not an array".to_string())?;
    let mut out: BTreeMap<String, MappedProvider> = BTreeMap::new();
    for (n, raw) in list.iter().enumerate() {
        let Ok(obj) = serde_json::from_str::<Object>(raw.get()) else {
            warnings.push(format!("provider #{} is not an object; skipped", n + 1));
            continue;
        };
        let obj = storable(&obj, &format!("provider #{}", n + 1), warnings);
        let Some(slug) = string(&obj, "slug") else {
            warnings.push(format!("provider #{} has no \"slug\"; skipped", n + 1));
            continue;
        };
        let slug = slug.to_ascii_lowercase();
        out.insert(
            slug.clone(),
            MappedProvider {
                name: string(&obj, "name"),
                data: serde_json::to_string(&obj).expect("provider data serializes"),
                slug,
            },
        );
    }
    Ok(out.into_values().collect())
}

/// Providers that serve an endpoint but are missing from the providers list: stored with
/// what the endpoint says (slug and display name).
pub fn providers_from_endpoints(
    listed: &[MappedProvider],
    endpoints: &[MappedEndpoint],
) -> Vec<MappedProvider> {
    let known: std::collections::HashSet<&str> = listed.iter().map(|p| p.slug.as_str()).collect();
    let mut out: BTreeMap<&str, MappedProvider> = BTreeMap::new();
    for e in endpoints {
        if known.contains(e.provider.as_str()) || out.contains_key(e.provider.as_str()) {
            continue;
        }
        let data =
            serde_json::json!({"slug": e.provider, "name": e.provider_name, "listed": false});
        out.insert(
            e.provider.as_str(),
            MappedProvider {
                slug: e.provider.clone(),
                name: e.provider_name.clone(),
                data: data.to_string(),
            },
        );
    }
    out.into_values().collect()
}

#[cfg(test)]
#[path = "map_tests.rs"]
mod tests;
