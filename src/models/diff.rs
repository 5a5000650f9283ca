//! What changed between the stored registry and the one that just arrived: the counts of the
//! sync summary, the change log, which price periods to close and open, and the guard
//! against a response that would wipe the registry. Pure Rust.

use super::map::MappedModel;
use foldhash::{HashMap, HashSet};
use std::collections::BTreeMap;

/// What is stored about one model, as far as change tracking needs it.
#[derive(Debug, Clone, Default)]
pub struct Prior {
    pub id: String,
    pub name: Option<String>,
    pub context_length: Option<i64>,
    pub prices: BTreeMap<String, Option<String>>,
    /// Marked deprecated (removed upstream or expired).
    pub deprecated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub model_id: String,
    /// added, removed, returned, expired, repriced, prices_changed, renamed, context_changed
    pub kind: &'static str,
    /// JSON text of the old and new values (null for added/removed).
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Debug, Default)]
pub struct Diff {
    pub added: Vec<String>,
    /// Models of a first load: added, but counted rather than listed (they are not logged
    /// one by one, and 34,600 copies of their ids were 3 MB at 100x).
    pub loaded: usize,
    pub removed: Vec<String>,
    pub returned: Vec<String>,
    /// Prompt or completion price changed.
    pub repriced: Vec<String>,
    /// Another price key changed (cache, image, ...), prompt and completion unchanged.
    pub other_prices_changed: Vec<String>,
    pub renamed: usize,
    /// Listed, but now past its expiration date.
    pub expired: usize,
    pub context_changed: usize,
    /// Live before and now, nothing tracked changed.
    pub unchanged: usize,
    /// Live models before this sync (not deprecated).
    pub live_before: usize,
    pub changes: Vec<Change>,
    /// Models whose open price period ends now (a new one opens for those still listed).
    pub close_price_periods: Vec<String>,
}

fn prices_json(p: &BTreeMap<String, Option<String>>, keys: &[&str]) -> String {
    let parts: Vec<String> = p
        .iter()
        .filter(|(k, _)| keys.is_empty() || keys.contains(&k.as_str()))
        .map(|(k, v)| {
            format!(
                "{}:{}",
                serde_json::to_string(k).unwrap(),
                v.as_deref().unwrap_or("null")
            )
        })
        .collect();
    format!("{{{}}}", parts.join(","))
}

fn pick<'a>(p: &'a BTreeMap<&str, &Option<String>>, k: &str) -> Option<&'a &'a Option<String>> {
    p.get(k)
}

/// The prices that cost something: a key at zero is the same price as a key left out (the
/// API drops `"request": "0"` and the like from one response to the next).
fn charged(p: &BTreeMap<String, Option<String>>) -> BTreeMap<&str, &Option<String>> {
    p.iter()
        .filter(|(_, v)| !v.as_deref().is_some_and(is_zero))
        .map(|(k, v)| (k.as_str(), v))
        .collect()
}

fn is_zero(decimal: &str) -> bool {
    decimal.bytes().all(|b| b == b'0' || b == b'.')
}

impl Diff {
    /// Models new to the registry: listed ones and those of a first load.
    pub fn added_count(&self) -> usize {
        self.added.len() + self.loaded
    }
}

pub fn diff(prior: &[Prior], incoming: &[&MappedModel]) -> Diff {
    let mut d = Diff::default();
    let before: HashMap<&str, &Prior> = prior.iter().map(|p| (p.id.as_str(), p)).collect();
    let now: HashSet<&str> = incoming.iter().map(|m| m.id.as_str()).collect();
    d.live_before = prior.iter().filter(|p| !p.deprecated).count();
    let change = |id: &str, kind: &'static str, old: Option<String>, new: Option<String>| Change {
        model_id: id.to_string(),
        kind,
        old,
        new,
    };

    for m in incoming {
        let m_prices = m.prices();
        let Some(p) = before.get(m.id.as_str()) else {
            d.added.push(m.id.clone());
            d.changes.push(change(
                &m.id,
                "added",
                None,
                Some(prices_json(&m_prices, &["prompt", "completion"])),
            ));
            continue;
        };
        let mut changed = false;
        if p.deprecated && !m.expired {
            d.returned.push(m.id.clone());
            d.changes.push(change(&m.id, "returned", None, None));
            changed = true;
        }
        let main = ["prompt", "completion"];
        let (was, is) = (charged(&p.prices), charged(&m_prices));
        if main.iter().any(|k| pick(&was, k) != pick(&is, k)) {
            d.repriced.push(m.id.clone());
            d.changes.push(change(
                &m.id,
                "repriced",
                Some(prices_json(&p.prices, &main)),
                Some(prices_json(&m_prices, &main)),
            ));
            d.close_price_periods.push(m.id.clone());
            changed = true;
        } else if was != is {
            d.other_prices_changed.push(m.id.clone());
            d.changes.push(change(
                &m.id,
                "prices_changed",
                Some(prices_json(&p.prices, &[])),
                Some(prices_json(&m_prices, &[])),
            ));
            d.close_price_periods.push(m.id.clone());
            changed = true;
        }
        if m.expired && !p.deprecated {
            d.expired += 1;
            d.changes.push(change(&m.id, "expired", None, None));
            changed = true;
        }
        if p.name != m.name {
            d.renamed += 1;
            d.changes.push(change(
                &m.id,
                "renamed",
                Some(serde_json::to_string(&p.name).unwrap()),
                Some(serde_json::to_string(&m.name).unwrap()),
            ));
            changed = true;
        }
        if p.context_length != m.context_length {
            d.context_changed += 1;
            d.changes.push(change(
                &m.id,
                "context_changed",
                Some(serde_json::to_string(&p.context_length).unwrap()),
                Some(serde_json::to_string(&m.context_length).unwrap()),
            ));
            changed = true;
        }
        if !changed && !p.deprecated {
            d.unchanged += 1;
        }
    }
    for p in prior {
        if !p.deprecated && !now.contains(p.id.as_str()) {
            d.removed.push(p.id.clone());
            d.changes.push(change(
                &p.id,
                "removed",
                Some(prices_json(&p.prices, &["prompt", "completion"])),
                None,
            ));
            d.close_price_periods.push(p.id.clone());
        }
    }
    d
}
