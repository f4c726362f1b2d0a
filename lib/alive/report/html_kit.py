"""The pieces every page alive renders is made of (the dashboard, a task's run log, serve's
login page): the page's start, its one script and its styles (dashboard.js, dashboard.css:
files next to this module, read once and inlined, so a page stays one self-contained file),
escaping, <time> tags, an item's data-tags, and a reason or a run in the page's words."""
import base64
import functools
import hashlib
import html
import json
from pathlib import Path

from alive.report.words import short_time, span, zoned
from alive.base.timeutil import format_iso, parse_iso

VALUE_CHARS = 60                # a metric's value, or a source's odd status, is cut to this


def asset(name):
    """The text of a file next to this module (dashboard.css, dashboard.js): found wherever
    alive runs from (bin/alive, tests, an installed copy), since it is beside the code."""
    return (Path(__file__).resolve().parent / name).read_text(encoding="utf-8")


def esc(value):
    return html.escape(str(value), quote=True)


def esc_advice(text):
    """Advice from words.advice(): `...` parts are our own commands, shown as code."""
    parts = text.split("`")
    return "".join(f"<code>{esc(part)}</code>" if n % 2 else esc(part) for n, part in enumerate(parts))


def instant(value):
    """An ISO text or a datetime -> datetime, or None when it is not a time."""
    if value is None or hasattr(value, "astimezone"):
        return value
    try:
        return parse_iso(value)
    except (ValueError, TypeError, OverflowError):
        return None


def time_tag(value, now, relative=True):
    """<time> for an ISO text or a datetime: 'Fri 07:05 CEST', with the full time and its
    zone in the title. relative: an age, which the script says as '12 min ago' and keeps
    current; it is written as the absolute time all the same, so a page without the script
    (or a file opened an hour later) never shows an age frozen at the time it was written."""
    dt = instant(value)
    if dt is None:
        return esc(value if value is not None else "-")
    words = short_time(dt, now)
    mark = " data-ago" if relative else ""
    return f'<time datetime="{format_iso(dt)}" title="{esc(zoned(dt))}"{mark}>{esc(words)}</time>'


# The served pages' links to the app's files (pwa.py): the manifest, and icons (no favicon 404).
APP_LINKS = ('<link rel="manifest" href="/manifest.webmanifest">\n<link rel="icon" href="/icon.svg" '
             'type="image/svg+xml">\n<link rel="apple-touch-icon" href="/icon-maskable-192.png">\n'
             '<meta name="theme-color" content="#1f2328">\n')


def live_attrs(live):
    """The <html> attributes of a live page: how often its script asks, and the ETag to ask with."""
    return f' data-poll="{int(live.poll_s)}" data-etag="{esc(live.etag)}" data-sw'


def page_start(title, css, extra_head="", html_attrs=""):
    """From <!doctype> to <body>: how every page alive writes or serves begins (serve's login page too)."""
    return f"""<!doctype html>
<html lang="en"{html_attrs}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
{extra_head}<title>{esc(title)}</title>
<style>{css}</style>
</head>
<body>"""


# Reasons come from health.py in check's words (its JSON is read by other tools and stays
# as it is). The page says their durations and times the way it says every other one:
# "40h" -> "40 h", an ISO time -> a <time>. Only alive's own words are touched: where a
# reason carries text from a job or a producer (after the first ": " of these), it is
# shown exactly as written.
USER_TEXT_AFTER = ("latest run failed", "latest run partial", "warning", "latest heartbeat file is invalid",
                   "data file", "paused", "blocked by")
_DURATION = r"\d+(?:d\d+h|h\d+m|m\d+s|[dhms])"


@functools.lru_cache(maxsize=1)
def _patterns():
    import re

    return (re.compile(rf"(?<![\w.:-])({_DURATION})(?![\w.:-])"),
            re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\b"))


def reason_html(reason, now):
    own, user = reason, ""
    if reason.startswith(USER_TEXT_AFTER) or "failed refresh" in reason.split(":")[0] or \
            reason.startswith("refresh failed"):
        head_, sep, tail = reason.partition(": ")
        own, user = head_ + sep, tail
    durations, times = _patterns()
    out, last = [], 0
    for m in times.finditer(own):
        out.append(durations.sub(lambda d: spell(d.group(1)), esc(own[last:m.start()])))
        out.append(time_tag(m.group(0), now, relative=False))
        last = m.end()
    out.append(durations.sub(lambda d: spell(d.group(1)), esc(own[last:])))
    return "".join(out) + esc(user)


def spell(text):
    """'1h30m' -> '1 h 30 min': a duration of check's words in the page's."""
    from alive.base.durations import parse_duration

    try:
        return span(parse_duration(text))
    except ValueError:
        return text


def reasons_html(item, now, joiner):
    return joiner.join(reason_html(r, now) for r in item.reasons)


def reason_list(item, now):
    if not item.reasons:
        return '<p class="fine">on time</p>'
    return '<ul class="reasons">' + "".join(f"<li>{reason_html(r, now)}</li>" for r in item.reasons) + "</ul>"


def fact_list(facts):
    """(label, html) pairs; the values are already escaped (or <time> tags)."""
    return '<dl class="facts">' + "".join(f"<div><dt>{esc(k)}</dt><dd>{v}</dd></div>" for k, v in facts) + "</dl>"


def took(seconds):
    """A run's duration: '41 s', 'under 1 s' (a run is never '0 s')."""
    return "under 1 s" if seconds < 1 else span(seconds)


def run_words(run, when):
    """'Fri 07:05 CEST · ok · 41 s · exit 0 · summary': one run, as the strip says it."""
    bits = [when(run["started_at"]), run["status"]]
    if run["duration_s"] is not None:
        bits.append(took(run["duration_s"]))
    if run.get("exit_code") is not None:
        bits.append(f"exit {run['exit_code']}")
    bits.append(run["summary"])
    return " · ".join(str(b) for b in bits)


def item_tags(item, view):
    entry = (view.registry.tasks if item.kind == "task" else view.registry.sources).get(item.name)
    return getattr(entry, "tags", ()) or ()


def tags_attr(item, view):
    tags = item_tags(item, view)
    return f' data-tags="{esc(" ".join(tags))}"' if tags else ""


def short(value):
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS - 1] + "…"


# The one script (render_html's docstring says why it is a constant), and the styles: files next to this
# module, so editors and linters see them as what they are; read once, inlined into every
# page, which stays one self-contained file. Ages use words.span's words: keep the two alike.
SCRIPT = asset("dashboard.js")
CSS = asset("dashboard.css")
SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode()
# The static file carries its own policy (no server sends one): its script and nothing else.
STATIC_CSP = f"default-src 'none'; style-src 'unsafe-inline'; script-src '{SCRIPT_HASH}'; form-action 'none'"
