"""A FIFO (or any file that is not a regular file) at a state file's name never hangs alive.

open() of a FIFO blocks until a writer comes, so one `mkfifo state/pauses.json` used to
freeze `alive check` forever (issue 19, DESIGN §8.4). Every state file is read with
O_NONBLOCK and refused unless fstat says it is a regular file: readers ignore it with one
line, writers set it aside. Each command runs for real, bounded by a timeout.
"""
import os
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from .test_state_shapes import ALIVE, make_template

NAMES = ["pauses.json", "watchdog.json", "probes.json", "first-seen.json", "report-runs.json", "notify.json",
         "refused.json", "outbox.json", "triggers.json", "running/backup.json"]
COMMANDS = [["check"], ["check", "--json"], ["report", "--format", "json"], ["report", "--format", "html"],
            ["export", "prometheus"], ["verify"], ["pause", "backup", "--for", "1h"], ["watchdog", "--dry-run"],
            ["check", "--notify"], ["triggers"]]
BOUND_S = 15        # a command here takes well under a second; a FIFO used to block it for ever


def run_bounded(home, args):
    env = {k: v for k, v in os.environ.items() if k not in ("ALIVE_CONFIG", "ALIVE_DEBUG")}
    env["ALIVE_HOME"] = str(home)
    try:
        r = subprocess.run([sys.executable, "-S", str(ALIVE), *args], capture_output=True, text=True, env=env,
                           cwd=home, timeout=BOUND_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"alive {' '.join(args)} hung on a FIFO")
    for stream in (r.stdout, r.stderr):
        assert "Traceback" not in stream and "internal error" not in stream, (args, stream[-2000:])
    assert r.returncode in (0, 1, 2), (args, r.returncode, r.stderr)
    return r


def fifo_case(template, root, name):
    home = root / name.replace("/", "_")
    shutil.copytree(template, home, symlinks=True)
    said = []
    for args in COMMANDS:
        path = home / "state" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_fifo():
            if path.exists():
                path.unlink()
            os.mkfifo(path)
        r = run_bounded(home, args)
        log = home / "logs" / "notify.log"
        text = r.stderr + (log.read_text() if log.exists() else "")
        said += [ln for ln in text.splitlines() if os.path.basename(name) in ln and "not a regular file" in ln]
    return said


def test_a_fifo_at_any_state_file_name_never_hangs_a_command(tmp_path):
    template = make_template(tmp_path)
    with ThreadPoolExecutor(3) as pool:
        said = dict(zip(NAMES, pool.map(lambda n: fifo_case(template, tmp_path, n), NAMES)))
    quiet = [name for name, lines in said.items() if not lines]
    assert quiet == [], f"no command said these are not regular files: {quiet}"


def test_a_fifo_is_ignored_by_a_reader_and_set_aside_by_a_writer(tmp_path):
    sys.path.insert(0, str(ALIVE.resolve().parents[1] / "lib"))
    from alive.base import statefile

    def hung(*_):
        raise AssertionError("statefile blocked on a FIFO")

    path = tmp_path / "pauses.json"
    os.mkfifo(path)
    signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)            # bounded: a blocking open() is interrupted, and the test fails
    assert statefile.peek(path) == {} and path.is_fifo()
    data, warning = statefile.load(path)
    assert data == {} and "not a regular file" in warning and "set aside" in warning, warning
    signal.alarm(0)
    assert not path.exists() and len(list(tmp_path.glob("pauses.json.corrupt-*"))) == 1


@pytest.mark.parametrize("name", ["fleet.toml", "health/backup_latest.json", "state/running/backup.json"])
def test_a_fifo_beside_the_state_never_hangs_a_run_or_the_config_read(tmp_path, name):
    home = tmp_path / "home"
    (home / "health").mkdir(parents=True)
    (home / "state" / "running").mkdir(parents=True)
    if name != "fleet.toml":
        (home / "fleet.toml").write_text('[tasks.backup]\nschedule = "daily 03:00"\n')
    os.mkfifo(home / name)
    env = {k: v for k, v in os.environ.items() if k not in ("ALIVE_CONFIG", "ALIVE_DEBUG")}
    env["ALIVE_HOME"] = str(home)
    for args in (["run", "backup", "--", "true"], ["check"]):
        try:
            r = subprocess.run([sys.executable, "-S", str(ALIVE), *args], capture_output=True, text=True, env=env,
                               cwd=home, timeout=BOUND_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"alive {' '.join(args)} hung on a FIFO at {name}")
        assert "Traceback" not in r.stderr, r.stderr
    if name == "fleet.toml":
        assert r.returncode == 3 and "not a regular file" in r.stderr, r.stderr
