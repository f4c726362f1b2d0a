"""The watchdog's deciding, pure (watchdog.py ticks, watchdog_run.py runs): which sources a
tick or a refresh touches and why (stale_reason, the probe gate, plan), how a tick's outcomes
add up to its heartbeat (tick_status, count, summary_line), and the dry run (describe).
Everything here takes `now`; only describe reads the disk.
"""
import os
from dataclasses import dataclass, field

from alive.base import paths, statefile
from alive.check import facts
from alive.check.items import active_pause
from alive.check.sourcehealth import probe_state
from alive.cliutil import plural
from alive.base.timeutil import format_duration, seconds_between

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
    state = probe_state(probe_entry, now, probe.interval)
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
            if active_pause(sf.pause, now):
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
