"""`alive run TASK [--timeout DUR] [--no-overlap] [--interval DUR] -- CMD...`

Runs CMD (an argv, never a shell string) in its own process group, passes its output
through live while keeping a tail, and writes exactly one heartbeat however the run ends.
The wrapped command's exit code always wins (runitor): a heartbeat that cannot be
written is reported on stderr and changes nothing else.

Like `alive write`, it keeps argparse, pathlib, json and datetime out of its imports:
what a scheduled job pays for its heartbeat should be the interpreter's start.
"""
import contextlib
import os
import selectors
import signal
import subprocess
import sys
import time

from . import args, atomic, heartbeat, paths, tokens
from .durations import format_duration
from .errors import UsageError

EXIT_TIMEOUT, EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, EXIT_OVERLAP = 124, 126, 127, 75
KILL_GRACE_S = 5.0      # SIGTERM, then SIGKILL this long after
DRAIN_GRACE_S = 2.0     # a daemonized grandchild may hold the pipes open; stop waiting then
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
    timeout_s = args.duration("alive run", "--timeout", opts.get("timeout"))
    interval_s = args.duration("alive run", "--interval", opts.get("interval"))
    problem = heartbeat.task_id_problem(task)
    if problem:
        raise UsageError(problem)
    home = paths.home_text(opts.get("home"))
    # alive's own tokens: kept from the job's environment, scrubbed from what it prints.
    tokens.remember_config(paths.config_text(home, opts.get("config")), home)
    lock = None
    if opts.get("no-overlap"):
        try:
            lock = take_lock(home, task)
        except OSError as exc:
            # Running without the lock could overlap; not running must be loud: an error
            # heartbeat (RED in check) naming why.
            message = f"cannot take the --no-overlap lock: {exc.strerror or exc}; not started"
            print(f"alive run: {message}", file=sys.stderr)
            record(home, heartbeat.build(task, time.time(), status="error", summary=message[:200], errors=[message],
                                         interval_s=interval_s, host=os.uname().nodename, run_id=os.urandom(8).hex()))
            return 1
        if lock is None:
            holder = read_marker(home, task)
            pid = f" (pid {holder['pid']})" if holder and "pid" in holder else ""
            record(home, heartbeat.build(
                task, time.time(), status="skipped", summary=f"previous run still going{pid}; not started",
                interval_s=interval_s, host=os.uname().nodename, run_id=os.urandom(8).hex()))
            return EXIT_OVERLAP
    try:
        return run(home, task, command, timeout_s, interval_s, bool(opts.get("complete")))
    finally:
        if lock is not None:
            os.close(lock)


def take_lock(home, task):
    """A real fcntl lock, held for the whole run; None when another run holds it."""
    from . import locks

    return locks.acquire(os.path.join(home, "state", "locks", f"run.{task}.lock"))


def marker_path(home, task):
    return os.path.join(home, "state", "running", f"{task}.json")


def read_marker(home, task):
    import json

    try:
        with open(marker_path(home, task), "rb") as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def write_marker(home, task, marker):
    """-> the bytes written (remove_marker compares them), or None when it could not."""
    data = heartbeat.serialize(marker)
    try:
        os.makedirs(os.path.dirname(marker_path(home, task)), exist_ok=True)
        # A marker means nothing after a power cut: atomic, but not worth an fsync.
        atomic.write_atomic(marker_path(home, task), data, durable=False)
        return data
    except OSError as exc:
        print(f"alive run: could not write running marker: {exc}", file=sys.stderr)
        return None


def remove_marker(home, task, written):
    """Remove the marker only if it is still ours (a concurrent run may have replaced it):
    the same bytes, so no JSON parser is needed to tell."""
    path = marker_path(home, task)
    try:
        with open(path, "rb") as f:
            if written is not None and f.read() != written:
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
        # If our own stdout went away, keep running the job and keep the tail.
        with contextlib.suppress(OSError, ValueError):
            sink.buffer.write(chunk)
            sink.flush()
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


def utf8_tail(data, limit):
    """The last `limit` bytes as text, never starting in the middle of a character."""
    data = data[-limit:]
    start = 0
    while start < len(data) and start < 4 and (data[start] & 0xC0) == 0x80:
        start += 1
    text = data[start:].decode("utf-8", "replace")
    while len(text.encode("utf-8")) > limit:  # replacement characters can grow it
        text = text[1:]
    return text


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
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, start_new_session=True, env=tokens.hidden_env())
        except (FileNotFoundError, PermissionError, OSError) as exc:
            code = EXIT_NOT_FOUND if isinstance(exc, FileNotFoundError) else EXIT_NOT_EXECUTABLE
            why = "not found" if code == EXIT_NOT_FOUND else f"cannot be started: {exc.strerror or exc}"
            message = f"{command[0]}: {why}"
            print(f"alive run: {message}", file=sys.stderr)
            record(home, heartbeat.build(task, time.time(), status="error", summary=message, started_at=started,
                                         errors=[message], exit_code=code, duration_s=0.0, **base))
            return code
        child.append(proc)
        for sig in received:
            _killpg(proc, sig)
        output = Output()
        timed_out = pump(proc, output, timeout_s)
        output.close()
    finally:
        remove_marker(home, task, marker)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    duration = round(time.monotonic() - t0, 3)
    code = EXIT_TIMEOUT if timed_out else exit_code_of(proc.returncode)
    status, summary, errors = outcome(proc.returncode, timed_out, timeout_s, duration, output, received)
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
        with open(os.path.join(home, "health", heartbeat.latest_name(task)), "rb") as f:
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
        _killpg(child[0], sig)


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
        name = signal.Signals(-returncode).name
        why = f"killed by {name}" + (" (forwarded by alive run)" if received else "")
        return "error", f"{why} after {took}", [why] + errors
    last = f": {errors[-1]}" if errors else ""
    return "error", f"exit {returncode} after {took}{last}", errors or [f"exit code {returncode}"]


def pump(proc, output, timeout_s):
    """Copy output until both pipes close; enforce the timeout. Returns True if it timed out."""
    deadline = time.monotonic() + timeout_s if timeout_s else None
    killed_at = None
    exited_at = None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, False)
    sel.register(proc.stderr, selectors.EVENT_READ, True)
    try:
        while sel.get_map():
            now = time.monotonic()
            if deadline and now >= deadline and killed_at is None:
                _killpg(proc, signal.SIGTERM)
                killed_at = now
            if killed_at is not None and now - killed_at >= KILL_GRACE_S:
                _killpg(proc, signal.SIGKILL)
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at >= DRAIN_GRACE_S:
                break
            for key, _ in sel.select(timeout=0.1):
                chunk = os.read(key.fileobj.fileno(), 65536)
                if chunk:
                    output.take(chunk, key.data)
                else:
                    sel.unregister(key.fileobj)
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    while True:
        try:
            remaining = None
            if killed_at is not None:
                remaining = max(0.0, KILL_GRACE_S - (time.monotonic() - killed_at))
            proc.wait(timeout=remaining)
            break
        except subprocess.TimeoutExpired:
            _killpg(proc, signal.SIGKILL)
            killed_at = time.monotonic() - KILL_GRACE_S
        except InterruptedError:
            continue
    return killed_at is not None and bool(deadline)


def _killpg(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def record(home, hb):
    """Write the heartbeat; a failure is reported, never raised (the job's code wins)."""
    try:
        heartbeat.write(os.path.join(home, "health"), hb)
    except OSError as exc:
        print(f"alive run: could not write heartbeat for {hb['task_id']}: {exc}", file=sys.stderr)
