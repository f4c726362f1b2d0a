"""scripts/cron-heartbeat-write.sh, through real bash processes.

Two modes: with a Python 3.11+ it hands the work to bin/alive; without one it writes a
minimal heartbeat in pure bash. In both it ALWAYS exits 0 and says what went wrong in one
line on stderr. Every run here is a real bash with a real, minimal environment (env -i).
"""
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lib"))
from alive.write import heartbeat  # noqa: E402
from alive.base.timeutil import parse_iso  # noqa: E402

SHIM = ROOT / "scripts" / "cron-heartbeat-write.sh"
BASH = shutil.which("bash", path="/usr/bin:/bin") or shutil.which("bash")
LAUNCHD_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"
# What the bash fallback needs, and nothing else (no python3 among them).
FALLBACK_TOOLS = ("date", "tr", "cut", "sed", "ln", "mv", "rm", "mkdir", "uname", "readlink")
FALLBACK_WARNING = "written by the bash fallback: no Python 3.11+ found"


def _usr_bin_python_is_311():
    py = "/usr/bin/python3"
    if not os.access(py, os.X_OK):
        return False
    r = subprocess.run([py, "-c", "import sys; print(sys.version_info >= (3, 11))"],
                       capture_output=True, text=True, timeout=30)
    return r.stdout.strip() == "True"


# launchd's PATH finds /usr/bin/python3; when that is too old, name the interpreter.
LAUNCHD_EXTRA = {} if _usr_bin_python_is_311() else {"ALIVE_PYTHON": sys.executable}


def run(argv, env, cwd=None, timeout=30):
    """Run argv with exactly env (as env -i would) and return the CompletedProcess."""
    return subprocess.run([str(a) for a in argv], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def shim(*args, env, cwd=None, script=SHIM):
    return run([BASH, script, *args], env=env, cwd=cwd)


def python_env(home, **more):
    """launchd's environment plus ALIVE_HOME, with the real interpreter named."""
    return {"PATH": LAUNCHD_PATH, "ALIVE_HOME": str(home), "ALIVE_PYTHON": sys.executable, **more}


@pytest.fixture
def toolbin(tmp_path):
    """A folder of symlinks to only the tools the bash fallback needs."""
    folder = tmp_path / "toolbin"
    folder.mkdir()
    for tool in FALLBACK_TOOLS:
        real = shutil.which(tool, path=LAUNCHD_PATH)
        assert real, f"{tool} not found in {LAUNCHD_PATH}"
        (folder / tool).symlink_to(real)
    return folder


@pytest.fixture
def fallback_env(toolbin):
    """No Python anywhere: PATH holds only the fallback's tools and no known locations."""
    def make(home, path=None, **more):
        env = {"PATH": path or str(toolbin), "ALIVE_PYTHON_PATHS": "", **more}
        if home is not None:
            env["ALIVE_HOME"] = str(home)
        return env
    return make


def existing(home):
    """An ALIVE_HOME that is there already (a first write into a new one says so on stderr)."""
    home.mkdir()
    return home


def health_files(home):
    """Non-temp files in home/health (empty when the folder does not exist)."""
    folder = Path(home) / "health"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def read_valid(path):
    hb, errors, warnings = heartbeat.loads(path.read_bytes())
    assert errors == [], f"{path.name}: {errors}"
    assert warnings == []
    return hb


def only_heartbeat(home, task):
    """The one canonical file of task plus its latest twin; both valid and equal."""
    files = health_files(home)
    canonical = [p for p in files if heartbeat.parse_name(p.name)[0] == "canonical"]
    assert [p.name for p in files] == sorted([canonical[0].name, f"{task}_latest.json"]), files
    hb = read_valid(canonical[0])
    assert canonical[0].name == heartbeat.canonical_stem(hb) + ".json"
    assert read_valid(files[0].parent / f"{task}_latest.json") == hb
    return hb


def one_line(stderr):
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].strip() and stderr.endswith("\n"), repr(stderr)
    return lines[0]


def wait_for_fresh_minute(margin_s=6):
    """Return at once unless the minute ends within margin_s; then wait (at most margin_s) for the next."""
    remaining = 60 - time.time() % 60
    if remaining < margin_s:
        time.sleep(remaining + 0.05)


# ---- with Python -------------------------------------------------------------

@pytest.mark.parametrize("interval, seconds", [("900", 900), ("15m", 900), ("1h30m", 5400)])
def test_writes_a_valid_heartbeat_through_python(tmp_path, interval, seconds):
    home = existing(tmp_path / "home")
    r = shim("nightly.backup", interval, "partial", 'copied 3 of 4 "shares"', env=python_env(home))
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    hb = only_heartbeat(home, "nightly.backup")
    assert hb["task_id"] == "nightly.backup" and hb["status"] == "partial"
    assert hb["summary"] == 'copied 3 of 4 "shares"'
    assert hb["interval_s"] == seconds
    assert hb["warnings"] == [] and hb["schema"] == 1  # written by alive, not by the fallback


def test_status_and_summary_default_to_ok_and_the_job_name(tmp_path):
    home = existing(tmp_path / "home")
    r = shim("etl", "60", env=python_env(home))
    assert (r.returncode, r.stderr) == (0, "")
    hb = only_heartbeat(home, "etl")
    assert (hb["status"], hb["summary"]) == ("ok", "etl ok")


@pytest.mark.parametrize("status", ["ok", "partial", "skipped", "error"])
def test_every_status_passes_through(tmp_path, status):
    home = existing(tmp_path / "home")
    r = shim("job", "60", status, f"it was {status}", env=python_env(home))
    assert (r.returncode, r.stderr) == (0, "")
    hb = only_heartbeat(home, "job")
    assert (hb["status"], hb["summary"]) == (status, f"it was {status}")


@pytest.mark.parametrize("mode", ["python", "fallback"])
@pytest.mark.parametrize("args, seconds, status, summary", [
    (["1", "day", "ok", "nightly copy"], 86400, "ok", "nightly copy"),
    (["2", "hours"], 7200, "ok", "backup ok"),
    (["90", "min", "partial"], 5400, "partial", "backup partial"),
])
def test_an_interval_written_as_a_number_and_a_unit_word_is_read_as_one(tmp_path, fallback_env, mode, args,
                                                                        seconds, status, summary):
    """Issue 19: `backup 1 day ok` became INTERVAL 1 s and then "status 'day' is not one of ...".
    The heartbeat is written (a job must never go unrecorded) and stderr says how to write it."""
    home = tmp_path / "home"
    r = shim("backup", *args, env=python_env(home) if mode == "python" else fallback_env(home))
    assert r.returncode == 0 and r.stdout == ""
    unit = {"day": "d", "hours": "h", "min": "m"}[args[1]]
    assert f"INTERVAL '{args[0]} {args[1]}' read as {args[0]}{unit}" in r.stderr.splitlines()[0], r.stderr
    hb = only_heartbeat(home, "backup")
    assert (hb["interval_s"], hb["status"], hb["summary"]) == (seconds, status, summary)


# ---- failures: always exit 0, one line on stderr, nothing written ------------

FAILURES = [
    ([], "usage"),
    (["job"], "usage"),
    (["job", "60", "GREEN"], "GREEN"),
    (["../x", "60"], "../x"),
    (["job", "5 hours"], "5 hours"),
]


@pytest.mark.parametrize("args, named", FAILURES, ids=["no-args", "one-arg", "GREEN", "bad-id", "bad-interval"])
def test_failures_exit_0_with_one_line_through_python(tmp_path, args, named):
    home = tmp_path / "home"
    r = shim(*args, env=python_env(home))
    assert r.returncode == 0 and r.stdout == ""
    assert named in one_line(r.stderr)
    assert health_files(home) == []


@pytest.mark.parametrize("args, named", FAILURES, ids=["no-args", "one-arg", "GREEN", "bad-id", "bad-interval"])
def test_failures_exit_0_with_one_line_in_the_bash_fallback(tmp_path, fallback_env, args, named):
    home = tmp_path / "home"
    r = shim(*args, env=fallback_env(home))
    assert r.returncode == 0 and r.stdout == ""
    assert named in one_line(r.stderr)
    assert health_files(home) == []


@pytest.mark.parametrize("mode", ["python", "fallback"])
def test_an_unwritable_home_exits_0_with_one_line(tmp_path, fallback_env, mode):
    afile = tmp_path / "afile"
    afile.write_text("a regular file where a folder should be\n")
    home = afile / "home"
    env = python_env(home) if mode == "python" else fallback_env(home)
    r = shim("job", "60", env=env)
    assert r.returncode == 0 and r.stdout == ""
    assert str(afile) in one_line(r.stderr)
    assert afile.read_text() == "a regular file where a folder should be\n"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file modes")
@pytest.mark.parametrize("mode", ["python", "fallback"])
def test_a_home_without_permissions_exits_0_with_one_line(tmp_path, fallback_env, mode):
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0)
    try:
        env = python_env(home) if mode == "python" else fallback_env(home)
        r = shim("job", "60", env=env)
        assert r.returncode == 0 and r.stdout == ""
        assert str(home) in one_line(r.stderr)
    finally:
        home.chmod(0o755)
    assert health_files(home) == []


# ---- found from anywhere, in launchd's minimal environment -------------------

def env_i(home, *argv, cwd):
    """`env -i PATH=<launchd> ALIVE_HOME=home [ALIVE_PYTHON=...] argv...`"""
    assigns = [f"PATH={LAUNCHD_PATH}", f"ALIVE_HOME={home}"] + [f"{k}={v}" for k, v in LAUNCHD_EXTRA.items()]
    return run(["/usr/bin/env", "-i", *assigns, *argv], env={}, cwd=cwd)


def test_runs_directly_in_launchds_environment_from_an_unrelated_cwd(tmp_path):
    home, elsewhere = existing(tmp_path / "home"), tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = env_i(home, SHIM, "launchd-job", "1h", "ok", "from launchd", cwd=elsewhere)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    hb = only_heartbeat(home, "launchd-job")
    assert hb["summary"] == "from launchd" and hb["warnings"] == []
    assert list(elsewhere.iterdir()) == []


def test_works_through_an_absolute_symlink(tmp_path):
    home, links, elsewhere = existing(tmp_path / "home"), tmp_path / "links", tmp_path / "elsewhere"
    links.mkdir()
    elsewhere.mkdir()
    (links / "hb").symlink_to(SHIM)
    r = env_i(home, links / "hb", "linked", "60", cwd=elsewhere)
    assert (r.returncode, r.stderr) == (0, "")
    assert only_heartbeat(home, "linked")["warnings"] == []


def test_works_through_a_chain_of_relative_symlinks_run_as_bash_name(tmp_path):
    """`bash hb` in the folder of a relative link: the link's path has no slash at all."""
    home, a, b = existing(tmp_path / "home"), tmp_path / "a", tmp_path / "b" / "c"
    a.mkdir()
    b.mkdir(parents=True)
    (b / "inner.sh").symlink_to(os.path.relpath(SHIM, b))
    (a / "hb").symlink_to(os.path.relpath(b / "inner.sh", a))
    r = env_i(home, BASH, "hb", "chained", "60", cwd=a)
    assert (r.returncode, r.stderr) == (0, "")
    assert only_heartbeat(home, "chained")["warnings"] == []


def test_moves_past_missing_and_too_old_interpreters_in_order(tmp_path):
    """ALIVE_PYTHON first, then PATH's python3, then ALIVE_PYTHON_PATHS; exit 86 = too old."""
    marker = tmp_path / "called"
    fakes = []
    for name in ("old-a", "old-b"):
        fake = tmp_path / name
        fake.write_text(f'#!/bin/sh\necho "{name} $*" >> "{marker}"\n'
                        'echo "alive: needs Python 3.11+, this is 3.8.0 (fake)" >&2\nexit 86\n')
        fake.chmod(0o755)
        fakes.append(fake)
    home = existing(tmp_path / "home")
    env = {"PATH": "/nonexistent", "ALIVE_HOME": str(home), "ALIVE_PYTHON": str(fakes[0]),
           "ALIVE_PYTHON_PATHS": f"/nonexistent/python3:{fakes[1]}:{sys.executable}"}
    r = shim("picky", "60", env=env)
    assert r.returncode == 0
    assert r.stderr == ""   # issue 19: "needs Python 3.11+" only when none was found
    calls = marker.read_text().splitlines()
    assert [c.split()[0] for c in calls] == ["old-a", "old-b"]
    assert calls[0].split()[1:3] == ["-S", str(SHIM.parent / ".." / "bin" / "alive")]
    assert only_heartbeat(home, "picky")["warnings"] == []  # the real interpreter wrote it


def test_the_interpreter_make_install_recorded_comes_before_path(tmp_path):
    """bin/.alive-python (written by `make install`): no PATH lookup, no pyenv shim per write.
    A recorded interpreter that is gone is passed over."""
    tree = tmp_path / "alive"
    (tree / "scripts").mkdir(parents=True)
    (tree / "bin").mkdir()
    shutil.copy(SHIM, tree / "scripts" / "hb.sh")
    (tree / "bin" / "alive").symlink_to(ROOT / "bin" / "alive")
    marker = tmp_path / "called"
    recorded = tmp_path / "recorded-python"
    recorded.write_text(f'#!/bin/sh\necho "$*" >> "{marker}"\nexec "{sys.executable}" "$@"\n')
    recorded.chmod(0o755)
    home = tmp_path / "home"
    env = {"PATH": "/nonexistent", "ALIVE_HOME": str(home), "ALIVE_PYTHON_PATHS": ""}
    (tree / "bin" / ".alive-python").write_text(f"{recorded}\n")
    assert shim("recorded", "60", env=env, script=tree / "scripts" / "hb.sh").returncode == 0
    assert marker.read_text().split()[:3] == ["-S", str(tree / "scripts" / ".." / "bin" / "alive"), "write"]
    assert only_heartbeat(home, "recorded")["warnings"] == []   # Python wrote it, not the bash fallback

    (tree / "bin" / ".alive-python").write_text(str(tmp_path / "gone-python"))   # no newline either
    env.update(ALIVE_PYTHON_PATHS=sys.executable, ALIVE_HOME=str(tmp_path / "home2"))
    assert shim("moved-on", "60", env=env, script=tree / "scripts" / "hb.sh").returncode == 0
    assert only_heartbeat(tmp_path / "home2", "moved-on")["warnings"] == []


def test_without_bin_alive_beside_it_the_bash_fallback_writes(tmp_path):
    """A copy of the script alone (no ../bin/alive): bash writes, and says why."""
    lone = tmp_path / "scripts" / "hb.sh"
    lone.parent.mkdir()
    shutil.copy(SHIM, lone)
    home = tmp_path / "home"
    r = shim("lonely", "60", env=python_env(home), script=lone)
    assert r.returncode == 0
    assert "bin/alive not found" in one_line(r.stderr)
    hb = only_heartbeat(home, "lonely")
    assert hb["warnings"] == ["written by the bash fallback: bin/alive not found beside the script"]


# ---- the pure-bash fallback --------------------------------------------------

@pytest.mark.parametrize("interval, seconds", [("60", 60), ("007", 7), ("15m", 900), ("1h30m", 5400), ("2d", 172800)])
def test_fallback_writes_a_valid_heartbeat(tmp_path, fallback_env, interval, seconds):
    home = tmp_path / "home"
    before = time.time()
    r = shim("backup-db", interval, "skipped", "nothing new", env=fallback_env(home))
    after = time.time()
    assert r.returncode == 0 and r.stdout == ""
    assert "no Python 3.11+ found" in one_line(r.stderr)
    hb = only_heartbeat(home, "backup-db")
    assert (hb["task_id"], hb["status"], hb["summary"]) == ("backup-db", "skipped", "nothing new")
    assert hb["interval_s"] == seconds
    assert hb["warnings"] == [FALLBACK_WARNING] and hb["errors"] == [] and hb["metrics"] == {}
    started = parse_iso(hb["started_at"]).timestamp()
    assert int(before) <= started <= after and hb["completed_at"] == hb["started_at"]
    assert [p.name for p in (home / "health").iterdir() if p.name.startswith(".")] == []  # no temp left


def test_fallback_moves_past_a_python3_that_is_too_old(tmp_path, toolbin, fallback_env):
    fakebin = tmp_path / "fakebin"
    fakebin.mkdir()
    marker = tmp_path / "called"
    fake = fakebin / "python3"
    fake.write_text(f'#!/bin/sh\necho "$*" >> "{marker}"\n'
                    'echo "alive: needs Python 3.11+, this is 3.6.9 (fake)" >&2\nexit 86\n')
    fake.chmod(0o755)
    home = tmp_path / "home"
    r = shim("old-box", "300", env=fallback_env(home, path=f"{fakebin}:{toolbin}"))
    assert r.returncode == 0
    lines = r.stderr.splitlines()
    assert lines[0] == "alive: needs Python 3.11+, this is 3.6.9 (fake)"
    assert "no Python 3.11+ found" in lines[1] and len(lines) == 2
    assert marker.read_text().split()[:3] == ["-S", str(SHIM.parent / ".." / "bin" / "alive"), "write"]
    hb = only_heartbeat(home, "old-box")
    assert hb["warnings"] == [FALLBACK_WARNING] and hb["interval_s"] == 300


def test_fallback_escapes_the_summary_for_json(tmp_path, fallback_env):
    home = tmp_path / "home"
    summary = 'say "hi" \\ C:\\path\\n\ttab\nnext\x01\x1f ctl  é € 😀 \x7f end\\'
    r = shim("esc", "60", "error", summary, env=fallback_env(home))
    assert r.returncode == 0
    hb = only_heartbeat(home, "esc")
    # control characters become spaces, runs of spaces one, ends trimmed; the rest kept as is
    expected = re.sub(" +", " ", re.sub("[\x01-\x1f]", " ", summary)).strip()
    assert hb["summary"] == expected
    raw = (home / "health" / "esc_latest.json").read_bytes()
    assert b'\\"hi\\"' in raw and "é € 😀".encode() in raw


@pytest.mark.parametrize("summary", ["   ", "\t\n", "\x01\x02"], ids=["spaces", "whitespace", "controls"])
def test_fallback_blank_summary_becomes_job_and_status(tmp_path, fallback_env, summary):
    home = tmp_path / "home"
    r = shim("blank", "60", "partial", summary, env=fallback_env(home))
    assert r.returncode == 0
    assert only_heartbeat(home, "blank")["summary"] == "blank partial"


@pytest.mark.parametrize("char, lead", [(c, n) for c in ("é", "€", "😀") for n in range(len(c.encode()))])
def test_fallback_cuts_a_long_summary_on_a_character_boundary(tmp_path, fallback_env, char, lead):
    """200 bytes at most, never half a UTF-8 character (every possible cut is reached)."""
    home = tmp_path / "home"
    summary = "a" * lead + char * 150
    r = shim("long", "60", "ok", summary, env=fallback_env(home))
    assert r.returncode == 0
    text = only_heartbeat(home, "long")["summary"]
    assert summary.startswith(text)
    assert 200 - len(char.encode()) < len(text.encode()) <= 200


def test_fallback_second_write_in_the_same_minute_gets_suffix_2(tmp_path, fallback_env):
    for attempt in range(3):  # the writes must share a minute; a rollover in between means try again
        home = tmp_path / f"home{attempt}"
        wait_for_fresh_minute()
        minute = time.gmtime()[:5]
        results = [shim("twice", "60", "ok", f"run {n}", env=fallback_env(home)) for n in (1, 2, 3)]
        if time.gmtime()[:5] == minute:
            break
    else:
        pytest.fail("three tries never stayed within one minute")
    assert all(r.returncode == 0 for r in results)
    stem = time.strftime("%Y-%m-%d_twice_%H%M", time.struct_time(minute + (0, 0, 0, 0)))
    names = [p.name for p in health_files(home)]
    assert names == sorted([f"{stem}.json", f"{stem}-2.json", f"{stem}-3.json", "twice_latest.json"])
    summaries = [read_valid(home / "health" / n)["summary"] for n in (f"{stem}.json", f"{stem}-2.json", f"{stem}-3.json")]
    assert summaries == ["run 1", "run 2", "run 3"]
    assert read_valid(home / "health" / "twice_latest.json")["summary"] == "run 3"


def test_fallback_and_python_share_one_minute_without_overwriting(tmp_path, fallback_env):
    for attempt in range(3):
        home = tmp_path / f"home{attempt}"
        wait_for_fresh_minute()
        minute = time.gmtime()[:5]
        a = shim("mixed", "60", "ok", "python", env=python_env(home))
        b = shim("mixed", "60", "ok", "bash", env=fallback_env(home))
        if time.gmtime()[:5] == minute:
            break
    else:
        pytest.fail("three tries never stayed within one minute")
    assert a.returncode == b.returncode == 0
    stem = time.strftime("%Y-%m-%d_mixed_%H%M", time.struct_time(minute + (0, 0, 0, 0)))
    assert [p.name for p in health_files(home)] == [f"{stem}-2.json", f"{stem}.json", "mixed_latest.json"]
    assert read_valid(home / "health" / f"{stem}.json")["summary"] == "python"
    assert read_valid(home / "health" / f"{stem}-2.json")["summary"] == "bash"
    assert read_valid(home / "health" / "mixed_latest.json")["summary"] == "bash"


def test_fallback_default_home_matches_alive(tmp_path, fallback_env):
    """Without ALIVE_HOME, bash and Python pick the same folder (alive.base.paths.default_home)."""
    fake_home, xdg = tmp_path / "userhome", tmp_path / "xdg"
    fake_home.mkdir()
    env = fallback_env(None, HOME=str(fake_home), XDG_STATE_HOME=str(xdg))
    r = shim("defaults", "60", env=env)
    assert r.returncode == 0, r.stderr
    probe = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]);"
                            "from alive.base import paths; print(paths.default_home())", ROOT / "lib"],
                           env={"HOME": str(fake_home), "XDG_STATE_HOME": str(xdg)},
                           capture_output=True, text=True, timeout=30)
    expected = Path(probe.stdout.strip())
    assert str(expected).startswith(str(tmp_path))
    assert only_heartbeat(expected, "defaults")["warnings"] == [FALLBACK_WARNING]


def test_fallback_writes_no_file_named_like_a_heartbeat_when_refusing(tmp_path, fallback_env):
    home = tmp_path / "home"
    (home / "health").mkdir(parents=True)
    for args in (["ok-id", "60", "RED"], [".hidden", "60"], ["a/b", "60"], ["x" * 129, "60"], ["job", "15 min"]):
        r = shim(*args, env=fallback_env(home))
        assert r.returncode == 0 and one_line(r.stderr)
    assert list((home / "health").iterdir()) == []


@pytest.mark.parametrize("mode", ["python", "fallback"])
def test_the_first_write_into_a_new_home_says_so_once(tmp_path, fallback_env, mode):
    """Issue 19: a missing ALIVE_HOME was created silently (a typo made a folder nobody watches)."""
    home = tmp_path / "new-home"
    env = python_env(home) if mode == "python" else fallback_env(home)
    first = one_line(shim("job", "60", env=env).stderr)
    assert f"created ALIVE_HOME {home}" in first
    again = shim("job", "60", env=env).stderr
    assert "created" not in again and (again == "" if mode == "python" else "no Python 3.11+" in one_line(again))
