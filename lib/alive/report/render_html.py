"""The dashboard: one self-contained HTML page (inline CSS, one small inline script, no
external asset), and the run log page of one task (`alive serve`'s /task/<id>).

Every string from a heartbeat, a state file or the registry goes through esc()
(html.escape with quote=True), in text and in attributes alike: a summary
`<script>alert(1)</script>` shows as text. The script (SCRIPT) is a constant: no data is
ever written into it (what it needs comes from data- attributes), so its hash (SCRIPT_HASH)
is the only script a Content-Security-Policy has to allow. The page works without it:
every age then says its absolute time, and the live page says it is a snapshot and
offers a plain "Reload" link.

With the script, a live page (`alive serve`, live given: the dashboard and the run log)
asks its own URL every poll_s seconds with If-None-Match: a 304 while nothing changed,
else the page, whose parts marked data-live that differ it swaps in (children matched by
id), keeping focus and scroll. When the server cannot be reached it says so at once, with
the time of the data shown, and turns the Trigger now buttons off until it answers. Ages
("12 min ago") are <time datetime data-ago> elements the script keeps current, written as
the absolute time (with its zone in their title); the static report says how old it is
the same way.

Trigger buttons: rendered by `alive serve` (csrf given) they are plain forms POSTing to
/trigger/<source> with the server's CSRF token in a hidden field. In a static file
(`alive report --format html`) there is no server to take the POST and no token to
carry, so the buttons are shown disabled, with a hint to run `alive serve` and a link
to settings.dashboard_url when it is set.
"""
import base64
import functools
import hashlib
import html
import json
from dataclasses import dataclass
from pathlib import Path

from alive.check import health
from alive.report.words import (advice, grey_counts, newest_notes, ordered, short_time, span, trigger_life,
                     zoned)
from alive.base.timeutil import format_iso, parse_iso

STRIP = 20                      # cells in a task's strip of runs
NOTES_SHOWN = 3                 # newest errors and warnings shown per task
METRICS_SHOWN = 6               # the newest run's metrics, the first few, each cut to VALUE_CHARS
VALUE_CHARS = 60
INVALID_SHOWN = 500             # a health/ full of garbage still gives a page of reasonable size
NOTICES = {                     # ?notice=KEY: fixed texts, never words taken from the URL
    "stale": "That button came from an older page (alive serve restarted since): nothing was queued. "
             "The page is current now: press \"Trigger now\" again.",
    "login": "Your login expired: log in again, then press \"Trigger now\" again.",
}


@dataclass
class Live:
    """What only the live page has: how often its script asks /status.json, and the
    ETag /status.json answers with right now (so the first poll is a 304)."""
    poll_s: int
    etag: str = ""
    logout: bool = False        # a login cookie is in use (--allow-remote): offer to log out


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


def render(view, csrf=None, live=None, tag=None, notice=None):
    """The page. csrf: the server's token (live page, working buttons); None: a static file.
    live: a Live (the page polls and updates itself). tag: show only items with this tag.
    notice: a key of NOTICES, said at the top (a refused trigger)."""
    result = view.result
    shown = [i for i in ordered(result.items) if tag is None or tag in item_tags(i, view)]
    red = [i for i in shown if i.color == health.RED]
    tasks = [i for i in shown if i.kind == "task"]
    sources = [i for i in shown if i.kind == "source"]
    parts = [head(result, live), header(view, live), banners(notice, live), refused_banner(view),
             tag_filter(view, tag)]
    parts.append(f'<div id="priority-slot" data-live>{priority(red, view) if red else ""}</div>')
    # Sources before the tasks: a fleet has a few of them and many tasks, and their
    # "Trigger now" buttons should not sit below a thousand task cards on a phone.
    if sources or (view.registry.sources and tag is None):
        parts.append(sources_section(sources, view, csrf, tag))
    parts.append(health_section(tasks, view, live is not None,
                                open_=any(t.color in (health.RED, health.YELLOW) for t in tasks)))
    parts.append(f'<div id="invalid-slot" data-live>{invalid_section(result.invalid_files)}</div>')
    parts.append(footer(view, live is not None))
    return "\n".join(p for p in parts if p) + "\n"


def item_tags(item, view):
    entry = (view.registry.tasks if item.kind == "task" else view.registry.sources).get(item.name)
    return getattr(entry, "tags", ()) or ()


def head(result, live):
    if live:
        extra, attrs = APP_LINKS, live_attrs(live)
    else:
        extra = f'<meta http-equiv="Content-Security-Policy" content="{esc(STATIC_CSP)}">\n'
        attrs = ""
    return page_start(f"{result.overall} · alive", CSS, extra, attrs) + "\n<main>"


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


def badge_pills(view):
    """The header's counts: never a zero (no "0 RED"), but an unknown queue is said."""
    c, items = view.counts, len(view.result.items)
    pills = [f"{items} item{'s' if items != 1 else ''}"]
    pills += [f"{c[color]} {color}" for color in (health.RED, health.YELLOW) if c[color]]
    pills += grey_counts(view)
    if view.running_count:
        pills.append(f"{view.running_count} running now")
    if view.pending_count:
        pills.append(f"{view.pending_count} trigger{'s' if view.pending_count != 1 else ''} pending")
    if view.pending_problem:
        pills.append("pending triggers unknown")
    return pills


def header(view, live):
    result = view.result
    pills = "".join(f'<li class="count">{esc(p)}</li>' for p in badge_pills(view))
    when = checked_line(result.checked_at, view.now, live, "/")
    return f"""<header class="top c-{esc(result.overall)}" id="badge" data-overall="{esc(result.overall)}" data-live>
<h1 class="badge"><span class="dot big" aria-hidden="true"></span><span class="vh">Fleet status: </span>{esc(result.overall)}</h1>
<ul class="counts" aria-label="counts">{pills}</ul>
<p class="checked" id="checked">{when}</p>{logout_form(live)}
</header>"""


def checked_line(at, now, live, here):
    """How old the page is. Live, the script says "live, updated 5 s ago" (or "offline");
    without the script nothing updates, and the page says it is a snapshot, and of when (date too)."""
    checked = time_tag(at, now)
    snapshot = f"snapshot from {esc(zoned(at))}"     # with its date: opened tomorrow, "23:00" reads as today
    if not live:
        return f'{snapshot}<span class="when-js">, {checked}</span>'
    return (f'<span class="when-nojs">{snapshot} </span><span class="when-js"><span id="live-state">live</span>, '
            f'updated {checked}</span> <noscript>· <a class="reload" href="{esc(here)}">Reload</a> (JavaScript is '
            f'off: the page does not update by itself)</noscript>')


def logout_form(live):
    if not (live and live.logout):
        return ""
    return '\n<form class="logout" method="post" action="/logout"><button type="submit">Log out</button></form>'


def banners(notice, live):
    parts = []
    if notice in NOTICES:
        parts.append(f'<p class="notice" id="notice" role="alert">{esc(NOTICES[notice])}</p>')
    if live:
        parts.append('<p class="notice" id="offline" role="status" hidden></p>')
    return "\n".join(parts)


def refused_banner(view):
    """A notification a channel refused for good (outbox.tell_refused): said at the top, so a
    lost alert is never silent. The same words as `alive verify`. A live slot: a refusal
    while the page is open shows up on the next poll."""
    said = ""
    if view.refused:
        from alive.notify.outbox import refusals_text

        said = f'<p class="notice" id="refused" role="alert">{esc(refusals_text(view.refused))}</p>'
    return f'<div id="refused-slot" data-live>{said}</div>'


def tag_filter(view, tag):
    tags = sorted({t for entries in (view.registry.tasks, view.registry.sources)
                   for e in entries.values() for t in (getattr(e, "tags", ()) or ())})
    if not tags:
        return ""

    def link(label, href, current):
        return f'<a href="{esc(href)}"{" aria-current=page" if current else ""}>{esc(label)}</a>'

    links = [link("all", "/" if tag is None else "?", tag is None)]
    links += [link(t, f"?tag={t}", t == tag) for t in tags]
    return f'<nav class="tags" aria-label="Filter by tag">Tags: {" ".join(links)}</nav>'


def priority(red, view):
    rows = []
    for item in red:
        anchor = f"{item.kind}-{item.name}"
        rows.append(f"""<li><a href="#{esc(anchor)}"><b>{esc(item.name)}</b></a> <span class="kind">{esc(item.kind)}</span>
<div class="why">{reasons_html(item, view.now, "; ")}</div>
<div class="todo"><b>What to do:</b> {esc_advice(advice(item, view))}</div></li>""")
    return f"""<section class="priority" id="priority">
<h2>Priority #1</h2>
<ol>{"".join(rows)}</ol>
</section>"""


def health_section(tasks, view, live, open_):
    c = {color: sum(1 for t in tasks if t.color == color) for color in (health.RED, health.YELLOW)}
    bits = [f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}"]
    bits += [f"{n} {color}" for color, n in c.items() if n]
    when = functools.lru_cache(maxsize=4096)(lambda text: run_time(text, view.now))
    cards = "\n".join(task_card(item, view, live, when) for item in tasks) or \
        '<p class="empty">No task has reported yet and fleet.toml registers none.</p>'
    return f"""<details class="section" id="health"{" open" if open_ else ""}>
<summary><h2>System Health</h2> <span class="muted" id="health-counts" data-live>{esc(" · ".join(bits))}</span></summary>
{LEGEND}
<div class="grid" id="task-grid" data-live>
{cards}
</div>
</details>"""


def run_time(text, now):
    """A run's start as 'Fri 07:05 CEST' (memoized per render: runs share minutes)."""
    dt = instant(text)
    return short_time(dt, now) if dt else str(text)


def task_card(item, view, live=False, when=None):
    d = item.details
    runs = view.runs.get(item.name, [])
    task = view.registry.tasks.get(item.name)
    last = time_tag(d["last_completed_at"], view.now) if d.get("last_completed_at") else "never"
    facts = [("Finished", last), ("Status", esc(d.get("last_status") or "-")),
             ("Runs 24 h", esc(view.runs_24h.get(item.name, 0))),
             ("Errors in a row", esc(d.get("consecutive_errors") or 0)),
             ("Max gap", esc(span(d["max_gap_s"]) if d.get("max_gap_s") is not None else "-"))]
    # Said once, as in check's table: a reason that already says how long the run has gone
    # (hung, slow) stands alone, so a moving age never sits beside a fixed one that disagrees.
    if d.get("running_since") and not any("in progress for" in r or "running for" in r for r in item.reasons):
        facts.insert(0, ("Running since", time_tag(d["running_since"], view.now)))
    desc = f'<p class="desc">{esc(task.description)}</p>' if task and task.description else ""
    marks = "" if d.get("registered", True) else '<span class="note-tag">discovered</span>'
    reasons = reason_list(item, view.now)
    if item.color in (health.RED, health.YELLOW):
        reasons += f'<p class="todo"><b>What to do:</b> {esc_advice(advice(item, view))}</p>'
    title = f'<a href="/task/{esc(item.name)}">{esc(item.name)}</a>' if live else esc(item.name)
    return f"""<article class="card c-{esc(item.color)}" id="task-{esc(item.name)}" data-item="task:{esc(item.name)}"{tags_attr(item, view)}>
<div class="card-head"><h3>{title}</h3>{marks}<span class="tag">{esc(item.color)}</span></div>
{desc}{reasons}
{fact_list(facts)}
{strip(item.name, runs, view, live, when)}
{notes(view, item.name)}
</article>"""


def tags_attr(item, view):
    tags = item_tags(item, view)
    return f' data-tags="{esc(" ".join(tags))}"' if tags else ""


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


def strip(name, runs, view, live=False, when=None):
    """The last STRIP runs, oldest first, as a list a keyboard and a screen reader can walk:
    each run is focusable (a link to its entry in the run log on the live page) and says its
    time, status, duration, exit code and summary (shown as a tip on hover and focus).
    Empty cells pad the left. `when`: started_at -> words, memoized per render."""
    when = when or (lambda text: run_time(text, view.now))
    cells = []
    for n, run in enumerate(reversed(runs[:STRIP])):
        if run["status"] is None:
            words, css = f"broken file {run['file']}: {run['problem'] or 'invalid'}", "s-invalid"
        else:
            # the status is one of the four (validated by heartbeat.check or report.unpack)
            words, css = run_words(run, when), f"s-{run['status']}"
        tip = f'<span class="tip">{esc(words)}</span>'
        if live:
            cells.append(f'<li class="{css}"><a href="/task/{esc(name)}#run-{esc(run["file"])}">{tip}</a></li>')
        else:
            cells.append(f'<li class="{css}" tabindex="0">{tip}</li>')
    pad = '<li class="s-none" aria-hidden="true"></li>' * (STRIP - len(cells))
    label = f"{name}: last {len(cells)} run{'s' if len(cells) != 1 else ''}, oldest first"
    return f'<ol class="strip" aria-label="{esc(label)}">{pad}{"".join(cells)}</ol>'


def notes(view, name):
    errors, warnings = newest_notes(view, name)
    rows = [f'<li class="err">{esc(e)}</li>' for e in errors[:NOTES_SHOWN]]
    rows += [f'<li class="warn">{esc(w)}</li>' for w in warnings[:NOTES_SHOWN]]
    more = len(errors) + len(warnings) - len(rows)
    if more > 0:
        rows.append(f'<li class="more">and {more} more</li>')
    runs = view.runs.get(name, [])
    summary = f'<p class="summary">{esc(runs[0]["summary"])}</p>' if runs and runs[0]["summary"] else ""
    return summary + metric_line(runs) + (f'<ul class="notes">{"".join(rows)}</ul>' if rows else "")


def metric_line(runs):
    metrics = runs[0].get("metrics") if runs else None
    if not metrics:
        return ""
    shown = [f'<span>{esc(k)} <b>{esc(short(v))}</b></span>' for k, v in list(metrics.items())[:METRICS_SHOWN]]
    if len(metrics) > METRICS_SHOWN:
        shown.append(f"<span>+{len(metrics) - METRICS_SHOWN} more</span>")
    return f'<p class="metrics">{"".join(shown)}</p>'


def short(value):
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= VALUE_CHARS else text[:VALUE_CHARS - 1] + "…"


def sources_section(sources, view, csrf, tag=None):
    cards = "\n".join(source_card(item, view, csrf, tag) for item in sources)
    hint = ""
    if csrf is None:
        url = view.registry.settings.dashboard_url
        link = f' or open <a href="{esc(url)}">the live dashboard</a>' if url else ""
        hint = (f'<p class="hint">This is a static snapshot: "Trigger now" works on the live dashboard '
                f'(run <code>alive serve</code>{link}).</p>')
    problem = f'<p class="lasterr" role="status">{esc(view.pending_problem)}</p>' if view.pending_problem else ""
    return f"""<section class="section" id="sources">
<h2>Sources</h2>
{hint}<div id="queue-problem" data-live>{problem}</div>
<div class="grid narrow" id="source-grid" data-live>
{cards}
</div>
</section>"""


def source_card(item, view, csrf, tag=None):
    d = item.details
    source = view.registry.sources.get(item.name)
    age, max_age = d.get("age_s"), d.get("max_age_s")
    fill = 100 if age is None or not max_age else max(2, min(100, int(100 * age / max_age)))
    reading = f"max age {span(max_age)}" if age is None else f"{span(age)} old, max {span(max_age)}"
    pill = (f'<span class="pill p-{esc(item.color)}">{esc(pill_word(item))} · {esc(reading)}</span>'
            f'<div class="bar" aria-hidden="true"><i style="width:{fill}%"></i></div>')
    refreshed = time_tag(d["last_success_at"], view.now) if d.get("last_success_at") else "never"
    facts = [("Last good data", refreshed), ("Failed refreshes", esc(d.get("consecutive_failures") or 0))]
    if d.get("captured_at"):
        facts.append(("Captured", time_tag(d["captured_at"], view.now, relative=False)))
    extra = []
    life = trigger_life_html(item, view)
    if life:
        state, words = life
        extra.append(f'<p class="trig t-{state}" data-trigger="{state}">{words}</p>')
    if d.get("last_error") and d.get("consecutive_failures"):
        extra.append(f'<p class="lasterr">last error: {esc(d["last_error"])}</p>')
    desc = f'<p class="desc">{esc(source.description)}</p>' if source and source.description else ""
    if source and source.probe:
        state = d.get("probe") or "unknown"
        extra.insert(0, f'<p class="probe">probe {esc(source.probe)}: <b class="pr-{esc(state)}">{esc(state)}</b></p>')
    todo = ""
    if item.color in (health.RED, health.YELLOW):
        todo = f'<p class="todo"><b>What to do:</b> {esc_advice(advice(item, view))}</p>'
    return f"""<article class="card c-{esc(item.color)}" id="source-{esc(item.name)}" data-item="source:{esc(item.name)}"{tags_attr(item, view)}>
<div class="card-head"><h3>{esc(item.name)}</h3><span class="tag">{esc(item.color)}</span></div>
{desc}{pill}
{reason_list(item, view.now)}{todo}
{fact_list(facts)}
{"".join(extra)}
{trigger_form(item.name, csrf, tag)}
</article>"""


def trigger_life_html(item, view):
    """words.trigger_life, its times as <time> ages (escaped words, or None): each time
    goes in as a mark of private-use characters, swapped for its tag after escaping."""
    times = []

    def mark(value):
        if instant(value) is None:
            return None
        times.append(value)
        return f"\ue000{len(times) - 1}\ue001"

    life = trigger_life(item, view, mark)
    if not life:
        return None
    words = esc(life[1])
    for n, value in enumerate(times):
        words = words.replace(f"\ue000{n}\ue001", time_tag(value, view.now), 1)
    return life[0], words


def pill_word(item):
    """What the pill says about the data. Its color is the item's, and "fresh" is said only of
    a GREEN (or paused) source: young data whose login expired or whose refreshes keep failing
    is not fresh, whatever its age."""
    d = item.details
    age, max_age = d.get("age_s"), d.get("max_age_s")
    if age is None:
        return "missing"
    if d.get("bad_status") is not None:
        return short(d["bad_status"])
    if max_age and age > max_age:
        return "stale"
    return "fresh" if item.color in (health.GREEN, health.GREY) else "recent"


def trigger_form(name, csrf, tag=None):
    """The live page's button has an id: after its POST, serve sends the browser back to
    /#trigger-<name>, which puts the focus back on it (no script needed); on a filtered
    page the form carries the tag, and the way back keeps it."""
    if csrf is None:
        return (f'<form class="trigger" method="post" action="/trigger/{esc(name)}">'
                f'<button type="submit" disabled title="needs the live dashboard: alive serve">Trigger now</button>'
                f'<span class="muted">needs <code>alive serve</code></span></form>')
    keep = f'<input type="hidden" name="tag" value="{esc(tag)}">' if tag else ""
    return (f'<form class="trigger" method="post" action="/trigger/{esc(name)}">{keep}'
            f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
            f'<button type="submit" id="trigger-{esc(name)}">Trigger now</button></form>')


def invalid_section(files):
    if not files:
        return ""
    rows = "".join(f'<tr><td class="file">{esc(f["file"])}</td><td>{esc(f["problem"])}</td></tr>'
                   for f in files[:INVALID_SHOWN])
    more = ""
    if len(files) > INVALID_SHOWN:
        more = f'<p class="muted">and {len(files) - INVALID_SHOWN} more: <code>alive lint</code> lists them all.</p>'
    return f"""<section class="section" id="invalid">
<h2>Invalid files <span class="muted">{len(files)}</span></h2>
<div class="scroll" tabindex="0" role="region" aria-label="invalid files"><table class="invalid"><thead><tr><th>file</th><th>problem</th></tr></thead><tbody>{rows}</tbody></table></div>
{more}
</section>"""


def footer(view, live):
    where = f" · ALIVE_HOME {view.home}" if view.home is not None else ""
    how = "served by <code>alive serve</code>" if live else "written by <code>alive report --format html</code>"
    return f"""<footer>{how} at {esc(zoned(view.now))}{esc(where)}</footer>
</main>
<script>{SCRIPT}</script>
</body>
</html>"""


# ---------------------------------------------------------------- the run log of one task

def task_page(name, item, runs, now, live=None, log_events=()):
    """/task/<id>: the task's card facts and its last runs (newest first), each with its
    time, status, duration, exit code, summary, errors, warnings and output tail, like
    healthchecks' ping log. `runs`: report.task_log rows. live: a Live (served: the
    script keeps it current as it does the dashboard). log_events: its /log pings not yet
    joined to a run (ping.log_events), listed above the runs as healthchecks lists them."""
    color = item.color if item else health.GREY
    rows = "\n".join(run_entry(run, now) for run in runs)
    why = reason_list(item, now) if item else ""
    attrs = live_attrs(live) if live else ""
    here = f"/task/{name}"
    return page_start(f"{name} · {color} · alive", CSS, APP_LINKS if live else "", attrs) + f"""
<main>
<p><a href="/">← all items</a></p>
<header class="top c-{esc(color)}" id="task-head" data-live><h1 class="badge"><span class="vh">Task </span>{esc(name)}<span class="vh">:</span> <span class="tag-big">{esc(color)}</span></h1>
<p class="checked" id="checked">{checked_line(now, now, live, here)}</p></header>
{banners(None, live)}
<section class="section card c-{esc(color)}" id="task-why" data-live>{why}</section>
<section class="section" id="runs" data-live>
{log_event_list(log_events, now)}{run_log(runs, rows)}
</section>
</main>
<script>{SCRIPT}</script>
</body>
</html>
"""


def log_event_list(events, now):
    """The /log pings that came with no run in progress, newest first ("" for none)."""
    if not events:
        return ""
    rows = "\n".join(f'<li class="logevent"><p class="run-head"><span class="st">log</span> '
                     f'{time_tag(e["at"], now, relative=False)}</p><pre tabindex="0">{esc(e["body"])}</pre></li>'
                     for e in reversed(events))
    return f"""<h2 id="log-title">Log events not yet joined to a run, newest first</h2>
<ol class="runlog" id="logevents">
{rows}
</ol>
"""


def run_log(runs, rows):
    """The runs as a list; no list at all (and no "Last 0 runs") before the first run."""
    if not runs:
        return '<h2 id="runs-title">Runs</h2>\n<p class="empty" id="no-runs">No run has reported yet.</p>'
    return f"""<h2 id="runs-title">Last {len(runs)} run{"s" if len(runs) != 1 else ""}, newest first</h2>
<ol class="runlog" id="runlog">
{rows}
</ol>"""


def run_entry(run, now):
    anchor = f"run-{run['file']}"
    if run["status"] is None:
        return (f'<li class="run s-invalid-row" id="{esc(anchor)}"><b>broken file</b> <code>{esc(run["file"])}</code>: '
                f'{esc(run["problem"] or "invalid")}</li>')
    bits = [f'<span class="st st-{esc(run["status"])}">{esc(run["status"])}</span>',
            f"<span>{time_tag(run['started_at'], now, relative=False)}"
            f"<span class=\"when-js\"> ({time_tag(run['started_at'], now)})</span></span>"]
    if run["duration_s"] is not None:
        bits.append(f"took {esc(took(run['duration_s']))}")
    if run.get("exit_code") is not None:
        bits.append(f"exit {esc(run['exit_code'])}")
    if run.get("host"):
        bits.append(f"on {esc(run['host'])}")
    lines = [f'<li class="run" id="{esc(anchor)}"><p class="run-head">{" ".join(bits)}</p>',
             f'<p class="summary">{esc(run["summary"])}</p>']
    lines += [f'<p class="lasterr">error: {esc(e)}</p>' for e in run.get("errors") or []]
    lines += [f'<p class="warntext">warning: {esc(w)}</p>' for w in run.get("warnings") or []]
    if run.get("metrics"):
        lines.append(metric_line([run]))
    if run.get("output_tail"):
        lines.append(f'<details><summary>Output (last part)</summary><pre tabindex="0">{esc(run["output_tail"])}</pre>'
                     f'</details>')
    return "\n".join(lines) + "</li>"


LEGEND = '<p class="legend">' + "".join(
    f'<span class="lg"><i class="s-{kind}"></i>{label}</span>'
    for kind, label in (("ok", "ok"), ("skipped", "skipped"), ("partial", "partial"), ("error", "error"),
                        ("invalid", "broken file"), ("none", "no run"))) + "</p>"

# The one script (see the module's docstring), and the page's styles: files next to this
# module, so editors and linters see them as what they are; read once, inlined into every
# page, which stays one self-contained file. Ages use words.span's words: keep the two alike.
SCRIPT = asset("dashboard.js")
CSS = asset("dashboard.css")
SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode()
# The static file carries its own policy (no server sends one): its script and nothing else.
STATIC_CSP = f"default-src 'none'; style-src 'unsafe-inline'; script-src '{SCRIPT_HASH}'; form-action 'none'"
