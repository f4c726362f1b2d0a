"""What every request thread of `alive serve` shares (App): the registry, re-read when
fleet.toml changes, and the snapshot (view, page, status JSON, ETags) rendered at most
every CACHE_S."""
import hashlib
import json
import os
import sys
import threading
import time
from dataclasses import dataclass, field

from alive.base import tokens
from alive.base.errors import UsageError
from alive.base.timeutil import utcnow
from alive.config import registry
from alive.correct import queue
from alive.report import render_html, report
from alive.serve.login import FailedLogins

CACHE_S = 2.0
POLL_S = 15                     # the page's script asks /status.json this often (--poll)
KV_LIST_S = 30                  # http-kv: the pending keys are listed at most this often


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
