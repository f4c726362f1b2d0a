"""The process pump `alive run` and probes share: a command started in a process group of its
own, its output copied until its pipes close, the group ended at the timeout (SIGTERM, then
SIGKILL KILL_GRACE_S later), and the end of what it said kept as text (utf8_tail).

On the write path of every `alive run`: like runner.py it keeps subprocess, selectors and
signal (with enum) out of its imports (os.posix_spawnp, select.poll and the C _signal
module do the same work for less at every run).
"""
import _signal as signal
import os
import select
import time

KILL_GRACE_S = 5.0      # SIGTERM, then SIGKILL this long after
DRAIN_GRACE_S = 2.0     # a daemonized grandchild may hold the pipes open; stop waiting then


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


def spawn(command, env):
    """-> (pid, {fd: is_stderr}): the command started in a session of its own (a process
    group killpg can end whole), stdin from /dev/null, stdout and stderr into two pipes.
    A command that cannot be started raises OSError (FileNotFoundError: not found)."""
    keep_own_descriptors()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2)]
    # Python ignores SIGPIPE and SIGXFSZ, and an ignored signal survives exec: the job
    # gets them back as a shell would give them (`yes | head` must end quietly).
    options = dict(file_actions=actions, setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))
    try:
        try:
            pid = os.posix_spawnp(command[0], command, env, setsid=True, **options)
        except NotImplementedError:     # a system without POSIX_SPAWN_SETSID: a process group
            pid = os.posix_spawnp(command[0], command, env, setpgroup=0, **options)
    except BaseException:
        os.close(out_r)
        os.close(err_r)
        raise
    finally:
        os.close(out_w)
        os.close(err_w)
    return pid, {out_r: False, err_r: True}


def keep_own_descriptors():
    """What we were handed beyond 0-2 (`flock LOCK alive run ...` holds its lock on one)
    is not the job's: a daemon it leaves behind must not keep the lock. As Popen's close_fds."""
    try:
        fds = [int(name) for name in os.listdir("/dev/fd")]
    except OSError:
        return
    for fd in (fd for fd in fds if fd > 2):
        try:
            os.set_inheritable(fd, False)
        except OSError:     # the listing's own descriptor, closed by now
            continue


def reaped(pid, block=False):
    """The child's returncode (-N: killed by signal N) once it has ended, else None. With
    SIGCHLD ignored (inherited so) the kernel reaps it: 0, as Popen says then."""
    try:
        done, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return 0
    return os.waitstatus_to_exitcode(status) if done else None


def pump(pid, pipes, output, timeout_s):
    """Copy output until both pipes close, then wait for the child; the timeout holds
    throughout (a child may close its output and go on). -> (returncode, timed out)."""
    deadline = time.monotonic() + timeout_s if timeout_s else None
    killed_at = exited_at = returncode = None
    try:
        while pipes:
            now = time.monotonic()
            killed_at = enforce(pid, deadline, killed_at, now)
            if returncode is None:
                returncode = reaped(pid)
                exited_at = now if returncode is not None else None
            if exited_at is not None and now - exited_at >= DRAIN_GRACE_S:
                break       # a daemonized grandchild holds the pipes: the run itself is over
            for fd in readable(pipes, 0.1):
                chunk = os.read(fd, 65536)
                if chunk:
                    output.take(chunk, pipes[fd])
                else:
                    del pipes[fd]
                    os.close(fd)
    finally:
        for fd in pipes:
            os.close(fd)
    while returncode is None:
        if deadline is None:
            returncode = reaped(pid, block=True)
        else:
            killed_at = enforce(pid, deadline, killed_at, time.monotonic())
            returncode = reaped(pid)
            if returncode is None:
                time.sleep(0.05)
    return returncode, killed_at is not None


def readable(fds, timeout_s):
    """Those of fds that can be read now or within timeout_s: poll (no limit on descriptor
    numbers), or select on a Python built without poll (some macOS builds)."""
    if not hasattr(select, "poll"):
        return select.select(list(fds), [], [], timeout_s)[0]
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    return [fd for fd, _ in poller.poll(timeout_s * 1000)]


def enforce(pid, deadline, killed_at, now):
    """SIGTERM to the group at the deadline, SIGKILL from KILL_GRACE_S later on. -> killed_at."""
    if deadline and now >= deadline and killed_at is None:
        killpg(pid, signal.SIGTERM)
        return now
    if killed_at is not None and now - killed_at >= KILL_GRACE_S:
        killpg(pid, signal.SIGKILL)
    return killed_at


def killpg(pid, sig):
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
