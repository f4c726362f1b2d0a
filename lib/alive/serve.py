"""`alive serve [--bind ADDR] [--port N] [--allow-remote]`: the live dashboard.

GET  /             the dashboard (render_html), rendered on request, cached at most CACHE_S
GET  /status.json  check's JSON
GET  /healthz      "ok"
POST /trigger/<source>   queue a refresh (queue.enqueue), then 303 back to /

Safety, in the order a request meets it:
- the Host header must name a loopback host while bound to loopback (a DNS-rebinding
  page cannot read the CSRF token through a name of its own);
- /trigger/<name>: the name is looked up in the registry and nothing else: an unknown
  name (`..`, `%2F`, anything) is 404 before any token check and never touches a path;
- a body over MAX_BODY is 413 before a byte of it is read;
- the token: the page's CSRF token (one per process, a hidden form field) or
  `Authorization: Bearer <token>` from the env var named by serve.token_env; compared with
  hmac.compare_digest; missing or wrong is 403.
Every connection has a SOCKET_TIMEOUT_S timeout and its own daemon thread, so a client
that connects and says nothing blocks only itself, and only for that long.
"""
import hmac
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from . import cliutil, paths, queue, registry, render_html, report, tokens
from .errors import RuntimeFailure, UsageError
from .timeutil import utcnow

MAX_BODY = 16 * 1024
SOCKET_TIMEOUT_S = 10
CACHE_S = 2.0
REFRESH_S = 30                  # the page reloads itself (a <meta refresh>, no script)
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


@dataclass
class App:
    """What every request thread shares; `lock` guards the registry and the cache."""
    home: object
    config_path: object
    reg: object
    csrf: str
    token: str | None
    check_host: bool
    config_mtime: float | None = None
    cache: tuple | None = None          # (monotonic time, {"page": bytes, "status": bytes})
    lock: threading.Lock = field(default_factory=threading.Lock)


def current_registry(app):
    """The registry, re-read when fleet.toml changed (a broken edit keeps the last good one)."""
    try:
        mtime = os.stat(app.config_path).st_mtime
    except OSError:
        mtime = None
    if mtime != app.config_mtime:
        try:
            app.reg = registry.load(app.config_path, app.home)
        except UsageError as exc:
            print(f"alive serve: fleet.toml changed but is broken, keeping the last good one: "
                  f"{str(exc).splitlines()[0]}", file=sys.stderr, flush=True)
        app.config_mtime = mtime
        app.cache = None
    return app.reg


def snapshot(app, fresh=False):
    """The rendered page and status JSON, at most CACHE_S old (one render at a time)."""
    with app.lock:
        reg = current_registry(app)
        if app.cache and not fresh and time.monotonic() - app.cache[0] < CACHE_S:
            return app.cache[1]
        view = report.build_view(app.home, reg, utcnow())
        page = render_html.render(view, csrf=app.csrf, refresh_s=REFRESH_S)
        status = json.dumps(view.result.to_json(), indent=2, ensure_ascii=False) + "\n"
        out = {"page": tokens.scrub(page).encode("utf-8"), "status": tokens.scrub(status).encode("utf-8")}
        app.cache = (time.monotonic(), out)
        return out


def authorized(app, headers, body):
    """A bearer token (when one is configured) or the page's CSRF token in the form."""
    auth = headers.get("Authorization")
    if auth is not None:
        scheme, _, given = auth.partition(" ")
        return bool(app.token) and scheme.lower() == "bearer" and \
            hmac.compare_digest(given.strip().encode("utf-8", "replace"), app.token.encode("utf-8"))
    from urllib.parse import parse_qs

    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    except ValueError:
        return False
    given = fields.get("csrf", [""])[0]
    return bool(given) and hmac.compare_digest(given.encode("utf-8", "replace"), app.csrf.encode("utf-8"))


def host_allowed(app, host_header):
    if not app.check_host or host_header is None:
        return True
    host = host_header.strip().lower()
    if host.startswith("["):                    # [::1]:8765
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host in LOOPBACK_NAMES


class Handler(BaseHTTPRequestHandler):
    server_version = "alive"
    sys_version = ""
    timeout = SOCKET_TIMEOUT_S          # StreamRequestHandler sets it on the socket
    app = None                          # set on the subclass made by make_server

    def do_GET(self):
        self.guarded(self.get)

    def do_HEAD(self):
        self.guarded(self.get)

    def do_POST(self):
        self.guarded(self.post)

    def guarded(self, handle):
        try:
            if not all(host_allowed(self.app, h) for h in self.headers.get_all("Host") or [None]):
                return self.reply(403, "unexpected Host header: use http://127.0.0.1:PORT/\n")
            handle(self.path.partition("?")[0])
        except (TimeoutError, ConnectionError):
            self.close_connection = True
        except Exception as exc:  # one line in the log, never a traceback to the client
            print(f"alive serve: {self.command} {self.path[:200]!r} failed: {type(exc).__name__}: {exc}",
                  file=sys.stderr, flush=True)
            self.reply(500, "internal error (see the server's log)\n")

    def get(self, path):
        if path == "/healthz":
            return self.reply(200, "ok\n")
        if path == "/":
            return self.reply(200, snapshot(self.app)["page"], "text/html; charset=utf-8")
        if path == "/status.json":
            return self.reply(200, snapshot(self.app)["status"], "application/json")
        self.reply(404, "not found\n")

    def post(self, path):
        prefix = "/trigger/"
        if not path.startswith(prefix):
            return self.reply(404, "not found\n")
        name = path[len(prefix):]
        with self.app.lock:
            known = name in current_registry(self.app).sources
            reg = self.app.reg
        if not known:                               # before any token check (DESIGN §9)
            return self.reply(404, "unknown source\n")
        length = self.headers.get("Content-Length")
        if length is None and self.headers.get("Transfer-Encoding"):
            return self.reply(411, "send a Content-Length\n")
        try:
            length = int(length or 0)
        except ValueError:
            length = -1
        if length < 0:
            return self.reply(400, "bad Content-Length\n")
        if length > MAX_BODY:
            return self.reply(413, f"request body over {MAX_BODY} bytes\n")
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            return self.reply(400, "request body cut short\n")
        if not authorized(self.app, self.headers, body):
            return self.reply(403, "missing or wrong token (reload the page, or send Authorization: Bearer)\n")
        how = "bearer" if self.headers.get("Authorization") else "form"
        try:
            path_written = queue.enqueue(self.app.home, reg, name, f"serve/{how}", utcnow())
        except (OSError, UsageError) as exc:  # an unwritable spool, a KV server down, its token unset
            print(f"alive serve: cannot queue a trigger: {exc}", file=sys.stderr, flush=True)
            return self.reply(503, "cannot reach the trigger queue (see the server's log)\n")
        with self.app.lock:
            self.app.cache = None                   # the next page shows the queued refresh
        self.log_message("queued %s", path_written.name)
        self.send_response(303)
        self.send_header("Location", "/#source-" + name)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def reply(self, code, body, content_type="text/plain; charset=utf-8"):
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")       # no clickjacking of the buttons
        self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; "
                                                    "form-action 'self'; frame-ancestors 'none'")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, fmt, *args):
        print(f"alive serve: {self.client_address[0]} {fmt % args}", file=sys.stderr, flush=True)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        print(f"alive serve: connection from {client_address[0]} failed: {type(exc).__name__}: {exc}",
              file=sys.stderr, flush=True)


class Server6(Server):
    address_family = socket.AF_INET6


def is_loopback(bind):
    import ipaddress

    if bind.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind.strip("[]")).is_loopback
    except ValueError:
        return False


def make_server(app, bind, port):
    handler = type("AliveHandler", (Handler,), {"app": app})
    cls = Server6 if ":" in bind else Server
    try:
        return cls((bind.strip("[]"), port), handler)
    except OSError as exc:
        raise RuntimeFailure(f"cannot listen on {bind}:{port}: {exc.strerror or exc}") from None


def build_parser():
    p = cliutil.parser("serve", "The live dashboard, with a \"Trigger now\" button per source.")
    p.add_argument("--bind", help="address to listen on (default: serve.bind, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: serve.port, 8765; 0 picks a free one)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a non-loopback --bind (needs a token: serve.token_env, the variable set)")
    return p


def main(argv):
    from .cmd_check import load

    args = build_parser().parse_args(argv)
    home, reg = load(args)
    bind = args.bind if args.bind is not None else reg.serve.bind
    port = args.port if args.port is not None else reg.serve.port
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is out of range (0 to 65535)")
    # A blank or space-only value is no token (as for ntfy and http-kv): it must not let
    # --allow-remote listen, and a bearer could never match it anyway.
    token = (os.environ.get(reg.serve.token_env) or "").strip() if reg.serve.token_env else None
    loopback = is_loopback(bind)
    if not loopback:
        if not args.allow_remote:
            raise UsageError(f"refusing to listen on {bind!r}: not a loopback address "
                             f"(pass --allow-remote, with a token configured, to serve other machines)")
        if not token:
            where = (f"${reg.serve.token_env} is empty" if reg.serve.token_env
                     else "serve.token_env is not set in fleet.toml")
            raise UsageError(f"--allow-remote needs a token and {where}")
    config_path = paths.resolve_config(home, args.config)
    app = App(home, config_path, reg, secrets.token_urlsafe(32), token or None, check_host=loopback)
    try:
        app.config_mtime = os.stat(config_path).st_mtime
    except OSError:
        app.config_mtime = None
    server = make_server(app, bind, port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.25}, daemon=True)
    thread.start()
    host, real_port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"alive serve: http://{shown}:{real_port}/ (Ctrl-C stops it)", flush=True)
    while not stop.wait(0.5):               # runs until SIGTERM or SIGINT
        pass
    server.shutdown()
    server.server_close()
    print("alive serve: stopped", flush=True)
    return 0
