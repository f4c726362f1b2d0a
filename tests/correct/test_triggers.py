"""`alive triggers [--loop]` on the spool backend: coalescing, refusals, busy, the crash
rule, one runner at a time, and a loop that stops cleanly. Real processes, real locks."""
import json
import os
import signal
import subprocess
import sys
import time

from conftest import ROOT, run_alive
from helpers import queued, start_alive, wait_for
from test_refresh import hold_lock
from wdkit import HEAD, data, fleet, probe_table, runs, script, source, source_state

from alive.config import registry
from alive.correct import queue
from alive.base.timeutil import utcnow

# A producer (or after command) that records its pid, then waits for ALIVE_HOME/gate
# (bounded) before it does its job: the test decides when it may finish.
GATED = HEAD + """
open(os.path.join(HOME, os.path.basename(sys.argv[0]) + ".pid"), "w").write(str(os.getpid()))
deadline = time.monotonic() + 30
while not os.path.exists(os.path.join(HOME, "gate")) and time.monotonic() < deadline:
    time.sleep(0.02)
if "ALIVE_SOURCE_PATH" in os.environ:
    write_data({"captured_at": now_iso()})
"""


def gated(home, name="gated.py"):
    path = home / name
    path.write_text(GATED)
    path.chmod(0o755)
    return name


def enqueue(home, name, times=1):
    reg = registry.load(home / "fleet.toml", home)
    return [queue.enqueue(home, reg, name, "test", utcnow()) for _ in range(times)]


def kill_pidfile(path):
    """SIGKILL the process whose pid a gated script wrote (an orphan of a killed runner)."""
    try:
        os.kill(int(path.read_text()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


def journal(home):
    path = home / "state" / "triggers.json"
    return json.loads(path.read_text()) if path.exists() else {}


def log_text(home):
    path = home / "logs" / "triggers.log"
    return path.read_text() if path.exists() else ""


# ---------------------------------------------------------------- one pass

def test_three_requests_for_one_source_are_one_producer_run_and_all_three_are_removed(home):
    script(home, "good.py")
    fleet(home, source("track"))
    data(home, "track.json", age_s=60)
    enqueue(home, "track", times=3)
    r = run_alive("triggers", home=home)
    assert r.returncode == 0, r.stderr
    assert runs(home, "good.py") == 1
    assert r.stdout.splitlines() == ["track: refreshed (3 requests)"]
    assert queued(home) == []
    entry = source_state(home, "track")
    assert entry["last_refresh_by"] == "trigger" and entry["last_trigger_at"] and entry["consecutive_failures"] == 0
    assert "took 3 requests for track x3" in log_text(home) and "3 requests removed" in log_text(home)
    assert "run" not in journal(home)


def test_each_source_runs_once_and_a_shared_after_command_runs_once(home):
    script(home, "good.py")
    script(home, "deploy.py")
    fleet(home, source("track", after=["./deploy.py"]) + source("shop", after=["./deploy.py"]))
    enqueue(home, "track", 2)
    enqueue(home, "shop", 1)
    r = run_alive("triggers", home=home)
    assert r.returncode == 0, r.stderr
    assert runs(home, "good.py") == 2 and runs(home, "deploy.py") == 1
    assert sorted(r.stdout.splitlines()) == ["after ./deploy.py: ok", "shop: refreshed (1 request)",
                                             "track: refreshed (2 requests)"]


def test_nothing_pending_is_exit_0_and_starts_nothing(home):
    script(home, "good.py")
    fleet(home, source("track"))
    r = run_alive("triggers", home=home)
    assert r.returncode == 0 and r.stdout.strip() == "alive triggers: nothing pending"
    assert runs(home) == []


def test_a_failed_refresh_is_exit_1_and_its_requests_are_still_removed(home):
    script(home, "fail.py")
    fleet(home, source("shop", producer="fail.py"))
    enqueue(home, "shop", 2)
    r = run_alive("triggers", home=home)
    assert r.returncode == 1
    assert "shop: FAILED (2 requests): producer exited 1: boom: upstream said 503 (1 in a row)" in r.stdout
    assert queued(home) == []                     # not retried every poll: the watchdog owns staleness
    assert source_state(home, "shop")["consecutive_failures"] == 1


def test_a_source_whose_probe_says_expired_is_not_refreshed_exit_1(home):
    script(home, "good.py")
    script(home, "probe_expired.py")
    fleet(home, source("track", probe="browser") + probe_table("browser", "probe_expired.py"))
    enqueue(home, "track")
    r = run_alive("triggers", home=home)
    assert r.returncode == 1 and runs(home, "good.py") == 0
    assert "track: not refreshed (1 request): probe browser says expired" in r.stdout
    assert queued(home) == []


def test_requests_for_unknown_sources_and_garbage_are_refused_logged_and_removed(home):
    script(home, "good.py")
    fleet(home, source("track"))
    enqueue(home, "track")
    folder = home / "triggers"
    hostile = {"source": "../../etc/passwd", "requested_at": "2026-05-02T08:00:00Z", "id": "x"}
    (folder / "evil.json").write_text(json.dumps(hostile))
    (folder / "track.1.json").write_text(json.dumps(dict(hostile, source="nope")))
    (folder / "garbage.json").write_text("{not json")
    (folder / "list.json").write_text("[1, 2]")
    (folder / "partial.json").write_text('{"source": "track"}')
    (folder / "notes.txt").write_text("hello")
    os.symlink("/etc/hostname", folder / "link.json")
    (folder / ".track.json.123.abcd.tmp").write_text("{}")     # a writer's temp file: not ours to judge
    (folder / "sub").mkdir()                                   # a folder is left alone
    r = run_alive("triggers", home=home)
    assert r.returncode == 0, r.stderr
    assert runs(home, "good.py") == 1
    assert queued(home) == [".track.json.123.abcd.tmp", "sub"]
    assert os.path.exists("/etc/hostname")                      # the link was removed, not its target
    log = log_text(home)
    for name in ("evil.json", "track.1.json", "garbage.json", "list.json", "partial.json", "notes.txt", "link.json"):
        assert f"refused '{name}'" in log and f"refused '{name}'" in r.stderr
    assert "asks for unknown source '../../etc/passwd'; removed" in log
    assert "is a symbolic link (not followed)" in log
    assert "Traceback" not in r.stderr
    assert sorted(os.listdir(home)) == ["alerts", "fleet.toml", "good.py", "logs", "runs.log", "state", "track.json",
                                        "triggers"]              # nothing made from a hostile name
    # refused once: the next pass has nothing left to refuse
    again = run_alive("triggers", home=home)
    assert again.returncode == 0 and "refused" not in again.stderr


def test_busy_watchdog_keeps_the_requests_for_the_next_poll(home):
    script(home, "good.py")
    fleet(home, source("track"))
    enqueue(home, "track", 2)
    holder = hold_lock(home, 30)
    try:
        r = run_alive("triggers", home=home)
    finally:
        holder.kill()
        holder.wait()
    assert r.returncode == 0, r.stderr
    assert f"(pid {holder.pid}); nothing done; 2 requests kept for the next poll" in r.stdout
    assert runs(home) == [] and len(queued(home)) == 2 and "run" not in journal(home)
    r = run_alive("triggers", home=home)
    assert r.returncode == 0 and r.stdout.strip() == "track: refreshed (2 requests)"
    assert runs(home, "good.py") == 1 and queued(home) == []


def test_a_request_that_arrives_during_the_run_gets_a_run_of_its_own(home):
    fleet(home, source("track", producer=gated(home)))
    enqueue(home, "track")
    runner = start_alive(home, "triggers")
    try:
        assert wait_for(lambda: runs(home, "gated.py") == 1)
        enqueue(home, "track")                          # the data is being captured already
        (home / "gate").touch()
        out, err = runner.communicate(timeout=30)
    finally:
        runner.kill()
    assert runner.returncode == 0, err
    assert "track: refreshed (1 request)" in out and len(queued(home)) == 1
    r = run_alive("triggers", home=home)
    assert r.returncode == 0 and runs(home, "gated.py") == 2 and queued(home) == []


# ---------------------------------------------------------------- the crash rule

def test_a_runner_killed_during_the_run_runs_it_once_more_on_the_next_pass(home):
    fleet(home, source("track", producer=gated(home)))
    enqueue(home, "track", 2)
    runner = start_alive(home, "triggers")
    assert wait_for(lambda: runs(home, "gated.py") == 1)
    runner.kill()
    runner.wait()
    kill_pidfile(home / "gated.py.pid")                 # the producer dies with it, mid-capture
    left = journal(home)["run"]
    assert left["ran"] is False and [r["attempt"] for r in left["requests"]] == [1, 1]
    assert len(queued(home)) == 2                       # taken, not removed
    (home / "gate").touch()
    r = run_alive("triggers", home=home)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "track: refreshed (2 requests; again after the runner died)"
    assert runs(home, "gated.py") == 2 and queued(home) == [] and "run" not in journal(home)
    assert "did not finish: taking its 2 requests again, once" in log_text(home)
    r = run_alive("triggers", home=home)
    assert runs(home, "gated.py") == 2                  # once more, not forever


def test_killed_between_the_run_and_the_removal_reruns_once_then_never_again(home):
    # The producer has finished and its refresh is recorded; the runner dies in the `after`
    # command, before it could mark the run done or remove anything.
    script(home, "good.py")
    fleet(home, source("track", after=["./" + gated(home, "after.py")]))
    enqueue(home, "track")
    runner = start_alive(home, "triggers")
    assert wait_for(lambda: runs(home, "after.py") == 1)
    assert source_state(home, "track")["last_refresh_by"] == "trigger"    # the run happened
    runner.kill()
    runner.wait()
    kill_pidfile(home / "after.py.pid")
    assert len(queued(home)) == 1
    (home / "gate").touch()
    r = run_alive("triggers", home=home)
    assert r.returncode == 0, r.stderr
    assert runs(home, "good.py") == 2 and queued(home) == []
    for _ in range(2):
        assert run_alive("triggers", home=home).returncode == 0
    assert runs(home, "good.py") == 2


def test_a_request_whose_second_run_also_kills_the_runner_is_dropped_and_logged(home):
    fleet(home, source("track", producer=gated(home)))
    enqueue(home, "track")
    for attempt in (1, 2):
        runner = start_alive(home, "triggers")
        assert wait_for(lambda: runs(home, "gated.py") == attempt)
        runner.kill()
        runner.wait()
        kill_pidfile(home / "gated.py.pid")
        assert [r["attempt"] for r in journal(home)["run"]["requests"]] == [attempt]
    r = run_alive("triggers", home=home)
    assert r.returncode == 0, r.stderr
    assert runs(home, "gated.py") == 2 and queued(home) == [] and "run" not in journal(home)
    assert "the runner died during its run 2 times" in log_text(home)


def test_a_runner_that_dies_before_a_source_started_has_not_tried_it(home):
    # The runner dies twice while the first source runs: that one is dropped (it killed
    # the runner twice), the second never started and is not: it runs on the next pass.
    script(home, "good.py")
    fleet(home, source("a", producer=gated(home)) + source("b"))
    enqueue(home, "a")
    enqueue(home, "b")
    for attempt in (1, 2):
        runner = start_alive(home, "triggers")
        assert wait_for(lambda: runs(home, "gated.py") == attempt)
        runner.kill()
        runner.wait()
        kill_pidfile(home / "gated.py.pid")
        left = journal(home)["run"]
        assert left["started"] == ["a"]
        assert {r["source"]: r["attempt"] for r in left["requests"]} == {"a": attempt, "b": 1}
    r = run_alive("triggers", home=home)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "b: refreshed (1 request)"
    assert runs(home, "good.py") == 1 and runs(home, "gated.py") == 2 and queued(home) == []
    assert "dropped 'a." in log_text(home) and "dropped 'b." not in log_text(home)
    assert "(1 whose refresh had not started: not counted as an attempt)" in log_text(home)


def test_a_run_marked_ran_by_a_dead_runner_is_removed_without_running_again(home):
    script(home, "good.py")
    fleet(home, source("track"))
    [path] = enqueue(home, "track")
    (home / "state").mkdir(exist_ok=True)
    (home / "state" / "triggers.json").write_text(json.dumps({
        "backend": "spool",
        "run": {"id": "20260502T080000Z-abcdef", "taken_at": "2026-05-02T08:00:00Z", "ran": True,
                "requests": [{"ref": path.name, "source": "track", "attempt": 1}]}}))
    r = run_alive("triggers", home=home)
    assert r.returncode == 0, r.stderr
    assert runs(home) == [] and queued(home) == []
    assert "run 20260502T080000Z-abcdef finished before the runner stopped: 1 request removed, not run again" in log_text(home)


def test_a_journal_ref_is_never_a_path_outside_triggers(home):
    script(home, "good.py")
    fleet(home, source("track"))
    victim = home / "victim.json"
    victim.write_text("{}")
    (home / "state").mkdir(exist_ok=True)
    (home / "state" / "triggers.json").write_text(json.dumps({
        "backend": "spool", "done": [{"ref": "../victim.json", "source": "track"}]}))
    r = run_alive("triggers", home=home)
    assert r.returncode == 0, r.stderr
    assert victim.exists() and runs(home) == []


def test_a_corrupt_journal_is_set_aside_and_the_queue_still_runs(home):
    script(home, "good.py")
    fleet(home, source("track"))
    enqueue(home, "track")
    (home / "state").mkdir(exist_ok=True)
    (home / "state" / "triggers.json").write_text("{half")
    r = run_alive("triggers", home=home)
    assert r.returncode == 0 and "triggers.json is not valid JSON" in r.stderr
    assert runs(home, "good.py") == 1
    assert any(n.startswith("triggers.json.corrupt-") for n in os.listdir(home / "state"))


# ---------------------------------------------------------------- one runner at a time

def test_a_second_runner_exits_0_saying_so_and_runs_nothing(home):
    fleet(home, source("track", producer=gated(home)))
    enqueue(home, "track", 3)
    first = start_alive(home, "triggers")
    try:
        assert wait_for(lambda: runs(home, "gated.py") == 1)
        second = run_alive("triggers", home=home)
        assert second.returncode == 0
        assert f"another runner is taking the triggers (pid {first.pid}); nothing to do" in second.stdout
        (home / "gate").touch()
        out, err = first.communicate(timeout=30)
    finally:
        first.kill()
    assert first.returncode == 0, err
    assert runs(home, "gated.py") == 1 and queued(home) == []


def test_two_runners_started_together_refresh_the_source_once(home):
    slow = home / "slow.py"
    slow.write_text(HEAD + 'time.sleep(0.5)\nwrite_data({"captured_at": now_iso()})\n')
    slow.chmod(0o755)
    fleet(home, source("track", producer="slow.py"))
    enqueue(home, "track", 4)
    procs = [start_alive(home, "triggers") for _ in range(2)]
    outs = [p.communicate(timeout=30) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert runs(home, "slow.py") == 1 and queued(home) == []
    said = "".join(out for out, _ in outs)
    assert said.count("track: refreshed (4 requests)") == 1
    assert "another runner is taking the triggers" in said or "nothing pending" in said


# ---------------------------------------------------------------- --loop

def loop_fleet(home, producer, poll="1s", extra=""):
    fleet(home, f'[triggers]\npoll = "{poll}"\n\n' + source("track", producer=producer) + extra)


def test_loop_sigterm_during_a_refresh_finishes_it_records_it_removes_the_request_exits_0(home):
    loop_fleet(home, gated(home))
    runner = start_alive(home, "triggers", "--loop")
    try:
        enqueue(home, "track")
        assert wait_for(lambda: runs(home, "gated.py") == 1)
        runner.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert runner.poll() is None                  # still finishing the refresh
        (home / "gate").touch()
        out, err = runner.communicate(timeout=30)
    finally:
        runner.kill()
    assert runner.returncode == 0, err
    assert "track: refreshed (1 request)" in out and out.rstrip().endswith("alive triggers: stopped")
    assert queued(home) == [] and source_state(home, "track")["last_refresh_by"] == "trigger"
    assert "run" not in journal(home) and runs(home, "gated.py") == 1


def test_loop_takes_a_request_within_a_poll_and_stops_on_sigint_when_idle(home):
    script(home, "good.py")
    loop_fleet(home, "good.py")
    runner = start_alive(home, "triggers", "--loop")
    try:
        time.sleep(0.5)
        t0 = time.monotonic()
        enqueue(home, "track")
        assert wait_for(lambda: queued(home) == [] and runs(home, "good.py") == 1, 10)
        assert time.monotonic() - t0 < 3.0            # poll 1 s + the producer + slack
        t1 = time.monotonic()
        runner.send_signal(signal.SIGINT)
        out, err = runner.communicate(timeout=10)
        assert time.monotonic() - t1 < 2.0            # an idle loop does not sleep out its poll
    finally:
        runner.kill()
    assert runner.returncode == 0, err
    assert out.splitlines()[0] == "alive triggers: taking triggers from spool every 1s (SIGTERM or Ctrl-C stops)"
    assert "track: refreshed (1 request)" in out and "Traceback" not in err


def test_loop_reads_fleet_toml_again_so_a_new_source_is_not_refused(home):
    script(home, "good.py")
    loop_fleet(home, "good.py")
    runner = start_alive(home, "triggers", "--loop")
    try:
        time.sleep(0.5)
        loop_fleet(home, "good.py", extra=source("shop"))
        os.utime(home / "fleet.toml", (time.time() + 5, time.time() + 5))   # a visibly new mtime
        enqueue(home, "shop")
        assert wait_for(lambda: queued(home) == [], 10)
        runner.send_signal(signal.SIGTERM)
        out, err = runner.communicate(timeout=10)
    finally:
        runner.kill()
    assert "shop: refreshed (1 request)" in out and "refused" not in err


def test_a_second_loop_exits_0_while_one_runs(home):
    script(home, "good.py")
    loop_fleet(home, "good.py")
    first = start_alive(home, "triggers", "--loop")
    try:
        assert wait_for(lambda: (home / "state" / "triggers.lock").exists())
        time.sleep(0.3)
        second = run_alive("triggers", "--loop", home=home, timeout=10)
        assert second.returncode == 0 and "another runner is taking the triggers" in second.stdout
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=10)
    assert first.returncode == 0


# ---------------------------------------------------------------- usage and config

def test_bad_config_is_exit_3_in_one_line(home):
    (home / "fleet.toml").write_text('[triggers]\nbackend = "http-kv"\n')
    r = run_alive("triggers", home=home)
    assert r.returncode == 3 and "Traceback" not in r.stderr and "needs a [triggers.http_kv] table" in r.stderr


def test_a_zero_timeout_is_exit_3(home):
    r = run_alive("triggers", "--timeout", "0s", home=home)
    assert r.returncode == 3 and r.stderr.strip() == "alive triggers: --timeout must be at least 1s"


def test_json_says_what_one_pass_did(home):
    script(home, "good.py")
    fleet(home, source("track"))
    enqueue(home, "track", 2)
    (home / "triggers" / "junk.json").write_text("{")
    r = run_alive("triggers", "--json", home=home)
    doc = json.loads(r.stdout)
    assert r.returncode == 0
    assert doc["sources"] == {"track": {"result": "refreshed", "requests": 2, "error": None}}
    assert doc["refused"] == [{"ref": "junk.json", "why": "is not JSON"}] and doc["removed"] == 2


def test_the_spool_runner_never_loads_urllib(home):
    code = (f"import sys; sys.path.insert(0, {str(ROOT / 'lib')!r}); from alive import cli; "
            "rc = cli.main(['triggers']); print(rc, 'urllib.request' in sys.modules, 'http.client' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, ALIVE_HOME=str(home)))
    assert r.stdout.splitlines()[-1] == "0 False False", r.stderr
