"""Health (DESIGN §5): pure functions of (registry, facts, now) -> colors and reasons.

Nothing here reads the clock or the disk: facts.py gathers what is on disk, the CLI
passes `now`. Reasons are plain sentences with the numbers in them. Here: the whole check
(evaluate), task judging and near misses; sources are judged in sourcehealth.py, and the
words both speak (colors, Item, the facts records, Result, pauses) are items.py's.
"""
from datetime import timedelta

from alive.check import runs
# items.py's words, also health's: every room reads the colors and records from here
from alive.check.items import (GREEN, GREY, RANK, RED, SKEW_S, YELLOW, Item, Result, SourceFacts,  # noqa: F401
                               TaskFacts, active_pause, pause_reason, worst)
from alive.check.sourcehealth import evaluate_source
from alive.write.heartbeat import WATCHDOG_TASK, interval_problem
from alive.base.timeutil import format_duration, format_iso, parse_iso, seconds_between

WATCHDOG_MAX_GAP_S = 900


def evaluate_task(name, task, settings, facts, now, tz=None):
    """One task's Item. `task` is the registry entry (None for a discovered task); `tz`
    the zone its schedule is read in (default: the local one)."""
    from alive.config.registry import task_max_gap

    reasons, colors, details = [], [], {"registered": task is not None}
    if facts.log_events:     # shown on the task's page; counted here for check --json and the page's ETag
        details.update(log_events=len(facts.log_events), last_log_at=facts.log_events[-1]["at"])
    latest = facts.history[0] if facts.history else None
    interval_s = latest.data.get("interval_s") if latest is not None and latest.valid else None
    bad_interval = interval_problem(latest.data) if interval_s is not None else None
    max_gap = task_max_gap(task, settings, None if bad_interval else interval_s)
    details["max_gap_s"] = max_gap

    def flag(color, reason):
        colors.append(color)
        reasons.append(reason)

    pause = active_pause(facts.pause, now)
    if bad_interval and (task is None or (task.max_gap is None and task.schedule is None)):
        flag(YELLOW, f"{bad_interval}: judged against the default max gap {format_duration(max_gap)}")
    if latest is None:
        details.update(last_status=None, last_completed_at=None, age_s=None, consecutive_errors=0)
        if facts.future:
            more = f" (and {len(facts.future) - 1} more)" if len(facts.future) > 1 else ""
            flag(RED, f"no heartbeat dated up to now: {facts.future[0]}{more} is dated in the future "
                      f"(clock skew?) and not counted")
        elif task is not None and task.schedule is not None and not facts.running:
            waiting = judge_first_run(task, facts, now, tz, details, flag)
            if waiting and not pause:
                return Item("task", name, GREY, [waiting], details)
        elif not facts.running and task is None and facts.first_seen is not None:
            waiting = judge_created_by_ping(facts.first_seen, max_gap, now, tz, details, flag)
            if waiting and not pause:
                return Item("task", name, GREY, [waiting], details)
        elif not facts.running:     # a first run in progress is judged as running (hung after max_runtime)
            flag(RED, "never reported: no heartbeat in health/")
    elif not latest.valid:
        details.update(last_status=None, last_completed_at=None, age_s=None, consecutive_errors=0)
        flag(RED, f"latest heartbeat file is invalid: {latest.name}: {latest.errors[0]}")
    else:
        judge_latest(latest.data, task, settings, facts.history, max_gap, now, details, flag)
        if task is not None and task.schedule is not None and latest.data.get("complete") is not True:
            judge_lateness(task, latest.data, facts.running, now, tz, details, flag)
    if facts.running:
        judge_running(facts.running, task, max_gap, facts.history, now, details, flag)
    if pause:
        details["paused"] = pause
        return Item("task", name, GREY, [pause_reason(pause)] + reasons, details)
    return Item("task", name, worst(colors) if colors else GREEN, reasons, details)


def judge_latest(hb, task, settings, history, max_gap, now, details, flag):
    completed = parse_iso(hb["completed_at"])
    started = parse_iso(hb["started_at"])
    age = seconds_between(completed, now)
    # A completion beyond the skew allowance cannot be trusted (3,000 days ahead would hold
    # max_gap off for years): the gap then counts from the start.
    gap_age = age if age >= -SKEW_S else seconds_between(started, now)
    errors = runs.consecutive_errors(history)
    details.update(last_status=hb["status"], last_completed_at=hb["completed_at"],
                   age_s=max(0, int(gap_age)), consecutive_errors=errors)     # never negative (README)
    if hb.get("legacy_status"):
        details["legacy_status"] = hb["legacy_status"]
    # A schedule says when runs are due (judge_lateness); max_gap is then only the ceiling
    # the user chose. Without a schedule it is the rule.
    gap_rules = task is None or task.schedule is None or task.max_gap is not None
    if hb.get("complete") is True:
        details["complete"] = True
        flag(GREEN, f"complete: finished for good at {hb['completed_at']}")
    elif gap_rules:
        gap_from = completed if gap_age == age else started
        note_deadline(details, gap_from + timedelta(seconds=max_gap))
        if gap_age > max_gap:
            counted = "" if gap_age == age else "; completed_at is in the future, so counted from started_at"
            flag(RED, f"no heartbeat for {format_duration(gap_age)} (max gap {format_duration(max_gap)}{counted})")
    if age < -SKEW_S:
        flag(YELLOW, f"completed_at is {format_duration(-age)} in the future (clock skew?)")
    status = hb["status"]
    alert_after = task.alert_after if task else 1
    if status == "error":
        if errors >= alert_after:
            in_a_row = f" ({errors} runs in a row)" if errors > 1 else ""
            flag(RED, f"latest run failed{in_a_row}: {first_line_of(hb)}")
        else:
            flag(YELLOW, f"latest run failed: {first_line_of(hb)} "
                         f"({errors} of {alert_after} consecutive errors before RED)")
    elif task is not None and task.recover_after > 1:
        spell = runs.recovering(history, alert_after, task.recover_after)
        if spell:
            oks, failures = spell
            flag(RED, f"recovering: {oks} of {task.recover_after} ok runs needed after "
                      f"{failures} failed runs in a row")
    if status == "partial":
        flag(YELLOW, f"latest run partial: {hb['summary']}")
    if hb["warnings"] and status != "error":
        more = f" (and {len(hb['warnings']) - 1} more)" if len(hb["warnings"]) > 1 else ""
        flag(YELLOW, f"warning: {hb['warnings'][0]}{more}")
    took = seconds_between(started, completed)
    if task and task.min_duration and status in ("ok", "partial") and took < task.min_duration:
        flag(YELLOW, f"run took {format_duration(took)} (min duration {format_duration(task.min_duration)}): too fast")
    if task and task.slow_after and history and history[0].valid:
        judge_slow(runs.took(history[0]), "", task, history[1:], flag)


def judge_slow(seconds, what, task, earlier, flag):
    """YELLOW when a run (or the one in progress) takes longer than slow_after; `earlier`
    are the runs before it, newest first."""
    limit = runs.slow_limit(task.slow_after, earlier)
    if limit and seconds > limit[0]:
        usual = f", usually {format_duration(limit[1])}" if limit[1] is not None else ""
        flag(YELLOW, f"slow: {what}{format_duration(seconds)}{usual} (slow after {format_duration(limit[0])})")


def judge_lateness(task, hb, running, now, tz, details, flag):
    """RED when the run the schedule expected has not started within its grace."""
    from alive.check import lateness
    from alive.config.registry import task_grace

    last_start = parse_iso(hb["started_at"])
    marker_start = marker_started(running)
    if marker_start is not None and marker_start > last_start:
        last_start = marker_start
    grace, source = task_grace(task)
    exp = lateness.expect(task.schedule, grace, last_start, None, now, tz)
    note_expectation(exp, source, details)
    note_deadline(details, lateness.deadline(task.schedule, grace, last_start, tz))
    if exp.state == lateness.LATE:
        nxt = f"; next expected {lateness.clock_text(exp.next_at, now, tz)}" if exp.next_at else ""
        flag(RED, f"late: expected {lateness.clock_text(exp.expected_at, now, tz)}, grace "
                  f"{grace_words(exp, task, source)}{nxt}")


def judge_first_run(task, facts, now, tz, details, flag):
    """A registered task that never ran: the waiting reason while its first expected run
    (after it was first seen) is within grace, else RED 'never reported'."""
    from alive.check import lateness
    from alive.config.registry import task_grace

    if facts.first_seen is None or seconds_between(now, facts.first_seen) > SKEW_S:
        # Not known, or "first seen" in the future (the clock stepped back): no grace
        # period can be trusted, and a wait must never hide a job that does not run.
        flag(RED, "never reported: no heartbeat in health/")
        return None
    grace, source = task_grace(task)
    exp = lateness.expect(task.schedule, grace, None, facts.first_seen, now, tz)
    note_expectation(exp, source, details)
    expected = lateness.clock_text(exp.expected_at, now, tz)
    note_deadline(details, exp.expected_at + timedelta(seconds=exp.grace_s))
    if exp.state == lateness.WAITING:
        details["waiting"] = True
        return f"waiting for first run (expected {expected})"
    flag(RED, f"never reported: expected first run {expected}, grace {grace_words(exp, task, source)}")
    return None


def judge_created_by_ping(created, max_gap, now, tz, details, flag):
    """A task a ?create=1 ping made, before its first run: the waiting reason for one max
    gap after it was made (its end included), else RED 'never reported'."""
    from alive.check import lateness

    made = f"created by a ping at {lateness.clock_text(created, now, tz)}"
    note_deadline(details, created + timedelta(seconds=max_gap))
    if seconds_between(created, now) <= max_gap and seconds_between(now, created) <= SKEW_S:
        details["waiting"] = True
        return f"waiting for first run: {made}"
    flag(RED, f"never reported: {made}, no run within the max gap {format_duration(max_gap)}")
    return None


def grace_words(exp, task, source):
    """'12h (max_gap 36h minus the schedule's longest gap 24h)' when max_gap set the grace."""
    if source != "max_gap":
        return format_duration(exp.grace_s)
    return (f"{format_duration(exp.grace_s)} (max_gap {format_duration(task.max_gap)} minus the schedule's "
            f"longest gap {format_duration(task.max_gap - exp.grace_s)})")


def note_expectation(exp, source, details):
    details["grace_s"] = exp.grace_s
    details["grace_from"] = source      # where grace_s came from: grace | max_gap | default
    details["expected_at"] = format_iso(exp.expected_at) if exp.expected_at else None
    details["next_expected_at"] = format_iso(exp.next_at) if exp.next_at else None


def note_deadline(details, when):
    """details["deadline_at"]: when the task turns RED unless a run starts, the earliest of
    the rules that judge it (its schedule's expected run + grace, its max gap)."""
    if when is None:
        return
    earlier = details.get("deadline_at")
    if earlier is None or when < parse_iso(earlier):
        details["deadline_at"] = format_iso(when)


def first_line_of(hb):
    return hb["errors"][0] if hb["errors"] else hb["summary"]


def marker_started(marker):
    try:
        return parse_iso(marker["started_at"]) if marker else None
    except (KeyError, TypeError, ValueError):
        return None


def judge_running(marker, task, max_gap, history, now, details, flag):
    started = marker_started(marker)
    if started is None:
        return
    running_for = seconds_between(started, now)
    limit = task.max_runtime if task and task.max_runtime else max_gap
    details["running_since"] = marker["started_at"]
    if running_for > limit:
        who = f"pid {marker.get('pid')}" if marker.get("via") != "ping" else f"started by a ping from {marker.get('host')}"
        flag(RED, f"hung: run in progress for {format_duration(running_for)} (max runtime {format_duration(limit)}, {who})")
    elif task and task.slow_after:
        judge_slow(running_for, "running for ", task, history, flag)


def apply_dependencies(items, registry):
    """A YELLOW or RED task whose dependency is RED is reported YELLOW, 'blocked by <dep>'."""
    by_name = {i.name: i for i in items if i.kind == "task"}
    red = {n for n, i in by_name.items() if i.color == RED}
    for name, item in by_name.items():
        task = registry.tasks.get(name)
        if not task or item.color not in (YELLOW, RED):
            continue
        blockers = [d for d in task.depends_on if d in red and d != name]
        if blockers:
            item.details["blocked_by"] = blockers
            item.details["color_unblocked"] = item.color
            item.color = YELLOW
            item.reasons.insert(0, "blocked by " + ", ".join(blockers))


def evaluate(registry, facts, now, tz=None):
    """All items, overall color and invalid files: the whole of `alive check`. `tz`: the
    zone schedules are read in (default: the local one, $TZ)."""
    items = []
    for name in sorted(facts.tasks):
        items.append(evaluate_task(name, registry_task(registry, name), registry.settings, facts.tasks[name],
                                   now, tz))
    apply_dependencies(items, registry)
    flag_near_misses(items, registry)
    for name in sorted(facts.sources):
        source = registry.sources[name]
        probe = registry.probes.get(source.probe) if source.probe else None
        items.append(evaluate_source(name, source, facts.sources[name], now, probe.interval if probe else None))
    return Result(worst(i.color for i in items), items, facts.invalid_files, now)


def flag_near_misses(items, registry):
    """A discovered task within a typo of a registered one is YELLOW, 'did you mean ...?':
    `nightly-bakup` beside a registered `nightly-backup` would otherwise be GREEN for hours
    while the registered task waits for runs that go to the misspelt id."""
    discovered = [i for i in items if i.kind == "task" and not i.details.get("registered") and i.color != GREY
                  and i.name != WATCHDOG_TASK]
    if not discovered or not registry.tasks:
        return
    index = near_miss_index(registry.tasks)
    for item in discovered:
        match = near_miss(item.name, registry.tasks, index)
        if match:
            item.details["did_you_mean"] = match
            item.color = worst([item.color, YELLOW])
            item.reasons.append(f"not in fleet.toml: {did_you_mean(match)}")


def did_you_mean(match):
    return f"did you mean {match}? (a typo in the task id leaves {match} without runs)"


def allowed_edits(name):
    """Typos tolerated in an id: none under 4 characters (etl and et1 are both fine ids),
    one up to 7, two from 8 on (Levenshtein distance, as `git`'s and difflib's suggestions)."""
    return 0 if len(name) < 4 else 1 if len(name) < 8 else 2


def deletions(word, count):
    """`word` with up to `count` characters deleted (the symmetric-delete trick: two ids
    within n edits share a form with n deletions, so candidates come from a dict, not from
    comparing every pair)."""
    one = [word[:i] + word[i + 1:] for i in range(len(word))] if count else []
    out = {word, *one}
    if count > 1:                                # j >= i: each pair of positions once
        for i, shorter in enumerate(one):
            out.update([shorter[:j] + shorter[j + 1:] for j in range(i, len(shorter))])
    return out


def near_miss_index(registered):
    index = {}
    for name in registered:
        if len(name) <= 64:                      # a longer id is pasted, not typed
            for form in deletions(name, allowed_edits(name)):
                index.setdefault(form, []).append(name)
    return index


def near_miss(name, registered, index=None):
    """The registered id closest to `name` within allowed_edits of it, or None."""
    if len(name) > 64:
        return None
    index = near_miss_index(registered) if index is None else index
    candidates = {c for form in deletions(name, 2) for c in index.get(form, ()) if c != name}
    scored = sorted((edit_distance(name, c), c) for c in candidates)
    return next((c for d, c in scored if 0 < d <= allowed_edits(c)), None)


def edit_distance(a, b):
    """Levenshtein distance (insert, delete, substitute), one row at a time."""
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def registry_task(registry, name):
    """The registry's task, or the implicit watchdog task when sources exist."""
    task = registry.tasks.get(name)
    if task is None and name == WATCHDOG_TASK and registry.sources:
        return implicit_watchdog_task()
    return task


def implicit_watchdog_task():
    from alive.config.registry import Task

    return Task(name=WATCHDOG_TASK, max_gap=WATCHDOG_MAX_GAP_S,
                description="the freshness watchdog (registered implicitly because sources exist)")


