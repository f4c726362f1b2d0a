"""The run log of one task (`alive serve`'s /task/<id>): its card's reasons and its last runs."""
from alive.check import health
from alive.report.html_kit import APP_LINKS, CSS, SCRIPT, esc, live_attrs, page_start, took, time_tag, reason_list
from alive.report.render_html import banners, checked_line, metric_line


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
