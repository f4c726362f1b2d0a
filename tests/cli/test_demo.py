"""`alive demo`: the whole triad on a temporary ALIVE_HOME, under 30 s, nothing outside it."""
import os
import time

from conftest import run_alive


def test_the_demo_runs_the_whole_triad_in_its_own_folder(tmp_path):
    fake_home, tmp = tmp_path / "user-home", tmp_path / "tmp"
    fake_home.mkdir()
    tmp.mkdir()
    t0 = time.monotonic()
    r = run_alive("demo", env={"HOME": str(fake_home), "TMPDIR": str(tmp)}, timeout=120)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr[-2000:]
    assert took < 30, f"the demo took {took:.1f}s"
    out = r.stdout
    for heading in ("== 1. write", "== 2. check", "== 3. correct", "== 4. report", "== 5. beyond one machine",
                    "== 6. always scheduled"):
        assert heading in out
    for shown in ("$ alive run sync-crm", "scripts/cron-heartbeat-write.sh weekly-backup", "$ alive check",
                  "$ alive watchdog", "sales: refreshed (2 requests)", "RED: source billing",
                  "notifications.log unchanged: True", "$ alive export prometheus", "$ alive verify",
                  "/ping/$ALIVE_PING_KEY/sales-report/start", "  OK (HTTP 200)", "sales-report: ok, 'exit 0 in "):
        assert shown in out, shown
    [demo] = os.listdir(tmp)                              # one folder, in the temporary space
    home = tmp / demo
    assert out.rstrip().endswith(f"dashboard: file://{home / 'site' / 'index.html'}")
    for made in ("site/index.html", "site/brief.md", "site/metrics.prom", "notifications.log",
                 "launchd/local.alive.watchdog.plist", "data/sales.json"):
        assert (home / made).is_file(), made
    assert os.listdir(fake_home) == []                    # nothing written in the user's home
    assert "Traceback" not in out + r.stderr


def test_demo_home_is_the_folder_it_uses_and_its_verify_needs_no_scheduler(tmp_path):
    """Issue 19: `alive demo --home DIR` ignored --home; the demo's verify failed on a machine
    without cron ("crontab not found"): it looks at the demo's own folder on every machine."""
    home = tmp_path / "demo-home"
    r = run_alive("demo", "--home", home, env={"HOME": str(tmp_path / "user-home"), "ALIVE_SCHEDULER": "crontab",
                                               "PATH": "/nonexistent:" + os.environ["PATH"]}, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.startswith(f"alive demo: ALIVE_HOME={home} ")
    assert (home / "fleet.toml").is_file() and (home / "site" / "index.html").is_file()
    verify = r.stdout[r.stdout.index("$ alive verify"):]
    assert "not found on PATH" not in verify and "cannot compare" not in verify, verify
    assert f"launchd: not installed (12 units expected in {home}/Library/LaunchAgents)" in verify, verify
    assert not (tmp_path / "user-home").exists()


def test_demo_refuses_a_folder_that_is_not_empty(tmp_path):
    """--home or --dir must be empty or new: the demo writes its own fleet.toml there."""
    home = tmp_path / "real-home"
    home.mkdir()
    (home / "fleet.toml").write_text("# mine\n")
    for option in ("--home", "--dir"):
        r = run_alive("demo", option, home)
        assert r.returncode == 3 and f"{home} is not empty" in r.stderr and len(r.stderr.splitlines()) == 1
    assert [p.name for p in home.iterdir()] == ["fleet.toml"] and (home / "fleet.toml").read_text() == "# mine\n"
