//! Every `openrouter.*` setting. Those that decide where the server connects, or hold a
//! secret, are superuser-only (PGC_SUSET): an ordinary role cannot point the server at
//! another URL, and cannot read the key.

use crate::fetch::FetchConfig;
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;

pub const DEFAULT_API_URL: &str = "https://openrouter.ai/api/v1/models?output_modalities=all";

static API_URL: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(
    c"https://openrouter.ai/api/v1/models?output_modalities=all",
));
static API_KEY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(30_000);
static HTTP_REFERER: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static APP_TITLE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"openrouter_registry"));
static MAX_RESPONSE_BYTES: GucSetting<i32> = GucSetting::<i32>::new(64 << 20);
static MAX_PAGES: GucSetting<i32> = GucSetting::<i32>::new(100);
static MAX_RETRIES: GucSetting<i32> = GucSetting::<i32>::new(2);
static MAX_REMOVED_FRACTION: GucSetting<f64> = GucSetting::<f64>::new(0.25);

pub fn init() {
    GucRegistry::define_string_guc(
        c"openrouter.api_url",
        c"URL of the OpenRouter models list that openrouter_sync() fetches.",
        c"Only http and https. Superuser-only: it decides where the database server connects.",
        &API_URL,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"openrouter.api_key",
        c"OpenRouter API key, sent as a Bearer token (optional for the models list).",
        c"Superuser-only, hidden from SHOW ALL and pg_settings for other roles.",
        &API_KEY,
        GucContext::Suset,
        GucFlags::SUPERUSER_ONLY | GucFlags::NO_SHOW_ALL,
    );
    GucRegistry::define_int_guc(
        c"openrouter.timeout_ms",
        c"Deadline for one HTTP request (connect, headers and body), in milliseconds.",
        c"",
        &TIMEOUT_MS,
        100,
        600_000,
        GucContext::Suset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_string_guc(
        c"openrouter.http_referer",
        c"HTTP-Referer header sent to OpenRouter (identifies your app).",
        c"",
        &HTTP_REFERER,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"openrouter.app_title",
        c"X-Title header sent to OpenRouter (identifies your app).",
        c"",
        &APP_TITLE,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"openrouter.max_response_bytes",
        c"Largest response body accepted, per page.",
        c"The registry is about 0.7 MB today; the default allows about 90 times that.",
        &MAX_RESPONSE_BYTES,
        1024,
        i32::MAX,
        GucContext::Suset,
        GucFlags::UNIT_BYTE,
    );
    GucRegistry::define_int_guc(
        c"openrouter.max_pages",
        c"Most pages followed through links.next before the sync gives up.",
        c"",
        &MAX_PAGES,
        1,
        100_000,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"openrouter.max_retries",
        c"Retries after HTTP 429 or 5xx, with backoff (Retry-After is honoured).",
        c"",
        &MAX_RETRIES,
        0,
        10,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"openrouter.max_removed_fraction",
        c"Largest share of live models one sync may mark as removed without force => true.",
        c"Protects the registry from a truncated or half-broken API response.",
        &MAX_REMOVED_FRACTION,
        0.0,
        1.0,
        GucContext::Suset,
        GucFlags::default(),
    );
}

fn string(s: &GucSetting<Option<CString>>) -> Option<String> {
    s.get()
        .map(|c| c.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
}

pub fn api_url() -> String {
    string(&API_URL).unwrap_or_else(|| DEFAULT_API_URL.to_string())
}

pub fn max_removed_fraction() -> f64 {
    MAX_REMOVED_FRACTION.get()
}

pub fn fetch_config() -> FetchConfig {
    FetchConfig {
        url: api_url(),
        api_key: string(&API_KEY),
        timeout_ms: TIMEOUT_MS.get().max(1) as u64,
        http_referer: string(&HTTP_REFERER),
        app_title: string(&APP_TITLE),
        max_response_bytes: MAX_RESPONSE_BYTES.get().max(1) as usize,
        max_pages: MAX_PAGES.get().max(1) as usize,
        max_retries: MAX_RETRIES.get().max(0) as u32,
        max_backoff_ms: 10_000,
    }
}
