"""The dashboard: one self-contained HTML page (inline CSS, one small inline script, no
external asset; both are html_kit's). The run log page of one task is render_task.py.

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
import functools
from dataclasses import dataclass

from alive.check import health
from alive.report.html_kit import (APP_LINKS, CSS, SCRIPT, STATIC_CSP, esc, esc_advice, fact_list, instant, item_tags,
                                   live_attrs, page_start, reason_list, reasons_html, run_words, short, tags_attr,
                                   time_tag)
from alive.report.render_sources import sources_section
from alive.report.words import advice, grey_counts, newest_notes, ordered, short_time, span, zoned

STRIP = 20                      # cells in a task's strip of runs
NOTES_SHOWN = 3                 # newest errors and warnings shown per task
METRICS_SHOWN = 6               # the newest run's metrics, the first few, each cut (html_kit.short)
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


def head(result, live):
    if live:
        extra, attrs = APP_LINKS, live_attrs(live)
    else:
        extra = f'<meta http-equiv="Content-Security-Policy" content="{esc(STATIC_CSP)}">\n'
        attrs = ""
    return page_start(f"{result.overall} · alive", CSS, extra, attrs) + "\n<main>"


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


LEGEND = '<p class="legend">' + "".join(
    f'<span class="lg"><i class="s-{kind}"></i>{label}</span>'
    for kind, label in (("ok", "ok"), ("skipped", "skipped"), ("partial", "partial"), ("error", "error"),
                        ("invalid", "broken file"), ("none", "no run"))) + "</p>"
