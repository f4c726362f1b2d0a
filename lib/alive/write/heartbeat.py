"""The heartbeat (DESIGN §3): build, validate, name, serialize, write and parse.

The write side (build, serialize, write) is on the path of every job, so it imports
only os, time and the C half of json: no re, no datetime, no json package (whose
encoder imports re). The read side imports what it needs when it is called.
"""
import os
import time

from alive.base import atomic, tokens

try:
    from _json import encode_basestring as _quote  # CPython's C string encoder
except ImportError:  # pragma: no cover - other interpreters
    from json.encoder import py_encode_basestring as _quote

STATUSES = ("ok", "partial", "skipped", "error")
LEGACY_STATUS = {"GREEN": "ok", "YELLOW": "partial", "RED": "error"}
TASK_ID_MAX = 128
# The tasks alive writes itself (the watchdog's tick, the probes' run).
WATCHDOG_TASK = "alive-watchdog"
PROBE_TASK = "alive-probe"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_ID_CHARS = _ALNUM + "._-"
SUMMARY_MAX = 200
OUTPUT_TAIL_MAX = 10_000
SCHEMA_VERSION = 1
MAX_SUFFIX = 9999
# The -N of a second, third ... run in one minute: 2 to 9999, no leading zero. '-1', '-01'
# or '-0' are no name alive writes, so they are not canonical (and count for no task).
SUFFIX_RE = r"[2-9]|[1-9][0-9]{1,3}"
# Numbers a heartbeat may hold: within what float and int arithmetic can render. A run of
# 400 digits or 1e400 (inf) is not a measurement; it marks the file invalid instead of
# taking down the report, export or dashboard of the whole fleet.
NUMBER_MAX = 2 ** 53

# Field order on disk: required fields first, in the order of the schema table.
REQUIRED = ("task_id", "status", "started_at", "completed_at", "summary", "warnings", "errors", "metrics")
OPTIONAL_TYPES = {
    "interval_s": int, "complete": bool, "host": str, "duration_s": (int, float),
    "exit_code": int, "run_id": str, "output_tail": str, "schema": int,
}


def status_problem(status):
    """None when status is canonical, else the sentence that explains the refusal."""
    canon = ", ".join(STATUSES)
    if status in STATUSES:
        return None
    if isinstance(status, str) and status in LEGACY_STATUS:
        return f"status {status!r} is a health color, not a status (use one of {canon})"
    return f"status {status!r} is not one of {canon}"


def valid_task_id(task_id):
    """^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$, without the re module: strip() removes every
    allowed character, so nothing may be left."""
    return (isinstance(task_id, str) and 0 < len(task_id) <= TASK_ID_MAX
            and task_id[0] in _ALNUM and not task_id.strip(_ID_CHARS))


def task_id_problem(task_id):
    if valid_task_id(task_id):
        # a file name, a path printed, a URL: a token there is shown wherever the task is
        return "task id holds one of alive's tokens (not shown)" if tokens.scrub(task_id) != task_id else None
    return (f"task id {task_id!r} is not valid (letters, digits, '.', '_', '-'; "
            "starts with a letter or digit; at most 128 characters)")


def text(value):
    """A string that can be written as UTF-8: bytes that were not UTF-8 in argv (Python
    keeps them as surrogates) become U+FFFD instead of failing the write."""
    value = str(value)
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def clean_summary(summary, task_id, status):
    """One line of at most 200 characters; returns (summary, warning or None). Scrubbed of
    alive's tokens before the cut: a token cut in two is no longer found by the scrubber."""
    line = " ".join(tokens.scrub(text(summary)).split()) if summary is not None else ""
    if not line:
        line = f"{task_id} {status}"
    if len(line) > SUMMARY_MAX:
        # The warning reads YELLOW on every run until the job changes: say what to change.
        return line[:SUMMARY_MAX], (f"summary was {len(line)} characters; cut to {SUMMARY_MAX}: keep the job's "
                                    f"summary to one line of at most {SUMMARY_MAX} characters "
                                    f"(details go in warnings, errors or metrics)")
    return line, None


def epoch(t):
    """Seconds since the epoch from a number or an aware datetime (no datetime import)."""
    return t if isinstance(t, (int, float)) else t.timestamp()


FUTURE_S = 300   # a time more than 5 minutes ahead is clock skew: writers refuse it, readers (check.items.SKEW_S, lint) do not count it


def future_problem(what, when, now):
    """Why a time `when` given as `what` cannot be written, or None: more than 5 minutes
    ahead of now, check would not count the run (or not trust its end), so a heartbeat
    that looks written would count for nothing."""
    if when is None or epoch(when) - epoch(now) <= FUTURE_S:
        return None
    return f"{what} {iso(when)} is more than 5 minutes in the future: readers would not count it (wrong clock?)"


def iso(t):
    """'2026-05-02T01:55:00Z' from a number or an aware datetime, whole seconds, UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch(t) // 1)))


def build(task_id, now, status="ok", summary=None, started_at=None, completed_at=None,
          warnings=(), errors=(), metrics=None, **optional):
    """A valid heartbeat dict, or ValueError naming the first thing that is wrong.

    now, started_at and completed_at are aware datetimes or seconds since the epoch
    (default: now)."""
    problem = task_id_problem(task_id) or status_problem(status)
    if problem:
        raise ValueError(problem)
    started = epoch(started_at if started_at is not None else completed_at if completed_at is not None else now)
    completed = epoch(completed_at) if completed_at is not None else max(epoch(now), started)
    if completed < started:
        raise ValueError(f"completed_at {iso(completed)} is before started_at {iso(started)}")
    warnings = [text(w) for w in warnings]
    summary, cut = clean_summary(summary, task_id, status)
    if cut:
        warnings.append(cut)
    hb = {
        "task_id": task_id, "status": status, "started_at": iso(started), "completed_at": iso(completed),
        "summary": summary, "warnings": warnings, "errors": [text(e) for e in errors],
        "metrics": {text(k): text(v) if isinstance(v, str) else v for k, v in (metrics or {}).items()},
    }
    for key, value in optional.items():
        if value is not None:
            hb[key] = value
    hb.setdefault("schema", SCHEMA_VERSION)
    return hb


def serialize(hb):
    """The heartbeat as UTF-8 JSON, indented like json.dumps(indent=2, ensure_ascii=False)."""
    return (_dumps(hb, "\n") + "\n").encode("utf-8")


def _dumps(value, newline):
    """A small JSON encoder over CPython's C string quoting, so writing a heartbeat does
    not import the json package. Anything it does not know goes to json.dumps, which
    encodes it or raises the usual error."""
    if isinstance(value, str):
        return _quote(value)
    if value is None or value is True or value is False:
        return "null" if value is None else "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float) and value == value and value not in (float("inf"), float("-inf")):
        return float.__repr__(value)
    inner = newline + "  "
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        if not value:
            return "{}"
        items = [f"{_quote(k)}: {_dumps(v, inner)}" for k, v in value.items()]
        return "{" + inner + ("," + inner).join(items) + newline + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[" + inner + ("," + inner).join(_dumps(v, inner) for v in value) + newline + "]"
    import json

    return json.dumps(value, ensure_ascii=False, allow_nan=False)


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
    """Write the canonical file (never overwriting), then <task>_latest.json. Returns the path.

    Both files are fsynced before their names appear; one fsync of the folder at the end
    makes both names durable (the command has not said "written" before it)."""
    os.makedirs(health_dir, exist_ok=True)
    data = serialize(hb)
    path = atomic.create_new(health_dir, candidate_names(hb), data, sync_dir=False)
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
    m = _canonical_re().match(name)
    if m and valid_task_id(m.group(2)) and plausible_time(m.group(1), m.group(3)):
        return ("canonical", m.group(2), (m.group(1), m.group(3), int(m.group(4) or 1)))
    if name.endswith("_latest.json"):
        return ("latest", name[: -len("_latest.json")], None)
    if "_" in name:
        return ("legacy", None, None)
    return None


_CANONICAL = []


def _canonical_re():
    """<date>_<task>_<HHMM>[-N].json, compiled on first use (re stays off the write path)."""
    if not _CANONICAL:
        import re

        _CANONICAL.append(re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})_(.+)_([0-9]{4})(?:-(" + SUFFIX_RE + r"))?\.json\Z"))
    return _CANONICAL[0]


def plausible_time(date, hhmm):
    """A canonical name's YYYY-MM-DD and HHMM could be a real time (shape already checked)."""
    return "01" <= date[5:7] <= "12" and "01" <= date[8:10] <= "31" and hhmm[:2] <= "23" and hhmm[2:] <= "59"


def check(obj):
    """Problems of a parsed heartbeat: (errors, warnings). Errors mean it cannot be trusted.
    Read for every task at every check: one pass per field, nothing computed twice."""
    from alive.base.timeutil import parse_iso

    if not isinstance(obj, dict):
        return [f"not a JSON object (a {type(obj).__name__})"], []
    errors, warnings = [], []
    present = set()
    for field in REQUIRED:
        value = obj.get(field, _ABSENT)
        if value is _ABSENT:
            errors.append(f"required field {field} is missing")
        elif value is None:
            errors.append(f"required field {field} is null")
        else:
            present.add(field)
    if "task_id" in present and not valid_task_id(obj["task_id"]):
        errors.append(task_id_problem(obj["task_id"]))
    if "status" in present:
        status = obj["status"]
        if isinstance(status, str) and status in LEGACY_STATUS:
            warnings.append(f"legacy status {status!r} (write {LEGACY_STATUS[status]!r})")
        elif status not in STATUSES or not isinstance(status, str):
            errors.append(status_problem(status))
    times = []
    for field in ("started_at", "completed_at"):
        if field in present:
            try:
                times.append(parse_iso(obj[field]))
            except ValueError as exc:  # parse_iso also turns an overflow (year 1 or 9999 with an offset) into this
                errors.append(f"{field}: {exc}")
    if len(times) == 2 and times[1] < times[0]:
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
        if field in present:
            value = obj[field]
            if not (isinstance(value, list) and all(isinstance(x, str) for x in value)):
                errors.append(f"{field} must be a list of strings")
    metrics = obj.get("metrics")
    if "metrics" in present and not isinstance(metrics, dict):
        errors.append(f"metrics must be an object, not {type(metrics).__name__}")
    for field, kind in OPTIONAL_TYPES.items():
        value = obj.get(field)
        if value is None:
            continue
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            errors.append(f"{field} has the wrong type ({type(value).__name__})")
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and not sane_number(value):
            errors.append(f"{field} is not a plausible number ({shown_number(value)})")
    if isinstance(metrics, dict):
        for key, value in metrics.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) and not sane_number(value):
                errors.append(f"metrics.{key} is not a plausible number ({shown_number(value)})")
                break
    return errors, warnings


_ABSENT = object()


def sane_number(value):
    """Finite and at most 2**53 either way: what every reader can do arithmetic on."""
    import math

    return (isinstance(value, int) or math.isfinite(value)) and -NUMBER_MAX <= value <= NUMBER_MAX


def shown_number(value):
    text = repr(value) if isinstance(value, float) else str(value) if abs(value) < 10 ** 30 else None
    return text if text is not None else f"a {len(str(abs(value)))}-digit integer"


def interval_problem(hb):
    """Why a heartbeat's interval_s cannot be used as its cadence, or None. The file is
    still a valid heartbeat (the run happened); readers fall back, and say so."""
    value = hb.get("interval_s")
    if value is None or value > 0:
        return None
    return f"interval_s is {value}, not a positive number of seconds"


def _not_json(name):
    raise ValueError(f"{name} is not a JSON value")


class DuplicateKey(ValueError):
    """A JSON object names one key twice. json.loads keeps the last value without a word,
    other parsers the first (RFC 8259 §4: names SHOULD be unique; behaviour then differs),
    so "status": "error", ..., "status": "ok" would read as ok here and as error elsewhere."""


def _unique_keys(pairs):
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKey(f"key {key!r} appears twice (which value counts is ambiguous)")
            seen.add(key)
    return obj


_decoder = None   # one JSONDecoder for every file read: json.loads(..., parse_constant=) builds one per call


def loads(data):
    """bytes -> (heartbeat dict with legacy status mapped, errors, warnings). Never raises."""
    import json

    global _decoder
    if _decoder is None:
        _decoder = json.JSONDecoder(parse_constant=_not_json, object_pairs_hook=_unique_keys)
    try:
        # what json.loads does with bytes: UTF-8, -16 or -32, found from the first bytes
        obj = _decoder.decode(data.decode(json.detect_encoding(data), "surrogatepass"))
    except UnicodeDecodeError:
        return None, ["not UTF-8 text"], []
    except DuplicateKey as exc:
        return None, [str(exc)], []
    except ValueError as exc:
        return None, [f"not valid JSON ({exc})"], []
    except RecursionError:
        return None, ["JSON nested too deeply"], []
    errors, warnings = check(obj)
    if isinstance(obj, dict) and isinstance(obj.get("status"), str) and obj["status"] in LEGACY_STATUS:
        obj = dict(obj, status=LEGACY_STATUS[obj["status"]], legacy_status=obj["status"])
    return obj, errors, warnings
