"""`alive run TASK [--timeout DUR] [--no-overlap] [--interval DUR] -- CMD...`

Runs CMD (an argv, never a shell string) in its own process group, passes its output
through live while keeping a tail, and writes exactly one heartbeat however the run ends.
The wrapped command's exit code always wins (runitor): a heartbeat that cannot be
written is reported on stderr and changes nothing else.

Like `alive write`, it keeps argparse, pathlib, json and datetime out of its imports:
what a scheduled job pays for its heartbeat should be the interpreter's start. Nor
subprocess, selectors or signal (with enum): os.posix_spawnp, select.poll and the C
_signal module do the same work for ~8 ms less at every run.
"""
import _signal as signal     # signal's own C part: what it adds (enum names) costs ~3 ms
import os
import sys
import time

from alive.base import atomic, paths, regular, tokens
from alive.write import args, heartbeat
from alive.write.pump import killpg, pump, spawn, utf8_tail
from alive.base.durations import format_duration
from alive.base.errors import UsageError

EXIT_TIMEOUT, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, EXIT_OVERLAP = 124, 126, 127, 75
ERROR_LINES, ERROR_LINE_MAX = 20, 500
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


USAGE = """usage: alive run TASK [--timeout DUR] [--no-overlap] [--interval DUR] [--complete]
                 [--home DIR] [--config FILE] -- COMMAND [ARG...]

Run COMMAND (no shell), pass its output through, and write one heartbeat for TASK.
--complete: when COMMAND succeeds, the job is finished for good (its absence is expected
from then on); a job that writes a heartbeat with complete itself is honoured too."""


def split_command(argv):
    if "--" not in argv and ("-h" in argv or "--help" in argv):
        print(USAGE)
        raise SystemExit(0)
    if "--" not in argv:
        raise UsageError("put -- before the command: alive run TASK [options] -- COMMAND [ARG...]")
    cut = argv.index("--")
    if cut + 1 == len(argv):
        raise UsageError("no command after --")
    return argv[:cut], argv[cut + 1:]


def main(argv):
    own, command = split_command(argv)
    opts = args.parse(own, "alive run", USAGE, valued={"--timeout", "--interval", "--home", "--config"},
                      flags={"--no-overlap", "--complete"})
    task = opts["positional"]
    home = paths.home_text(opts.get("home"))
    new_home = not os.path.isdir(home)
    # alive's own tokens: kept from the job's environment, scrubbed from what it prints
    # (its refusals of the options below too).
    tokens.remember_config(paths.config_text(home, opts.get("config")), home)
    timeout_s = args.duration("alive run", "--timeout", opts.get("timeout"))
    interval_s = args.duration("alive run", "--interval", opts.get("interval"))
    problem = heartbeat.task_id_problem(task)
    if problem:
        raise UsageError(problem)
    lock = None
    if opts.get("no-overlap"):
        try:
            lock = take_lock(home, task)
        except OSError as exc:
            # Running without the lock could overlap; not running must be loud: an error
            # heartbeat (RED in check) naming why.
            message = f"cannot take the --no-overlap lock: {exc.strerror or exc}; not started"
            say(message)
            record(home, heartbeat.build(task, time.time(), status="error", summary=message, errors=[message],
                                         interval_s=interval_s, host=os.uname().nodename, run_id=os.urandom(8).hex()))
            return 1
        pinged = ping_run_started(home, task) if lock is not None else None
        if lock is None or pinged:
            holder = read_marker(home, task)
            pid = f" (pid {holder['pid']})" if isinstance(holder, dict) and "pid" in holder else ""
            going = f"a run opened by a /start ping at {pinged} is still open" if pinged else \
                f"previous run still going{pid}"
            record(home, heartbeat.build(
                task, time.time(), status="skipped", summary=f"{going}; not started",
                interval_s=interval_s, host=os.uname().nodename, run_id=os.urandom(8).hex()))
            if lock is not None:
                os.close(lock)
            return EXIT_OVERLAP
    try:
        return run(home, task, command, timeout_s, interval_s, bool(opts.get("complete")))
    finally:
        if lock is not None:
            os.close(lock)
        if new_home and os.path.isdir(home):   # once: a mistyped ALIVE_HOME is a folder nobody watches
            paths.say_created("alive run", home)


def take_lock(home, task):
    """A real fcntl lock, held for the whole run; None when another run holds it."""
    from alive.base import locks

    return locks.acquire(os.path.join(home, "state", "locks", f"run.{task}.lock"))


def marker_path(home, task):
    return os.path.join(home, "state", "running", f"{task}.json")


def ping_marker_path(home, task):
    """The runs /start pings opened (ping.py): a file of their own, so that neither a ping nor
    `alive run` ever replaces or removes the other's run in progress ('@' is in no task name)."""
    return os.path.join(home, "state", "running", f"{task}@ping.json")


def read_marker(home, task, path=None):
    import json

    try:
        return json.loads(regular.read_regular(path or marker_path(home, task)))
    except (OSError, ValueError, RecursionError):
        return None


def ping_run_started(home, task):
    """When the oldest run a /start ping opened began (its started_at), or None when none is open."""
    marker = read_marker(home, task, ping_marker_path(home, task))
    runs = marker.get("runs") if isinstance(marker, dict) else None
    return marker.get("started_at") if runs and isinstance(marker.get("started_at"), str) else None


def write_marker(home, task, marker):
    """-> the bytes written (remove_marker compares them), or None when it could not."""
    data = heartbeat.serialize(marker)
    try:
        os.makedirs(os.path.dirname(marker_path(home, task)), exist_ok=True)
        # A marker means nothing after a power cut: atomic, but not worth an fsync.
        atomic.write_atomic(marker_path(home, task), data, durable=False)
        return data
    except OSError as exc:
        say(f"could not write running marker: {exc}")
        return None


def remove_marker(home, task, written):
    """Remove the marker only if it is still ours (a concurrent run may have replaced it):
    the same bytes, so no JSON parser is needed to tell."""
    path = marker_path(home, task)
    try:
        if written is not None and regular.read_regular(path) != written:
            return
        os.unlink(path)
    except OSError:
        pass


class Output:
    """The live pass-through and the two tails the heartbeat needs, scrubbed of alive's
    tokens on the way (a token split between two reads is still found)."""

    def __init__(self):
        self.combined = bytearray()
        self.stderr = bytearray()
        self.scrubbers = {False: tokens.StreamScrubber(), True: tokens.StreamScrubber()}
        self.gone = set()       # our own stdout / stderr (by is_stderr) when it went away

    def take(self, chunk, is_stderr):
        self._keep(self.scrubbers[is_stderr].feed(chunk), is_stderr)

    def close(self):
        """Let out what the scrubbers held back, at the end of the output."""
        for is_stderr, scrubber in self.scrubbers.items():
            self._keep(scrubber.flush(), is_stderr)

    def _keep(self, chunk, is_stderr):
        if not chunk:
            return
        sink = sys.stderr if is_stderr else sys.stdout
        if is_stderr not in self.gone:
            try:
                sink.buffer.write(chunk)
                sink.flush()
            except (OSError, ValueError, AttributeError):
                # our own stdout went away (or was never open): the job runs on, and its
                # output still goes to the tail
                self.gone.add(is_stderr)
        self.combined += chunk
        del self.combined[:-heartbeat.OUTPUT_TAIL_MAX]
        if is_stderr:
            self.stderr += chunk
            del self.stderr[:-(ERROR_LINES * (ERROR_LINE_MAX + 1) * 4)]

    def tail(self):
        return utf8_tail(bytes(self.combined), heartbeat.OUTPUT_TAIL_MAX)

    def error_lines(self):
        text = self.stderr.decode("utf-8", "replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return [ln[:ERROR_LINE_MAX] for ln in lines[-ERROR_LINES:]]


def run(home, task, command, timeout_s, interval_s, complete=False):
    run_id = os.urandom(8).hex()
    started = time.time()
    t0 = time.monotonic()
    base = dict(interval_s=interval_s, host=os.uname().nodename, run_id=run_id)
    # Handlers go in before the child starts: a signal that arrives in between is kept
    # and forwarded as soon as there is a process group to forward it to.
    received, child = [], []
    previous = {s: signal.signal(s, lambda sig, _f: _forward(child, sig, received)) for s in FORWARDED}
    # The marker is there before the command can say anything, so "running" is never missed.
    marker = write_marker(home, task, {"pid": os.getpid(), "task_id": task, "host": base["host"],
                                       "started_at": heartbeat.iso(started), "run_id": run_id, "command": command})
    try:
        try:
            pid, pipes = spawn(command, tokens.hidden_env())
        except OSError as exc:
            code = EXIT_NOT_FOUND if isinstance(exc, FileNotFoundError) else EXIT_NOT_EXECUTABLE
            why = "not found" if code == EXIT_NOT_FOUND else f"cannot be started: {exc.strerror or exc}"
            message = f"{command[0]}: {why}"
            say(message)
            record(home, heartbeat.build(task, time.time(), status="error", summary=message, started_at=started,
                                         errors=[message], exit_code=code, duration_s=0.0, **base))
            return code
        child.append(pid)
        for sig in received:
            killpg(pid, sig)
        output = Output()
        returncode, timed_out = pump(pid, pipes, output, timeout_s)
        output.close()
    finally:
        remove_marker(home, task, marker)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    duration = round(time.monotonic() - t0, 3)
    code = EXIT_TIMEOUT if timed_out else exit_code_of(returncode)
    status, summary, errors = outcome(returncode, timed_out, timeout_s, duration, output, received)
    # Finished for good only on success: a last run that failed must stay visible.
    done = code == 0 and (complete or job_said_complete(home, task, started, run_id))
    record(home, heartbeat.build(task, time.time(), status=status, summary=summary, started_at=started,
                                 errors=errors, exit_code=code, duration_s=duration,
                                 output_tail=output.tail(), complete=True if done else None, **base))
    return code


def job_said_complete(home, task, started, run_id):
    """Whether the job itself wrote a heartbeat with `complete: true` during this run
    (`alive write TASK --complete`, alive.task()'s run.complete()): its <task>_latest.json
    then holds it, written after this run started. A byte search first, so the common
    case costs one small read and no json import."""
    try:
        with open(regular.open_regular(os.path.join(home, "health", heartbeat.latest_name(task))), "rb") as f:
            if os.fstat(f.fileno()).st_mtime < started:
                return False
            data = f.read(1 << 20)
    except OSError:
        return False
    if b'"complete": true' not in data:
        return False
    import json

    try:
        hb = json.loads(data)
        return hb.get("complete") is True and hb.get("run_id") != run_id
    except ValueError:
        return False


def _forward(child, sig, received):
    received.append(sig)
    if child:
        killpg(child[0], sig)


def exit_code_of(returncode):
    return 128 - returncode if returncode < 0 else returncode  # killed by signal N -> 128+N


def outcome(returncode, timed_out, timeout_s, duration, output, received):
    errors = output.error_lines()
    took = format_duration(duration) if duration >= 1 else f"{duration * 1000:.0f}ms"
    if timed_out:
        message = f"timed out after {format_duration(timeout_s)}"
        return "error", message, [message] + errors
    if returncode == 0:
        return "ok", f"exit 0 in {took}", []
    if returncode < 0:
        import signal as names      # (with enum: only for a run a signal ended)

        name = names.Signals(-returncode).name
        why = f"killed by {name}" + (" (forwarded by alive run)" if received else "")
        return "error", f"{why} after {took}", [why] + errors
    last = f": {errors[-1]}" if errors else ""
    return "error", f"exit {returncode} after {took}{last}", errors or [f"exit code {returncode}"]


def say(message):
    """One line on stderr, scrubbed of alive's tokens (a command's path or an error may hold
    one, and scheduled runs send stderr to ALIVE_HOME/logs), control characters shown as escapes."""
    print(tokens.printable(f"alive run: {message}"), file=sys.stderr)


def record(home, hb):
    """Write the heartbeat; a failure is reported, never raised (the job's code wins)."""
    try:
        heartbeat.write(os.path.join(home, "health"), hb)
    except OSError as exc:
        say(f"could not write heartbeat for {hb['task_id']}: {exc}")
