//! Test support: the fixture files (read in place from ../shared) and a loopback HTTP
//! server that can serve them, page them, or misbehave on demand. 127.0.0.1 only.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const OLD: &str = "models-2025-05-23.json";
pub const NEW: &str = "models-2026-03-10.json";

pub fn fixture_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/openrouter")
}

/// A fixture file's text; panics with the path when it is missing (tests must not skip).
pub fn fixture(name: &str) -> String {
    let path = fixture_dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {} is required: {e}", path.display()))
}

/// What the server answers to one request.
#[derive(Clone)]
pub enum Reply {
    /// A complete response.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Accept the request and never answer.
    Hang,
    /// Send the headers and the first `sent` bytes of `body`, then stall forever.
    Stall { body: Vec<u8>, sent: usize },
    /// Announce `body.len()` bytes, send the first `sent`, then close the connection.
    Truncate { body: Vec<u8>, sent: usize },
    /// Send a body of `size` bytes with no Content-Length, in chunks, until the client leaves.
    Endless,
}

impl Reply {
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply::Full {
            status,
            headers: vec![],
            body: body.into(),
        }
    }
    pub fn with_header(self, k: &str, v: &str) -> Reply {
        match self {
            Reply::Full {
                status,
                mut headers,
                body,
            } => {
                headers.push((k.into(), v.into()));
                Reply::Full {
                    status,
                    headers,
                    body,
                }
            }
            other => other,
        }
    }
}

type Handler = dyn Fn(&str, usize) -> Reply + Send + Sync;

/// A server on 127.0.0.1 with an ephemeral port; it lives as long as the process.
pub struct TestServer {
    pub port: u16,
    hits: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
}

impl TestServer {
    /// `handler(path_and_query, request_number)` decides each answer.
    pub fn start(handler: impl Fn(&str, usize) -> Reply + Send + Sync + 'static) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (h2, heads2) = (hits.clone(), heads.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (handler, heads) = (handler.clone(), heads2.clone());
                let n = h2.fetch_add(1, Ordering::SeqCst) + 1;
                std::thread::spawn(move || serve_one(stream, &*handler, n, &heads));
            }
        });
        TestServer { port, hits, heads }
    }

    /// Serves `body` at /api/v1/models; with `page_size`, as links.next pages.
    pub fn registry(body: String, page_size: Option<usize>) -> TestServer {
        let doc: serde_json::Value = serde_json::from_str(&body).expect("fixture is JSON");
        let models = doc["data"].as_array().cloned().unwrap_or_default();
        TestServer::start(move |path, _| {
            if !path.starts_with("/api/v1/models") {
                return Reply::json(404, r#"{"error":{"code":404,"message":"Not Found"}}"#);
            }
            let Some(size) = page_size else {
                return Reply::json(200, body.clone());
            };
            let offset: usize = path
                .split(['?', '&'])
                .find_map(|kv| kv.strip_prefix("offset="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let end = (offset + size).min(models.len());
            let next =
                (end < models.len()).then(|| format!("/api/v1/models?offset={end}&limit={size}"));
            let page =
                serde_json::json!({"data": &models[offset.min(end)..end], "links": {"next": next}});
            Reply::json(200, page.to_string())
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn models_url(&self) -> String {
        self.url("/api/v1/models")
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The request line and headers of every request received so far.
    pub fn request_heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

fn serve_one(mut stream: TcpStream, handler: &Handler, n: usize, heads: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(k) => head.extend_from_slice(&buf[..k]),
        }
        if head.len() > 64 << 10 {
            return;
        }
    }
    let head = String::from_utf8_lossy(&head).to_string();
    heads.lock().unwrap().push(head.clone());
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    let start = |status: u16, len: Option<usize>, headers: &[(String, String)]| {
        let mut s = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nConnection: close\r\n",
            reason(status)
        );
        if let Some(len) = len {
            s.push_str(&format!("Content-Length: {len}\r\n"));
        }
        for (k, v) in headers {
            s.push_str(&format!("{k}: {v}\r\n"));
        }
        s.push_str("\r\n");
        s
    };
    match handler(&path, n) {
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let _ = stream.write_all(start(status, Some(body.len()), &headers).as_bytes());
            let _ = stream.write_all(&body);
        }
        Reply::Hang => std::thread::sleep(Duration::from_secs(120)),
        Reply::Stall { body, sent } => {
            let _ = stream.write_all(start(200, Some(body.len()), &[]).as_bytes());
            let _ = stream.write_all(&body[..sent.min(body.len())]);
            let _ = stream.flush();
            std::thread::sleep(Duration::from_secs(120));
        }
        Reply::Truncate { body, sent } => {
            let _ = stream.write_all(start(200, Some(body.len()), &[]).as_bytes());
            let _ = stream.write_all(&body[..sent.min(body.len())]);
        }
        Reply::Endless => {
            let _ = stream.write_all(start(200, None, &[]).as_bytes());
            let _ = stream.write_all(b"{\"data\":[");
            let chunk = vec![b' '; 64 << 10];
            for _ in 0..100_000 {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
        }
    }
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
