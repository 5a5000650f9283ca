//! Every `openrouter.*` setting. Those that decide where the server connects, or hold a
//! secret, are superuser-only (PGC_SUSET): an ordinary role cannot point the server at
//! another URL, and cannot read the key.

use crate::fetch::FetchConfig;
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::{c_char, c_void, CString};

pub const DEFAULT_API_URL: &str = "https://openrouter.ai/api/v1/models?output_modalities=all";

static API_URL: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(
    c"https://openrouter.ai/api/v1/models?output_modalities=all",
));
static API_KEY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
static API_KEY_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
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
    // SAFETY: both hooks are #[pg_guard]ed and touch only their arguments and statics.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"openrouter.api_key",
            c"OpenRouter API key, sent as a Bearer token (optional for the models list).",
            c"Superuser-only and always shown masked. Prefer openrouter.api_key_file. Refused in ALTER DATABASE/ROLE SET and function SET clauses, whose values every role can read in the catalogs.",
            &API_KEY,
            GucContext::Suset,
            GucFlags::SUPERUSER_ONLY | GucFlags::NO_SHOW_ALL | GucFlags::NOT_WHILE_SEC_REST,
            Some(check_api_key),
            None,
            Some(show_api_key),
        );
    }
    GucRegistry::define_string_guc(
        c"openrouter.api_key_file",
        c"File holding the OpenRouter API key (read by the server at each sync).",
        c"The safe way to configure the key: only the path is a setting; keep the file readable by the postgres OS user only.",
        &API_KEY_FILE,
        GucContext::Suset,
        GucFlags::default(),
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
    // Drops unknown openrouter.* placeholders (typos) with a warning.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"openrouter".as_ptr()) };
}

/// Refuses the key where its value would be stored in a catalog every role can read:
/// ALTER DATABASE/ROLE ... SET (validated as PGC_S_TEST, applied as DATABASE/USER) and
/// function SET clauses.
#[pg_guard]
unsafe extern "C-unwind" fn check_api_key(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    source: pg_sys::GucSource::Type,
) -> bool {
    use pg_sys::GucSource::*;
    let empty = newval.is_null() || (*newval).is_null() || *(*newval) == 0;
    if empty
        || !matches!(
            source,
            PGC_S_TEST | PGC_S_DATABASE | PGC_S_USER | PGC_S_DATABASE_USER
        )
    {
        return true;
    }
    pg_sys::GUC_check_errcode(PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE as i32);
    pg_sys::GUC_check_errdetail_string = pg_sys::pstrdup(
        c"ALTER DATABASE/ROLE ... SET and function SET clauses store the value in catalogs that every role can read.".as_ptr(),
    );
    pg_sys::GUC_check_errhint_string = pg_sys::pstrdup(
        c"Put the key in a file readable only by the postgres OS user and set openrouter.api_key_file (ALTER SYSTEM), or SET openrouter.api_key in a superuser session.".as_ptr(),
    );
    false
}

/// SHOW, current_setting() and pg_settings never print the key.
#[pg_guard]
unsafe extern "C-unwind" fn show_api_key() -> *const c_char {
    if string(&API_KEY).is_some() {
        c"********".as_ptr()
    } else {
        c"".as_ptr()
    }
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

/// The key: from openrouter.api_key_file when set, else openrouter.api_key.
/// Errors name the file, never its content.
pub fn api_key() -> Result<Option<String>, crate::error::SyncError> {
    match string(&API_KEY_FILE) {
        None => Ok(string(&API_KEY)),
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_string()).filter(|k| !k.is_empty())),
            Err(e) => Err(crate::error::SyncError::Argument(format!(
                "cannot read openrouter.api_key_file {path:?}: {}",
                e.kind()
            ))),
        },
    }
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
