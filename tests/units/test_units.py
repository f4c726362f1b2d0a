"""`alive schedule launchd|systemd|crontab`: the job list, the three unit writers and their
installers. Every unit is read back and its fire times compared with schedule.next_fires:
launchd's StartCalendarInterval expanded here, systemd's OnCalendar by systemd-analyze
itself, cron lines parsed back as `cron ...` schedules."""
import json
import os
import plistlib
import re
import shutil
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from alive.config import registry
from alive.units import crontab, launchd, systemd, units
from alive.config.schedule import next_fires, parse_schedule
from conftest import ROOT, run_alive

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
# A window with no daylight-saving change in Europe or America: the schedulers differ there
# (documented in systemd.py), alive's rule is croniter's.
AFTER = datetime(2026, 5, 2, 9, 17, 23, tzinfo=UTC)
EXTRA_SPECS = [
    "daily 08:00,12:30", "weekly mon,thu 06:00", "weekly sun 23:59",
    "cron 0,30 9-17 1,15 * mon-fri",   # day-of-month OR day-of-week
    "cron 5 4 * 2,5,8 0", "cron */20 * * * 1-5", "cron 15 */6 * * *", "cron 0 12 1 * *",
    "cron 30 * * * *", "cron * 9-17 1-15 * *",
    "cron 0 9 */2 * mon",              # a day field starting with `*`: both must match (cronie)
    "every 90m", "every 2h", "every 1d", "every 30s", "every 7d", "every 20m",
]


@pytest.fixture
def tz_berlin(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    return BERLIN


def example(home):
    """The demo fleet of examples/fleet.toml in `home`."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "examples" / "fleet.toml", home / "fleet.toml")
    reg = registry.load(home / "fleet.toml", home)
    return reg, units.setup_for(reg)


def fleet(home, text):
    home.mkdir(parents=True, exist_ok=True)
    (home / "fleet.toml").write_text(textwrap.dedent(text))
    reg = registry.load(home / "fleet.toml", home)
    return reg, units.setup_for(reg)


def job(spec, name="task.x"):
    return units.Job(name, (sys.executable, str(units.ALIVE_BIN), "run", "x", "--", "/bin/true"),
                     parse_schedule(spec), f"task x ({spec})")


def tool_dir(tmp_path, **scripts):
    """A folder of fake tools (real Python scripts) to put on PATH."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    for name, body in scripts.items():
        path = folder / name
        path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
        path.chmod(0o755)
    return folder


# ---------------------------------------------------------------- the job list


def test_the_example_fleet_has_the_core_jobs_then_one_job_per_scheduled_task_and_source(tmp_path):
    reg, setup = example(tmp_path / "home")
    names = [j.name for j in units.jobs(reg, setup)]
    assert names == ["watchdog", "check", "triggers", "probe", "report", "export", "brief", "prune",
                     "task.daily-data-quality-check", "task.sales-report", "task.sync-crm", "refresh.sales"]


def test_every_argv_is_absolute_and_wraps_the_command_it_stands_for(tmp_path):
    reg, setup = example(tmp_path / "home")
    by_name = {j.name: j for j in units.jobs(reg, setup)}
    for j in by_name.values():
        assert os.path.isabs(j.argv[0]) and os.path.exists(j.argv[0])
        assert j.argv[1] == str(ROOT / "bin" / "alive")
    home = str(tmp_path / "home")
    assert by_name["check"].argv[2:] == ("check", "--notify")
    assert by_name["report"].argv[2:] == ("report", "--format", "html", "--out", f"{home}/site/index.html")
    assert by_name["export"].argv[2:] == ("export", "prometheus", "--out", f"{home}/site/metrics.prom")
    assert by_name["brief"].argv[2:] == ("report", "--format", "markdown", "--out", f"{home}/site/brief.md")
    assert by_name["task.sales-report"].argv[2:] == ("run", "sales-report", "--no-overlap", "--", "python3",
                                                     "jobs/job.py", "report sent to 12 people")
    assert by_name["refresh.sales"].argv[2:] == ("refresh", "sales", "--by", "schedule")
    assert {j.name: j.schedule.text for j in by_name.values()} == {
        "watchdog": "every 3m", "check": "every 15m", "triggers": "every 30s", "probe": "every 10m",
        "report": "every 30m", "export": "every 30m", "brief": "daily 23:00", "prune": "daily 23:00",
        "task.daily-data-quality-check": "daily 07:00", "task.sales-report": "daily 08:00,12:00,16:00",
        "task.sync-crm": "every 1h", "refresh.sales": "every 15m"}


def test_a_tasks_timeout_and_overlap_are_carried_into_every_unit_and_the_timeout_kills(tmp_path):
    reg, setup = fleet(tmp_path / "home", """
        [tasks.sync]
        schedule = "every 15m"
        run = ["/bin/sleep", "30"]
        timeout = "1s"
        [tasks.free]
        schedule = "daily 07:00"
        run = ["/bin/true"]
        overlap = true
    """)
    assert reg.tasks["sync"].timeout == 1 and reg.tasks["sync"].overlap is False
    by_name = {j.name: j for j in units.jobs(reg, setup)}
    assert by_name["task.sync"].argv[2:] == ("run", "sync", "--timeout", "1s", "--no-overlap", "--", "/bin/sleep", "30")
    assert by_name["task.free"].argv[2:] == ("run", "free", "--", "/bin/true")       # overlap = true: as before
    job_list = [by_name["task.sync"]]
    now = datetime(2026, 5, 2, tzinfo=UTC)
    for writer in (crontab, launchd, systemd):
        files = writer.render(setup, job_list, now, UTC).values()
        text = "".join(v if isinstance(v, str) else v.decode() for v in files)
        assert "--timeout" in text and "--no-overlap" in text, writer.__name__
    block = crontab.render(setup, job_list, now, UTC)[f"{setup.label_prefix}.crontab"]
    line = [ln for ln in block.splitlines() if ln.startswith("*/15")][0]
    (tmp_path / "home" / "logs").mkdir()
    ran = subprocess.run(["/bin/sh", "-c", line.split(" ", 5)[5].replace("\\%", "%")], timeout=60)
    assert ran.returncode == 124          # `alive run --timeout 1s` stopped the 30 s job


@pytest.mark.parametrize("platform, homebrew", [("linux", False), ("darwin", True)])
def test_the_units_path_has_homebrews_folder_only_on_macos(tmp_path, monkeypatch, platform, homebrew):
    monkeypatch.setattr(sys, "platform", platform)
    _reg, setup = fleet(tmp_path / "home", "")
    folders = setup.path.split(":")
    assert ("/opt/homebrew/bin" in folders) is homebrew
    assert folders[0] == os.path.dirname(os.path.abspath(sys.executable)) and "/usr/bin" in folders


def test_probe_is_scheduled_only_with_probes_at_the_shortest_interval(tmp_path):
    reg, setup = fleet(tmp_path / "a", "[tasks.t]\nschedule = \"daily 07:00\"\n")
    assert "probe" not in [j.name for j in units.jobs(reg, setup)]
    reg, setup = fleet(tmp_path / "b", """
        [probes.slow]
        command = ["/bin/true"]
        interval = "1h"
        [probes.fast]
        command = ["/bin/true"]
        interval = "90s"
        """)
    probe = next(j for j in units.jobs(reg, setup) if j.name == "probe")
    assert probe.schedule.interval == 90


def test_environment_names_the_home_a_fixed_path_and_a_config_outside_the_home(tmp_path):
    reg, setup = example(tmp_path / "home")
    env = setup.env()
    assert env["ALIVE_HOME"] == str(tmp_path / "home")
    own = os.path.dirname(os.path.abspath(sys.executable))
    assert env["PATH"].split(":") == [own] + [p for p in units.BASE_PATH if p != own and (
        sys.platform == "darwin" or p not in units.MACOS_ONLY_PATH)]
    assert "ALIVE_CONFIG" not in env
    other = tmp_path / "elsewhere.toml"
    shutil.copy(ROOT / "examples" / "fleet.toml", other)
    setup2 = units.setup_for(registry.load(other, tmp_path / "home"))
    assert setup2.env()["ALIVE_CONFIG"] == str(other)


def test_owned_labels_are_ours_and_not_those_of_a_longer_prefix():
    assert units.owned("com.x.alive.watchdog", "com.x.alive")
    assert units.owned("com.x.alive.task.a.b", "com.x.alive")
    assert units.owned("com.x.alive.refresh.s", "com.x.alive")
    assert not units.owned("com.x.alive.work.watchdog", "com.x.alive")
    assert not units.owned("com.x.alivefoo.watchdog", "com.x.alive")
    assert not units.owned("com.other.watchdog", "com.x.alive")


@pytest.mark.parametrize("points", [
    {(h, m) for h in range(24) for m in (0, 15, 30, 45)},
    {(8, 0), (12, 30), (16, 0)},
    {(h, m, s) for h in range(24) for m in range(60) for s in (0, 30)},
    {(1, 2, 3)},
])
def test_product_groups_cover_exactly_the_points_without_overlap(points):
    groups = units.product_groups(points)
    products = [set(__import__("itertools").product(*g)) for g in groups]
    assert set().union(*products) == points
    assert sum(len(p) for p in products) == len(points)


# ---------------------------------------------------------------- launchd


def launchd_fires(calendar, after, count, tz):
    """Expand StartCalendarInterval (a dict or a list of dicts; missing keys are wildcards,
    Weekday 0 and 7 are Sunday) into its next `count` fire times after `after`, in tz."""
    entries = calendar if isinstance(calendar, list) else [calendar]
    start = after.astimezone(tz)
    fires, day = [], start.date()
    for _ in range(3 * 366):
        weekday = day.isoweekday() % 7
        minutes = set()
        for e in entries:
            if e.get("Month", day.month) != day.month or e.get("Day", day.day) != day.day:
                continue
            if "Weekday" in e and e["Weekday"] % 7 != weekday:
                continue
            hours = [e["Hour"]] if "Hour" in e else range(24)
            mins = [e["Minute"]] if "Minute" in e else range(60)
            minutes |= {h * 60 + m for h in hours for m in mins}
        for minute in sorted(minutes):
            t = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=tz)
            if t > start:
                fires.append(t)
        if len(fires) >= count:
            return fires[:count]
        day += timedelta(days=1)
    return fires


def test_each_example_plist_passes_its_checks_and_fires_when_the_schedule_says(tmp_path, tz_berlin):
    reg, setup = example(tmp_path / "home")
    files = launchd.render(setup, units.jobs(reg, setup))
    for j in units.jobs(reg, setup):
        name = f"local.alive.{j.name}.plist"
        plist = plistlib.loads(files[name])
        assert launchd.check_plist(plist) == []
        assert plist["Label"] == f"local.alive.{j.name}"
        assert plist["ProgramArguments"] == list(j.argv)
        assert plist["EnvironmentVariables"] == setup.env()
        assert plist["StandardOutPath"] == plist["StandardErrorPath"] == f"{setup.home}/logs/{j.name}.log"
        assert plist["ProcessType"] == "Background" and plist["WorkingDirectory"] == setup.home
        assert "~" not in files[name].decode()
        if j.schedule.kind == "every":
            assert plist["StartInterval"] == j.schedule.interval and plist["RunAtLoad"] is True
            assert "StartCalendarInterval" not in plist
        else:
            assert launchd_fires(plist["StartCalendarInterval"], AFTER, 12, tz_berlin) == \
                next_fires(j.schedule, AFTER, 12)


@pytest.mark.parametrize("spec", [s for s in EXTRA_SPECS if not s.startswith("every")
                                  and not parse_schedule(s).days_and])  # launchd says no "both": below
def test_calendar_dicts_fire_exactly_when_the_schedule_says(spec, tz_berlin):
    dicts = launchd.calendar_dicts(parse_schedule(spec))
    assert dicts is not None and launchd.check_plist({"Label": "x", "ProgramArguments": ["/x"],
                                                      "StartCalendarInterval": dicts}) == []
    assert launchd_fires(dicts, AFTER, 30, tz_berlin) == next_fires(parse_schedule(spec), AFTER, 30)


def test_launchd_runs_a_both_days_cron_spec_on_its_weekdays_and_says_so():
    # StartCalendarInterval reads Day and Weekday as crontab(5) does, either one: it cannot
    # say "an odd day that is a Monday", so the job runs every Monday, a note says which.
    j = job("cron 0 9 */2 * mon")
    assert launchd.calendar_dicts(j.schedule) == [{"Hour": 9, "Minute": 0, "Weekday": 1}]
    [note] = launchd.notes(units.PLACEHOLDERS, [j], now=AFTER, tz=ZoneInfo("UTC"))
    assert "launchd runs it on every day of the week it names" in note and "task.x" in note


def test_day_of_month_and_day_of_week_are_never_in_one_dict():
    dicts = launchd.calendar_dicts(parse_schedule("cron 0 9 1,15 * mon"))
    assert {tuple(sorted(d)) for d in dicts} == {("Day", "Hour", "Minute"), ("Hour", "Minute", "Weekday")}


@pytest.mark.parametrize("spec, interval", [("cron */2 9-17 1-15 * *", 120), ("cron * * * * *", 60),
                                            ("cron */2 0-23 1-20 * *", 120)])
def test_a_calendar_too_large_for_launchd_falls_back_to_its_shortest_gap(spec, interval):
    plist = launchd.plist_for(job(spec), units.PLACEHOLDERS)
    assert plist["StartInterval"] == interval and "StartCalendarInterval" not in plist


GOOD = {"Label": "com.x.a", "ProgramArguments": ["/usr/bin/python3", "/x/alive", "check"],
        "EnvironmentVariables": {"ALIVE_HOME": "/h"}, "StartInterval": 60, "RunAtLoad": True,
        "ProcessType": "Background", "StandardOutPath": "/h/logs/a.log", "StandardErrorPath": "/h/logs/a.log",
        "WorkingDirectory": "/h"}


@pytest.mark.parametrize("change, problem", [
    ({"Label": None}, "Label is missing"),
    ({"Label": "has space"}, "Label: must not contain spaces"),
    ({"ProgramArguments": ["python3", "x"]}, "the program 'python3' must be an absolute path"),
    ({"ProgramArguments": []}, "ProgramArguments: must be a non-empty array"),
    ({"ProgramArguments": ["/x", 3]}, "every argument must be a string"),
    ({"StartInterval": "60"}, "StartInterval: '60' must be a whole number"),
    ({"StartInterval": True}, "StartInterval: True must be a whole number"),
    ({"StartInterval": 0}, "StartInterval: 0 must be a whole number of seconds above 0"),
    ({"StartCalendarInterval": {"Hour": 7}}, "needs exactly one of StartInterval and StartCalendarInterval"),
    ({"StartInterval": None}, "needs exactly one of StartInterval and StartCalendarInterval"),
    ({"StartInterval": None, "StartCalendarInterval": {"Hour": 24}}, "Hour 24 must be an integer from 0 to 23"),
    ({"StartInterval": None, "StartCalendarInterval": [{"Weekday": 8}]},
     "[0] Weekday 8 must be an integer from 0 to 7"),
    ({"StartInterval": None, "StartCalendarInterval": [{"Second": 1}]}, "unknown key 'Second'"),
    ({"StartInterval": None, "StartCalendarInterval": []}, "must not be an empty array"),
    ({"StartInterval": None, "StartCalendarInterval": {"Minute": "5"}}, "Minute '5' must be an integer"),
    ({"KeepAlive": True}, "unknown key 'KeepAlive'"),
    ({"StandardOutPath": "~/logs/a.log"}, "StandardOutPath: '~/logs/a.log' must be an absolute path"),
    ({"StandardOutPath": "/Users/me/~x.log"}, "StandardOutPath: '/Users/me/~x.log' holds a ~"),
    ({"EnvironmentVariables": {"PATH": "~/bin:/usr/bin"}}, "EnvironmentVariables.PATH: '~/bin:/usr/bin' holds a ~"),
    ({"EnvironmentVariables": {"N": 1}}, "'N' must map to a string"),
    ({"ProcessType": "Bckground"}, "ProcessType: 'Bckground' must be one of Background"),
    ({"RunAtLoad": "yes"}, "RunAtLoad: 'yes' must be true or false"),
    ({"WorkingDirectory": "relative"}, "WorkingDirectory: 'relative' must be an absolute path"),
])
def test_check_plist_catches_each_bad_plist(change, problem):
    plist = {**GOOD, **change}
    plist = {k: v for k, v in plist.items() if v is not None}
    assert launchd.check_plist(GOOD) == []
    problems = launchd.check_plist(plist)
    assert any(problem in p for p in problems), problems


def test_check_plist_refuses_what_is_not_a_dictionary():
    assert launchd.check_plist(["Label"]) == ["must be a dictionary, not list"]


def test_a_tilde_in_a_task_command_is_refused_before_anything_is_written(tmp_path):
    home = tmp_path / "home"
    fleet(home, '[tasks.t]\nschedule = "daily 07:00"\nrun = ["/bin/sh", "~/job.sh"]\n')
    r = run_alive("schedule", "launchd", "--out", tmp_path / "out", home=home)
    assert r.returncode == 3 and not (tmp_path / "out").exists()
    assert r.stderr.count("\n") == 1 and "job task.t: plist ProgramArguments[7]: '~/job.sh' holds a ~" in r.stderr


def test_the_launchd_templates_are_what_the_generator_writes():
    folder = ROOT / "launchd"
    on_disk = {p.name: p.read_bytes() for p in folder.glob("*.plist")}
    generated = launchd.templates()
    assert sorted(on_disk) == sorted(f"com.example.alive.{name}.plist" for name in units.CORE)
    assert sorted(generated) == sorted(on_disk)
    for name, data in generated.items():
        assert on_disk[name] == data, f"launchd/{name} differs from launchd.templates(); regenerate it"
    for data in on_disk.values():
        text = data.decode()
        assert "@PYTHON@" in text and "@ALIVE@" in text and "@ALIVE_HOME@" in text and "@PATH@" in text
        assert "<string>@LABEL_PREFIX@." in text


def test_filling_in_a_template_gives_the_plist_the_generator_writes(tmp_path):
    reg, setup = example(tmp_path / "home")
    files = launchd.render(setup, units.jobs(reg, setup))
    template = (ROOT / "launchd" / "com.example.alive.watchdog.plist").read_text()
    for key, value in (("@PYTHON@", setup.python), ("@ALIVE_HOME@", setup.home), ("@ALIVE@", setup.alive),
                       ("@PATH@", setup.path), ("@LABEL_PREFIX@", setup.label_prefix)):
        template = template.replace(key, value)
    assert template.encode() == files["local.alive.watchdog.plist"]


# ---------------------------------------------------------------- systemd


def systemd_fires(specs, after, count, tz_name):
    """The next fire times of OnCalendar specs, as systemd-analyze computes them."""
    fires = set()
    for spec in specs:
        r = subprocess.run(["systemd-analyze", "calendar", f"--iterations={count}",
                            f"--base-time=@{int(after.timestamp())}", spec],
                           capture_output=True, text=True, timeout=30, env={**os.environ, "TZ": tz_name})
        assert r.returncode == 0, r.stderr
        found = re.findall(r"(?:Next elapse|Iter\. #\d+|\(in UTC\)): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$",
                           r.stdout, re.M)
        fires |= {datetime.fromisoformat(t).replace(tzinfo=UTC) for t in found}
    return sorted(fires)[:count]


needs_systemd = pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze not installed")


def timer_specs(text):
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith("OnCalendar=")]


@needs_systemd
@pytest.mark.parametrize("tz_name", ["Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_each_example_timer_fires_when_the_schedule_says_by_systemd_analyze(tmp_path, monkeypatch, tz_name):
    monkeypatch.setenv("TZ", tz_name)
    reg, setup = example(tmp_path / "home")
    files = systemd.render(setup, units.jobs(reg, setup))
    for j in units.jobs(reg, setup):
        specs = timer_specs(files[f"local.alive.{j.name}.timer"])
        assert specs, j.name
        want = [t.astimezone(UTC) for t in next_fires(j.schedule, AFTER, 8)]
        assert systemd_fires(specs, AFTER, 8, tz_name) == want, j.name


@needs_systemd
@pytest.mark.parametrize("spec", EXTRA_SPECS)
def test_oncalendar_fires_exactly_when_the_schedule_says(spec, tz_berlin):
    lines = systemd.timer_lines(parse_schedule(spec))
    specs = [ln.split("=", 1)[1] for ln in lines if ln.startswith("OnCalendar=")]
    assert "Persistent=true" in lines
    want = [t.astimezone(UTC) for t in next_fires(parse_schedule(spec), AFTER, 30)]
    assert systemd_fires(specs, AFTER, 30, "Europe/Berlin") == want


def test_every_interval_that_does_not_divide_a_day_runs_relative_to_the_last_run():
    assert systemd.timer_lines(parse_schedule("every 7m")) == ["OnBootSec=7m", "OnUnitActiveSec=7m"]
    assert systemd.timer_lines(parse_schedule("every 2d")) == ["OnBootSec=2d", "OnUnitActiveSec=2d"]


def test_sub_minute_timers_are_accurate_to_a_second_and_others_keep_the_default():
    assert "AccuracySec=1s" in systemd.timer_lines(parse_schedule("every 30s"))
    assert not [ln for ln in systemd.timer_lines(parse_schedule("every 15m")) if ln.startswith("AccuracySec")]


def test_examples_of_oncalendar_as_people_write_them():
    assert systemd.calendar_specs(parse_schedule("daily 07:00")) == ["*-*-* 07:00:00"]
    assert systemd.calendar_specs(parse_schedule("weekly mon,thu 06:00")) == ["Mon,Thu *-*-* 06:00:00"]
    assert systemd.calendar_specs(parse_schedule("cron */15 * * * *")) == ["*-*-* *:00/15:00"]
    assert systemd.calendar_specs(parse_schedule("cron 0 9 1 * mon")) == ["*-*-01 09:00:00", "Mon *-*-* 09:00:00"]
    assert systemd.every_specs(15 * 60) == ["*-*-* *:00/15:00 UTC"]
    assert systemd.every_specs(30) == ["*-*-* *:*:00/30 UTC"]


def test_execstart_and_environment_quote_what_systemd_would_otherwise_expand():
    assert systemd.exec_line(["/usr/bin/python3", "a b", "50%", "$HOME", 'say "hi"', "back\\slash", ";"]) == \
        '"/usr/bin/python3" "a b" "50%%" "$$HOME" "say \\"hi\\"" "back\\\\slash" ";"'
    assert systemd.environment_line("ALIVE_HOME", "/Users/me/Application Support/alive 100%") == \
        '"ALIVE_HOME=/Users/me/Application Support/alive 100%%"'
    assert systemd.exec_line(["/x", "line\nbreak"]) == '"/x" "line\\nbreak"'


def analyze_verify(folder, names, tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir(exist_ok=True)
    return subprocess.run(["systemd-analyze", "verify", "--user", "--man=no", *names], cwd=folder,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SYSTEMD_LOG_LEVEL": "notice"})


@needs_systemd
def test_systemd_analyze_verify_passes_every_example_unit(tmp_path):
    home = tmp_path / "home"
    example(home)
    r = run_alive("schedule", "systemd", "--out", tmp_path / "units", home=home)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in (tmp_path / "units").iterdir())
    assert len(names) == 24
    v = analyze_verify(tmp_path / "units", names, tmp_path)
    assert (v.returncode, v.stderr, v.stdout) == (0, "", "")


@needs_systemd
def test_systemd_analyze_verify_passes_with_spaces_percent_and_dollar_in_paths_and_arguments(tmp_path):
    home = tmp_path / "Application Support" / "alive 100%"
    fleet(home, """
        [tasks.odd]
        schedule = "cron 0,30 9-17 1,15 * mon-fri"
        run = ["/bin/echo", "a b", "50%", "$HOME", "say \\"hi\\"", ";"]
        """)
    r = run_alive("schedule", "systemd", "--out", tmp_path / "units", home=home)
    assert r.returncode == 0, r.stderr
    names = sorted(p.name for p in (tmp_path / "units").iterdir())
    v = analyze_verify(tmp_path / "units", names, tmp_path)
    assert (v.returncode, v.stderr) == (0, "")


@needs_systemd
def test_systemd_analyze_verify_does_catch_a_broken_unit(tmp_path):
    """The check above could not pass by accident: a wrong setting is reported."""
    (tmp_path / "bad.service").write_text("[Service]\nType=oneshot\nExecStart=relative/prog\n")
    v = analyze_verify(tmp_path, ["bad.service"], tmp_path)
    assert v.returncode != 0 or v.stderr


def test_a_unit_name_longer_than_systemd_allows_is_refused(tmp_path):
    reg, setup = fleet(tmp_path / "h", f'[settings]\nlabel_prefix = "{"x" * 250}"\n')
    with pytest.raises(units.UsageError, match="longer than 255"):
        systemd.render(setup, units.jobs(reg, setup))


# ---------------------------------------------------------------- crontab


def cron_fires(lines, after, count):
    """Fire times of emitted cron lines (`sleep N;` adds N seconds), parsed back as schedules."""
    fires = set()
    for line in lines:
        fields = line.split()
        sleep = int(fields[6].rstrip(";")) if fields[5] == "sleep" else 0
        for t in next_fires(parse_schedule("cron " + " ".join(fields[:5])), after - timedelta(seconds=sleep), count):
            fires.add(t + timedelta(seconds=sleep))
    return sorted(f.astimezone(UTC) for f in fires if f > after)[:count]


def cron_lines(text):
    return [ln for ln in text.splitlines() if ln and not ln.startswith("#")]


def test_each_example_cron_line_fires_when_the_schedule_says(tmp_path, tz_berlin):
    reg, setup = example(tmp_path / "home")
    for j in units.jobs(reg, setup):
        lines = crontab.job_lines(setup, j, AFTER, tz_berlin)
        assert lines[0] == f"# local.alive.{j.name}: {j.schedule.text}"
        want = [t.astimezone(UTC) for t in next_fires(j.schedule, AFTER, 12)]
        assert cron_fires(cron_lines("\n".join(lines)), AFTER, 12) == want, j.name


@pytest.mark.parametrize("spec", EXTRA_SPECS)
@pytest.mark.parametrize("tz_name", ["Europe/Berlin", "Asia/Kolkata", "UTC"])
def test_cron_lines_fire_exactly_when_the_schedule_says_or_a_comment_says_why_not(spec, tz_name, monkeypatch):
    monkeypatch.setenv("TZ", tz_name)
    zone = ZoneInfo(tz_name)
    lines = crontab.job_lines(units.PLACEHOLDERS, job(spec), AFTER, zone)
    notes = [ln for ln in lines if ln.startswith("# alive: ")]
    want = [t.astimezone(UTC) for t in next_fires(parse_schedule(spec), AFTER, 30)]
    got = cron_fires(cron_lines("\n".join(lines)), AFTER, 30)
    shifts = tz_name == "Europe/Berlin" and spec in ("every 90m", "every 2h", "every 1d", "every 7d")
    if shifts:  # right until summer time ends (2026-10-25), as the note says
        summer_end = datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
        want, got = [t for t in want if t < summer_end], [t for t in got if t < summer_end]
    assert got == want
    if spec == "every 30s":  # exact, but only through the shell's sleep
        assert notes == ["# alive: every 30s cannot be said exactly in cron, whose smallest step is a minute: one line "
                         "per run in the minute, each after a sleep (cron runs every line with /bin/sh)"]
    elif shifts:
        # counted from 00:00 UTC, these land on other local hours in winter: exact only until then
        assert len(notes) == 1 and "offset changes with daylight saving time" in notes[0]
        assert notes[0].endswith("these lines are right while it is UTC+02:00")
    else:
        assert notes == []


def test_cron_cannot_say_every_7m_and_a_comment_says_so():
    lines = crontab.job_lines(units.PLACEHOLDERS, job("every 7m"), AFTER, UTC)
    assert lines[1] == ("# alive: every 7m cannot be said exactly in cron: closest is */7 * * * * "
                        "(its steps restart at every full hour)")
    assert cron_lines("\n".join(lines))[0].startswith("*/7 * * * * ")
    assert crontab.every_specs(90, 0)[2] == \
        "every 1m30s cannot be said exactly in cron: closest is */2 * * * * (cron counts whole minutes)"
    assert crontab.every_specs(2 * 86400, 0)[:2] == (["0 0 */2 * *"], [0])
    assert crontab.every_specs(45, 0)[:2] == (["* * * * *"], [0])


def test_cron_specs_pass_straight_through_and_every_takes_the_usual_form():
    assert crontab.calendar_specs(parse_schedule("cron 0,30 9-17 1,15 * mon-fri")) == ["0,30 9-17 1,15 * mon-fri"]
    assert crontab.every_specs(900, 7200)[0] == ["*/15 * * * *"]
    assert crontab.every_specs(3600, 19800)[0] == ["30 * * * *"]  # Kolkata: UTC+05:30
    assert crontab.every_specs(5400, 0)[0] == ["0 */3 * * *", "30 1-22/3 * * *"]
    assert crontab.calendar_specs(parse_schedule("weekly mon,thu 06:00")) == ["0 6 * * 1,4"]


def test_a_cron_line_runs_the_argv_through_the_shell_unchanged(tmp_path):
    """The quoting, run for real by /bin/sh after cron's own `\\%` -> `%` step."""
    home = tmp_path / "it's 100% home"
    home.mkdir()
    (home / "logs").mkdir()
    setup = units.Setup(python=sys.executable, alive="/unused", home=str(home), label_prefix="p", path="/usr/bin:/bin")
    argv = (sys.executable, "-c", "import os, sys, json; print(json.dumps([sys.argv[1:], os.environ['ALIVE_HOME'], "
                                  "os.getcwd()]))", "a b", "50%", "$HOME", "it's", "`x`", "\\")
    j = units.Job("task.q", argv, parse_schedule("every 1h"), "q")
    line = cron_lines("\n".join(crontab.job_lines(setup, j, AFTER, UTC)))[0]
    shell = " ".join(line.split(" ")[5:]).replace("\\%", "%")
    subprocess.run(["/bin/sh", "-c", shell], check=True, timeout=30)
    import json

    assert json.loads((home / "logs" / "task.q.log").read_text()) == [list(argv[3:]), str(home), str(home)]


def test_a_line_break_in_an_argument_is_refused_for_crontab():
    j = units.Job("task.q", ("/x", "a\nb"), parse_schedule("every 1h"), "q")
    with pytest.raises(units.UsageError, match="line break"):
        crontab.job_lines(units.PLACEHOLDERS, j, AFTER, UTC)


MINE = "# BEGIN alive (p)\nold line\n# END alive (p)\n"


def test_merge_replaces_our_block_and_keeps_every_other_line():
    text = "MAILTO=me\n0 1 * * * backup\n" + MINE + "# BEGIN alive (other)\nx\n# END alive (other)\n5 5 * * * tail\n"
    merged = crontab.merge(text, "# BEGIN alive (p)\nnew\n# END alive (p)\n", "p")
    assert merged == ("MAILTO=me\n0 1 * * * backup\n# BEGIN alive (p)\nnew\n# END alive (p)\n"
                      "# BEGIN alive (other)\nx\n# END alive (other)\n5 5 * * * tail\n")
    assert crontab.merge("0 1 * * * backup\n", MINE, "p") == "0 1 * * * backup\n" + MINE
    assert crontab.merge("", MINE, "p") == MINE
    assert crontab.remove(text, "p") == text.replace(MINE, "")
    assert crontab.remove(MINE, "p") == ""
    assert crontab.merge(MINE + "a\n" + MINE, MINE.replace("old", "new"), "p") == MINE.replace("old", "new") + "a\n"


def test_a_begin_without_its_end_is_refused_rather_than_guessed():
    with pytest.raises(units.UsageError, match="no '# END alive \\(p\\)' after it"):
        crontab.merge("# BEGIN alive (p)\nmine\n0 1 * * * theirs\n", MINE, "p")


FAKE_CRONTAB = """
import os, sys
store = os.environ["FAKE_CRONTAB"]
if sys.argv[1:] == ["-l"]:
    if not os.path.exists(store):
        sys.stderr.write("no crontab for tester\\n")
        sys.exit(1)
    sys.stdout.buffer.write(open(store, "rb").read())      # bytes as stored, as cron's crontab -l
elif sys.argv[1:] == ["-"]:
    open(store, "wb").write(sys.stdin.buffer.read())
else:
    sys.exit(2)
"""


def test_crontab_install_merges_our_block_keeps_foreign_lines_and_uninstall_takes_it_out(tmp_path):
    home = tmp_path / "home"
    example(home)
    store = tmp_path / "crontab.txt"
    store.write_text("MAILTO=me@example.com\n0 1 * * * /usr/local/bin/backup\n")
    env = {"PATH": str(tool_dir(tmp_path, crontab=FAKE_CRONTAB)), "FAKE_CRONTAB": str(store), "TZ": "UTC"}
    r = run_alive("schedule", "crontab", "--install", home=home, env=env)
    assert r.returncode == 0, r.stderr
    first = store.read_text()
    assert first.startswith("MAILTO=me@example.com\n0 1 * * * /usr/local/bin/backup\n"
                            "# BEGIN alive (local.alive)\n")
    assert first.endswith("# END alive (local.alive)\n") and (home / "logs").is_dir()
    store.write_text(first + "30 2 * * * /usr/local/bin/after\n")
    r = run_alive("schedule", "crontab", "--install", home=home, env=env)
    assert (r.returncode, r.stdout) == (0, "unchanged: the crontab already holds these 12 jobs\n")
    (home / "fleet.toml").write_text((home / "fleet.toml").read_text().replace('schedule = "every 1h"\n', ""))
    r = run_alive("schedule", "crontab", "--install", home=home, env=env)
    after = store.read_text()
    assert r.returncode == 0 and "task.sync-crm" not in after and after.count("# BEGIN alive") == 1
    assert after.endswith("# END alive (local.alive)\n30 2 * * * /usr/local/bin/after\n")
    r = run_alive("schedule", "crontab", "--uninstall", home=home, env=env)
    assert r.returncode == 0
    assert store.read_text() == ("MAILTO=me@example.com\n0 1 * * * /usr/local/bin/backup\n"
                                 "30 2 * * * /usr/local/bin/after\n")


def test_crontab_install_and_uninstall_keep_crlf_and_latin1_lines_byte_for_byte(tmp_path):
    home = tmp_path / "home"
    example(home)
    store = tmp_path / "crontab.txt"
    theirs = "MAILTO=me\r\n# Sauvegarde compl\xe8te\x0c\r\n0 1 * * * /usr/local/bin/backup\r\n".encode("latin-1")
    store.write_bytes(theirs)
    env = {"PATH": str(tool_dir(tmp_path, crontab=FAKE_CRONTAB)), "FAKE_CRONTAB": str(store), "TZ": "UTC"}
    r = run_alive("schedule", "crontab", "--install", home=home, env=env)
    assert r.returncode == 0, r.stderr
    assert store.read_bytes().startswith(theirs + b"# BEGIN alive (local.alive)\n")
    assert run_alive("verify", home=home, env={**env, "ALIVE_SCHEDULER": "crontab"}).stdout.count("internal error") == 0
    r = run_alive("schedule", "crontab", "--uninstall", home=home, env=env)
    assert r.returncode == 0 and store.read_bytes() == theirs, r.stderr


def test_crontab_install_into_an_empty_crontab(tmp_path):
    home = tmp_path / "home"
    example(home)
    store = tmp_path / "crontab.txt"
    env = {"PATH": str(tool_dir(tmp_path, crontab=FAKE_CRONTAB)), "FAKE_CRONTAB": str(store)}
    r = run_alive("schedule", "crontab", "--install", home=home, env=env)
    assert r.returncode == 0, r.stderr
    assert store.read_text().startswith("# BEGIN alive (local.alive)\n")


# ---------------------------------------------------------------- installing


@pytest.mark.parametrize("kind, action, tool", [
    ("launchd", "--install", "launchctl"), ("launchd", "--uninstall", "launchctl"),
    ("systemd", "--install", "systemctl"), ("systemd", "--uninstall", "systemctl"),
    ("crontab", "--install", "crontab"), ("crontab", "--uninstall", "crontab"),
])
def test_install_refuses_in_one_line_without_the_scheduler_tool(tmp_path, kind, action, tool):
    home = tmp_path / "home"
    example(home)
    fake_home = tmp_path / "user"
    fake_home.mkdir()
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_alive("schedule", kind, action, home=home, env={"PATH": str(empty), "HOME": str(fake_home)})
    assert r.returncode == 3
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"alive schedule: {tool} not found on PATH: ")
    assert list(fake_home.iterdir()) == [] and not (home / "logs").exists()


def test_systemd_install_refuses_when_systemctl_reaches_no_user_session(tmp_path):
    home = tmp_path / "home"
    example(home)
    fake_home = tmp_path / "user"
    fake_home.mkdir()
    tools = tool_dir(tmp_path, systemctl="""
        import sys
        sys.stderr.write("Failed to connect to bus: No medium found\\n")
        sys.exit(1)
        """)
    r = run_alive("schedule", "systemd", "--install", home=home, env={"PATH": str(tools), "HOME": str(fake_home)})
    assert r.returncode == 3 and r.stderr.count("\n") == 1
    assert "systemctl --user cannot reach your user service manager (Failed to connect to bus: No medium found)" \
        in r.stderr
    assert list(fake_home.iterdir()) == []


FAKE_SYSTEMCTL = """
import os, sys
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
"""


def test_systemd_install_writes_the_units_reloads_and_enables_every_timer(tmp_path):
    home = tmp_path / "home"
    example(home)
    fake_home, log = tmp_path / "user", tmp_path / "calls.log"
    fake_home.mkdir()
    env = {"PATH": str(tool_dir(tmp_path, systemctl=FAKE_SYSTEMCTL)), "HOME": str(fake_home), "FAKE_LOG": str(log)}
    r = run_alive("schedule", "systemd", "--install", home=home, env=env)
    assert r.returncode == 0, r.stderr
    folder = fake_home / ".config" / "systemd" / "user"
    assert len(list(folder.glob("local.alive.*.service"))) == len(list(folder.glob("*.timer"))) == 12
    timers = sorted(p.name for p in folder.glob("*.timer"))
    calls = log.read_text().splitlines()
    assert calls[0] == "--user show-environment" and calls[1] == "--user daemon-reload"
    assert calls[2].startswith("--user enable ") and sorted(calls[2].split()[2:]) == timers
    assert calls[3].startswith("--user restart ")
    (folder / "local.alive.task.gone.timer").write_text("[Timer]\n")
    (folder / "local.alive.task.gone.service").write_text("[Service]\n")
    (folder / "other.timer").write_text("[Timer]\n")
    log.write_text("")
    r = run_alive("schedule", "systemd", "--install", home=home, env=env)
    assert r.returncode == 0
    assert log.read_text().splitlines()[1] == "--user disable --now local.alive.task.gone.timer"
    assert not (folder / "local.alive.task.gone.service").exists() and (folder / "other.timer").exists()
    r = run_alive("schedule", "systemd", "--uninstall", home=home, env=env)
    assert r.returncode == 0 and sorted(p.name for p in folder.iterdir()) == ["other.timer"]


FAKE_LAUNCHCTL = """
import json, os, plistlib, sys
state_path = os.environ["FAKE_STATE"]
state = json.load(open(state_path)) if os.path.exists(state_path) else {"loaded": [], "draining": {}}
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
verb, args = sys.argv[1], sys.argv[2:]
code = 0
if verb == "print":
    label = args[0].split("/", 2)[2]
    # a booted-out label lingers for two more looks, as launchd's does while it drains
    if state["draining"].get(label, 0) > 0:
        state["draining"][label] -= 1
    elif label not in state["loaded"]:
        code = 113
elif verb == "bootout":
    label = args[0].split("/", 2)[2]
    if label in state["loaded"]:
        state["loaded"].remove(label)
        state["draining"][label] = 2
    else:
        sys.stderr.write("Boot-out failed: 3: No such process\\n")
        code = 3
elif verb == "bootstrap":
    label = plistlib.load(open(args[1], "rb"))["Label"]
    if label in state["loaded"] or state["draining"].get(label):
        sys.stderr.write("Bootstrap failed: 5: Input/output error\\n")
        code = 5
    else:
        state["loaded"].append(label)
json.dump(state, open(state_path, "w"))
sys.exit(code)
"""


def test_launchd_install_bootstraps_each_plist_after_the_old_one_is_gone(tmp_path):
    home = tmp_path / "home"
    example(home)
    fake_home, log, state = tmp_path / "user", tmp_path / "calls.log", tmp_path / "state.json"
    agents = fake_home / "Library" / "LaunchAgents"
    agents.mkdir(parents=True)
    (agents / "com.other.app.plist").write_bytes(b"theirs")
    (agents / "local.alive.work.watchdog.plist").write_bytes(b"another fleet")
    env = {"PATH": str(tool_dir(tmp_path, launchctl=FAKE_LAUNCHCTL)), "HOME": str(fake_home),
           "FAKE_LOG": str(log), "FAKE_STATE": str(state)}
    r = run_alive("schedule", "launchd", "--install", home=home, env=env)
    assert r.returncode == 0, r.stderr
    ours = sorted(p.name for p in agents.glob("local.alive.*.plist") if ".work." not in p.name)
    assert len(ours) == 12 and (home / "logs").is_dir()
    uid = os.getuid()
    calls = log.read_text().splitlines()
    assert calls.count(f"bootstrap gui/{uid} {agents / 'local.alive.check.plist'}") == 1
    assert calls.index(f"bootout gui/{uid}/local.alive.check") < \
        calls.index(f"bootstrap gui/{uid} {agents / 'local.alive.check.plist'}")

    # Again: nothing changed, nothing reloaded.
    log.write_text("")
    r = run_alive("schedule", "launchd", "--install", home=home, env=env)
    assert r.returncode == 0 and "bootout" not in log.read_text() and r.stdout.count("unchanged: ") == 12

    # A changed plist is booted out, waited for while it drains, and bootstrapped again.
    (home / "fleet.toml").write_text((home / "fleet.toml").read_text().replace('"daily 07:00"', '"daily 07:30"'))
    log.write_text("")
    r = run_alive("schedule", "launchd", "--install", home=home, env=env)
    assert r.returncode == 0, r.stderr
    calls = log.read_text().splitlines()
    label = "local.alive.task.daily-data-quality-check"
    load = calls.index(f"bootstrap gui/{uid} {agents / (label + '.plist')}")
    # after the bootout, launchctl print is asked until the draining label is gone (3 looks)
    assert calls[load - 4:load] == [f"bootout gui/{uid}/{label}"] + [f"print gui/{uid}/{label}"] * 3
    assert calls.count(f"bootstrap gui/{uid} {agents / (label + '.plist')}") == 1
    calendar = plistlib.loads((agents / f"{label}.plist").read_bytes())["StartCalendarInterval"]
    assert calendar == {"Hour": 7, "Minute": 30}

    r = run_alive("schedule", "launchd", "--uninstall", home=home, env=env)
    assert r.returncode == 0
    assert sorted(p.name for p in agents.iterdir()) == ["com.other.app.plist", "local.alive.work.watchdog.plist"]


def test_install_dry_run_says_what_and_changes_nothing(tmp_path):
    home = tmp_path / "home"
    example(home)
    fake_home = tmp_path / "user"
    fake_home.mkdir()
    log = tmp_path / "calls.log"
    env = {"PATH": str(tool_dir(tmp_path, systemctl=FAKE_SYSTEMCTL)), "HOME": str(fake_home), "FAKE_LOG": str(log)}
    r = run_alive("schedule", "systemd", "--install", "--dry-run", home=home, env=env)
    assert r.returncode == 0 and "would run: systemctl --user daemon-reload" in r.stdout
    assert list(fake_home.iterdir()) == [] and log.read_text() == "--user show-environment\n"


OLD_DEFAULT = "com.example.alive"
ONE_TASK = '[tasks.sync]\nschedule = "every 1h"\nrun = ["/bin/true"]\n'


def installed_before(setup, reg, writer, home=None):
    """The units an earlier alive wrote for this fleet with the old default prefix (or for another
    ALIVE_HOME: a fleet of its own, one task other)."""
    import dataclasses

    old = dataclasses.replace(setup, label_prefix=OLD_DEFAULT, home=home or setup.home)
    job_list = units.jobs(reg, old)
    if home:
        job_list = [dataclasses.replace(j, name="task.other") for j in job_list if j.name == "task.sync"]
    return writer.render(old, job_list)


@pytest.mark.parametrize("scheduler", ["systemd", "launchd"])
def test_units_installed_with_the_old_default_prefix_are_found_replaced_and_uninstalled(tmp_path, scheduler):
    home = tmp_path / "home"
    reg, setup = fleet(home, ONE_TASK)
    assert setup.label_prefix == "local.alive"             # the default: no com.example.* in users' units
    writer = {"systemd": systemd, "launchd": launchd}[scheduler]
    fake_home, log, state = tmp_path / "user", tmp_path / "calls.log", tmp_path / "state.json"
    folder = fake_home / (".config/systemd/user" if scheduler == "systemd" else "Library/LaunchAgents")
    folder.mkdir(parents=True)
    ours_before = installed_before(setup, reg, writer)
    theirs = installed_before(setup, reg, writer, home=str(tmp_path / "other-home"))
    units.write_files(folder, {**ours_before, **theirs})
    env = {"PATH": str(tool_dir(tmp_path, systemctl=FAKE_SYSTEMCTL, launchctl=FAKE_LAUNCHCTL)),
           "HOME": str(fake_home), "FAKE_LOG": str(log), "FAKE_STATE": str(state)}
    r = run_alive("verify", "--json", home=home, env={**env, "ALIVE_SCHEDULER": scheduler})
    extra = [c for c in json.loads(r.stdout)["checks"] if c["name"] == "units"][0]["details"]["extra"]
    assert sorted(extra) == sorted(ours_before)             # found (another home's are not ours)
    r = run_alive("schedule", scheduler, "--install", home=home, env=env)
    assert r.returncode == 0, r.stderr
    left = sorted(p.name for p in folder.iterdir())
    assert left == sorted(list(theirs) + list(writer.render(setup, units.jobs(reg, setup))))
    units.write_files(folder, ours_before)
    r = run_alive("schedule", scheduler, "--uninstall", home=home, env=env)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in folder.iterdir()) == sorted(theirs)


def test_a_crontab_block_of_the_old_default_prefix_is_replaced_and_uninstalled(tmp_path):
    home = tmp_path / "home"
    reg, setup = fleet(home, ONE_TASK)
    old_block = installed_before(setup, reg, crontab)[f"{OLD_DEFAULT}.crontab"]
    store = tmp_path / "crontab.txt"
    store.write_text("0 1 * * * /usr/local/bin/backup\n" + old_block)
    env = {"PATH": str(tool_dir(tmp_path, crontab=FAKE_CRONTAB)), "FAKE_CRONTAB": str(store), "TZ": "UTC"}
    r = run_alive("schedule", "crontab", "--install", home=home, env=env)
    assert r.returncode == 0, r.stderr
    text = store.read_text()
    assert OLD_DEFAULT not in text and text.startswith("0 1 * * * /usr/local/bin/backup\n# BEGIN alive (local.alive)\n")
    store.write_text(text + old_block)
    r = run_alive("schedule", "crontab", "--uninstall", home=home, env=env)
    assert r.returncode == 0 and store.read_text() == "0 1 * * * /usr/local/bin/backup\n", r.stderr
    other = installed_before(setup, reg, crontab, home=str(tmp_path / "other-home"))[f"{OLD_DEFAULT}.crontab"]
    store.write_text(other)                                   # another ALIVE_HOME's block: not ours
    assert run_alive("schedule", "crontab", "--install", home=home, env=env).returncode == 0
    assert store.read_text().startswith(other + "# BEGIN alive (local.alive)\n")


NO_BUS_SYSTEMCTL = """
import sys
sys.stderr.write("Failed to connect to bus: No medium found\\n")     # systemctl --user without a session bus
sys.exit(1)
"""


@pytest.mark.parametrize("action", ["--install", "--uninstall"])
def test_a_dry_run_needs_no_user_session_bus(tmp_path, action):
    home = tmp_path / "home"
    example(home)
    fake_home = tmp_path / "user"
    fake_home.mkdir()
    env = {"PATH": str(tool_dir(tmp_path, systemctl=NO_BUS_SYSTEMCTL)), "HOME": str(fake_home)}
    r = run_alive("schedule", "systemd", action, "--dry-run", home=home, env=env)
    assert r.returncode == 0, r.stderr
    assert "would run: systemctl --user daemon-reload" in r.stdout or "nothing to remove" in r.stdout
    assert "cannot reach your user service manager (Failed to connect to bus: No medium found)" in r.stderr
    assert "without --dry-run this refuses" in r.stderr and list(fake_home.iterdir()) == []
    r = run_alive("schedule", "systemd", action, home=home, env=env)
    assert r.returncode == 3 and "cannot reach your user service manager" in r.stderr


# ---------------------------------------------------------------- the command line


def test_without_options_the_units_are_printed_and_with_out_written(tmp_path):
    home = tmp_path / "home"
    example(home)
    r = run_alive("schedule", "launchd", home=home)
    assert r.returncode == 0 and r.stdout.count("==> local.alive.") == 12
    assert "<key>Label</key>" in r.stdout
    r = run_alive("schedule", "crontab", home=home)
    assert r.stdout.startswith("# BEGIN alive (local.alive)\n")
    assert r.stdout.endswith("# END alive (local.alive)\n")
    r = run_alive("schedule", "launchd", "--out", tmp_path / "out", home=home)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 12
    assert plistlib.loads((tmp_path / "out" / "local.alive.watchdog.plist").read_bytes())["StartInterval"] == 180


@pytest.mark.parametrize("args, message", [
    (["launchd", "--dry-run"], "--dry-run goes with --install or --uninstall"),
    (["launchd", "--install", "--uninstall"], "not allowed with argument"),
    (["launchd", "--out", "x", "--install"], "not allowed with argument"),
    (["cronjob"], "invalid choice: 'cronjob'"),
])
def test_bad_usage_is_one_line_and_exit_3(tmp_path, args, message):
    r = run_alive("schedule", *args, home=tmp_path)
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and message in r.stderr


def test_a_broken_fleet_toml_is_exit_3(tmp_path):
    (tmp_path / "fleet.toml").write_text('[tasks.x]\nschedule = "sometimes"\n')
    r = run_alive("schedule", "systemd", home=tmp_path)
    assert r.returncode == 3 and "tasks.x.schedule" in r.stderr


def test_no_fleet_toml_still_schedules_the_core_jobs(tmp_path):
    r = run_alive("schedule", "crontab", home=tmp_path)
    assert r.returncode == 0
    assert [ln.split(":")[0] for ln in r.stdout.splitlines() if ln.startswith("# local.")] == \
        [f"# local.alive.{n}" for n in units.CORE if n != "probe"]


def test_detect_scheduler_honours_alive_scheduler_and_refuses_a_wrong_one():
    assert units.detect_scheduler({"ALIVE_SCHEDULER": "systemd"}) == "systemd"
    with pytest.raises(units.UsageError, match="ALIVE_SCHEDULER='cron' is not one of launchd, systemd, crontab"):
        units.detect_scheduler({"ALIVE_SCHEDULER": "cron"})


def test_make_install_calls_alive_schedule_for_the_scheduler_of_this_system():
    r = subprocess.run(["make", "--no-print-directory", "-n", "install", "uninstall"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "ALIVE_SCHEDULER": "systemd"})
    lines = r.stdout.splitlines()
    assert "python3 bin/alive schedule systemd --install" in lines
    assert "python3 bin/alive schedule systemd --uninstall" in lines
    # once, before the units: the real interpreter recorded for the shim, lib/ compiled
    first = lines.index("python3 bin/alive schedule systemd --install")
    assert any("bin/.alive-python" in line for line in lines[:first])
    assert "python3 -m compileall -q lib >/dev/null" in lines[:first]
    assert lines[-1] == "rm -f bin/.alive-python"


def test_make_install_records_the_real_interpreter_and_compiles_lib(tmp_path):
    """The recording step itself, run as make runs it, in a copy of the checkout's bin/."""
    r = subprocess.run(["make", "--no-print-directory", "-n", "install"], cwd=ROOT, capture_output=True, text=True,
                       timeout=60, env={**os.environ, "ALIVE_SCHEDULER": "systemd"})
    record = next(line for line in r.stdout.splitlines() if "bin/.alive-python" in line)
    (tmp_path / "bin").mkdir()
    subprocess.run(["bash", "-c", record.replace("python3", sys.executable, 1)], cwd=tmp_path, check=True, timeout=60)
    assert (tmp_path / "bin" / ".alive-python").read_text() == sys.executable + "\n"
