"""locks.acquire: a real fcntl lock between real processes."""
import subprocess
import sys
import time

from conftest import ROOT

from alive.base import locks

HOLD = ("import sys, time; sys.path.insert(0, {lib!r}); from alive.base import locks\n"
        "fd = locks.acquire({path!r}, note_pid=True); print('held', flush=True); time.sleep({secs})")


def hold(path, secs):
    proc = subprocess.Popen([sys.executable, "-c", HOLD.format(lib=str(ROOT / "lib"), path=str(path), secs=secs)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "held\n"
    return proc


def test_a_held_lock_is_refused_at_once_and_names_its_holder(tmp_path):
    path = tmp_path / "state" / "x.lock"
    proc = hold(path, 5)
    try:
        t0 = time.monotonic()
        assert locks.acquire(path) is None and time.monotonic() - t0 < 1
        assert locks.holder(path) == proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_a_waiter_gets_the_lock_when_the_holder_goes(tmp_path):
    path = tmp_path / "x.lock"
    proc = hold(path, 0.5)
    fd = locks.acquire(path, wait_s=10)
    assert fd is not None
    proc.wait()


def test_waiting_gives_up_after_its_time(tmp_path):
    path = tmp_path / "x.lock"
    proc = hold(path, 5)
    try:
        t0 = time.monotonic()
        assert locks.acquire(path, wait_s=0.3) is None
        assert 0.3 <= time.monotonic() - t0 < 2
    finally:
        proc.kill()
        proc.wait()


def test_a_dead_holder_releases_the_lock(tmp_path):
    path = tmp_path / "x.lock"
    proc = hold(path, 30)
    proc.kill()
    proc.wait()
    assert locks.acquire(path) is not None
    assert locks.holder(tmp_path / "none.lock") is None


def test_one_that_just_lost_the_race_waits_a_moment_for_the_holders_pid(tmp_path):
    """The winner writes its pid just after flock: the loser reading at once saw an empty
    file and named nobody (the skipped watchdog said no pid, now and then)."""
    import threading

    path = tmp_path / "x.lock"
    path.write_text("")
    assert locks.holder(path) is None                     # no settling asked: an empty file is nobody
    later = threading.Timer(0.05, lambda: path.write_text("4242\n"))
    later.start()
    try:
        assert locks.holder(path, settle_s=2.0) == 4242
    finally:
        later.cancel()
    path.write_text("")
    assert locks.holder(path, settle_s=0.05) is None      # bounded: nobody after settle_s
