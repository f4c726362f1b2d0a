"""`alive adopt crontab|launchd|systemd`: real crontab text (the examples of cronie's crontab(5)
and of Debian's `crontab -e` template), real plists written with plistlib, real unit files.
Each proposal is checked against the scheduler's own fire times, each rewritten job is run
for real and leaves a heartbeat, and apply -> undo gives back every byte."""
import os
import plistlib
import pwd
import re
import shlex
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from conftest import heartbeats, run_alive
from test_units import FAKE_CRONTAB, analyze_verify, needs_systemd, systemd_fires, tool_dir

from alive.config import registry
from alive.units import adopt, adopt_systemd
from alive.config.schedule import fires_between, next_fires, parse_schedule

UTC = timezone.utc

# cronie, man/crontab.5, EXAMPLE CRON FILE (trailing spaces of the man source dropped)
CRONIE = """\
# use /bin/sh to run commands, no matter what /etc/passwd says
SHELL=/bin/sh
# mail any output to `paul', no matter whose crontab this is
MAILTO=paul
#
CRON_TZ=Japan
# run five minutes after midnight, every day
5 0 * * *       $HOME/bin/daily.job >> $HOME/tmp/out 2>&1
# run at 2:15pm on the first of every month -- output mailed to paul
15 14 1 * *     $HOME/bin/monthly
# run at 10 pm on weekdays, annoy Joe
0 22 * * 1-5    mail -s "It's 10pm" joe%Joe,%%Where are your kids?%
23 0-23/2 * * * echo "run 23 minutes after midn, 2am, 4am ..., everyday"
5 4 * * sun     echo "run at 5 after 4 every sunday"
"""

# Debian's template of a new user crontab (what `crontab -e` opens), with a user's jobs below it
DEBIAN = """\
# Edit this file to introduce tasks to be run by cron.
# 
# Each task to run has to be defined through a single line
# indicating with different fields when the task will be run
# and what command to run for the task
# 
# To define the time you can provide concrete values for
# minute (m), hour (h), day of month (dom), month (mon),
# and day of week (dow) or use '*' in these fields (for 'any').
# 
# Notice that tasks will be started based on the cron's system
# daemon's notion of time and timezones.
# 
# Output of the crontab jobs (including errors) is sent through
# email to the user the crontab file belongs to (unless redirected).
# 
# For example, you can run a backup of all your user accounts
# at 5 a.m every week with:
# 0 5 * * 1 tar -zcf /var/backups/home.tgz /home/
# 
# For more information see the manual pages of crontab(5) and cron(8)
# 
# m h  dom mon dow   command
*/5 * * * * /opt/sync_users.sh
@reboot vertcoind
@daily python3 /home/me/jobs/backup.py --full
59 11 * * * /root/automation-ubuntu-king-backup.sh
# BEGIN alive (com.example.alive)
# com.example.alive.check: every 15m
*/15 * * * * cd /x && /usr/bin/python3 /x/bin/alive check --notify >>/x/logs/check.log 2>&1
# END alive (com.example.alive)
"""


@pytest.fixture
def cron(tmp_path, home):
    """A stand-in `crontab` on PATH keeping the user's crontab in a file -> (store, env)."""
    store = tmp_path / "crontab.txt"
    env = {"PATH": f"{tool_dir(tmp_path, crontab=FAKE_CRONTAB)}{os.pathsep}{os.environ['PATH']}",
           "FAKE_CRONTAB": str(store), "TZ": "UTC"}
    return store, env


def adopt_cmd(home, env, *args):
    return run_alive("adopt", *args, home=home, env=env, timeout=60)


def tasks_of(home):
    reg = registry.load(home / "fleet.toml", home)
    return {n: (t.schedule.text if t.schedule else None) for n, t in reg.tasks.items()}


# ---- crontab --------------------------------------------------------------------------------

def test_the_cronie_example_is_proposed_as_tasks_with_the_same_schedules_and_nothing_written(home, cron):
    store, env = cron
    store.write_text(CRONIE)
    r = adopt_cmd(home, env, "crontab")
    assert r.returncode == 0, r.stderr
    assert "5 jobs found, 1 file of jobs to change (dry run: nothing written" in r.stdout
    assert "+[tasks.daily]\n+schedule = \"cron 5 0 * * *\"\n" in r.stdout
    for name, spec in [("monthly", "cron 15 14 1 * *"), ("echo", "cron 23 0-23/2 * * *"),
                       ("echo-2", "cron 5 4 * * sun")]:
        assert f'+[tasks.{name}]\n+schedule = "{spec}"\n' in r.stdout
    assert "[tasks.mail]" not in r.stdout and "feeds its command standard input" in r.stdout
    assert "CRON_TZ=Japan" in r.stdout                  # said, not silently changed
    assert "-15 14 1 * *     $HOME/bin/monthly\n+15 14 1 * *     " in r.stdout
    assert store.read_text() == CRONIE and not (home / "fleet.toml").exists() and not (home / "state").exists()


def cron_runs(line):
    """What cron runs for a job line: the command (after the 5 fields), `\\%` unescaped."""
    command = re.match(r"^\s*(?:(?:\S+\s+){5}|@\w+\s+)(.*)$", line).group(1)
    assert re.search(r"(?<!\\)%", command) is None
    return command.replace("\\%", "%")


def test_apply_runs_each_job_under_alive_run_and_undo_gives_back_every_byte(home, cron, tmp_path):
    store, env = cron
    bin_dir = tmp_path / "jobs"
    bin_dir.mkdir()
    (bin_dir / "daily.job").write_text("#!/bin/sh\necho \"daily $(date +%Y) ok\"\nexit 3\n")
    (bin_dir / "daily.job").chmod(0o755)
    original = CRONIE.replace("$HOME/bin/daily.job >> $HOME/tmp/out 2>&1", f"{bin_dir}/daily.job")
    original = original.replace('echo "run at 5 after 4 every sunday"', 'date +\\%Y-\\%m | tr -d "\\n"; echo " it\'s"')
    (home / "fleet.toml").write_text('[settings]\nretention_days = 9\n\n[tasks.daily]\nschedule = "daily 07:00"\n')
    fleet_before = (home / "fleet.toml").read_bytes()
    store.write_text(original)
    r = adopt_cmd(home, env, "crontab", "--apply")
    assert r.returncode == 0, r.stderr
    assert "adopted 4 jobs; `alive adopt crontab --undo` puts everything back" in r.stdout
    assert tasks_of(home) == {"daily": "daily 07:00", "daily-2": "cron 5 0 * * *", "monthly": "cron 15 14 1 * *",
                              "echo": "cron 23 0-23/2 * * *", "date": "cron 5 4 * * sun"}
    lines = store.read_text().splitlines()
    assert lines[:7] == original.splitlines()[:7] and lines[11] == original.splitlines()[11]   # mail line kept
    # the rewritten lines, run as cron runs them (through /bin/sh), say and exit what the job does
    daily = subprocess.run(["/bin/sh", "-c", cron_runs(lines[7])], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "ALIVE_HOME": "/nonexistent"})
    assert daily.returncode == 3 and daily.stdout == f"daily {datetime.now().year} ok\n"
    [(_, hb)] = heartbeats(home, "daily-2")
    assert hb["status"] == "error" and hb["exit_code"] == 3 and hb["output_tail"] == daily.stdout
    dated = subprocess.run(["/bin/sh", "-c", cron_runs(lines[13])], capture_output=True, text=True, timeout=60)
    plain = subprocess.run(["/bin/sh", "-c", cron_runs(original.splitlines()[13])], capture_output=True, text=True)
    assert dated.stdout == plain.stdout == f"{datetime.now():%Y-%m} it's\n" and dated.returncode == 0
    assert heartbeats(home, "date")[0][1]["status"] == "ok"
    # adopting again changes nothing
    r = adopt_cmd(home, env, "crontab")
    assert r.returncode == 0 and "nothing to adopt" in r.stdout and "adopted already" in r.stdout
    # undo: both files as they were, byte for byte
    r = adopt_cmd(home, env, "crontab", "--undo")
    assert r.returncode == 0 and "restored 2 files byte for byte" in r.stdout, r.stderr
    assert store.read_bytes() == original.encode() and (home / "fleet.toml").read_bytes() == fleet_before
    r = adopt_cmd(home, env, "crontab", "--undo")
    assert r.returncode == 3 and r.stderr.startswith("alive adopt: nothing to undo")


GUARDED = """\
0 3 * * * [ "$(date +\\%d)" -le 00 ] && /bin/echo first-week
0 4 * * * [ 1 -eq 1 ] && test -n "a && b" && /bin/echo runs | tr a-z A-Z
0 5 * * * [ 1 -eq 2 ] && /bin/echo yes || /bin/echo no
"""


def test_a_guarded_line_exits_0_under_alive_on_the_days_its_guard_skips(home, cron):
    store, env = cron
    store.write_text(GUARDED)
    plain = subprocess.run(["/bin/sh", "-c", cron_runs(GUARDED.splitlines()[0])], capture_output=True, timeout=30)
    assert plain.returncode == 1                      # what cron runs today: exit 1 on every skipped day
    r = adopt_cmd(home, env, "crontab", "--apply")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("note: its test guard exits 1 on the days it skips") == 2
    assert "write it as `if GUARD; then JOB; fi` and adopt again" in r.stdout       # the || line: said, not guessed
    lines = store.read_text().splitlines()
    assert lines[0].endswith("""'if [ "$(date +\\%d)" -le 00 ]; then /bin/echo first-week; fi'""")
    skipped = subprocess.run(["/bin/sh", "-c", cron_runs(lines[0])], capture_output=True, text=True, timeout=60)
    assert (skipped.returncode, skipped.stdout) == (0, "")
    assert heartbeats(home, "echo")[0][1]["status"] == "ok"
    ran = subprocess.run(["/bin/sh", "-c", cron_runs(lines[1])], capture_output=True, text=True, timeout=60)
    assert (ran.returncode, ran.stdout) == (0, "RUNS\n")
    either = subprocess.run(["/bin/sh", "-c", cron_runs(lines[2])], capture_output=True, text=True, timeout=60)
    assert (either.returncode, either.stdout) == (0, "no\n")


def test_debians_template_its_example_line_is_a_comment_and_reboot_is_left_alone_saying_why(home, cron):
    store, env = cron
    store.write_text(DEBIAN)
    r = adopt_cmd(home, env, "crontab", "--apply")
    assert r.returncode == 0, r.stderr
    # @reboot: cron runs it once after each boot (cronie src/entry.c: WHEN_REBOOT, no time fields);
    # registered without a schedule it was RED "never reported" at once and 36h after every boot
    assert tasks_of(home) == {"sync_users": "cron */5 * * * *", "backup": "cron 0 0 * * *",
                              "automation-ubuntu-king-backup": "cron 59 11 * * *"}
    assert re.search(r"\n  vertcoind +left as it is  \(crontab line 25: vertcoind\)\n", r.stdout)
    assert "note: @reboot runs once after each boot, and alive has no schedule for that" in r.stdout
    text = store.read_text()
    assert "# 0 5 * * 1 tar -zcf /var/backups/home.tgz /home/\n" in text                     # a comment stays
    assert DEBIAN[DEBIAN.index("# BEGIN alive"):] in text                                    # alive's own block
    assert "\n@reboot vertcoind\n" in text and "vertcoind" not in (home / "fleet.toml").read_text()
    assert adopt_cmd(home, env, "crontab", "--undo").returncode == 0 and store.read_text() == DEBIAN


def test_undo_refuses_when_the_crontab_changed_since_and_restores_nothing(home, cron):
    store, env = cron
    store.write_text(CRONIE)
    assert adopt_cmd(home, env, "crontab", "--apply").returncode == 0
    changed = store.read_text() + "0 1 * * * /usr/local/bin/new-job\n"
    store.write_text(changed)
    r = adopt_cmd(home, env, "crontab", "--undo")
    assert r.returncode == 1 and "crontab changed since `alive adopt crontab --apply`; nothing restored" in r.stderr
    assert store.read_text() == changed and (home / "fleet.toml").exists()


def test_without_crontab_on_path_adopt_says_so_in_one_line(home, tmp_path):
    r = run_alive("adopt", "crontab", home=home, env={"PATH": str(tmp_path)})
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "crontab not found on PATH" in r.stderr


def cmp(a, b):
    """`cmp` itself (the issue's reproduction): 0 when the files are the same byte for byte."""
    return subprocess.run(["cmp", str(a), str(b)], capture_output=True, text=True, timeout=30).returncode


TOKEN = "tk_AliveNtfy4c1d9e77"


def test_a_line_holding_alives_token_is_backed_up_raw_and_undo_restores_it_byte_for_byte(home, cron, tmp_path):
    store, env = cron
    env = {**env, "ALIVE_NTFY_TOKEN": TOKEN}        # alive's own token: scrubbed from what alive writes itself
    original = (f'0 * * * * curl -fsS -H "Authorization: Bearer {TOKEN}" -d done https://ntfy.sh/backups\n'
                "15 3 * * * /usr/local/bin/restic backup /srv\n").encode()
    store.write_bytes(original)
    kept = tmp_path / "kept"
    kept.write_bytes(original)
    r = adopt_cmd(home, env, "crontab", "--apply")
    assert r.returncode == 0, r.stderr
    assert TOKEN in store.read_text()                          # the job still holds its token
    assert TOKEN not in (home / "fleet.toml").read_text()       # the description does not copy it
    [blob] = (home / "state" / "adopt" / "crontab").glob("*/0.orig")
    assert blob.read_bytes() == original                        # the user's file, not a redacted copy
    r = adopt_cmd(home, env, "crontab", "--undo")
    assert r.returncode == 0 and "restored 2 files byte for byte" in r.stdout, r.stderr
    assert cmp(store, kept) == 0 and not (home / "fleet.toml").exists()


def test_what_adopt_prints_about_a_line_holding_alives_token_is_scrubbed(home, cron):
    """Issue 19.7: every line alive prints passes the scrubber; the files keep the token."""
    store, env = cron
    env = {**env, "ALIVE_NTFY_TOKEN": TOKEN}
    store.write_text(f'0 * * * * curl -fsS -H "Authorization: Bearer {TOKEN}" https://ntfy.sh/backups\n')
    for flags in ((), ("--apply",)):
        r = adopt_cmd(home, env, "crontab", *flags)
        assert r.returncode == 0, r.stderr
        assert TOKEN not in r.stdout + r.stderr and "[redacted]" in r.stdout
    assert TOKEN in store.read_text()


def test_undo_checks_every_backup_against_its_sha256_before_touching_anything(home, cron):
    store, env = cron
    store.write_text(CRONIE)
    assert adopt_cmd(home, env, "crontab", "--apply").returncode == 0
    applied, fleet = store.read_bytes(), (home / "fleet.toml").read_bytes()
    [folder] = (home / "state" / "adopt" / "crontab").iterdir()
    blobs = sorted(folder.glob("*.orig"))
    blobs[-1].write_bytes(blobs[-1].read_bytes().replace(b"paul", b"[redacted]"))
    r = adopt_cmd(home, env, "crontab", "--undo")
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "does not match the SHA-256 recorded at --apply; nothing restored" in r.stderr
    assert store.read_bytes() == applied and (home / "fleet.toml").read_bytes() == fleet


def test_a_unit_holding_alives_token_keeps_it_when_adopted(home, user_units, tmp_path):
    folder, env = user_units
    env = {**env, "ALIVE_NTFY_TOKEN": TOKEN}
    service = folder / "quarter.service"
    service.write_text(f"[Service]\nEnvironment=NTFY_TOKEN={TOKEN}\nExecStart=/bin/true\n")
    service.chmod(0o600)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    r = run_alive("adopt", "systemd", "--apply", home=home, env=env)
    assert r.returncode == 0, r.stderr
    assert f"Environment=NTFY_TOKEN={TOKEN}\n" in service.read_text()
    assert "\"run\" \"quarter\"" in service.read_text() and service.stat().st_mode & 0o777 == 0o600
    r = run_alive("adopt", "systemd", "--undo", home=home, env=env)
    assert r.returncode == 0, r.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


CRLF = (b"# made on Windows\r\nMAILTO=me\r\n5 0 * * * /usr/local/bin/nightly --all\r\n"
        b"*/10 * * * * /usr/local/bin/poll\r\n")


def test_a_crlf_crontab_keeps_every_line_end_and_undo_gives_back_the_same_bytes(home, cron, tmp_path):
    store, env = cron
    store.write_bytes(CRLF)
    r = adopt_cmd(home, env, "crontab", "--apply")
    assert r.returncode == 0, r.stderr
    adopted = store.read_bytes()
    assert adopted.count(b"\r\n") == 4 and adopted.count(b"\n") == 4
    assert adopted.startswith(b"# made on Windows\r\nMAILTO=me\r\n5 0 * * * ")
    assert b"-- /bin/sh -c '/usr/local/bin/nightly --all'\r\n" in adopted      # the command itself has no \r
    assert tasks_of(home) == {"nightly": "cron 5 0 * * *", "poll": "cron */10 * * * *"}
    kept = tmp_path / "kept"
    kept.write_bytes(CRLF)
    r = adopt_cmd(home, env, "crontab", "--undo")
    assert r.returncode == 0 and "byte for byte" in r.stdout, r.stderr
    assert cmp(store, kept) == 0


LATIN1 = ("# Sauvegarde compl\xe8te\n0 2 * * * /usr/local/bin/sauvegarde\n"
          "30 2 * * * /opt/r\xe9sum\xe9/run.sh\n").encode("latin-1")


def test_a_crontab_that_is_not_utf8_is_adopted_where_it_can_be_and_undone_byte_for_byte(home, cron, tmp_path):
    store, env = cron
    store.write_bytes(LATIN1)
    r = adopt_cmd(home, env, "crontab")
    assert r.returncode == 0 and "internal error" not in r.stderr, r.stderr
    assert "crontab line 3" in r.stdout and "not UTF-8 (byte 0xe9)" in r.stdout
    r = adopt_cmd(home, env, "crontab", "--apply")
    assert r.returncode == 0, r.stderr
    assert tasks_of(home) == {"sauvegarde": "cron 0 2 * * *"}
    lines = store.read_bytes().split(b"\n")
    assert lines[0] == LATIN1.split(b"\n")[0] and lines[2] == LATIN1.split(b"\n")[2]     # kept as they were
    assert b"alive run sauvegarde" in lines[1]
    kept = tmp_path / "kept"
    kept.write_bytes(LATIN1)
    assert adopt_cmd(home, env, "crontab", "--undo").returncode == 0 and cmp(store, kept) == 0


def test_adopt_reads_a_crontab_file_writes_it_back_in_place_and_undo_restores_it(home, tmp_path):
    crontab_file = tmp_path / "jobs.cron"
    crontab_file.write_bytes(CRLF)
    crontab_file.chmod(0o640)
    kept = tmp_path / "kept"
    kept.write_bytes(CRLF)
    env = {"PATH": str(tmp_path / "nothing"), "TZ": "UTC"}               # no crontab command needed
    r = run_alive("adopt", "crontab", crontab_file, home=home, env=env)
    assert r.returncode == 0 and "2 jobs found, 1 file of jobs to change" in r.stdout, r.stderr
    assert "--- jobs.cron\n+++ jobs.cron (adopted)\n" in r.stdout and cmp(crontab_file, kept) == 0
    r = run_alive("adopt", "crontab", crontab_file, "--apply", home=home, env=env)
    assert r.returncode == 0, r.stderr
    assert b"alive run nightly" in crontab_file.read_bytes() and crontab_file.stat().st_mode & 0o777 == 0o640
    r = run_alive("adopt", "crontab", "--undo", home=home, env=env)
    assert r.returncode == 0, r.stderr
    assert cmp(crontab_file, kept) == 0


def test_a_crontab_file_that_is_a_symlink_stays_one_and_its_target_is_adopted(home, tmp_path):
    target = tmp_path / "dotfiles" / "jobs.cron"
    target.parent.mkdir()
    target.write_bytes(CRLF)
    link = tmp_path / "jobs.cron"
    link.symlink_to(target)
    env = {"PATH": str(tmp_path / "nothing"), "TZ": "UTC"}
    assert run_alive("adopt", "crontab", link, "--apply", home=home, env=env).returncode == 0
    assert link.is_symlink() and b"alive run nightly" in target.read_bytes()
    assert run_alive("adopt", "crontab", "--undo", home=home, env=env).returncode == 0
    assert link.is_symlink() and target.read_bytes() == CRLF


def test_adopt_reads_a_crontab_from_standard_input_and_will_not_apply_it(home, tmp_path):
    env = {"PATH": str(tmp_path / "nothing"), "TZ": "UTC"}
    r = run_alive("adopt", "crontab", "-", home=home, env=env, input=CRLF.decode())
    assert r.returncode == 0, r.stderr
    assert '+[tasks.nightly]\n+schedule = "cron 5 0 * * *"\n' in r.stdout and not (home / "fleet.toml").exists()
    r = run_alive("adopt", "crontab", "-", "--apply", home=home, env=env, input=CRLF.decode())
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "standard input" in r.stderr
    assert not (home / "fleet.toml").exists() and not (home / "state").exists()
    r = run_alive("adopt", "crontab", tmp_path / "missing.cron", home=home, env=env)
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "missing.cron" in r.stderr


# cronie, man/crontab.5: "the system crontab (/etc/crontab) uses the same format, except that the
# username for the command is specified after the time and date fields"; src/entry.c load_entry()
# reads that word with getpwnam() when the file has no owner (`if (!pw)`, e_username when unknown).
# Adopted as a user crontab, the user name would become the command (and a task named "root").
ROOT = pwd.getpwuid(0).pw_name


@pytest.mark.parametrize("path", ["/etc/crontab", "/etc/cron.d/backup", "/etc/../etc/cron.d/backup"])
def test_a_system_crontab_is_refused_by_its_path_and_nothing_is_written(home, tmp_path, path):
    env = {"PATH": str(tmp_path / "nothing"), "TZ": "UTC"}
    r = run_alive("adopt", "crontab", path, "--apply", home=home, env=env)
    assert r.returncode == 3 and r.stderr.count("\n") == 1, r.stderr
    assert os.path.normpath(path) in r.stderr and "system crontab" in r.stderr and "user" in r.stderr
    assert not (home / "fleet.toml").exists() and not (home / "state").exists()


def test_a_link_to_a_system_crontab_is_refused_too(home, tmp_path):
    link = tmp_path / "jobs.cron"
    link.symlink_to("/etc/cron.d/backup")
    r = run_alive("adopt", "crontab", link, home=home, env={"PATH": str(tmp_path / "nothing"), "TZ": "UTC"})
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "/etc/cron.d/backup" in r.stderr, r.stderr


def test_a_crontab_whose_jobs_all_name_a_user_first_is_refused_as_a_system_crontab(home, tmp_path):
    text = (f"SHELL=/bin/sh\n30 2 * * * {ROOT} /usr/local/bin/backup.sh\n"
            f"17 * * * * {ROOT}\tcd / && run-parts --report /etc/cron.hourly\n@reboot {ROOT} /usr/bin/x\n")
    crontab_file = tmp_path / "jobs.cron"
    crontab_file.write_text(text)
    env = {"PATH": str(tmp_path / "nothing"), "TZ": "UTC"}
    for args in ([], ["--apply"]):
        r = run_alive("adopt", "crontab", crontab_file, *args, home=home, env=env)
        assert r.returncode == 3 and r.stderr.count("\n") == 1, r.stderr
        assert str(crontab_file) in r.stderr and f"user ({ROOT})" in r.stderr and r.stdout == ""
    assert crontab_file.read_text() == text
    assert not (home / "fleet.toml").exists() and not (home / "state").exists()
    # one job line that runs a program is enough to make it a user crontab (the user field is mandatory)
    crontab_file.write_text(text + "0 4 * * * /usr/local/bin/nightly\n")
    r = run_alive("adopt", "crontab", crontab_file, home=home, env=env)
    assert r.returncode == 0 and "[tasks.nightly]" in r.stdout, r.stderr


def test_adopt_apply_creates_a_missing_alive_home_saying_so_once(cron, tmp_path):
    store, env = cron
    store.write_text("5 0 * * * /bin/echo nightly\n")
    new_home = tmp_path / "new" / "alive"
    r = adopt_cmd(new_home, env, "crontab")                            # a dry run creates nothing
    assert r.returncode == 0 and not new_home.exists(), r.stderr
    r = adopt_cmd(new_home, env, "crontab", "--apply")
    assert r.returncode == 0, r.stderr
    assert r.stderr == f"alive adopt: created ALIVE_HOME {new_home}\n"
    assert tasks_of(new_home) == {"echo": "cron 5 0 * * *"} and "alive run echo" in store.read_text()
    assert adopt_cmd(new_home, env, "crontab", "--undo").returncode == 0
    assert store.read_text() == "5 0 * * * /bin/echo nightly\n"


def test_adopt_apply_refuses_in_one_line_an_alive_home_it_cannot_create(cron, tmp_path):
    store, env = cron
    store.write_text("5 0 * * * /bin/echo nightly\n")
    (tmp_path / "a-file").write_text("")
    r = adopt_cmd(tmp_path / "a-file" / "alive", env, "crontab", "--apply")
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "ALIVE_HOME" in r.stderr and str(tmp_path / "a-file" / "alive") in r.stderr
    assert store.read_text() == "5 0 * * * /bin/echo nightly\n"


def test_a_double_bracket_guard_names_the_task_after_its_job(home, cron):
    store, env = cron
    store.write_text("0 1 * * * [[ -e /x ]] && /usr/bin/job3\n")
    r = adopt_cmd(home, env, "crontab")
    assert r.returncode == 0, r.stderr
    assert "+[tasks.job3]\n" in r.stdout and "[tasks.job]" not in r.stdout


def test_a_reboot_line_gets_one_note(home, cron):
    store, env = cron
    store.write_text("@reboot /usr/bin/at-boot\n")
    r = adopt_cmd(home, env, "crontab")
    assert r.returncode == 0, r.stderr
    at_boot = r.stdout[r.stdout.index("  at-boot "):]
    assert at_boot.count("note:") == 1 and "note: @reboot runs once after each boot" in at_boot


# ---- launchd --------------------------------------------------------------------------------

AGENTS = {
    "com.me.backup": ({"Label": "com.me.backup", "ProgramArguments": ["/usr/local/bin/restic", "backup", "/Users/me"],
                       "StartCalendarInterval": {"Hour": 3, "Minute": 15}}, plistlib.FMT_XML),
    "com.me.sync": ({"Label": "com.me.sync", "ProgramArguments": ["/bin/echo", "synced"], "StartInterval": 3600,
                     "RunAtLoad": True}, plistlib.FMT_BINARY),
    "com.me.twice": ({"Label": "com.me.twice", "Program": "/bin/echo", "ProgramArguments": ["echo", "report"],
                      "StartCalendarInterval": [{"Weekday": 1, "Hour": 9, "Minute": 0},
                                                {"Weekday": 5, "Hour": 9, "Minute": 0}]}, plistlib.FMT_XML),
    "com.me.lunch": ({"Label": "com.me.lunch", "ProgramArguments": ["/bin/true"],
                      "StartCalendarInterval": [{"Hour": 8, "Minute": 0}, {"Hour": 12, "Minute": 30}]},
                     plistlib.FMT_XML),
    "com.me.hourlyish": ({"Label": "com.me.hourlyish", "ProgramArguments": ["/bin/true"],
                          "StartCalendarInterval": {"Hour": 9}}, plistlib.FMT_XML),   # every minute of 9:xx
    "com.me.odd": ({"Label": "com.me.odd", "ProgramArguments": ["/bin/true"],
                    "StartCalendarInterval": {"Day": 1, "Weekday": 1, "Hour": 6, "Minute": 0}}, plistlib.FMT_XML),
    "com.me.daemon": ({"Label": "com.me.daemon", "ProgramArguments": ["/usr/local/bin/d"], "KeepAlive": True},
                      plistlib.FMT_XML),
    "com.example.alive.check": ({"Label": "com.example.alive.check", "ProgramArguments": ["/x/alive", "check"],
                                 "StartInterval": 900}, plistlib.FMT_XML),
}


@pytest.fixture
def agents(tmp_path):
    """~/Library/LaunchAgents of a fake HOME with real plists -> (folder, env)."""
    user = tmp_path / "user"
    folder = user / "Library" / "LaunchAgents"
    folder.mkdir(parents=True)
    for label, (plist, fmt) in AGENTS.items():
        (folder / f"{label}.plist").write_bytes(plistlib.dumps(plist, fmt=fmt))
    return folder, {"HOME": str(user), "TZ": "UTC", "PATH": "/usr/bin:/bin"}


def launchd_fires(calendar, start, end):
    """launchd.plist(5)'s rule, minute by minute: a missing key is any value, Weekday 7 is Sunday."""
    entries = calendar if isinstance(calendar, list) else [calendar]
    out, t = [], start
    while t < end:
        if any(all(getattr(t, attr) == entry[key] for key, attr in
                   (("Minute", "minute"), ("Hour", "hour"), ("Day", "day"), ("Month", "month")) if key in entry)
               and ("Weekday" not in entry or (t.weekday() + 1) % 7 == entry["Weekday"] % 7) for entry in entries):
            out.append(t)
        t += timedelta(minutes=1)
    return out


def test_agents_are_proposed_with_schedules_that_fire_when_launchd_would(home, agents):
    folder, env = agents
    r = run_alive("adopt", "launchd", home=home, env=env)
    assert r.returncode == 0, r.stderr
    proposed = dict(re.findall(r'\+\[tasks\."?([\w.-]+)"?\]\n\+schedule = "([^"]+)"', r.stdout))
    assert proposed == {"com.me.backup": "cron 15 3 * * *", "com.me.hourlyish": "cron * 9 * * *",
                        "com.me.lunch": "daily 08:00,12:30", "com.me.sync": "every 1h",
                        "com.me.twice": "cron 0 9 * * 1,5"}
    assert "com.me.odd" in r.stdout and "both a day of the month and a weekday" in r.stdout
    assert "com.me.daemon" not in r.stdout and "com.example.alive.check" not in r.stdout
    start = datetime(2026, 5, 1, tzinfo=UTC)
    for label, spec in proposed.items():
        calendar = AGENTS[label][0].get("StartCalendarInterval")
        if calendar is not None:
            assert fires_between(parse_schedule(spec), start, start + timedelta(days=9), UTC) == \
                launchd_fires(calendar, start, start + timedelta(days=9)), label
    assert (folder / "com.me.sync.plist").read_bytes() == plistlib.dumps(AGENTS["com.me.sync"][0],
                                                                         fmt=plistlib.FMT_BINARY)


def test_launchd_apply_wraps_program_arguments_keeps_the_format_and_undo_restores_bytes(home, agents):
    folder, env = agents
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    r = run_alive("adopt", "launchd", "--apply", home=home, env=env)
    assert r.returncode == 0, r.stderr
    assert "launchctl not found: load the changed agents yourself" in r.stdout
    sync = folder / "com.me.sync.plist"
    assert sync.read_bytes().startswith(b"bplist")                # binary stays binary
    plist = plistlib.loads(sync.read_bytes())
    argv = plist["ProgramArguments"]
    assert argv[2:6] == ["run", "com.me.sync", "--home", str(home)] and argv[-3:] == ["--", "/bin/echo", "synced"]
    assert plist["StartInterval"] == 3600 and plist["RunAtLoad"] is True
    twice = plistlib.loads((folder / "com.me.twice.plist").read_bytes())
    assert "Program" not in twice and twice["ProgramArguments"][-3:] == ["/bin/echo", "echo", "report"]
    ran = subprocess.run(argv, capture_output=True, text=True, timeout=60)   # what launchd would start
    assert (ran.returncode, ran.stdout) == (0, "synced\n")
    assert heartbeats(home, "com.me.sync")[0][1]["status"] == "ok"
    assert (folder / "com.me.daemon.plist").read_bytes() == before["com.me.daemon.plist"]    # no schedule: not a job
    assert tasks_of(home)["com.me.odd"] is None              # wrapped; judged by its heartbeats, no schedule to say
    r = run_alive("adopt", "launchd", "--undo", home=home, env=env)
    assert r.returncode == 0, r.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before and not (home / "fleet.toml").exists()


def test_launchd_argv0_of_program_arguments_reaches_the_program_as_launchd_gives_it(home, tmp_path):
    # launchd.plist(5): Program is execvp(3)'s first argument, ProgramArguments its second (argv,
    # argv[0] included); sh -c with no operand sets $0 to its own argv[0]
    user = tmp_path / "user"
    folder = user / "Library" / "LaunchAgents"
    folder.mkdir(parents=True)
    plist = {"Label": "com.me.named", "Program": "/bin/sh", "ProgramArguments": ["nightly-name", "-c", 'echo "$0"'],
             "StartInterval": 3600}
    original = plistlib.dumps(plist)
    (folder / "com.me.named.plist").write_bytes(original)
    env = {"HOME": str(user), "TZ": "UTC", "PATH": "/usr/bin:/bin"}
    r = run_alive("adopt", "launchd", "--apply", home=home, env=env)
    assert r.returncode == 0, r.stderr
    adopted = plistlib.loads((folder / "com.me.named.plist").read_bytes())
    assert "Program" not in adopted
    ran = subprocess.run(adopted["ProgramArguments"], capture_output=True, text=True, timeout=60)   # launchd's execvp
    assert (ran.returncode, ran.stdout) == (0, "nightly-name\n")
    assert heartbeats(home, "com.me.named")[0][1]["status"] == "ok"
    assert run_alive("adopt", "launchd", "--undo", home=home, env=env).returncode == 0
    assert (folder / "com.me.named.plist").read_bytes() == original


# ---- systemd --------------------------------------------------------------------------------

UNITS = {
    "backup.timer": "[Unit]\nDescription=Nightly backup\n\n[Timer]\nOnCalendar=Mon..Fri *-*-* 06:30:00\n"
                    "Persistent=true\n\n[Install]\nWantedBy=timers.target\n",
    "backup.service": '[Unit]\nDescription=Backup\n\n[Service]\nType=oneshot\n'
                      'ExecStart=-/bin/sh -c "echo backing up $$HOME %%; exit 4"\n',
    "report.timer": "[Timer]\nOnCalendar=*-*-* 08:00:00\nOnCalendar=*-*-* 12:30\nUnit=make-report.service\n",
    "make-report.service": "[Service]\nExecStart=/bin/echo report\n",
    "poll.timer": "[Timer]\nOnBootSec=1min\nOnUnitActiveSec=15min\n",
    "poll.service": "[Service]\nExecStart=/bin/true\n",
    "quarter.timer": "[Timer]\nOnCalendar=*:0/15\n",
    "quarter.service": "[Service]\nExecStart=/bin/true\n",
    "monthly.timer": "[Timer]\nOnCalendar=monthly\n",
    "monthly.service": "[Service]\nExecStart=/bin/true\n",
    "utc.timer": "[Timer]\nOnCalendar=*-*-* 03:00:00 UTC\n",
    "utc.service": "[Service]\nExecStart=/bin/true\n",
    "two.timer": "[Timer]\nOnCalendar=daily\n",
    "two.service": "[Service]\nType=oneshot\nExecStart=/bin/true\nExecStart=/bin/false\n",
}


@pytest.fixture
def user_units(tmp_path):
    config = tmp_path / "config"
    folder = config / "systemd" / "user"
    folder.mkdir(parents=True)
    for name, text in UNITS.items():
        (folder / name).write_text(text)
    return folder, {"XDG_CONFIG_HOME": str(config), "TZ": "UTC"}


def test_timers_are_proposed_and_a_timer_alive_cannot_say_is_named_with_why(home, user_units):
    folder, env = user_units
    r = run_alive("adopt", "systemd", home=home, env=env)
    assert r.returncode == 0, r.stderr
    proposed = dict(re.findall(r'\+\[tasks\."?([\w.-]+)"?\]\n\+schedule = "([^"]+)"', r.stdout))
    # A timer keeps its OnCalendar= values, so it is judged by systemd's rule on DST nights.
    assert proposed == {"backup": "systemd Mon..Fri *-*-* 06:30:00", "monthly": "systemd monthly",
                        "poll": "every 15m", "quarter": "systemd *:0/15",
                        "report": "systemd *-*-* 08:00:00; *-*-* 12:30"}
    assert "+[tasks.utc]\n+# alive: OnCalendar: 'UTC': a time zone" in r.stdout
    assert "two.service" not in r.stdout.split("--- fleet.toml")[1] and "several ExecStart= lines" in r.stdout


def test_a_timer_that_fires_only_after_boot_is_left_alone_saying_why(home, tmp_path):
    folder = tmp_path / "config" / "systemd" / "user"
    folder.mkdir(parents=True)
    (folder / "warm.timer").write_text("[Timer]\nOnBootSec=5min\n")
    (folder / "warm.service").write_text("[Service]\nExecStart=/usr/local/bin/warm-cache\n")
    before = (folder / "warm.service").read_bytes()
    r = run_alive("adopt", "systemd", "--apply", home=home, env={"XDG_CONFIG_HOME": str(tmp_path / "config")})
    assert r.returncode == 0, r.stderr
    assert "warm  left as it is" in r.stdout and "fires only at boot or start-up" in r.stdout
    assert (folder / "warm.service").read_bytes() == before and not (home / "fleet.toml").exists()


@needs_systemd
@pytest.mark.parametrize("timer", ["backup.timer", "report.timer", "quarter.timer", "monthly.timer"])
def test_each_proposed_schedule_fires_when_systemd_analyze_says_the_timer_does(timer, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    found = adopt_systemd.settings(UNITS[timer])
    text, note = adopt_systemd.schedule(found)
    after = datetime(2026, 5, 2, 9, 17, tzinfo=UTC)
    specs = adopt_systemd.values(found, "Timer", "OnCalendar")
    assert note is None and next_fires(parse_schedule(text), after, 40, UTC) == systemd_fires(specs, after, 40, "UTC")


@needs_systemd
def test_systemd_apply_wraps_exec_start_keeps_its_prefix_and_undo_restores_bytes(home, user_units, tmp_path):
    folder, env = user_units
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    r = run_alive("adopt", "systemd", "--apply", home=home, env=env)
    assert r.returncode == 0, r.stderr
    service = (folder / "backup.service").read_text()
    exec_line = [ln for ln in service.splitlines() if ln.startswith("ExecStart=")][0]
    assert exec_line.startswith('ExecStart=-"') and exec_line.endswith(
        f'"run" "backup" "--home" "{home}" "--" /bin/sh -c "echo backing up $$HOME %%; exit 4"')
    assert (folder / "two.service").read_bytes() == before["two.service"]
    v = analyze_verify(folder, ["backup.service", "make-report.service"], tmp_path)
    assert v.returncode == 0, v.stderr + v.stdout
    # what systemd would run: its own parsing ($$ -> $, %% -> %), done here with shlex
    argv = shlex.split(exec_line[len("ExecStart=-"):].replace("$$", "$").replace("%%", "%"))
    ran = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 4 and ran.stdout == f"backing up {os.environ['HOME']} %\n"
    assert heartbeats(home, "backup")[0][1]["exit_code"] == 4
    assert set(tasks_of(home)) == {"backup", "monthly", "poll", "quarter", "report", "utc"}
    r = run_alive("adopt", "systemd", "--undo", home=home, env=env)
    assert r.returncode == 0, r.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


# ---- the pieces ------------------------------------------------------------------------------

def test_calendar_entries_that_differ_in_one_field_merge_and_others_are_refused_with_why():
    e = frozenset
    assert adopt.schedule_of([(e([0]), e([9]), None, None, e([1])), (e([0]), e([9]), None, None, e([5]))]) == \
        ("cron 0 9 * * 1,5", None)
    assert adopt.schedule_of([(e([0]), e([9]), None, None, e([1])), (e([30]), e([17]), None, None, e([1]))]) == \
        ("weekly mon 09:00,17:30", None)
    text, why = adopt.schedule_of([(e([0]), e([9]), None, None, e([1])), (e([30]), e([17]), e([1]), None, None)])
    assert text is None and why == "its 2 calendar entries are more than one alive schedule can say"


@pytest.mark.parametrize("spec, why", [
    ("2027-*-* 00:00:00", "a year"), ("*-*-* 06:00:30", "seconds other than 0"), ("*-*~01 00:00:00", "`~`"),
])
def test_systemd_specs_alive_cannot_say_are_refused_with_the_reason(spec, why):
    text, note = adopt_systemd.schedule(adopt_systemd.settings(f"[Timer]\nOnCalendar={spec}\n"))
    assert text is None and note.startswith("OnCalendar: ") and why in note


def test_a_weekday_and_a_day_of_the_month_together_are_adopted_as_systemd_reads_them():
    text, note = adopt_systemd.schedule(adopt_systemd.settings("[Timer]\nOnCalendar=Fri *-*-13 00:00:00\n"))
    assert (text, note) == ("systemd Fri *-*-13 00:00:00", None)


def test_a_task_name_from_a_command_and_the_span_of_a_timer():
    from alive.units.adopt_cron import program_name

    assert program_name("cd / && run-parts --report /etc/cron.daily") == "run-parts"
    assert program_name("FOO=1 /usr/bin/python3 -u '/srv/etl/Load Sales.py'") == "load-sales"
    assert program_name("$HOME/bin/daily.job >> $HOME/tmp/out 2>&1") == "daily"
    assert [adopt_systemd.span_seconds(s) for s in ("15min", "1h 30min", "90", "2d", "1y", "0.5s")] == \
        [900, 5400, 90, 172800, None, None]
