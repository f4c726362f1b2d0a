"""`alive triggers [--loop]`: take the queued trigger requests and run each source once.

One pass, under state/triggers.lock (one runner at a time; a second exits 0 saying so):
  1. list what is pending (spool: the files in triggers/; http-kv: the keys under the
     prefix, across pages, and their values). A request for a source that is not
     registered, or anything that is not a request, is logged to logs/triggers.log and
     removed: it is never used as a path or a command, and it cannot come back every poll;
  2. write the journal, state/triggers.json: this run's id and the requests it took;
  3. run every requested source once, however many requests it had, in one call of
     watchdog.refresh_sources(by="trigger"): the watchdog's lock, probe gate, retries,
     state, `after` (once) and notifications;
  4. mark the run "ran" in the journal, note how each source ended (`results`: refreshed,
     failed, skipped with the reason; the dashboard says it on the source's card), remove
     the requests it took, forget the run.
Busy (a watchdog tick holds its lock): nothing ran; the requests wait for the next poll.
A request that arrives while a source runs is not taken: it gets a run of its own.

The crash rule, read from the journal a dead pass left behind:
  - the run is marked "ran": its refresh finished; the requests are removed, not run again;
  - it is not: the pass died before or during the refresh (or before it could mark it), so
    its requests are taken again, once (attempt 2). A request whose attempt 2 died too is
    dropped and logged: a request that kills the runner cannot loop forever.
    Only a run in which the source's producer had started counts as an attempt (the
    journal lists the sources whose producer started, saved as soon as each starts): a
    runner that died before it got to a source, e.g. while refreshing another one, has
    not tried it, and its requests are taken again without using up an attempt. So a
    request is only ever dropped after its producer ran twice. (A runner killed in the
    instant between a producer's start and that note has run it once more than it counts:
    the rule errs on the side of one more run, never of a lost request.)
So a crash between a run and the removal costs at most one more run of that source.

http-kv lists are eventually consistent (a deleted key may be listed for about a minute),
so keys removed in the last GONE_KEEP_S are remembered and not taken again.
"""
import json
import os
import signal
import sys
from dataclasses import dataclass, field

from alive import cliutil
from alive.base import paths, statefile
from alive.config import registry
from alive.check import scan
from alive.correct.triggers_backends import Request, backend_for, shown
from alive.correct.triggers_journal import (LOG_FILE, Log, gone_keys, journal_path, keep_for_next_poll, read_journal,
                                            recover, remember_results, requests_of, save_journal)
from alive.base.errors import RuntimeFailure, UsageError
from alive.cliutil import plural
from alive.base.timeutil import format_duration, format_iso, utcnow

LOCK_FILE = "triggers.lock"


@dataclass
class Pass:
    """What one pass did, for the printed lines, --json and the exit code."""
    backend: str
    sources: dict = field(default_factory=dict)     # name -> {"result", "requests", "error"}
    refused: list = field(default_factory=list)     # {"ref", "why"}
    after: list = field(default_factory=list)
    busy: str | None = None
    problem: str | None = None                      # the queue could not be read or cleaned
    retry_after: int | None = None
    removed: int = 0

    @property
    def failed(self):
        return self.problem is not None or any(s["result"] != "refreshed" for s in self.sources.values()) \
            or any(not a["ok"] for a in self.after)

    @property
    def did_something(self):
        return bool(self.sources or self.refused or self.busy or self.problem or self.removed)

    def to_json(self):
        return {"backend": self.backend, "busy": self.busy, "problem": self.problem, "sources": self.sources,
                "refused": self.refused, "after": self.after, "removed": self.removed}


# ---------------------------------------------------------------- one pass

def remove_all(backend, requests, journal, now, result):
    """Remove requests; the ones that fail join the journal's `done`, to be removed (never
    run) by the next pass. KV keys removed are remembered in `gone`."""
    left = []
    for r in requests:
        try:
            backend.remove(r.ref)
        except OSError as exc:
            left.append(r)
            result.problem = result.problem or f"could not remove {shown(r.ref)}: {exc}; " \
                                               f"it will be removed (not run) at the next pass"
            continue
        result.removed += 1
        if backend.lagging_list:
            journal.setdefault("gone", {})[r.ref] = format_iso(now)
    done = journal.pop("done", []) + [r.to_json() for r in left]
    if done:
        journal["done"] = done


def refuse(backend, refused, log, now, result):
    for ref, why in refused:
        result.refused.append({"ref": scan.display_name(ref), "why": why})
        try:
            backend.remove(ref)
            log.line(now, f"refused {shown(ref)}: {why}; removed")
        except OSError as exc:
            log.line(now, f"refused {shown(ref)}: {why}; could not remove it: {exc}")


def run_pass(home, reg, backend, log, clock=utcnow, say=print):
    """One pass (the caller holds the runner lock) -> Pass."""
    from alive.correct import watchdog

    now = clock()
    result = Pass(backend.name)
    journal = read_journal(home, backend, now, log)
    before = json.dumps(journal, sort_keys=True)
    journal["backend"] = backend.name
    previous_run = journal.pop("run", None)
    carried, to_remove = recover(dict(journal, run=previous_run), reg, log, now)
    journal.pop("done", None)
    journal["gone"] = gone_keys(journal, now)
    if not journal["gone"]:
        del journal["gone"]
    skip = {r.ref for r in carried + to_remove} | set(journal.get("gone", {}))
    try:
        new, refused = backend.pending(reg, skip)
    except OSError as exc:   # a KvError (429, 5xx, timeout, down), or an unreadable folder
        keep_for_next_poll(journal, previous_run, carried, to_remove)
        return report_problem(home, journal, before, log, now, result, exc)
    if journal.pop("problem", None):
        log.line(now, f"{backend.name}: reachable again")
    refuse(backend, refused, log, now, result)
    remove_all(backend, to_remove, journal, now, result)
    batch = [Request(r.ref, r.source, r.attempt + 1 if r.tried else r.attempt) for r in carried] + new
    if not batch:
        save_journal(home, journal, before)
        return result
    run_id = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{os.urandom(3).hex()}"
    by_source = {}
    for r in batch:
        by_source.setdefault(r.source, []).append(r)
    journal["run"] = {"id": run_id, "taken_at": format_iso(now), "ran": False,
                      "requests": [r.to_json() for r in batch], "started": []}
    statefile.save(journal_path(home), journal)        # before anything runs: the crash rule needs it
    log.line(now, f"run {run_id}: took {plural(len(batch), 'request')} for "
                  + ", ".join(f"{s} x{len(rs)}" for s, rs in by_source.items()))

    def started(name):
        """The source's producer is running: from now on this run is an attempt for its
        requests (the crash rule). Saved at once, not fsynced: the producer is not kept
        waiting, and only a power cut could lose the mark, costing at most one more run."""
        if name not in journal["run"]["started"]:
            journal["run"]["started"].append(name)
            try:
                statefile.save(journal_path(home), journal, durable=False)
            except OSError as exc:   # unmarked is the safe side: the request is not dropped for it
                log.line(clock(), f"run {run_id}: could not note that {name} started: {exc}")

    report = watchdog.refresh_sources(home, reg, list(by_source), now, by="trigger", clock=clock,
                                      on_start=started)
    if report.busy:
        del journal["run"]
        keep_for_next_poll(journal, previous_run, carried, [])
        statefile.save(journal_path(home), journal)
        result.busy = f"{report.summary}; {plural(len(batch), 'request')} kept for the next poll"
        log.line(clock(), f"run {run_id}: busy: {result.busy}")
        say(f"alive triggers: {result.busy}")
        return result
    journal["run"]["ran"] = True
    statefile.save(journal_path(home), journal)        # from here a crash removes, never re-runs
    for warning in report.warnings:
        print(f"alive triggers: warning: {warning}", file=sys.stderr)
    tell(report, by_source, log, clock(), result, say)
    remember_results(journal, reg, result, report, clock())
    del journal["run"]
    remove_all(backend, batch, journal, clock(), result)
    save_journal(home, journal, "")
    log.line(clock(), f"run {run_id} done: {plural(result.removed, 'request')} removed")
    return result


def report_problem(home, journal, before, log, now, result, exc):
    """The queue could not be read: nothing taken, nothing removed. Logged when the
    trouble starts or changes, not every poll."""
    result.problem = f"{result.backend}: {exc}; nothing taken or removed, trying again at the next poll"
    result.retry_after = getattr(exc, "retry_after", None)
    text = str(exc)
    if journal.get("problem") != text:
        log.line(now, result.problem)
        journal["problem"] = text
    save_journal(home, journal, before)
    return result


def tell(report, by_source, log, now, result, say):
    """One line per source run (and per `after`), printed and logged."""
    for name, requests in by_source.items():
        outcome = report.outcomes.get(name)
        res = outcome.result if outcome else "not run"
        count = plural(len(requests), "request")
        if any(r.attempt > 1 for r in requests):
            count += "; again after the runner died"
        if res == "refreshed":
            line = f"{name}: refreshed ({count})"
        elif res == "failed":
            line = f"{name}: FAILED ({count}): {outcome.error} ({outcome.consecutive_failures} in a row)"
        else:
            line = f"{name}: not refreshed ({count}): {outcome.reason if outcome else 'no outcome'}"
        result.sources[name] = {"result": res, "requests": len(requests),
                                "error": outcome.error if outcome else None}
        say(line)
        log.line(now, line)
    for a in report.after:
        line = f"after {' '.join(a['argv'])}: " + ("ok" if a["ok"] else f"FAILED: {a['error']}")
        result.after.append(a)
        say(line)
        log.line(now, line)


def progress(home):
    """What the dashboard shows of the runner -> (running, results). running: {source:
    {"taken_at", "started"}} of the pass going on now (its runner's process is alive), with
    "refs" the requests it took (they are still in the queue until it ends); results: the
    journal's `results` (remember_results). Reads only."""
    from alive.check.facts import pid_alive

    journal = statefile.peek(journal_path(home))
    results = journal.get("results") if isinstance(journal.get("results"), dict) else {}
    run = journal.get("run") if isinstance(journal.get("run"), dict) else None
    running = {}
    holder = runner_holder(home)
    if run and run.get("ran") is not True and holder and pid_alive(holder):
        started = run.get("started") if isinstance(run.get("started"), list) else []
        for r in requests_of(run.get("requests")):
            entry = running.setdefault(r.source, {"taken_at": run.get("taken_at"), "started": r.source in started,
                                                  "refs": []})
            entry["refs"].append(r.ref)
    return running, {k: v for k, v in results.items() if isinstance(v, dict)}


# ---------------------------------------------------------------- the runner lock

def take_runner_lock(home):
    """state/triggers.lock, a real fcntl lock held for the runner's life -> fd, or None when
    another runner holds it. The fd is not inherited by producers (os.open's default)."""
    from alive.base import locks

    return locks.acquire(paths.state_dir(home) / LOCK_FILE, note_pid=True)


def runner_holder(home, settle_s=0.0):
    """The runner lock's holder; settle_s (0.2) right after failing to take it: the holder
    may be writing its pid yet."""
    from alive.base import locks

    return locks.holder(paths.state_dir(home) / LOCK_FILE, settle_s)


# ---------------------------------------------------------------- command line

def build_parser():
    p = cliutil.parser("triggers", "Take the queued trigger requests and refresh each source once "
                                   "(exit 0 done or nothing pending, 1 a refresh failed, 3 bad config).")
    cliutil.add_json(p)
    p.add_argument("--loop", action="store_true",
                   help="poll every triggers.poll until SIGTERM or SIGINT, then finish the refresh in progress")
    p.add_argument("--timeout", type=cliutil.timeout_arg,
                   help="http-kv backend: seconds to wait for each answer of the KV store (default 10s)")
    return p


class Config:
    """The registry and backend, re-read when fleet.toml changes (a loop runs for days and
    must not refuse, and remove, requests for a source added since it started). A broken
    edit keeps the last good ones and is said once."""

    def __init__(self, home, config_path, reg, timeout):
        self.home, self.path, self.reg, self.timeout = home, config_path, reg, timeout
        self.last_problem = None
        self.backend = backend_for(home, reg, timeout)
        self.mtime = self._mtime()

    def _mtime(self):
        try:
            return os.stat(self.path).st_mtime_ns
        except OSError:
            return None

    def refresh(self):
        mtime = self._mtime()
        if mtime == self.mtime:
            return
        self.mtime = mtime
        try:
            reg = registry.load(self.path, self.home)
            backend = backend_for(self.home, reg, self.timeout)
        except UsageError as exc:
            print(f"alive triggers: fleet.toml changed but cannot be used, keeping the last good one: "
                  f"{str(exc).splitlines()[0]}", file=sys.stderr, flush=True)
            return
        self.reg, self.backend = reg, backend


def install_stop(stop):
    """SIGTERM/SIGINT: finish the pass in progress, then leave. A second signal is the
    default one (kill, or KeyboardInterrupt): a person who insists is not made to wait."""
    def handler(_signum, _frame):
        stop.set()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


def one_pass(config, log, args, say):
    config.refresh()
    log.secret = config.backend.secret
    try:
        result = run_pass(config.home, config.reg, config.backend, log, say=say)
    except OSError as exc:       # state/ cannot be written: nothing was run without its journal
        raise RuntimeFailure(f"cannot use {paths.state_dir(config.home)}: {exc.strerror or exc}") from None
    for refused in result.refused:
        print(f"alive triggers: refused {shown(refused['ref'])}: {refused['why']} (removed; see logs/{LOG_FILE})",
              file=sys.stderr, flush=True)
    if result.problem and (not args.loop or result.problem != config.last_problem):
        print(f"alive triggers: {result.problem}", file=sys.stderr, flush=True)   # a loop says it once
    elif config.last_problem and not result.problem:
        print(f"alive triggers: {config.backend.name}: working again", file=sys.stderr, flush=True)
    config.last_problem = result.problem
    if args.json and (result.did_something or not args.loop):
        print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
    return result


def main(argv):
    import threading

    from alive.cliutil import load

    args = build_parser().parse_args(argv)
    home, reg = load(args)
    if args.timeout is not None and args.timeout < 1:
        raise UsageError("--timeout must be at least 1s")
    from alive.correct import kv

    config = Config(home, paths.resolve_config(home, args.config), reg, args.timeout or kv.TIMEOUT_S)
    say = (lambda _t: None) if args.json else (lambda text: print(text, flush=True))
    try:
        lock = take_runner_lock(home)
    except OSError as exc:
        raise RuntimeFailure(f"cannot use {paths.state_dir(home)}: {exc.strerror or exc}") from None
    if lock is None:
        holder = runner_holder(home, settle_s=0.2)
        print(f"alive triggers: another runner is taking the triggers{f' (pid {holder})' if holder else ''}; "
              f"nothing to do", flush=True)
        return 0
    stop = threading.Event()
    install_stop(stop)
    log = Log(home)
    try:
        if not args.loop:
            result = one_pass(config, log, args, say)
            if not result.did_something and not args.json:
                say("alive triggers: nothing pending")
            return 1 if result.failed else 0
        return loop(config, log, args, say, stop)
    finally:
        os.close(lock)


def loop(config, log, args, say, stop):
    """Pass after pass, a poll apart (longer when the KV store asked us to wait), until
    SIGTERM or SIGINT. A failing pass is reported and the loop goes on: the next poll may
    find the store back. -> 0"""
    say(f"alive triggers: taking triggers from {config.backend.name} every "
        f"{format_duration(config.reg.triggers.poll)} (SIGTERM or Ctrl-C stops)")
    while not stop.is_set():
        try:
            result = one_pass(config, log, args, say)
            wait = max(config.reg.triggers.poll, result.retry_after or 0)
        except RuntimeFailure as exc:
            print(f"alive triggers: {exc}", file=sys.stderr, flush=True)
            wait = config.reg.triggers.poll
        stop.wait(wait)
    say("alive triggers: stopped")
    return 0
