"""`alive serve [--bind ADDR] [--port N] [--poll DUR] [--allow-remote [--behind-proxy]]`: the live dashboard.

GET  /             the dashboard (render_html), rendered on request, cached at most CACHE_S;
                   ?tag=T shows the items tagged T; its script polls the page itself with
                   its ETag (304 while nothing changed); pages and JSON gzipped on request
GET  /status.json  check's JSON, with a weak ETag (If-None-Match: 304 while nothing changed)
GET  /task/<id>    the run log of one task: its last 50 runs, each with its output tail (live too)
GET  /badge.svg, /badge/<item>.svg   shields-style status badges (badges.py)
GET  /manifest.webmanifest, /sw.js, /icon.svg, /icon[-maskable]-{192,512}.png   the app (pwa.py)
GET  /healthz      "ok" (open to anyone: it says nothing else)
POST /trigger/<source>   queue a refresh (queue.enqueue), then 303 back to /
GET, POST /login   --allow-remote only: the token once, in a form, for an HttpOnly cookie;
                   LOGIN_FAILURES_ALLOWED wrong tokens per client, then one more every LOGIN_REFILL_S,
                   and LOGIN_FAILURES_OVERALL a minute from all clients (the client: the peer, or
                   with --behind-proxy the address a proxy on loopback names in X-Forwarded-For)
POST /logout       --allow-remote only: the cookie is forgotten and the saved pages with it
                   (Clear-Site-Data, and the service worker; 303 to /login)
GET, POST, HEAD /ping/<key>/<task>[/start|/fail|/log|/<exit status>], /ping/<uuid>[/...]
                   healthchecks-style pings (ping.py): authenticated by the ping key (or the
                   task's ping_uuid) in the URL alone

Safety, in the order a request meets it:
- the Host header must name a loopback host while serving loopback only (a DNS-rebinding
  page cannot read the CSRF token through a name of its own);
- with --allow-remote, every route but /healthz, /login and the pings needs credentials before
  anything else is looked at (so a stranger learns not even which source names exist):
  `Authorization: Bearer <token>` (scripts) or the login cookie (browsers: they cannot
  send a bearer). The cookie holds an HMAC of the token, never the token: a restart keeps
  a phone logged in, a new token logs every browser out. Without them: 401, and for the
  page a login form that shows nothing of the fleet;
- /trigger/<name>: the name is looked up in the registry and nothing else: an unknown
  name (`..`, `%2F`, anything) is 404 and never touches a path;
- a body over MAX_BODY is 413 before a byte of it is read;
- the trigger itself: a bearer, or the page's CSRF token (one per process, a hidden form
  field; with --allow-remote the cookie too); missing or wrong is 403, except for a browser
  (it asks for text/html) whose form came from an older page (the server restarted since):
  it is sent back to the page (303, nothing queued) with a notice saying so, never left on
  a dead-end text page. A request that sends Authorization is judged by it alone. Every
  comparison is hmac.compare_digest.
- Content-Security-Policy: the page may run its one inline script (by its hash, never
  'unsafe-inline'), fetch from this server and register its service worker; nothing else.
- the token never reaches the log (query strings are not logged, and the value is
  scrubbed from every line) nor the page.
Every read of a request waits at most SOCKET_TIMEOUT_S and the whole request (headers
and body) must arrive within REQUEST_DEADLINE_S, so a client that says nothing, or drips
a byte now and then, holds its own daemon thread for that long at most.
"""
import functools
import gzip
import hashlib
import hmac
import io
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

from alive import cliutil
from alive.base import paths, tokens
from alive.config import registry
from alive.write import ping
from alive.correct import queue
from alive.report import badges, html_kit, render_html, render_task, report
from alive.serve import pwa
from alive.base.errors import RuntimeFailure, UsageError
from alive.base.timeutil import utcnow

MAX_BODY = 16 * 1024
SOCKET_TIMEOUT_S = 10           # one read, or one write of the answer
REQUEST_DEADLINE_S = 10         # the whole request, headers and body
MIN_REMOTE_TOKEN_CHARS = 16     # the login form is open to the network: no guessable token
SESSION_MAX_AGE_S = 30 * 86400  # a phone stays logged in for a month
# Failed logins, per client, as a token bucket (healthchecks does the same for its password
# logins: hc/api/models.py TokenBucket.authorize_login_password, 20 a day per account): a
# person who mistypes has 10 tries at once and one more a minute; a guesser 1,440 a day.
LOGIN_FAILURES_ALLOWED = 10
LOGIN_REFILL_S = 60
LOGIN_CLIENTS_KEPT = 10_000     # the memory it takes is bounded, whoever sends
# And overall, whoever sends: a guesser with many addresses (or a proxy naming many) gets
# LOGIN_FAILURES_OVERALL wrong tokens a minute in all; then every login waits out that minute.
LOGIN_FAILURES_OVERALL = 100
LOGIN_OVERALL_WINDOW_S = 60
# The app's files say nothing about the fleet, and a browser fetches the manifest and its
# icons without credentials: open to anyone, like /healthz.
APP_FILES = {"/manifest.webmanifest": ("application/manifest+json", pwa.manifest),
             "/sw.js": ("text/javascript; charset=utf-8", lambda: pwa.SERVICE_WORKER),
             "/icon.svg": ("image/svg+xml", lambda: pwa.ICON_SVG),
             **{f"/icon-{n}.png": ("image/png", lambda n=n: pwa.icon_png(n)) for n in pwa.PNG_SIZES},
             **{f"/icon-maskable-{n}.png": ("image/png", lambda n=n: pwa.icon_png(n, maskable=True))
                for n in pwa.PNG_SIZES}}
OPEN_PATHS = {"/healthz", "/login", "/logout", *APP_FILES}
BEARER, COOKIE = "bearer", "cookie"
HTML = "text/html; charset=utf-8"
CACHE_S = 2.0
POLL_S = 15                     # the page's script asks /status.json this often (--poll)
KV_LIST_S = 30                  # http-kv: the pending keys are listed at most this often
BASE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
PAGE_CSP = (f"{BASE_CSP}; script-src '{html_kit.SCRIPT_HASH}'; connect-src 'self'; img-src 'self'; "
            f"manifest-src 'self'; worker-src 'self'")
WORKER_CSP = f"{BASE_CSP}; connect-src 'self'"     # the service worker fetches pages from here
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


@dataclass
class App:
    """What every request thread shares; `lock` guards the registry and the cache."""
    home: object
    config_path: object
    reg: object
    csrf: str
    token: str | None
    remote: bool                        # --allow-remote: credentials on every route, any Host
    session: str | None = None          # the login cookie's value (remote only)
    ping_key: str | None = None         # $serve.ping_key_env: pings are 404 without it
    cookie_name: str = "alive_session"
    config_mtime: float | None = None
    cache: tuple | None = None          # (monotonic time, {"view", "page", "status", "etag"})
    poll_s: int = POLL_S
    kv_pending: tuple | None = None     # http-kv: (monotonic time, ([request], problem))
    lock: threading.Lock = field(default_factory=threading.Lock)
    failed_logins: object = field(default_factory=lambda: FailedLogins())
    behind_proxy: bool = False          # --behind-proxy: X-Forwarded-For from loopback names the client


class FailedLogins:
    """Per client: a bucket of LOGIN_FAILURES_ALLOWED tries, each failure takes one, one
    comes back every LOGIN_REFILL_S; and LOGIN_FAILURES_OVERALL per LOGIN_OVERALL_WINDOW_S
    from all clients together. `now`: a monotonic time, given (tests pass their own)."""

    def __init__(self):
        self.buckets = {}               # client -> (tries left, as of when)
        self.window = (float("-inf"), 0)  # (when the minute began, failures in it), all clients
        self.lock = threading.Lock()

    def left(self, client, now):
        tries, since = self.buckets.get(client, (LOGIN_FAILURES_ALLOWED, now))
        return min(LOGIN_FAILURES_ALLOWED, tries + max(0.0, now - since) / LOGIN_REFILL_S)

    def wait_s(self, client, now):
        """0 when the client may try a token now, else the seconds until it may."""
        import math

        with self.lock:
            tries = self.left(client, now)
            began, failures = self.window
        overall = 0
        if failures >= LOGIN_FAILURES_OVERALL and now - began < LOGIN_OVERALL_WINDOW_S:
            overall = math.ceil(began + LOGIN_OVERALL_WINDOW_S - now - 1e-6)
        return max(overall, 0 if tries >= 1 else math.ceil((1 - tries) * LOGIN_REFILL_S - 1e-6))

    def failed(self, client, now):
        with self.lock:
            self.buckets[client] = (self.left(client, now) - 1, now)
            began, failures = self.window
            self.window = (began, failures + 1) if now - began < LOGIN_OVERALL_WINDOW_S else (now, 1)
            if len(self.buckets) > LOGIN_CLIENTS_KEPT:
                self.forget_some(now)

    def succeeded(self, client):
        with self.lock:
            self.buckets.pop(client, None)

    def forget_some(self, now):
        """The clients whose bucket is full again, then the oldest, down to the bound."""
        for client in [c for c in self.buckets if self.left(c, now) >= LOGIN_FAILURES_ALLOWED]:
            del self.buckets[client]
        while len(self.buckets) > LOGIN_CLIENTS_KEPT:
            del self.buckets[next(iter(self.buckets))]


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
    """The view, rendered page, status JSON and its ETag, at most CACHE_S old (one render at a time)."""
    with app.lock:
        reg = current_registry(app)
        if app.cache and not fresh and time.monotonic() - app.cache[0] < CACHE_S:
            return app.cache[1]
        view = report.build_view(app.home, reg, utcnow(), pending=pending_of(app, reg))
        etag = status_etag(view, app.csrf)
        home_etag = page_etag(etag, "/")
        page = render_html.render(view, csrf=app.csrf, live=render_html.Live(app.poll_s, home_etag, app.remote))
        status = json.dumps(view.result.to_json(), indent=2, ensure_ascii=False) + "\n"
        out = {"view": view, "etag": etag, "page_etag": home_etag, "page": tokens.scrub(page).encode("utf-8"),
               "status": tokens.scrub(status).encode("utf-8")}
        app.cache = (time.monotonic(), out)
        return out


def pending_of(app, reg):
    """The queue for the page: the spool is read every time (a folder listing); an http-kv
    store is listed at most every KV_LIST_S (a listing is a billed API call), and at once
    after this server queued a request (see forget_pending)."""
    if reg.triggers.backend != "http-kv":
        return None
    if app.kv_pending is None or time.monotonic() - app.kv_pending[0] >= KV_LIST_S:
        app.kv_pending = (time.monotonic(), queue.pending_requests(app.home, reg))
    return app.kv_pending[1]


def forget_pending(app):
    with app.lock:
        app.cache = None
        app.kv_pending = None


def status_etag(view, instance):
    """A weak ETag of /status.json: what the page shows, less the clock (checked_at and the
    ages move every second; the page's script moves its ages itself). It covers the trigger
    runner and the queue too, which check's JSON does not hold, and this server's instance
    (its CSRF token, hashed): a restarted server gives the page its new forms."""
    doc = view.result.to_json()
    doc.pop("checked_at", None)
    for item in doc["items"]:
        item.pop("age_s", None)
    doc["_page"] = {"pending": {k: [r["ref"] for r in v] for k, v in view.pending.items()},
                    "running": view.running, "results": view.results, "problem": view.pending_problem,
                    "refused": [(r["at"], r["channel"]) for r in view.refused],
                    "instance": hashlib.sha256(instance.encode()).hexdigest()}
    digest = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode("utf-8")).hexdigest()
    return f'W/"{digest[:32]}"'


def page_etag(fleet_etag, path, tag=None):
    """A page's ETag: the fleet's (status_etag) for this page, its path and its tag filter
    (a ?notice= says something once, and is the same page). The page's script asks its own
    URL with it: a 304 while nothing changed, the page when something did."""
    digest = hashlib.sha256(f"{fleet_etag} {path} {tag or ''}".encode("utf-8")).hexdigest()
    return f'W/"{digest[:32]}"'


def accepts_gzip(header):
    """Accept-Encoding (RFC 9110 12.5.3): gzip (or x-gzip, or else *) with a q-value above 0."""
    q = {}
    for part in (header or "").split(","):
        coding, _, params = part.strip().partition(";")
        weight = params.strip().lower().removeprefix("q=") if params.strip() else "1"
        try:
            q[coding.strip().lower()] = float(weight)
        except ValueError:
            q[coding.strip().lower()] = 0.0
    return q.get("gzip", q.get("x-gzip", q.get("*", 0.0))) > 0


@functools.lru_cache(maxsize=8)
def gzipped(data):
    """The snapshot's page is the same bytes for every client within CACHE_S: compressed once."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def etag_matches(header, etag):
    """If-None-Match (weak comparison, RFC 9110 13.1.2): any listed tag, W/ or not, or *."""
    if header is None:
        return False
    bare = etag.removeprefix("W/")
    return any(tag.strip() == "*" or tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def same(given, expected):
    """Constant time, whatever `given` holds."""
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def session_value(token):
    """What the login cookie holds: derived from the token, never the token itself."""
    return hmac.new(token.encode("utf-8"), b"alive serve login cookie v1", hashlib.sha256).hexdigest()


def cookie_values(headers, name):
    for header in headers.get_all("Cookie") or []:
        for pair in header.split(";"):
            key, sep, value = pair.strip().partition("=")
            if sep and key == name:
                yield value


def who_is_asking(app, headers):
    """BEARER, COOKIE or None. A request that sends Authorization is judged by it alone."""
    auth = headers.get("Authorization")
    if auth is not None:
        scheme, _, given = auth.partition(" ")
        right = bool(app.token) and scheme.lower() == "bearer" and same(given.strip(), app.token)
        return BEARER if right else None
    if app.session and any(same(value, app.session) for value in cookie_values(headers, app.cookie_name)):
        return COOKIE
    return None


def form_field(body, name):
    from urllib.parse import parse_qs

    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    except ValueError:
        return ""
    return fields.get(name, [""])[0]


def may_trigger(app, who, headers, body):
    """A bearer alone; else the page's CSRF token in the form (a wrong bearer is not rescued
    by a form). With --allow-remote a form reaches here only with the login cookie."""
    if who == BEARER:
        return True
    if headers.get("Authorization") is not None:
        return False
    given = form_field(body, "csrf")
    return bool(given) and same(given, app.csrf)


def host_allowed(app, host_header):
    if app.remote or host_header is None:
        return True
    host = host_header.strip().lower()
    if host.startswith("["):                    # [::1]:8765
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host in LOOPBACK_NAMES


class DeadlineReader(io.RawIOBase):
    """A request's bytes under one deadline for the whole request: each read waits at most
    what is left of it, so a client that drips a byte every 2 s, never letting a single
    read time out, is cut off at the deadline all the same."""

    def __init__(self, sock):
        self.sock = sock
        self.deadline = time.monotonic() + REQUEST_DEADLINE_S

    def readable(self):
        return True

    def readinto(self, buffer):
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the request took longer than {REQUEST_DEADLINE_S} s")
        self.sock.settimeout(min(SOCKET_TIMEOUT_S, left))
        return self.sock.recv_into(buffer)


class Handler(BaseHTTPRequestHandler):
    server_version = "alive"
    sys_version = ""
    timeout = SOCKET_TIMEOUT_S          # StreamRequestHandler sets it on the socket
    app = None                          # set on the subclass made by make_server
    who = None                          # BEARER, COOKIE or None, once the headers are read

    def setup(self):
        super().setup()
        self.rfile.close()              # the stock reader, replaced by one under the deadline
        self.reader = DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self.reader)

    def handle_one_request(self):
        self.reader.deadline = time.monotonic() + REQUEST_DEADLINE_S    # each request its own
        super().handle_one_request()

    def version_string(self):
        return self.server_version          # the stock one adds " " + sys_version, a trailing space here

    def end_headers(self):
        # the answer is written under its own timeout, not what is left of the request's deadline
        self.connection.settimeout(self.timeout)
        super().end_headers()

    def do_GET(self):
        self.guarded(self.get)

    def do_HEAD(self):
        self.guarded(self.get)

    def do_POST(self):
        self.guarded(self.post)

    def guarded(self, handle):
        path = self.path.partition("?")[0]
        try:
            if not all(host_allowed(self.app, h) for h in self.headers.get_all("Host") or [None]):
                return self.reply(403, "unexpected Host header: use http://127.0.0.1:PORT/\n")
            self.who = who_is_asking(self.app, self.headers)
            if self.app.remote and self.who is None and path not in OPEN_PATHS and not ping.is_ping(path):
                return self.refuse_stranger(path)
            handle(path)
        except TimeoutError as exc:             # the body did not come in time (headers: the stdlib says so)
            self.log_message("request timed out, connection closed: %s", exc)
            self.close_connection = True
        except ConnectionError:
            self.close_connection = True
        except Exception as exc:  # one line in the log, never a traceback to the client
            print(self.scrub(f"alive serve: {self.command} {path[:200]!r} failed: {type(exc).__name__}: {exc}"),
                  file=sys.stderr, flush=True)
            self.reply(500, "internal error (see the server's log)\n")

    def refuse_stranger(self, path):
        challenge = [("WWW-Authenticate", 'Bearer realm="alive"')]
        if self.command == "POST" and path.startswith("/trigger/") and wants_page(self.headers):
            return self.see_other("/?notice=login")     # a browser whose login expired: the login form, said why
        if path == "/" and self.command in ("GET", "HEAD"):
            notice = "Your login expired: log in again." if query_value(self.path, "notice") == "login" else None
            return self.reply(401, login_page(self.app, notice), HTML, challenge)
        self.reply(401, "log in at /login, or send Authorization: Bearer <token>\n", extra=challenge)

    def get(self, path):
        if ping.is_ping(path):
            return self.ping()
        if path == "/healthz":
            return self.reply(200, "ok\n")
        if path in APP_FILES:
            kind, make = APP_FILES[path]
            csp = WORKER_CSP if path == "/sw.js" else BASE_CSP
            return self.reply(200, make(), kind, csp=csp, cache="no-cache")
        if path == "/":
            return self.page()
        if path == "/status.json":
            snap = snapshot(self.app)
            extra = [("ETag", snap["etag"])]
            if etag_matches(self.headers.get("If-None-Match"), snap["etag"]):
                return self.reply(304, b"", extra=extra, cache="no-cache")
            return self.reply(200, snap["status"], "application/json", extra=extra, cache="no-cache", compress=True)
        if path.startswith("/task/"):
            return self.task_log(path[len("/task/"):])
        if path == "/badge.svg" or path.startswith("/badge/"):
            return self.badge(path)
        if path == "/login" and self.app.remote:
            return self.reply(200, login_page(self.app), HTML)
        if path == "/logout" and self.app.remote:
            return self.reply(405, "log out with POST /logout\n", extra=[("Allow", "POST")])
        self.reply(404, "not found\n")

    def page(self):
        """/ (the cached render), or a render of the cached view for ?tag= and ?notice=;
        304 when the script asks with the ETag it has and nothing changed."""
        snap = snapshot(self.app)
        tag, notice = query_value(self.path, "tag"), query_value(self.path, "notice")
        etag = snap["page_etag"] if tag is None else page_etag(snap["etag"], "/", tag)
        if etag_matches(self.headers.get("If-None-Match"), etag):
            return self.reply(304, b"", extra=[("ETag", etag)])
        if tag is None and notice is None:
            return self.reply(200, snap["page"], HTML, extra=[("ETag", etag)], csp=PAGE_CSP, compress=True)
        live = render_html.Live(self.app.poll_s, etag, self.app.remote)
        text = render_html.render(snap["view"], csrf=self.app.csrf, live=live, tag=tag, notice=notice)
        self.reply(200, tokens.scrub(text), HTML, extra=[("ETag", etag)], csp=PAGE_CSP, compress=True)

    def task_log(self, name):
        snap = snapshot(self.app)
        if not any(i.kind == "task" and i.name == name for i in snap["view"].result.items):
            return self.reply(404, "unknown task\n")   # a name is looked up, never used as a path
        etag = page_etag(snap["etag"], f"/task/{name}")
        if etag_matches(self.headers.get("If-None-Match"), etag):
            return self.reply(304, b"", extra=[("ETag", etag)])
        with self.app.lock:
            reg = current_registry(self.app)
        found = report.task_log(self.app.home, reg, name, utcnow())
        if found is None:
            return self.reply(404, "unknown task\n")
        item, runs = found
        page = render_task.task_page(name, item, runs, utcnow(), live=render_html.Live(self.app.poll_s, etag),
                                     log_events=ping.log_events(self.app.home, name))
        self.reply(200, tokens.scrub(page), HTML, extra=[("ETag", etag)], csp=PAGE_CSP, compress=True)

    def badge(self, path):
        result = snapshot(self.app)["view"].result
        if path == "/badge.svg":
            return self.reply(200, badges.svg("alive", result.overall), "image/svg+xml", cache="no-cache")
        item = badges.find(result, path[len("/badge/"):])
        if item is None:
            return self.reply(404, "unknown item\n")
        self.reply(200, tokens.scrub(badges.svg(item.name, item.color)), "image/svg+xml", cache="no-cache")

    def post(self, path):
        if ping.is_ping(path):
            return self.ping()
        if path == "/login" and self.app.remote:
            return self.log_in()
        if path == "/logout" and self.app.remote:
            return self.log_out()
        prefix = "/trigger/"
        if not path.startswith(prefix):
            return self.reply(404, "not found\n")
        name = path[len(prefix):]
        with self.app.lock:
            known = name in current_registry(self.app).sources
            reg = self.app.reg
        if not known:                               # never a path: the registry is asked, nothing else
            return self.reply(404, "unknown source\n")
        body = self.read_body()
        if body is None:
            return None
        back = filtered(form_field(body, "tag"))   # a filtered page's form: back to the same filter
        if not may_trigger(self.app, self.who, self.headers, body):
            if self.headers.get("Authorization") is None and wants_page(self.headers):
                self.log_message("refused a trigger of %s: a form of an older page", name)
                return self.see_other(f"/?notice=stale{back.replace('?', '&')}#trigger-{name}")
            return self.reply(403, "missing or wrong token (reload the page, or send Authorization: Bearer)\n")
        how = "bearer" if self.who == BEARER else "form"
        try:
            path_written = queue.enqueue(self.app.home, reg, name, f"serve/{how}", utcnow())
        except (OSError, UsageError) as exc:  # an unwritable spool, a KV server down, its token unset
            print(f"alive serve: cannot queue a trigger: {exc}", file=sys.stderr, flush=True)
            return self.reply(503, "cannot reach the trigger queue (see the server's log)\n")
        forget_pending(self.app)                    # the next page shows the queued refresh
        self.log_message("queued %s", path_written.name)
        self.see_other(f"/{back}#trigger-{name}")

    def ping(self):
        with self.app.lock:
            reg = current_registry(self.app)
        if ping.answer(self, reg, utcnow()) is not None:
            with self.app.lock:
                self.app.cache = None               # the next page shows the run

    def log_in(self):
        body = self.read_body()
        if body is None:
            return None
        client, limit = self.client(), self.app.failed_logins
        wait = limit.wait_s(client, time.monotonic())
        if wait:                            # the token is not even compared: a guesser learns nothing
            self.log_message("login refused: too many wrong tokens, %d s to wait", wait)
            return self.reply(429, too_many_logins_page(wait), HTML, extra=[("Retry-After", str(wait))])
        # a pasted token often brings a space or a newline along; the token itself has none
        if not same(form_field(body, "token").strip(), self.app.token):
            limit.failed(client, time.monotonic())
            self.log_message("login refused")
            return self.reply(403, login_page(self.app, "That is the wrong token."), HTML)
        limit.succeeded(client)
        self.log_message("logged in")
        # Lax, not Strict: the Click link of a notification opens the page from another
        # site, and Strict would show the login form there. No cross-site POST carries a
        # Lax cookie, and a trigger also needs the page's CSRF token.
        secure = "; Secure" if self.headers.get("X-Forwarded-Proto", "").strip().lower() == "https" else ""
        self.see_other("/", cookie=f"{self.app.cookie_name}={self.app.session}; Max-Age={SESSION_MAX_AGE_S}; "
                                   f"Path=/; HttpOnly; SameSite=Lax{secure}")

    def log_out(self):
        """The cookie is forgotten by this browser. It is derived from the token: a copy taken
        elsewhere stays good until the token changes (README says so)."""
        if self.read_body() is None:
            return None
        self.log_message("logged out")
        # The saved pages go too (pwa.py's service worker keeps the last one for offline):
        # browsers honour this only from a potentially trustworthy URL (https, http on
        # loopback: https://w3c.github.io/webappsec-clear-site-data/#header), where alone a
        # service worker runs; the worker itself also deletes them when it sees POST /logout.
        self.see_other("/login", cookie=f"{self.app.cookie_name}=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax",
                       extra=[("Clear-Site-Data", '"cache", "storage"')])

    def client(self):
        """Who is asking, for the login limit: the peer, or with --behind-proxy, behind a proxy
        on this machine, the address the proxy put last in X-Forwarded-For (what a client sends
        comes before it). Without the flag any local process could name a new client each try."""
        peer = self.client_address[0]
        forwarded = self.headers.get("X-Forwarded-For")
        if forwarded and self.app.behind_proxy and is_loopback(peer):
            return forwarded.rsplit(",", 1)[-1].strip()[:64] or peer
        return peer

    def read_body(self, limit=MAX_BODY):
        """The request's body, or None when it was refused (the answer already sent)."""
        length = self.headers.get("Content-Length")
        if length is None and self.headers.get("Transfer-Encoding"):
            return self.reply(411, "send a Content-Length\n")
        try:
            length = int(length or 0)
        except ValueError:
            length = -1
        if length < 0:
            return self.reply(400, "bad Content-Length\n")
        if length > limit:
            return self.reply(413, f"request body over {limit} bytes\n")
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            return self.reply(400, "request body cut short\n")
        return body

    def see_other(self, location, cookie=None, extra=()):
        self.send_response(303)
        self.send_header("Location", location)
        if cookie:
            self.send_header("Set-Cookie", cookie)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()

    def reply(self, code, body, content_type="text/plain; charset=utf-8", extra=(), csp=BASE_CSP, cache="no-store",
              compress=False):
        """compress: gzip the body when the client takes it (pages and JSON: the 1.17 MB page
        of 300 tasks goes as 71 KB)."""
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        if compress:
            extra = [*extra, ("Vary", "Accept-Encoding")]
            if len(data) >= 512 and accepts_gzip(self.headers.get("Accept-Encoding")):
                data = gzipped(data)
                extra.append(("Content-Encoding", "gzip"))
        self.send_response(code)
        for key, value in extra:
            self.send_header(key, value)
        if code != 304:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")       # no clickjacking of the buttons
        self.send_header("Content-Security-Policy", csp)
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        if self.command != "HEAD" and code != 304:
            self.wfile.write(data)

    def log_request(self, code="-", size="-"):
        # the request line without its query, and a ping's key replaced: no secret in the log
        parts = getattr(self, "requestline", "").split(" ")
        if len(parts) == 3:            # METHOD TARGET VERSION: the version stays
            parts[1] = parts[1].partition("?")[0]
        line = ping.loggable(" ".join(parts).partition("?")[0])
        self.log_message("%s %s", line[:200], code)

    def log_message(self, fmt, *args):
        print(self.scrub(f"alive serve: {self.client_address[0]} {fmt % args}"), file=sys.stderr, flush=True)

    def scrub(self, text):
        """The token, every ping path's key or UUID, and every secret alive knows out of a log
        line, wherever a client put them (a request line http.server cannot parse is logged whole)."""
        text = ping.loggable(text)
        for secret, shown in ((self.app.token, "[token]"), (self.app.ping_key, "[key]")):
            text = text.replace(secret, shown) if secret else text
        return tokens.scrub(text)


def wants_page(headers):
    """A browser's navigation (a form it submits) asks for text/html; curl and scripts do not."""
    return "text/html" in (headers.get("Accept") or "") or headers.get("Sec-Fetch-Mode") == "navigate"


def filtered(tag):
    """'?tag=<tag>' for the way back to a filtered page ('' for none); the tag quoted whole."""
    from urllib.parse import quote

    return f"?tag={quote(tag[:100], safe='')}" if tag else ""


def query_value(target, name):
    """The value of ?name= in a request target, or None (at most one, at most 100 characters)."""
    from urllib.parse import parse_qs

    values = parse_qs(target.partition("?")[2], max_num_fields=10).get(name) if "?" in target else None
    return values[0][:100] if values else None


def login_page(app, problem=None):
    """The one page a stranger gets with --allow-remote: a form for the token, nothing of the fleet."""
    esc = html_kit.esc
    note = f'<p class="problem">{esc(problem)}</p>\n' if problem else ""
    where = f" (the value of ${esc(app.reg.serve.token_env)})" if app.reg.serve.token_env else ""
    return html_kit.page_start("alive · log in", LOGIN_CSS) + f"""
<h1>alive</h1>
<p>This dashboard needs the serve token{where}. You log in once per browser.</p>
{note}<form method="post" action="/login">
<input type="hidden" name="user" value="alive" autocomplete="username">
<label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<button type="submit">Log in</button>
</form>
</body>
</html>
"""


def too_many_logins_page(wait):
    return html_kit.page_start("alive · log in", LOGIN_CSS) + f"""
<h1>alive</h1>
<p class="problem" role="alert">Too many wrong tokens: try again in {wait} s.</p>
<p><a href="/login">Back to the login form</a></p>
</body>
</html>
"""


LOGIN_CSS = """body{font:16px/1.45 system-ui,sans-serif;max-width:420px;margin:12vh auto;padding:0 16px}
input,button{font:inherit;width:100%;padding:10px;margin-top:8px;box-sizing:border-box}
button{font-weight:700;color:#fff;background:#0969da;border:0;border-radius:8px}.problem{color:#cf222e}"""


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's backlog is 5: when every host's cron pings at :00, connections past it
    # wait for SYN retries (1 s, 3 s, 7 s ...) and time out. The kernel caps it at somaxconn.
    request_queue_size = 1024

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
    p.add_argument("--poll", type=cliutil.duration_arg, default=POLL_S,
                   help=f"how often the page asks for news (default {POLL_S}s; at least 1s)")
    p.add_argument("--allow-remote", action="store_true",
                   help="serve other machines: a non-loopback --bind, or loopback behind a proxy; every page "
                        "then needs the token (serve.token_env, at least 16 characters)")
    p.add_argument("--behind-proxy", action="store_true",
                   help="with --allow-remote: a reverse proxy on this machine names the client in "
                        "X-Forwarded-For (for the limit on wrong logins); without it the header is ignored")
    return p


def main(argv):
    from alive.cliutil import load

    args = build_parser().parse_args(argv)
    home, reg = load(args)
    bind = args.bind if args.bind is not None else reg.serve.bind
    port = args.port if args.port is not None else reg.serve.port
    if not 0 <= port <= 65535:
        raise UsageError(f"--port {port} is out of range (0 to 65535)")
    if args.poll < 1:
        raise UsageError("--poll must be at least 1s")
    # A blank or space-only value is no token (as for ntfy and http-kv): it must not let
    # --allow-remote listen, and a bearer could never match it anyway.
    token = (os.environ.get(reg.serve.token_env) or "").strip() if reg.serve.token_env else None
    if not is_loopback(bind) and not args.allow_remote:
        raise UsageError(f"refusing to listen on {bind!r}: not a loopback address "
                         f"(pass --allow-remote, with a token configured, to serve other machines)")
    # --allow-remote on loopback too: behind a reverse proxy every client is remote
    remote = args.allow_remote
    if args.behind_proxy and not remote:
        raise UsageError("--behind-proxy needs --allow-remote (without it nobody logs in)")
    if remote:
        if not token:
            where = (f"${reg.serve.token_env} is empty" if reg.serve.token_env
                     else "serve.token_env is not set in fleet.toml")
            raise UsageError(f"--allow-remote needs a token and {where}")
        if len(token) < MIN_REMOTE_TOKEN_CHARS:
            raise UsageError(f"--allow-remote needs a token of at least {MIN_REMOTE_TOKEN_CHARS} characters in "
                             f"${reg.serve.token_env} (make one: python3 -c 'import secrets; "
                             f"print(secrets.token_urlsafe(32))')")
    ping_key = (os.environ.get(reg.serve.ping_key_env) or "").strip()
    problem = ping.key_problem(ping_key, reg.serve.ping_key_env, remote) if ping_key else None
    if problem:
        raise UsageError(problem)
    config_path = paths.resolve_config(home, args.config)
    app = App(home, config_path, reg, secrets.token_urlsafe(32), token or None, remote,
              session_value(token) if remote else None, ping_key or None, poll_s=int(args.poll),
              behind_proxy=args.behind_proxy)
    try:
        app.config_mtime = os.stat(config_path).st_mtime
    except OSError:
        app.config_mtime = None
    server = make_server(app, bind, port)
    host, real_port = server.server_address[:2]
    app.cookie_name = f"alive_session_{real_port}"     # cookies ignore ports: one name per server
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.25}, daemon=True)
    thread.start()
    shown = f"[{host}]" if ":" in host else host
    how = "every page needs the token: log in at /login or send Authorization: Bearer; " if remote else ""
    print(f"alive serve: http://{shown}:{real_port}/ ({how}Ctrl-C stops it)", flush=True)
    print(f"alive serve: pings at /ping/${reg.serve.ping_key_env}/<task> (healthchecks' ping API)" if ping_key else
          f"alive serve: pings are off (set {reg.serve.ping_key_env} to take healthchecks-style pings)", flush=True)
    while not stop.wait(0.5):               # runs until SIGTERM or SIGINT
        pass
    server.shutdown()
    server.server_close()
    print("alive serve: stopped", flush=True)
    return 0
