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

Deciding is pure (plan, gate, stale_reason take `now`); running is execute(). An idle tick
(nothing stale) reads the disk once, starts no process, imports no subprocess, rewrites no
state, and judges the fleet from the facts it already gathered.
"""
import json
import os
import sys
import time
from dataclasses import dataclass, field

from alive import cliutil
from alive.base import paths, statefile
from alive.write import heartbeat
from alive.check import alerts, facts, health, scan
from alive.notify import deadman
from alive.base.errors import RuntimeFailure, UsageError
from alive.cliutil import plural
from alive.base.timeutil import format_duration, format_iso, parse_iso, seconds_between, utcnow

TASK = health.WATCHDOG_TASK
LOCK_FILE = "watchdog.lock"
STATE_FILE = "watchdog.json"
BY = ("watchdog", "refresh", "trigger", "schedule")
REFRESH_WAIT_S = 120           # `alive refresh` waits this long for a running tick
LOCK_POLL_S = 0.1
TAIL_MAX = 2000                # of a failed producer's stderr, kept in watchdog.json

# What a tick does with a source (plan) and how it ended (execute).
FRESH, REFRESH, PROBE_FIRST, SKIP, PAUSED, NO_PRODUCER = (
    "fresh", "refresh", "probe_first", "skipped", "paused", "no_producer")
REFRESHED, FAILED = "refreshed", "failed"


@dataclass
class Step:
    name: str
    decision: str                  # FRESH | REFRESH | PROBE_FIRST | SKIP | PAUSED | NO_PRODUCER
    stale: str | None = None       # why it needs a refresh ("data is 2h old (max age 15m)")
    why: str | None = None         # why it is not refreshed, or why the probe must run first


@dataclass
class Outcome:
    name: str
    result: str                    # REFRESHED | FAILED | SKIP | PAUSED | NO_PRODUCER | FRESH
    reason: str | None = None
    attempts: int = 0
    error: str | None = None
    consecutive_failures: int = 0
    alerting: bool = False         # failures reached the source's alert_after

    def to_json(self):
        return {k: v for k, v in self.__dict__.items() if k != "name"}


@dataclass
class Report:
    busy: bool = False
    holder: int | None = None      # pid holding the lock when busy
    outcomes: dict = field(default_factory=dict)
    after: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    status: str | None = None      # the heartbeat's status (ticks only)
    summary: str = ""

    @property
    def failed(self):
        return any(o.result == FAILED for o in self.outcomes.values()) or any(not a["ok"] for a in self.after)

    def to_json(self):
        return {"busy": self.busy, "holder": self.holder, "status": self.status, "summary": self.summary,
                "metrics": self.counts, "warnings": self.warnings, "after": self.after,
                "sources": {n: o.to_json() for n, o in self.outcomes.items()}}


# ---------------------------------------------------------------- deciding (pure)

def stale_reason(source, sf, now):
    """Why the source needs a refresh at `now` (missing, bad status, too old), else None."""
    if sf.captured_at is None:
        return f"data file {sf.problem or 'is missing'}"
    if source.status_field and sf.status_value in source.bad_status:
        return f"{source.status_field} is {sf.status_value!r}"
    age = seconds_between(sf.captured_at, now)
    if age > source.max_age:
        return f"data is {format_duration(age)} old (max age {format_duration(source.max_age)})"
    return None


def gate(source, reg, probe_entry, now):
    """The probe gate -> (REFRESH | PROBE_FIRST | SKIP, why). A producer runs only while its
    probe says alive; a state older than 3 x the probe's interval is unknown: probe first."""
    if not source.probe:
        return REFRESH, None
    probe = reg.probes[source.probe]
    state = health.probe_state(probe_entry, now, probe.interval)
    if state == "alive":
        return REFRESH, None
    if state == "unknown":
        return PROBE_FIRST, (f"probe {source.probe} has no state younger than 3 x {format_duration(probe.interval)}")
    if state in ("expired", "no_tab"):
        return SKIP, f"probe {source.probe} says {state}: a person must re-authenticate"
    detail = (probe_entry or {}).get("detail")
    return SKIP, f"probe {source.probe} says {state}" + (f" ({detail})" if detail else "")


def plan(reg, source_facts, now, names=None):
    """-> [Step]. names=None is a tick: every source, refreshed only when stale and not
    paused. With names (refresh, trigger, schedule): those sources whatever their age."""
    steps = []
    for name in sorted(reg.sources) if names is None else names:
        source, sf = reg.sources[name], source_facts[name]
        stale = stale_reason(source, sf, now)
        if names is None:
            if stale is None:
                steps.append(Step(name, FRESH))
                continue
            if health.active_pause(sf.pause, now):
                steps.append(Step(name, PAUSED, stale, "paused"))
                continue
        if not source.producer:
            steps.append(Step(name, NO_PRODUCER, stale, "it has no producer"))
            continue
        decision, why = gate(source, reg, sf.probe, now)
        steps.append(Step(name, decision, stale or ("asked for" if names is not None else None), why))
    return steps


def tick_status(outcomes, after, warnings):
    """error: the tick's own work failed (an after command); partial: a refresh failed
    or was skipped, or a warning; else ok. A failed refresh is the source's news: its item
    turns RED at alert_after and is notified; the watchdog's heartbeat stays partial, so one
    failing source is one notification, not two (the source and alive-watchdog)."""
    results = [o.result for o in outcomes]
    if any(not a["ok"] for a in after):
        return "error"
    if SKIP in results or FAILED in results or warnings:
        return "partial"
    return "ok"


def count(steps, outcomes):
    fresh = sum(1 for s in steps if s.decision == FRESH)
    counts = {"sources": len(steps), "fresh": fresh, "stale": len(steps) - fresh,
              "refreshed": 0, "failed": 0, "skipped": 0, "paused": 0, "no_producer": 0}
    for o in outcomes:
        if o.result in counts and o.result != FRESH:
            counts[o.result] += 1
    return counts


def summary_line(counts):
    text = f"{counts['sources']} source{'s' if counts['sources'] != 1 else ''}: {counts['fresh']} fresh"
    if counts["stale"]:
        text += f", {counts['stale']} stale"
        done = [f"{counts[k]} {k.replace('_', ' ')}" for k in ("refreshed", "failed", "skipped", "paused", "no_producer")
                if counts[k]]
        if done:
            text += "; " + ", ".join(done)
    return text


# ---------------------------------------------------------------- the lock

def lock_path(home):
    return paths.state_dir(home) / LOCK_FILE


def take_lock(home, wait_s=0.0):
    """The watchdog lock (a real fcntl lock, released when the fd closes or the process
    dies) -> fd, or None when another tick or refresh still holds it after wait_s."""
    from alive.base import locks

    return locks.acquire(lock_path(home), wait_s, LOCK_POLL_S, note_pid=True)


def lock_holder(home):
    from alive.base import locks

    return locks.holder(lock_path(home))


# ---------------------------------------------------------------- running

def state_path(home):
    return paths.state_dir(home) / STATE_FILE


def verify(source, now):
    """After the producer exited 0: why the refresh still failed, else None."""
    captured, problem, status_value = facts.capture_time(source)
    if captured is None:
        return f"producer exited 0 but the data file {problem}"
    if source.status_field and status_value in source.bad_status:
        return f"producer exited 0 but left {source.status_field} = {status_value!r}"
    age = seconds_between(captured, now)
    if age > source.max_age:
        return f"producer ran but the data is still {format_duration(age)} old (max age {format_duration(source.max_age)})"
    return None


def refresh_one(home, source, clock, say, reg=None, on_start=None):
    """Run the producer, up to `retries` more times after `retry_pause`. -> (ok, attempts,
    error, stderr tail). A producer that cannot be started is not retried: it would not
    start on a second try either. on_start(name) is called once, as soon as the first run started."""
    from alive.correct import procs

    env = procs.child_env(home, reg, ALIVE_SOURCE=source.name, ALIVE_SOURCE_PATH=source.path)
    error, tail = None, ""
    for attempt in range(1, source.retries + 2):
        if attempt > 1:
            say(f"  {source.name}: attempt {attempt - 1} failed ({error}); "
                f"retrying in {format_duration(source.retry_pause)}")
            time.sleep(source.retry_pause)
        spawned = (lambda: on_start(source.name)) if on_start and attempt == 1 else None
        ran = procs.run(source.producer, source.timeout, cwd=home, env=env, on_spawn=spawned)
        error = procs.failure_text(ran, "producer") or verify(source, clock())
        if error is None:
            return True, attempt, None, ""
        tail = ran.stderr
        if ran.problem:
            return False, attempt, error, tail
    return False, source.retries + 1, error, tail


def record(home, name, ok, by, started, finished, error=None, tail="", attempts=1):
    """One refresh's facts into watchdog.json (locked read-modify-write, atomic).
    -> the source's consecutive_failures afterwards."""
    after = []

    def change(data):
        if not isinstance(data.get("sources"), dict):
            data["sources"] = {}
        old = data["sources"].get(name)
        entry = dict(old) if isinstance(old, dict) else {}
        entry.update(last_attempt_at=format_iso(started), last_refresh_by=by, attempts=attempts)
        if by == "trigger":
            entry["last_trigger_at"] = format_iso(started)
        if ok:
            entry.update(consecutive_failures=0, last_success_at=format_iso(finished), last_error=None)
            entry.pop("last_stderr_tail", None)
        else:
            previous = entry.get("consecutive_failures")
            entry["consecutive_failures"] = (previous if isinstance(previous, int) and previous > 0 else 0) + 1
            entry["last_error"] = error
            if tail:
                entry["last_stderr_tail"] = tail[-TAIL_MAX:]
            else:
                entry.pop("last_stderr_tail", None)
        data["sources"][name] = entry
        after.append(entry["consecutive_failures"])

    statefile.update(state_path(home), change)
    return after[0]


def execute(home, reg, steps, by, clock, say, report, on_start=None):
    """Carry out the plan: re-probe, refresh, record. One source's trouble never stops the
    next: every failure is caught as a result. Returns True when anything on disk may have
    changed (a process ran or a fact was recorded), so the facts read before are stale.
    on_start(name) is called as soon as a source's producer started (see refresh_sources)."""
    probed = {}          # probe name -> entry, each probe run at most once
    produced = set()     # producer argvs that succeeded in this run
    ran_any = False
    for step in steps:
        source = reg.sources[step.name]
        decision, why = step.decision, step.why
        if decision == PROBE_FIRST:
            if source.probe not in probed:
                from alive.correct import probe  # only when a probe must run: an idle tick never pays for it

                entry, warning = probe.reprobe(home, reg, source.probe, clock)
                probed[source.probe], ran_any = entry, True
                say(f"re-probed {source.probe}: {entry['state']} ({entry['detail']})")
                if warning:
                    report.warnings.append(warning)
            decision, why = gate(source, reg, probed[source.probe], clock())
        if decision != REFRESH:
            if decision != FRESH:
                report.outcomes[step.name] = Outcome(step.name, decision, why)
            if decision == SKIP:
                say(f"skipped {step.name} ({step.stale}): {why}")
            continue
        started = clock()
        if tuple(source.producer) in produced and verify(source, started) is None:
            # two sources written by one producer: its run for the first refreshed this one too
            ok, attempts, error, tail = True, 0, None, ""
        else:
            ok, attempts, error, tail = refresh_one(home, source, clock, say, reg, on_start)
        if ok:
            produced.add(tuple(source.producer))
        failures = record(home, step.name, ok, by, started, clock(), error, tail, attempts)
        ran_any = True  # the data file and watchdog.json changed
        outcome = Outcome(step.name, REFRESHED if ok else FAILED, step.stale, attempts, error, failures,
                          not ok and failures >= source.alert_after)
        report.outcomes[step.name] = outcome
        if ok:
            how = "by the same producer run" if attempts == 0 else f"attempt {attempts} of {source.retries + 1}"
            say(f"refreshed {step.name} ({step.stale}; {how})")
        else:
            say(f"FAILED {step.name} after {attempts} attempt{'s' if attempts != 1 else ''}: {error} "
                f"({failures} in a row, alert after {source.alert_after})")
    return ran_any


def run_afters(home, reg, refreshed, say):
    """Each distinct `after` argv once, when any of its sources was refreshed."""
    groups = {}
    for name in sorted(reg.sources):
        if reg.sources[name].after:
            groups.setdefault(tuple(reg.sources[name].after), []).append(name)
    done = []
    for argv, names in groups.items():
        mine = [n for n in names if n in refreshed]
        if not mine:
            continue
        from alive.correct import procs

        timeout = max(reg.sources[n].timeout for n in names)
        ran = procs.run(list(argv), timeout, cwd=home, env=procs.child_env(home, reg, ALIVE_SOURCES=",".join(mine)))
        error = procs.failure_text(ran, f"after command {argv[0]}")
        done.append({"argv": list(argv), "sources": mine, "ok": error is None, "error": error})
        say(f"after {' '.join(argv)}: " + ("ok" if error is None else f"FAILED: {error}"))
    return done


def set_aside_corrupt_state(home, now, report):
    """Every damaged state file a tick reads (watchdog.json, probes.json, pauses.json,
    running markers, ...) is set aside before the tick reads them, with a warning."""
    report.warnings.extend(statefile.sweep(paths.state_dir(home), now))


def note_good_data(home, reg, source_facts, now):
    """Record, as last_success_at, the capture time of data a tick finds good (fresh, no bad
    status) when it is newer than the recorded one: the state then says when the data was
    last good, also for data alive did not refresh, and still says it once the file breaks.
    Nothing newer: nothing written (an idle tick rewrites no state). -> a warning when the
    state cannot be written (the tick goes on), else None."""
    newer = {}
    for name, sf in source_facts.items():
        source = reg.sources.get(name)
        if source is None or sf.captured_at is None or stale_reason(source, sf, now) is not None:
            continue
        good = min(sf.captured_at, now).replace(microsecond=0)    # ahead of the clock: now; as stored
        if later_than_recorded(good, sf.watchdog):
            newer[name] = good

    def change(data):
        if not isinstance(data.get("sources"), dict):
            data["sources"] = {}
        for name, good in newer.items():
            old = data["sources"].get(name)
            entry = dict(old) if isinstance(old, dict) else {}
            if later_than_recorded(good, entry):           # a refresh may have written since
                entry["last_success_at"] = format_iso(good)
            data["sources"][name] = entry

    if newer:
        try:
            statefile.update(state_path(home), change)
        except OSError as exc:
            return f"cannot record the last good data in {state_path(home)}: {exc.strerror or exc}"
    return None


def later_than_recorded(when, entry):
    """True when `when` is after the entry's last_success_at (or that is missing or not a time)."""
    try:
        return when > parse_iso(entry["last_success_at"])
    except (KeyError, TypeError, ValueError):
        return True


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


# ---------------------------------------------------------------- dry run

def describe(home, reg, now):
    """What a tick would do, as lines; reads only."""
    gathered = facts.gather(reg, home, now)
    steps = plan(reg, gathered.sources, now)
    lines = ["dry run: no producer, probe or after command runs; nothing is written"]
    for path, problem in statefile.damaged(paths.state_dir(home)):
        shown = os.path.relpath(path, home)
        lines.append(f"would set aside {shown}, which {problem}, and start afresh")
    would = set()
    for step in steps:
        source = reg.sources[step.name]
        if step.decision == REFRESH:
            would.add(step.name)
            lines.append(f"would refresh {step.name} ({step.stale}): {' '.join(source.producer)}")
        elif step.decision == PROBE_FIRST:
            would.add(step.name)
            lines.append(f"would re-probe {source.probe} ({step.why}), then refresh {step.name} "
                         f"({step.stale}) if it says alive: {' '.join(source.producer)}")
        elif step.decision != FRESH:
            lines.append(f"would not refresh {step.name} ({step.stale}): {step.why}")
    afters = {}
    for name in sorted(would):
        if reg.sources[name].after:
            afters.setdefault(tuple(reg.sources[name].after), []).append(name)
    for argv, names in afters.items():
        lines.append(f"would run after: {' '.join(argv)} (once, if {' or '.join(names)} refreshes)")
    fresh = sum(1 for s in steps if s.decision == FRESH)
    lines.append(f"{plural(len(steps), 'source')}: {fresh} fresh, {len(steps) - fresh} stale; would try {len(would)}")
    return lines, steps


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
