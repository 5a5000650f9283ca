#!/usr/bin/env python3
"""Loopback OpenRouter API for bench/run.sh's reads step (stdlib only; 127.0.0.1 only).

reads_server.py NEW OLD PORT --scale K
  /api/v1/models          NEW served K times (copies 2..K get ids suffixed -copyN, as
                          ../shared/peers/serve.py --scale does), every third model with
                          Artificial Analysis and Design Arena scores (the fixtures predate
                          `benchmarks`), so that openrouter_model_quality and
                          best_value_models() have rows to read
  /old/api/v1/models      OLD served the same way: synced first, it gives the change log and
                          the price history a real second period
  /api/v1/models/{author}/{slug}/endpoints
                          two or three endpoints per model, in the API's shape (as the
                          hand-made payloads of src/tests/testkit.rs), metrics included
  /api/v1/providers       the providers those endpoints name, one left out (known only from
                          an endpoint, as in the tests)
Every figure is derived from the model id, so two runs serve the same bytes.
"""
import argparse, hashlib, json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("new"); ap.add_argument("old"); ap.add_argument("port", type=int)
ap.add_argument("--scale", type=int, default=1)
args = ap.parse_args()


def h(s, n):
    """A number in 0..n-1 from a string, the same in every run."""
    return int.from_bytes(hashlib.sha1(s.encode()).digest()[:4], "big") % n


def scaled(path, with_benchmarks):
    models = json.load(open(path, encoding="utf-8"))["data"]
    out = list(models)
    for n in range(2, args.scale + 1):
        out += [dict(m, id=f"{m['id']}-copy{n}") for m in models]
    if with_benchmarks:
        for i, m in enumerate(out):
            if i % 3 == 0:
                mid = m["id"]
                m = out[i] = dict(m)
                m["benchmarks"] = {
                    "artificial_analysis": {"intelligence_index": 20 + h(mid + "i", 600) / 10,
                                            "coding_index": 15 + h(mid + "c", 600) / 10,
                                            "agentic_index": None if h(mid, 4) == 0 else 10 + h(mid + "a", 600) / 10},
                    "design_arena": [
                        {"arena": "models", "category": "website", "elo": 1100 + h(mid + "w", 3000) / 10, "rank": 7, "win_rate": 51.5},
                        {"arena": "models", "category": "gamedev", "elo": 1100 + h(mid + "g", 3000) / 10, "rank": 9, "win_rate": 48.0}]}
    return json.dumps({"data": out}).encode()


NEW = scaled(args.new, True)
OLD = scaled(args.old, False)
PROVIDERS = [("deepinfra", "DeepInfra", "bf16"), ("groq", None, None), ("cerebras", None, "fp16"),
             ("together", "Together", "fp8"), ("fireworks", None, "fp8"), ("novita", "Novita", "bf16"),
             ("google-vertex", "Google Vertex", None), ("anthropic", "Anthropic", None),
             ("openai", "OpenAI", None), ("mistral", "Mistral", None), ("baseten", "Baseten", "fp4"),
             ("alibaba", "Alibaba", None)]   # alibaba: not in /providers, as in the tests
PROVIDERS_BODY = json.dumps({"data": [
    {"name": name or slug.capitalize(), "slug": slug, "privacy_policy_url": f"https://{slug}.example/privacy",
     "terms_of_service_url": f"https://{slug}.example/terms", "status_page_url": None,
     "headquarters": "US", "datacenters": ["US", "DE"][: 1 + h(slug, 2)]}
    for slug, name, _ in PROVIDERS if slug != "alibaba"]}).encode()


def endpoints(model):
    out = []
    for k in range(2 + h(model, 2)):
        slug, name, quant = PROVIDERS[h(f"{model}#{k}", len(PROVIDERS))]
        tag = f"{slug}/{quant}" if quant else slug
        if any(e["tag"] == tag for e in out):
            continue
        p = (1 + h(model + tag, 400)) / 1e8
        metrics = h(model + tag + "m", 8) != 0   # some endpoints have no metrics
        out.append({
            "name": f"{name or slug} | {model}", "model_name": model, "context_length": 8192 * (1 + h(model, 16)),
            "pricing": {"prompt": f"{p:.10f}".rstrip("0"), "completion": f"{4 * p:.10f}".rstrip("0"), "request": "0"},
            "provider_name": name or slug.capitalize(), "tag": tag, "quantization": quant,
            "max_completion_tokens": 16384, "max_prompt_tokens": None,
            "supported_parameters": ["max_tokens", "temperature", "tools"][: 1 + h(tag, 3)],
            "status": 0 if h(model + tag + "s", 10) else -2,
            "uptime_last_5m": 100, "uptime_last_30m": 95 + h(model + tag + "u", 500) / 100,
            "uptime_last_1d": 97 + h(model + tag + "d", 300) / 100, "supports_implicit_caching": False,
            "latency_last_30m": {"p50": 150 + h(model + tag + "l", 2000), "p75": 2500, "p90": 3000, "p99": 6000} if metrics else None,
            "throughput_last_30m": {"p50": 10 + h(model + tag + "t", 3000) / 10, "p75": 9, "p90": 8, "p99": 5} if metrics else None})
    return json.dumps({"data": {"id": model, "name": model, "created": 1754000000, "description": "",
                                "architecture": {"modality": "text->text"}, "endpoints": out}}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path = self.path.split("?", 1)[0].rstrip("/")
        if path == "/api/v1/models":
            return self.reply(200, NEW)
        if path == "/old/api/v1/models":
            return self.reply(200, OLD)
        if path == "/api/v1/providers":
            return self.reply(200, PROVIDERS_BODY)
        if path.startswith("/api/v1/models/") and path.endswith("/endpoints"):
            return self.reply(200, endpoints(path[len("/api/v1/models/"):-len("/endpoints")]))
        return self.reply(404, b'{"error":{"code":404,"message":"Not Found"}}')

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


ThreadingHTTPServer.daemon_threads = True
srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
print(f"reads_server.py: {len(json.loads(NEW)['data'])} models (old: {len(json.loads(OLD)['data'])}) on 127.0.0.1:{args.port}", flush=True)
srv.serve_forever()
