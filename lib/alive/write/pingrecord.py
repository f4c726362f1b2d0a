"""What a ping writes (ping.py reads and checks the request, then calls record()): a
finishing ping's one canonical heartbeat, a /start's run in progress in the task's ping
marker, a /log body joined to its run or kept until the next finish.
"""
import functools
import json
import os
import uuid

from alive.base import atomic, paths, regular
from alive.write import heartbeat
from alive.write.pingstate import log_events, pending_log_path
from alive.base.durations import format_duration
from alive.base.timeutil import format_iso, parse_iso, seconds_between

KEPT = heartbeat.OUTPUT_TAIL_MAX  # bytes of it a heartbeat keeps: the Ping-Body-Limit answered
ERROR_LINE_MAX = 500

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
            marker = json.loads(regular.read_regular(path))
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
        return json.loads(regular.read_regular(legacy_marker_path(home, task))).get("via") == "ping"
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
    from alive.write.pump import utf8_tail

    return utf8_tail(text.encode("utf-8"), KEPT)


def last_line(text):
    """The last line of a text that says something (a letter or a digit), cut to
    ERROR_LINE_MAX: a failed run's error. The body itself is kept whole in output_tail, as
    healthchecks shows it; only its conclusion is the error."""
    lines = [ln.strip() for ln in text.splitlines()]
    return next((ln[:ERROR_LINE_MAX] for ln in reversed(lines) if any(c.isalnum() for c in ln)), None)
