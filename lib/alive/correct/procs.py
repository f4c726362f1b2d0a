"""Run one argv to completion for the watchdog and the probes: its own process group, a
timeout that kills the whole group, and the tails of its output kept, never passed through.

The pumping and killing are pump.pump's (SIGTERM to the group at the timeout, SIGKILL
after a grace, stop waiting for pipes a daemonized grandchild holds open), so there is one
implementation of "a hung child cannot hang us". Imported only when something runs:
it pulls in subprocess.
"""
import os
import subprocess
import time
from dataclasses import dataclass

from alive.write import pump

TAIL_BYTES = 4000


@dataclass
class Ran:
    argv: list
    code: int | None = None        # exit code; negative = killed by that signal; None = never started
    timed_out: bool = False
    stdout: str = ""               # the last TAIL_BYTES of each stream, as text
    stderr: str = ""
    problem: str | None = None     # why it could not be started
    duration_s: float = 0.0
    timeout_s: float | None = None

    @property
    def ok(self):
        return self.code == 0 and not self.timed_out

    def last_error_line(self):
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        return lines[-1][:300] if lines else ""


class _Tails:
    """pump.pump's sink: keeps the end of stdout and of stderr, prints nothing."""

    def __init__(self, limit):
        self.limit = limit
        self.out, self.err = bytearray(), bytearray()

    def take(self, chunk, is_stderr):
        buf = self.err if is_stderr else self.out
        buf += chunk
        del buf[:-self.limit]


def run(argv, timeout_s, cwd=None, env=None, tail_bytes=TAIL_BYTES, on_spawn=None):
    """Run argv (relative programs resolve against cwd); never raises for the child's sake.
    on_spawn(), when given, is called once the child has started (it must not raise)."""
    t0 = time.monotonic()
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        return Ran(list(argv), problem=start_problem(argv[0], exc, cwd), timeout_s=timeout_s)
    if on_spawn:
        on_spawn()
    tails = _Tails(tail_bytes)
    # pump.pump reads and closes bare descriptors and reaps the child itself
    pipes = {os.dup(proc.stdout.fileno()): False, os.dup(proc.stderr.fileno()): True}
    proc.stdout.close()
    proc.stderr.close()
    proc.returncode, timed_out = pump.pump(proc.pid, pipes, tails, timeout_s)
    return Ran(list(argv), proc.returncode, timed_out,
               pump.utf8_tail(bytes(tails.out), tail_bytes), pump.utf8_tail(bytes(tails.err), tail_bytes),
               None, round(time.monotonic() - t0, 3), timeout_s)


def start_problem(program, exc, cwd):
    if isinstance(exc, FileNotFoundError):
        where = os.path.join(cwd or ".", program) if "/" in program else None
        if where and os.path.exists(where):
            # exec said ENOENT for a file that is there: its #! line names a missing interpreter
            return f"{program} cannot be started (its #! interpreter was not found)"
        return f"{program} not found" + ("" if "/" in program else " on PATH")
    if isinstance(exc, PermissionError):
        return f"{program} is not executable"
    return f"{program} cannot be started: {exc.strerror or exc}"


def failure_text(ran, what):
    """One line saying why a run failed (None when it did not): '<what> exited 2: <stderr>'."""
    from alive.base.timeutil import format_duration

    if ran.problem:
        return f"{what} {ran.problem}"
    if ran.timed_out:
        return f"{what} timed out after {format_duration(ran.timeout_s or ran.duration_s)} and was killed"
    if ran.code == 0:
        return None
    last = ran.last_error_line()
    how = f"was killed by signal {-ran.code}" if ran.code < 0 else f"exited {ran.code}"
    return f"{what} {how}" + (f": {last}" if last else "")


def child_env(home, reg=None, **extra):
    """The environment of a producer, probe or after command: ours, plus ALIVE_HOME (so a
    script can call `alive write` into the same home) and what it is run for; without the
    variables that hold alive's own tokens (a producer that printed its environment would
    otherwise put them in watchdog.json)."""
    from alive.config.registry import secret_env_names

    env = dict(os.environ, ALIVE_HOME=os.fspath(home))
    for name in secret_env_names(reg) if reg is not None else ():
        env.pop(name, None)
    env.update({k: os.fspath(v) for k, v in extra.items() if v is not None})
    return env
