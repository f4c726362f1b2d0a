"""The freshness watchdog: `alive watchdog [--dry-run]` (one tick) and `alive refresh SOURCE`.

One tick: take state/watchdog.lock without waiting (a tick still running means this one
writes a `skipped` heartbeat and leaves), find the stale sources, pass each through its
probe gate, run its producer with retries, verify the data really is fresh, run each
`after` command once, record per-source facts in state/watchdog.json, write the
alive-watchdog heartbeat, then judge everything and notify the flips.

`alive refresh`, the trigger runner and the cron floor go through refresh_sources(): the
same lock, gate, retries, state, after and notifications, for the named sources whatever
their age. It waits for the lock at most `wait_s` and otherwise answers busy, so a caller
holding a request (a trigger) keeps it for later instead of losing it.

Deciding is pure (watchdog_plan.py: plan, gate, stale_reason take `now`); running is
watchdog_run.py's execute(). An idle tick
(nothing stale) reads the disk once, starts no process, imports no subprocess, rewrites no
state, and judges the fleet from the facts it already gathered.
"""
import json
import os
import sys
import time

from alive import cliutil
from alive.base import paths, statefile
from alive.write import heartbeat
from alive.check import alerts, facts, health, scan
from alive.correct.watchdog_plan import (FAILED, FRESH, NO_PRODUCER, REFRESHED, SKIP, Report, count, describe, plan,
                                         summary_line, tick_status)
from alive.correct.watchdog_run import STATE_FILE, execute, note_good_data, run_afters, set_aside_corrupt_state
from alive.notify import deadman
from alive.base.errors import RuntimeFailure, UsageError
from alive.base.timeutil import format_duration, utcnow

TASK = health.WATCHDOG_TASK
LOCK_FILE = "watchdog.lock"
BY = ("watchdog", "refresh", "trigger", "schedule")
REFRESH_WAIT_S = 120           # `alive refresh` waits this long for a running tick
LOCK_POLL_S = 0.1


# ---------------------------------------------------------------- the lock

def lock_path(home):
    return paths.state_dir(home) / LOCK_FILE


def take_lock(home, wait_s=0.0):
    """The watchdog lock (a real fcntl lock, released when the fd closes or the process
    dies) -> fd, or None when another tick or refresh still holds it after wait_s."""
    from alive.base import locks

    return locks.acquire(lock_path(home), wait_s, LOCK_POLL_S, note_pid=True)


def lock_holder(home):
    """Who holds the lock this process just failed to take (it may be writing its pid yet)."""
    from alive.base import locks

    return locks.holder(lock_path(home), settle_s=0.2)


def sources_facts(reg, home, names):
    """SourceFacts of just these sources (a refresh needs their probe and state, not all 200)."""
    state = paths.state_dir(home)
    watchdog = statefile.peek(state / STATE_FILE).get("sources")
    watchdog = watchdog if isinstance(watchdog, dict) else {}
    probes = statefile.peek(state / "probes.json")
    out = {}
    for name in names:
        source = reg.sources[name]
        captured, problem, status_value = facts.capture_time(source)
        entry = probes.get(source.probe) if source.probe else None
        out[name] = health.SourceFacts(name, captured, problem, status_value,
                                       watchdog.get(name) if isinstance(watchdog.get(name), dict) else {},
                                       entry if isinstance(entry, dict) else None)
    return out


# ---------------------------------------------------------------- the two entry points

def tick(home, reg, now, clock=utcnow, say=print):
    """One watchdog tick -> Report. Writes the heartbeat, then judges and notifies."""
    t0 = time.monotonic()          # duration_s: a wall clock that steps back must not make it negative
    lock = take_lock(home)
    if lock is None:
        holder = lock_holder(home)
        report = Report(busy=True, holder=holder, status="skipped",
                        summary=f"previous watchdog tick or refresh still running"
                                f"{f' (pid {holder})' if holder else ''}; this tick skipped")
        write_beat(home, reg, heartbeat.build(TASK, clock(), status="skipped", summary=report.summary,
                                              started_at=now, host=os.uname().nodename))
        say(report.summary)
        return report
    report = Report()
    try:
        set_aside_corrupt_state(home, now, report)
        gathered = facts.gather(reg, home, now)
        unrecorded = note_good_data(home, reg, gathered.sources, now)
        if unrecorded:
            report.warnings.append(unrecorded)
        steps = plan(reg, gathered.sources, now)
        ran_any = execute(home, reg, steps, "watchdog", clock, say, report)
        refreshed = {n for n, o in report.outcomes.items() if o.result == REFRESHED}
        report.after = run_afters(home, reg, refreshed, say)
        report.counts = count(steps, report.outcomes.values())
        report.status = tick_status(report.outcomes.values(), report.after, report.warnings)
        report.summary = summary_line(report.counts)
        errors = [f"{o.name}: {o.error}" for o in report.outcomes.values() if o.result == FAILED]
        errors += [f"after {a['argv'][0]}: {a['error']}" for a in report.after if not a["ok"]]
        warnings = report.warnings + [f"{o.name}: not refreshed: {o.reason}"
                                      for o in report.outcomes.values() if o.result == SKIP]
        beat = heartbeat.build(TASK, clock(), status=report.status, summary=report.summary, started_at=now,
                               warnings=warnings, errors=errors, metrics=report.counts, host=os.uname().nodename,
                               duration_s=round(time.monotonic() - t0, 3))
        beat_name = write_beat(home, reg, beat)
    finally:
        os.close(lock)
    for warning in report.warnings:
        print(f"alive watchdog: warning: {warning}", file=sys.stderr)
    say(report.summary)
    if ran_any or report.after or beat_name is None:
        check_and_notify(home, reg, clock())
    else:  # idle: nothing on disk changed but our heartbeat, so judge from what was read
        check_and_notify(home, reg, clock(), with_beat(gathered, beat_name, beat))
    return report


def refresh_sources(home, reg, names, now, by="trigger", wait_s=0.0, clock=utcnow, say=None, on_start=None):
    """Refresh the named sources now, whatever their age, through the tick's code path
    (lock, probe gate, retries, watchdog.json, after, notifications) -> Report.

    This is what the trigger runner and the cron floor call. The lock is waited for at
    most wait_s (0: not at all); when a tick or another refresh still holds it the Report
    says busy=True, nothing ran and nothing was recorded: keep the request and retry.
    An unknown name is a UsageError (exit 3) before anything runs. `by` (trigger,
    schedule, refresh, watchdog) is recorded as last_refresh_by; a trigger also sets
    last_trigger_at. Per source, Report.outcomes[name].result is refreshed | failed |
    skipped (its probe says it cannot work) | no_producer. on_start(name), when given, is
    called as soon as a source's producer started; the trigger runner journals it: a
    runner that died before a source's producer started has not tried that source."""
    say = say or (lambda _text: None)
    if by not in BY:
        raise ValueError(f"by must be one of {', '.join(BY)}, not {by!r}")
    names = list(dict.fromkeys(names))
    unknown = [n for n in names if n not in reg.sources]
    if unknown:
        known = ", ".join(sorted(reg.sources)) or "none registered in fleet.toml"
        raise UsageError(f"unknown source {scan.display_name(unknown[0])!r} (known: {known})")
    lock = take_lock(home, wait_s)
    if lock is None:
        holder = lock_holder(home)
        return Report(busy=True, holder=holder, summary="a watchdog tick or another refresh is running"
                                                        f"{f' (pid {holder})' if holder else ''}; nothing done")
    report = Report()
    try:
        set_aside_corrupt_state(home, now, report)
        steps = plan(reg, sources_facts(reg, home, names), now, names)
        execute(home, reg, steps, by, clock, say, report, on_start)
        refreshed = {n for n, o in report.outcomes.items() if o.result == REFRESHED}
        report.after = run_afters(home, reg, refreshed, say)
    finally:
        os.close(lock)
    report.counts = {k: sum(1 for o in report.outcomes.values() if o.result == k)
                     for k in (REFRESHED, FAILED, SKIP, NO_PRODUCER)}
    report.summary = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in report.counts.items() if n)
    check_and_notify(home, reg, clock())
    return report


# ---------------------------------------------------------------- after the work: check + notify

def write_beat(home, reg, beat):
    """-> the file name written, or None (reported, never raised: the tick's work stands)."""
    try:
        return os.path.basename(heartbeat.write(paths.health_dir(home), beat))
    except OSError as exc:
        print(f"alive watchdog: could not write its heartbeat: {exc.strerror or exc}", file=sys.stderr)
        return None


def with_beat(gathered, name, beat):
    """The facts of an idle tick, with the heartbeat just written added to the watchdog's
    history: exactly what a fresh gather would read, without reading 200 files again."""
    old = gathered.tasks.get(TASK)
    parsed = heartbeat.parse_name(name)
    if old is None or not parsed or parsed[0] != "canonical":
        return None
    new = scan.Beat(name, beat, [], [])
    gathered.tasks[TASK] = health.TaskFacts(TASK, [new] + old.history, old.running, old.pause)
    return gathered


def check_and_notify(home, reg, now, gathered=None):
    """What `alive check --notify` does: judge, sync alerts/, notify the flips. A failure
    here is reported and never undoes the refreshes. -> health.Result"""
    result = health.evaluate(reg, gathered or facts.gather(reg, home, now), now)
    try:
        alerts.sync(home, result)
    except OSError as exc:
        print(f"alive watchdog: cannot write alerts: {exc.strerror or exc}", file=sys.stderr)
    else:
        try:
            facts.record_first_seen(reg, home, now)
        except OSError as exc:
            print(f"alive watchdog: cannot write {paths.state_dir(home)}: {exc.strerror or exc}", file=sys.stderr)
    if reg.notify.ntfy or reg.notify.command:  # no channel: nothing to say, and no warning every tick
        try:
            from alive.notify import notify

            notify.after_check(home, reg, result, now)
        except Exception as exc:  # a side channel never masks the refreshes (DESIGN §8.5)
            if os.environ.get("ALIVE_DEBUG"):
                raise
            print(f"alive watchdog: notifications failed: {type(exc).__name__}: {exc}", file=sys.stderr)
    return result


# ---------------------------------------------------------------- command line

def build_parser():
    p = cliutil.parser("watchdog", "One freshness tick: refresh stale sources (exit 1 when a refresh failed).")
    cliutil.add_json(p)
    p.add_argument("--dry-run", action="store_true", help="say what would be done; run and write nothing")
    return p


def main(argv):
    from alive.cliutil import load

    args = build_parser().parse_args(argv)
    home, reg = load(args)
    now = utcnow()
    say = (lambda _t: None) if args.json else (lambda text: print(text, flush=True))
    if args.dry_run:
        lines, steps = describe(home, reg, now)
        if args.json:
            print(json.dumps({"dry_run": True, "plan": [s.__dict__ for s in steps if s.decision != FRESH]},
                             indent=2, ensure_ascii=False))
        else:
            print("\n".join(lines))
        return 0
    try:
        report = tick(home, reg, now, say=say)
    except OSError as exc:
        raise RuntimeFailure(f"cannot use {paths.state_dir(home)}: {exc.strerror or exc}") from None
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    sys.stdout.flush()
    deadman.ping(reg, "watchdog")           # this tick completed (a busy one too): tell the outside switch
    return 1 if report.failed else 0


def refresh_parser():
    p = cliutil.parser("refresh", "Refresh one source now, whatever its age (exit 0 refreshed, 1 failed, "
                                  "3 unknown source).")
    cliutil.add_json(p)
    p.add_argument("source")
    p.add_argument("--by", choices=("refresh", "schedule", "trigger"), default="refresh",
                   help="recorded as last_refresh_by (the cron floor passes schedule)")
    p.add_argument("--wait", type=cliutil.duration_arg, default=REFRESH_WAIT_S,
                   help="how long to wait for a running tick (default 2m)")
    return p


def refresh_main(argv):
    from alive.cliutil import load

    args = refresh_parser().parse_args(argv)
    home, reg = load(args)
    source = reg.sources.get(args.source)
    if source is not None and not source.producer:
        raise UsageError(f"source {args.source!r} has no producer to run (add producer = [...] to "
                         f"[sources.{args.source}])")
    say = (lambda _t: None) if args.json else (lambda text: print(text, flush=True))
    try:
        report = refresh_sources(home, reg, [args.source], utcnow(), by=args.by, wait_s=args.wait, say=say)
    except OSError as exc:
        raise RuntimeFailure(f"cannot use {paths.state_dir(home)}: {exc.strerror or exc}") from None
    for warning in report.warnings:
        print(f"alive refresh: warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    elif report.busy:
        print(f"alive refresh: {report.summary} (waited {format_duration(args.wait)}); try again",
              file=sys.stderr)
    outcome = report.outcomes.get(args.source)
    return 0 if outcome is not None and outcome.result == REFRESHED and not report.failed else 1
