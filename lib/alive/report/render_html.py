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

# The one script (see the module's docstring). Ages use words.span's words: keep the two alike.
SCRIPT = r"""(function () {
"use strict";
var root = document.documentElement, poll = Number(root.getAttribute("data-poll")) * 1000 || 0;
var etag = root.getAttribute("data-etag"), userToggled = false;
root.classList.add("js");
function span(s) {
  s = Math.floor(Math.abs(s));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min";
  if (s < 259200) { var h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60); return m && h < 10 ? h + " h " + m + " min" : h + " h"; }
  var d = Math.floor(s / 86400), dh = Math.floor(s % 86400 / 3600);
  return dh && d < 10 ? d + " d " + dh + " h" : d + " d";
}
function ago(s) { return Math.abs(s) < 5 ? "just now" : s > 0 ? span(s) + " ago" : "in " + span(s); }
function ages() {
  var now = Date.now();
  document.querySelectorAll("time[data-ago]").forEach(function (t) {
    var w = ago((now - Date.parse(t.dateTime)) / 1000);
    if (t.textContent !== w) t.textContent = w;
  });
}
function filter() {
  var tag = new URLSearchParams(location.search).get("tag");
  if (!tag || (poll && !root.hasAttribute("data-cached"))) return;   // served: the server filtered it
  document.querySelectorAll("[data-tags], article.card").forEach(function (c) {
    c.hidden = (" " + (c.getAttribute("data-tags") || "") + " ").indexOf(" " + tag + " ") < 0;
  });
}
var FOCUSABLE = "a[href],button,input,summary,[tabindex]";
function focusKey() {
  var a = document.activeElement, host = a && a !== document.body ? a.closest("[id]") : null;
  return host ? [host.id, Array.prototype.indexOf.call(host.querySelectorAll(FOCUSABLE), a)] : null;
}
function refocus(key) {
  var host = key && document.getElementById(key[0]);
  if (!host) return;
  var el = key[1] < 0 ? host : host.querySelectorAll(FOCUSABLE)[key[1]];
  if (el && el !== document.activeElement) el.focus({preventScroll: true});
}
function keyed(el) { return el.children.length > 0 && Array.prototype.every.call(el.children, function (c) { return c.id; }); }
function children(old, fresh) {
  // children with ids are matched by id: only the ones that changed are replaced, new ones
  // inserted where they belong, gone ones removed; anything else is replaced whole
  if (!keyed(old) || !keyed(fresh)) { old.innerHTML = fresh.innerHTML; return; }
  var byId = {};
  Array.prototype.forEach.call(old.children, function (c) { byId[c.id] = c; });
  Array.prototype.slice.call(fresh.children).forEach(function (f, at) {
    var had = byId[f.id], node = had && had.outerHTML === f.outerHTML ? had : document.importNode(f, true);
    delete byId[f.id];
    if (had && node !== had) had.remove();
    if (old.children[at] !== node) old.insertBefore(node, old.children[at] || null);
  });
  Object.keys(byId).forEach(function (id) { byId[id].remove(); });
}
function attrs(to, from) {
  Array.prototype.slice.call(to.attributes).forEach(function (a) { if (!from.hasAttribute(a.name)) to.removeAttribute(a.name); });
  Array.prototype.forEach.call(from.attributes, function (a) { if (to.getAttribute(a.name) !== a.value) to.setAttribute(a.name, a.value); });
}
function swap(html) {
  var doc = new DOMParser().parseFromString(html, "text/html"), key = focusKey(), x = scrollX, y = scrollY;
  document.querySelectorAll("[data-live]").forEach(function (old) {
    var fresh = doc.getElementById(old.id);
    if (!fresh) return;
    attrs(old, fresh);
    if (fresh.innerHTML !== old.innerHTML) children(old, fresh);
  });
  var health = document.getElementById("health"), next = doc.getElementById("health");
  if (health && next && !userToggled) health.open = next.open;
  document.title = doc.title;
  refocus(key);
  if (scrollX !== x || scrollY !== y) scrollTo(x, y);
}
function clock(ms) {
  return new Date(ms).toLocaleString([], {weekday: "short", hour: "numeric", minute: "2-digit", timeZoneName: "short"});
}
function checkedTime() { return document.querySelector("#checked time[data-ago]"); }
function live(why) {
  // why: null (live), "offline", or what went wrong. Not live: said at once, with the time of
  // the data shown, and the Trigger now buttons are off (a press would only find an error page)
  var box = document.getElementById("offline"), state = document.getElementById("live-state"), t = checkedTime();
  if (state) state.textContent = !why ? "live" : why === "offline" ? "offline" : "not live";
  document.querySelectorAll("form.trigger button").forEach(function (b) {
    if (why && !b.disabled) { b.disabled = true; b.setAttribute("data-off", ""); }
    if (!why && b.hasAttribute("data-off")) { b.disabled = false; b.removeAttribute("data-off"); }
  });
  if (!box) return;
  box.hidden = !why;
  if (!why) return;
  var at = t ? Date.parse(t.dateTime) : Date.now(), age = document.createElement("time");
  age.dateTime = new Date(at).toISOString();
  age.setAttribute("data-ago", "");
  box.textContent = (why === "offline" ? "Offline: alive serve cannot be reached" : "Not live (" + why + ")") +
    ". This page shows the fleet as of " + clock(at) + " (";
  box.appendChild(age);
  box.appendChild(document.createTextNode("); Trigger now is off until it is back."));
  ages();
}
function current() {
  // the server answered: what the page shows is current now
  var t = checkedTime();
  if (t) { t.dateTime = new Date().toISOString(); t.title = clock(Date.now()); }
}
function page(r) {
  if (!r.ok) throw new Error(r.status === 401 ? "logged out: reload to log in" : "HTTP " + r.status);
  return r;
}
var timer = 0, asking = false;
function tick() {
  // one request per poll: this page's own URL with its ETag; 304 while nothing changed
  if (asking) return;
  asking = true;
  clearTimeout(timer);
  var headers = etag ? {"If-None-Match": etag} : {};
  fetch(location.pathname + location.search, {headers: headers, cache: "no-store", credentials: "same-origin"})
    .then(function (r) {
      if (r.status === 304) return;
      var next = page(r).headers.get("ETag");
      return r.text().then(function (html) { swap(html); etag = next; });
    }).then(function () { current(); live(null); }, function (e) {
      live(e instanceof TypeError || !e.message ? "offline" : e.message);
    }).then(function () { asking = false; ages(); timer = setTimeout(tick, poll); });
}
var params = new URLSearchParams(location.search);
if (params.has("notice")) {
  params.delete("notice");
  history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : "") + location.hash);
}
var summary = document.querySelector("#health > summary");
if (summary) summary.addEventListener("click", function () { userToggled = true; });
ages();
filter();
setInterval(ages, 15000);
if (poll) {
  // a copy the service worker kept (data-cached), or no network: offline from the first paint
  if (root.hasAttribute("data-cached") || navigator.onLine === false) { live("offline"); tick(); }
  else { live(null); timer = setTimeout(tick, poll); }
  addEventListener("offline", function () { live("offline"); });
  addEventListener("online", tick);
  addEventListener("pageshow", function (e) { if (e.persisted) tick(); });
}
if (root.hasAttribute("data-sw") && "serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(function () {});
})();"""

SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode()
# The static file carries its own policy (no server sends one): its script and nothing else.
STATIC_CSP = f"default-src 'none'; style-src 'unsafe-inline'; script-src '{SCRIPT_HASH}'; form-action 'none'"

CSS = """
:root{--green:#1a7f37;--yellow:#8a5d00;--red:#cf222e;--grey:#5c6570;--bg:#f3f5f8;--card:#fff;--ink:#1f2328;
--muted:#59636e;--line:#d8dee4;--ok:#2da44e;--skipped:#9bd4a8;--partial:#e3b341;--error:#cf222e;--invalid:#8250df;
--none:#e6eaef;--soft:#f6f8fa;--t-green:#1a7f37;--t-yellow:#8a5d00;--t-red:#cf222e;--t-blue:#0969da;--focus:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--ink:#e6edf3;--muted:#9198a1;
--line:#30363d;--none:#262c36;--soft:#1c2129;--skipped:#3d7a4d;--t-green:#3fb950;--t-yellow:#d29922;--t-red:#ff7b72;
--t-blue:#58a6ff;--focus:#58a6ff}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","DejaVu Sans",sans-serif}
main{max-width:1240px;margin:0 auto;padding:14px}
a{color:inherit}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
code,.file,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:.9em}
.c-GREEN{--c:var(--green)}.c-YELLOW{--c:var(--yellow)}.c-RED{--c:var(--red)}.c-GREY{--c:var(--grey)}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:10px 18px;padding:16px 20px;border-radius:14px;
background:var(--c);color:#fff;box-shadow:0 2px 8px rgba(0,0,0,.12)}
.top :focus-visible{outline-color:#fff}
.badge{display:flex;align-items:center;gap:10px;font-size:30px;font-weight:800;letter-spacing:.05em;margin:0}
.dot{display:inline-block;width:12px;height:12px;border-radius:50%;background:var(--c)}
.dot.big{width:18px;height:18px;background:#fff;box-shadow:0 0 0 4px rgba(255,255,255,.35)}
.counts{display:flex;flex-wrap:wrap;gap:6px;margin:0;padding:0;list-style:none}
.count{background:rgba(0,0,0,.25);border-radius:999px;padding:3px 11px;font-weight:600;font-size:14px}
.checked{font-size:14px;flex-basis:100%;margin:0}
.checked a{color:#fff}
html:not(.js) .when-js{display:none}html.js .when-nojs{display:none}
.logout button{font:inherit;font-size:13px;color:#fff;background:transparent;border:1px solid #fff;border-radius:8px;
padding:4px 10px;min-height:32px;cursor:pointer}
@media (min-width:800px){.checked{flex-basis:auto;margin-left:auto}}
.notice{margin:12px 0 0;padding:10px 14px;border-radius:10px;background:var(--card);border:2px solid var(--t-blue);
font-weight:600}
.tags{margin:12px 0 0;font-size:14px;display:flex;flex-wrap:wrap;gap:6px;align-items:center}
.tags a{border:1px solid var(--line);border-radius:999px;padding:2px 10px;background:var(--card);text-decoration:none}
.tags a[aria-current]{background:var(--ink);color:var(--card);font-weight:700}
h2{font-size:19px;margin:0}
.section{margin-top:18px}
section.section>h2{margin-bottom:10px}
details.section>summary{list-style:none;cursor:pointer;display:flex;flex-wrap:wrap;align-items:baseline;
gap:4px 10px;padding:6px 0 10px}
details.section>summary h2{white-space:nowrap}
details.section>summary::-webkit-details-marker{display:none}
details.section>summary::before{content:"\\25B8";color:var(--muted);font-size:14px}
details.section[open]>summary::before{content:"\\25BE"}
.muted{color:var(--muted);font-weight:400;font-size:14px}
.priority{margin-top:16px;background:var(--card);border:2px solid var(--red);border-radius:14px;padding:12px 16px}
.priority h2{color:var(--t-red)}
.priority ol{margin:8px 0 0;padding-left:22px}
.priority li{margin:0 0 10px}
.priority .kind{font-size:12px;color:var(--muted);border:1px solid var(--line);border-radius:999px;padding:0 7px}
.why{color:var(--ink);overflow-wrap:anywhere}
.todo{margin:4px 0 0;font-size:14px;background:var(--soft);border-radius:8px;padding:6px 10px;overflow-wrap:anywhere}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(340px,1fr));gap:12px}
.grid.narrow{grid-template-columns:repeat(auto-fill,minmax(285px,1fr))}
@media (max-width:480px){.grid,.grid.narrow{grid-template-columns:1fr}main{padding:10px}.badge{font-size:26px}}
.card{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--c);border-radius:12px;
padding:12px 14px;min-width:0;box-shadow:0 1px 2px rgba(0,0,0,.04)}
.card[hidden]{display:none}
.card-head{display:flex;align-items:center;gap:8px}
.card h3{margin:0;font-size:16px;overflow-wrap:anywhere;flex:1}
.tag,.tag-big{font-size:11px;font-weight:800;letter-spacing:.05em;color:#fff;background:var(--c);border-radius:999px;padding:2px 9px}
.tag-big{font-size:15px;background:rgba(0,0,0,.25)}
.note-tag{font-size:11px;color:var(--muted);border:1px solid var(--line);border-radius:999px;padding:1px 7px}
.desc{margin:2px 0 0;color:var(--muted);font-size:13px}
.reasons{margin:6px 0 0;padding-left:18px;overflow-wrap:anywhere}
.fine{margin:6px 0 0;color:var(--t-green);font-weight:600}
.facts{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:6px 12px;margin:10px 0 0}
.facts div{min-width:0}
.facts dt{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.facts dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.strip{display:grid;grid-template-columns:repeat(10,minmax(24px,1fr));gap:3px;margin:10px 0 0;padding:0;list-style:none}
.strip li{position:relative;display:block;height:24px;border-radius:3px;background:var(--none)}
.strip a{display:block;height:100%;border-radius:3px}
.tip{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
.strip li:hover .tip,.strip li:focus .tip,.strip li:focus-within .tip{clip:auto;width:max-content;max-width:260px;height:auto;
white-space:normal;z-index:5;bottom:30px;left:50%;transform:translateX(-50%);background:var(--ink);color:var(--card);
font-size:12px;padding:5px 8px;border-radius:6px;overflow-wrap:anywhere;box-shadow:0 2px 8px rgba(0,0,0,.25)}
.strip li:nth-child(10n+1) .tip,.strip li:nth-child(10n+2) .tip,.strip li:nth-child(10n+3) .tip{left:0;transform:none}
.strip li:nth-child(10n+8) .tip,.strip li:nth-child(10n+9) .tip,.strip li:nth-child(10n) .tip{left:auto;right:0;transform:none}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:0 0 10px;font-size:13px;color:var(--muted)}
.lg{display:inline-flex;align-items:center;gap:5px;white-space:nowrap}
.lg i{display:inline-block;width:12px;height:12px;border-radius:3px;background:var(--none)}
.s-ok{background:var(--ok)!important}.s-skipped{background:var(--skipped)!important}
.s-partial{background:var(--partial)!important}.s-error{background:var(--error)!important}
.s-invalid{background:repeating-linear-gradient(45deg,var(--invalid) 0 3px,transparent 3px 6px)!important}
.metrics{display:flex;flex-wrap:wrap;gap:2px 12px;margin:4px 0 0;font-size:13px;color:var(--muted);overflow-wrap:anywhere}
.metrics b{color:var(--ink);font-weight:600}
.summary{margin:8px 0 0;font-size:13px;color:var(--muted);overflow-wrap:anywhere}
.notes{margin:6px 0 0;padding-left:18px;font-size:13px;overflow-wrap:anywhere}
.notes .err{color:var(--t-red)}.notes .warn{color:var(--t-yellow)}.notes .more{color:var(--muted);list-style:none}
.pill{display:inline-block;margin-top:8px;font-size:13px;font-weight:700;border-radius:999px;padding:2px 10px;color:#fff}
.p-GREEN{background:var(--green)}.p-YELLOW{background:var(--yellow)}.p-RED{background:var(--red)}
.p-GREY{background:var(--grey)}
.bar{height:6px;border-radius:3px;background:var(--none);margin-top:6px;overflow:hidden}
.bar i{display:block;height:100%;background:var(--c)}
.probe{margin:8px 0 0;font-size:13px;color:var(--muted)}
.probe b{color:var(--muted)}.probe .pr-alive{color:var(--t-green)}.probe .pr-expired,.probe .pr-no_tab{color:var(--t-red)}
.trig{margin:8px 0 0;font-size:13px;font-weight:600;border-radius:8px;padding:5px 9px;background:var(--soft);
border-left:4px solid var(--t-blue);color:var(--ink)}
.t-refreshed{border-color:var(--t-green);color:var(--t-green)}
.t-failed,.t-refused{border-color:var(--t-red);color:var(--t-red)}
.lasterr{margin:8px 0 0;font-size:13px;color:var(--t-red);overflow-wrap:anywhere}
.warntext{margin:6px 0 0;font-size:13px;color:var(--t-yellow);overflow-wrap:anywhere}
.trigger{display:flex;flex-wrap:wrap;align-items:center;gap:6px 10px;margin-top:12px}
.trigger button{font:inherit;font-weight:700;font-size:14px;color:#fff;background:#0969da;border:0;border-radius:8px;
padding:8px 16px;min-height:40px;cursor:pointer;white-space:nowrap}
.trigger button:hover{background:#0550ae}
.trigger button[disabled]{background:var(--none);color:var(--muted);cursor:not-allowed}
.hint{margin:0 0 10px;font-size:14px;color:var(--muted)}
.scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:12px}
table.invalid{border-collapse:collapse;width:100%;font-size:13px}
table.invalid th,table.invalid td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
table.invalid td{overflow-wrap:anywhere}
.empty{color:var(--muted)}
.runlog{list-style:none;margin:0;padding:0;display:grid;gap:8px}
.run{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:10px 12px;min-width:0}
.run:target{outline:3px solid var(--focus)}
.run-head{margin:0;display:flex;flex-wrap:wrap;gap:4px 10px;align-items:baseline}
.st{font-weight:800;font-size:12px;border-radius:999px;padding:1px 8px;color:#fff;background:var(--grey)}
.st-ok{background:var(--green)}.st-skipped{background:var(--green)}.st-partial{background:var(--yellow)}
.st-error{background:var(--red)}
.run pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--soft);padding:8px;border-radius:6px;max-height:360px;
overflow:auto;margin:6px 0 0}
footer{margin:22px 0 8px;font-size:12px;color:var(--muted);text-align:center;overflow-wrap:anywhere}
"""
