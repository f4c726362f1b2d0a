"""The dashboard: one self-contained HTML page (inline CSS, no script, no external asset).

Every string from a heartbeat, a state file or the registry goes through esc()
(html.escape with quote=True), in text and in attributes alike: a summary
`<script>alert(1)</script>` shows as text. The page works with JavaScript off; it has none.

Trigger buttons: rendered by `alive serve` (csrf given) they are plain forms POSTing to
/trigger/<source> with the server's CSRF token in a hidden field. In a static file
(`alive report --format html`) there is no server to take the POST and no token to
carry, so the buttons are shown disabled, with a hint to run `alive serve` and a link
to settings.dashboard_url when it is set.
"""
import html
import json

from . import health
from .report import (advice, age_words, ago, badge_counts, iso_short, local_time, newest_notes, ordered,
                     trigger_note)
from .timeutil import format_duration, format_iso

STRIP = 20                      # cells in a task's strip of runs
NOTES_SHOWN = 3                 # newest errors and warnings shown per task
METRICS_SHOWN = 6               # the newest run's metrics, the first few, each cut to VALUE_CHARS
VALUE_CHARS = 60
INVALID_SHOWN = 500             # a health/ full of garbage still gives a page of reasonable size


def esc(value):
    return html.escape(str(value), quote=True)


def esc_advice(text):
    """Advice from report.advice(): `...` parts are our own commands, shown as code."""
    parts = text.split("`")
    return "".join(f"<code>{esc(part)}</code>" if n % 2 else esc(part) for n, part in enumerate(parts))


def render(view, csrf=None, refresh_s=None):
    """The page. csrf: the server's token (live page, working buttons); None: a static file.
    refresh_s: a <meta refresh> for the live page, so it stays current without script."""
    result = view.result
    red = [i for i in ordered(result.items) if i.color == health.RED]
    tasks = [i for i in ordered(result.items) if i.kind == "task"]
    sources = [i for i in ordered(result.items) if i.kind == "source"]
    parts = [head(result, refresh_s), header(view, csrf is not None)]
    if red:
        parts.append(priority(red, view))
    # Sources before the tasks: a fleet has a few of them and many tasks, and their
    # "Trigger now" buttons should not sit below a thousand task cards on a phone.
    if sources or view.registry.sources:
        parts.append(sources_section(sources, view, csrf))
    parts.append(health_section(tasks, view, open_=bool(red)))
    if result.invalid_files:
        parts.append(invalid_section(result.invalid_files))
    parts.append(footer(view, csrf is not None))
    return "\n".join(parts) + "\n"


def head(result, refresh_s):
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_s)}">\n' if refresh_s else ""
    return page_start(f"{result.overall} · alive", CSS, refresh) + "\n<main>"


def page_start(title, css, extra_head=""):
    """From <!doctype> to <body>: how every page alive writes or serves begins (serve's login page too)."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
{extra_head}<title>{esc(title)}</title>
<style>{css}</style>
</head>
<body>"""


def header(view, live):
    result = view.result
    counts = "".join(f'<span class="count">{esc(part)}</span>' for part in badge_counts(view))
    mode = "live, refreshes by itself" if live else "static snapshot"
    return f"""<header class="top c-{esc(result.overall)}" id="badge" data-overall="{esc(result.overall)}">
<div class="badge"><span class="dot big"></span>{esc(result.overall)}</div>
<div class="counts">{counts}</div>
<div class="checked">checked <time datetime="{esc(format_iso(result.checked_at))}">\
{esc(local_time(result.checked_at))}</time> · {mode}</div>
</header>"""


def priority(red, view):
    rows = []
    for item in red:
        anchor = f"{item.kind}-{item.name}"
        rows.append(f"""<li><a href="#{esc(anchor)}"><b>{esc(item.name)}</b></a> <span class="kind">{esc(item.kind)}</span>
<div class="why">{esc("; ".join(item.reasons))}</div>
<div class="todo"><b>What to do:</b> {esc_advice(advice(item, view))}</div></li>""")
    return f"""<section class="priority" id="priority">
<h2>Priority #1</h2>
<ol>{"".join(rows)}</ol>
</section>"""


def health_section(tasks, view, open_):
    c = {color: sum(1 for t in tasks if t.color == color) for color in (health.RED, health.YELLOW)}
    bits = [f"{len(tasks)} task{'s' if len(tasks) != 1 else ''}"]
    bits += [f"{n} {color}" for color, n in c.items() if n]
    import functools

    when = functools.lru_cache(maxsize=4096)(lambda text: iso_short(text, view.now))
    cards = "\n".join(task_card(item, view, when) for item in tasks) or \
        '<p class="empty">No task has reported yet and fleet.toml registers none.</p>'
    return f"""<details class="section" id="health"{" open" if open_ else ""}>
<summary><h2>System Health</h2> <span class="muted">{esc(" · ".join(bits))}</span></summary>
{LEGEND}
<div class="grid">
{cards}
</div>
</details>"""


def task_card(item, view, when=None):
    d = item.details
    runs = view.runs.get(item.name, [])
    task = view.registry.tasks.get(item.name)
    last = iso_short(runs[0]["started_at"], view.now) if runs and runs[0]["started_at"] else "never"
    facts = [("Last run", last), ("Status", d.get("last_status") or "-"), ("Age", age_words(d.get("age_s"))),
             ("Runs 24 h", view.runs_24h.get(item.name, 0)), ("Errors in a row", d.get("consecutive_errors") or 0),
             ("Max gap", age_words(d.get("max_gap_s")))]
    desc = f'<p class="desc">{esc(task.description)}</p>' if task and task.description else ""
    tags = "" if d.get("registered", True) else '<span class="note-tag">discovered</span>'
    reasons = reason_list(item)
    if item.color in (health.RED, health.YELLOW):
        reasons += f'<p class="todo"><b>What to do:</b> {esc_advice(advice(item, view))}</p>'
    return f"""<article class="card c-{esc(item.color)}" id="task-{esc(item.name)}" data-item="task:{esc(item.name)}">
<div class="card-head"><h3>{esc(item.name)}</h3>{tags}<span class="tag">{esc(item.color)}</span></div>
{desc}{reasons}
{fact_list(facts)}
{strip(runs, view, when)}
{notes(view, item.name)}
</article>"""


def reason_list(item):
    if not item.reasons:
        return '<p class="fine">on time</p>'
    return '<ul class="reasons">' + "".join(f"<li>{esc(r)}</li>" for r in item.reasons) + "</ul>"


def fact_list(facts):
    return '<dl class="facts">' + "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in facts) + "</dl>"


def strip(runs, view, when=None):
    """The last STRIP runs as colored cells, oldest on the left; empty cells pad the left.
    `when` turns a started_at into short local words; render() passes one memoized per
    minute, because a fleet's runs share minutes and 20 cells x 1,000 tasks add up."""
    when = when or (lambda text: iso_short(text, view.now))
    cells = []
    for run in reversed(runs[:STRIP]):
        if run["status"] is None:
            broken = f"{run['file']}: {run['problem'] or 'invalid'}"
            cells.append(f'<span class="s-invalid" title="{esc(broken)}"></span>')
            continue
        took = f" · {format_duration(run['duration_s'])}" if run["duration_s"] is not None else ""
        title = f"{when(run['started_at'])} · {run['status']}{took} · {run['summary']}"
        # the status is one of the four (validated by heartbeat.check or report.unpack): no escaping needed
        cells.append(f'<span class="s-{run["status"]}" title="{esc(title)}"></span>')
    pad = ['<span class="s-none"></span>'] * (STRIP - len(cells))
    label = f"last {len(cells)} run{'s' if len(cells) != 1 else ''}, oldest first"
    return f'<div class="strip" role="img" aria-label="{esc(label)}">{"".join(pad + cells)}</div>'


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


def sources_section(sources, view, csrf):
    cards = "\n".join(source_card(item, view, csrf) for item in sources)
    hint = ""
    if csrf is None:
        url = view.registry.settings.dashboard_url
        link = f' or open <a href="{esc(url)}">the live dashboard</a>' if url else ""
        hint = (f'<p class="hint">This is a static snapshot: "Trigger now" works on the live dashboard '
                f'(run <code>alive serve</code>{link}).</p>')
    return f"""<section class="section" id="sources">
<h2>Sources</h2>
{hint}
<div class="grid narrow">
{cards}
</div>
</section>"""


def source_card(item, view, csrf):
    d = item.details
    source = view.registry.sources.get(item.name)
    age, max_age = d.get("age_s"), d.get("max_age_s")
    fill = 100 if age is None or not max_age else max(2, min(100, int(100 * age / max_age)))
    reading = f"max age {age_words(max_age)}" if age is None else f"{age_words(age)} / {age_words(max_age)}"
    pill = (f'<span class="pill p-{esc(item.color)}">{esc(pill_word(item))} · {esc(reading)}</span>'
            f'<div class="bar" aria-hidden="true"><i style="width:{fill}%"></i></div>')
    refreshed = ago(d["last_success_at"], view.now) if d.get("last_success_at") else None
    facts = [("Last refresh", refreshed or "never"),
             ("Failed refreshes", d.get("consecutive_failures") or 0)]
    if d.get("captured_at"):
        facts.append(("Captured", iso_short(d["captured_at"], view.now)))
    extra = []
    note = trigger_note(item, view)
    if note:
        extra.append(f'<p class="trig">{esc(note)}</p>')
    queued = view.pending.get(item.name, [])
    if queued:
        extra.append(f'<p class="trig">refresh queued {esc(ago(queued[0]["requested_at"], view.now) or "")}'
                     f'{" (" + str(len(queued)) + " requests)" if len(queued) > 1 else ""}</p>')
    if d.get("last_error") and d.get("consecutive_failures"):
        extra.append(f'<p class="lasterr">last error: {esc(d["last_error"])}</p>')
    desc = f'<p class="desc">{esc(source.description)}</p>' if source and source.description else ""
    if source and source.probe:
        state = d.get("probe") or "unknown"
        extra.insert(0, f'<p class="probe">probe {esc(source.probe)}: <b class="pr-{esc(state)}">{esc(state)}</b></p>')
    todo = ""
    if item.color in (health.RED, health.YELLOW):
        todo = f'<p class="todo"><b>What to do:</b> {esc_advice(advice(item, view))}</p>'
    return f"""<article class="card c-{esc(item.color)}" id="source-{esc(item.name)}" data-item="source:{esc(item.name)}">
<div class="card-head"><h3>{esc(item.name)}</h3><span class="tag">{esc(item.color)}</span></div>
{desc}{pill}
{reason_list(item)}{todo}
{fact_list(facts)}
{"".join(extra)}
{trigger_form(item.name, csrf)}
</article>"""


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


def trigger_form(name, csrf):
    if csrf is None:
        return (f'<form class="trigger" method="post" action="/trigger/{esc(name)}">'
                f'<button type="submit" disabled title="needs the live dashboard: alive serve">Trigger now</button>'
                f'<span class="muted">needs <code>alive serve</code></span></form>')
    return (f'<form class="trigger" method="post" action="/trigger/{esc(name)}">'
            f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
            f'<button type="submit">Trigger now</button></form>')


def invalid_section(files):
    rows = "".join(f'<tr><td class="file">{esc(f["file"])}</td><td>{esc(f["problem"])}</td></tr>'
                   for f in files[:INVALID_SHOWN])
    more = ""
    if len(files) > INVALID_SHOWN:
        more = f'<p class="muted">and {len(files) - INVALID_SHOWN} more: <code>alive lint</code> lists them all.</p>'
    return f"""<section class="section" id="invalid">
<h2>Invalid files <span class="muted">{len(files)}</span></h2>
<div class="scroll"><table class="invalid"><thead><tr><th>file</th><th>problem</th></tr></thead><tbody>{rows}</tbody></table></div>
{more}
</section>"""


def footer(view, live):
    where = f" · ALIVE_HOME {view.home}" if view.home is not None else ""
    how = "served by <code>alive serve</code>" if live else "written by <code>alive report --format html</code>"
    return f"""<footer>{how} at {esc(local_time(view.now))}{esc(where)}</footer>
</main>
</body>
</html>"""


LEGEND = '<p class="legend">' + "".join(
    f'<span class="lg"><i class="s-{kind}"></i>{label}</span>'
    for kind, label in (("ok", "ok"), ("skipped", "skipped"), ("partial", "partial"), ("error", "error"),
                        ("invalid", "broken file"), ("none", "no run"))) + "</p>"

CSS = """
:root{--green:#1a7f37;--yellow:#b08800;--red:#cf222e;--grey:#6e7781;--bg:#f3f5f8;--card:#fff;--ink:#1f2328;
--muted:#59636e;--line:#d8dee4;--ok:#2da44e;--skipped:#9bd4a8;--partial:#e3b341;--error:#cf222e;--invalid:#8250df;
--none:#e6eaef;--soft:#f6f8fa}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--card:#161b22;--ink:#e6edf3;--muted:#9198a1;
--line:#30363d;--none:#262c36;--soft:#1c2129;--skipped:#3d7a4d}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--ink);
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans","DejaVu Sans",sans-serif}
main{max-width:1240px;margin:0 auto;padding:14px}
a{color:inherit}
code,.file{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:.9em}
.c-GREEN{--c:var(--green)}.c-YELLOW{--c:var(--yellow)}.c-RED{--c:var(--red)}.c-GREY{--c:var(--grey)}
.top{display:flex;flex-wrap:wrap;align-items:center;gap:10px 18px;padding:16px 20px;border-radius:14px;
background:var(--c);color:#fff;box-shadow:0 2px 8px rgba(0,0,0,.12)}
.badge{display:flex;align-items:center;gap:10px;font-size:30px;font-weight:800;letter-spacing:.05em}
.dot{display:inline-block;width:12px;height:12px;border-radius:50%;background:var(--c)}
.dot.big{width:18px;height:18px;background:#fff;box-shadow:0 0 0 4px rgba(255,255,255,.35)}
.counts{display:flex;flex-wrap:wrap;gap:6px}
.count{background:rgba(255,255,255,.2);border-radius:999px;padding:3px 11px;font-weight:600;font-size:14px}
.checked{font-size:14px;opacity:.92;flex-basis:100%}
@media (min-width:800px){.checked{flex-basis:auto;margin-left:auto}}
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
.priority h2{color:var(--red)}
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
.card-head{display:flex;align-items:center;gap:8px}
.card h3{margin:0;font-size:16px;overflow-wrap:anywhere;flex:1}
.tag{font-size:11px;font-weight:800;letter-spacing:.05em;color:#fff;background:var(--c);border-radius:999px;padding:2px 9px}
.note-tag{font-size:11px;color:var(--muted);border:1px solid var(--line);border-radius:999px;padding:1px 7px}
.desc{margin:2px 0 0;color:var(--muted);font-size:13px}
.reasons{margin:6px 0 0;padding-left:18px;overflow-wrap:anywhere}
.fine{margin:6px 0 0;color:var(--green);font-weight:600}
.facts{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:6px 12px;margin:10px 0 0}
.facts div{min-width:0}
.facts dt{font-size:11px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}
.facts dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.strip{display:grid;grid-template-columns:repeat(20,minmax(0,1fr));gap:3px;margin-top:10px}
.strip span{display:block;height:20px;border-radius:3px;background:var(--none)}
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
.notes .err{color:var(--red)}.notes .warn{color:var(--yellow)}.notes .more{color:var(--muted);list-style:none}
.pill{display:inline-block;margin-top:8px;font-size:13px;font-weight:700;border-radius:999px;padding:2px 10px;color:#fff}
.p-GREEN{background:var(--green)}.p-YELLOW{background:var(--yellow)}.p-RED{background:var(--red)}
.p-GREY{background:var(--grey)}
.bar{height:6px;border-radius:3px;background:var(--none);margin-top:6px;overflow:hidden}
.bar i{display:block;height:100%;background:var(--c)}
.probe{margin:8px 0 0;font-size:13px;color:var(--muted)}
.probe b{color:var(--grey)}.probe .pr-alive{color:var(--green)}.probe .pr-expired,.probe .pr-no_tab{color:var(--red)}
.trig{margin:8px 0 0;font-size:13px;color:var(--green);font-weight:600}
.lasterr{margin:8px 0 0;font-size:13px;color:var(--red);overflow-wrap:anywhere}
.trigger{display:flex;flex-wrap:wrap;align-items:center;gap:6px 10px;margin-top:12px}
.trigger button{font:inherit;font-weight:700;font-size:14px;color:#fff;background:#0969da;border:0;border-radius:8px;
padding:8px 16px;min-height:40px;cursor:pointer;white-space:nowrap}
.trigger button:hover{background:#0550ae}
.trigger button[disabled]{background:var(--grey);opacity:.55;cursor:not-allowed}
.hint{margin:0 0 10px;font-size:14px;color:var(--muted)}
.scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:12px}
table.invalid{border-collapse:collapse;width:100%;font-size:13px}
table.invalid th,table.invalid td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
table.invalid td{overflow-wrap:anywhere}
.empty{color:var(--muted)}
footer{margin:22px 0 8px;font-size:12px;color:var(--muted);text-align:center;overflow-wrap:anywhere}
"""
