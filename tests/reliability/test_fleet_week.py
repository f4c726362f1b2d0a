"""A week of a real fleet (issue 11, "done when"): seven tasks on a simulated clock in
Europe/Berlin, through the week of the spring DST change, with `alive write` for every run
and `alive check --notify` every 15 minutes (in-process, the clock frozen), a real
notification command recording every message.

The fleet: three runs a day (8/12/16 h), four a day (9/13/17/22 h), a weekly Monday job, a
backfill that finishes for good on its second night, a job every 15 minutes, a nightly
02:30 job (02:30 does not exist on Sunday the 29th: it runs at 03:00), and a task added to
fleet.toml on Wednesday. One run is missed (Wednesday 12:00) and one is slow (Thursday
13:00). Exactly two messages must go out: RED for the missed run, and its recovery.
"""
import contextlib
import io
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from freezegun import freeze_time
from helpers import iso

from alive import cli
from alive.config.schedule import fires_between, parse_schedule

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2026, 3, 23, 0, 0, tzinfo=BERLIN).astimezone(UTC)      # Monday 00:00
END = START + timedelta(days=7, hours=12)
STEP = timedelta(minutes=15)

FLEET = """
[tasks.report]
schedule = "daily 08:00,12:00,16:00"
[tasks.sync]
schedule = "daily 09:00,13:00,17:00,22:00"
slow_after = "3x"
[tasks.weekly]
schedule = "weekly mon 06:00"
[tasks.backfill]
schedule = "daily 03:00"
[tasks.quarter]
schedule = "every 15m"
[tasks.nightly]
schedule = "cron 30 2 * * *"
[notify]
renotify = "4h"
[notify.command]
argv = [{python!r}, {script!r}, {log!r}]
"""
LATE_TASK = '[tasks.newcomer]\nschedule = "daily 18:00"\n'
MISSED = ("report", datetime(2026, 3, 25, 12, 0, tzinfo=BERLIN).astimezone(UTC))
SLOW = ("sync", datetime(2026, 3, 26, 13, 0, tzinfo=BERLIN).astimezone(UTC))
NEWCOMER_FROM = datetime(2026, 3, 25, 10, 0, tzinfo=BERLIN).astimezone(UTC)


def alive(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def test_a_week_of_a_real_fleet_sends_exactly_the_expected_messages(home, tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        run_the_week(home, tmp_path)
    finally:
        monkeypatch.undo()
        time.tzset()


def run_the_week(home, tmp_path):
    log = tmp_path / "messages.log"
    script = tmp_path / "record.py"
    script.write_text("import sys\nopen(sys.argv[1], 'a').write(sys.stdin.read() + '\\n=====\\n')\n")
    config = FLEET.format(python=sys.executable, script=str(script), log=str(log))
    (home / "fleet.toml").write_text(config)
    os.utime(home / "fleet.toml", (START.timestamp(),) * 2)
    schedules = {name: parse_schedule(spec) for name, spec in
                 [("report", "daily 08:00,12:00,16:00"), ("sync", "daily 09:00,13:00,17:00,22:00"),
                  ("weekly", "weekly mon 06:00"), ("backfill", "daily 03:00"), ("quarter", "every 15m"),
                  ("nightly", "cron 30 2 * * *"), ("newcomer", "daily 18:00")]}
    runs = sorted((fire, name) for name, s in schedules.items()
                  for fire in fires_between(s, START - timedelta(seconds=1), END, BERLIN))
    assert any(name == "nightly" and fire.astimezone(BERLIN).hour == 3 for fire, name in runs)  # the DST night
    expected_runs = len(runs)
    colors, checks, backfill_runs = {}, 0, 0
    t = START
    while t < END:
        t += STEP
        # every run that has finished by now leaves its heartbeat (as the job would, at its end)
        while runs and runs[0][0] + timedelta(seconds=400) <= t:
            fire, name = runs.pop(0)
            if (name, fire) == MISSED or (name == "newcomer" and fire < NEWCOMER_FROM):
                continue
            if name == "backfill" and backfill_runs == 2:
                continue                                 # finished for good: never runs again
            took = 300 if (name, fire) == SLOW else 60
            started, done = fire + timedelta(seconds=5), fire + timedelta(seconds=5 + took)
            extra = []
            if name == "backfill":
                backfill_runs += 1
                extra = ["--complete"] if backfill_runs == 2 else []
            with freeze_time(done):
                assert alive("write", name, "--started-at", iso(started), "--completed-at", iso(done),
                             *extra)[0] == 0
        if t - STEP < NEWCOMER_FROM <= t:
            (home / "fleet.toml").write_text(config + LATE_TASK)
            os.utime(home / "fleet.toml", (NEWCOMER_FROM.timestamp(),) * 2)
        with freeze_time(t):
            code, out, err = alive("check", "--notify")
        assert code in (0, 1, 2), err
        checks += 1
        for line in out.splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[1] == "task":
                colors.setdefault(parts[2], []).append((t, parts[0]))
    messages = [m.strip() for m in log.read_text().split("=====") if m.strip()] if log.exists() else []
    titles = [m.splitlines()[0] for m in messages]
    late_at = MISSED[1] + timedelta(minutes=24)
    red = [w for w, c in colors["report"] if c == "RED"]
    print(f"\n{checks} checks over a week, {expected_runs} expected runs, {len(messages)} messages: {titles}")
    assert titles == ["RED: task report", "recovered: task report"], messages
    assert "late: expected 12:00 CET, grace 24m; next expected 16:00 CET" in messages[0]
    assert red and min(red) > late_at and max(red) < MISSED[1] + timedelta(hours=4, minutes=15)
    # everything else stayed quiet: never RED; the slow run YELLOW once, the newcomer GREY before its first run
    for name, seen in colors.items():
        if name != "report":
            assert "RED" not in {c for _, c in seen}, (name, [x for x in seen if x[1] == "RED"][:3])
    slow = [w for w, c in colors["sync"] if c == "YELLOW"]
    assert slow and all(SLOW[1] < w < SLOW[1] + timedelta(hours=4, minutes=1) for w in slow)
    assert {c for _, c in colors["newcomer"]} == {"GREY", "GREEN"}
    assert colors["backfill"][-1][1] == "GREEN"
    assert colors["weekly"][0][1] == "GREY" and colors["weekly"][-1][1] == "GREEN"
