"""The command channel: build() what the command reads and the environment it runs in,
send() the message by running it, classify() how it ended (exit 0 is sent; anything else,
a timeout too, is tried again by the next run), as every channel module does. subprocess is
imported inside send(): a check with nothing to deliver does not pay for it."""
import os

from alive.base import tokens
from alive.base.timeutil import format_duration
from alive.notify.message import RETRY, SENT, Outcome

KILL_WAIT_S = 5              # after killing a timed-out command, how long to wait for its pipes


def build(msg, hide_env=()):
    """-> (the bytes on the command's stdin, its environment)."""
    data = tokens.printable(f"{msg.title}\n\n{msg.body}\n").encode("utf-8")   # no terminal escapes either
    # The ntfy token has no business in the command's environment.
    env = {k: v for k, v in os.environ.items() if k not in hide_env}
    return data, env


def send(command, msg, hide_env=(), cwd=None):
    """Run argv with the message on stdin. A timeout kills the command's whole process
    group (it runs in its own session). -> Outcome; never raises."""
    import signal
    import subprocess

    data, env = build(msg, hide_env)
    try:
        proc = subprocess.Popen(command.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True)
    except (OSError, ValueError) as exc:
        return Outcome(RETRY, f"cannot start {command.argv[0]}: {getattr(exc, 'strerror', None) or exc}")
    try:
        _, err = proc.communicate(data, timeout=command.timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            proc.communicate(timeout=KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()  # a grandchild left the group and holds the pipes; ours is gone
            proc.wait(timeout=KILL_WAIT_S)
        return Outcome(RETRY, f"{command.argv[0]} timed out after {format_duration(command.timeout)} and was killed")
    return classify(command, proc.returncode, err)


def classify(command, returncode, err):
    """Exit 0 is delivered; any other exit is tried again (with the end of its stderr)."""
    if returncode != 0:
        tail = " ".join(err.decode("utf-8", "replace").split())[-200:]
        return Outcome(RETRY, f"{command.argv[0]} exited {returncode}" + (f": {tail}" if tail else ""))
    return Outcome(SENT, "exit 0")
