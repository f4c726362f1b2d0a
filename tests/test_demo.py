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
