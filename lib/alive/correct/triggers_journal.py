"""The trigger runner's log and journal (triggers.py runs the passes): logs/triggers.log,
and state/triggers.json with the run in progress, the requests to remove, the KV keys
removed lately and how each source's newest trigger ended; recover() applies the crash
rule (triggers.py's docstring) to the journal a dead pass left behind.
"""
import json
import sys

from alive.base import atomic, paths, statefile
from alive.correct.triggers_backends import Request, shown
from alive.cliutil import plural
from alive.base.timeutil import format_iso, parse_iso, seconds_between

JOURNAL_FILE = "triggers.json"
LOG_FILE = "triggers.log"
MAX_ATTEMPTS = 2          # a request whose run the runner died in twice is dropped
GONE_KEEP_S = 300         # how long removed KV keys are remembered (lists lag deletes)


class Log:
    """logs/triggers.log, one line per event, scrubbed of the KV token. A log that cannot
    be written is said once on stderr and never stops the runner."""

    def __init__(self, home):
        self.path = paths.logs_dir(home) / LOG_FILE
        self.secret = None
        self._failed = False

    def line(self, now, text):
        if self.secret:
            text = text.replace(self.secret, "[redacted]")
        try:
            atomic.append_line(self.path, f"{format_iso(now)} {text}")
        except OSError as exc:
            if not self._failed:
                self._failed = True
                print(f"alive triggers: cannot write {self.path}: {exc.strerror or exc}", file=sys.stderr)


def journal_path(home):
    return paths.state_dir(home) / JOURNAL_FILE


def read_journal(home, backend, now, log):
    """The journal, or a fresh one (a corrupt file is set aside; one written for the other
    backend is dropped: its refs mean nothing here)."""
    journal, warning = statefile.load(journal_path(home), now)
    if warning:
        log.line(now, f"warning: {warning}")
        print(f"alive triggers: warning: {warning}", file=sys.stderr)
    if journal and journal.get("backend") != backend.name:
        if journal.get("run") or journal.get("done"):
            log.line(now, f"journal of the {journal.get('backend')!r} backend dropped (now {backend.name})")
        journal = {}
    return journal


def requests_of(entries):
    out = []
    for e in entries if isinstance(entries, list) else []:
        if isinstance(e, dict) and isinstance(e.get("ref"), str) and isinstance(e.get("source"), str):
            attempt = e.get("attempt")
            out.append(Request(e["ref"], e["source"], attempt if isinstance(attempt, int) else 1))
    return out


def gone_keys(journal, now):
    """{key: removed_at} of the KV keys removed in the last GONE_KEEP_S."""
    out = {}
    gone = journal.get("gone")
    for key, at in (gone.items() if isinstance(gone, dict) else ()):
        try:
            if isinstance(key, str) and 0 <= seconds_between(parse_iso(at), now) <= GONE_KEEP_S:
                out[key] = at
        except (ValueError, TypeError, OverflowError):
            continue
    return out


def recover(journal, reg, log, now):
    """What a pass that died left: -> (carried, to_remove). carried = requests of a run that
    did not finish, to take again; to_remove = requests whose run finished (or that
    were given up), to remove without running."""
    run = journal.get("run") if isinstance(journal.get("run"), dict) else None
    to_remove = requests_of(journal.get("done"))
    if run is None:
        return [], to_remove
    taken = requests_of(run.get("requests"))
    run_id = run.get("id")
    started = run.get("started")      # absent in journals of older versions: every source counts as tried
    if run.get("ran") is True:
        log.line(now, f"run {run_id} finished before the runner stopped: {plural(len(taken), 'request')} "
                      f"removed, not run again")
        return [], to_remove + taken
    carried = []
    for r in taken:
        if r.source not in reg.sources:
            log.line(now, f"run {run_id}: dropped {shown(r.ref)}: source {r.source!r} is no longer registered")
            to_remove.append(r)
        elif isinstance(started, list) and r.source not in started:
            r.tried = False            # the runner died before this source's producer started
            carried.append(r)
        elif r.attempt >= MAX_ATTEMPTS:
            log.line(now, f"run {run_id}: dropped {shown(r.ref)} ({r.source}): the runner died during its "
                          f"run {r.attempt} times")
            to_remove.append(r)
        else:
            carried.append(r)
    if carried:
        untried = sum(1 for r in carried if not r.tried)
        log.line(now, f"run {run_id} did not finish: taking its {plural(len(carried), 'request')} again, once"
                      + (f" ({untried} whose refresh had not started: not counted as an attempt)" if untried else ""))
    return carried, to_remove


def save_journal(home, journal, before):
    """Write the journal only when it changed: an idle poll rewrites no state."""
    if json.dumps(journal, sort_keys=True) != before:
        statefile.save(journal_path(home), journal)


def keep_for_next_poll(journal, previous_run, carried, to_remove):
    """Nothing ran: the journal goes back to what the next pass must still know. A dead
    run's requests keep their attempt number (busy is not an attempt)."""
    if carried:
        journal["run"] = dict(previous_run, requests=[r.to_json() for r in carried])
    if to_remove:
        journal["done"] = [r.to_json() for r in to_remove]


def remember_results(journal, reg, result, report, now):
    """The journal's `results`: how each source's newest trigger ended, for the dashboard's
    card ("refreshed 12 s ago by a trigger", "not refreshed: login expired at vendor-portal").
    Sources no longer registered are forgotten, so the entry stays as small as the fleet."""
    old = journal.get("results")
    results = {k: v for k, v in old.items() if k in reg.sources} if isinstance(old, dict) else {}
    for name, done in result.sources.items():
        outcome = report.outcomes.get(name)
        results[name] = {"at": format_iso(now), "result": done["result"], "error": done["error"],
                         "reason": outcome.reason if outcome else None}
    journal["results"] = results
