"""The morning brief's "Systems status" section, in Markdown.

Every string from a heartbeat or the registry goes through md(): HTML-significant
characters become entities (many Markdown renderers pass raw HTML through, so a summary
`<script>` must not survive as a tag), Markdown punctuation is backslash-escaped (no
injected links, emphasis or headings), and newlines fold to spaces. In table cells `|`
is escaped too, so a value cannot add columns.
"""
from alive.check import health
from alive.report.words import advice, age_words, badge_counts, iso_short, local_time, newest_notes, ordered, trigger_note

EMOJI = {health.GREEN: "🟢", health.YELLOW: "🟡", health.RED: "🔴", health.GREY: "⚪"}
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_PUNCTUATION = set("\\`*_{}[]#!|~")   # ( ) need no escape: [ ] never survive to open a link
NOTES_SHOWN = 3                 # newest errors and warnings shown per task


def md(value):
    """Any value as inline Markdown text that renders exactly as itself."""
    out = []
    for ch in " ".join(str(value).split()):   # newlines, tabs, runs of spaces: one space
        if ch in _ENTITIES:
            out.append(_ENTITIES[ch])
        elif ch in _PUNCTUATION:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def md_advice(text):
    """Advice from words.advice(): `...` parts are our own commands (shown as code, their
    text is ours and registry names), everything else is md()-escaped."""
    parts = text.split("`")
    return "".join(f"`{part}`" if n % 2 else _keep_edges(part, md(part)) for n, part in enumerate(parts))


def _keep_edges(raw, escaped):
    """md() trims; the spaces around a `command` belong to the sentence."""
    lead = " " if raw[:1].isspace() and escaped else ""
    trail = " " if raw[-1:].isspace() and escaped else ""
    return f"{lead}{escaped}{trail}"


def cell(value):
    """A table cell: md() already escapes `|` and folds newlines; an empty cell shows -."""
    text = md(value)
    return text if text else "-"


def render(view):
    result = view.result
    lines = ["## Systems status", ""]
    lines.append(f"{EMOJI[result.overall]} **{result.overall}** · " + " · ".join(badge_counts(view))
                 + f" · checked {local_time(result.checked_at)}")
    red = [i for i in ordered(result.items) if i.color == health.RED]
    if red:
        lines += ["", "### Priority #1", ""]
        for n, item in enumerate(red, 1):
            lines.append(f"{n}. **{md(item.name)}** ({item.kind}): {md('; '.join(item.reasons))}")
            lines.append(f"   - What to do: {md_advice(advice(item, view))}")
    tasks = [i for i in ordered(result.items) if i.kind == "task"]
    sources = [i for i in ordered(result.items) if i.kind == "source"]
    if tasks:
        lines += ["", "### Tasks", "",
                  "| task | health | last run | status | age | runs 24 h | errors in a row | newest errors and warnings |",
                  "|---|---|---|---|---|---:|---:|---|"]
        lines += [task_row(item, view) for item in tasks]
    if sources:
        lines += ["", "### Sources", "",
                  "| source | health | age / max age | probe | last good data | failed refreshes | notes |",
                  "|---|---|---|---|---|---:|---|"]
        lines += [source_row(item, view) for item in sources]
    if result.invalid_files:
        lines += ["", f"### Invalid files ({len(result.invalid_files)})", ""]
        lines += [f"- {md(f['file'])}: {md(f['problem'])}" for f in result.invalid_files]
    if not result.items:
        lines += ["", "Nothing to report yet: no task has written a heartbeat and fleet.toml lists nothing."]
    return "\n".join(lines) + "\n"


def task_row(item, view):
    d = item.details
    runs = view.runs.get(item.name, [])
    last = iso_short(runs[0]["started_at"], view.now) if runs and runs[0]["started_at"] else "never"
    errors, warnings = newest_notes(view, item.name)
    notes = [f"error: {e}" for e in errors[:NOTES_SHOWN]] + [f"warning: {w}" for w in warnings[:NOTES_SHOWN]]
    if not notes and item.color != health.GREEN:
        notes = item.reasons
    cells = [f"**{md(item.name)}**", f"{EMOJI[item.color]} {item.color}", cell(last), cell(d.get("last_status") or "-"),
             cell(age_words(d.get("age_s"))), str(view.runs_24h.get(item.name, 0)),
             str(d.get("consecutive_errors") or 0), "<br>".join(cell(n) for n in notes) or "-"]
    return "| " + " | ".join(cells) + " |"


def source_row(item, view):
    d = item.details
    refreshed = iso_short(d["last_success_at"], view.now) if d.get("last_success_at") else "-"
    notes = list(item.reasons)
    note = trigger_note(item, view)
    if note:
        notes.append(note)
    queued = len(view.pending.get(item.name, []))
    if queued:
        notes.append(f"{queued} trigger{'s' if queued > 1 else ''} queued")
    cells = [f"**{md(item.name)}**", f"{EMOJI[item.color]} {item.color}",
             f"{md(age_words(d.get('age_s')))} / {md(age_words(d.get('max_age_s')))}", cell(d.get("probe") or "-"),
             cell(refreshed), str(d.get("consecutive_failures") or 0), "<br>".join(cell(n) for n in notes) or "-"]
    return "| " + " | ".join(cells) + " |"
