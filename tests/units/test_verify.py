"""`alive verify`: a healthy fleet passes every line; each kind of fault shows its own ✗
(or ! for a warning) with a hint, and the exit code is that of a check (0, 1, 2).

Everything runs through the real bin/alive with HOME pointing into tmp_path, so the
"installed units" are looked up in a fake home, and ALIVE_SCHEDULER picks the scheduler."""
import json
import os
import sys
import textwrap
from datetime import datetime, timedelta, timezone

import pytest

from conftest import run_alive
from helpers import iso
from test_units import FAKE_CRONTAB, tool_dir

PY = sys.executable


def now():
    return datetime.now(timezone.utc)


@pytest.fixture
def world(tmp_path):
    """A healthy fleet: fleet.toml, fresh heartbeats and data, a live probe, launchd units
    installed in a fake HOME (no launchctl on PATH, so only the files are compared)."""
    home, user, empty = tmp_path / "home", tmp_path / "user", tmp_path / "empty"
    for folder in (home, user, empty):
        folder.mkdir()
    (home / "fleet.toml").write_text(textwrap.dedent(f"""\
        [settings]
        label_prefix = "com.example.alive"

        [tasks.nightly]
        schedule = "daily 03:00"
        run = ["{PY}", "-c", "pass"]

        [sources.data]
        path = "data.json"
        max_age = "1h"
        producer = ["{PY}", "-c", "pass"]
        probe = "web"

        [sources.other]
        path = "other.json"
        max_age = "1h"
        producer = ["{PY}", "-c", "pass"]

        [probes.web]
        command = ["{PY}", "-c", "print('alive')"]
        """))
    env = {"PATH": str(empty), "HOME": str(user), "ALIVE_SCHEDULER": "launchd", "TZ": "UTC"}
    w = {"home": home, "user": user, "env": env, "tmp": tmp_path,
         "agents": user / "Library" / "LaunchAgents"}
    for task in ("nightly", "alive-watchdog"):
        assert run_alive("write", task, "--summary", "fine", home=home, env=env).returncode == 0
    for name in ("data", "other"):
        (home / f"{name}.json").write_text(json.dumps({"captured_at": iso(now())}))
    assert run_alive("probe", home=home, env=env).returncode == 0
    r = run_alive("schedule", "launchd", "--out", w["agents"], home=home, env=env)
    assert r.returncode == 0, r.stderr
    return w


def verify(w, *args, **env):
    return run_alive("verify", *args, home=w["home"], env={**w["env"], **env})


def line(r, start):
    found = [ln for ln in r.stdout.splitlines() if ln[2:].startswith(start)]
    assert len(found) == 1, r.stdout
    return found[0]


def hint_after(r, start):
    lines = r.stdout.splitlines()
    i = lines.index(line(r, start))
    return lines[i + 1].strip() if i + 1 < len(lines) and lines[i + 1].startswith("    → ") else None


def test_a_healthy_fleet_passes_every_line_and_exits_0(world):
    r = verify(world)
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert [ln[0] for ln in lines[:-1]] == ["✓"] * 7
    assert line(r, "fleet.toml").endswith("valid (1 task, 2 sources, 1 probe)")
    assert line(r, "health/").startswith("✓ health/: ")
    assert line(r, "launchd") == f"✓ launchd: 9 units installed in {world['agents']}, as fleet.toml says"
    assert "watchdog: last heartbeat " in line(r, "watchdog") and "(ok)" in line(r, "watchdog")
    assert line(r, "source data").endswith(", probe alive") and "max 1h" in line(r, "source data")
    assert line(r, "check").startswith("✓ check: GREEN (")
    assert lines[-1] == "all good (7 checks; units for launchd)"


def test_a_fleet_with_each_kind_of_fault_shows_each_cross_with_a_hint(world):
    home, agents = world["home"], world["agents"]
    (home / "health" / "2026-05-02_broken_0700.json").write_text("{not json")
    long_ago = now() - timedelta(hours=2)
    for beat in (home / "health").glob("*alive-watchdog*"):
        beat.unlink()
    assert run_alive("write", "alive-watchdog", "--summary", "late", "--started-at", iso(long_ago),
                     "--completed-at", iso(long_ago), home=home, env=world["env"]).returncode == 0
    for name in ("com.example.alive.watchdog.plist", "com.example.alive.health.plist"):
        (agents / name).unlink(missing_ok=True)
    (agents / "com.example.alive.task.gone.plist").write_bytes(b"<plist/>")
    check = agents / "com.example.alive.check.plist"
    check.write_bytes(check.read_bytes().replace(b"<integer>900</integer>", b"<integer>60</integer>"))
    (home / "other.json").unlink()
    state = json.loads((home / "state" / "probes.json").read_text())
    state["web"]["state"] = "expired"
    (home / "state" / "probes.json").write_text(json.dumps(state))

    r = verify(world)
    assert r.returncode == 2
    assert line(r, "health/").startswith("✗ health/: 1 error, 0 warnings in ")
    assert "2026-05-02_broken_0700.json" in line(r, "health/")
    assert hint_after(r, "health/") == "→ `alive lint` lists every problem"
    assert line(r, "launchd") == ("✗ launchd: 1 missing (com.example.alive.watchdog.plist); "
                                  "1 extra (com.example.alive.task.gone.plist); "
                                  "1 different (com.example.alive.check.plist)")
    assert hint_after(r, "launchd") == \
        "→ `make install` (alive schedule launchd --install) brings them in line with fleet.toml"
    assert line(r, "watchdog").startswith("✗ watchdog: last heartbeat ")
    assert "no heartbeat for 2h (max gap 15m)" in line(r, "watchdog")
    assert hint_after(r, "watchdog").startswith("→ `make install` schedules it every 3 minutes")
    assert line(r, "source data").startswith("✗ source data: captured ")
    assert "probe expired: probe web says expired: a person must re-authenticate" in line(r, "source data")
    assert hint_after(r, "source data") == "→ log in again where the probe checks, then `alive probe`"
    assert line(r, "source other") == "✗ source other: no capture time: data file is missing (other.json)"
    assert hint_after(r, "source other") == "→ `alive refresh other` refreshes it now and says what fails"
    assert line(r, "check").startswith("✗ check: RED (")
    assert line(r, "fleet.toml").startswith("✓ ")
    assert r.stdout.splitlines()[-1] == "6 failing, 0 warnings (7 checks; units for launchd)"


def test_a_watchdog_that_runs_but_reports_trouble_gets_another_hint_than_one_that_does_not_run(world):
    assert run_alive("write", "alive-watchdog", "--status", "partial", "--summary", "1 refresh failed",
                     home=world["home"], env=world["env"]).returncode == 0
    r = verify(world)
    assert r.returncode == 1
    assert line(r, "watchdog").endswith("(partial): latest run partial: 1 refresh failed")
    assert hint_after(r, "watchdog").startswith("→ `alive watchdog` runs a tick and says what went wrong")


def test_units_not_installed_is_a_cross_with_the_hint_make_install(world):
    for p in world["agents"].iterdir():
        p.unlink()
    r = verify(world)
    assert r.returncode == 2
    assert line(r, "launchd") == f"✗ launchd: not installed (9 units expected in {world['agents']})"
    assert hint_after(r, "launchd") == "→ `make install` (alive schedule launchd --install)"


def test_a_broken_fleet_toml_is_a_cross_line_and_the_rest_is_skipped_not_exit_3(world):
    (world["home"] / "fleet.toml").write_text('[tasks.nightly]\nschedule = "at seven"\n')
    r = verify(world)
    assert r.returncode == 2 and r.stderr == ""
    assert line(r, "fleet.toml").startswith("✗ fleet.toml: line 2: tasks.nightly.schedule: ")
    assert hint_after(r, "fleet.toml") == "→ `alive lint` lists every problem; fix fleet.toml"
    for name in ("units", "watchdog", "sources", "check"):
        assert line(r, name) == f"- {name}: not checked (fleet.toml is invalid)"


def test_warnings_only_exit_1(world):
    old = now() - timedelta(hours=2)
    (world["home"] / "other.json").write_text(json.dumps({"captured_at": iso(old)}))
    r = verify(world)
    assert r.returncode == 1, r.stdout
    assert line(r, "source other").startswith("! source other: captured ")
    assert "data is 2h old (max age 1h)" in line(r, "source other")
    assert line(r, "check").startswith("! check: YELLOW (")
    assert r.stdout.splitlines()[-1] == "0 failing, 2 warnings (7 checks; units for launchd)"


def test_json_lists_every_check_with_its_status(world):
    (world["agents"] / "com.example.alive.prune.plist").unlink()
    r = verify(world, "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 2 and doc["exit_code"] == 2 and doc["ok"] is False and doc["scheduler"] == "launchd"
    by_name = {c["name"]: c for c in doc["checks"]}
    assert list(by_name) == ["fleet.toml", "health", "units", "watchdog", "source.data", "source.other", "check"]
    assert by_name["units"]["status"] == "error"
    assert by_name["units"]["details"]["missing"] == ["com.example.alive.prune.plist"]
    assert by_name["units"]["hint"].startswith("`make install`")
    assert by_name["source.data"]["details"]["probe"] == "alive" and by_name["check"]["status"] == "ok"


def test_systemd_units_are_looked_up_in_the_user_config_folder(world):
    env = dict(world["env"], ALIVE_SCHEDULER="systemd")
    r = verify(world, **env)
    assert line(r, "systemd").startswith("✗ systemd: not installed (18 units expected in ")
    folder = world["user"] / ".config" / "systemd" / "user"
    assert run_alive("schedule", "systemd", "--out", folder, home=world["home"], env=env).returncode == 0
    r = verify(world, **env)
    assert r.returncode == 0
    assert line(r, "systemd") == f"✓ systemd: 18 units installed in {folder}, as fleet.toml says"


def test_the_crontab_block_is_compared_job_by_job(world):
    store = world["tmp"] / "crontab.txt"
    env = dict(world["env"], ALIVE_SCHEDULER="crontab", FAKE_CRONTAB=str(store),
               PATH=str(tool_dir(world["tmp"], crontab=FAKE_CRONTAB)))
    r = verify(world, **env)
    assert line(r, "crontab").startswith("✗ crontab: not installed (9 units expected in the user's crontab)")
    assert run_alive("schedule", "crontab", "--install", home=world["home"], env=env).returncode == 0
    r = verify(world, **env)
    assert r.returncode == 0, r.stdout
    store.write_text(store.read_text().replace("*/3 * * * *", "*/5 * * * *"))
    r = verify(world, **env)
    assert line(r, "crontab") == "✗ crontab: 1 different (com.example.alive.watchdog)"


def test_without_the_crontab_program_the_units_line_says_so(world):
    r = verify(world, ALIVE_SCHEDULER="crontab")
    assert line(r, "crontab").startswith("✗ crontab: cannot compare the installed units: crontab not found on PATH")


def test_a_wrong_alive_scheduler_is_bad_usage(world):
    r = verify(world, ALIVE_SCHEDULER="cron")
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "ALIVE_SCHEDULER='cron'" in r.stderr


def test_make_verify_runs_alive_verify():
    import subprocess

    from conftest import ROOT

    r = subprocess.run(["make", "--no-print-directory", "-n", "verify"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env=dict(os.environ))
    assert r.stdout.splitlines() == ["python3 bin/alive verify"]
