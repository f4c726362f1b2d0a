"""Pings in the shape of healthchecks.io's ping API, received by `alive serve` (serve.py
routes /ping/ here), so the curl one-liners, runitor and hc client libraries people already
have report into alive, from this machine or (with --allow-remote) from others.

    GET|POST|HEAD /ping/<key>/<task>            the run went well: an `ok` heartbeat
                  /ping/<key>/<task>/fail       it failed: an `error` heartbeat
                  /ping/<key>/<task>/<0-255>    its exit status: 0 `ok`, else `error` (exit_code kept)
                  /ping/<key>/<task>/start      it started: a run in progress in state/running/
                                                <task>@ping.json (hung after max_runtime)
                  /ping/<key>/<task>/log        no verdict: the body joins the run in progress
                                                (with none, a log event of its own until the next finish)
    GET|POST|HEAD /ping/<uuid>[/start|/fail|/log|/<0-255>]   the same, for the task whose
                  fleet.toml ping_uuid is <uuid> (a healthchecks check's own URL)
    A trailing slash is a success, as on healthchecks' /ping/<uuid>/.
    ?rid=<uuid>   pairs a start with its finish (runitor sends one per run): the heartbeat's
                  started_at, duration_s and run_id. As healthchecks' Check.ping
                  (hc/api/models.py): a finish pairs with the open run of the same rid (none
                  for none); a success without rid and a failure whatever its rid end the
                  runs in progress, unpaired. Overlapping runs each pair with their own start.
    ?create=1     accept a task that is neither in fleet.toml nor in health/ yet (any route
                  but /ping/<uuid>)

The key is healthchecks' "ping key": it comes from the environment variable named by
serve.ping_key_env (default ALIVE_PING_KEY), is compared in constant time, never printed
and never logged (the request line is logged as /ping/[key]/..., a UUID as [uuid]).
Without it set, every ping by key is 404. A ping authenticates by its key (or the task's
UUID) alone, not by serve's bearer or cookie, but meets every other rule of serve: the Host
check on loopback and the whole-request deadline. No ping speaks for what alive writes
itself (alive-watchdog, alive-probe).

Answers as healthchecks gives them: 200 "OK" (201 "Created" for a task made by ?create=1),
404 "not found" for a wrong key or an unknown task (serve's log says which), 400 "invalid
uuid format" for a bad rid, 400 "invalid url format" for an exit status over 255; each with
Ping-Body-Limit, the bytes of a body a heartbeat keeps (runitor trims what it sends to that).

Each finishing ping writes one canonical heartbeat (pingrecord.py) with heartbeat.write
(atomic, never overwriting); output_tail is the last OUTPUT_TAIL_MAX bytes of the run's /log bodies and
its body, and an error's `errors` is the body's last line that says something.
"""
import hmac
import os
import re
import threading
import uuid

from alive.base import paths
from alive.write import heartbeat
from alive.write.pingrecord import KEPT, marker_path, record
from alive.write.pingstate import PING_CREATED_FILE, created_by_pings, log_events, pending_log_path  # noqa: F401
from alive.write.heartbeat import PROBE_TASK, WATCHDOG_TASK
from alive.base.timeutil import format_iso

PREFIX = "/ping/"
MIN_REMOTE_KEY_CHARS = 16         # with --allow-remote the key is all that guards the endpoint
KEY_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
ACTIONS = ("start", "fail", "log")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")   # Django's UUIDConverter
OWN_TASKS = (WATCHDOG_TASK, PROBE_TASK)   # what alive writes itself: no ping speaks for it
_LOCK = threading.Lock()          # one ping at a time touches a task's marker and heartbeats


class Refused(Exception):
    """A ping answered with an error (code, text), before anything was written; `why` is
    for serve's log (never the key)."""

    def __init__(self, code, text, why=None):
        super().__init__(text)
        self.code, self.text, self.why = code, text, why or text


def is_ping(path):
    return path.startswith(PREFIX)


def loggable(line):
    """A line with the key (or the UUID) of every ping path in it replaced, right or wrong (a
    near miss of the key is still most of the key; a UUID is a check's whole secret)."""
    out, rest = [], line
    while (at := rest.find(PREFIX)) >= 0:
        out.append(rest[:at + len(PREFIX)])
        rest = rest[at + len(PREFIX):]
        cut = next((i for i, c in enumerate(rest) if c in "/?# '\"\\"), len(rest))
        segment = rest[:cut]
        out.append(segment if segment in ("[key]", "[uuid]") else "[uuid]" if UUID_RE.fullmatch(segment) else "[key]")
        rest = rest[cut:]
    return "".join(out) + rest


def key_problem(key, env_name, remote):
    """Why the configured key cannot be used, or None. The key itself is never named."""
    if not set(key) <= KEY_CHARS:
        return (f"${env_name} holds characters a ping URL cannot carry as they are "
                f"(use letters, digits, - and _)")
    if remote and len(key) < MIN_REMOTE_KEY_CHARS:
        return (f"--allow-remote needs a ping key of at least {MIN_REMOTE_KEY_CHARS} characters in ${env_name} "
                f"(make one: python3 -c 'import secrets; print(secrets.token_urlsafe(16))'), or unset it")
    return None


# ---------------------------------------------------------------- the request


def parse(path):
    """'/ping/<key>/<task>[/<action>]' or '/ping/<uuid>[/<action>]' -> (key or None, task or
    uuid, action, exit status or None); Refused when it is no ping URL. action: success |
    start | fail | log | exit. A trailing slash is a success, as healthchecks routes
    /ping/<uuid>/ (hc/api/urls.py, uuid_urls: path("", views.ping)). Like healthchecks, a
    first part in a UUID's form is a UUID (its routes come first there)."""
    parts = path[len(PREFIX):].split("/")
    if UUID_RE.fullmatch(parts[0]):
        key, task, rest = None, parts[0], parts[1:]
    else:
        key, task, rest = parts[0], parts[1] if len(parts) > 1 else "", parts[2:]
    if not task or (key is not None and not key) or len(rest) > 1:
        raise Refused(404, "not found", "not a ping URL")
    action = rest[0] if rest else ""
    if action == "":
        return key, task, "success", None
    if action in ACTIONS:
        return key, task, action, None
    if action.isascii() and action.isdigit():
        if len(action) > 3 or int(action) > 255:
            raise Refused(400, "invalid url format", "an exit status over 255")
        return key, task, "exit", int(action)
    raise Refused(404, "not found", "not a ping URL")


def run_id(query):
    """The ?rid= of a query string, normalised, or None; Refused when it is not a UUID."""
    from urllib.parse import parse_qs

    try:
        fields = parse_qs(query, keep_blank_values=True, max_num_fields=20)
    except ValueError:
        raise Refused(400, "invalid url format") from None
    rid = fields.get("rid", [None])[0]
    if rid is None:
        return None, fields.get("create", [""])[0] == "1"
    try:
        return str(uuid.UUID(rid)), fields.get("create", [""])[0] == "1"
    except ValueError:
        raise Refused(400, "invalid uuid format") from None


def right_key(given, key):
    return bool(key) and hmac.compare_digest(given.encode("utf-8", "replace"), key.encode("utf-8"))


def known_task(home, reg, task):
    """A task alive knows: registered, already reporting (every writer keeps _latest.json),
    or made by ?create=1 on a ping that left a run in progress or a kept /log body."""
    return task in reg.tasks or any(os.path.exists(p) for p in (
        paths.health_dir(home) / heartbeat.latest_name(task), marker_path(home, task), pending_log_path(home, task))) \
        or task in created_by_pings(home)


MAX_CREATED = 1000                # tasks ping-created.json remembers (the oldest go first)


def note_created(home, task, now):
    """Remember that a ?create=1 ping made this task, and when: check judges it from then
    (waiting for its first run for one max gap, then RED 'never reported')."""
    from alive.base import statefile

    def change(doc):
        tasks = doc.get("tasks") if isinstance(doc.get("tasks"), dict) else {}
        tasks.setdefault(task, format_iso(now))
        doc["tasks"] = dict(sorted(tasks.items(), key=lambda kv: kv[1])[-MAX_CREATED:])

    statefile.update(paths.state_dir(home) / PING_CREATED_FILE, change)


def task_of(reg, home, key, name, ping_key, create):
    """The task a ping names -> (task, created); Refused with the reason for the log."""
    if key is None:
        task = next((t.name for t in reg.tasks.values() if t.ping_uuid == name), None)
        if task is None:
            raise Refused(404, "not found", "no task in fleet.toml has this ping_uuid")
    elif not right_key(key, ping_key):
        raise Refused(404, "not found", "wrong ping key" if ping_key else "pings are off (no ping key set)")
    elif heartbeat.task_id_problem(name):
        raise Refused(404, "not found", "not a task name")
    else:
        task = name
    if task in OWN_TASKS:
        raise Refused(404, "not found", f"{task} is alive's own: a ping cannot report it")
    created = not known_task(home, reg, task)
    if created and not create:
        raise Refused(404, "not found", f"unknown task {task} (add ?create=1 or register it in fleet.toml)")
    return task, created


def answer(handler, reg, now):
    """Serve one ping for serve/handler.py's Handler: checks, then reads the body, then records.
    -> the task name when something was recorded, else None."""
    app = handler.app
    path, _, query = handler.path.partition("?")
    limit = [("Ping-Body-Limit", str(KEPT))]
    try:
        key, name, action, code = parse(path)
        rid, create = run_id(query)
        task, created = task_of(reg, app.home, key, name, app.ping_key, create and key is not None)
        body = read_body(handler)
    except Refused as exc:
        handler.log_message("ping refused: %s", exc.why)
        handler.reply(exc.code, exc.text, extra=limit)
        return None
    except EOFError:                 # the client went away mid-body: nothing to answer
        handler.close_connection = True
        return None
    with _LOCK:
        if created:
            note_created(app.home, task, now)
        said = record(app.home, task, action, code, body, rid, handler.client_address[0], now)
    if said:
        handler.log_message("%s", said)
    handler.reply(201 if created else 200, "Created" if created else "OK", extra=limit)
    return task


# ---------------------------------------------------------------- the body
# healthchecks keeps every ping and cuts its body to Ping-Body-Limit (hc/api/views.py,
# ping: body[:settings.PING_BODY_LIMIT]). alive reads any body within the request's
# deadline, keeps its end (a heartbeat's output_tail: where a failure says why) and says
# when it was cut. Content-Length or Transfer-Encoding: chunked (RFC 9112 7.1).

CHUNK_LINE_MAX = 1024
READ_SIZE = 64 * 1024


def read_body(handler):
    """The body's bytes (with a first line saying so when it was cut), read under the
    request's deadline; Refused when it is malformed, EOFError when it stops short."""
    size, kept = 0, bytearray()
    for piece in body_pieces(handler.headers, handler.rfile):
        size += len(piece)
        kept += piece
        if len(kept) > 2 * KEPT:     # more than enough for the last KEPT bytes on a character boundary
            del kept[:len(kept) - 2 * KEPT]
    if size <= KEPT:
        return bytes(kept)
    note = f"[alive: the body had {size:,} bytes; only its end is kept]\n".encode()
    from alive.write.pump import utf8_tail

    return note + utf8_tail(bytes(kept), KEPT - len(note)).encode("utf-8")


def body_pieces(headers, rfile):
    coding = (headers.get("Transfer-Encoding") or "").strip().lower()
    if coding:
        if coding != "chunked":
            raise Refused(400, "bad request", f"a Transfer-Encoding alive does not read: {coding[:40]}")
        return chunks(rfile)
    try:
        length = int(headers.get("Content-Length") or 0)
    except ValueError:
        length = -1
    if length < 0:
        raise Refused(400, "bad request", "a bad Content-Length")
    return sized(rfile, length)


def sized(rfile, length):
    while length > 0:
        piece = rfile.read(min(length, READ_SIZE))
        if not piece:
            raise EOFError("request body cut short")
        length -= len(piece)
        yield piece


def chunks(rfile):
    while True:
        line = rfile.readline(CHUNK_LINE_MAX + 1)
        if not line.endswith(b"\n"):
            if len(line) > CHUNK_LINE_MAX:
                raise Refused(400, "bad request", "a chunk size line too long")
            raise EOFError("request body cut short")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise Refused(400, "bad request", "a bad chunk size") from None
        if size < 0:
            raise Refused(400, "bad request", "a bad chunk size")
        if size == 0:
            break
        yield from sized(rfile, size)
        if rfile.readline(3) not in (b"\r\n", b"\n"):
            raise Refused(400, "bad request", "a chunk not ended by CRLF")
    for _ in range(100):              # trailer fields, up to the empty line
        line = rfile.readline(CHUNK_LINE_MAX + 1)
        if line in (b"\r\n", b"\n", b""):
            return
    raise Refused(400, "bad request", "too many trailer lines")
