//! SPI at the edge, shared by both datasets: the sync lock, the sync's clock, statements
//! with generic plans, per-batch memory, and upserts into the seed's `things` table.

use super::arrays::text_array;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::PgMemoryContexts;

pub(crate) type R<T> = Result<T, pgrx::spi::Error>;

/// Serialises syncs: two concurrent syncs cannot interleave their writes.
pub(crate) const SYNC_LOCK_KEY: i64 = 0x6f70_656e_726f_7574; // "openrout"

pub fn lock() {
    Spi::run_with_args(
        "SELECT pg_catalog.pg_advisory_xact_lock($1)",
        &[SYNC_LOCK_KEY.into()],
    )
    .expect("advisory lock");
}

/// The database's encoding when it is not UTF8 (its name, e.g. "LATIN1"), else None. The
/// extension writes the API's UTF-8 bytes into text and jsonb datums as they are (no
/// conversion), which is right only in a UTF8 database: elsewhere every sync refuses.
/// The version of the extension's SQL objects in this database (pg_extension.extversion),
/// when it differs from this library's: between installing a new build and `ALTER
/// EXTENSION ... UPDATE`, the old objects are not what the new code writes.
pub fn outdated_objects() -> Option<String> {
    let installed = Spi::get_one::<String>(
        "SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'openrouter_registry'",
    )
    .ok()
    .flatten()?;
    (installed != env!("CARGO_PKG_VERSION")).then_some(installed)
}

pub fn non_utf8_encoding() -> Option<String> {
    // SAFETY: plain reads of the backend's database encoding, set at connection start.
    unsafe {
        if pg_sys::GetDatabaseEncoding() == pg_sys::pg_enc::PG_UTF8 as i32 {
            return None;
        }
        let name = std::ffi::CStr::from_ptr(pg_sys::GetDatabaseEncodingName());
        Some(name.to_string_lossy().into_owned())
    }
}

/// Whether a table has no pages at all (never written, or truncated): then it has no rows.
/// One file size from the relation cache, no query.
pub fn has_no_pages(table: &str) -> bool {
    let Ok(rel) = pgrx::PgRelation::open_with_name_and_share_lock(table) else {
        return false;
    };
    // SAFETY: an open relation of this backend, locked for the rest of the transaction.
    unsafe {
        pg_sys::RelationGetNumberOfBlocksInFork(rel.as_ptr(), pg_sys::ForkNumber::MAIN_FORKNUM) == 0
    }
}

/// Whether this transaction may not write (SET TRANSACTION READ ONLY, default_transaction_read_only,
/// a standby): a sync checks before it fetches anything.
pub fn read_only() -> bool {
    // SAFETY: a backend global, read in the backend's thread.
    unsafe { pg_sys::XactReadOnly }
}

/// One timestamp for a whole sync, as text for `$n::timestamptz` parameters (not now(): two
/// syncs in one transaction must still open distinct price periods).
pub(crate) fn sync_time(client: &SpiClient<'_>) -> R<String> {
    Ok(client
        .select("SELECT clock_timestamp()::text", None, &[])?
        .first()
        .get::<String>(1)?
        .unwrap_or_default())
}

/// `at` (see `sync_time`) as a timestamptz parameter, for statements with a generic plan:
/// there `$n::timestamptz` of a text parameter is not folded once but parsed for every row
/// (4% of writing the things rows of a first load).
pub(crate) fn timestamptz<'a>(at: &str) -> DatumWithOid<'a> {
    at.parse::<TimestampWithTimeZone>()
        .unwrap_or_else(|e| pgrx::error!("openrouter: the sync time {at:?} is no timestamp: {e}"))
        .into()
}

/// The sync's timestamp, taken once (see `sync_time`).
pub fn now() -> String {
    Spi::connect(sync_time).expect("reading the clock")
}

/// Runs a data-modifying statement with a generic plan; returns how many rows it processed.
/// For the batches of model rows: SPI's usual one-shot plan folds every parameter into a
/// constant, copying it (megabytes of arrays per statement, each into freshly faulted-in
/// memory: a few percent of a first load at 100 times the registry). Only for statements
/// whose plan does not depend on how long the arrays are.
pub(crate) fn update_generic(
    _connected: &SpiClient<'_>,
    sql: &str,
    args: &[DatumWithOid<'_>],
) -> R<u64> {
    let sql = std::ffi::CString::new(sql).expect("statement text without NUL");
    let mut types: Vec<pg_sys::Oid> = args.iter().map(DatumWithOid::oid).collect();
    let mut values: Vec<pg_sys::Datum> = args
        .iter()
        .map(|a| {
            a.datum()
                .map_or(pg_sys::Datum::from(0), |d| d.sans_lifetime())
        })
        .collect();
    let nulls: Vec<std::ffi::c_char> = args
        .iter()
        .map(|a| if a.datum().is_some() { b' ' } else { b'n' } as std::ffi::c_char)
        .collect();
    // SAFETY: SPI is connected (`_connected` is borrowed from Spi::connect*); the arrays
    // outlive both calls and hold one entry per parameter; errors raised inside come back as
    // Rust panics. A null plan makes SPI_execute_plan return SPI_ERROR_ARGUMENT.
    unsafe {
        let plan = pg_sys::SPI_prepare_cursor(
            sql.as_ptr(),
            args.len() as i32,
            types.as_mut_ptr(),
            pg_sys::CURSOR_OPT_GENERIC_PLAN as i32,
        );
        if plan.is_null() {
            Spi::check_status(pg_sys::SPI_result)?;
        }
        let rc = pg_sys::SPI_execute_plan(plan, values.as_mut_ptr(), nulls.as_ptr(), false, 0);
        pg_sys::SPI_freeplan(plan);
        Spi::check_status(rc)?;
        Ok(pg_sys::SPI_processed)
    }
}

/// Runs one batch with its array parameters allocated in `cx`, freed right after: megabytes
/// of parameters must not pile up in the SPI context until the end of the sync.
/// The caller's memory context is current again afterwards, also when `f` raises an ERROR
/// (the unwinding drops the guard before PostgreSQL's error handling runs).
pub(crate) fn in_batch<T>(cx: &mut PgMemoryContexts, f: impl FnOnce() -> T) -> T {
    struct Restore(pg_sys::MemoryContext);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: the context that was current before the switch, alive for longer than
            // this call.
            unsafe { pg_sys::MemoryContextSwitchTo(self.0) };
        }
    }
    // SAFETY: `cx` is a live context of this backend.
    let restore = Restore(unsafe { pg_sys::MemoryContextSwitchTo(cx.value()) });
    let out = f();
    drop(restore);
    // SAFETY: nothing allocated in `cx` outlives the closure: results are plain Rust values,
    // and the context is no longer current.
    unsafe { cx.reset() };
    out
}

/// Inserts or updates registry objects of one namespace in `things`; returns (inserted,
/// updated). `datas` is a jsonb[] parameter (see jsonb_array); with `overwrite` false,
/// existing rows keep their data and content and are only confirmed (updated_at).
#[allow(clippy::too_many_arguments)]
pub(crate) fn upsert_things(
    client: &mut SpiClient<'_>,
    ns: &str,
    kind: &str,
    ids: Vec<&str>,
    datas: DatumWithOid<'_>,
    contents: Vec<&str>,
    at: &str,
    overwrite: bool,
) -> R<(i64, i64)> {
    let row = client
        .update(
            "WITH up AS (
                 INSERT INTO things AS t (ns, id, type, data, content, created_at, updated_at)
                 SELECT $5, u.id, $6, u.data, u.content,
                        $4::timestamptz, $4::timestamptz
                   FROM (SELECT unnest($1::text[]) AS id, unnest($2::jsonb[]) AS data,
                                unnest($3::text[]) AS content) u
                 ON CONFLICT (ns, id) DO UPDATE
                    SET type = EXCLUDED.type,
                        data = CASE WHEN $7 THEN EXCLUDED.data ELSE t.data END,
                        content = CASE WHEN $7 THEN EXCLUDED.content ELSE t.content END,
                        updated_at = EXCLUDED.updated_at
                 RETURNING (t.xmax = 0) AS inserted
             )
             SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up",
            None,
            &[
                text_array(&ids),
                datas,
                text_array(&contents),
                at.into(),
                ns.into(),
                kind.into(),
                overwrite.into(),
            ],
        )?
        .first();
    Ok((
        row.get::<i64>(1)?.unwrap_or(0),
        row.get::<i64>(2)?.unwrap_or(0),
    ))
}
