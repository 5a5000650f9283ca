//! pg_cron from any database (issue 20, item 4). pg_cron keeps its jobs, and its functions,
//! in one database (`cron.database_name`) only. There the three operations the extension
//! needs (schedule, unschedule, read this database's job and its last failure) run through
//! SPI in the caller's transaction, as they always did; from any other database a dynamic
//! background worker connects to that database and runs the one operation there, acting as
//! the calling role (`GetUserId()`: the owner inside a SECURITY DEFINER function), and hands
//! the answer back as JSON through a dynamic shared memory segment the caller created. No
//! password, no dblink; it needs a free `max_worker_processes` slot, and our library need
//! not be preloaded (the worker loads it).
//!
//! What the worker does commits on its own: from another database a schedule or unschedule
//! is not undone when the caller's transaction rolls back.

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::pg_sys::panic::{CaughtError, ErrorReport};
use pgrx::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicU32, Ordering};

/// The names `openrouter_schedule()` gives its jobs by default. pg_cron 1.4 identifies a job
/// by (jobname, username), whatever its database: outside `cron.database_name`'s database
/// these get `@<database>` appended, so that two databases do not replace each other's job.
const DEFAULT_JOB_NAMES: [&str; 2] = ["openrouter-sync", "openrouter-sync-endpoints"];

/// The shared segment: a state word, the length of the JSON that follows, the JSON (the
/// request, then the answer in its place).
const SEGMENT_BYTES: usize = 64 * 1024;
const HEADER_BYTES: usize = 8;
const ANSWERED: u32 = 1;
const WORKER_FUNCTION: &str = "openrouter_cron_worker_main";

#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Schedule,
    Unschedule,
    Status,
}

impl Operation {
    fn entry_point(self) -> &'static str {
        match self {
            Operation::Schedule => "openrouter_schedule",
            Operation::Unschedule => "openrouter_unschedule",
            Operation::Status => "openrouter_cron_status",
        }
    }
}

/// One operation, with everything the worker needs to run it.
#[derive(Serialize, Deserialize, Debug)]
struct Request {
    operation: Operation,
    job_name: Option<String>,
    schedule: Option<String>,
    command: Option<String>,
    /// The database the jobs run in: the caller's.
    database: String,
    /// Where pg_cron keeps its jobs.
    cron_database: String,
    cron_database_oid: u32,
    /// The role the worker acts as.
    role_oid: u32,
}

impl Request {
    fn here(&self) -> bool {
        self.database == self.cron_database
    }

    /// The job's name in pg_cron: the default names are made distinct per database outside
    /// cron.database_name's own (where they stay as they always were).
    fn job_name(&self) -> Option<String> {
        self.job_name.as_ref().map(|name| {
            if !self.here() && DEFAULT_JOB_NAMES.contains(&name.as_str()) {
                format!("{name}@{}", self.database)
            } else {
                name.clone()
            }
        })
    }
}

/// An error raised where pg_cron keeps its jobs, carried back to the caller.
#[derive(Serialize, Deserialize, Debug)]
struct Failure {
    code: i32,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
}

impl Failure {
    fn new(code: PgSqlErrorCode, message: String, hint: Option<String>) -> Self {
        Failure {
            code: code as i32,
            message,
            detail: None,
            hint,
        }
    }

    fn of(error: CaughtError) -> Self {
        let report = match &error {
            CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => r,
            CaughtError::RustPanic { ereport, .. } => ereport,
        };
        Failure {
            code: report.sql_error_code() as i32,
            message: report.message().to_string(),
            detail: report.detail().map(String::from),
            hint: report.hint().map(String::from),
        }
    }
}

/// Runs `operation` for this database where pg_cron keeps its jobs, and returns its answer:
/// `{"job": id}` (schedule), `{"removed": n}` (unschedule), or the job and its last failure
/// (status: `schedule`, `job_name`, `last_failure_at`, `last_failure`, or `problem` when
/// pg_cron cannot be asked; status never raises). Errors name the entry point.
pub fn call(
    operation: Option<&str>,
    job_name: Option<&str>,
    schedule: Option<&str>,
    command: Option<&str>,
) -> Value {
    let operation = match operation {
        Some("schedule") => Operation::Schedule,
        Some("unschedule") => Operation::Unschedule,
        Some("status") => Operation::Status,
        other => raise(
            "openrouter_cron_job",
            Failure::new(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("operation must be schedule, unschedule or status, not {other:?}"),
                None,
            ),
            None,
        ),
    };
    match prepare(operation, job_name, schedule, command) {
        // The cron database itself: in the caller's transaction, as before.
        Ok(request) if request.here() && operation == Operation::Status => perform(&request),
        Ok(request) if request.here() => PgTryBuilder::new(|| perform(&request))
            .catch_others(|error| raise(operation.entry_point(), Failure::of(error), None))
            .execute(),
        Ok(request) => match ask_elsewhere(&request) {
            Ok(answer) => answer,
            Err(failure) if operation == Operation::Status => json!({ "problem": failure.message }),
            Err(mut failure) => {
                let role = role_name(request.role_oid);
                let detail = format!(
                    "Raised in database \"{}\" (cron.database_name), where pg_cron keeps its jobs, by a background worker acting as role \"{role}\".",
                    request.cron_database,
                );
                if failure.hint.is_none() {
                    failure.hint = grant_hint(&failure.message, &request.cron_database, &role);
                }
                raise(operation.entry_point(), failure, Some(detail))
            }
        },
        Err(failure) if operation == Operation::Status => json!({ "problem": failure.message }),
        Err(failure) => raise(operation.entry_point(), failure, None),
    }
}

/// What a superuser grants in pg_cron's database when the role lacks it: pg_cron grants
/// cron.schedule_in_database to nobody.
fn grant_hint(message: &str, cron_database: &str, role: &str) -> Option<String> {
    let statement = if message.contains("function schedule_in_database") {
        "GRANT EXECUTE ON FUNCTION cron.schedule_in_database(text, text, text, text, text, boolean)"
    } else if message.contains("schema cron") {
        "GRANT USAGE ON SCHEMA cron"
    } else {
        return None;
    };
    Some(format!(
        "A superuser runs, in database \"{cron_database}\": {statement} TO \"{role}\";"
    ))
}

fn prepare(
    operation: Operation,
    job_name: Option<&str>,
    schedule: Option<&str>,
    command: Option<&str>,
) -> Result<Request, Failure> {
    let Some(cron_database) = setting(c"cron.database_name") else {
        return Err(Failure::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "pg_cron is not loaded: add pg_cron to shared_preload_libraries in postgresql.conf and restart PostgreSQL".into(),
            None,
        ));
    };
    let database =
        read::<String>("SELECT pg_catalog.current_database()::text", &[]).unwrap_or_default();
    let c_name = CString::new(cron_database.as_str()).unwrap_or_default();
    // SAFETY: a catalog lookup by a NUL-terminated name, missing_ok: InvalidOid if none.
    let cron_database_oid = unsafe { pg_sys::get_database_oid(c_name.as_ptr(), true) };
    if cron_database_oid == pg_sys::InvalidOid {
        return Err(Failure::new(
            PgSqlErrorCode::ERRCODE_INVALID_CATALOG_NAME,
            format!("cron.database_name names database \"{cron_database}\", which does not exist"),
            Some(
                "Set cron.database_name to the database where pg_cron is created, and restart."
                    .into(),
            ),
        ));
    }
    // SAFETY: the current user of this backend, a plain read.
    let role_oid = unsafe { pg_sys::GetUserId() };
    Ok(Request {
        operation,
        job_name: job_name.map(String::from),
        schedule: schedule.map(String::from),
        command: command.map(String::from),
        database,
        cron_database,
        cron_database_oid: cron_database_oid.to_u32(),
        role_oid: role_oid.to_u32(),
    })
}

/// A setting's value, whoever asks: `cron.database_name` is readable by superusers only at
/// the SQL level (item 1), but which database pg_cron uses is no secret to the extension.
fn setting(name: &CStr) -> Option<String> {
    // SAFETY: a NUL-terminated name; missing_ok, so NULL when no such setting; the value
    // is copied at once.
    unsafe {
        let value = pg_sys::GetConfigOption(name.as_ptr(), true, false);
        (!value.is_null()).then(|| CStr::from_ptr(value).to_string_lossy().into_owned())
    }
}

fn role_name(oid: u32) -> String {
    read::<String>(
        "SELECT rolname::text FROM pg_catalog.pg_roles WHERE oid = $1",
        &[pg_sys::Oid::from(oid).into()],
    )
    .unwrap_or_else(|| format!("oid {oid}"))
}

/// A read through SPI that leaves the transaction read-only: pgrx's `Spi::get_one*` marks
/// it mutable (assigns a transaction id), which a hot standby refuses.
fn read<T: FromDatum + IntoDatum>(sql: &str, args: &[DatumWithOid]) -> Option<T> {
    Spi::connect(|client| client.select(sql, Some(1), args)?.first().get_one::<T>())
        .ok()
        .flatten()
}

fn raise(entry: &'static str, failure: Failure, detail: Option<String>) -> ! {
    let mut report = ErrorReport::new(
        PgSqlErrorCode::from(failure.code),
        format!("{entry}: {}", failure.message),
        entry,
    );
    if let Some(d) = detail.or(failure.detail) {
        report = report.set_detail(d);
    }
    if let Some(h) = failure.hint {
        report = report.set_hint(h);
    }
    report.report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}

// ---- the operations, run in cron.database_name's database ----------------------------------

fn perform(request: &Request) -> Value {
    match request.operation {
        Operation::Status => status(request),
        Operation::Schedule => json!({ "job": schedule(request) }),
        Operation::Unschedule => json!({ "removed": unschedule(request) }),
    }
}

/// This database's models job (found by its command, whatever its name) and the last failed
/// run of a job still scheduled: an unscheduled job's failure is history.
fn status(request: &Request) -> Value {
    let created = read::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_cron')",
        &[],
    )
    .unwrap_or(false);
    if !created {
        return json!({ "problem": format!(
            "the pg_cron extension is not created in database \"{}\" (cron.database_name): run CREATE EXTENSION pg_cron there",
            request.cron_database
        ) });
    }
    // The models' job at the top level (what openrouter_health() reads), the endpoints' job
    // (which also reads the providers list) under "endpoints".
    let answer = read::<pgrx::JsonB>(
        "SELECT pg_catalog.jsonb_strip_nulls(s.by_dataset->'models')
                || pg_catalog.jsonb_build_object('endpoints', s.by_dataset->'endpoints')
           FROM (SELECT pg_catalog.jsonb_object_agg(p.dataset, pg_catalog.jsonb_build_object(
                        'schedule', j.schedule, 'job_name', j.jobname,
                        'last_failure_at', f.end_time, 'last_failure', f.return_message)) AS by_dataset
                   FROM (VALUES ('models', '%openrouter\\_sync(%'),
                                ('endpoints', '%openrouter\\_sync\\_endpoints(%')) AS p(dataset, command)
                   LEFT JOIN LATERAL (SELECT schedule, jobname FROM cron.job
                                       WHERE command LIKE p.command AND database = $1
                                       ORDER BY jobid LIMIT 1) j ON true
                   LEFT JOIN LATERAL (SELECT d.end_time, pg_catalog.left(d.return_message, 4000) AS return_message
                                        FROM cron.job_run_details d JOIN cron.job jj ON jj.jobid = d.jobid
                                       WHERE jj.command LIKE p.command AND jj.database = $1
                                         AND d.status = 'failed'
                                       ORDER BY d.end_time DESC NULLS LAST LIMIT 1) f ON true) s",
        &[request.database.as_str().into()],
    );
    answer.map_or_else(|| json!({}), |j| j.0)
}

/// pg_cron 1.4 replaces a job of the same (name, role) but keeps its database: a name taken
/// by a job of another database is refused, instead of moving that job's command silently.
fn schedule(request: &Request) -> i64 {
    let name = request.job_name();
    let elsewhere = read::<String>(
        "SELECT min(database) FROM cron.job WHERE jobname = $1 AND username = current_user AND database <> $2",
        &[name.as_deref().into(), request.database.as_str().into()],
    );
    if let Some(other) = elsewhere {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_DUPLICATE_OBJECT,
            format!(
                "the pg_cron job {} of this role runs in database \"{other}\", not this one",
                name.as_deref().unwrap_or("")
            ),
            "openrouter_schedule",
        )
        .set_hint("Choose another job_name (pg_cron names a job per role, whatever its database), or unschedule that job there.")
        .report(PgLogLevel::ERROR);
    }
    let job = if request.here() {
        // cron.schedule_in_database is not granted to PUBLIC; cron.schedule is.
        Spi::get_one_with_args::<i64>(
            "SELECT cron.schedule($1, $2, $3)",
            &[
                name.as_deref().into(),
                request.schedule.as_deref().into(),
                request.command.as_deref().into(),
            ],
        )
    } else {
        Spi::get_one_with_args::<i64>(
            "SELECT cron.schedule_in_database($1, $2, $3, $4)",
            &[
                name.as_deref().into(),
                request.schedule.as_deref().into(),
                request.command.as_deref().into(),
                request.database.as_str().into(),
            ],
        )
    };
    match job {
        Ok(Some(id)) => id,
        Ok(None) => pgrx::error!("cron.schedule returned no job id"),
        Err(e) => pgrx::error!("scheduling: {e}"),
    }
}

/// By name when one is given, else every job of this database running the command; only
/// this database's jobs either way.
fn unschedule(request: &Request) -> i64 {
    let jobs = read::<Vec<i64>>(
        "SELECT coalesce(array_agg(jobid ORDER BY jobid), '{}') FROM cron.job
          WHERE database = $3 AND CASE WHEN $1 IS NOT NULL THEN jobname = $1 ELSE command = $2 END",
        &[
            request.job_name().as_deref().into(),
            request.command.as_deref().into(),
            request.database.as_str().into(),
        ],
    )
    .unwrap_or_default();
    for job in &jobs {
        if let Err(e) = Spi::run_with_args("SELECT cron.unschedule($1)", &[(*job).into()]) {
            pgrx::error!("unscheduling job {job}: {e}");
        }
    }
    jobs.len() as i64
}

// ---- the caller's side ---------------------------------------------------------------------

/// Starts the worker, waits for it to stop (interruptibly: a cancel terminates it first),
/// and reads its answer.
fn ask_elsewhere(request: &Request) -> Result<Value, Failure> {
    let connect = read::<bool>(
        "SELECT pg_catalog.has_database_privilege($1, $2, 'CONNECT')",
        &[
            pg_sys::Oid::from(request.role_oid).into(),
            pg_sys::Oid::from(request.cron_database_oid).into(),
        ],
    )
    .unwrap_or(false);
    if !connect {
        return Err(Failure::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "role \"{}\" may not connect to database \"{}\" (cron.database_name), where pg_cron keeps its jobs",
                role_name(request.role_oid),
                request.cron_database
            ),
            Some(format!(
                "GRANT CONNECT ON DATABASE \"{}\" TO that role.",
                request.cron_database
            )),
        ));
    }
    let payload = serde_json::to_vec(request).unwrap_or_default();
    if payload.len() > SEGMENT_BYTES - HEADER_BYTES {
        return Err(Failure::new(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!(
                "the request ({} bytes) does not fit in {SEGMENT_BYTES} bytes",
                payload.len()
            ),
            None,
        ));
    }
    // SAFETY: a new segment of SEGMENT_BYTES, mapped in this backend and owned by the
    // current resource owner (detached at the end of the transaction if an error comes
    // first); nothing else writes it until the worker starts.
    let segment = unsafe { pg_sys::dsm_create(SEGMENT_BYTES, 0) };
    // SAFETY: the segment is attached here; its address is valid for SEGMENT_BYTES.
    let base = unsafe { pg_sys::dsm_segment_address(segment) } as *mut u8;
    // SAFETY: as above; the header and payload fit (checked).
    unsafe { write_message(base, &payload, 0) };
    // SAFETY: a plain read of the segment's handle.
    let handle = unsafe { pg_sys::dsm_segment_handle(segment) };
    let result = run_worker(request, handle).and_then(|()| {
        // SAFETY: the worker has stopped: nothing else writes the segment any more.
        unsafe { read_answer(base) }
    });
    // SAFETY: attached above, detached once.
    unsafe { pg_sys::dsm_detach(segment) };
    result
}

fn run_worker(request: &Request, handle: pg_sys::dsm_handle) -> Result<(), Failure> {
    let builder = pgrx::bgworkers::BackgroundWorkerBuilder::new("openrouter_registry pg_cron")
        .set_type("openrouter_registry pg_cron")
        .set_library("openrouter_registry")
        .set_function(WORKER_FUNCTION)
        .enable_spi_access()
        // Not RecoveryFinished: on a hot standby the worker would never start and the
        // caller (health) would wait until canceled; there it reads, and a schedule fails
        // as read-only.
        .set_start_time(pgrx::bgworkers::BgWorkerStartTime::ConsistentState)
        .set_restart_time(None)
        .set_argument(Some(pg_sys::Datum::from(handle as usize)))
        // SAFETY: this backend's pid, a plain read.
        .set_notify_pid(unsafe { pg_sys::MyProcPid });
    let mut worker: pg_sys::BackgroundWorker = (&builder).into();
    let mut worker_handle: *mut pg_sys::BackgroundWorkerHandle = std::ptr::null_mut();
    // SAFETY: a filled BackgroundWorker and a place for its handle, which Postgres sets
    // (palloc'd in the current memory context) when it returns true.
    let registered =
        unsafe { pg_sys::RegisterDynamicBackgroundWorker(&mut worker, &mut worker_handle) };
    if !registered {
        // SAFETY: a plain read of a setting's variable.
        let slots = unsafe { pg_sys::max_worker_processes };
        return Err(Failure::new(
            PgSqlErrorCode::ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
            format!(
                "no background worker slot is free to ask database \"{}\" (cron.database_name), where pg_cron keeps its jobs: all max_worker_processes = {slots} are in use",
                request.cron_database
            ),
            Some("Raise max_worker_processes in postgresql.conf (takes a restart), or try again when a parallel query or another background worker has finished.".into()),
        ));
    }
    loop {
        let mut pid: pg_sys::pid_t = 0;
        // SAFETY: a handle RegisterDynamicBackgroundWorker gave this backend.
        let status = unsafe { pg_sys::GetBackgroundWorkerPid(worker_handle, &mut pid) };
        match status {
            pg_sys::BgwHandleStatus::BGWH_STOPPED => return Ok(()),
            pg_sys::BgwHandleStatus::BGWH_POSTMASTER_DIED => return Err(postmaster_died()),
            _ => {}
        }
        // SAFETY: this backend's latch; the postmaster sets it (SIGUSR1 to bgw_notify_pid)
        // when the worker starts or stops.
        let events = unsafe {
            let events = pg_sys::WaitLatch(
                pg_sys::MyLatch,
                (pg_sys::WL_LATCH_SET | pg_sys::WL_POSTMASTER_DEATH) as i32,
                0,
                pg_sys::PG_WAIT_EXTENSION,
            );
            pg_sys::ResetLatch(pg_sys::MyLatch);
            events
        };
        if events & pg_sys::WL_POSTMASTER_DEATH as i32 != 0 {
            return Err(postmaster_died());
        }
        // SAFETY: flags set by signal handlers, read in this backend's thread; a cancel or
        // a termination stops the worker before the ERROR leaves here.
        unsafe {
            if pg_sys::InterruptPending != 0
                && (pg_sys::QueryCancelPending != 0 || pg_sys::ProcDiePending != 0)
            {
                pg_sys::TerminateBackgroundWorker(worker_handle);
            }
        }
        pg_sys::check_for_interrupts!();
    }
}

fn postmaster_died() -> Failure {
    Failure::new(
        PgSqlErrorCode::ERRCODE_ADMIN_SHUTDOWN,
        "the postmaster died while waiting for the background worker".into(),
        None,
    )
}

/// Writes `payload` after the header and then the state word (Release: the payload is
/// visible to whoever reads the state).
///
/// # Safety
/// `base` points to a mapped segment of SEGMENT_BYTES, 4-byte aligned, and the payload fits.
unsafe fn write_message(base: *mut u8, payload: &[u8], state: u32) {
    std::ptr::copy_nonoverlapping(payload.as_ptr(), base.add(HEADER_BYTES), payload.len());
    (base.add(4) as *mut u32).write_unaligned(payload.len() as u32);
    (*(base as *const AtomicU32)).store(state, Ordering::Release);
}

/// The JSON after the header, if the state word says `want`.
///
/// # Safety
/// As for `write_message`; no other process writes the segment meanwhile.
unsafe fn read_message(base: *const u8, want: u32) -> Option<Vec<u8>> {
    if (*(base as *const AtomicU32)).load(Ordering::Acquire) != want {
        return None;
    }
    let len = (base.add(4) as *const u32).read_unaligned() as usize;
    if len > SEGMENT_BYTES - HEADER_BYTES {
        return None;
    }
    Some(std::slice::from_raw_parts(base.add(HEADER_BYTES), len).to_vec())
}

/// # Safety
/// As for `read_message`.
unsafe fn read_answer(base: *const u8) -> Result<Value, Failure> {
    let Some(bytes) = read_message(base, ANSWERED) else {
        return Err(Failure::new(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            "the background worker that asks pg_cron's database stopped without an answer (the server log says why)".into(),
            None,
        ));
    };
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(mut answer)) => {
            if let Some(failure) = answer.remove("error") {
                Err(serde_json::from_value(failure).unwrap_or_else(|e| {
                    Failure::new(
                        PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                        format!("unreadable answer: {e}"),
                        None,
                    )
                }))
            } else {
                Ok(answer.remove("ok").unwrap_or(Value::Null))
            }
        }
        _ => Err(Failure::new(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            "the background worker's answer is not JSON".into(),
            None,
        )),
    }
}

// ---- the worker ----------------------------------------------------------------------------

/// The worker's main function (named in bgw_function_name): attach the caller's segment,
/// connect to cron.database_name's database, act as the caller's role, run the one
/// operation in a transaction of its own, answer, exit. An error is caught and answered.
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn openrouter_cron_worker_main(arg: pg_sys::Datum) {
    // SAFETY: a background worker starts with signals blocked; the default handlers stay
    // (SIGTERM ends the worker at once, its transaction rolled back).
    unsafe { pg_sys::BackgroundWorkerUnblockSignals() };
    let handle = arg.value() as pg_sys::dsm_handle;
    // SAFETY: attaching by the handle the caller passed; NULL when the caller has already
    // given up (and detached): then there is nobody to answer.
    let segment = unsafe { pg_sys::dsm_attach(handle) };
    if segment.is_null() {
        return;
    }
    // SAFETY: attached just above; valid for SEGMENT_BYTES.
    let base = unsafe { pg_sys::dsm_segment_address(segment) } as *mut u8;
    // SAFETY: the caller wrote the request before starting this worker and waits.
    let request = unsafe { read_message(base, 0) }
        .and_then(|bytes| serde_json::from_slice::<Request>(&bytes).ok());
    let answer = match request {
        None => {
            json!({ "error": Failure::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, "the request is unreadable".into(), None) })
        }
        Some(request) => {
            // SAFETY: once, at the start of a worker with BGWORKER_BACKEND_DATABASE_CONNECTION;
            // no role: the session is the bootstrap superuser's (no login check, which a
            // NOLOGIN role calling through SET ROLE would fail), and the operation runs as
            // the caller's role (SetUserIdAndSecContext below).
            unsafe {
                pg_sys::BackgroundWorkerInitializeConnectionByOid(
                    pg_sys::Oid::from(request.cron_database_oid),
                    pg_sys::InvalidOid,
                    0,
                )
            };
            match in_transaction(&request) {
                Ok(value) => json!({ "ok": value }),
                Err(failure) => json!({ "error": failure }),
            }
        }
    };
    let mut payload = serde_json::to_vec(&answer).unwrap_or_default();
    if payload.len() > SEGMENT_BYTES - HEADER_BYTES {
        payload = serde_json::to_vec(&json!({ "error": Failure::new(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            format!("the answer ({} bytes) does not fit in {SEGMENT_BYTES} bytes", payload.len()),
            None,
        ) }))
        .unwrap_or_default();
    }
    // SAFETY: the caller reads only after this worker stopped; the payload fits.
    unsafe {
        write_message(base, &payload, ANSWERED);
        pg_sys::dsm_detach(segment);
    }
}

fn in_transaction(request: &Request) -> Result<Value, Failure> {
    // SAFETY: a connected worker outside any transaction: start one with a snapshot, as
    // every SPI user needs.
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    let result = PgTryBuilder::new(|| {
        let role = pg_sys::Oid::from(request.role_oid);
        let exists = read::<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE oid = $1)",
            &[role.into()],
        )
        .unwrap_or(false);
        if !exists {
            pgrx::error!(
                "the calling role (oid {}) no longer exists",
                request.role_oid
            );
        }
        // SAFETY: a role that exists; SECURITY_LOCAL_USERID_CHANGE forbids SET ROLE and SET
        // SESSION AUTHORIZATION for the rest of this worker.
        unsafe {
            pg_sys::SetUserIdAndSecContext(role, pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32)
        };
        read::<String>(
            "SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true)",
            &[],
        );
        Ok(perform(request))
    })
    .catch_others(|error| Err(Failure::of(error)))
    .execute();
    // SAFETY: the transaction started above: committed after success, else rolled back
    // (the caught error left it in progress, its error state flushed).
    unsafe {
        if result.is_ok() {
            pg_sys::PopActiveSnapshot();
            pg_sys::CommitTransactionCommand();
        } else {
            pg_sys::AbortCurrentTransaction();
        }
    }
    result
}
