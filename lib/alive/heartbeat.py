"""The heartbeat (DESIGN §3): build, validate, name, serialize, write and parse.

This module is the write path of every job, so it imports only json, os and re
(json pulls in re anyway) plus timeutil.
"""
import json
import os
import re

from . import atomic
from .timeutil import format_iso, parse_iso

STATUSES = ("ok", "partial", "skipped", "error")
LEGACY_STATUS = {"GREEN": "ok", "YELLOW": "partial", "RED": "error"}
TASK_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
SUMMARY_MAX = 200
OUTPUT_TAIL_MAX = 10_000
SCHEMA_VERSION = 1
MAX_SUFFIX = 9999

# Field order on disk: required fields first, in the order of the schema table.
REQUIRED = ("task_id", "status", "started_at", "completed_at", "summary", "warnings", "errors", "metrics")
OPTIONAL_TYPES = {
    "interval_s": int, "complete": bool, "host": str, "duration_s": (int, float),
    "exit_code": int, "run_id": str, "output_tail": str, "schema": int,
}

CANONICAL_RE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})_(.+)_([0-9]{4})(?:-([0-9]+))?\.json\Z")


def status_problem(status):
    """None when status is canonical, else the sentence that explains the refusal."""
    canon = ", ".join(STATUSES)
    if status in STATUSES:
        return None
    if isinstance(status, str) and status in LEGACY_STATUS:
        return f"status {status!r} is a health color, not a status (use one of {canon})"
    return f"status {status!r} is not one of {canon}"


def task_id_problem(task_id):
    if isinstance(task_id, str) and TASK_ID_RE.match(task_id):
        return None
    return (f"task id {task_id!r} is not valid (letters, digits, '.', '_', '-'; "
            "starts with a letter or digit; at most 128 characters)")


def clean_summary(text, task_id, status):
    """One line of at most 200 characters; returns (summary, warning or None)."""
    line = " ".join(str(text).split()) if text is not None else ""
    if not line:
        line = f"{task_id} {status}"
    if len(line) > SUMMARY_MAX:
        return line[:SUMMARY_MAX], f"summary was {len(line)} characters; cut to {SUMMARY_MAX}"
    return line, None


def build(task_id, now, status="ok", summary=None, started_at=None, completed_at=None,
          warnings=(), errors=(), metrics=None, **optional):
    """A valid heartbeat dict, or ValueError naming the first thing that is wrong.

    started_at/completed_at are aware datetimes (default: now)."""
    problem = task_id_problem(task_id) or status_problem(status)
    if problem:
        raise ValueError(problem)
    started_at = started_at or completed_at or now
    completed_at = completed_at or (now if now >= started_at else started_at)
    if completed_at < started_at:
        raise ValueError(f"completed_at {format_iso(completed_at)} is before started_at {format_iso(started_at)}")
    warnings = [str(w) for w in warnings]
    summary, cut = clean_summary(summary, task_id, status)
    if cut:
        warnings.append(cut)
    hb = {
        "task_id": task_id, "status": status,
        "started_at": format_iso(started_at), "completed_at": format_iso(completed_at),
        "summary": summary, "warnings": warnings, "errors": [str(e) for e in errors],
        "metrics": dict(metrics or {}),
    }
    for key, value in optional.items():
        if value is not None:
            hb[key] = value
    hb.setdefault("schema", SCHEMA_VERSION)
    return hb


def serialize(hb):
    return (json.dumps(hb, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def canonical_stem(hb):
    """'<YYYY-MM-DD>_<task>_<HHMM>' from started_at in UTC."""
    t = hb["started_at"]  # already canonical: YYYY-MM-DDTHH:MM:SSZ
    return f"{t[0:10]}_{hb['task_id']}_{t[11:13]}{t[14:16]}"


def candidate_names(hb):
    stem = canonical_stem(hb)
    yield f"{stem}.json"
    for n in range(2, MAX_SUFFIX + 1):
        yield f"{stem}-{n}.json"


def latest_name(task_id):
    return f"{task_id}_latest.json"


def write(health_dir, hb):
    """Write the canonical file (never overwriting), then <task>_latest.json. Returns the path."""
    os.makedirs(health_dir, exist_ok=True)
    data = serialize(hb)
    path = atomic.create_new(health_dir, candidate_names(hb), data)
    atomic.write_atomic(os.path.join(health_dir, latest_name(hb["task_id"])), data)
    return path


# ---- reading ---------------------------------------------------------------

def parse_name(name):
    """Classify a file name in health/.

    -> ("canonical", task, sort_key) | ("latest", task, None) | ("legacy", None, None) | None
    sort_key orders a task's canonical files by started_at: (date, HHMM, suffix).
    Legacy bare names cannot be split reliably: their task is the task_id inside.
    """
    if name.startswith(".") or not name.endswith(".json"):
        return None
    m = CANONICAL_RE.match(name)
    if m and TASK_ID_RE.match(m.group(2)) and _plausible_date(m.group(1), m.group(3)):
        return ("canonical", m.group(2), (m.group(1), m.group(3), int(m.group(4) or 1)))
    if name.endswith("_latest.json"):
        return ("latest", name[: -len("_latest.json")], None)
    if "_" in name:
        return ("legacy", None, None)
    return None


def _plausible_date(date, hhmm):
    return "01" <= date[5:7] <= "12" and "01" <= date[8:10] <= "31" and hhmm[:2] <= "23" and hhmm[2:] <= "59"


def check(obj):
    """Problems of a parsed heartbeat: (errors, warnings). Errors mean it cannot be trusted."""
    if not isinstance(obj, dict):
        return [f"not a JSON object (a {type(obj).__name__})"], []
    errors, warnings = [], []
    for field in REQUIRED:
        if field not in obj:
            errors.append(f"required field {field} is missing")
        elif obj[field] is None:
            errors.append(f"required field {field} is null")
    present = {f for f in REQUIRED if obj.get(f) is not None}
    if "task_id" in present and task_id_problem(obj["task_id"]):
        errors.append(task_id_problem(obj["task_id"]))
    if "status" in present:
        status = obj["status"]
        if isinstance(status, str) and status in LEGACY_STATUS:
            warnings.append(f"legacy status {status!r} (write {LEGACY_STATUS[status]!r})")
        elif status_problem(status):
            errors.append(status_problem(status))
    times = {}
    for field in ("started_at", "completed_at"):
        if field in present:
            try:
                times[field] = parse_iso(obj[field])
            except ValueError as exc:  # parse_iso also turns an overflow (year 1 or 9999 with an offset) into this
                errors.append(f"{field}: {exc}")
    if len(times) == 2 and times["completed_at"] < times["started_at"]:
        errors.append("completed_at is before started_at")
    if "summary" in present:
        summary = obj["summary"]
        if not isinstance(summary, str):
            errors.append(f"summary must be a string, not {type(summary).__name__}")
        elif not summary.strip():
            errors.append("summary is empty")
        elif len(summary) > SUMMARY_MAX:
            errors.append(f"summary is {len(summary)} characters (at most {SUMMARY_MAX})")
        elif "\n" in summary:
            errors.append("summary is more than one line")
    for field in ("warnings", "errors"):
        if field in present and not (isinstance(obj[field], list) and all(isinstance(x, str) for x in obj[field])):
            errors.append(f"{field} must be a list of strings")
    if "metrics" in present and not isinstance(obj["metrics"], dict):
        errors.append(f"metrics must be an object, not {type(obj['metrics']).__name__}")
    for field, kind in OPTIONAL_TYPES.items():
        value = obj.get(field)
        if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
            errors.append(f"{field} has the wrong type ({type(value).__name__})")
    return errors, warnings


def loads(data):
    """bytes -> (heartbeat dict with legacy status mapped, errors, warnings). Never raises."""
    try:
        obj = json.loads(data)
    except UnicodeDecodeError:
        return None, ["not UTF-8 text"], []
    except ValueError as exc:
        return None, [f"not valid JSON ({exc})"], []
    except RecursionError:
        return None, ["JSON nested too deeply"], []
    errors, warnings = check(obj)
    if isinstance(obj, dict) and isinstance(obj.get("status"), str) and obj["status"] in LEGACY_STATUS:
        obj = dict(obj, status=LEGACY_STATUS[obj["status"]], legacy_status=obj["status"])
    return obj, errors, warnings
