import json
from datetime import datetime, timedelta, timezone

from conftest import run_alive
from freezegun import freeze_time

from alive.write import heartbeat
from alive.cli import main

NOW = datetime(2026, 5, 2, 8, 0, 0, tzinfo=timezone.utc)


def test_a_paused_task_is_grey_until_the_pause_runs_out(home, capsys):
    with freeze_time(NOW):
        heartbeat.write(home / "health", heartbeat.build("noisy", NOW, status="error"))
        assert main(["pause", "noisy", "--for", "2h", "--reason", "vendor outage"]) == 0
        assert "paused task:noisy until 2026-05-02T10:00:00Z: vendor outage" in capsys.readouterr().out
        assert main(["check"]) == 0
        out = capsys.readouterr().out
        assert "GREY" in out and "paused until 2026-05-02T10:00:00Z: vendor outage" in out
        assert not (home / "alerts" / "noisy.alert").exists()
    with freeze_time(NOW + timedelta(hours=2, seconds=-1)):
        assert main(["check"]) == 0
    with freeze_time(NOW + timedelta(hours=2)):  # the pause has run out at its end
        assert main(["check"]) == 2


def test_resume_ends_a_pause_and_resuming_twice_is_fine(home, capsys):
    heartbeat.write(home / "health", heartbeat.build("noisy", datetime.now(timezone.utc), status="error"))
    assert main(["pause", "noisy"]) == 0
    assert main(["check"]) == 0
    assert main(["resume", "noisy"]) == 0
    assert main(["check"]) == 2
    assert main(["resume", "noisy"]) == 0
    assert "task:noisy was not paused" in capsys.readouterr().out


def test_sources_are_paused_by_name(home):
    (home / "fleet.toml").write_text('[sources.track]\npath = "t.json"\nmax_age = "15m"\n')
    assert run_alive("pause", "source:track", "--for", "1d", home=home).returncode == 0
    doc = json.loads(run_alive("check", "--json", home=home).stdout)
    track = next(i for i in doc["items"] if i["kind"] == "source")
    assert track["color"] == "GREY" and track["paused"]["until"]
    state = json.loads((home / "state" / "pauses.json").read_text())
    assert list(state) == ["source:track"]


def test_pause_refuses_unknown_sources_bad_ids_and_bad_durations(home):
    for args, message in ((["source:nope"], "unknown source 'nope'"), (["../x"], "task id"),
                          (["t", "--for", "soon"], "is not a duration")):
        r = run_alive("pause", *args, home=home)
        assert r.returncode == 3 and message in r.stderr
    assert not (home / "state" / "pauses.json").exists()


def test_pause_refuses_a_task_nobody_knows_and_resume_does_not(home, tmp_path):
    """A typo would be paused for good and greyed out nowhere; resume must still work for
    a task that has since left fleet.toml."""
    r = run_alive("pause", "nightly-bakup", home=home)
    assert r.returncode == 3 and "unknown task 'nightly-bakup'" in r.stderr
    assert not (home / "state" / "pauses.json").exists()
    (home / "fleet.toml").write_text('[tasks.nightly-backup]\nschedule = "daily 02:00"\n')
    assert run_alive("pause", "nightly-backup", home=home).returncode == 0        # registered
    assert run_alive("write", "adhoc", home=home).returncode == 0
    assert run_alive("pause", "adhoc", home=home).returncode == 0                 # reported
    (home / "fleet.toml").write_text("")
    assert run_alive("resume", "nightly-backup", home=home).returncode == 0      # gone from fleet.toml
    assert list(json.loads((home / "state" / "pauses.json").read_text())) == ["task:adhoc"]


def test_pause_refuses_a_zero_duration(home):
    run_alive("write", "t", home=home)
    r = run_alive("pause", "t", "--for", "0s", home=home)
    assert r.returncode == 3 and "more than 0" in r.stderr


def test_a_corrupt_pause_file_is_set_aside_not_a_crash(home):
    (home / "state").mkdir()
    (home / "state" / "pauses.json").write_text("{oops")
    assert run_alive("check", home=home).returncode == 0
    assert run_alive("write", "t", home=home).returncode == 0
    assert run_alive("pause", "t", home=home).returncode == 0
    names = sorted(p.name for p in (home / "state").iterdir())
    assert "pauses.json" in names and any(n.startswith("pauses.json.corrupt-") for n in names)


def test_a_source_named_without_its_prefix_is_refused_with_the_fix(home):
    """Issue 19, item 19: `alive pause prices` said "not in fleet.toml" of a registered source."""
    (home / "fleet.toml").write_text('[sources.prices]\npath = "p.json"\nmax_age = "15m"\n')
    r = run_alive("pause", "prices", "--for", "1h", home=home)
    assert r.returncode == 3 and "prices is a source: alive pause source:prices" in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1 and not (home / "state" / "pauses.json").exists()
    assert run_alive("pause", "source:prices", home=home).returncode == 0
    r = run_alive("resume", "prices", home=home)
    assert r.returncode == 0 and "task:prices was not paused (prices is a source: alive resume source:prices)" in r.stdout
    assert list(json.loads((home / "state" / "pauses.json").read_text())) == ["source:prices"]
