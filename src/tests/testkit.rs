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

// ---- Provider endpoints, providers and quality scores (issue 8) ----------------------------
// Hand-made but shaped exactly like GET /models/{author}/{slug}/endpoints and GET /providers:
// percentile objects, nulls where the API sends them (no metrics without a key, no
// quantization for closed models), prices as decimal strings.

/// The endpoints bodies served per base model id.
pub fn endpoints_body(base_id: &str) -> Option<String> {
    let endpoints = match base_id {
        "openai/gpt-oss-120b" => serde_json::json!([
            {"name": "DeepInfra | openai/gpt-oss-120b", "model_name": "OpenAI: gpt-oss-120b",
             "context_length": 131072, "pricing": {"prompt": "0.00000005", "completion": "0.00000045", "request": "0", "image": "0"},
             "provider_name": "DeepInfra", "tag": "deepinfra/bf16", "quantization": "bf16",
             "max_completion_tokens": 16384, "max_prompt_tokens": null,
             "supported_parameters": ["max_tokens", "temperature", "tools", "reasoning"],
             "status": 0, "uptime_last_5m": 100, "uptime_last_30m": 99.52, "uptime_last_1d": 99.871,
             "supports_implicit_caching": false,
             "latency_last_30m": {"p50": 412.5, "p75": 530, "p90": 780.25, "p99": 1900},
             "throughput_last_30m": {"p50": 95.4, "p75": 80.1, "p90": 60.7, "p99": 22}},
            {"name": "Groq | openai/gpt-oss-120b", "model_name": "OpenAI: gpt-oss-120b",
             "context_length": 131072, "pricing": {"prompt": "0.00000015", "completion": "0.00000075"},
             "provider_name": "Groq", "tag": "groq", "quantization": null,
             "max_completion_tokens": 32766, "max_prompt_tokens": 131072,
             "supported_parameters": ["max_tokens", "temperature", "tools"],
             "status": 0, "uptime_last_5m": 100, "uptime_last_30m": 100, "uptime_last_1d": 99.99,
             "supports_implicit_caching": false,
             "latency_last_30m": {"p50": 180, "p75": 240, "p90": 320.5, "p99": 900},
             "throughput_last_30m": {"p50": 512.3, "p75": 450, "p90": 380.2, "p99": 120}},
            {"name": "Cerebras | openai/gpt-oss-120b", "model_name": "OpenAI: gpt-oss-120b",
             "context_length": 65536, "pricing": {"prompt": "0.00000035", "completion": "0.00000075"},
             "provider_name": "Cerebras", "tag": "cerebras", "quantization": "fp16",
             "max_completion_tokens": null, "max_prompt_tokens": null,
             "supported_parameters": ["max_tokens"],
             "status": -5, "uptime_last_5m": null, "uptime_last_30m": 97.25, "uptime_last_1d": 98.5,
             "supports_implicit_caching": false,
             "latency_last_30m": null, "throughput_last_30m": null}
        ]),
        "anthropic/claude-sonnet-4.5" => serde_json::json!([
            {"name": "Anthropic | anthropic/claude-4.5-sonnet-20250929", "model_name": "Anthropic: Claude Sonnet 4.5",
             "context_length": 1000000,
             "pricing": {"prompt": "0.000003", "completion": "0.000015", "input_cache_read": "0.0000003",
                         "input_cache_write": "0.00000375", "image": "0.0048", "request": "0", "web_search": "0.01"},
             "provider_name": "Anthropic", "tag": "anthropic", "quantization": null,
             "max_completion_tokens": 64000, "max_prompt_tokens": null,
             "supported_parameters": ["max_tokens", "temperature", "tools", "reasoning"],
             "status": 0, "uptime_last_5m": 99.9, "uptime_last_30m": 99.95, "uptime_last_1d": 99.8,
             "supports_implicit_caching": true,
             "latency_last_30m": {"p50": 1650, "p75": 2100, "p90": 2890, "p99": 6100},
             "throughput_last_30m": {"p50": 61.2, "p75": 55, "p90": 44.1, "p99": 20.3}},
            {"name": "Google | anthropic/claude-4.5-sonnet-20250929", "model_name": "Anthropic: Claude Sonnet 4.5",
             "context_length": 1000000,
             "pricing": {"prompt": "0.000003", "completion": "0.000015", "input_cache_read": "0.0000003",
                         "input_cache_write": "0.00000375"},
             "provider_name": "Google", "tag": "google-vertex/global", "quantization": null,
             "max_completion_tokens": 64000, "max_prompt_tokens": null,
             "supported_parameters": ["max_tokens", "temperature", "tools"],
             "status": 0, "uptime_last_5m": 100, "uptime_last_30m": 99.1, "uptime_last_1d": 99.6,
             "supports_implicit_caching": true,
             "latency_last_30m": {"p50": 1820.75, "p75": 2300, "p90": 3400, "p99": 7000},
             "throughput_last_30m": {"p50": 58.9, "p75": 50, "p90": 41, "p99": 18}}
        ]),
        "qwen/qwen3-coder" => serde_json::json!([
            {"name": "DeepInfra | qwen/qwen3-coder-480b-a35b-07-25", "model_name": "Qwen: Qwen3 Coder 480B A35B",
             "context_length": 262144, "pricing": {"prompt": "0.0000004", "completion": "0.0000016"},
             "provider_name": "DeepInfra", "tag": "deepinfra/fp8", "quantization": "fp8",
             "max_completion_tokens": 65536, "max_prompt_tokens": null,
             "supported_parameters": ["max_tokens", "tools"],
             "status": 0, "uptime_last_5m": 100, "uptime_last_30m": 99.7, "uptime_last_1d": 99.2,
             "supports_implicit_caching": false,
             "latency_last_30m": {"p50": 655, "p75": 800, "p90": 1200, "p99": 3000},
             "throughput_last_30m": {"p50": 44.5, "p75": 40, "p90": 31, "p99": 12}},
            {"name": "Alibaba | qwen/qwen3-coder-480b-a35b-07-25", "model_name": "Qwen: Qwen3 Coder 480B A35B",
             "context_length": 262144, "pricing": {"prompt": "0.000001", "completion": "0.000005"},
             "provider_name": "Alibaba", "tag": "alibaba/opensource", "quantization": null,
             "max_completion_tokens": 65536, "max_prompt_tokens": null,
             "supported_parameters": ["max_tokens", "tools"],
             "status": 0, "uptime_last_5m": 100, "uptime_last_30m": 100, "uptime_last_1d": 99.95,
             "supports_implicit_caching": true,
             "latency_last_30m": {"p50": 300.2, "p75": 410, "p90": null, "p99": null},
             "throughput_last_30m": {"p50": 88, "p75": 70, "p90": 52, "p99": 30}}
        ]),
        "google/gemini-2.5-flash" => serde_json::json!([
            {"name": "Google | google/gemini-2.5-flash", "model_name": "Google: Gemini 2.5 Flash",
             "context_length": 1048576,
             "pricing": {"prompt": "0.0000003", "completion": "0.0000025", "image": "0.001238", "input_cache_read": "0.00000003"},
             "provider_name": "Google", "tag": "google-vertex", "quantization": null,
             "max_completion_tokens": 65535, "max_prompt_tokens": null,
             "supported_parameters": ["max_tokens", "tools", "reasoning"],
             "status": 0, "uptime_last_5m": 100, "uptime_last_30m": 100, "uptime_last_1d": 100,
             "supports_implicit_caching": true,
             "latency_last_30m": {"p50": 540, "p75": 700, "p90": 950, "p99": 2100},
             "throughput_last_30m": {"p50": 150.25, "p75": 130, "p90": 101, "p99": 60}}
        ]),
        _ => return None,
    };
    Some(
        serde_json::json!({"data": {"id": base_id, "name": base_id, "created": 1754000000,
                                    "description": "", "architecture": {"modality": "text->text"},
                                    "endpoints": endpoints}})
        .to_string(),
    )
}

/// GET /providers: six providers (Alibaba is missing on purpose: known only from an endpoint).
pub const PROVIDERS: &str = r#"{"data": [
 {"name": "DeepInfra", "slug": "deepinfra", "privacy_policy_url": "https://deepinfra.com/privacy", "terms_of_service_url": "https://deepinfra.com/terms", "status_page_url": null, "headquarters": "US", "datacenters": ["US"]},
 {"name": "Groq", "slug": "groq", "privacy_policy_url": "https://groq.com/privacy-policy/", "terms_of_service_url": "https://groq.com/terms-of-use/", "status_page_url": "https://groqstatus.com/", "headquarters": "US", "datacenters": ["US", "CA", "FI", "SA"]},
 {"name": "Cerebras", "slug": "cerebras", "privacy_policy_url": "https://www.cerebras.ai/privacy-policy", "terms_of_service_url": "https://www.cerebras.ai/terms-of-service", "status_page_url": "https://status.cerebras.ai/", "headquarters": "US", "datacenters": ["US", "CA", "FR"]},
 {"name": "Anthropic", "slug": "anthropic", "privacy_policy_url": "https://www.anthropic.com/legal/privacy", "terms_of_service_url": "https://www.anthropic.com/legal/commercial-terms", "status_page_url": "https://status.anthropic.com/", "headquarters": "US", "datacenters": ["US"]},
 {"name": "Google Vertex", "slug": "google-vertex", "privacy_policy_url": "https://cloud.google.com/terms/cloud-privacy-notice", "terms_of_service_url": "https://cloud.google.com/terms/", "status_page_url": "https://status.cloud.google.com/", "headquarters": "US", "datacenters": ["US", "BE", "JP"]},
 {"name": "OpenAI", "slug": "openai", "privacy_policy_url": "https://openai.com/policies/privacy-policy/", "terms_of_service_url": "https://openai.com/policies/row-terms-of-use/", "status_page_url": "https://status.openai.com/", "headquarters": "US", "datacenters": null}
]}"#;

/// The models list with Artificial Analysis and Design Arena scores added to four models
/// (the fixtures predate `benchmarks`), in the API's shape.
pub fn with_benchmarks(body: &str) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(body).expect("fixture is JSON");
    let scores = [
        (
            "openai/gpt-oss-120b",
            61.3,
            49.6,
            Some(47.2),
            1261.8,
            1149.85,
        ),
        (
            "anthropic/claude-sonnet-4.5",
            70.8,
            63.5,
            Some(66.1),
            1348.2,
            1290.5,
        ),
        ("qwen/qwen3-coder", 45.2, 44.0, None, 1180.4, 1201.75),
        (
            "google/gemini-2.5-flash",
            54.1,
            40.2,
            Some(45.9),
            1210.0,
            1150.3,
        ),
    ];
    for m in doc["data"].as_array_mut().expect("data array") {
        let id = m["id"].as_str().unwrap_or_default().to_string();
        if let Some((_, i, c, a, web, game)) = scores.iter().find(|s| s.0 == id) {
            m["benchmarks"] = serde_json::json!({
                "artificial_analysis": {"intelligence_index": i, "coding_index": c, "agentic_index": a},
                "design_arena": [
                    {"arena": "models", "category": "website", "elo": web, "rank": 7, "win_rate": 51.5},
                    {"arena": "models", "category": "gamedev", "elo": game, "rank": 9, "win_rate": 48.0}
                ]
            });
        }
    }
    doc.to_string()
}

impl TestServer {
    /// The whole API on loopback: /api/v1/models (`models_body`), /api/v1/providers and
    /// /api/v1/models/{author}/{slug}/endpoints. Endpoints of mistralai/mistral-nemo answer
    /// 404; of deepseek/deepseek-v3.2 always 429 (Retry-After: 1); of google/gemini-2.5-flash
    /// 429 once, then the payload; of any other model an empty list. Endpoints whose tag is
    /// in `without` are left out.
    pub fn openrouter(models_body: String, without: &'static [&'static str]) -> TestServer {
        let seen: Arc<Mutex<std::collections::HashMap<String, usize>>> = Arc::default();
        TestServer::start(move |path, _| {
            let times = {
                let mut seen = seen.lock().unwrap();
                let n = seen.entry(path.to_string()).or_insert(0);
                *n += 1;
                *n
            };
            if path == "/api/v1/providers" {
                return Reply::json(200, PROVIDERS);
            }
            if let Some(model) = path
                .strip_prefix("/api/v1/models/")
                .and_then(|p| p.strip_suffix("/endpoints"))
            {
                return match model {
                    "mistralai/mistral-nemo" => Reply::json(
                        404,
                        r#"{"error":{"code":404,"message":"No endpoints found for mistralai/mistral-nemo."}}"#,
                    ),
                    "deepseek/deepseek-v3.2" => Reply::json(
                        429,
                        r#"{"error":{"code":429,"message":"Rate limit exceeded"}}"#,
                    )
                    .with_header("Retry-After", "1"),
                    "google/gemini-2.5-flash" if times == 1 => Reply::json(
                        429,
                        r#"{"error":{"code":429,"message":"Rate limit exceeded"}}"#,
                    )
                    .with_header("Retry-After", "1"),
                    _ => {
                        let body = endpoints_body(model).unwrap_or_else(|| {
                            serde_json::json!({"data": {"id": model, "name": model, "endpoints": []}})
                                .to_string()
                        });
                        let mut doc: serde_json::Value = serde_json::from_str(&body).unwrap();
                        if let Some(list) = doc["data"]["endpoints"].as_array_mut() {
                            list.retain(|e| !without.contains(&e["tag"].as_str().unwrap_or("")));
                        }
                        Reply::json(200, doc.to_string())
                    }
                };
            }
            if path.starts_with("/api/v1/models") {
                return Reply::json(200, models_body.clone());
            }
            Reply::json(404, r#"{"error":{"code":404,"message":"Not Found"}}"#)
        })
    }
}

/// SQL helpers shared by the Postgres tests: a failing statement fails the test with the SQL.
pub mod sql {
    use pgrx::prelude::*;

    pub fn one<T: pgrx::FromDatum + pgrx::IntoDatum>(sql: &str) -> T {
        Spi::get_one::<T>(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .unwrap_or_else(|| panic!("{sql}: NULL"))
    }

    pub fn run(sql: &str) {
        Spi::run(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn count(sql: &str) -> i64 {
        one::<i64>(sql)
    }

    /// Deletes every row of `tables`. DELETE, not TRUNCATE: an AccessExclusiveLock held
    /// until the end of the test's transaction deadlocks with a sync running beside it in
    /// another test.
    pub fn empty(tables: &[&str]) {
        for table in tables {
            run(&format!("DELETE FROM {table}"));
        }
    }
}
