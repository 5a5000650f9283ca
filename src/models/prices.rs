//! Stored prices read back: the canonical decimal text per price key that mapping
//! produces, so that a stored price and an incoming one compare exactly. Pure Rust.

use crate::decimal::canonical_decimal;
use std::collections::BTreeMap;

/// Reads a stored `pricing` object (as JSON text) into canonical price text per key,
/// in the same form mapping produces, so that prices compare exactly.
pub fn prices_from_stored(pricing_json: Option<&str>) -> BTreeMap<String, Option<String>> {
    let mut out = BTreeMap::new();
    let Some(text) = pricing_json else { return out };
    let Ok(map) = serde_json::from_str::<BTreeMap<String, &serde_json::value::RawValue>>(text)
    else {
        return out;
    };
    for (k, v) in map {
        if let Some(price) = stored_price(v.get()) {
            out.insert(k, price);
        }
    }
    out
}

/// One stored price value (JSON text) as `prices_from_stored` reads it: `Some(None)` for
/// null, `Some(Some(canonical decimal))` for a number, `None` (no price) for anything else.
pub fn stored_price(json: &str) -> Option<Option<String>> {
    let t = json.trim();
    if t == "null" {
        // A variable price is stored as null; a null the API sent is not a price either.
        // Both read back as "variable" only where mapping would have recorded one.
        Some(None)
    } else {
        canonical_decimal(t).map(Some)
    }
}
