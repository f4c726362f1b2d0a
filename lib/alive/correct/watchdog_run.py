"""The watchdog's running (watchdog.py decides with watchdog_plan.py, then calls execute()):
each producer with its retries, the data verified fresh, each `after` command once, and
what happened recorded per source in state/watchdog.json.
"""
import time

from alive.base import paths, statefile
from alive.check import facts
from alive.correct.watchdog_plan import FAILED, FRESH, PROBE_FIRST, REFRESH, REFRESHED, SKIP, Outcome, gate, stale_reason
from alive.base.timeutil import format_duration, format_iso, parse_iso, seconds_between

STATE_FILE = "watchdog.json"
TAIL_MAX = 2000                # of a failed producer's stderr, kept in watchdog.json


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
