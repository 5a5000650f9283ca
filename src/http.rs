//! HTTP: one GET with timeouts, a size cap enforced while reading, bounded retries with
//! backoff on 429/5xx, same-host redirects only, and `links.next` pagination.
//! No Postgres here. The request runs on a helper thread so that the calling backend can
//! keep polling for a cancel (`poll` is called every few tens of milliseconds and may
//! unwind; the helper thread then notices and stops reading).

use crate::error::{safe_url, SyncError};
use std::collections::HashSet;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// What a caller shares with its helper threads: the stop flag (checked between reads and
/// during waits), and the addresses their connections go to (recorded as they are
/// resolved), so that a cancel can shut those sockets down: a thread blocked connecting or
/// waiting for headers then returns at once, instead of when `openrouter.timeout_ms` ends.
#[derive(Default)]
pub struct Stop {
    flag: AtomicBool,
    peers: Mutex<Vec<SocketAddr>>,
}

impl Stop {
    pub fn new() -> Arc<Stop> {
        Arc::new(Stop::default())
    }

    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    pub fn set(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    fn peers(&self) -> Vec<SocketAddr> {
        self.peers.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

/// ureq's resolver, recording what it resolves in `Stop` (and refusing once it is set).
struct Recording(Arc<Stop>);

impl ureq::Resolver for Recording {
    fn resolve(&self, netloc: &str) -> std::io::Result<Vec<SocketAddr>> {
        if self.0.is_set() {
            return Err(std::io::Error::other("stopped"));
        }
        let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(netloc)?.collect();
        if let Ok(mut peers) = self.0.peers.lock() {
            for a in &addrs {
                if !peers.contains(a) {
                    peers.push(*a);
                }
            }
        }
        Ok(addrs)
    }
}

/// Runs `f` (which starts threads) with every signal blocked, so that the threads it starts
/// are born with them blocked: PostgreSQL's signal handlers must run on the backend's own
/// thread (they set its flags and latch), never on a helper thread. The caller's mask is
/// restored afterwards; a signal that arrived meanwhile is delivered then.
pub fn with_signals_blocked<T>(f: impl FnOnce() -> T) -> T {
    // SAFETY: sigset_t values initialised by sigfillset/pthread_sigmask before use; only this
    // thread's mask changes, and it is restored before returning.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        let out = f();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        out
    }
}

/// Starts a helper thread (signals blocked, see `with_signals_blocked`).
fn spawn_helper(f: impl FnOnce() + Send + 'static) -> std::io::Result<()> {
    with_signals_blocked(|| {
        std::thread::Builder::new()
            .name("openrouter-fetch".into())
            .spawn(f)
            .map(drop)
    })
}

/// The socket inodes this process has open (/proc/self/fd), by fd.
fn open_sockets() -> Vec<(i32, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let fd: i32 = e.file_name().to_str()?.parse().ok()?;
        let link = std::fs::read_link(e.path()).ok()?;
        let inode = link.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?;
        Some((fd, inode.parse().ok()?))
    })
    .collect()
}

/// The address a socket is connected to (None if not connected, or not TCP/IP).
fn peer_of(fd: i32) -> Option<SocketAddr> {
    // SAFETY: getpeername writes at most `len` bytes into the storage it is given.
    unsafe {
        let mut storage: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        if libc::getpeername(fd, &mut storage as *mut _ as *mut libc::sockaddr, &mut len) != 0 {
            return None;
        }
        match storage.ss_family as i32 {
            libc::AF_INET => {
                let a = &*(&storage as *const _ as *const libc::sockaddr_in);
                Some(SocketAddr::from((
                    u32::from_be(a.sin_addr.s_addr).to_be_bytes(),
                    u16::from_be(a.sin_port),
                )))
            }
            libc::AF_INET6 => {
                let a = &*(&storage as *const _ as *const libc::sockaddr_in6);
                Some(SocketAddr::from((
                    a.sin6_addr.s6_addr,
                    u16::from_be(a.sin6_port),
                )))
            }
            _ => None,
        }
    }
}

/// The helper threads of one fetch, from the calling thread's side. Dropped (the fetch is
/// over, or the caller unwinds on a cancel), it sets the stop flag; when threads are still
/// running, it shuts down the sockets they opened (those opened since it was made that are
/// connected to an address their resolver returned: shutdown() wakes a blocked connect or
/// read, and the fd stays theirs to close) and waits up to a second for them to end.
struct Helpers {
    stop: Arc<Stop>,
    sockets_before: HashSet<u64>,
    /// Disconnected once every helper thread has ended (each holds a sender).
    alive: mpsc::Receiver<()>,
    alive_tx: Option<mpsc::Sender<()>>,
}

impl Helpers {
    fn new() -> Helpers {
        let (alive_tx, alive) = mpsc::channel();
        Helpers {
            stop: Stop::new(),
            sockets_before: open_sockets().into_iter().map(|(_, inode)| inode).collect(),
            alive,
            alive_tx: Some(alive_tx),
        }
    }

    /// Starts a helper thread running `f(stop)`.
    fn spawn(&self, f: impl FnOnce(&Arc<Stop>) + Send + 'static) -> std::io::Result<()> {
        let stop = self.stop.clone();
        let alive = self.alive_tx.clone();
        spawn_helper(move || {
            let _alive = alive;
            f(&stop);
        })
    }
}

impl Drop for Helpers {
    fn drop(&mut self) {
        self.stop.set();
        self.alive_tx = None;
        if let Ok(()) | Err(mpsc::TryRecvError::Disconnected) = self.alive.try_recv() {
            return;
        }
        let peers = self.stop.peers();
        for (fd, inode) in open_sockets() {
            if !self.sockets_before.contains(&inode)
                && peer_of(fd).is_some_and(|p| peers.contains(&p))
            {
                // SAFETY: shutdown() of a socket of this process; it stays open (its owner,
                // a helper thread, closes it), so the fd cannot be reused meanwhile.
                unsafe { libc::shutdown(fd, libc::SHUT_RDWR) };
            }
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        while let Ok(()) | Err(mpsc::RecvTimeoutError::Timeout) = self
            .alive
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if Instant::now() >= deadline {
                break;
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub url: String,
    pub api_key: Option<String>,
    /// Whole-request deadline (connect + headers + body), per attempt.
    pub timeout_ms: u64,
    pub http_referer: Option<String>,
    pub app_title: Option<String>,
    pub max_response_bytes: usize,
    pub max_pages: usize,
    pub max_retries: u32,
    /// Upper bound for one wait between retries (Retry-After is honoured up to this).
    pub max_backoff_ms: u64,
}

impl FetchConfig {
    pub fn new(url: &str) -> Self {
        FetchConfig {
            url: url.to_string(),
            api_key: None,
            timeout_ms: 30_000,
            http_referer: None,
            app_title: None,
            max_response_bytes: 64 << 20,
            max_pages: 1000,
            max_retries: 2,
            max_backoff_ms: 10_000,
        }
    }
}

/// All pages of one registry fetch, bodies in order.
#[derive(Debug)]
pub struct Fetched {
    pub bodies: Vec<String>,
    /// The first URL, without secrets: what the history and messages show.
    pub source: String,
    pub requests: u32,
    pub bytes: usize,
}

const POLL: Duration = Duration::from_millis(25);

/// Checks a URL before any connection is made: http or https, with a host.
pub fn check_url(url: &str) -> Result<(), SyncError> {
    let bad = |reason: &str| SyncError::BadUrl {
        url: safe_url(url),
        reason: reason.into(),
    };
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| bad("only http:// and https:// URLs are allowed"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err(bad("it has no host"));
    }
    if url.chars().any(|c| c.is_control() || c == ' ') {
        return Err(bad("it contains spaces or control characters"));
    }
    Ok(())
}

fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        host.to_ascii_lowercase()
    ))
}

/// Resolves a possibly relative `links.next` or `Location` against the current URL.
fn resolve(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        reference.to_string()
    } else if reference.starts_with('/') {
        format!("{}{}", origin(base).unwrap_or_default(), reference)
    } else {
        let dir = base.split('?').next().unwrap_or(base);
        let dir = &dir[..dir.rfind('/').map_or(dir.len(), |i| i + 1)];
        format!("{dir}{reference}")
    }
}

/// What one attempt of one GET produced.
enum Attempt {
    Body(String),
    Status {
        status: u16,
        message: String,
        retry_after: Option<u64>,
    },
    Redirect(String),
}

/// Reads one page body (the URL is for messages) and says where the next page is.
pub type OnPage<'a> = dyn FnMut(&str, &str) -> Result<Option<String>, SyncError> + 'a;

/// Fetches every page starting at `cfg.url`, following `links.next`. `on_page` parses each
/// body once, as it arrives.
pub fn fetch_all(
    cfg: &FetchConfig,
    poll: &mut dyn FnMut(&str),
    on_page: &mut OnPage<'_>,
) -> Result<Fetched, SyncError> {
    check_url(&cfg.url)?;
    let source = safe_url(&cfg.url);
    let mut bodies = Vec::new();
    let mut seen = HashSet::new();
    let mut url = cfg.url.clone();
    let mut requests = 0;
    let mut bytes = 0;
    loop {
        if !seen.insert(url.clone()) {
            return Err(SyncError::Pagination {
                url: source,
                reason: format!("loops: links.next points back to {}", safe_url(&url)),
            });
        }
        if bodies.len() >= cfg.max_pages {
            return Err(SyncError::Pagination {
                url: source,
                reason: format!(
                    "does not end after {} pages (openrouter.max_pages)",
                    cfg.max_pages
                ),
            });
        }
        let (body, n) = get(cfg, &url, poll)?;
        requests += n;
        bytes += body.len();
        let next = on_page(&url, &body)?;
        bodies.push(body);
        poll(&format!("fetched page {} ({} bytes)", bodies.len(), bytes));
        match next {
            None => break,
            Some(next) => {
                let next = resolve(&url, &next);
                check_url(&next).map_err(|_| SyncError::Pagination {
                    url: source.clone(),
                    reason: format!("points to {}, which is not an http(s) URL", safe_url(&next)),
                })?;
                if origin(&next) != origin(&cfg.url) {
                    return Err(SyncError::Pagination {
                        url: source.clone(),
                        reason: format!("points to another host ({}): refused", safe_url(&next)),
                    });
                }
                url = next;
            }
        }
    }
    Ok(Fetched {
        bodies,
        source,
        requests,
        bytes,
    })
}

/// How one GET is attempted and how it waits between retries: from the backend thread
/// (polling for cancels) or from a worker thread (blocking, stoppable by a flag).
trait Attempts {
    fn attempt(&mut self, url: &str) -> Result<Attempt, SyncError>;
    fn wait(&mut self, ms: u64, status: u16, attempts: u32) -> Result<(), SyncError>;
}

struct Polling<'a, 'p> {
    cfg: &'a FetchConfig,
    poll: &'a mut (dyn FnMut(&str) + 'p),
}

impl Attempts for Polling<'_, '_> {
    fn attempt(&mut self, url: &str) -> Result<Attempt, SyncError> {
        attempt(self.cfg, url, self.poll)
    }
    fn wait(&mut self, ms: u64, status: u16, attempts: u32) -> Result<(), SyncError> {
        (self.poll)(&format!(
            "HTTP {status}, retrying in {ms} ms (attempt {attempts} of {})",
            self.cfg.max_retries + 1
        ));
        let until = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < until {
            std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
            (self.poll)("");
        }
        Ok(())
    }
}

struct Blocking<'a> {
    cfg: &'a FetchConfig,
    stop: &'a Arc<Stop>,
}

impl Attempts for Blocking<'_> {
    fn attempt(&mut self, url: &str) -> Result<Attempt, SyncError> {
        if self.stop.is_set() {
            return Err(SyncError::Transport {
                url: safe_url(url),
                reason: "cancelled".into(),
            });
        }
        blocking_attempt(self.cfg, url, self.stop)
    }
    fn wait(&mut self, ms: u64, _status: u16, _attempts: u32) -> Result<(), SyncError> {
        let until = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < until && !self.stop.is_set() {
            std::thread::sleep(POLL.min(until.saturating_duration_since(Instant::now())));
        }
        Ok(())
    }
}

/// One GET with retries (429 and 5xx, backoff, Retry-After) and same-host redirects.
/// Returns the body and the request count.
fn get_with(
    cfg: &FetchConfig,
    url: &str,
    how: &mut dyn Attempts,
) -> Result<(String, u32), SyncError> {
    let mut url = url.to_string();
    let mut attempts = 0u32;
    let mut redirects = 0;
    loop {
        attempts += 1;
        match how.attempt(&url)? {
            Attempt::Body(b) => return Ok((b, attempts)),
            Attempt::Redirect(location) => {
                let target = resolve(&url, &location);
                let refuse = |reason: &str| SyncError::Redirect {
                    url: safe_url(&url),
                    location: safe_url(&target),
                    reason: reason.into(),
                };
                if origin(&target) != origin(&url) {
                    return Err(refuse(
                        "redirects are followed only to the same scheme and host",
                    ));
                }
                redirects += 1;
                if redirects > 3 {
                    return Err(refuse("more than 3 redirects"));
                }
                attempts -= 1;
                url = target;
            }
            Attempt::Status {
                status,
                message,
                retry_after,
            } => {
                let retryable = status == 429 || (500..=599).contains(&status);
                if !retryable || attempts > cfg.max_retries {
                    return Err(SyncError::Http {
                        url: safe_url(&url),
                        status,
                        message,
                        attempts,
                    });
                }
                let backoff = 500u64.saturating_mul(1 << (attempts - 1).min(10));
                let wait = retry_after
                    .map_or(backoff, |s| s.saturating_mul(1000))
                    .min(cfg.max_backoff_ms);
                how.wait(wait, status, attempts)?;
            }
        }
    }
}

fn get(
    cfg: &FetchConfig,
    url: &str,
    poll: &mut dyn FnMut(&str),
) -> Result<(String, u32), SyncError> {
    get_with(cfg, url, &mut Polling { cfg, poll })
}

fn attempt(cfg: &FetchConfig, url: &str, poll: &mut dyn FnMut(&str)) -> Result<Attempt, SyncError> {
    // Dropped on every way out, unwinding on a cancel included: stops the thread.
    let helpers = Helpers::new();
    let (tx, rx) = mpsc::channel();
    let cfg2 = cfg.clone();
    let url2 = url.to_string();
    helpers
        .spawn(move |stop| {
            let _ = tx.send(blocking_attempt(&cfg2, &url2, stop));
        })
        .map_err(|e| SyncError::Transport {
            url: safe_url(url),
            reason: format!("cannot start the fetch thread: {e}"),
        })?;
    // Once right away: the caller may have work of its own to do while the request is out.
    poll("");
    loop {
        match rx.recv_timeout(POLL) {
            Ok(result) => return result,
            Err(mpsc::RecvTimeoutError::Timeout) => poll(""),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(SyncError::Transport {
                    url: safe_url(url),
                    reason: "the fetch thread died".into(),
                })
            }
        }
    }
}

fn blocking_attempt(cfg: &FetchConfig, url: &str, stop: &Arc<Stop>) -> Result<Attempt, SyncError> {
    let timeout = Duration::from_millis(cfg.timeout_ms.max(1));
    let agent = ureq::AgentBuilder::new()
        .resolver(Recording(stop.clone()))
        .timeout_connect(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .redirects(0)
        .user_agent(concat!(
            "openrouter_registry/",
            env!("CARGO_PKG_VERSION"),
            " (PostgreSQL extension)"
        ))
        .build();
    let mut req = agent.get(url).set("Accept", "application/json");
    if let Some(key) = cfg.api_key.as_deref().filter(|k| !k.is_empty()) {
        req = req.set("Authorization", &format!("Bearer {key}"));
    }
    if let Some(r) = cfg.http_referer.as_deref().filter(|v| !v.is_empty()) {
        req = req.set("HTTP-Referer", r);
    }
    if let Some(t) = cfg.app_title.as_deref().filter(|v| !v.is_empty()) {
        req = req.set("X-Title", t);
    }
    let surl = safe_url(url);
    let response = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(status, r)) => {
            let retry_after = r
                .header("Retry-After")
                .and_then(|v| v.trim().parse::<u64>().ok());
            let body = read_capped(r.into_reader(), 64 << 10, stop, None).unwrap_or_default();
            let text = String::from_utf8_lossy(&body);
            return Ok(Attempt::Status {
                status,
                message: api_message(&text),
                retry_after,
            });
        }
        Err(ureq::Error::Transport(t)) => return Err(transport_error(&surl, cfg.timeout_ms, &t)),
    };
    if (300..400).contains(&response.status()) {
        let location = response.header("Location").unwrap_or("").to_string();
        return Ok(Attempt::Redirect(location));
    }
    if let Some(len) = response
        .header("Content-Length")
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        if len > cfg.max_response_bytes {
            return Err(SyncError::TooLarge {
                url: surl,
                limit: cfg.max_response_bytes,
            });
        }
    }
    let announced = response
        .header("Content-Length")
        .and_then(|v| v.trim().parse::<usize>().ok());
    let bytes = match read_capped(
        response.into_reader(),
        cfg.max_response_bytes,
        stop,
        announced,
    ) {
        Ok(b) => b,
        Err(ReadError::TooLarge) => {
            return Err(SyncError::TooLarge {
                url: surl,
                limit: cfg.max_response_bytes,
            })
        }
        Err(ReadError::Stopped) => {
            return Err(SyncError::Transport {
                url: surl,
                reason: "cancelled".into(),
            })
        }
        Err(ReadError::OutOfMemory(bytes)) => {
            return Err(SyncError::OutOfMemory {
                what: format!("the response of GET {surl}"),
                bytes,
            })
        }
        Err(ReadError::Io(e)) => {
            return Err(if is_timeout(&e) {
                SyncError::Timeout {
                    url: surl,
                    timeout_ms: cfg.timeout_ms,
                }
            } else {
                SyncError::Transport {
                    url: surl,
                    reason: format!("the body broke off: {e}"),
                }
            })
        }
    };
    match String::from_utf8(bytes) {
        Ok(s) => Ok(Attempt::Body(s)),
        Err(e) => Err(SyncError::Utf8 {
            url: surl,
            at: e.utf8_error().valid_up_to(),
        }),
    }
}

enum ReadError {
    TooLarge,
    Stopped,
    /// Bytes the buffer needed.
    OutOfMemory(usize),
    Io(std::io::Error),
}

fn read_capped(
    r: impl Read,
    cap: usize,
    stop: &Stop,
    announced: Option<usize>,
) -> Result<Vec<u8>, ReadError> {
    // The announced length sizes the buffer once: no doubling (and no 2x peak) on large bodies.
    // read_to_end reads into it directly: no bounce buffer to zero and copy from (those were
    // two thirds of the fetch thread's time at 1x).
    // Fallible, like read_to_end's own growth (which reports ErrorKind::OutOfMemory): a
    // failed allocation in Rust aborts the whole server otherwise.
    let first = announced.filter(|n| *n <= cap).unwrap_or(64 << 10);
    let mut out = Vec::new();
    if out.try_reserve_exact(first).is_err() {
        return Err(ReadError::OutOfMemory(first));
    }
    let mut limited = Stoppable { inner: r, stop }.take(cap as u64 + 1);
    match limited.read_to_end(&mut out) {
        Ok(_) if out.len() > cap => Err(ReadError::TooLarge),
        Ok(_) => Ok(out),
        Err(_) if stop.is_set() => Err(ReadError::Stopped),
        Err(e) if e.kind() == std::io::ErrorKind::OutOfMemory => Err(ReadError::OutOfMemory(
            out.len().max(first).saturating_mul(2),
        )),
        Err(e) => Err(ReadError::Io(e)),
    }
}

/// A reader that fails once `stop` is set (checked before every read).
struct Stoppable<'a, R> {
    inner: R,
    stop: &'a Stop,
}

impl<R: Read> Read for Stoppable<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.stop.is_set() {
            return Err(std::io::Error::other("stopped"));
        }
        self.inner.read(buf)
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    ) || e.to_string().to_ascii_lowercase().contains("timed out")
}

fn transport_error(url: &str, timeout_ms: u64, t: &ureq::Transport) -> SyncError {
    use ureq::ErrorKind as K;
    let text = t.to_string();
    let timed_out = text.to_ascii_lowercase().contains("timed out")
        || t.source()
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .is_some_and(is_timeout);
    if timed_out {
        return SyncError::Timeout {
            url: url.into(),
            timeout_ms,
        };
    }
    let reason = t
        .message()
        .map(str::to_string)
        .unwrap_or_else(|| t.kind().to_string());
    let reason = match t.source() {
        Some(s) => format!("{reason}: {s}"),
        None => reason,
    };
    match t.kind() {
        K::ConnectionFailed | K::Dns => SyncError::Connect {
            url: url.into(),
            reason,
        },
        _ => SyncError::Transport {
            url: url.into(),
            reason,
        },
    }
}

use std::error::Error as _;

/// The API's `{"error": {"message": ...}}`, or a short excerpt of whatever came instead.
fn api_message(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Wrapper {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        message: Option<String>,
    }
    match serde_json::from_str::<Wrapper>(body) {
        Ok(Wrapper {
            error: Inner { message: Some(m) },
        }) => crate::text::excerpt(&m, 300),
        _ => crate::text::excerpt(body.trim(), 200),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls() {
        assert!(check_url("https://openrouter.ai/api/v1/models").is_ok());
        assert!(check_url("http://127.0.0.1:8080/api/v1/models").is_ok());
        for bad in [
            "file:///etc/passwd",
            "gopher://x",
            "ftp://h/x",
            "https://",
            "http:///x",
            "/api/v1/models",
            "http://h/a b",
        ] {
            assert!(
                matches!(check_url(bad), Err(SyncError::BadUrl { .. })),
                "{bad}"
            );
        }
    }

    /// A reader handing out at most `step` bytes a call, as a socket does.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(buf.len()).min(self.1);
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    /// A Content-Length no memory can hold (raised openrouter.max_response_bytes) is an
    /// error (53200 for the sync), where Vec::with_capacity aborted the server (issue 18).
    #[test]
    fn a_length_no_memory_holds_is_an_error_not_an_abort() {
        let body = b"{}".to_vec();
        let got = read_capped(
            Trickle(&body, 2),
            usize::MAX / 4,
            &Stop::default(),
            Some(1 << 60),
        );
        assert!(matches!(got, Err(ReadError::OutOfMemory(n)) if n == 1 << 60));
    }

    #[test]
    fn bodies_are_read_whole_up_to_the_cap() {
        let body = crate::tests::testkit::fixture(crate::tests::testkit::NEW).into_bytes();
        let go = Stop::default();
        let len = body.len();
        // Announced exactly, announced too short, not announced; read in odd steps.
        for (announced, step) in [(Some(len), 65_537), (Some(1000), 4093), (None, 1 << 20)] {
            let got = read_capped(Trickle(&body, step), len, &go, announced);
            assert!(matches!(&got, Ok(b) if *b == body), "{announced:?} {step}");
        }
        // One byte over the cap is refused, whatever was announced.
        for announced in [Some(len), None] {
            let got = read_capped(Trickle(&body, 8192), len - 1, &go, announced);
            assert!(matches!(got, Err(ReadError::TooLarge)), "{announced:?}");
        }
        // A stop request ends the read.
        let stop = Stop::default();
        stop.set();
        let got = read_capped(Trickle(&body, 8192), len, &stop, Some(len));
        assert!(matches!(got, Err(ReadError::Stopped)));
    }

    #[test]
    fn next_links_resolve() {
        assert_eq!(
            resolve("http://h:1/api/v1/models?x=1", "/api/v1/models?offset=5"),
            "http://h:1/api/v1/models?offset=5"
        );
        assert_eq!(
            resolve("http://h:1/api/v1/models", "models?offset=5"),
            "http://h:1/api/v1/models?offset=5"
        );
        assert_eq!(resolve("http://h:1/a", "https://o/b"), "https://o/b");
    }

    #[test]
    fn api_error_messages() {
        assert_eq!(
            api_message(r#"{"error":{"code":401,"message":"No auth credentials found"}}"#),
            "No auth credentials found"
        );
        assert_eq!(
            api_message("<html>Bad gateway</html>"),
            "<html>Bad gateway</html>"
        );
    }
}

/// One GET for a worker thread: the same timeouts, size cap, retries with backoff,
/// Retry-After and same-host redirect rules as the registry fetch, blocking, with no
/// callback into the caller. `stop` ends it early (between chunks and during waits; the
/// thread that made it can also shut its sockets down, see `Helpers`).
/// Returns the body and the number of requests made.
pub fn get_blocking(
    cfg: &FetchConfig,
    url: &str,
    stop: &Arc<Stop>,
) -> Result<(String, u32), SyncError> {
    check_url(url)?;
    get_with(cfg, url, &mut Blocking { cfg, stop })
}

/// The outcome of one GET of `get_many`: the body and its request count, or the error.
pub type Outcome = Result<(String, u32), SyncError>;

/// GETs every URL with at most `concurrency` worker threads (each calls `get_blocking`).
/// The calling thread only waits on a channel and calls `poll` every few tens of
/// milliseconds (it may unwind on a cancel: the workers then stop). Results come back in
/// the order of `urls`; one failing URL does not stop the others.
pub fn get_many(
    cfg: &FetchConfig,
    urls: &[String],
    concurrency: usize,
    poll: &mut dyn FnMut(&str),
) -> Vec<Outcome> {
    let total = urls.len();
    let mut results: Vec<Option<Outcome>> = (0..total).map(|_| None).collect();
    if total == 0 {
        return Vec::new();
    }
    // Dropped on every way out, unwinding on a cancel included: stops the workers.
    let helpers = Helpers::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let shared_urls: Arc<Vec<String>> = Arc::new(urls.to_vec());
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    let workers = concurrency.clamp(1, total);
    let mut started = 0;
    for _ in 0..workers {
        let (cfg, next, urls, tx) = (cfg.clone(), next.clone(), shared_urls.clone(), tx.clone());
        let spawned = helpers.spawn(move |stop| loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= urls.len() || stop.is_set() {
                break;
            }
            if tx.send((i, get_blocking(&cfg, &urls[i], stop))).is_err() {
                break;
            }
        });
        if spawned.is_ok() {
            started += 1;
        }
    }
    drop(tx);
    let mut done = 0;
    if started > 0 {
        let mut last_report = Instant::now();
        while done < total {
            match rx.recv_timeout(POLL) {
                Ok((i, outcome)) => {
                    results[i] = Some(outcome);
                    done += 1;
                    if last_report.elapsed() >= Duration::from_secs(2) {
                        poll(&format!("fetched {done} of {total}"));
                        last_report = Instant::now();
                    } else {
                        poll("");
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => poll(""),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    }
    results
        .into_iter()
        .zip(urls)
        .map(|(r, url)| {
            r.unwrap_or_else(|| {
                Err(SyncError::Transport {
                    url: safe_url(url),
                    reason: "the fetch thread died".into(),
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod get_many_tests {
    use super::*;
    use crate::tests::testkit::{Reply, TestServer};

    #[test]
    fn results_in_order_failures_apart_bounded_workers() {
        let server = TestServer::start(|path, _| match path {
            "/missing" => Reply::json(404, r#"{"error":{"message":"Not Found"}}"#),
            p => Reply::json(200, format!("{{\"path\":\"{p}\"}}")),
        });
        let urls: Vec<String> = ["/a", "/missing", "/c", "/d", "/e"]
            .iter()
            .map(|p| server.url(p))
            .collect();
        let mut cfg = FetchConfig::new(&urls[0]);
        cfg.max_retries = 0;
        let mut polls = 0;
        let out = get_many(&cfg, &urls, 2, &mut |_| polls += 1);
        assert_eq!(out.len(), 5);
        assert_eq!(out[0].as_ref().unwrap().0, r#"{"path":"/a"}"#);
        assert_eq!(
            out[4].as_ref().unwrap(),
            &(r#"{"path":"/e"}"#.to_string(), 1)
        );
        match &out[1] {
            Err(SyncError::Http {
                status: 404,
                message,
                ..
            }) => assert_eq!(message, "Not Found"),
            other => panic!("{other:?}"),
        }
        assert!(polls >= 5, "the caller polls while it waits");
        assert_eq!(server.hits(), 5);
    }

    #[test]
    fn retry_after_is_honoured_then_succeeds() {
        let server = TestServer::start(|_, n| {
            if n == 1 {
                Reply::json(429, "{}").with_header("Retry-After", "1")
            } else {
                Reply::json(200, "ok")
            }
        });
        let mut cfg = FetchConfig::new(&server.url("/x"));
        cfg.max_retries = 1;
        let started = Instant::now();
        let out = get_blocking(&cfg, &server.url("/x"), &Stop::new()).unwrap();
        assert_eq!(out, ("ok".to_string(), 2));
        assert!(started.elapsed() >= Duration::from_millis(950));
    }

    #[test]
    fn a_poll_that_unwinds_leaves_at_once() {
        let server = TestServer::start(|_, _| Reply::Hang);
        let urls = vec![server.url("/slow"), server.url("/slower")];
        let cfg = FetchConfig::new(&urls[0]);
        let started = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            get_many(&cfg, &urls, 4, &mut |_| {
                if started.elapsed() > Duration::from_millis(200) {
                    panic!("cancel");
                }
            })
        }));
        assert!(result.is_err());
        assert!(started.elapsed() < Duration::from_millis(1000));
    }

    /// The sockets of this process connected to 127.0.0.1:`port`.
    fn sockets_to(port: u16) -> usize {
        open_sockets()
            .into_iter()
            .filter(|&(fd, _)| peer_of(fd) == Some(SocketAddr::from(([127, 0, 0, 1], port))))
            .count()
    }

    /// A cancel while the helper threads wait for headers (issue 18): before, they stayed
    /// blocked, each holding its socket, until openrouter.timeout_ms (here 60 s) ended. Now
    /// the sockets are shut down and the threads gone by the time the caller has unwound.
    #[test]
    fn a_cancel_closes_every_socket_and_ends_every_thread() {
        let server = TestServer::start(|_, _| Reply::Hang);
        let urls: Vec<String> = (0..6).map(|i| server.url(&format!("/hang{i}"))).collect();
        let mut cfg = FetchConfig::new(&urls[0]);
        cfg.timeout_ms = 60_000;
        for one in [true, false] {
            let started = Instant::now();
            let mut saw_sockets = 0;
            let mut poll = |_: &str| {
                saw_sockets = saw_sockets.max(sockets_to(server.port));
                if started.elapsed() > Duration::from_millis(300) {
                    panic!("cancel");
                }
            };
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                if one {
                    get(&cfg, &urls[0], &mut poll).map(drop)
                } else {
                    get_many(&cfg, &urls, 4, &mut poll);
                    Ok(())
                }
            }));
            assert!(result.is_err());
            assert_eq!(saw_sockets, if one { 1 } else { 4 }, "one: {one}");
            assert_eq!(sockets_to(server.port), 0, "one: {one}");
            assert!(
                started.elapsed() < Duration::from_millis(1300),
                "{:?}",
                started.elapsed()
            );
        }
    }

    /// Helper threads are born with every signal blocked; the caller's mask is unchanged.
    #[test]
    fn helper_threads_block_signals() {
        fn mask() -> libc::sigset_t {
            unsafe {
                let mut m: libc::sigset_t = std::mem::zeroed();
                libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut m);
                m
            }
        }
        let before = mask();
        let (tx, rx) = mpsc::channel();
        spawn_helper(move || {
            let m = mask();
            let _ = tx.send(unsafe {
                [libc::SIGINT, libc::SIGTERM, libc::SIGUSR1, libc::SIGALRM]
                    .iter()
                    .all(|&s| libc::sigismember(&m, s) == 1)
            });
        })
        .unwrap();
        assert!(rx.recv().unwrap());
        let after = mask();
        assert!(unsafe {
            libc::sigismember(&before, libc::SIGINT) == libc::sigismember(&after, libc::SIGINT)
        });
    }
}
