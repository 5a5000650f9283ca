//! From the API's model objects to the rows we store: `things.data` for models and labs.
//! Prices stay exact decimal text (emitted as JSON numbers verbatim); every field the API
//! sends is kept, unknown ones under `extra`.

use super::labs::{self, LabAccumulator, LabData, Metadata};
use crate::decimal::{canonical_decimal, parse_price, Price};
use crate::text::excerpt;
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// Context lengths outside this range are treated as nonsense (and stored as null).
pub const MAX_CONTEXT_LENGTH: i64 = 100_000_000;
/// Fields a model object may carry that we map explicitly; anything else goes to `extra`.
const KNOWN_FIELDS: &[&str] = &[
    "id",
    "name",
    "description",
    "canonical_slug",
    "hugging_face_id",
    "created",
    "context_length",
    "architecture",
    "pricing",
    "top_provider",
    "per_request_limits",
    "supported_parameters",
    "default_parameters",
    "expiration_date",
    "knowledge_cutoff",
    "reasoning",
    "benchmarks",
    "alias_target",
];

/// The lab of an id's prefix: an alias (`~anthropic/claude-opus-latest`, listed by the API
/// since 2026) belongs to the lab without the `~`.
pub fn lab_of_prefix(prefix: &str) -> &str {
    prefix.strip_prefix('~').unwrap_or(prefix)
}

/// One model, ready to store.
#[derive(Debug, Clone)]
pub struct MappedModel {
    /// `lab/name`: the lab is the part before the first slash (`lab()`).
    pub id: String,
    /// What only its things row needs (None: not mapped, or written and released).
    pub docs: Option<Box<Documents>>,
    pub name: Option<String>,
    pub context_length: Option<i64>,
    /// The API says the model is past its expiration date.
    pub expired: bool,
    /// `data->'pricing'`, as JSON text (for the price history).
    pub pricing: String,
    /// A hash of `data`: a re-sync rewrites only models whose hash changed.
    pub fingerprint: i64,
    /// The API said "-1" for the prompt or completion price.
    pub variable_price: bool,
    /// `raw_hash` of the API's object: an unchanged object need not be mapped again.
    pub raw_hash: i64,
    /// The object has an expiration date: whether it is past depends on the day, so it is
    /// mapped on every sync.
    pub expires: bool,
}

/// The parts of a model only its things row needs, in one allocation of their own: a first
/// load frees them as soon as that row is written (`release_documents`), and a model that
/// keeps none is 72 bytes smaller (2.5 MB of the registry at 100x).
#[derive(Debug, Clone, Default)]
pub struct Documents {
    /// `things.data`, as JSON text (emptied by `encode_jsonb` where `jsonb` holds it).
    pub data: String,
    /// `things.data` as a jsonb body (see `jsonb`), once `encode_jsonb` ran; or the LZ4
    /// block of that body, where `lz4_raw` says how long the body is.
    pub jsonb: Option<Vec<u8>>,
    /// Set where `jsonb` holds the body compressed (see `lz4`): the body's length.
    pub lz4_raw: Option<u32>,
    /// `things.content`: the description, as `data->>'description'` reads it.
    pub description: String,
}

impl MappedModel {
    /// The lab (author) of the model: its id up to the first slash (the mapping skips ids
    /// without one). Not a field of its own: 56 bytes a model, 1.9 MB at 100x.
    pub fn lab(&self) -> &str {
        self.id
            .split_once('/')
            .map_or(self.id.as_str(), |(lab, _)| lab_of_prefix(lab))
    }

    /// An alias (`~anthropic/claude-opus-latest`): routes to another model of its lab.
    pub fn is_alias(&self) -> bool {
        self.id.starts_with('~')
    }

    /// `things.data` as JSON text (empty once encoded or released).
    pub fn data(&self) -> &str {
        self.docs.as_ref().map_or("", |d| &d.data)
    }

    /// `things.content` (empty once released).
    pub fn description(&self) -> &str {
        self.docs.as_ref().map_or("", |d| &d.description)
    }

    /// Price keys in canonical decimal text; `None` where the price is variable ("-1").
    /// Read from `pricing` when asked (mostly for the few models whose data changed): a
    /// map per model held for the whole sync cost about 1 kB each, 35 MB at 100x.
    pub fn prices(&self) -> BTreeMap<String, Option<String>> {
        super::prices::prices_from_stored(Some(&self.pricing))
    }

    /// The prompt and completion prices of `prices()`, without a map of every price key
    /// (building that map for each model was a seventh of writing the state rows).
    pub fn prompt_and_completion(&self) -> (Option<String>, Option<String>) {
        #[derive(serde::Deserialize)]
        struct Two<'a> {
            #[serde(borrow)]
            prompt: Option<&'a RawValue>,
            #[serde(borrow)]
            completion: Option<&'a RawValue>,
        }
        // A null (variable) price deserializes as None.
        let price = |v: Option<&RawValue>| v.and_then(|v| super::prices::stored_price(v.get())?);
        // (A struct would also read an array: only objects take the short way.)
        let object = self.pricing.trim_start().starts_with('{');
        match serde_json::from_str::<Two>(&self.pricing)
            .ok()
            .filter(|_| object)
        {
            Some(two) => (price(two.prompt), price(two.completion)),
            // Not an object of distinct keys (never written by the mapping): as prices() reads it.
            None => {
                let mut all = self.prices();
                (
                    all.remove("prompt").flatten(),
                    all.remove("completion").flatten(),
                )
            }
        }
    }
}

/// XXH3, 64 bits: a specified algorithm, so stable across builds and versions (unlike std's
/// hasher), and about 8 bytes per cycle (FNV-1a, one byte per multiply, took a sixth of the
/// mapping time).
pub fn fingerprint(text: &str) -> i64 {
    xxhash_rust::xxh3::xxh3_64(text.as_bytes()) as i64
}

#[derive(Debug, Clone)]
pub struct MappedLab {
    pub id: String,
    pub name: String,
    pub data: String,
    pub description: String,
    /// Has a live model in this response (listed and not past its expiration date): the one
    /// definition of a live lab, the views' too. A lab without one is stored deprecated.
    pub live: bool,
}

/// The whole registry of one sync, mapped.
#[derive(Debug, Default)]
pub struct Registry {
    pub models: Vec<MappedModel>,
    pub labs: Vec<MappedLab>,
    /// Things skipped or repaired, for a WARNING: the data is still usable.
    pub warnings: Vec<String>,
}

impl Registry {
    /// Labs with a live model in this response: the labs live after the sync (the summary's
    /// and the run's `labs`, `openrouter_labs`, `openrouter_health().labs`).
    pub fn live_labs(&self) -> usize {
        self.labs.iter().filter(|l| l.live).count()
    }
}

impl MappedModel {
    /// Encodes `data` as a jsonb body into `jsonb` and frees the text: the binary is a quarter
    /// smaller, and the writes then only copy it. The text stays where the encoder declines.
    /// With `lz4_above`, a body whose things row would be longer than that many bytes is
    /// compressed as the toaster would compress it there (`lz4`): the row's writer then
    /// only copies it.
    pub fn encode_jsonb(&mut self, lz4_above: Option<usize>) {
        let Some(docs) = self.docs.as_deref_mut() else {
            return;
        };
        let Ok(body) = crate::pg::jsonb::encode(&docs.data) else {
            return;
        };
        docs.data = String::new();
        let compressed = lz4_above
            .filter(|&limit| things_row_len(&self.id, body.len(), &docs.description) > limit)
            // Still longer than the limit compressed, the toaster would move the document to
            // the TOAST table at once; compressed here, it would first compress `content`.
            // Such documents (none in the real registry) are left to the server.
            .and_then(|limit| {
                crate::pg::lz4::compress(&body)
                    .filter(|b| crate::pg::lz4::HEADER + b.len() <= limit)
            });
        match compressed {
            Some(block) => {
                docs.lz4_raw = Some(body.len() as u32);
                docs.jsonb = Some(block);
            }
            None => docs.jsonb = Some(body),
        }
    }

    /// Frees what only its things row needed (`data`, `jsonb`, `description`), once that row
    /// is written: a streamed first load at 100x would otherwise hold every document (about
    /// 100 MB) until its end. What the other tables need stays. `doc()` of a released model
    /// is an empty text, which jsonb refuses: writing its row again fails loudly.
    pub fn release_documents(&mut self) {
        self.docs = None;
    }
}

/// The columns of things, in order: the row `things_row_len` counts.
pub const THINGS_COLUMNS: [&str; 7] = [
    "ns",
    "id",
    "type",
    "data",
    "content",
    "created_at",
    "updated_at",
];

/// The data length of the things row of a model (THINGS_COLUMNS) with an uncompressed data
/// body of `body` bytes, as heap_compute_data_size
/// counts it: what the toaster compares with toast_tuple_target to decide on compression.
/// A varlena of up to 126 bytes takes a 1-byte header and no alignment, a longer one a
/// 4-byte header at a 4-byte boundary (text and jsonb align 'i'); timestamps align 'd'.
pub fn things_row_len(id: &str, body: usize, content: &str) -> usize {
    let varlena = |at: usize, len: usize| {
        if len <= 126 {
            at + 1 + len
        } else {
            at.next_multiple_of(4) + 4 + len
        }
    };
    let mut at = varlena(0, "models".len());
    at = varlena(at, id.len());
    at = varlena(at, "Model".len());
    at = varlena(at, body);
    at = varlena(at, content.len());
    at.next_multiple_of(8) + 2 * 8
}

/// A model we cannot store at all (no usable id): the response is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model #{} in the response {reason}", .index + 1)]
pub struct ModelError {
    /// Where in the response, counted from 0 (messages count from 1).
    pub index: usize,
    pub reason: String,
}

#[derive(Serialize)]
struct ModelData<'a> {
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    description: &'a str,
    provider: &'a str,
    pricing: Box<RawValue>,
    variable_price: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    context_length: Option<i64>,
    modalities: Vec<String>,
    input_modalities: Vec<String>,
    output_modalities: Vec<String>,
    features: Vec<&'static str>,
    supported_parameters: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    architecture: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters_billions: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    active_parameters_billions: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    released: Option<String>,
    created: Option<i64>,
    canonical_slug: Option<String>,
    hugging_face_id: Option<String>,
    top_provider: Option<&'a RawValue>,
    per_request_limits: Option<&'a RawValue>,
    default_parameters: Option<&'a RawValue>,
    knowledge_cutoff: Option<String>,
    expiration_date: Option<String>,
    reasoning: Option<&'a RawValue>,
    benchmarks: Option<&'a RawValue>,
    variant: Option<&'a str>,
    base_id: &'a str,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    is_alias: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    alias_target: Option<&'a RawValue>,
    deprecated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    deprecated_reason: Option<&'static str>,
    metadata: Metadata,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extra: BTreeMap<String, &'a RawValue>,
}

/// A key of a JSON object as the response spells it: borrowed from the body, unless it
/// holds escapes. (Copying every key of every model was a tenth of the mapping's time.)
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key<'a>(std::borrow::Cow<'a, str>);

impl std::borrow::Borrow<str> for Key<'_> {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Key<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visit)
    }
}

/// A JSON object of the response, its values unparsed.
type Object<'a> = BTreeMap<Key<'a>, &'a RawValue>;

/// Reads one field; a field of the wrong type becomes `None` plus a warning.
fn field<T: DeserializeOwned>(
    obj: &Object<'_>,
    key: &str,
    id: &str,
    warnings: &mut Vec<String>,
) -> Option<T> {
    let raw = kept(obj, key, id, warnings)?;
    match serde_json::from_str::<Option<T>>(raw.get()) {
        Ok(v) => v,
        Err(_) => {
            warnings.push(format!(
                "{id}: ignored \"{key}\": unexpected value {}",
                excerpt(raw.get(), 60)
            ));
            None
        }
    }
}

/// A raw field kept verbatim (objects, arrays, whatever the API sends).
fn raw<'a>(obj: &Object<'a>, key: &str) -> Option<&'a RawValue> {
    obj.get(key).copied().filter(|r| r.get().trim() != "null")
}

/// A raw field kept verbatim, unless jsonb cannot hold it (`\u0000`, a lone surrogate, a
/// number out of numeric's range, nesting deeper than 100): stored, such a value would make
/// this sync and every later one fail, so it becomes null, with a warning.
fn kept<'a>(obj: &Object<'a>, key: &str, id: &str, w: &mut Vec<String>) -> Option<&'a RawValue> {
    let value = raw(obj, key)?;
    match crate::pg::jsonb::unstorable(value.get()) {
        None => Some(value),
        Some(why) => {
            w.push(format!("{id}: ignored \"{}\": {why}", excerpt(key, 60)));
            None
        }
    }
}

/// JSON number text from a canonical decimal (always valid JSON: digits, '.', '-').
fn number(canonical: &str) -> Box<RawValue> {
    RawValue::from_string(canonical.to_string()).expect("a canonical decimal is a JSON number")
}

/// `features` from `supported_parameters`, in a fixed order; every model streams.
pub fn features(params: &[String]) -> Vec<&'static str> {
    let has = |p: &str| params.iter().any(|x| x == p);
    let mut out = Vec::new();
    if has("tools") {
        out.push("function_calling");
    }
    if has("tool_choice") {
        out.push("tool_choice");
    }
    if has("structured_outputs") {
        out.push("structured_outputs");
    }
    if has("response_format") {
        out.push("json_mode");
    }
    if has("reasoning") || has("include_reasoning") || has("reasoning_effort") {
        out.push("reasoning");
    }
    if has("web_search_options") {
        out.push("web_search");
    }
    if has("logprobs") {
        out.push("logprobs");
    }
    out.push("streaming");
    out
}

/// Parameter count stated in an id or name: "70B" -> ("70B", 70, None);
/// "30B-A3B" -> ("30B-A3B", 30, Some(3)); "8x7B" -> ("8x7B", 56, None).
pub fn parameters(text: &str) -> Option<(String, String, Option<String>)> {
    let tokens: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .filter(|t| !t.is_empty())
        .collect();
    let billions = |t: &str| -> Option<String> {
        let n = t.strip_suffix(['b', 'B'])?;
        (!n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && n.as_bytes()[0].is_ascii_digit())
        .then(|| canonical_decimal(n))
        .flatten()
    };
    for (i, t) in tokens.iter().enumerate() {
        if let Some(total) = billions(t) {
            let active = tokens
                .get(i + 1)
                .and_then(|n| n.strip_prefix(['a', 'A']))
                .and_then(billions);
            let label = match &active {
                Some(a) => format!("{total}B-A{a}B"),
                None => format!("{total}B"),
            };
            return Some((label, total, active));
        }
        // Mixture of experts written as "8x7b".
        if let Some((experts, size)) = t.split_once(['x', 'X']) {
            if let (Ok(e), Some(s)) = (experts.parse::<u32>(), billions(size)) {
                let each: f64 = s.parse().ok()?;
                let total = canonical_decimal(&format!("{}", each * e as f64))?;
                return Some((format!("{e}x{s}B"), total, None));
            }
        }
    }
    None
}

fn iso_date(unix_seconds: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(unix_seconds, 0).map(|t| t.date_naive().to_string())
}

/// "2026-01-15" or an RFC 3339 time, as a date.
fn parse_date(text: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text.get(..10)?, "%Y-%m-%d").ok()
}

/// Mapped models of a run of consecutive models, in API order (skipped ones left out), and
/// the warnings about them.
pub type Part = (Vec<MappedModel>, Vec<String>);

/// Bump when the mapping changes what it writes for the same API object: every model is then
/// mapped again once (the crate version is part of the seed too).
const MAPPING_REVISION: &str = "2";

/// XXH3 of a model object as the API sent it, seeded with the mapping's version: equal
/// hashes mean the same input to the same mapping.
pub fn raw_hash(raw: &str) -> i64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        xxhash_rust::xxh3::xxh3_64(
            format!("{}/{MAPPING_REVISION}", env!("CARGO_PKG_VERSION")).as_bytes(),
        )
    });
    xxhash_rust::xxh3::xxh3_64_with_seed(raw.as_bytes(), seed) as i64
}

/// What the previous sync stored for a model whose API object it saw unchanged.
#[derive(Debug, Clone)]
pub struct Known {
    pub id: String,
    pub name: Option<String>,
    /// `fingerprint` of its data.
    pub fingerprint: i64,
}

impl MappedModel {
    /// A model the previous sync stored from the very same API object (and that cannot
    /// expire): no data, only what labs, the plan and the summary need.
    pub fn known(known: &Known, raw_hash: i64) -> MappedModel {
        MappedModel {
            id: known.id.clone(),
            docs: None,
            name: known.name.clone(),
            context_length: None,
            expired: false,
            pricing: String::new(),
            fingerprint: known.fingerprint,
            variable_price: false,
            raw_hash,
            expires: false,
        }
    }
}

/// Maps `raw_models`, the models of the response from position `offset` on. Objects found
/// in `known` (by `raw_hash`) are not mapped again: their entry is `MappedModel::known`.
pub fn map_part(
    offset: usize,
    raw_models: &[&str],
    today: chrono::NaiveDate,
    known: &HashMap<i64, Known>,
) -> Result<Part, ModelError> {
    let mut warnings = Vec::new();
    let mut out = Vec::with_capacity(raw_models.len());
    for (i, raw) in raw_models.iter().enumerate() {
        let known = (!known.is_empty())
            .then(|| raw_hash(raw))
            .and_then(|h| Some(MappedModel::known(known.get(&h)?, h)));
        match known {
            Some(m) => out.push(m),
            None => out.extend(map_one(offset + i, raw, today, &mut warnings)?),
        }
    }
    Ok((out, warnings))
}

/// The registry from its parts in API order: a model repeated in the response keeps its
/// last occurrence (at the place of its first); labs from the models.
pub fn assemble(parts: Vec<Part>) -> Registry {
    let total = parts.iter().map(|p| p.0.len()).sum();
    let mut warnings = Vec::new();
    let mut models: Vec<MappedModel> = Vec::with_capacity(total);
    // Nearly always every id is listed once: then the parts are simply joined (checked with
    // borrowed ids; copying 34,600 of them was a few percent of a first load at 100x).
    let mut ids: HashSet<&str> = HashSet::with_capacity(total);
    if parts
        .iter()
        .flat_map(|p| &p.0)
        .all(|m| ids.insert(m.id.as_str()))
    {
        drop(ids);
        for (mapped, part_warnings) in parts {
            warnings.extend(part_warnings);
            models.extend(mapped);
        }
        let labs = map_labs(&models);
        return Registry {
            models,
            labs,
            warnings,
        };
    }
    drop(ids);
    let mut position: HashMap<String, usize> = HashMap::with_capacity(total);
    for (mapped, part_warnings) in parts {
        warnings.extend(part_warnings);
        for m in mapped {
            match position.get(&m.id) {
                Some(&at) => {
                    warnings.push(format!(
                        "{}: listed more than once; kept the last occurrence",
                        m.id
                    ));
                    models[at] = m;
                }
                None => {
                    position.insert(m.id.clone(), models.len());
                    models.push(m);
                }
            }
        }
    }
    let labs = map_labs(&models);
    Registry {
        models,
        labs,
        warnings,
    }
}

/// Maps every model of a complete registry (all pages, in order). `today` decides which
/// expiration dates are past. Models repeated in the response keep their last occurrence.
/// (The sync maps in parts on several threads, see sync.rs; this is the one-part form.)
pub fn map_models(raw_models: &[&str], today: chrono::NaiveDate) -> Result<Registry, ModelError> {
    Ok(assemble(vec![map_part(
        0,
        raw_models,
        today,
        &HashMap::new(),
    )?]))
}

/// One model; `Ok(None)` when it is skipped (with a warning).
fn map_one(
    index: usize,
    raw_model: &str,
    today: chrono::NaiveDate,
    w: &mut Vec<String>,
) -> Result<Option<MappedModel>, ModelError> {
    let obj: Object = serde_json::from_str(raw_model).map_err(|_| ModelError {
        index,
        reason: format!("is not an object: {}", excerpt(raw_model, 60)),
    })?;
    let id = model_id(index, &obj)?;
    let Some(lab) = lab_of_id(&id, w) else {
        return Ok(None);
    };

    let name: Option<String> = field(&obj, "name", &id, w);
    let description: String = field(&obj, "description", &id, w).unwrap_or_default();
    let context_length = context_length_of(&obj, &id, w);
    let pricing = map_pricing(&obj, &id, w);
    let architecture = kept(&obj, "architecture", &id, w);
    let modalities = modalities_of(architecture, &id, w);
    let supported_parameters: Vec<String> =
        field(&obj, "supported_parameters", &id, w).unwrap_or_default();
    let created = field::<serde_json::Number>(&obj, "created", &id, w)
        .and_then(|n| n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)));
    let expiration_date: Option<String> = field(&obj, "expiration_date", &id, w);
    let expired = expiration_date
        .as_deref()
        .and_then(parse_date)
        .is_some_and(|d| d < today);
    let expires = expiration_date.is_some();
    let (variant, base_id) = variant_of(&id);
    let slug = base_id.split_once('/').map_or(base_id, |(_, s)| s);
    let params = parameters(slug).or_else(|| name.as_deref().and_then(parameters));
    let extra = extra_fields(&obj, &id, w);

    let pricing_json = serde_json::to_string(&pricing.stored).expect("pricing serializes");
    // Kept for the whole sync: allocated at its length (the serializer's buffer is about
    // twice that; 2.5 MB at 100x).
    let pricing_kept = String::from(pricing_json.as_str());
    let data = ModelData {
        id: &id,
        name: name.as_deref(),
        description: &description,
        provider: lab,
        pricing: RawValue::from_string(pricing_json).expect("pricing is JSON"),
        variable_price: pricing.variable,
        context_length,
        modalities: modalities.all,
        input_modalities: modalities.input,
        output_modalities: modalities.output,
        features: features(&supported_parameters),
        supported_parameters: supported_parameters.clone(),
        architecture,
        parameters: params.as_ref().map(|p| p.0.clone()),
        parameters_billions: params.as_ref().map(|p| number(&p.1)),
        active_parameters_billions: params.as_ref().and_then(|p| p.2.as_deref().map(number)),
        released: created.and_then(iso_date),
        created,
        canonical_slug: field(&obj, "canonical_slug", &id, w),
        hugging_face_id: field(&obj, "hugging_face_id", &id, w),
        top_provider: kept(&obj, "top_provider", &id, w),
        per_request_limits: kept(&obj, "per_request_limits", &id, w),
        default_parameters: kept(&obj, "default_parameters", &id, w),
        knowledge_cutoff: field(&obj, "knowledge_cutoff", &id, w),
        expiration_date,
        reasoning: kept(&obj, "reasoning", &id, w),
        benchmarks: kept(&obj, "benchmarks", &id, w),
        variant,
        base_id,
        is_alias: id.starts_with('~'),
        alias_target: raw(&obj, "alias_target"),
        deprecated: expired,
        deprecated_reason: expired.then_some("expired"),
        metadata: Metadata {
            ns: "models",
            visibility: "public",
        },
        extra,
    };
    // About as long as the API's object: sized once rather than grown by doubling.
    let mut out = Vec::with_capacity(raw_model.len() + 512);
    serde_json::to_writer(&mut out, &data).expect("model data serializes");
    let data = String::from_utf8(out).expect("serde_json writes UTF-8");
    Ok(Some(MappedModel {
        variable_price: pricing.variable,
        fingerprint: fingerprint(&data),
        docs: Some(Box::new(Documents {
            data,
            jsonb: None,
            lz4_raw: None,
            description,
        })),
        pricing: pricing_kept,
        id: id.clone(),
        name,
        context_length,
        expired,
        raw_hash: raw_hash(raw_model),
        expires,
    }))
}

/// The model's id: a string that is not blank, or why the model cannot be read.
fn model_id(index: usize, obj: &Object<'_>) -> Result<String, ModelError> {
    let reason = match obj
        .get("id")
        .map(|r| serde_json::from_str::<Option<String>>(r.get()))
    {
        Some(Ok(Some(id))) if !id.trim().is_empty() => return Ok(id),
        Some(Ok(Some(_))) => "has an empty \"id\"",
        Some(Ok(None)) | None => "has no \"id\"",
        Some(Err(_)) => "has an \"id\" that is not a string",
    };
    Err(ModelError {
        index,
        reason: reason.into(),
    })
}

/// The lab of an id (`openai/gpt-4o` -> `openai`, `~anthropic/...` -> `anthropic`); `None`,
/// with a warning, when the model must be skipped: an id no text column can store, or one
/// without a `lab/` prefix.
fn lab_of_id<'i>(id: &'i str, w: &mut Vec<String>) -> Option<&'i str> {
    if id.contains('\0') {
        w.push(format!(
            "skipped model {:?}: its id holds \\u0000, which no text column can store",
            excerpt(id, 80)
        ));
        return None;
    }
    let lab = id
        .split_once('/')
        .map(|(lab, rest)| (lab_of_prefix(lab), rest))
        .filter(|(lab, rest)| !lab.is_empty() && !rest.is_empty())
        .map(|(lab, _)| lab);
    if lab.is_none() {
        w.push(format!(
            "skipped model {:?}: its id has no \"lab/\" prefix",
            excerpt(id, 80)
        ));
    }
    lab
}

/// `context_length` when it is a token count the column can hold; else `None`, warned.
fn context_length_of(obj: &Object<'_>, id: &str, w: &mut Vec<String>) -> Option<i64> {
    let n = field::<serde_json::Number>(obj, "context_length", id, w)?;
    match n.as_i64() {
        Some(v) if (0..=MAX_CONTEXT_LENGTH).contains(&v) => Some(v),
        _ => {
            w.push(format!(
                "{id}: ignored \"context_length\" {n}: not a token count"
            ));
            None
        }
    }
}

/// The pricing object as stored: every key kept; decimal strings (or numbers) become exact
/// JSON numbers, "-1" becomes null with `variable`; objects and arrays (long-context
/// overrides, ...) pass through.
#[derive(Default)]
struct Pricing {
    stored: BTreeMap<String, Option<Box<RawValue>>>,
    /// The API priced prompt or completion "-1": the router decides per request.
    variable: bool,
}

/// One price as the API gives it.
enum PriceEntry {
    Number(Box<RawValue>),
    Variable,
    /// null, or unreadable (warned).
    Null,
    /// An object or array, or null when jsonb cannot hold it (warned).
    Structured(Option<Box<RawValue>>),
}

fn map_pricing(obj: &Object<'_>, id: &str, w: &mut Vec<String>) -> Pricing {
    let mut pricing = Pricing::default();
    let mut has_prompt = false;
    match raw(obj, "pricing").map(|r| serde_json::from_str::<BTreeMap<String, &RawValue>>(r.get()))
    {
        None => {}
        Some(Err(_)) => w.push(format!("{id}: ignored \"pricing\": not an object")),
        Some(Ok(map)) => {
            for (key, value) in map {
                if key.contains('\0') {
                    w.push(format!(
                        "{id}: ignored price {:?}: its key holds \\u0000",
                        excerpt(&key, 40)
                    ));
                    continue;
                }
                let entry = price_entry(id, &key, value, w);
                let prompt_or_completion = key == "prompt" || key == "completion";
                has_prompt |= key == "prompt" && !matches!(entry, PriceEntry::Structured(_));
                pricing.variable |= prompt_or_completion && matches!(entry, PriceEntry::Variable);
                let stored = match entry {
                    PriceEntry::Number(n) => Some(n),
                    PriceEntry::Structured(s) => s,
                    // Variable, null or unreadable: stored as null.
                    PriceEntry::Variable | PriceEntry::Null => None,
                };
                pricing.stored.insert(key, stored);
            }
        }
    }
    if !has_prompt && !pricing.variable {
        w.push(format!("{id}: no usable prompt price"));
    }
    pricing
}

fn price_entry(id: &str, key: &str, value: &RawValue, w: &mut Vec<String>) -> PriceEntry {
    let text = value.get().trim();
    let as_text = if text.starts_with('"') {
        serde_json::from_str::<String>(text).ok()
    } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        Some(text.to_string())
    } else {
        None
    };
    // A structured value (e.g. long-context overrides) passes through as is.
    if as_text.is_none() && text.starts_with(['{', '[']) {
        return PriceEntry::Structured(match crate::pg::jsonb::unstorable(text) {
            None => Some(value.to_owned()),
            Some(why) => {
                w.push(format!("{id}: ignored price \"{key}\": {why}"));
                None
            }
        });
    }
    match as_text.as_deref().map(parse_price) {
        _ if text == "null" => PriceEntry::Null,
        Some(Some(Price::Exact(d))) => PriceEntry::Number(number(&d)),
        Some(Some(Price::Variable)) => PriceEntry::Variable,
        _ => {
            w.push(format!(
                "{id}: ignored price \"{key}\" {}: not a price",
                excerpt(text, 40)
            ));
            PriceEntry::Null
        }
    }
}

struct Modalities {
    input: Vec<String>,
    output: Vec<String>,
    /// Input and output together.
    all: Vec<String>,
}

/// The modality lists of `architecture`, sorted and without duplicates: the API lists the
/// same set in varying orders ({text,image} and {image,text}), which would split every
/// GROUP BY over them.
fn modalities_of(architecture: Option<&RawValue>, id: &str, w: &mut Vec<String>) -> Modalities {
    let arch: Option<Object> = architecture.and_then(|r| serde_json::from_str(r.get()).ok());
    let mut list = |key: &str| -> Vec<String> {
        let mut v = arch
            .as_ref()
            .and_then(|a| field::<Vec<String>>(a, key, id, w))
            .unwrap_or_default();
        v.sort_unstable();
        v.dedup();
        v
    };
    let input = list("input_modalities");
    let output = list("output_modalities");
    let mut all = [input.clone(), output.clone()].concat();
    all.sort_unstable();
    all.dedup();
    Modalities { input, output, all }
}

/// `(variant, base id)`: `x/y:free` -> `(Some("free"), "x/y")`; no variant otherwise.
fn variant_of(id: &str) -> (Option<&str>, &str) {
    match id.rsplit_once(':') {
        Some((base, v)) if !v.is_empty() && !v.contains('/') => (Some(v), base),
        _ => (None, id),
    }
}

/// The fields this mapping does not know, kept verbatim (null included) unless jsonb cannot
/// hold them or their name (warned).
fn extra_fields<'a>(
    obj: &Object<'a>,
    id: &str,
    w: &mut Vec<String>,
) -> BTreeMap<String, &'a RawValue> {
    let mut extra = BTreeMap::new();
    for (k, v) in obj
        .iter()
        .filter(|(k, _)| !KNOWN_FIELDS.contains(&k.0.as_ref()))
    {
        if k.0.contains('\0') {
            w.push(format!(
                "{id}: ignored field {:?}: its name holds \\u0000",
                excerpt(&k.0, 40)
            ));
        } else if let Some(v) = kept(obj, &k.0, id, w) {
            extra.insert(k.0.to_string(), v);
        } else if v.get().trim() == "null" {
            extra.insert(k.0.to_string(), *v);
        }
    }
    extra
}

/// Labs in order of first appearance, each with its models in API order. A lab whose listed
/// models are all past their expiration date has no live model: it is mapped deprecated.
pub fn map_labs(models: &[MappedModel]) -> Vec<MappedLab> {
    let mut order: Vec<String> = Vec::new();
    let mut acc: HashMap<&str, LabAccumulator> = HashMap::new();
    let mut live: HashSet<&str> = HashSet::default();
    for m in models {
        if !m.expired {
            live.insert(m.lab());
        }
        acc.entry(m.lab())
            .or_insert_with(|| {
                order.push(m.lab().to_string());
                LabAccumulator::default()
            })
            // An alias's name ("OpenAI GPT Latest") does not name its lab: the others do.
            .add(&m.id, m.name.as_deref().filter(|_| !m.is_alias()));
    }
    order
        .iter()
        .map(|id| {
            let lab = &acc[id.as_str()];
            let name = lab.display_name(id);
            let curated = labs::curated(id);
            let description = format!(
                "{name}: AI lab with {} model{} on OpenRouter",
                lab.models.len(),
                if lab.models.len() == 1 { "" } else { "s" }
            );
            let data = LabData {
                id,
                name: &name,
                description: &description,
                website: curated.map(|c| c.website),
                founded: curated.map(|c| c.founded),
                headquarters: curated.map(|c| c.headquarters),
                models: &lab.models,
                model_count: lab.models.len(),
                deprecated: !live.contains(id.as_str()),
                metadata: Metadata {
                    ns: "labs",
                    visibility: "public",
                },
            };
            MappedLab {
                id: id.clone(),
                data: serde_json::to_string(&data).expect("lab data serializes"),
                description,
                name,
                live: live.contains(id.as_str()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a model keeps for the whole sync: its lab is its id's prefix (mapped or known),
    /// and the kept pricing text takes no more memory than its length.
    #[test]
    fn kept_fields_of_every_fixture_model() {
        for name in [crate::tests::testkit::OLD, crate::tests::testkit::NEW] {
            let models = crate::models::fixture_tests::mapped(name).models;
            assert!(models.len() > 300, "{name}");
            for m in &models {
                let (lab, rest) = m.id.split_once('/').unwrap();
                assert!(!lab.is_empty() && !rest.is_empty(), "{}", m.id);
                assert_eq!(m.lab(), lab);
                let known = Known {
                    id: m.id.clone(),
                    name: m.name.clone(),
                    fingerprint: m.fingerprint,
                };
                assert_eq!(MappedModel::known(&known, m.raw_hash).lab(), lab);
                assert!(m.pricing.starts_with('{'), "{}: {}", m.id, m.pricing);
                assert_eq!(m.pricing.capacity(), m.pricing.len(), "{}", m.id);
            }
        }
    }

    /// prompt_and_completion() reads the two prices exactly as prices() does, for every
    /// model of both registries (variable, missing and structured prices included), and for
    /// pricing texts the mapping never writes.
    #[test]
    fn prompt_and_completion_match_prices() {
        let mut seen = (0, 0);
        for name in [crate::tests::testkit::OLD, crate::tests::testkit::NEW] {
            for m in &crate::models::fixture_tests::mapped(name).models {
                let all = m.prices();
                let want = (
                    all.get("prompt").cloned().flatten(),
                    all.get("completion").cloned().flatten(),
                );
                assert_eq!(m.prompt_and_completion(), want, "{}: {}", m.id, m.pricing);
                seen.0 += usize::from(want.0.is_some());
                seen.1 += usize::from(want.0.is_none());
            }
        }
        assert!(seen.0 > 500 && seen.1 > 0, "{seen:?}");
        let mut m = MappedModel::known(
            &Known {
                id: "a/b".into(),
                name: None,
                fingerprint: 0,
            },
            0,
        );
        for (pricing, want) in [
            (
                r#"{"prompt": 1e-6, "completion": null}"#,
                (Some("0.000001"), None),
            ),
            (
                r#"{"prompt": "1e-6", "completion": 0.5}"#,
                (None, Some("0.5")),
            ),
            (r#"{"prompt": 2, "prompt": 3}"#, (Some("3"), None)),
            (r#"[1]"#, (None, None)),
            (r#"[1, 2]"#, (None, None)),
            ("", (None, None)),
        ] {
            m.pricing = pricing.into();
            let got = m.prompt_and_completion();
            assert_eq!((got.0.as_deref(), got.1.as_deref()), want, "{pricing}");
            let all = m.prices();
            let from_all = (
                all.get("prompt").cloned().flatten(),
                all.get("completion").cloned().flatten(),
            );
            assert_eq!(got, from_all, "{pricing}");
        }
    }

    #[test]
    fn assemble_joins_parts_and_keeps_the_last_of_a_repeated_id() {
        let raw = |id: &str, name: &str| {
            serde_json::json!({"id": id, "name": name, "pricing": {"prompt": "0.000001", "completion": "0.000002"}})
                .to_string()
        };
        let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let none = HashMap::new();
        let (a, b, c, b2) = (
            raw("x/a", "X: A"),
            raw("x/b", "X: B"),
            raw("y/c", "Y: C"),
            raw("x/b", "X: B2"),
        );
        let part = |k: usize, raws: &[&str]| map_part(k, raws, today, &none).unwrap();
        // No repeats: the parts joined in order, labs in order of first appearance.
        let reg = assemble(vec![part(0, &[&a, &b]), part(2, &[&c])]);
        let ids: Vec<&str> = reg.models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["x/a", "x/b", "y/c"]);
        let labs: Vec<&str> = reg.labs.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(labs, ["x", "y"]);
        assert!(reg.warnings.is_empty(), "{:?}", reg.warnings);
        // x/b again in a later part: kept at its first place, with the last occurrence's data.
        let reg = assemble(vec![part(0, &[&a, &b]), part(2, &[&c, &b2])]);
        let ids: Vec<&str> = reg.models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["x/a", "x/b", "y/c"]);
        assert_eq!(reg.models[1].name.as_deref(), Some("X: B2"));
        assert_eq!(
            reg.warnings,
            ["x/b: listed more than once; kept the last occurrence"]
        );
    }

    #[test]
    fn keys_with_escapes_are_read_like_plain_ones() {
        // serde_json lends a key from the body only when it has no escape: "\u0069d" is "id".
        let today = chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
        let plain = r#"{"id": "x/a", "name": "X: A", "architecture": {"input_modalities": ["text", "image"]}, "pricing": {"prompt": "0.000001"}, "surprise": 1}"#;
        let escaped = r#"{"\u0069d": "x/a", "n\u0061me": "X: A", "architecture": {"input_\u006dodalities": ["text", "image"]}, "pricing": {"prompt": "0.000001"}, "surpris\u0065": 1}"#;
        let none = HashMap::new();
        let (a, _) = map_part(0, &[plain], today, &none).unwrap();
        let (b, _) = map_part(0, &[escaped], today, &none).unwrap();
        assert_eq!(b[0].id, "x/a");
        assert_eq!(b[0].name.as_deref(), Some("X: A"));
        // The same document once parsed (raw values such as architecture pass through as
        // written, escapes included, as before).
        let data: serde_json::Value = serde_json::from_str(b[0].data()).unwrap();
        let plain_data: serde_json::Value = serde_json::from_str(a[0].data()).unwrap();
        assert_eq!(data, plain_data);
        // Sorted, whatever the API's order.
        assert_eq!(
            data["input_modalities"],
            serde_json::json!(["image", "text"])
        );
        assert_eq!(data["extra"]["surprise"], 1);
    }

    #[test]
    fn parameter_counts() {
        assert_eq!(
            parameters("llama-3.3-70b-instruct"),
            Some(("70B".into(), "70".into(), None))
        );
        assert_eq!(
            parameters("qwen3-30b-a3b"),
            Some(("30B-A3B".into(), "30".into(), Some("3".into())))
        );
        assert_eq!(
            parameters("Qwen3 235B A22B Thinking"),
            Some(("235B-A22B".into(), "235".into(), Some("22".into())))
        );
        assert_eq!(
            parameters("mixtral-8x7b-instruct"),
            Some(("8x7B".into(), "56".into(), None))
        );
        assert_eq!(
            parameters("gemma-3-4b-it"),
            Some(("4B".into(), "4".into(), None))
        );
        assert_eq!(parameters("gpt-4o"), None);
        assert_eq!(parameters("claude-sonnet-4"), None);
    }

    #[test]
    fn features_from_parameters() {
        let p: Vec<String> = ["tools", "response_format", "include_reasoning"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            features(&p),
            vec!["function_calling", "json_mode", "reasoning", "streaming"]
        );
        assert_eq!(features(&[]), vec!["streaming"]);
    }
}
