#!/usr/bin/env python3
"""Loopback stand-in for the OpenRouter models endpoint (stdlib only).

Usage:
    serve.py FILE PORT [--page-size N] [--host 127.0.0.1] [--port-file PATH]
                       [--delay-ms N]

Routes:
    GET /api/v1/models   without --page-size: FILE's bytes, verbatim.
                         with --page-size N: {"data": [...], "links": {"next": URL|null}}
                         paged with ?offset=K&limit=N (limit is capped at N).
                         Other query parameters (e.g. output_modalities=all)
                         are ignored, and carried over into links.next.
                         With --delay-ms N every answer (each page) is sent
                         only after sleeping N milliseconds.
    GET /api/v1/models/{author}/{slug}/endpoints
                         one synthetic endpoint (provider "loopback", fixed
                         prices and metrics) for the model named in the path.
    GET /api/v1/providers
                         {"data": [{"name": "Loopback", "slug": "loopback"}]}
    GET /healthz         200 "ok"
    anything else        404 {"error":{"code":404,"message":"Not Found"}}

FILE is re-read on every request, so a test may rewrite it between syncs.
Only loopback addresses (127.0.0.0/8, ::1; "localhost" means 127.0.0.1) are
accepted for --host. With PORT 0 an ephemeral port is bound; --port-file PATH
receives the chosen port (written atomically) once the socket is listening.
SIGTERM and SIGINT stop the server and exit with status 0.
"""

import argparse
import ipaddress
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

MODELS_PATH = "/api/v1/models"
HEALTH_PATH = "/healthz"
PROVIDERS_PATH = "/api/v1/providers"


def error_body(code, message):
    return json.dumps({"error": {"code": code, "message": message}},
                      separators=(",", ":")).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def version_string(self):
        return "openrouter-registry-sample/1"

    # -- plumbing ---------------------------------------------------------
    def log_message(self, fmt, *args):  # quiet unless --verbose
        if self.server.verbose:
            sys.stderr.write("serve.py: %s - %s\n" % (self.address_string(), fmt % args))

    def send_body(self, status, body, content_type="application/json", head=False):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def send_error_json(self, status, message, head=False):
        self.send_body(status, error_body(status, message), head=head)

    # -- routes -----------------------------------------------------------
    def route(self, head=False):
        url = urlsplit(self.path)
        if url.path == HEALTH_PATH:
            return self.send_body(200, b"ok", "text/plain; charset=utf-8", head=head)
        if url.path == PROVIDERS_PATH:
            return self.send_body(200, json.dumps({"data": [{"name": "Loopback", "slug": "loopback"}]}).encode(), head=head)
        if url.path.startswith(MODELS_PATH + "/") and url.path.endswith("/endpoints"):
            return self.send_endpoints(url.path[len(MODELS_PATH) + 1:-len("/endpoints")], head)
        if url.path != MODELS_PATH:
            return self.send_error_json(404, "Not Found", head=head)
        if self.server.delay_ms:
            time.sleep(self.server.delay_ms / 1000.0)
        try:
            with open(self.server.file, "rb") as fh:
                raw = fh.read()
        except OSError as exc:
            sys.stderr.write("serve.py: cannot read %s: %s\n" % (self.server.file, exc))
            return self.send_error_json(500, "Internal Server Error", head=head)
        if self.server.page_size is None:
            return self.send_body(200, raw, head=head)
        return self.send_page(raw, url.query, head)

    def send_endpoints(self, model, head):
        endpoint = {"name": "Loopback | " + model, "provider_name": "Loopback", "tag": "loopback",
                    "context_length": 8192, "quantization": "fp8",
                    "pricing": {"prompt": "0.000001", "completion": "0.000002"},
                    "status": 0, "uptime_last_5m": 100, "uptime_last_30m": 99.5, "uptime_last_1d": 99.9,
                    "latency_last_30m": {"p50": 250, "p90": 400},
                    "throughput_last_30m": {"p50": 80, "p90": 60}}
        body = json.dumps({"data": {"id": model, "name": model, "endpoints": [endpoint]}}).encode()
        return self.send_body(200, body, head=head)

    def send_page(self, raw, query, head):
        params = parse_qsl(query, keep_blank_values=True)
        values = dict(params)
        try:
            offset = int(values.get("offset", "0"))
            limit = int(values.get("limit", str(self.server.page_size)))
            if offset < 0 or limit < 1:
                raise ValueError
        except ValueError:
            return self.send_error_json(400, "Bad Request", head=head)
        limit = min(limit, self.server.page_size)
        try:
            models = json.loads(raw)["data"]
            if not isinstance(models, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            sys.stderr.write("serve.py: %s has no \"data\" array\n" % self.server.file)
            return self.send_error_json(500, "Internal Server Error", head=head)
        page = models[offset:offset + limit]
        nxt = None
        if offset + limit < len(models):
            rest = [(k, v) for k, v in params if k not in ("offset", "limit")]
            q = urlencode([("offset", offset + limit), ("limit", limit)] + rest)
            nxt = "%s%s?%s" % (self.server.base_url, MODELS_PATH, q)
        body = json.dumps({"data": page, "links": {"next": nxt}},
                          ensure_ascii=False).encode("utf-8")
        return self.send_body(200, body, head=head)

    def do_GET(self):
        self.route()

    def do_HEAD(self):
        self.route(head=True)

    def not_allowed(self):
        # Drain any request body so the connection stays usable.
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        path = urlsplit(self.path).path
        if path in (MODELS_PATH, HEALTH_PATH):
            self.send_error_json(405, "Method Not Allowed")
        else:
            self.send_error_json(404, "Not Found")

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = not_allowed


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host, port, family):
        self.address_family = family
        super().__init__((host, port), Handler)


def loopback_host(value):
    if value == "localhost":
        value = "127.0.0.1"
    try:
        addr = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        raise argparse.ArgumentTypeError("%r is not an IP address" % value)
    if not addr.is_loopback:
        raise argparse.ArgumentTypeError(
            "%s is not a loopback address (only 127.0.0.0/8 or ::1)" % addr)
    return addr


def port_number(value):
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("port must be 0..65535")
    return port


def positive_int(value):
    n = int(value)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def non_negative_int(value):
    n = int(value)
    if n < 0:
        raise argparse.ArgumentTypeError("must be at least 0")
    return n


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as fh:
        fh.write("%d\n" % port)
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Serve a models.json file as a loopback stand-in for "
                    "OpenRouter's GET /api/v1/models.")
    ap.add_argument("file", help="JSON body to serve ({\"data\": [...]})")
    ap.add_argument("port", type=port_number, help="TCP port; 0 picks a free one")
    ap.add_argument("--page-size", type=positive_int, default=None,
                    help="serve pages of N models with links.next")
    ap.add_argument("--host", type=loopback_host, default=loopback_host("127.0.0.1"),
                    help="loopback address to bind (default 127.0.0.1)")
    ap.add_argument("--port-file", default=None,
                    help="write the bound port here once listening")
    ap.add_argument("--verbose", action="store_true", help="log each request to stderr")
    ap.add_argument("--delay-ms", type=non_negative_int, default=0,
                    help="sleep N ms before answering each %s request" % MODELS_PATH)
    args = ap.parse_args(argv)

    if not os.path.isfile(args.file):
        ap.error("no such file: %s" % args.file)

    host = str(args.host)
    family = socket.AF_INET6 if args.host.version == 6 else socket.AF_INET
    try:
        server = Server(host, args.port, family)
    except OSError as exc:
        print("serve.py: cannot bind %s port %d: %s" % (host, args.port, exc), file=sys.stderr)
        return 1
    port = server.server_address[1]
    server.file = os.path.abspath(args.file)
    server.page_size = args.page_size
    server.verbose = args.verbose
    server.delay_ms = args.delay_ms
    server.base_url = "http://%s:%d" % ("[%s]" % host if family == socket.AF_INET6 else host, port)

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return, so it must not run
        # on the main thread, which is the one inside serve_forever().
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.port_file:
        write_port_file(args.port_file, port)
    print("serve.py: serving %s on %s%s%s" % (
        args.file, server.base_url, MODELS_PATH,
        " (pages of %d)" % args.page_size if args.page_size else ""),
        file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
