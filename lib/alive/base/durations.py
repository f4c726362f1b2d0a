"""Durations as text: '30s', '15m', '36h', '9d', '2w', '1h30m' <-> seconds.

No imports: `alive write --interval` needs it, and the write path must stay as cheap as
starting the interpreter.
"""

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DIGITS = "0123456789"  # str.isdigit() would also take '²' and '٣'
MAX_S = 36500 * 86400  # 100 years: a longer duration is a typo, and would overflow datetime arithmetic
_MAX_TEXT = "at most 36500d, 100 years"


def parse_duration(text, bare_unit=None):
    """'30s', '15m', '36h', '9d', '2w', '1h30m' -> int seconds.

    A bare number (36, "900") is refused: is `max_gap = 36` hours or seconds? The message
    names the likely fix; bare_unit="s" says the fix is seconds whatever the number (a
    timeout). Only ASCII digits count ('５m' and '٣h' are refused).
    Raises ValueError with a message that says how to write it.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise ValueError(f"{text!r} is not a duration (use e.g. 15m, 36h, 1h30m)")
    if isinstance(text, int) and text < 0:
        raise ValueError(f"{text} is not a duration (negative)")
    try:
        return _parse(str(text), bare_unit)
    except ValueError:
        from alive.base.tokens import scrub   # only on a refusal: the write path imports nothing for a good one

        safe = scrub(str(text))
        if safe == str(text):
            raise
        # a token in the text: no hint built from it (its digits), no cut through it
        raise ValueError(f"{_shown(safe)} is not a duration (use e.g. 30s, 15m, 36h, 9d, 1h30m)") from None


def _shown(text):
    return repr(text) if len(text) <= 60 else repr(text[:40] + "...")


def _parse(text, bare_unit):
    raw = text.strip()
    shown = _shown(text)
    if raw and all(c in _DIGITS for c in raw):
        if len(raw) > 12 or int(raw) > MAX_S:
            raise ValueError(f"{shown} has no unit and is too long ({_MAX_TEXT})")
        raise ValueError(f"{shown} has no unit: {_bare_hint(int(raw), bare_unit)} (a duration needs one: 30s, 15m, 36h, 9d)")
    total, number, seen = 0, "", False
    for ch in raw:
        if ch in _DIGITS:
            number += ch
        elif ch in _UNITS and number:
            total += int(number) * _UNITS[ch] if len(number) <= 12 else MAX_S + 1
            number, seen = "", True
        else:
            seen = False
            break
    if not seen or number:
        raise ValueError(f"{shown} is not a duration ({_hint(raw)})")
    if total > MAX_S:
        raise ValueError(f"{shown} is too long ({_MAX_TEXT})")
    return total


def _bare_hint(n, bare_unit=None):
    """The fix for a bare number: small ones are most often hours (max_gap = 36), large
    ones seconds (an interval of 900); a timeout's are seconds (GNU timeout's default unit)."""
    if n <= 72 and bare_unit != "s":
        return f'"{n}h"?'
    return f'"{n}s" ({format_duration(n)})?' if n >= 60 else f'"{n}s"?'


def _hint(raw):
    words = {"sec": "s", "min": "m", "hour": "h", "day": "d", "week": "w"}
    digits = "".join(c for c in raw if c.isdigit())
    for word, unit in words.items():
        if word in raw.lower() and digits:
            return f"use {digits}{unit}"
    return "use e.g. 30s, 15m, 36h, 9d, 1h30m"


def format_duration(seconds):
    """Compact human duration: 40h, 2d3h, 15m, 45s. A negative one (an age after the clock
    stepped back, a time dated ahead of it) is 0s: README promises no negative durations."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        m, s = divmod(seconds, 60)
        return f"{m}m{s}s" if s and m < 10 else f"{m}m"
    if seconds < 3 * 86400:
        h, rest = divmod(seconds, 3600)
        m = rest // 60
        return f"{h}h{m}m" if m and h < 10 else f"{h}h"
    d, rest = divmod(seconds, 86400)
    h = rest // 3600
    return f"{d}d{h}h" if h else f"{d}d"
