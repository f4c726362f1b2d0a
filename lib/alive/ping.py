"""Pings in the shape of healthchecks.io's ping API, received by `alive serve` (serve.py
routes /ping/ here), so the curl one-liners, runitor and hc client libraries people already
have report into alive, from this machine or (with --allow-remote) from others.

    GET|POST|HEAD /ping/<key>/<task>            the run went well: an `ok` heartbeat
                  /ping/<key>/<task>/fail       it failed: an `error` heartbeat
                  /ping/<key>/<task>/<0-255>    its exit status: 0 `ok`, else `error` (exit_code kept)
                  /ping/<key>/<task>/start      it started: a running marker in state/running/,
                                                as `alive run` writes (hung after max_runtime)
                  /ping/<key>/<task>/log        no verdict: the body joins the run in progress
    ?rid=<uuid>   pairs a start with its finish (runitor sends one per run): the heartbeat's
                  started_at, duration_s and run_id; without rid a finish pairs with a start
                  that had none
    ?create=1     accept a task that is neither in fleet.toml nor in health/ yet

The key is healthchecks' "ping key": it comes from the environment variable named by
serve.ping_key_env (default ALIVE_PING_KEY), is compared in constant time, never printed
and never logged (the request line is logged as /ping/[key]/...). Without it set, every
ping is 404. A ping authenticates by its key alone, not by serve's bearer or cookie, but
meets every other rule of serve: the Host check on loopback, the whole-request deadline,
and a body limit checked before a byte is read (BODY_MAX, 413 above it).

Answers as healthchecks gives them: 200 "OK" (201 "Created" for a task made by ?create=1),
404 "not found" for a wrong key or an unknown task, 400 "invalid uuid format" for a bad
rid, 400 "invalid url format" for an exit status over 255; each with Ping-Body-Limit, the
bytes of a body a heartbeat keeps (runitor trims what it sends to that).

Each finishing ping writes one canonical heartbeat with heartbeat.write (atomic, never
overwriting); output_tail is the last OUTPUT_TAIL_MAX bytes of the run's /log bodies and
its body, and an error's `errors` are the body's last lines.
"""
import hmac
import json
import os
import threading
import uuid

from . import atomic, heartbeat, paths
from .durations import format_duration
from .timeutil import format_iso, parse_iso, seconds_between

PREFIX = "/ping/"
BODY_MAX = 100_000                # bytes accepted in one ping (healthchecks.io's limit)
KEPT = heartbeat.OUTPUT_TAIL_MAX  # bytes of it a heartbeat keeps: the Ping-Body-Limit answered
MIN_REMOTE_KEY_CHARS = 16         # with --allow-remote the key is all that guards the endpoint
KEY_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
ERROR_LINE_MAX = 500
ACTIONS = ("start", "fail", "log")
_LOCK = threading.Lock()          # one ping at a time touches a task's marker and heartbeats


class Refused(Exception):
    """A ping answered with an error (code, text), before anything was written."""

    def __init__(self, code, text):
        super().__init__(text)
        self.code, self.text = code, text


def is_ping(path):
    return path.startswith(PREFIX)


def loggable(line):
    """A request line with the key of a ping path replaced, right or wrong (a near miss of
    the key is still most of the key)."""
    head, sep, rest = line.partition(PREFIX)
    if not sep:
        return line
    _, slash, tail = rest.partition("/")
    return f"{head}{PREFIX}[key]{slash}{tail}"


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
    """'/ping/<key>/<task>[/<action>]' -> (key, task, action, exit status or None); Refused
    when it is no ping URL. action: success | start | fail | log | exit."""
    parts = path[len(PREFIX):].split("/")
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise Refused(404, "not found")
    key, task = parts[0], parts[1]
    if len(parts) == 2:
        return key, task, "success", None
    action = parts[2]
    if action in ACTIONS:
        return key, task, action, None
    if action.isascii() and action.isdigit():
        if len(action) > 3 or int(action) > 255:
            raise Refused(400, "invalid url format")
        return key, task, "exit", int(action)
    raise Refused(404, "not found")


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
    """A task alive knows: registered, or already reporting (every writer keeps _latest.json)."""
    return task in reg.tasks or os.path.exists(paths.health_dir(home) / heartbeat.latest_name(task))


def answer(handler, reg, now):
    """Serve one ping for serve.Handler: checks, then reads the body, then records.
    -> the task name when something was recorded, else None."""
    app = handler.app
    path, _, query = handler.path.partition("?")
    limit = [("Ping-Body-Limit", str(KEPT))]
    try:
        key, task, action, code = parse(path)
        if not right_key(key, app.ping_key) or heartbeat.task_id_problem(task):
            raise Refused(404, "not found")
        rid, create = run_id(query)
        created = not known_task(app.home, reg, task)
        if created and not create:
            raise Refused(404, "not found")
    except Refused as exc:
        handler.reply(exc.code, exc.text, extra=limit)
        return None
    body = handler.read_body(BODY_MAX)
    if body is None:                 # refused (too large, cut short): the answer is sent
        return None
    with _LOCK:
        said = record(app.home, task, action, code, body, rid, handler.client_address[0], now)
    if said:
        handler.log_message("%s", said)
    handler.reply(201 if created else 200, "Created" if created else "OK", extra=limit)
    return task


# ---------------------------------------------------------------- what a ping writes
# A task's runs in progress live in its running marker (state/running/<task>.json, the file
# `alive run` writes): "runs" lists every open run, oldest first, each with the client's rid
# (None for a plain /start) and the run_id alive gives it; the top-level started_at, run_id
# and host are the oldest run's, so check judges the run that may hang.

MAX_OPEN_RUNS = 20                # starts never finished (a client sending a new rid each time) stop here


def marker_path(home, task):
    """The running marker of a task: the same file `alive run` writes."""
    return paths.running_dir(home) / f"{task}.json"


def pending_log_path(home, task):
    """/log bodies that came with no run in progress, kept for the task's next finishing ping."""
    return paths.state_dir(home) / "ping-logs" / f"{task}.log"


def open_runs(home, task):
    """The runs in progress that pings opened, oldest first ([] for none, or for a run of `alive run`)."""
    try:
        marker = json.loads(marker_path(home, task).read_bytes())
    except (OSError, ValueError, RecursionError):
        return []
    if not isinstance(marker, dict) or marker.get("via") != "ping":
        return []
    runs = marker.get("runs")
    if not isinstance(runs, list):           # a marker of an older alive: its one run
        runs = [{"rid": marker.get("run_id"), **marker}]
    return [r for r in runs if isinstance(r, dict) and isinstance(r.get("started_at"), str)]


def save_runs(home, task, runs):
    """The marker of these open runs, or none when there are none left."""
    path = marker_path(home, task)
    if not runs:
        try:
            os.unlink(path)
        except OSError:
            pass
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
                     "host": client, "log": tail(take_pending_log(home, task))})
        save_runs(home, task, runs)
        return None
    run = next((r for r in runs if r.get("rid") == rid), None)
    if action == "log":
        if run is None:
            keep_pending_log(home, task, text)
            return f"a /log ping for {task} with no run in progress: kept for its next finishing ping"
        run["log"] = tail(joined(run.get("log", ""), text))
        save_runs(home, task, runs)
        return None
    failed = action == "fail" or (action == "exit" and code != 0)
    if run is None:
        # healthchecks ends the run in progress on a success without rid and on any
        # failure, without pairing it (no duration)
        closed = runs if rid is None or failed else []
        before = take_pending_log(home, task)
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


def keep_pending_log(home, task, text):
    path = pending_log_path(home, task)
    os.makedirs(path.parent, exist_ok=True)
    try:
        before = path.read_bytes().decode("utf-8", "replace")
    except OSError:
        before = ""
    atomic.write_atomic(path, tail(joined(before, text)), durable=False)


def take_pending_log(home, task):
    """The kept /log bodies of a task ("" for none), removed: the run that takes them keeps them."""
    path = pending_log_path(home, task)
    try:
        text = path.read_bytes().decode("utf-8", "replace")
        os.unlink(path)
    except OSError:
        return ""
    return text


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
    from .runner import utf8_tail

    return utf8_tail(text.encode("utf-8"), KEPT)


def last_line(text):
    """The last line of a text that says something (a letter or a digit), cut to
    ERROR_LINE_MAX: a failed run's error. The body itself is kept whole in output_tail, as
    healthchecks shows it; only its conclusion is the error."""
    lines = [ln.strip() for ln in text.splitlines()]
    return next((ln[:ERROR_LINE_MAX] for ln in reversed(lines) if any(c.isalnum() for c in ln)), None)
