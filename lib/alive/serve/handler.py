"""The routes of `alive serve` (serve.py's docstring lists them and the order of its checks):
one Handler per request, on the App every thread shares."""
import io
import sys
import time
from http.server import BaseHTTPRequestHandler

from alive.base import tokens
from alive.base.errors import UsageError
from alive.base.timeutil import utcnow
from alive.correct import queue
from alive.report import badges, html_kit, render_html, render_task, report
from alive.serve import pwa
from alive.serve.app import current_registry, forget_pending, page_etag, snapshot
from alive.serve.http_helpers import (MAX_BODY, REQUEST_DEADLINE_S, SOCKET_TIMEOUT_S, DeadlineReader, accepts_gzip,
                                      etag_matches, filtered, gzipped, host_allowed, is_loopback, query_value,
                                      wants_page)
from alive.serve.login import (BEARER, SESSION_MAX_AGE_S, form_field, login_page, may_trigger, same,
                               too_many_logins_page, who_is_asking)
from alive.write import ping

# The app's files say nothing about the fleet, and a browser fetches the manifest and its
# icons without credentials: open to anyone, like /healthz.
APP_FILES = {"/manifest.webmanifest": ("application/manifest+json", pwa.manifest),
             "/sw.js": ("text/javascript; charset=utf-8", lambda: pwa.SERVICE_WORKER),
             "/icon.svg": ("image/svg+xml", lambda: pwa.ICON_SVG),
             **{f"/icon-{n}.png": ("image/png", lambda n=n: pwa.icon_png(n)) for n in pwa.PNG_SIZES},
             **{f"/icon-maskable-{n}.png": ("image/png", lambda n=n: pwa.icon_png(n, maskable=True))
                for n in pwa.PNG_SIZES}}
OPEN_PATHS = {"/healthz", "/login", "/logout", *APP_FILES}
HTML = "text/html; charset=utf-8"
BASE_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
PAGE_CSP = (f"{BASE_CSP}; script-src '{html_kit.SCRIPT_HASH}'; connect-src 'self'; img-src 'self'; "
            f"manifest-src 'self'; worker-src 'self'")
WORKER_CSP = f"{BASE_CSP}; connect-src 'self'"     # the service worker fetches pages from here


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
