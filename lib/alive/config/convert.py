"""fleet.toml's value converters: each takes a value as tomllib read it and returns it in
the shape the records hold (seconds, lists, a Schedule, ...), or raises _Bad with a message
saying how to write it. The checker (config/checker.py) maps each key to one of them."""
import json
import re

from alive.base.timeutil import parse_duration
from alive.config.schedule import parse_schedule

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_TOPIC_RE = re.compile(r"^[-_A-Za-z0-9]{1,64}\Z")
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")
# ntfy's Priority header: names, or 1..5 (and "max" as an alias of urgent)
_PRIORITIES = {"min": "min", "low": "low", "default": "default", "high": "high", "urgent": "urgent",
               "max": "urgent", "1": "min", "2": "low", "3": "default", "4": "high", "5": "urgent"}


class _Bad(Exception):
    """A value is wrong; the message says how to write it."""


def _show(value, limit=80):
    """A value as it would be written in TOML, for messages; a long one is cut (it is
    named by its line anyway), a deeply nested one only described."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        try:
            text = str(value)
        except (ValueError, RecursionError):
            text = f"a {type(value).__name__}"
    return text if len(text) <= limit else f"{text[:limit - 20]}... ({len(text)} characters)"


def _passthrough(value):
    return value


def _string(value):
    if isinstance(value, dict):
        raise _Bad("is a table, not a string (write the value in quotes)")
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{_show(value)} is not a non-empty string (write it in quotes)")
    return value


def _matching(pattern, rule):
    def convert(value):
        _string(value)
        if not pattern.match(value):
            raise _Bad(f"{_show(value)} is not allowed here ({rule})")
        return value
    return convert


def _env_name(value):
    _string(value)
    if not _ENV_RE.match(value):
        raise _Bad(f"{_show(value)} is not the name of an environment variable (e.g. ALIVE_NTFY_TOKEN)")
    return value


def _uuid(value):
    """A healthchecks check's UUID, as its ping URLs carry it (lowercase)."""
    import uuid

    _string(value)
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise _Bad(f"{_show(value)} is not a UUID (copy it from the check's ping URL, "
                   f"e.g. 5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278)") from None


def _url(value):
    _string(value)
    if not value.startswith(("http://", "https://")):
        raise _Bad(f"{_show(value)} is not a URL (start it with https:// or http://)")
    return value


def _bool(value):
    if not isinstance(value, bool):
        hint = f" (write {value.lower()}, without quotes)" if value in ("true", "false") else ""
        raise _Bad(f"{_show(value)} is not true or false{hint}")
    return value


def _int(low, high=None):
    def convert(value):
        if isinstance(value, str) and value.strip().isdigit():
            raise _Bad(f"{_show(value)} is a string (write {value.strip()}, without quotes)")
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"{_show(value)} is not a whole number")
        if value < low or (high is not None and value > high):
            span = f"{low} to {high}" if high is not None else f"at least {low}"
            raise _Bad(f"{value} is out of range ({span})")
        return value
    return convert


def _duration(positive=True, bare_unit=None):
    """bare_unit="s" for a timeout: its bare number means seconds (GNU timeout's default
    unit, as `alive run --timeout` says), so the hint is "10s", never "10h"."""
    def convert(value):
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise _Bad(f"{_show(value)} is not a duration (use e.g. \"15m\", \"36h\", \"1h30m\")")
        try:
            seconds = parse_duration(value, bare_unit=bare_unit)
        except ValueError as exc:
            message = str(exc)
            quoted = repr(str(value))
            raise _Bad(_show(value) + message[len(quoted):] if message.startswith(quoted) else message) from None
        if positive and seconds <= 0:
            raise _Bad(f"{_show(value)} must be more than 0")
        return seconds
    return convert


def _deadman_timeout(value):
    # A check or watchdog run waits for the ping at most this long: a short wait, by design.
    seconds = _duration()(value)
    if seconds > 60:
        raise _Bad(f"{_show(value)} is too long for a ping that every check waits for (at most 60s)")
    return seconds


def _renotify(value):
    # `renotify = false` (or 0): say it once, never repeat while RED.
    if value is False or value == 0 or value == "0":
        return None
    return _duration(positive=False)(value) or None   # "0" too, as the README says


def _argv(value):
    if isinstance(value, str):
        raise _Bad(f"{_show(value)} is a string; write the command as a list of strings, "
                   f"e.g. {_show(value.split() or ['python3', 'job.py'])}")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value) or not value[0]:
        raise _Bad(f"{_show(value)} is not a non-empty list of strings (e.g. [\"python3\", \"job.py\"])")
    return list(value)


def _strings(value):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(f"{_show(value)} is not a list of strings (e.g. [\"a\", \"b\"])")
    return list(value)


def _names(value):
    if isinstance(value, str):
        raise _Bad(f"{_show(value)} is a string; write a list: [{_show(value)}]")
    return _strings(value)


_TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


def _tags(value):
    """tags = ["finance", "daily"]: words for the dashboard's filter (they go into its URLs)."""
    tags = _names(value)
    bad = [t for t in tags if not _TAG_RE.match(t)]
    if bad:
        raise _Bad(f"{_show(bad[0])} is not a tag (letters, digits, . _ -, starting with a letter or digit, "
                   f"at most 64 characters)")
    return tuple(dict.fromkeys(tags))


def _schedule(value):
    _string(value)
    try:
        return parse_schedule(value)
    except ValueError as exc:
        raise _Bad(str(exc)) from None


def _slow_after(value):
    """"45m" (a duration) or "3x" (times the median of the last 20 runs)."""
    if isinstance(value, str) and value.strip().lower().endswith("x"):
        number = value.strip()[:-1]
        try:
            factor = float(number) if number.isascii() else None
        except ValueError:
            factor = None
        if factor is None or not 1 < factor <= 1000:
            raise _Bad(f"{_show(value)} is not a factor (write e.g. \"3x\": three times the median of the "
                       f"last 20 runs, more than 1x)")
        return ("median", factor)
    return ("seconds", _duration()(value))


def _priority(value):
    norm = _PRIORITIES.get(str(value).lower()) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if norm is None:
        raise _Bad(f"{_show(value)} is not a priority (min, low, default, high, urgent, or 1 to 5)")
    return norm


def _choice(*choices):
    def convert(value):
        if value not in choices:
            raise _Bad(f"{_show(value)} is not one of {', '.join(_show(c) for c in choices)}")
        return value
    return convert


def _unknown(name, known):
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"did you mean {close[0]}?" if close else "known: " + ", ".join(sorted(known))
    return f"unknown key ({hint})"

