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
import os
import secrets
import signal
import socket
import sys
import threading
from http.server import ThreadingHTTPServer

from alive import cliutil
from alive.base import paths
from alive.base.errors import RuntimeFailure, UsageError
from alive.serve.app import POLL_S, App
from alive.serve.handler import Handler
from alive.serve.http_helpers import is_loopback
from alive.serve.login import MIN_REMOTE_TOKEN_CHARS, session_value
from alive.write import ping


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
