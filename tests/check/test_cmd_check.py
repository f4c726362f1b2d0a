"""`alive check` as a user runs it: real processes, real folders."""
import json
import os
from datetime import datetime, timedelta, timezone

from conftest import run_alive
from freezegun import freeze_time

from alive.write import heartbeat
from alive.cli import main

NOW = datetime(2026, 5, 2, 8, 0, 0, tzinfo=timezone.utc)


def beat(home, task, at=None, **kw):
    at = at or datetime.now(timezone.utc)
    heartbeat.write(home / "health", heartbeat.build(task, at, **kw))


def test_exit_codes_follow_the_overall_color(home):
    assert run_alive("check", home=home).returncode == 0          # nothing at all is GREEN
    beat(home, "good")
    assert run_alive("check", home=home).returncode == 0
    beat(home, "meh", status="partial")
    assert run_alive("check", home=home).returncode == 1
    beat(home, "bad", status="error", errors=["disk full"])
    r = run_alive("check", home=home)
    assert r.returncode == 2
    assert "RED     task  bad" in r.stdout and "latest run failed: disk full" in r.stdout
    assert "overall: RED (3 items: 1 GREEN, 1 YELLOW, 1 RED)" in r.stdout
    assert "\033[" not in r.stdout  # no colors when not a TTY


def test_json_has_the_contract_fields(home):
    beat(home, "daily-dq", status="error", errors=["3 nulls"], interval_s=86400)
    r = run_alive("check", "--json", home=home)
    doc = json.loads(r.stdout)
    assert set(doc) >= {"overall", "checked_at", "items", "invalid_files"}
    [it] = doc["items"]
    assert {k: it[k] for k in ("kind", "name", "color", "last_status", "max_gap_s", "consecutive_errors")} == \
        {"kind": "task", "name": "daily-dq", "color": "RED", "last_status": "error", "max_gap_s": 172800,
         "consecutive_errors": 1}
    assert isinstance(it["age_s"], int) and it["reasons"] == ["latest run failed: 3 nulls"]


def test_alert_files_exist_exactly_while_red_and_keep_their_since(home):
    with freeze_time(NOW):
        beat(home, "etl", NOW, status="error")
        assert main(["check"]) == 2
    alert = home / "alerts" / "etl.alert"
    first = json.loads(alert.read_text())
    assert first == {"kind": "task", "name": "etl", "color": "RED", "reasons": ["latest run failed: etl error"],
                     "since": "2026-05-02T08:00:00Z"}
    with freeze_time(NOW + timedelta(minutes=5)):
        main(["check"])
    assert json.loads(alert.read_text())["since"] == "2026-05-02T08:00:00Z"
    with freeze_time(NOW + timedelta(minutes=10)):
        beat(home, "etl", NOW + timedelta(minutes=10))
        assert main(["check"]) == 0
    assert not alert.exists()


def test_source_alerts_are_named_source_dot_name(home):
    (home / "fleet.toml").write_text('[sources.track]\npath = "track.json"\nmax_age = "15m"\n')
    run_alive("check", home=home)
    assert sorted(os.listdir(home / "alerts")) == ["alive-watchdog.alert", "source.track.alert"]


def test_a_broken_fleet_toml_is_exit_3_naming_the_line_and_writes_nothing(home):
    (home / "fleet.toml").write_text('[tasks.dq]\nschedule = "daily 07:00"\nmax_gap = "36 hours"\n')
    beat(home, "dq", status="error")
    r = run_alive("check", home=home)
    assert r.returncode == 3
    assert 'fleet.toml:3: tasks.dq.max_gap: "36 hours" is not a duration (use 36h)' in r.stderr
    assert "Traceback" not in r.stderr and not (home / "alerts").exists()


def test_config_option_and_environment(home, tmp_path):
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text('[tasks.only]\nschedule = "every 15m"\n')
    r = run_alive("check", "--json", "--config", cfg, home=home)
    assert [i["name"] for i in json.loads(r.stdout)["items"]] == ["only"]
    r = run_alive("check", "--json", home=home, env={"ALIVE_CONFIG": str(cfg)})
    assert [i["name"] for i in json.loads(r.stdout)["items"]] == ["only"]
    r = run_alive("check", home=home)
    assert r.returncode == 0  # no fleet.toml at all is valid ...
    r = run_alive("check", "--config", tmp_path / "missing.toml", home=home)
    assert r.returncode == 3 and "missing.toml does not exist" in r.stderr  # ... but one named on purpose must be there


def test_a_hostile_health_folder_is_reported_never_a_crash(home):
    health = home / "health"
    health.mkdir()
    good = heartbeat.build("fine", datetime.now(timezone.utc))
    (health / "2026-05-02_trunc_0100.json").write_text('{"task_id": "trunc", "sta')
    (health / "2026-05-02_garbage_0100.json").write_bytes(os.urandom(512))
    with open(health / "2026-05-02_huge_0100.json", "wb") as f:
        f.truncate(50 << 20)
    (health / "2026-05-02_nulls_0100.json").write_text(json.dumps({k: None for k in heartbeat.REQUIRED}))
    (health / "2026-05-02_types_0100.json").write_text(json.dumps(dict(good, task_id="types", warnings="x", metrics=[])))
    legacy = dict(good, task_id="legacy", status="GREEN")     # named by its started_at, as a run it is fine
    (health / f"{heartbeat.canonical_stem(legacy)}.json").write_text(json.dumps(legacy))
    outside = home / "outside.json"
    outside.write_text(json.dumps(dict(good, task_id="linked")))
    os.symlink(outside, health / "2026-05-02_linked_0100.json")
    (health / "2026-05-02_folder_0100.json").mkdir()
    os.mkfifo(health / "2026-05-02_fifo_0100.json")
    (health / "9999-12-31_future_2359.json").write_text(json.dumps(dict(good, task_id="future")))
    (health / "1970-01-01_ancient_0000.json").write_text(json.dumps(dict(
        good, task_id="ancient", started_at="1970-01-01T00:00:00Z", completed_at="1970-01-01T00:00:00Z")))
    os.close(os.open(os.path.join(os.fsencode(health), b"2026-05-02_caf\xe9_0100.json"), os.O_CREAT | os.O_WRONLY))
    heartbeat.write(health, good)
    r = run_alive("check", "--json", home=home, timeout=30)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    doc = json.loads(r.stdout)
    colors = {i["name"]: i["color"] for i in doc["items"]}
    assert colors["fine"] == "GREEN" and colors["legacy"] == "GREEN"
    for name in ("trunc", "garbage", "huge", "nulls", "types", "linked", "folder", "fifo", "ancient"):
        assert colors[name] == "RED", name
    problems = {f["file"]: f["problem"] for f in doc["invalid_files"]}
    assert "not valid JSON" in problems["health/2026-05-02_trunc_0100.json"]
    assert "over the 1048576-byte limit" in problems["health/2026-05-02_huge_0100.json"]
    assert problems["health/2026-05-02_nulls_0100.json"] == "required field task_id is null"
    assert "symbolic link" in problems["health/2026-05-02_linked_0100.json"]
    assert "folder" in problems["health/2026-05-02_folder_0100.json"]
    assert "not a regular file" in problems["health/2026-05-02_fifo_0100.json"]
    assert outside.exists()
    text = run_alive("check", home=home, timeout=30)
    assert text.returncode == 2 and "invalid files (" in text.stdout


def table_row(out, name):
    return next(line for line in out.splitlines() if f"  {name} " in line)


def test_the_table_shows_a_run_in_progress_and_no_reason_for_green(home, capsys):
    """Issue 19: the table never showed a run in progress (README: check shows it running);
    a GREEN item said "on time" where README's table says (no reason)."""
    beat(home, "etl", NOW - timedelta(hours=1))
    beat(home, "quiet", NOW - timedelta(hours=1))
    (home / "state" / "running").mkdir(parents=True)
    (home / "state" / "running" / "etl.json").write_text(json.dumps(
        {"pid": os.getpid(), "task_id": "etl", "started_at": "2026-05-02T07:57:00Z"}))
    with freeze_time(NOW):
        assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert table_row(out, "etl").rstrip().endswith("1h   run in progress for 3m"), out
    assert table_row(out, "quiet").rstrip().endswith("1h"), out
    assert "on time" not in out
