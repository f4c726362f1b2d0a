"""alive.config.registry: fleet.toml loaded and validated in one place, every mistake with its line."""
import os
import textwrap
from pathlib import Path

import pytest

from alive.config import registry
from alive.base.errors import UsageError
from alive.config.registry import ConfigError, Settings, Task, load, problems, task_max_gap
from alive.config.schedule import parse_schedule

# DESIGN §4, verbatim.
EXAMPLE = '''\
[settings]
health_dir = "health"
retention_days = 30
default_max_gap = "36h"        # for discovered tasks that declare no interval
discover = true                # evaluate tasks found in health/ but not registered
dashboard_url = "http://127.0.0.1:8765/"
label_prefix = "com.example.alive"   # launchd labels / systemd unit names

[tasks.daily-data-quality-check]
schedule = "daily 07:00"       # "every 15m" | "daily 08:00,12:00,16:00" | "weekly mon 06:00" | "cron 0 7 * * *" (local time)
max_gap = "36h"                # default: 2 x the longest interval of the schedule
run = ["python3", "dq_check.py"]   # optional command: scheduled and wrapped by `alive run`
alert_after = 1                # consecutive error runs before RED (fewer: YELLOW)
max_runtime = "1h"             # a run still going after this is RED (hung); default max_gap
min_duration = "5s"            # a run faster than this is YELLOW (too fast)
depends_on = ["other-task"]    # while a dependency is RED, this one is reported as blocked, not alerted
description = "..."

[sources.track]
path = "pwa/track_metrics.json"    # required: the data file
max_age = "15m"                    # required
timestamp = "captured_at"          # JSON field holding the capture time, or "mtime"
producer = ["python3", "extract_track_metrics.py"]   # refreshes the file
after = ["./deploy_pwa.sh"]        # run once after any successful refreshes in a tick
probe = "browser"                  # only refresh while this probe says alive
status_field = "chrome_bridge_status"
bad_status = ["auth_expired"]      # a refresh that exits 0 but leaves one of these counts as failed
retries = 2
retry_pause = "30s"
timeout = "10m"
alert_after = 3                    # consecutive failed refreshes before RED and a notification
schedule = "every 15m"             # the cron floor: refresh on this schedule whatever the age

[probes.browser]
command = ["python3", "session_keep_alive.py"]   # prints alive | expired | no_tab (or exits 0 = alive)
timeout = "30s"
interval = "10m"               # how often `alive probe` is scheduled; a state older than 3 x this is unknown

[notify]
renotify = "60m"               # repeat while still RED, at most this often
recovery = true                # say so when a RED item recovers
[notify.ntfy]
server = "https://ntfy.sh"
topic = "my-fleet"             # required for ntfy
token_env = "ALIVE_NTFY_TOKEN" # the token comes from the environment or token_file, never from fleet.toml
token_file = "~/.config/alive/ntfy-token"   # alternative to token_env
priority = "high"              # min | low | default | high | urgent, or 1..5
[notify.command]
argv = ["/usr/bin/logger", "-t", "alive"]   # message on stdin

[triggers]
backend = "spool"              # "spool" (triggers/ folder) | "http-kv" (Cloudflare Workers KV REST shape)
poll = "30s"
[triggers.http_kv]
url = "https://api.cloudflare.com/client/v4/accounts/ACCOUNT/storage/kv/namespaces/NAMESPACE"
token_env = "ALIVE_KV_TOKEN"
prefix = "trigger:"

[serve]
bind = "127.0.0.1"
port = 8765
token_env = "ALIVE_SERVE_TOKEN"   # bearer token for non-browser clients; required with --allow-remote
'''
# The example depends on a task it does not define; a complete fleet defines it.
COMPLETE = EXAMPLE + '\n[tasks.other-task]\nschedule = "cron 0 6 * * *"\n'


def write(home, text):
    path = home / "fleet.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def mistakes(home, text):
    with pytest.raises(ConfigError) as err:
        load(write(home, text), home)
    return err.value.problems


# ---------------------------------------------------------------- valid files


def test_the_design_example_loads_with_every_value(home):
    reg = load(write(home, COMPLETE), home)
    assert reg.path == home / "fleet.toml" and reg.home == home
    assert reg.settings == Settings(retention_days=30, default_max_gap=129600, discover=True,
                                    dashboard_url="http://127.0.0.1:8765/", label_prefix="com.example.alive")
    task = reg.tasks["daily-data-quality-check"]
    assert task.schedule == parse_schedule("daily 07:00")
    assert (task.max_gap, task.run, task.alert_after) == (129600, ["python3", "dq_check.py"], 1)
    assert (task.max_runtime, task.min_duration, task.depends_on) == (3600, 5, ("other-task",))
    assert (task.description, task.line) == ("...", 9)
    src = reg.sources["track"]
    assert src.path == home / "pwa" / "track_metrics.json"
    assert (src.max_age, src.timestamp, src.probe) == (900, "captured_at", "browser")
    assert (src.producer, src.after) == (["python3", "extract_track_metrics.py"], ["./deploy_pwa.sh"])
    assert (src.status_field, src.bad_status) == ("chrome_bridge_status", ["auth_expired"])
    assert (src.retries, src.retry_pause, src.timeout, src.alert_after) == (2, 30, 600, 3)
    assert src.schedule.interval == 900 and src.line == 19
    probe = reg.probes["browser"]
    assert (probe.command, probe.timeout, probe.interval, probe.line) == (
        ["python3", "session_keep_alive.py"], 30, 600, 34)
    assert (reg.notify.renotify, reg.notify.recovery) == (3600, True)
    ntfy = reg.notify.ntfy
    assert (ntfy.server, ntfy.topic, ntfy.token_env, ntfy.priority) == ("https://ntfy.sh", "my-fleet",
                                                                         "ALIVE_NTFY_TOKEN", "high")
    assert ntfy.token_file == Path.home() / ".config" / "alive" / "ntfy-token"
    assert reg.notify.command.argv == ["/usr/bin/logger", "-t", "alive"] and reg.notify.command.timeout == 30
    assert (reg.triggers.backend, reg.triggers.poll) == ("spool", 30)
    assert reg.triggers.http_kv.url.endswith("/namespaces/NAMESPACE")
    assert (reg.triggers.http_kv.token_env, reg.triggers.http_kv.prefix) == ("ALIVE_KV_TOKEN", "trigger:")
    assert (reg.serve.bind, reg.serve.port, reg.serve.token_env) == ("127.0.0.1", 8765, "ALIVE_SERVE_TOKEN")


def test_no_file_at_all_is_an_empty_registry(home):
    reg = load(home / "fleet.toml", home)
    assert reg.path is None
    assert (reg.tasks, reg.sources, reg.probes) == ({}, {}, {})
    assert reg.settings == Settings()
    assert reg.notify.renotify == 3600 and reg.notify.ntfy is None
    assert reg.triggers.backend == "spool" and reg.serve.port == 8765
    assert load(None, home).path is None
    assert problems(home / "fleet.toml", home) == []


def test_an_empty_file_is_valid(home):
    reg = load(write(home, ""), home)
    assert reg.path == home / "fleet.toml" and reg.tasks == {}


def test_defaults_of_a_minimal_task_and_source(home):
    reg = load(write(home, """
        [tasks.t]
        [sources.s]
        path = "/abs/data.json"
        max_age = "60s"
    """), home)
    assert reg.tasks["t"] == Task(name="t", line=2)
    src = reg.sources["s"]
    assert src.path == Path("/abs/data.json") and src.max_age == 60
    assert (src.retries, src.retry_pause, src.timeout, src.alert_after, src.bad_status) == (0, 0, 600, 1, [])


@pytest.mark.parametrize("written, stored", [("min", "min"), ("urgent", "urgent"), ("max", "urgent"),
                                             (1, "min"), (5, "urgent"), ('"4"', "high"), ("HIGH", "high")])
def test_ntfy_priority_is_stored_as_the_header_value(home, written, stored):
    value = written if isinstance(written, int) or written.startswith('"') else f'"{written}"'
    reg = load(write(home, f'[notify.ntfy]\ntopic = "t"\npriority = {value}\n'), home)
    assert reg.notify.ntfy.priority == stored


def test_renotify_false_means_say_it_once(home):
    assert load(write(home, "[notify]\nrenotify = false\n"), home).notify.renotify is None


def test_http_kv_backend_with_its_table(home):
    reg = load(write(home, '[triggers]\nbackend = "http-kv"\n[triggers.http_kv]\nurl = "https://kv.example/ns"\n'),
               home)
    assert reg.triggers.backend == "http-kv" and reg.triggers.http_kv.url == "https://kv.example/ns"
    assert reg.triggers.http_kv.prefix == "trigger:"


def test_inline_and_dotted_tables_are_tables_too(home):
    reg = load(write(home, """
        tasks.a.schedule = "every 1h"
        [sources]
        b = { path = "b.json", max_age = "3d" }
    """), home)
    assert reg.tasks["a"].schedule.interval == 3600 and reg.tasks["a"].line == 2
    assert reg.sources["b"].max_age == 3 * 86400 and reg.sources["b"].line == 4


# ---------------------------------------------------------------- one mistake each


@pytest.mark.parametrize("text, expected", [
    # durations
    ('[tasks.dq]\nschedule = "daily 07:00"\nmax_gap = "36 hours"\n',
     'fleet.toml:3: tasks.dq.max_gap: "36 hours" is not a duration (use 36h)'),
    ('[tasks.dq]\nmax_gap = "0s"\n', 'fleet.toml:2: tasks.dq.max_gap: "0s" must be more than 0'),
    ('[tasks.dq]\nmax_gap = [36]\n',
     'fleet.toml:2: tasks.dq.max_gap: [36] is not a duration (use e.g. "15m", "36h", "1h30m")'),
    ('[sources.s]\npath = "x"\nmax_age = "soon"\n',
     'fleet.toml:3: sources.s.max_age: "soon" is not a duration (use e.g. 30s, 15m, 36h, 9d, 1h30m)'),
    ('[settings]\ndefault_max_gap = "2 days"\n',
     'fleet.toml:2: settings.default_max_gap: "2 days" is not a duration (use 2d)'),
    ('[probes.p]\ncommand = ["x"]\ninterval = -5\n',
     'fleet.toml:3: probes.p.interval: -5 is not a duration (negative)'),
    # unknown keys
    ('[setings]\nretention_days = 3\n', 'fleet.toml:1: setings: unknown key (did you mean settings?)'),
    ('[tasks.dq]\nmaxgap = "1h"\n', 'fleet.toml:2: tasks.dq.maxgap: unknown key (did you mean max_gap?)'),
    ('[notify]\ncolour = "red"\n',
     'fleet.toml:2: notify.colour: unknown key (known: command, deadman, ntfy, recovery, renotify)'),
    # types
    ('tasks = 5\n', 'fleet.toml:1: tasks: must be a table ([tasks]), not 5'),
    ('[tasks]\ndq = "daily 07:00"\n', 'fleet.toml:2: tasks.dq: must be a table ([tasks.dq]), not "daily 07:00"'),
    ('[settings]\ndiscover = "yes"\n', 'fleet.toml:2: settings.discover: "yes" is not true or false'),
    ('[settings]\ndiscover = "true"\n',
     'fleet.toml:2: settings.discover: "true" is not true or false (write true, without quotes)'),
    ('[settings]\nretention_days = "30"\n',
     'fleet.toml:2: settings.retention_days: "30" is a string (write 30, without quotes)'),
    ('[settings]\nretention_days = 1.5\n', 'fleet.toml:2: settings.retention_days: 1.5 is not a whole number'),
    ('[tasks.dq]\ndescription = 7\n',
     'fleet.toml:2: tasks.dq.description: 7 is not a non-empty string (write it in quotes)'),
    ('[serve]\nport = 70000\n', 'fleet.toml:2: serve.port: 70000 is out of range (1 to 65535)'),
    ('[settings]\ndashboard_url = "localhost:8765"\n',
     'fleet.toml:2: settings.dashboard_url: "localhost:8765" is not a URL (start it with https:// or http://)'),
    # alert_after
    ('[tasks.dq]\nalert_after = 0\n', 'fleet.toml:2: tasks.dq.alert_after: 0 is out of range (at least 1)'),
    ('[sources.s]\npath = "x"\nmax_age = "1m"\nalert_after = -1\n',
     'fleet.toml:4: sources.s.alert_after: -1 is out of range (at least 1)'),
    # timeout and overlap: only for a task alive starts (run)
    ('[tasks.dq]\nschedule = "daily 07:00"\ntimeout = "2m"\n',
     'fleet.toml:3: tasks.dq.timeout: needs run (alive starts only a task with run, so only it can be stopped)'),
    ('[tasks.dq]\nrun = ["x"]\ntimeout = "2 min"\n',
     'fleet.toml:3: tasks.dq.timeout: "2 min" is not a duration (use 2m)'),
    ('[tasks.dq]\nrun = ["x"]\noverlap = "no"\n', 'fleet.toml:3: tasks.dq.overlap: "no" is not true or false'),
    # commands
    ('[tasks.dq]\nrun = "python3 dq.py"\n',
     'fleet.toml:2: tasks.dq.run: "python3 dq.py" is a string; write the command as a list of strings, '
     'e.g. ["python3", "dq.py"]'),
    ('[tasks.dq]\nrun = []\n',
     'fleet.toml:2: tasks.dq.run: [] is not a non-empty list of strings (e.g. ["python3", "job.py"])'),
    ('[probes.p]\ncommand = ["sleep", 5]\n',
     'fleet.toml:2: probes.p.command: ["sleep", 5] is not a non-empty list of strings (e.g. ["python3", "job.py"])'),
    ('[sources.s]\npath = "x"\nmax_age = "1m"\nafter = "./deploy.sh"\n',
     'fleet.toml:4: sources.s.after: "./deploy.sh" is a string; write the command as a list of strings, '
     'e.g. ["./deploy.sh"]'),
    ('[notify.command]\nargv = [""]\n',
     'fleet.toml:2: notify.command.argv: [""] is not a non-empty list of strings (e.g. ["python3", "job.py"])'),
    # schedules
    ('[tasks.dq]\nschedule = "daily 25:00"\n',
     "fleet.toml:2: tasks.dq.schedule: 'daily 25:00': '25:00' is not a time of day HH:MM, 00:00 to 23:59 "
     "(use e.g. daily 07:00)"),
    ('[tasks.dq]\nschedule = "cron 0 0 31 2 *"\n',
     "fleet.toml:2: tasks.dq.schedule: 'cron 0 0 31 2 *' never fires: day 31 does not occur in month 2"),
    ('[sources.s]\npath = "x"\nmax_age = "1m"\nschedule = "hourly"\n',
     "fleet.toml:4: sources.s.schedule: 'hourly' is not a schedule (use \"every 15m\", \"daily 07:00\", "
     "\"daily 08:00,12:00\", \"weekly mon 06:00\" or \"cron M H DOM MON DOW\")"),
    # names
    ('[tasks."bad name"]\n',
     'fleet.toml:1: tasks."bad name": "bad name" is not a valid name (letters, digits, . _ -, starting with a '
     'letter or digit, at most 128 characters)'),
    ('[probes.".hidden"]\ncommand = ["x"]\n',
     'fleet.toml:1: probes.".hidden": ".hidden" is not a valid name (letters, digits, . _ -, starting with a '
     'letter or digit, at most 128 characters)'),
    # required keys
    ('[sources.s]\npath = "x"\n', 'fleet.toml:1: sources.s.max_age: missing (required, e.g. max_age = "15m")'),
    ('[probes.p]\ntimeout = "5s"\n',
     'fleet.toml:1: probes.p.command: missing (required, e.g. command = ["python3", "check_session.py"])'),
    ('[notify.ntfy]\nserver = "https://ntfy.example"\n',
     'fleet.toml:1: notify.ntfy.topic: missing (required, e.g. topic = "my-fleet")'),
    ('[notify.command]\ntimeout = "5s"\n',
     'fleet.toml:1: notify.command.argv: missing (required, e.g. argv = ["/usr/bin/logger", "-t", "alive"])'),
    # references
    ('[sources.s]\npath = "x"\nmax_age = "1m"\nprobe = "browser"\n',
     'fleet.toml:4: sources.s.probe: "browser" is not defined (add [probes.browser] or remove probe)'),
    ('[tasks.a]\ndepends_on = ["b"]\n',
     'fleet.toml:2: tasks.a.depends_on: "b" is not a registered task (add [tasks.b] or remove it)'),
    ('[tasks.a]\ndepends_on = "b"\n', 'fleet.toml:2: tasks.a.depends_on: "b" is a string; write a list: ["b"]'),
    ('[tasks.a]\ndepends_on = ["a"]\n',
     'fleet.toml:2: tasks.a.depends_on: dependency cycle a -> a (remove one of these dependencies)'),
    ('[sources.s]\npath = "x"\nmax_age = "1m"\nbad_status = ["expired"]\n',
     'fleet.toml:4: sources.s.bad_status: needs status_field (the JSON field holding the status)'),
    # tokens
    ('[notify.ntfy]\ntopic = "t"\ntoken = "tk_secret"\n',
     'fleet.toml:3: notify.ntfy.token: a token does not belong in fleet.toml (use token_env = '
     '"NAME_OF_AN_ENV_VAR" or token_file = "~/path")'),
    ('[serve]\ntoken = "s3cret"\n',
     'fleet.toml:2: serve.token: a token does not belong in fleet.toml (use token_env = '
     '"NAME_OF_AN_ENV_VAR" or token_file = "~/path")'),
    ('[notify.ntfy]\ntopic = "t"\ntoken_env = "my token"\n',
     'fleet.toml:3: notify.ntfy.token_env: "my token" is not the name of an environment variable '
     '(e.g. ALIVE_NTFY_TOKEN)'),
    # ntfy
    ('[notify.ntfy]\ntopic = "t"\npriority = "loud"\n',
     'fleet.toml:3: notify.ntfy.priority: "loud" is not a priority (min, low, default, high, urgent, or 1 to 5)'),
    ('[notify.ntfy]\ntopic = "my fleet"\n',
     'fleet.toml:2: notify.ntfy.topic: "my fleet" is not allowed here (letters, digits, - and _, at most 64)'),
    ('[notify.ntfy]\ntopic = "t"\ntags = "warning"\n',
     'fleet.toml:3: notify.ntfy.tags: "warning" is not a list of strings (e.g. ["a", "b"])'),
    # triggers
    ('[triggers]\nbackend = "http-kv"\n',
     'fleet.toml:2: triggers.backend: backend "http-kv" needs a [triggers.http_kv] table with url'),
    ('[triggers]\nbackend = "redis"\n', 'fleet.toml:2: triggers.backend: "redis" is not one of "spool", "http-kv"'),
    ('[triggers.http_kv]\nprefix = "t:"\n',
     'fleet.toml:1: triggers.http_kv.url: missing (required, e.g. url = '
     '"https://api.cloudflare.com/client/v4/accounts/ACCOUNT/storage/kv/namespaces/NS")'),
    # TOML itself
    ('[tasks.dq]\nmax_gap = 36h\n', 'fleet.toml:2: not valid TOML: Expected newline or end of document after a statement at column 13'),
    ('[tasks.dq]\nrun = ["a",\n', 'fleet.toml:2: not valid TOML: Invalid value at the end of the file'),
    ('[tasks.dq]\nmax_gap = "1h"\nmax_gap = "2h"\n', 'fleet.toml:3: not valid TOML: Cannot overwrite a value at column 15'),
])
def test_each_mistake_names_the_line_the_key_and_the_fix(home, text, expected):
    assert mistakes(home, text) == [expected]


def test_a_config_error_is_a_usage_error_whose_text_is_every_problem(home):
    with pytest.raises(UsageError) as err:
        load(write(home, "[tasks.a]\nalert_after = 0\n[tasks.b]\nmax_gap = 'x'\n"), home)
    assert err.value.exit_code == 3
    assert str(err.value) == "\n".join(err.value.problems)
    assert len(err.value.problems) == 2


def test_several_mistakes_in_one_file_are_all_reported_in_line_order(home):
    assert mistakes(home, """\
        [settings]
        retention_days = 0
        colour = "red"

        [tasks.dq]
        schedule = "daily 7am"
        max_gap = "36 hours"
        run = "python3 dq.py"
        depends_on = ["nope"]

        [sources.track]
        max_age = "15m"
        probe = "browser"

        [notify.ntfy]
        token = "x"
    """) == [
        "fleet.toml:2: settings.retention_days: 0 is out of range (at least 1)",
        "fleet.toml:3: settings.colour: unknown key (known: dashboard_url, default_max_gap, discover, "
        "health_dir, label_prefix, retention_days)",
        "fleet.toml:6: tasks.dq.schedule: 'daily 7am': '7am' is not a time of day HH:MM, 00:00 to 23:59 "
        "(use e.g. daily 07:00)",
        'fleet.toml:7: tasks.dq.max_gap: "36 hours" is not a duration (use 36h)',
        'fleet.toml:8: tasks.dq.run: "python3 dq.py" is a string; write the command as a list of strings, '
        'e.g. ["python3", "dq.py"]',
        'fleet.toml:9: tasks.dq.depends_on: "nope" is not a registered task (add [tasks.nope] or remove it)',
        'fleet.toml:11: sources.track.path: missing (required, e.g. path = "data/file.json")',
        'fleet.toml:13: sources.track.probe: "browser" is not defined (add [probes.browser] or remove probe)',
        'fleet.toml:15: notify.ntfy.topic: missing (required, e.g. topic = "my-fleet")',
        'fleet.toml:16: notify.ntfy.token: a token does not belong in fleet.toml (use token_env = '
        '"NAME_OF_AN_ENV_VAR" or token_file = "~/path")',
    ]


def test_a_dependency_cycle_is_reported_once_at_its_first_task(home):
    assert mistakes(home, """\
        [tasks.a]
        depends_on = ["b"]
        [tasks.b]
        depends_on = ["c"]
        [tasks.c]
        depends_on = ["a"]
        [tasks.d]
        depends_on = ["a"]
    """) == ["fleet.toml:2: tasks.a.depends_on: dependency cycle a -> b -> c -> a (remove one of these dependencies)"]


def test_a_broken_entry_still_counts_as_defined_for_references(home):
    # The probe is wrong; the source naming it is not wrong too.
    assert mistakes(home, '[probes.p]\ntimeout = "5s"\n[sources.s]\npath = "x"\nmax_age = "1m"\nprobe = "p"\n') == [
        'fleet.toml:1: probes.p.command: missing (required, e.g. command = ["python3", "check_session.py"])']


# ---------------------------------------------------------------- finding the line


def test_lines_are_found_past_multiline_strings_and_arrays(home):
    assert mistakes(home, '''\
        [tasks.dq]
        description = """
        max_gap = "not a key, text"
        """
        run = [
          "python3",  # a comment with = in it
          "dq.py",
        ]
        max_gap = "36 hours"
    ''') == ['fleet.toml:9: tasks.dq.max_gap: "36 hours" is not a duration (use 36h)']


def test_quoted_dotted_and_inline_keys_are_located(home):
    assert mistakes(home, """\
        [tasks."daily.dq"]   # a name with a dot
        max_gap = "1 day"
        [ tasks . 'other' ]
        "max_gap" = "1 week"
        [tasks.third]
        schedule.kind = "daily"
        [tasks]
        inline = { max_gap = "2 hours" }
    """) == [
        'fleet.toml:2: tasks."daily.dq".max_gap: "1 day" is not a duration (use 1d)',
        'fleet.toml:4: tasks.other.max_gap: "1 week" is not a duration (use 1w)',
        'fleet.toml:6: tasks.third.schedule: is a table, not a string (write the value in quotes)',
        'fleet.toml:8: tasks.inline.max_gap: "2 hours" is not a duration (use 2h)',
    ]


def test_top_level_dotted_keys_are_located(home):
    assert mistakes(home, '# fleet\n\nsettings.retention_days = "x"\n') == [
        'fleet.toml:3: settings.retention_days: "x" is not a whole number']


def test_a_config_outside_home_is_named_by_its_path(home, tmp_path):
    path = tmp_path / "elsewhere.toml"
    path.write_text("[tasks.a]\nalert_after = 0\n")
    with pytest.raises(ConfigError) as err:
        load(path, home)
    assert err.value.problems == [f"{path}:2: tasks.a.alert_after: 0 is out of range (at least 1)"]


def test_a_file_that_is_not_utf8_or_not_readable(home):
    (home / "fleet.toml").write_bytes(b'[tasks.a]\ndescription = "caf\xe9"\n')
    with pytest.raises(ConfigError) as err:
        load(home / "fleet.toml", home)
    assert err.value.problems == ["fleet.toml:2: not UTF-8 text (save the file as UTF-8)"]
    (home / "fleet.toml").unlink()
    (home / "fleet.toml").mkdir()
    with pytest.raises(ConfigError) as err:
        load(home / "fleet.toml", home)
    assert err.value.problems[0].startswith("fleet.toml: cannot read:")


# ---------------------------------------------------------------- max_gap


def test_max_gap_explicit_then_schedule_then_heartbeat_interval_then_default():
    settings = Settings(default_max_gap=1000)
    daily = parse_schedule("daily 08:00,12:00,16:00")
    assert task_max_gap(Task("t", schedule=daily, max_gap=60), settings, interval_s=5) == 60
    assert task_max_gap(Task("t", schedule=daily), settings, interval_s=5) == 2 * 16 * 3600
    assert task_max_gap(Task("t"), settings, interval_s=300) == 600
    assert task_max_gap(Task("t"), settings) == 1000
    assert task_max_gap(None, settings, interval_s=300) == 600
    assert task_max_gap(Task("t", schedule=parse_schedule("weekly mon 06:00")), settings) == 2 * 604800


# ---------------------------------------------------------------- problems() for lint


def test_problems_of_a_clean_file_is_empty(home):
    write(home, '[tasks.a]\nrun = ["sh", "-c", "true"]\n')
    assert problems(home / "fleet.toml", home) == []


def test_problems_lists_errors_with_lines_and_missing_programs_as_warnings(home):
    script = home / "deploy.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    (home / "notexec.sh").write_text("#!/bin/sh\n")
    (home / "tool").write_text("#!/bin/sh\n")
    write(home, """\
        [tasks.a]
        run = ["no-such-program-xyz", "arg"]
        alert_after = 0
        [sources.s]
        path = "x.json"
        max_age = "1m"
        producer = ["./notexec.sh"]
        after = ["./deploy.sh"]
        [probes.p]
        command = ["./missing.sh"]
        [tasks.b]
        run = ["tool"]
    """)
    assert problems(home / "fleet.toml", home) == [
        {"line": 2, "severity": "warning", "problem": 'tasks.a.run: program "no-such-program-xyz" not found on PATH'},
        {"line": 3, "severity": "error", "problem": "tasks.a.alert_after: 0 is out of range (at least 1)"},
        {"line": 7, "severity": "warning",
         "problem": f'sources.s.producer: program "./notexec.sh" is not executable ({home}/notexec.sh)'},
        {"line": 10, "severity": "warning",
         "problem": f'probes.p.command: program "./missing.sh" not found ({home}/missing.sh)'},
        {"line": 12, "severity": "warning",
         "problem": 'tasks.b.run: program "tool" is not on PATH (for the one in ALIVE_HOME write "./tool")'},
    ]


def test_problems_reports_a_syntax_error_as_one_error(home):
    write(home, "[tasks.a\n")
    found = problems(home / "fleet.toml", home)
    assert len(found) == 1 and found[0]["line"] == 1 and found[0]["severity"] == "error"
    assert found[0]["problem"].startswith("not valid TOML: ")


def test_load_does_not_look_for_programs(home, monkeypatch):
    # Only problems() (alive lint) asks whether programs exist; a check must not depend on PATH.
    monkeypatch.setenv("PATH", "")
    write(home, '[tasks.a]\nrun = ["python3"]\n')
    assert load(home / "fleet.toml", home).tasks["a"].run == ["python3"]
    assert os.environ["PATH"] == ""
    assert registry.NAME_RE.match("a.b_c-1") and not registry.NAME_RE.match("-a")


@pytest.mark.parametrize("table", ['[tasks.t]\nrun = ["/bin/true"]\nschedule = "systemd *:0/15"\n',
                                   '[sources.s]\npath = "s.json"\nmax_age = "1h"\nproducer = ["/bin/true"]\n'
                                   'schedule = "systemd *:0/15"\n'])
def test_a_systemd_schedule_is_for_a_timer_systemd_runs_not_for_one_alive_schedules(tmp_path, table):
    path = tmp_path / "fleet.toml"
    path.write_text(table)
    with pytest.raises(registry.ConfigError) as err:
        registry.load(path, tmp_path)
    [problem] = err.value.problems
    assert problem.endswith(".schedule: a `systemd ...` schedule says when a systemd timer runs the job "
                            "(what `alive adopt systemd` writes); one alive schedules itself takes every, daily, "
                            "weekly or cron")


def test_an_adopted_timer_loads_with_its_systemd_schedule(tmp_path):
    path = tmp_path / "fleet.toml"
    path.write_text('[tasks.t]\nschedule = "systemd Mon..Fri *-*-* 06:30:00"\n')
    task = registry.load(path, tmp_path).tasks["t"]
    assert task.schedule.kind == "systemd" and task.schedule.text == "systemd Mon..Fri *-*-* 06:30:00"


def test_a_source_schedule_without_a_producer_is_a_mistake(tmp_path):
    path = tmp_path / "fleet.toml"
    path.write_text('[sources.s]\npath = "s.json"\nmax_age = "1h"\nschedule = "every 15m"\n')
    with pytest.raises(registry.ConfigError) as err:
        registry.load(path, tmp_path)
    assert err.value.problems == ["fleet.toml:4: sources.s.schedule: needs a producer (the schedule refreshes the file by running it)"]


@pytest.mark.parametrize("text,key", [
    ('[tasks.dq]\nrun = ["true"]\ntimeout = "10"\n', "tasks.dq.timeout"),
    ('[tasks.dq]\nrun = ["true"]\ntimeout = 10\n', "tasks.dq.timeout"),
    ('[sources.s]\npath = "s.json"\nmax_age = "1h"\ntimeout = "10"\n', "sources.s.timeout"),
    ('[probes.p]\ncommand = ["true"]\ntimeout = "10"\n', "probes.p.timeout"),
    ('[notify.command]\nargv = ["true"]\ntimeout = "10"\n', "notify.command.timeout"),
])
def test_a_bare_number_for_a_timeout_hints_seconds_not_hours(home, text, key):
    """A timeout's bare number means seconds (GNU timeout's default unit; `alive run
    --timeout 10` hints the same, durations.parse_duration(bare_unit="s")), never "10h"."""
    [problem] = mistakes(home, text)
    assert f"{key}: " in problem and '"10s"?' in problem and '"10h"' not in problem, problem
