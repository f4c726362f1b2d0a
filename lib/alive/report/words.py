"""The words and times a report says, shared by report and its renderers (html,
markdown): they take a view and never import the report command back."""
from datetime import datetime

from alive.check import health
from alive.base.timeutil import format_duration, parse_iso, seconds_between


TRIGGER_RECENT_S = 3600        # "refreshed 12s ago by a trigger" is shown for this long


def instant(text):
    """A validated heartbeat time -> aware datetime. fromisoformat takes the 'Z' in 3.11
    and is many times faster than parse_iso; the report parses 20 of these per task."""
    return datetime.fromisoformat(text)


def ordered(items):
    """RED first, then YELLOW, GREEN, GREY; by name within a color."""
    return sorted(items, key=lambda i: (-health.RANK.get(i.color, 0), i.name))


def clock(d):
    """07:05, on the 24-hour clock that schedules, check's reasons and the brief use too."""
    return f"{d:%H:%M}"


def local_time(dt):
    """2026-05-02 23:00 in the local zone (TZ)."""
    d = dt.astimezone()
    return f"{d:%Y-%m-%d} {clock(d)}"


def zoned(dt):
    """2026-05-02 23:00 CEST: an absolute time as the page shows it on hover."""
    d = dt.astimezone()
    return f"{local_time(d)} {d:%Z}".rstrip()


def short_time(dt, now):
    """07:05 CEST today, Fri 07:05 CEST within the week, else the date: for lists of runs."""
    d, n = dt.astimezone(), now.astimezone()
    zone = f" {d:%Z}".rstrip()
    if d.date() == n.date():
        return clock(d) + zone
    if abs((n.date() - d.date()).days) < 7:
        return f"{d:%a} {clock(d)}{zone}"
    return f"{d:%Y-%m-%d} {clock(d)}{zone}"


def iso_short(text, now):
    """An ISO time from a heartbeat or a state file in short local words; raw text when odd."""
    try:
        return short_time(instant(text) if text[-1:] == "Z" else parse_iso(text), now)
    except (ValueError, TypeError, OverflowError):
        return str(text)


def span(seconds):
    """45 s, 12 min, 3 h 5 min, 40 h, 2 d 4 h: how the page says a length of time. The
    page's script says ages in the same words (report/dashboard.js: keep the two alike)."""
    s = int(abs(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 3 * 86400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m and h < 10 else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} d {h} h" if h and d < 10 else f"{d} d"


def ago_words(seconds):
    """12 min ago, just now, in 5 min."""
    if abs(seconds) < 5:
        return "just now"
    return f"{span(seconds)} ago" if seconds > 0 else f"in {span(seconds)}"


def ago(text, now):
    """'12 min ago' for an ISO time, None when it is not one."""
    try:
        return ago_words(seconds_between(parse_iso(text), now))
    except (ValueError, TypeError, OverflowError):
        return None


def age_words(seconds):
    return "-" if seconds is None else format_duration(seconds)


def badge_counts(view):
    c = view.counts
    parts = [f"{len(view.result.items)} item{'s' if len(view.result.items) != 1 else ''}",
             f"{c[health.RED]} RED", f"{c[health.YELLOW]} YELLOW"]
    return parts + grey_counts(view)


def grey_counts(view):
    """The GREY items in words: ["1 paused", "2 waiting"] (a task waiting for its first
    expected run is GREY too, and is not paused); none when there are none."""
    paused = sum(1 for i in view.result.items if i.color == health.GREY and i.details.get("paused"))
    waiting = view.counts[health.GREY] - paused
    return [f"{n} {word}" for n, word in ((paused, "paused"), (waiting, "waiting")) if n]


def newest_notes(view, name):
    """(errors, warnings) of the task's newest readable run."""
    for run in view.runs.get(name, []):
        if run["status"] is not None:
            return run["errors"], run["warnings"]
    return [], []


def plain(value):
    """Untrusted text inside advice: its backticks become quotes, so that backticks in
    advice only ever mark our own commands (renderers show those as code)."""
    return str(value).replace("`", "'")


def advice(item, view):
    """What a person should do about a RED (or YELLOW) item, in plain words; `...` marks a
    command. Names are registry/task names (a restricted alphabet); other text goes through plain()."""
    d = item.details
    if item.kind == "source":
        name = item.name
        if d.get("probe") in ("expired", "no_tab"):
            source = view.registry.sources.get(name)
            probe = source.probe if source else "its probe"
            return (f"Re-authenticate: the {probe} session is {d['probe']} (log in again, "
                    f"then run `alive probe`).")
        if d.get("consecutive_failures"):
            n = d["consecutive_failures"]
            return (f"Check the producer: {n} refresh{'es' if n > 1 else ''} failed in a row "
                    f"(its last error is above); `alive refresh {name}` tries again.")
        if d.get("age_s") is None:
            return f"The data file is missing or unreadable: run `alive refresh {name}` or check its producer."
        if d.get("age_s") is not None and d.get("max_age_s") is not None and d["age_s"] > d["max_age_s"]:
            return f"The data is stale: check that `alive watchdog` is scheduled, or run `alive refresh {name}`."
        return "Check the producer and its data file."
    runs = view.runs.get(item.name, [])
    if d.get("running_since") and any(r.startswith("hung:") for r in item.reasons):
        since = plain(iso_short(d["running_since"], view.now))
        return f"A run has been going since {since}: look at the process, stop it if it hangs."
    if not runs:
        return "It has never reported: check that it is scheduled and that it writes a heartbeat."
    if runs[0]["status"] is None:
        return (f"Its newest heartbeat file ({plain(runs[0]['file'])}) is broken: fix its writer "
                f"(`alive lint` says what is wrong).")
    if d.get("age_s") is not None and d.get("max_gap_s") is not None and d["age_s"] > d["max_gap_s"] \
            and not d.get("complete"):
        return (f"It has not run since {plain(iso_short(d.get('last_completed_at'), view.now))}: check its schedule "
                f"(`alive schedule`) and its logs.")
    if d.get("last_status") == "error":
        return "Read the errors of the failed run (and its log), fix the cause, then run it again."
    if d.get("blocked_by"):
        return f"Fix {', '.join(d['blocked_by'])} first: this task depends on it."
    if d.get("last_status") == "partial" or d.get("consecutive_errors"):
        return "Read the warnings of the last run: the job needs a person."
    return "Read the reasons above."


def trigger_note(item, view):
    """'refreshed 12 s ago by a trigger' while a trigger is recent, else None."""
    life = trigger_life(item, view)
    return life[1] if life else None


def recent(text, now):
    """The ISO time when it is within the last TRIGGER_RECENT_S, else None."""
    try:
        at = parse_iso(text)
    except (ValueError, TypeError, OverflowError):
        return None
    return at if 0 <= seconds_between(at, now) <= TRIGGER_RECENT_S else None


def trigger_life(item, view, when=None):
    """A source's trigger as (state, words), newest fact first, or None:
    running   the trigger runner took the request ("refreshing now, asked 20 s ago");
    queued    a request waits for the runner ("queued 20 s ago"): not yet green;
    refreshed, failed, refused: how the newest trigger ended, for TRIGGER_RECENT_S
              ("not refreshed: login expired at vendor-portal").
    when(iso text) says a time (None when it is none): "20 s ago" unless given (the page gives its own)."""
    name, now = item.name, view.now
    when = when or (lambda text: ago(text, now))
    run = view.running.get(name)
    if run:
        asked = when(run.get("taken_at"))
        if run.get("started"):
            return "running", f"refreshing now (taken {asked})" if asked else "refreshing now"
        return "running", "taken by the trigger runner: its refresh starts soon"
    queued = view.pending.get(name)
    if queued:
        many = f" ({len(queued)} requests)" if len(queued) > 1 else ""
        asked = when(queued[0].get("requested_at"))
        return "queued", f"refresh queued{' ' + asked if asked else ''}{many}, waiting for the trigger runner"
    done = view.results.get(name) or {}
    d = item.details
    at = recent(done.get("at"), now)
    if at is not None and (not d.get("last_trigger_at") or recent(d["last_trigger_at"], now) is None
                           or parse_iso(d["last_trigger_at"]) <= at):
        said = when(done["at"])
        if done.get("result") == "refreshed":
            return "refreshed", f"refreshed {said} by a trigger"
        if done.get("result") == "failed":
            return "failed", f"refresh by a trigger failed {said}: {done.get('error') or 'no detail'}"
        return "refused", f"not refreshed: {refusal_words(item, view, done)} ({said})"
    return watchdog_trigger(d, now, when)


def refusal_words(item, view, done):
    """Why a trigger did not run the producer, in a person's words."""
    source = view.registry.sources.get(item.name)
    state = item.details.get("probe")
    if done.get("result") == "skipped" and source and source.probe and state in ("expired", "no_tab"):
        return (f"login expired at {source.probe}" if state == "expired"
                else f"no browser tab open for {source.probe}") + ", log in again, then trigger it again"
    return done.get("reason") or done.get("result") or "no reason given"


def watchdog_trigger(d, now, when):
    """From the watchdog's state alone (a trigger with no result noted, e.g. `alive refresh --by trigger`)."""
    triggered = recent(d.get("last_trigger_at"), now)
    if triggered is None:
        return None
    try:
        success = parse_iso(d["last_success_at"]) if d.get("last_success_at") else None
    except (ValueError, TypeError, OverflowError):
        success = None
    if success is not None and success >= triggered:
        return "refreshed", f"refreshed {when(d['last_success_at'])} by a trigger"
    return "failed", f"trigger received {when(d['last_trigger_at'])}; not refreshed"
