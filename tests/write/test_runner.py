import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import ALIVE, heartbeats, run_alive
from helpers import start_alive, wait_for

from alive.write.runner import utf8_tail


def only_heartbeat(home, task):
    [(_, hb)] = heartbeats(home, task)
    return hb


def test_a_succeeding_command_is_ok_and_its_output_passes_through(home):
    r = run_alive("run", "hello", "--interval", "15m", "--", sys.executable, "-c", "print('hi there')", home=home)
    assert r.returncode == 0 and r.stdout == "hi there\n"
    hb = only_heartbeat(home, "hello")
    assert hb["status"] == "ok" and hb["exit_code"] == 0 and hb["errors"] == []
    assert hb["output_tail"] == "hi there\n" and hb["interval_s"] == 900
    assert hb["host"] == os.uname().nodename and len(hb["run_id"]) == 16 and hb["duration_s"] >= 0


def test_output_after_the_job_closes_one_stream_still_passes_through(home):
    # one pipe reaches its end first: only that pipe is closed, never alive's own stdin/stdout
    r = run_alive("run", "half", "--", "sh", "-c", "exec 2>&-; sleep 0.3; echo late; echo later", home=home)
    assert r.returncode == 0 and r.stdout == "late\nlater\n"
    r = run_alive("run", "other-half", "--", "sh", "-c", "exec 1>&-; sleep 0.3; echo late >&2", home=home)
    assert r.returncode == 0 and r.stderr == "late\n"
    assert only_heartbeat(home, "other-half")["output_tail"] == "late\n"


def test_the_command_gets_sigpipe_back_as_a_shell_would_give_it(home):
    # Python ignores SIGPIPE; an ignored signal survives exec, so a job's `yes | head`
    # would see "Broken pipe" errors instead of ending quietly (subprocess resets it too)
    r = run_alive("run", "pipe", "--", "sh", "-c", "yes | head -n 1", home=home)
    assert r.returncode == 0 and r.stdout == "y\n" and r.stderr == ""
    assert only_heartbeat(home, "pipe")["status"] == "ok"


def test_a_failing_command_keeps_its_exit_code_and_last_stderr_lines(home):
    script = "import sys\nfor i in range(30): print(f'line {i}', file=sys.stderr)\nprint('x' * 900, file=sys.stderr)\nsys.exit(3)"
    r = run_alive("run", "etl", "--", sys.executable, "-c", script, home=home)
    assert r.returncode == 3
    hb = only_heartbeat(home, "etl")
    assert hb["status"] == "error" and hb["exit_code"] == 3
    assert len(hb["errors"]) == 20
    assert hb["errors"][0] == "line 11" and hb["errors"][-1] == "x" * 500
    assert hb["summary"].startswith("exit 3 after")


def test_output_tail_keeps_the_last_10000_bytes(home):
    script = "import sys\nsys.stdout.write('a' * 20000 + 'END')"
    run_alive("run", "big", "--", sys.executable, "-c", script, home=home)
    tail = only_heartbeat(home, "big")["output_tail"]
    assert len(tail.encode()) == 10000 and tail.endswith("aEND")


def test_the_tail_never_starts_inside_a_character():
    data = ("é" * 10).encode()  # 2 bytes each
    assert utf8_tail(data, 5) == "éé"
    assert utf8_tail(b"abc", 10) == "abc"
    assert len(utf8_tail(b"\xff" * 20, 10).encode()) <= 10


def test_a_command_that_does_not_exist_is_127_with_an_error_heartbeat(home):
    r = run_alive("run", "missing", "--", "/no/such/program", home=home)
    assert r.returncode == 127 and "/no/such/program: not found" in r.stderr
    hb = only_heartbeat(home, "missing")
    assert hb["status"] == "error" and hb["exit_code"] == 127


def test_a_command_that_is_not_executable_is_126(home, tmp_path):
    script = tmp_path / "not-exec.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    r = run_alive("run", "noexec", "--", script, home=home)
    assert r.returncode == 126
    assert only_heartbeat(home, "noexec")["exit_code"] == 126


def test_an_invalid_task_is_refused_before_anything_runs(home, tmp_path):
    flag = tmp_path / "ran"
    r = run_alive("run", "../escape", "--", "touch", flag, home=home)
    assert r.returncode == 3 and "task id" in r.stderr
    assert not flag.exists() and not (home / "health").exists()


@pytest.mark.parametrize("args,message", [
    (["t", "true"], "put -- before the command"),
    (["t", "--"], "no command after --"),
    (["t", "--timeout", "soon", "--", "true"], "is not a duration"),
])
def test_run_usage_mistakes_are_exit_3(home, args, message):
    r = run_alive("run", *args, home=home)
    assert r.returncode == 3 and message in r.stderr


def test_timeout_kills_the_whole_process_group_and_exits_124(home, tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    script = f"sleep 60 & echo $! > {pidfile}; wait"
    t0 = time.monotonic()
    r = run_alive("run", "slow", "--timeout", "1s", "--", "sh", "-c", script, home=home)
    assert r.returncode == 124
    assert time.monotonic() - t0 < 10
    hb = only_heartbeat(home, "slow")
    assert hb["status"] == "error" and hb["errors"][0] == "timed out after 1s" and hb["exit_code"] == 124
    grandchild = int(pidfile.read_text())
    assert wait_for(lambda: not _alive(grandchild), 5), "the grandchild survived the timeout"


def test_the_timeout_holds_for_a_command_that_closed_its_output_and_hangs(home):
    # no pipe left to wait on: the timeout must still end it (the wait, not only the pump)
    t0 = time.monotonic()
    r = run_alive("run", "mute", "--timeout", "1s", "--", "sh", "-c", "exec >&- 2>&-; sleep 30", home=home)
    assert r.returncode == 124 and time.monotonic() - t0 < 10
    assert only_heartbeat(home, "mute")["errors"][0] == "timed out after 1s"


def test_a_command_ignoring_sigterm_is_killed_after_the_grace(home):
    script = "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', flush=True)\ntime.sleep(60)"
    t0 = time.monotonic()
    r = run_alive("run", "stubborn", "--timeout", "1s", "--", sys.executable, "-c", script, home=home)
    elapsed = time.monotonic() - t0
    assert r.returncode == 124 and 5.5 < elapsed < 15
    assert only_heartbeat(home, "stubborn")["status"] == "error"


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_are_forwarded_and_the_heartbeat_is_still_written(home, sig):
    proc = start_alive(home, "run", "longjob", "--", sys.executable, "-c",
                       "import time; print('started', flush=True); time.sleep(60)")
    assert proc.stdout.readline() == "started\n"
    marker = home / "state" / "running" / "longjob.json"
    assert json.loads(marker.read_text())["pid"] == proc.pid
    proc.send_signal(sig)
    proc.wait(timeout=15)
    assert proc.returncode == 128 + sig
    hb = only_heartbeat(home, "longjob")
    assert hb["status"] == "error" and signal.Signals(sig).name in hb["summary"]
    assert not marker.exists()


def test_the_running_marker_exists_only_while_the_command_runs(home):
    proc = start_alive(home, "run", "marked", "--", sys.executable, "-c",
                       "import time; print('go', flush=True); time.sleep(1)")
    assert proc.stdout.readline() == "go\n"
    marker = json.loads((home / "state" / "running" / "marked.json").read_text())
    assert set(marker) >= {"pid", "started_at", "run_id"}
    proc.wait(timeout=15)
    assert not (home / "state" / "running" / "marked.json").exists()
    assert only_heartbeat(home, "marked")["run_id"] == marker["run_id"]


def test_no_overlap_skips_while_a_previous_run_holds_the_lock(home):
    first = start_alive(home, "run", "exclusive", "--no-overlap", "--", sys.executable, "-c",
                        "import time; print('holding', flush=True); time.sleep(3)")
    assert first.stdout.readline() == "holding\n"
    second = run_alive("run", "exclusive", "--no-overlap", "--", "true", home=home)
    assert second.returncode == 75
    first.wait(timeout=15)
    assert first.returncode == 0
    statuses = sorted(hb["status"] for _, hb in heartbeats(home, "exclusive"))
    assert statuses == ["ok", "skipped"]
    skipped = next(hb for _, hb in heartbeats(home, "exclusive") if hb["status"] == "skipped")
    assert f"pid {first.pid}" in skipped["summary"]
    third = run_alive("run", "exclusive", "--no-overlap", "--", "true", home=home)
    assert third.returncode == 0  # the lock is free again once the first run ended


def test_an_unwritable_health_folder_does_not_change_the_commands_exit_code(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run_alive("run", "t", "--", sys.executable, "-c", "import sys; sys.exit(4)", home=blocker / "home")
    assert r.returncode == 4 and "could not write heartbeat" in r.stderr


class Kept:
    """pump's sink, in memory."""

    def __init__(self):
        self.out, self.err = b"", b""

    def take(self, chunk, is_stderr):
        if is_stderr:
            self.err += chunk
        else:
            self.out += chunk


def test_spawn_and_pump_without_poll_or_posix_spawn_setsid(monkeypatch):
    # a Python built without select.poll (some macOS builds), a libc without POSIX_SPAWN_SETSID:
    # the same output, exit code and a process group of the child's own
    import select

    from alive.write import pump

    real_spawnp = os.posix_spawnp

    def no_setsid(*args, **kwargs):
        if kwargs.get("setsid"):
            raise NotImplementedError("no POSIX_SPAWN_SETSID")
        return real_spawnp(*args, **kwargs)

    monkeypatch.delattr(select, "poll")
    monkeypatch.setattr(os, "posix_spawnp", no_setsid)
    pid, pipes = pump.spawn(["sh", "-c", "echo out; echo err >&2; sleep 0.3; exit 3"], dict(os.environ))
    assert os.getpgid(pid) == pid
    kept = Kept()
    assert pump.pump(pid, pipes, kept, 10) == (3, False)
    assert kept.out == b"out\n" and kept.err == b"err\n"
    assert pipes == {}          # both read to their end and closed


def test_descriptors_alive_was_handed_are_not_the_jobs(home, tmp_path):
    # `flock LOCK alive run ...`: a daemon the job leaves behind must not hold the lock
    r = subprocess.run(
        ["sh", "-c", f'exec 7>"{tmp_path / "lock"}"; exec "$0" "$@"', sys.executable, str(ALIVE), "run", "fds", "--",
         "sh", "-c", "ls /proc/self/fd"], capture_output=True, text=True, timeout=30, env=dict(os.environ, ALIVE_HOME=str(home)))
    assert r.returncode == 0
    assert "7" not in r.stdout.split(), r.stdout


def test_a_run_started_with_sigchld_ignored_still_writes_its_heartbeat(home):
    script = ("import os, signal, sys\nsignal.signal(signal.SIGCHLD, signal.SIG_IGN)\n"
              f"os.execv(sys.executable, [sys.executable, {str(ALIVE)!r}, 'run', 'chld', '--', 'sh', '-c', 'echo hi'])")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, ALIVE_HOME=str(home)))
    assert r.returncode == 0 and "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert only_heartbeat(home, "chld")["status"] == "ok"


def test_a_run_started_with_its_stdout_closed_still_keeps_the_output(home):
    # cron with >&- : Python then has no sys.stdout at all; the job's output still reaches the tail
    r = subprocess.run(["sh", "-c", 'exec >&-; exec "$0" "$@"', sys.executable, str(ALIVE), "run", "closed", "--",
                        "sh", "-c", "echo hi; echo hi again"], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, ALIVE_HOME=str(home)))
    assert r.returncode == 0 and "Traceback" not in r.stderr and "internal error" not in r.stderr
    hb = only_heartbeat(home, "closed")
    assert hb["status"] == "ok" and hb["output_tail"] == "hi\nhi again\n"


def test_the_first_run_into_a_new_home_says_it_created_it(tmp_path):
    """Issue 19: writers created a missing ALIVE_HOME silently; said once, after the job's own output."""
    home = tmp_path / "new-home"
    r = run_alive("run", "etl", "--", "sh", "-c", "echo job-said >&2", home=home)
    assert r.returncode == 0 and r.stderr == f"job-said\nalive run: created ALIVE_HOME {home}\n", r.stderr
    r = run_alive("run", "etl", "--", "true", home=home)
    assert r.returncode == 0 and r.stderr == ""
    assert len(heartbeats(home, "etl")) == 2
    other = tmp_path / "other-home"     # --no-overlap's lock is the first thing made in it
    r = run_alive("run", "etl", "--no-overlap", "--", "true", home=other)
    assert r.returncode == 0 and r.stderr == f"alive run: created ALIVE_HOME {other}\n", r.stderr


def test_the_new_home_line_never_changes_the_jobs_exit_code_when_stderr_is_closed(tmp_path):
    home = tmp_path / "new-home"
    r = subprocess.run(["sh", "-c", 'exec 2>&-; exec "$0" "$1" run etl -- sh -c "exit 7"', sys.executable, str(ALIVE)],
                       env=dict(os.environ, ALIVE_HOME=str(home)), capture_output=True, text=True, timeout=60)
    assert r.returncode == 7 and r.stdout == "" and len(heartbeats(home, "etl")) == 1, r
