"""The sources of the dashboard: a card each (its data's age against max_age, its probe, the
state of its trigger) with its "Trigger now" form, live (serve's CSRF token) or disabled
(a static file)."""
from alive.check import health
from alive.report.html_kit import (esc, esc_advice, fact_list, instant, reason_list, short, tags_attr,
                                   time_tag)
from alive.report.words import advice, span, trigger_life


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
