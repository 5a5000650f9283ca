//! Every `openrouter.*` setting. Those that decide where the server connects, or hold a
//! secret, are superuser-only (PGC_SUSET): an ordinary role cannot point the server at
//! another URL, and cannot read the key.

use crate::http::FetchConfig;
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
static ENDPOINTS_CONCURRENCY: GucSetting<i32> = GucSetting::<i32>::new(4);
static ENDPOINT_STATS_RETENTION_DAYS: GucSetting<i32> = GucSetting::<i32>::new(90);

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
            Some(assign_api_key),
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
    GucRegistry::define_int_guc(
        c"openrouter.endpoints_concurrency",
        c"Most /endpoints requests openrouter_sync_endpoints() has in flight at once.",
        c"One request per model; keep it small to stay within the API's rate limits.",
        &ENDPOINTS_CONCURRENCY,
        1,
        32,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"openrouter.endpoint_stats_retention_days",
        c"Days of endpoint metric history (openrouter_endpoint_stats) kept; older rows are deleted by each endpoints sync.",
        c"",
        &ENDPOINT_STATS_RETENTION_DAYS,
        1,
        36_500,
        GucContext::Suset,
        GucFlags::default(),
    );
    // Drops unknown openrouter.* placeholders (typos) with a warning.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"openrouter".as_ptr()) };
}

/// The key as configured, and where it came from. The GUC variable itself always holds
/// MASK: Postgres logs "parameter changed to" on reload only when the variable's value
/// changes, and shows the variable in SHOW and pg_settings; the real value travels in the
/// GUC "extra" (check hook) to the assign hook, which keeps it here.
struct Key {
    value: Option<String>,
    source: pg_sys::GucSource::Type,
}
static KEY: std::sync::Mutex<Key> = std::sync::Mutex::new(Key {
    value: None,
    source: 0,
});
static PRELOADED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
const MASK: &std::ffi::CStr = c"********";

pub fn note_preloaded() {
    // SAFETY: a plain flag Postgres sets while loading shared_preload_libraries.
    let preloaded = unsafe { pg_sys::process_shared_preload_libraries_in_progress };
    PRELOADED.store(preloaded, std::sync::atomic::Ordering::Relaxed);
}

/// Refuses the key where its value would be stored in a catalog every role can read:
/// ALTER DATABASE/ROLE ... SET (validated as PGC_S_TEST, applied as DATABASE/USER) and
/// function SET clauses. Otherwise swaps the value for MASK and passes it on as "extra".
#[pg_guard]
unsafe extern "C-unwind" fn check_api_key(
    newval: *mut *mut c_char,
    extra: *mut *mut c_void,
    source: pg_sys::GucSource::Type,
) -> bool {
    use pg_sys::GucSource::*;
    let given = if newval.is_null() || (*newval).is_null() {
        None
    } else {
        Some(
            std::ffi::CStr::from_ptr(*newval)
                .to_string_lossy()
                .into_owned(),
        )
    };
    let given = given.filter(|v| !v.is_empty() && v.as_bytes() != MASK.to_bytes());
    // A value stored earlier (ALTER DATABASE/ROLE ... SET in a session that had not loaded
    // this library, where the setting was a placeholder), applied as the library loads or a
    // session starts: refused, loudly, with the statement that removes it.
    if given.is_some()
        && matches!(
            source,
            PGC_S_DATABASE | PGC_S_USER | PGC_S_DATABASE_USER | PGC_S_GLOBAL
        )
    {
        let (stored_by, reset) = stored_key_statements(source);
        pg_sys::GUC_check_errcode(PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE as i32);
        pg_sys::GUC_check_errmsg_string = palloc_text(&format!(
            "openrouter.api_key is stored in pg_db_role_setting ({stored_by}), readable by every role: it is ignored"
        ));
        pg_sys::GUC_check_errhint_string = palloc_text(&format!(
            "Run {reset} as a superuser, and put the key in a file readable only by the postgres OS user named by openrouter.api_key_file."
        ));
        return false;
    }
    if given.is_some() && source == PGC_S_TEST {
        pg_sys::GUC_check_errcode(PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE as i32);
        pg_sys::GUC_check_errmsg_string = pg_sys::pstrdup(c"openrouter.api_key cannot be stored with ALTER DATABASE/ROLE ... SET or a function SET clause".as_ptr());
        pg_sys::GUC_check_errdetail_string = pg_sys::pstrdup(
            c"Those values are kept in catalogs that every role can read.".as_ptr(),
        );
        pg_sys::GUC_check_errhint_string = pg_sys::pstrdup(
            c"Put the key in a file readable only by the postgres OS user and set openrouter.api_key_file, or SET openrouter.api_key in a superuser session.".as_ptr(),
        );
        return false;
    }
    // extra: [source: u32][key bytes][NUL], from the GUC allocator: Postgres frees it.
    let key = given.unwrap_or_default();
    let size = 4 + key.len() + 1;
    let buf = guc_memory::alloc(size) as *mut u8;
    if buf.is_null() {
        return false;
    }
    std::ptr::copy_nonoverlapping(source.to_ne_bytes().as_ptr(), buf, 4);
    std::ptr::copy_nonoverlapping(key.as_ptr(), buf.add(4), key.len());
    *buf.add(4 + key.len()) = 0;
    if !newval.is_null() {
        let mask = guc_memory::strdup(MASK);
        if mask.is_null() {
            guc_memory::free(buf as *mut c_void);
            return false;
        }
        guc_memory::free(*newval as *mut c_void);
        *newval = mask;
    }
    *extra = buf as *mut c_void;
    true
}

/// How a key in pg_db_role_setting got there, and the statement that removes it, for the
/// source the stored value is applied with. Names the database and the session's role when
/// the catalogs can be read (a session's start and LOAD run inside a transaction).
unsafe fn stored_key_statements(source: pg_sys::GucSource::Type) -> (String, String) {
    use pg_sys::GucSource::*;
    let in_xact = pg_sys::IsTransactionState();
    let quoted = |name: *const c_char, fallback: &str| -> String {
        if name.is_null() {
            return fallback.to_string();
        }
        std::ffi::CStr::from_ptr(pg_sys::quote_identifier(name))
            .to_string_lossy()
            .into_owned()
    };
    let db = || {
        let name = if in_xact {
            pg_sys::get_database_name(pg_sys::MyDatabaseId)
        } else {
            std::ptr::null_mut()
        };
        quoted(name, "<this database>")
    };
    let role = || {
        let name = if in_xact {
            pg_sys::GetUserNameFromId(pg_sys::GetSessionUserId(), true)
        } else {
            std::ptr::null_mut()
        };
        quoted(name, "<this role>")
    };
    let target = match source {
        PGC_S_DATABASE => format!("DATABASE {}", db()),
        PGC_S_USER => format!("ROLE {}", role()),
        PGC_S_DATABASE_USER => format!("ROLE {} IN DATABASE {}", role(), db()),
        _ => "ROLE ALL".to_string(),
    };
    (
        format!("ALTER {target} SET"),
        format!("ALTER {target} RESET openrouter.api_key"),
    )
}

/// A copy of `text` in the current memory context, as GUC_check_errmsg and friends want.
unsafe fn palloc_text(text: &str) -> *mut c_char {
    let text = CString::new(text.replace('\0', "")).unwrap_or_default();
    pg_sys::pstrdup(text.as_ptr())
}

/// The allocator of a string setting's value and of its "extra", which Postgres frees
/// itself: malloc/free on 15; from 16 on, guc_malloc/guc_free (PostgreSQL's GUC memory
/// context: free() on such a pointer, or pfree() on a malloc'd one, corrupts the heap).
/// Each returns null when out of memory (LOG, not ERROR: a check hook must not throw).
mod guc_memory {
    use std::ffi::{c_char, c_void, CStr};

    #[cfg(feature = "pg15")]
    pub unsafe fn alloc(size: usize) -> *mut c_void {
        libc::malloc(size)
    }
    #[cfg(feature = "pg15")]
    pub unsafe fn strdup(s: &CStr) -> *mut c_char {
        libc::strdup(s.as_ptr())
    }
    /// Null is fine.
    #[cfg(feature = "pg15")]
    pub unsafe fn free(p: *mut c_void) {
        libc::free(p)
    }

    #[cfg(not(feature = "pg15"))]
    pub unsafe fn alloc(size: usize) -> *mut c_void {
        pgrx::pg_sys::guc_malloc(pgrx::pg_sys::LOG as i32, size)
    }
    #[cfg(not(feature = "pg15"))]
    pub unsafe fn strdup(s: &CStr) -> *mut c_char {
        pgrx::pg_sys::guc_strdup(pgrx::pg_sys::LOG as i32, s.as_ptr())
    }
    /// Null is fine.
    #[cfg(not(feature = "pg15"))]
    pub unsafe fn free(p: *mut c_void) {
        pgrx::pg_sys::guc_free(p)
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn assign_api_key(_newval: *const c_char, extra: *mut c_void) {
    if extra.is_null() {
        return;
    }
    let buf = extra as *const u8;
    let mut source = [0u8; 4];
    std::ptr::copy_nonoverlapping(buf, source.as_mut_ptr(), 4);
    let key = std::ffi::CStr::from_ptr(buf.add(4) as *const c_char)
        .to_string_lossy()
        .into_owned();
    let mut k = KEY.lock().unwrap_or_else(|e| e.into_inner());
    k.value = Some(key).filter(|v| !v.is_empty());
    k.source = u32::from_ne_bytes(source);
}

/// SHOW, current_setting() and pg_settings never print the key, only whether one is set.
#[pg_guard]
unsafe extern "C-unwind" fn show_api_key() -> *const c_char {
    if KEY.lock().map(|k| k.value.is_some()).unwrap_or(false) {
        c"(set)".as_ptr()
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

pub fn endpoints_concurrency() -> usize {
    ENDPOINTS_CONCURRENCY.get().max(1) as usize
}

pub fn endpoint_stats_retention_days() -> i32 {
    ENDPOINT_STATS_RETENTION_DAYS.get().max(1)
}

pub fn max_removed_fraction() -> f64 {
    MAX_REMOVED_FRACTION.get()
}

/// The key: from openrouter.api_key_file when set, else openrouter.api_key.
/// Errors name the file, never its content.
pub fn api_key() -> Result<Option<String>, crate::error::SyncError> {
    use pg_sys::GucSource::*;
    if let Some(path) = string(&API_KEY_FILE) {
        return match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_string()).filter(|k| !k.is_empty())),
            Err(e) => Err(crate::error::SyncError::Argument(format!(
                "cannot read openrouter.api_key_file {path:?}: {}",
                e.kind()
            ))),
        };
    }
    let k = KEY.lock().unwrap_or_else(|e| e.into_inner());
    let from_config = matches!(k.source, PGC_S_ENV_VAR | PGC_S_FILE | PGC_S_ARGV);
    if k.value.is_some() && from_config && !PRELOADED.load(std::sync::atomic::Ordering::Relaxed) {
        // Sessions that never load this library see the configured value as a placeholder
        // that any role can SHOW: refuse to rely on such a key.
        return Err(crate::error::SyncError::Insecure(
            "openrouter.api_key is set in the server configuration, but openrouter_registry is not in shared_preload_libraries, so sessions that have not loaded it can read the key with SHOW".into(),
        ));
    }
    Ok(k.value.clone())
}

pub fn fetch_config() -> FetchConfig {
    FetchConfig {
        url: api_url(),
        api_key: None,
        timeout_ms: TIMEOUT_MS.get().max(1) as u64,
        http_referer: string(&HTTP_REFERER),
        app_title: string(&APP_TITLE),
        max_response_bytes: MAX_RESPONSE_BYTES.get().max(1) as usize,
        max_pages: MAX_PAGES.get().max(1) as usize,
        max_retries: MAX_RETRIES.get().max(0) as u32,
        max_backoff_ms: 10_000,
    }
}
