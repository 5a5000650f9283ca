//! One error type for a sync. Each variant says what went wrong in words a DBA understands,
//! carries a SQLSTATE and a hint, and never holds a secret: URLs are passed through
//! `safe_url` before they get here.

use crate::models::{map::ModelError, ShapeError};

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("openrouter.api_url {url:?} is not usable: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("GET {url} answered HTTP {status}{}", fmt_message(.message))]
    Http {
        url: String,
        status: u16,
        message: String,
        attempts: u32,
    },
    #[error("GET {url} timed out after {timeout_ms} ms")]
    Timeout { url: String, timeout_ms: u64 },
    #[error("could not connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("GET {url} failed: {reason}")]
    Transport { url: String, reason: String },
    #[error("GET {url} redirects to {location}, which is refused: {reason}")]
    Redirect {
        url: String,
        location: String,
        reason: String,
    },
    #[error(
        "the response of GET {url} is larger than openrouter.max_response_bytes ({limit} bytes)"
    )]
    TooLarge { url: String, limit: usize },
    #[error("the response of GET {url} is not valid UTF-8 (byte {at})")]
    Utf8 { url: String, at: usize },
    #[error("{} {detail}; it begins: {excerpt}", what(.url))]
    Body {
        url: String,
        detail: String,
        excerpt: String,
    },
    #[error("{} is unusable: {}", what(.url), .source)]
    Model { url: String, source: ModelError },
    #[error("pagination of {url} {reason}")]
    Pagination { url: String, reason: String },
    #[error("{} holds no models: refusing to treat every model as removed", what(.url))]
    Empty { url: String },
    #[error("this sync would mark {removing} of {live} live models as removed ({percent:.0}% > openrouter.max_removed_fraction = {limit})")]
    TooManyRemoved {
        /// The function called (openrouter_sync, openrouter_sync_from_text, ...).
        entry: &'static str,
        removing: usize,
        live: usize,
        percent: f64,
        limit: f64,
    },
    #[error("this database's encoding is {encoding}, not UTF8: the registry's text (names, descriptions, every document) is UTF-8 and would be stored garbled or unreadable")]
    Encoding { encoding: String },
    #[error("out of memory: {what} needs {bytes} bytes more than this backend can allocate")]
    OutOfMemory { what: String, bytes: usize },
    #[error("{entry}() cannot run in a read-only transaction (it writes the registry)")]
    ReadOnly { entry: &'static str },
    #[error("{entry}: as_of {as_of} is not after the last sync ({last}): snapshots are loaded in date order")]
    OutOfOrder {
        entry: &'static str,
        as_of: String,
        last: String,
    },
    #[error("the endpoints sync read nothing from {base}: every one of its {requests} requests failed (the first: {first})")]
    NothingRead {
        base: String,
        requests: u32,
        first: String,
    },
    #[error("{entry}: the library is {library}, the extension's objects are {objects}")]
    OldObjects {
        entry: &'static str,
        library: &'static str,
        objects: String,
    },
    #[error("{0}")]
    Argument(String),
    #[error("{0}")]
    Insecure(String),
}

/// Users never see Rust frames. pgrx attaches a captured backtrace to the DETAIL of errors
/// that pass through Rust (a cancel or statement_timeout noticed in a sync included) when
/// RUST_BACKTRACE is set in the server's environment: RUST_LIB_BACKTRACE=0 turns off
/// `std::backtrace::Backtrace::capture()` alone (set before any capture, which caches it;
/// from shared_preload_libraries the postmaster's backends inherit it). An explicit
/// RUST_LIB_BACKTRACE is left as it is.
pub fn no_rust_backtraces() {
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        // Loading a library: no other thread of this process reads the environment now.
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
}

thread_local! {
    /// The key of the running sync, if any: never shown (see `redact`).
    static SECRET: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Remembers the key the sync sends, so that `redact` hides it wherever it shows up (a
/// server may echo the request's headers in its error body).
pub fn hide_secret(key: Option<&str>) {
    SECRET.with(|s| *s.borrow_mut() = key.filter(|k| k.len() >= 4).map(String::from));
}

/// `text` without the sync's key, anything that looks like an OpenRouter key (`sk-or-...`),
/// or a bearer token: each becomes `***`. Every message, hint and warning passes here.
pub fn redact(text: &str) -> String {
    let mut out = match SECRET.with(|s| s.borrow().clone()) {
        Some(key) => text.replace(&key, "***"),
        None => text.to_string(),
    };
    for marker in ["sk-or-", "Bearer ", "bearer ", "BEARER "] {
        out = redact_after(&out, marker, marker != "sk-or-");
    }
    out
}

/// Replaces the token following each `marker` with `***` (keeping the marker unless it is
/// part of the token).
fn redact_after(text: &str, marker: &str, keep_marker: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(marker) {
        let after = &rest[i + marker.len()..];
        let token = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.~+/=".contains(c)))
            .unwrap_or(after.len());
        out.push_str(&rest[..i]);
        if token == 0 {
            out.push_str(marker);
        } else {
            out.push_str(if keep_marker { marker } else { "" });
            out.push_str("***");
        }
        rest = &after[token..];
    }
    out.push_str(rest);
    out
}

/// Whether a body came from a function's argument (its name is where the URL would be)
/// rather than from a URL.
fn is_payload(url: &str) -> bool {
    url.starts_with("openrouter_sync_from_")
}

/// Names where a body came from: the URL fetched, or the payload given to a function.
fn what(url: &str) -> String {
    if is_payload(url) {
        format!("the payload given to {url}")
    } else {
        format!("the response of GET {url}")
    }
}

fn fmt_message(m: &str) -> String {
    if m.is_empty() {
        String::new()
    } else {
        format!(": {m}")
    }
}

impl SyncError {
    pub fn from_shape(url: &str, e: ShapeError, body: &str) -> Self {
        let detail = match e {
            ShapeError::Syntax(d) => format!("is not JSON ({d})"),
            ShapeError::Shape(d) => format!("is not a model list ({d})"),
        };
        SyncError::Body {
            url: url.to_string(),
            detail,
            excerpt: crate::text::excerpt(body.trim_start(), 120),
        }
    }

    /// SQLSTATE, five characters.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            SyncError::BadUrl { .. } | SyncError::Argument(_) => "22023", // invalid_parameter_value
            SyncError::Http { .. } | SyncError::NothingRead { .. } => "58000", // system_error (remote)
            SyncError::Timeout { .. } | SyncError::Connect { .. } | SyncError::Transport { .. } => {
                "08000"
            } // connection_exception
            SyncError::Redirect { .. } => "08000",
            SyncError::TooLarge { .. } => "54000", // program_limit_exceeded
            SyncError::Utf8 { .. } => "22021",     // character_not_in_repertoire
            SyncError::Encoding { .. } => "0A000", // feature_not_supported
            SyncError::OutOfMemory { .. } => "53200", // out_of_memory
            SyncError::Body { .. } | SyncError::Model { .. } => "22000", // data_exception
            SyncError::Pagination { .. } => "22000",
            SyncError::Empty { .. }
            | SyncError::TooManyRemoved { .. }
            | SyncError::Insecure(_)
            | SyncError::OutOfOrder { .. }
            | SyncError::OldObjects { .. } => "55000", // object_not_in_prerequisite_state
            SyncError::ReadOnly { .. } => "25006", // read_only_sql_transaction
        }
    }

    pub fn hint(&self) -> String {
        match self {
            SyncError::BadUrl { .. } => "Set openrouter.api_url to an http:// or https:// URL (as a superuser: ALTER SYSTEM or ALTER DATABASE ... SET).".into(),
            SyncError::Http { status: 401 | 403, .. } => "Check openrouter.api_key (it is sent as a Bearer token; the public models list needs none).".into(),
            SyncError::Http { status: 429, attempts, .. } => format!("The API is rate-limiting this client; gave up after {attempts} attempts (openrouter.max_retries). Try again later."),
            SyncError::Http { status, attempts, .. } if *status >= 500 => format!("The API failed on its side; gave up after {attempts} attempts (openrouter.max_retries). Try again later."),
            SyncError::Http { .. } => "Check openrouter.api_url.".into(),
            SyncError::Timeout { .. } => "Raise openrouter.timeout_ms if the API is just slow.".into(),
            SyncError::Connect { .. } | SyncError::Transport { .. } => "Check that this database server can reach the API (network, DNS, proxy).".into(),
            SyncError::Redirect { .. } => "Set openrouter.api_url to the final URL.".into(),
            SyncError::TooLarge { .. } => "Raise openrouter.max_response_bytes if the registry really grew that much.".into(),
            SyncError::Body { url, .. } | SyncError::Model { url, .. } if is_payload(url) => "Give the body of a GET /api/v1/models response (an object with a \"data\" array); nothing was changed.".into(),
            SyncError::Utf8 { .. } | SyncError::Body { .. } | SyncError::Model { .. } | SyncError::Pagination { .. } => "The API answered something other than the model list; nothing was changed. Check openrouter.api_url.".into(),
            SyncError::Empty { .. } => "An empty model list is always refused; nothing was changed.".into(),
            SyncError::Encoding { .. } => "Create a database with ENCODING 'UTF8' (CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0) and install the extension there; nothing was changed.".into(),
            SyncError::OutOfMemory { .. } => "The server refused this backend the memory (a ulimit, vm.overcommit_memory = 2, or too little RAM for the registry: a sync needs about 4 times the size of the response); nothing was changed. Free memory, or lower openrouter.max_response_bytes to refuse such responses earlier.".into(),
            SyncError::TooManyRemoved { entry: "openrouter_sync", .. } => "If the models really are gone, run SELECT openrouter_sync(force => true); nothing was changed.".into(),
            SyncError::TooManyRemoved { entry, .. } => format!("If the models really are gone, call {entry}(..., force => true) with the same payload; nothing was changed."),
            SyncError::OldObjects { .. } => "Run ALTER EXTENSION openrouter_registry UPDATE in this database: the library installed is newer than the extension's SQL objects; nothing was changed.".into(),
            SyncError::ReadOnly { .. } => "Run it in a read-write transaction (not on a standby, not after SET TRANSACTION READ ONLY).".into(),
            SyncError::OutOfOrder { .. } => "Load archived snapshots oldest first, into a registry that has no later sync; nothing was changed.".into(),
            SyncError::NothingRead { .. } => "Nothing was changed and no run was recorded, so the endpoints go stale in openrouter_health_by_dataset(). Check that this server can reach the API (openrouter.api_url) and try again.".into(),
            SyncError::Argument(_) => String::new(),
            SyncError::Insecure(_) => "Add openrouter_registry to shared_preload_libraries and restart, or put the key in a file and set openrouter.api_key_file instead.".into(),
        }
    }

    /// Raises the error as a Postgres ERROR (does not return).
    pub fn raise(self) -> ! {
        use pgrx::pg_sys::panic::ErrorReport;
        use pgrx::PgSqlErrorCode;
        let code = match self.sqlstate() {
            "22023" => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "58000" => PgSqlErrorCode::ERRCODE_SYSTEM_ERROR,
            "08000" => PgSqlErrorCode::ERRCODE_CONNECTION_EXCEPTION,
            "54000" => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            "22021" => PgSqlErrorCode::ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
            "22000" => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            "0A000" => PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "53200" => PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
            "25006" => PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            _ => PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        };
        let hint = redact(&self.hint());
        let mut report = ErrorReport::new(
            code,
            redact(&format!("openrouter: {self}")),
            "openrouter_sync",
        );
        if !hint.is_empty() {
            report = report.set_hint(hint);
        }
        report.report(pgrx::PgLogLevel::ERROR);
        unreachable!("ERROR does not return")
    }
}

/// A URL fit for messages and history: no user:password, and query parameters that look
/// like credentials replaced by "***".
pub fn safe_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut out = String::new();
    if let Some(s) = scheme {
        out.push_str(s);
        out.push_str("://");
    }
    out.push_str(authority);
    out.push_str(path);
    if let Some(q) = query {
        let q: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if is_secret_name(k) => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&q.join("&"));
    }
    out
}

fn is_secret_name(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    ["key", "token", "secret", "password", "auth", "sig"]
        .iter()
        .any(|s| k.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_secrets() {
        assert_eq!(
            safe_url("https://u:p@openrouter.ai/api/v1/models?output_modalities=all"),
            "https://openrouter.ai/api/v1/models?output_modalities=all"
        );
        assert_eq!(
            safe_url("http://127.0.0.1:9/x?api_key=sk-123&limit=5"),
            "http://127.0.0.1:9/x?api_key=***&limit=5"
        );
    }

    #[test]
    fn keys_are_never_shown() {
        hide_secret(Some("my-own-key-1234"));
        assert_eq!(
            redact("bad request: Authorization: Bearer my-own-key-1234; also my-own-key-1234"),
            "bad request: Authorization: Bearer ***; also ***"
        );
        hide_secret(None);
        assert_eq!(
            redact("echo: sk-or-v1-0123456789abcdef, authorization: bearer abc.def"),
            "echo: ***, authorization: bearer ***"
        );
        assert_eq!(redact("Bearer  and sk-or-"), "Bearer  and sk-or-");
    }

    #[test]
    fn messages_name_what_went_wrong() {
        let e = SyncError::Http {
            url: "http://h/x".into(),
            status: 401,
            message: "No auth credentials found".into(),
            attempts: 1,
        };
        assert_eq!(
            e.to_string(),
            "GET http://h/x answered HTTP 401: No auth credentials found"
        );
        assert!(e.hint().contains("openrouter.api_key"));
        assert_eq!(e.sqlstate(), "58000");
    }
}
