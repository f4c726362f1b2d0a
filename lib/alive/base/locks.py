"""Real fcntl locks between processes: the one place alive takes them (runs, ticks,
trigger runners, notifiers, state updates)."""
import os
import time


def acquire(path, wait_s=0.0, poll_s=0.05, note_pid=False):
    """An exclusive flock on `path` (created when missing) -> fd, or None when another
    process still holds it after wait_s (0: do not wait; None: wait as long as it takes).
    It is released when the fd is closed or the process dies, and the fd is not inherited
    by the programs alive starts. note_pid writes the holder's pid into the file, so one
    that waits can say who holds it (holder())."""
    import fcntl

    from alive.base.atomic import open_nofollow

    os.makedirs(os.path.dirname(os.fspath(path)), exist_ok=True)
    fd = open_nofollow(path, os.O_RDWR | os.O_CREAT)
    try:
        if wait_s is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        else:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        os.close(fd)
                        return None
                    time.sleep(poll_s)
        if note_pid:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except BaseException:
        os.close(fd)
        raise
    return fd


def holder(path, settle_s=0.0):
    """The pid a note_pid lock file names, or None. A holder writes its pid just after it
    took the lock, so one that has just lost the race for it passes settle_s (0.2 s): an
    empty file is read again until then (else it would name nobody)."""
    from alive.base import regular

    deadline = time.monotonic() + settle_s
    while True:
        try:   # follow=False: acquire() never opens a lock through a symlink either
            text = regular.read_regular(path, follow=False).decode("ascii", "replace").strip()
        except OSError:
            return None
        if text or time.monotonic() >= deadline:
            try:
                return int(text)
            except ValueError:
                return None
        time.sleep(0.01)
