"""`alive probe`: run each [probes.NAME] command and write state/probes.json.

A probe tells whether a producer can work right now (is the browser session logged in?).
Its state is the first word of its stdout (alive | expired | no_tab), else its exit code
(0 alive, anything else error). Anything else it prints is garbage: state error, and the
detail says what it printed, so a person can see the probe itself is broken. A probe that
cannot be started or hangs past its timeout (killed, with its process group) is error too.

state/probes.json = {name: {state, checked_at, detail}}, merged under statefile's lock, so
the watchdog re-probing one probe and `alive probe` cannot lose each other's answers.
"""
import json
import sys

from alive import cliutil
from alive.base import paths, statefile
from alive.write import heartbeat
from alive.base.errors import RuntimeFailure
from alive.base.timeutil import format_duration, format_iso, utcnow

TASK = heartbeat.PROBE_TASK
STATES = ("alive", "expired", "no_tab")
DETAIL_MAX = 200


def probes_path(home):
    return paths.state_dir(home) / "probes.json"


def interpret(ran, probe):
    """procs.Ran -> (state, detail, it ran). "it ran" is False when it could not start or timed out."""
    if ran.problem:
        return "error", f"could not run: {ran.problem}", False
    if ran.timed_out:
        return "error", f"timed out after {format_duration(probe.timeout)} and was killed", False
    words = ran.stdout.split()
    if words:
        first_line = next(ln.strip() for ln in ran.stdout.splitlines() if ln.strip())
        if words[0] in STATES:
            return words[0], first_line[:DETAIL_MAX], True
        shown = json.dumps(first_line[:80], ensure_ascii=False)
        more = " ..." if len(first_line) > 80 or len(ran.stdout.strip().splitlines()) > 1 else ""
        return "error", f"printed {shown}{more}, not alive, expired or no_tab (exit {ran.code})", True
    if ran.code == 0:
        return "alive", "exit 0", True
    last = ran.last_error_line()
    return "error", f"exit {ran.code}" + (f": {last}" if last else ""), True


def run_one(home, probe, clock=utcnow, reg=None):
    """Run one probe now -> (entry for probes.json, it ran). With `reg`, the token
    variables it names are kept from the probe's environment."""
    from alive.correct import procs

    ran = procs.run(probe.command, probe.timeout, cwd=home,
                    env=procs.child_env(home, reg, ALIVE_PROBE=probe.name))
    state, detail, it_ran = interpret(ran, probe)
    return {"state": state, "checked_at": format_iso(clock()), "detail": detail[:DETAIL_MAX]}, it_ran


def save(home, entries, keep_only=None):
    """Merge entries into probes.json (atomic, locked). keep_only: drop every other name
    (probes removed from fleet.toml). Returns the warning when a corrupt file was set aside."""
    def change(data):
        if keep_only is not None:
            for name in [n for n in data if n not in keep_only]:
                del data[name]
        data.update(entries)

    return statefile.update(probes_path(home), change)[1]


def reprobe(home, reg, name, clock=utcnow):
    """Run one probe now and record it (the watchdog does this when a state is too old).
    -> (entry, warning or None)."""
    entry, _ = run_one(home, reg.probes[name], clock, reg)
    return entry, save(home, {name: entry})


def summarize(entries, failed):
    counts = {state: 0 for state in STATES + ("error",)}
    for entry in entries.values():
        counts[entry["state"]] = counts.get(entry["state"], 0) + 1
    told = ", ".join(f"{n} {state}" for state, n in counts.items() if n)
    summary = f"{len(entries)} probe{'s' if len(entries) != 1 else ''}: {told}"
    if failed:
        summary += f"; could not run: {', '.join(sorted(failed))}"
    return summary, dict(counts, probes=len(entries))


def build_parser():
    p = cliutil.parser("probe", "Run the probes of fleet.toml; write state/probes.json. "
                                "Exit 0 when every probe ran, 1 when one could not run or timed out.")
    cliutil.add_json(p)
    return p


def main(argv):
    from alive.cliutil import load

    args = build_parser().parse_args(argv)
    home, reg = load(args)
    if not reg.probes:
        print("alive probe: no [probes.NAME] in fleet.toml; nothing to run")
        return 0
    started = utcnow()
    entries, failed = {}, []
    for name in sorted(reg.probes):  # one after the other: each is bounded by its own timeout
        entries[name], it_ran = run_one(home, reg.probes[name], reg=reg)
        if not it_ran:
            failed.append(name)
    try:
        warning = save(home, entries, keep_only=set(reg.probes))
    except OSError as exc:
        raise RuntimeFailure(f"cannot write {probes_path(home)}: {exc.strerror or exc}") from None
    if warning:
        print(f"alive probe: warning: {warning}", file=sys.stderr)
    summary, metrics = summarize(entries, failed)
    status = "error" if failed else "partial" if warning else "ok"
    hb = heartbeat.build(TASK, utcnow(), status=status, summary=summary,
                         started_at=started, errors=[f"{n}: {entries[n]['detail']}" for n in failed],
                         warnings=[warning] if warning else [], metrics=metrics,
                         interval_s=min(p.interval for p in reg.probes.values()))
    beat_failed = False
    try:
        heartbeat.write(paths.health_dir(home), hb)
    except OSError as exc:
        print(f"alive probe: could not write its heartbeat: {exc.strerror or exc}", file=sys.stderr)
        beat_failed = True
    if args.json:
        print(json.dumps({"probes": entries, "could_not_run": failed}, indent=2, ensure_ascii=False))
    else:
        for name, entry in entries.items():
            print(f"{name:<16} {entry['state']:<8} {entry['detail']}")
        print(summary)
    return 1 if failed or beat_failed else 0
