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

Each finishing ping writes one canonical heartbeat with heartbeat.write (atomic, never
overwriting); output_tail is the last OUTPUT_TAIL_MAX bytes of the run's /log bodies and
its body, and an error's `errors` is the body's last line that says something.
"""
import functools
import hmac
import json
import os
import re
import threading
import uuid

from alive.base import atomic, paths
from alive.write import heartbeat
from alive.write.pingstate import PING_CREATED_FILE, created_by_pings, log_events, pending_log_path  # noqa: F401
from alive.base.durations import format_duration
from alive.write.heartbeat import PROBE_TASK, WATCHDOG_TASK
from alive.base.timeutil import format_iso, parse_iso, seconds_between

PREFIX = "/ping/"
KEPT = heartbeat.OUTPUT_TAIL_MAX  # bytes of it a heartbeat keeps: the Ping-Body-Limit answered
MIN_REMOTE_KEY_CHARS = 16         # with --allow-remote the key is all that guards the endpoint
KEY_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
ERROR_LINE_MAX = 500
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
    from alive.write.runner import utf8_tail

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


# ---------------------------------------------------------------- what a ping writes
# A task's runs in progress live in its ping marker (state/running/<task>@ping.json, beside
# the <task>.json `alive run` writes): "runs" lists every open run, oldest first, each with the client's rid
# (None for a plain /start) and the run_id alive gives it; the top-level started_at, run_id
# and host are the oldest run's, so check judges the run that may hang.

MAX_OPEN_RUNS = 20                # starts never finished (a client sending a new rid each time) stop here


def marker_path(home, task):
    """The task's runs in progress that pings opened: in state/running/ beside (never in)
    the marker `alive run` writes, so neither replaces nor removes the other's."""
    from pathlib import Path

    from alive.write.runner import ping_marker_path

    return Path(ping_marker_path(home, task))


MAX_LOG_EVENTS = 20               # /log events with no run in progress a task keeps (and at most KEPT bytes of them)



def open_runs(home, task):
    """The runs in progress that pings opened, oldest first ([] for none). An older alive kept
    them in <task>.json (`alive run`'s file): read there, with "via": "ping", until they end."""
    marker = None
    for path in (marker_path(home, task), legacy_marker_path(home, task)):
        try:
            marker = json.loads(atomic.read_regular(path))
            break
        except (OSError, ValueError, RecursionError):
            continue
    if not isinstance(marker, dict) or marker.get("via") != "ping":
        return []
    runs = marker.get("runs")
    if not isinstance(runs, list):           # a marker of an older alive: its one run
        runs = [{**marker, "rid": marker.get("run_id"), "run_id": marker.get("run_id") or str(uuid.uuid4())}]
    return [r for r in runs if isinstance(r, dict) and isinstance(r.get("started_at"), str)]


def legacy_marker_path(home, task):
    return paths.running_dir(home) / f"{task}.json"


def open_runs_of_older_alive(home, task):
    """Whether <task>.json is a ping marker an older alive wrote (not a marker of `alive run`)."""
    try:
        return json.loads(atomic.read_regular(legacy_marker_path(home, task))).get("via") == "ping"
    except (OSError, ValueError, RecursionError, AttributeError):
        return False


def save_runs(home, task, runs):
    """The marker of these open runs, or none when there are none left."""
    path = marker_path(home, task)
    # an older alive's marker: from now on in marker_path, or ended
    for gone in ([legacy_marker_path(home, task)] if open_runs_of_older_alive(home, task) else []) + \
            ([] if runs else [path]):
        try:
            os.unlink(gone)
        except OSError:
            pass
    if not runs:
        return
    oldest = runs[0]
    marker = {"task_id": task, "started_at": oldest["started_at"], "run_id": oldest["run_id"],
              "host": oldest.get("host"), "via": "ping", "runs": runs}
    os.makedirs(paths.running_dir(home), exist_ok=True)
    # A marker means nothing after a power cut: atomic, not worth an fsync (as `alive run`).
    atomic.write_atomic(path, json.dumps(marker, ensure_ascii=False) + "\n", durable=False)


def record(home, task, action, code, body, rid, client, now):
    """Write what a ping means -> a line for the server's log, or None."""
    text = body.decode("utf-8", "replace")
    runs = open_runs(home, task)
    if action == "start":
        # a start with the rid of a run still open starts it again (healthchecks: last_start is replaced)
        runs = [r for r in runs if r.get("rid") != rid][-(MAX_OPEN_RUNS - 1):]
        runs.append({"rid": rid, "run_id": rid or str(uuid.uuid4()), "started_at": format_iso(now),
                     "host": client, "log": tail(joined(take_pending_log(home, task), text))})
        save_runs(home, task, runs)
        return None
    run = next((r for r in runs if r.get("rid") == rid), None)
    if action == "log":
        if run is None:
            keep_pending_log(home, task, text, now)
            return f"a /log ping for {task} with no run in progress: kept for its next finishing ping"
        run["log"] = tail(joined(run.get("log", ""), text))
        save_runs(home, task, runs)
        return None
    failed = action == "fail" or (action == "exit" and code != 0)
    if run is None:
        # healthchecks ends the run in progress on a success without rid and on any
        # failure, without pairing it (no duration); what those runs logged is kept here
        closed = runs if rid is None or failed else []
        before = functools.reduce(joined, [r.get("log") or "" for r in closed] + [take_pending_log(home, task)], "")
    else:
        closed, before = [run], run.get("log", "")
    heartbeat.write(paths.health_dir(home), finished(task, failed, code, joined(before, text), run, rid, client, now))
    if closed:
        save_runs(home, task, [r for r in runs if r not in closed])
    return None


def joined(before, text):
    """Two pieces of a run's output, on lines of their own."""
    if before and text and not before.endswith("\n"):
        return before + "\n" + text
    return before + text




def keep_pending_log(home, task, text, now):
    """One more log event, scrubbed of alive's tokens; the oldest go past MAX_LOG_EVENTS or KEPT bytes."""
    from alive.base.tokens import scrub

    events = log_events(home, task) + [{"at": format_iso(now), "body": tail(scrub(text))}]
    events = events[-MAX_LOG_EVENTS:]
    while len(events) > 1 and sum(len(e["body"].encode("utf-8")) for e in events) > KEPT:
        events.pop(0)
    path = pending_log_path(home, task)
    os.makedirs(path.parent, exist_ok=True)
    atomic.write_atomic(path, json.dumps({"events": events}, ensure_ascii=False) + "\n", durable=False)


def take_pending_log(home, task):
    """The kept /log bodies of a task, joined ("" for none), removed: the run that takes them keeps them."""
    events = log_events(home, task)
    try:
        os.unlink(pending_log_path(home, task))
    except OSError:
        pass
    return functools.reduce(joined, [e["body"] for e in events], "")


def finished(task, failed, code, output, run, rid, client, now):
    """The heartbeat of a finishing ping (success, fail, exit status); `run` is the open run
    it ends (its start and run_id), or None."""
    started = now
    if run is not None:
        try:
            started = min(parse_iso(run["started_at"]), now)
        except (KeyError, TypeError, ValueError):
            run = None
    output = tail(output)
    took = seconds_between(started, now) if run is not None else None
    last = last_line(output)
    if failed:
        what = f"exit {code}" if code is not None else "failed (/fail ping)"
        summary = what + (f" after {format_duration(int(took))}" if took is not None else "") + \
            (f": {last}" if last else "")
        errors = [last] if last else [f"exit status {code}" if code is not None else "the job pinged /fail"]
    else:
        what = "exit 0" if code is not None else "ok (ping)"
        summary = what + (f" in {format_duration(int(took))}" if took is not None else "")
        errors = []
    run_id = (run or {}).get("run_id") or rid or os.urandom(8).hex()
    return heartbeat.build(
        task, now, status="error" if failed else "ok", summary=" ".join(summary.split())[:heartbeat.SUMMARY_MAX],
        started_at=started, errors=errors, exit_code=code, duration_s=round(took, 3) if took is not None else None,
        host=client, run_id=run_id, output_tail=output or None)


def tail(text):
    """The last KEPT bytes of a text, never starting inside a character."""
    from alive.write.runner import utf8_tail

    return utf8_tail(text.encode("utf-8"), KEPT)


def last_line(text):
    """The last line of a text that says something (a letter or a digit), cut to
    ERROR_LINE_MAX: a failed run's error. The body itself is kept whole in output_tail, as
    healthchecks shows it; only its conclusion is the error."""
    lines = [ln.strip() for ln in text.splitlines()]
    return next((ln[:ERROR_LINE_MAX] for ln in reversed(lines) if any(c.isalnum() for c in ln)), None)
