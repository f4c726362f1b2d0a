"""`alive refresh SOURCE` and watchdog.refresh_sources(), the path triggers and the cron
floor take: the tick's lock, probe gate, retries, state, after and notifications."""
import os
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_alive
from wdkit import data, fleet, probe_table, runs, script, scripts, source, source_state

from alive.config import registry
from alive.correct import watchdog
from alive.base.errors import UsageError
from alive.base.timeutil import utcnow

HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX)
os.write(fd, b"%d\\n" % os.getpid())
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
"""


def hold_lock(home, seconds):
    """Another real process holding state/watchdog.lock, as a running tick would."""
    (home / "state").mkdir(exist_ok=True)
    p = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(home / "state" / "watchdog.lock"), str(seconds)],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    return p


def load(home):
    return registry.load(home / "fleet.toml", home)


def test_refresh_runs_the_producer_whatever_the_age_and_exits_0(home):
    scripts(home, "good.py", "deploy.py")
    fleet(home, source("track", after=["./deploy.py"]))
    data(home, "track.json", age_s=5)
    r = run_alive("refresh", "track", home=home)
    assert r.returncode == 0, r.stderr
    assert runs(home) == ["good.py", "deploy.py"]
    assert "refreshed track (asked for; attempt 1 of 1)" in r.stdout
    entry = source_state(home, "track")
    assert entry["last_refresh_by"] == "refresh" and entry["consecutive_failures"] == 0
    assert not (home / "health" / "alive-watchdog_latest.json").exists()  # a refresh is not a tick


def test_refresh_of_a_failing_source_exits_1_after_its_retries(home):
    script(home, "fail.py")
    fleet(home, source("shop", producer="fail.py", retries=1, retry_pause="0s"))
    r = run_alive("refresh", "shop", home=home)
    assert r.returncode == 1 and runs(home, "fail.py") == 2
    assert "FAILED shop after 2 attempts: producer exited 1: boom: upstream said 503" in r.stdout
    assert source_state(home, "shop")["consecutive_failures"] == 1


def test_refresh_of_an_unknown_source_or_one_without_producer_is_exit_3(home):
    fleet(home, source("track") + source("manual", producer=None))
    r = run_alive("refresh", "nope", home=home)
    assert r.returncode == 3 and r.stderr.strip() == "alive refresh: unknown source 'nope' (known: manual, track)"
    r = run_alive("refresh", "manual", home=home)
    assert r.returncode == 3 and "has no producer" in r.stderr and "Traceback" not in r.stderr
    r = run_alive("refresh", home=home)
    assert r.returncode == 3


def test_refresh_goes_through_the_probe_gate(home):
    scripts(home, "good.py", "probe_notab.py")
    fleet(home, source("shop", probe="browser") + probe_table("browser", "probe_notab.py"))
    r = run_alive("refresh", "shop", home=home)
    assert r.returncode == 1 and runs(home) == ["probe_notab.py"]
    assert "probe browser says no_tab: a person must re-authenticate" in r.stdout


def test_the_cron_floor_is_recorded_as_schedule(home):
    script(home, "good.py")
    fleet(home, source("track"))
    assert run_alive("refresh", "track", "--by", "schedule", home=home).returncode == 0
    assert source_state(home, "track")["last_refresh_by"] == "schedule"


def test_refresh_waits_a_bounded_time_for_a_running_tick_then_says_busy(home):
    script(home, "good.py")
    fleet(home, source("track"))
    holder = hold_lock(home, 30)
    try:
        t0 = time.monotonic()
        r = run_alive("refresh", "track", "--wait", "1s", home=home)
        assert 1 <= time.monotonic() - t0 < 15
        assert r.returncode == 1 and runs(home) == []
        assert f"a watchdog tick or another refresh is running (pid {holder.pid}); nothing done" in r.stderr
    finally:
        holder.kill()
        holder.wait()


def test_refresh_gets_the_lock_when_the_tick_ends_within_its_wait(home):
    script(home, "good.py")
    fleet(home, source("track"))
    holder = hold_lock(home, 1)
    r = run_alive("refresh", "track", "--wait", "20s", home=home)
    holder.wait()
    assert r.returncode == 0 and runs(home) == ["good.py"]


def test_refresh_sources_says_busy_without_waiting_and_runs_for_a_trigger_later(home):
    script(home, "good.py")
    fleet(home, source("a") + source("b"))
    reg = load(home)
    holder = hold_lock(home, 30)
    try:
        report = watchdog.refresh_sources(home, reg, ["a"], utcnow(), by="trigger")
        assert report.busy and report.holder == holder.pid and report.outcomes == {} and runs(home) == []
    finally:
        holder.kill()
        holder.wait()
    report = watchdog.refresh_sources(home, reg, ["a", "b", "a"], utcnow(), by="trigger")
    assert not report.busy and not report.failed
    assert {n: o.result for n, o in report.outcomes.items()} == {"a": "refreshed", "b": "refreshed"}
    assert runs(home) == ["good.py", "good.py"]
    entry = source_state(home, "a")
    assert entry["last_refresh_by"] == "trigger" and entry["last_trigger_at"] == entry["last_attempt_at"]
    assert report.to_json()["sources"]["a"]["attempts"] == 1


def test_refresh_sources_refuses_an_unknown_name_before_anything_runs(home):
    script(home, "good.py")
    fleet(home, source("a"))
    with pytest.raises(UsageError, match="unknown source 'zz'"):
        watchdog.refresh_sources(home, load(home), ["a", "zz"], utcnow())
    assert runs(home) == [] and not (home / "state").exists()


def test_a_trigger_refresh_clears_a_red_source_and_the_recovery_is_told(home):
    scripts(home, "fail.py", "good.py", "notified.py")
    fleet(home, source("shop", producer="fail.py")
          + f'[notify]\nrecovery = true\n[notify.command]\nargv = ["{home / "notified.py"}"]\n')
    data(home, "shop.json", age_s=3600)
    assert run_alive("refresh", "shop", home=home).returncode == 1
    (home / "fail.py").write_text((home / "good.py").read_text())  # the upstream is back
    report = watchdog.refresh_sources(home, load(home), ["shop"], utcnow(), by="trigger")
    assert report.outcomes["shop"].result == "refreshed"
    told = (home / "notified.log").read_text()
    assert told.count("RED: source shop") == 1 and told.count("recovered: source shop") == 1
    assert "producer exited 1: boom: upstream said 503" in told


def test_refresh_uses_no_subprocess_import_at_startup_of_the_cli(home):
    # the import is paid only when something runs: `alive refresh` of an unknown source never imports it
    fleet(home, source("a"))
    code = ("import sys; sys.path.insert(0, %r); from alive.cli import main; rc = main(['refresh', 'x']); "
            "print('subprocess' in sys.modules); sys.exit(rc)" % str(ROOT / "lib"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, ALIVE_HOME=str(home)), timeout=60)
    assert r.returncode == 3 and r.stdout.strip() == "False"


def test_producers_never_see_the_token_variables(home):
    """A producer that prints its environment must not be able to leak alive's tokens."""
    import json as _json
    import sys as _sys

    dump = home / "env.json"
    producer = home / "dump_env.py"
    producer.write_text(
        "import json, os, datetime\n"
        f"json.dump(dict(os.environ), open({str(dump)!r}, 'w'))\n"
        "now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')\n"
        "json.dump({'captured_at': now}, open(os.environ['ALIVE_SOURCE_PATH'], 'w'))\n")
    (home / "fleet.toml").write_text(
        f'[sources.s]\npath = "s.json"\nmax_age = "1h"\nproducer = [{_sys.executable!r}, "dump_env.py"]\n'
        '[notify.ntfy]\nserver = "http://127.0.0.1:9"\ntopic = "t"\ntoken_env = "MY_NTFY_TOKEN"\n'
        '[serve]\ntoken_env = "MY_SERVE_TOKEN"\n')
    r = run_alive("refresh", "s", home=home,
                  env={"MY_NTFY_TOKEN": "sekret-ntfy", "MY_SERVE_TOKEN": "sekret-serve", "OTHER": "kept"})
    assert r.returncode == 0, r.stderr
    seen = _json.loads(dump.read_text())
    assert "MY_NTFY_TOKEN" not in seen and "MY_SERVE_TOKEN" not in seen
    assert seen["OTHER"] == "kept" and seen["ALIVE_HOME"] == str(home) and seen["ALIVE_SOURCE"] == "s"
