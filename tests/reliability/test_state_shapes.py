"""Hostile state: valid JSON with the wrong types in every file alive keeps under state/.

Each state file (notify.json, outbox.json, watchdog.json, probes.json, pauses.json,
triggers.json, report-runs.json, a running marker) is given documents that parse but hold
the wrong types (`consecutive_failures: 1e400`, `"sources": []`, text where a number
belongs, ...), and every command that reads it is run for real:
  - no command crashes (no traceback, no "internal error");
  - a command that only reads it (check, report in every format, export, verify) says on
    stderr that the file is ignored, and leaves it where it is;
  - a command that writes state sets it aside as <name>.corrupt-<time>, says so, and the
    next run is clean: nothing more is said about that file.
Every home is its own copy, so the cases run side by side. At 1 x one document per file;
ALIVE_SOAK_FACTOR > 1 runs them all.
"""
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .test_write_crash import ALIVE, SOAK, STEP_TIMEOUT_S

FLEET = """\
[tasks.backup]
schedule = "daily 03:00"

[sources.feed]
path = "feed.json"
max_age = "15m"
producer = ["./prod.sh"]
probe = "login"

[probes.login]
command = ["./probe.sh"]
interval = "10m"

[notify]
renotify = "60m"

[notify.command]
argv = ["./notified.sh"]

[triggers]
backend = "spool"
"""

SCRIPTS = {
    "prod.sh": '#!/bin/sh\nprintf \'{"captured_at": "%s"}\\n\' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > feed.json\n',
    "probe.sh": "#!/bin/sh\necho alive\n",
    "notified.sh": "#!/bin/sh\ncat >> notified.log\necho >> notified.log\n",
}

# file (under state/) -> documents that parse as JSON but hold the wrong types
HOSTILE = {
    "notify.json": [
        '{"version": 1, "items": []}',
        '{"version": 1, "items": {"task:backup": {"color": "RED", "red_since": 1e400, "notified_at": "x"}}}',
        '{"version": 1, "items": {"task:backup": {"color": 5}}}',
    ],
    "outbox.json": [
        '{"version": 1, "messages": {}}',
        '{"version": 1, "messages": [{"id": 5, "title": [], "body": null, "attempts": 1e400}]}',
    ],
    "watchdog.json": [
        '{"sources": {"feed": {"consecutive_failures": 1e400}}}',
        '{"sources": []}',
        '{"sources": {"feed": {"consecutive_failures": "3", "last_error": 5, "last_attempt_at": []}}}',
    ],
    "probes.json": [
        '{"login": {"state": 5, "checked_at": 1e400, "detail": []}}',
        '{"login": []}',
    ],
    "pauses.json": [
        '{"task:backup": {"until": 1e400, "since": [], "reason": {}}}',
        '{"task:backup": []}',
        '{"source:feed": {"until": "soon"}}',
    ],
    "triggers.json": [
        '{"backend": "spool", "run": {"id": 5, "requests": {}, "started": 5, "ran": "yes"}, "gone": []}',
        '{"backend": 5, "done": {}}',
    ],
    "report-runs.json": [
        '{"version": 1, "runs": []}',
        '{"version": "1", "runs": {"x": 5}}',
    ],
    "running/backup.json": [
        '{"task_id": {"a": 1}, "pid": 1}',
        '{"pid": 1e400, "task_id": "backup", "started_at": 5}',
    ],
}

REPORTS = [["report", "--format", f] for f in ("text", "json", "markdown", "html")]
FACT_READERS = [["check"], *REPORTS, ["export", "prometheus"], ["verify"]]

# file -> (commands that only read it: they ignore it, saying so;
#          commands that write state: they set it aside)
READERS = {
    "notify.json": ([], [["check", "--notify"], ["watchdog"], ["refresh", "feed"]]),
    "outbox.json": ([], [["check", "--notify"], ["watchdog"], ["refresh", "feed"]]),
    "watchdog.json": (FACT_READERS, [["check", "--notify"], ["watchdog"], ["refresh", "feed"]]),
    "probes.json": (FACT_READERS, [["check", "--notify"], ["watchdog"], ["probe"], ["refresh", "feed"]]),
    "pauses.json": (FACT_READERS, [["check", "--notify"], ["watchdog"], ["pause", "backup"],
                                   ["resume", "backup"]]),
    "triggers.json": ([], [["triggers"]]),
    "report-runs.json": ([], [REPORTS[1], REPORTS[3], ["check", "--notify"], ["watchdog"]]),   # json, html: history
    "running/backup.json": (FACT_READERS, [["check", "--notify"], ["watchdog"]]),
}

EXIT = {"check": (0, 1, 2), "verify": (0, 1, 2)}   # checks; every other command here: 0 or 1


def alive(home, args):
    env = {k: v for k, v in os.environ.items() if k not in ("ALIVE_CONFIG", "ALIVE_DEBUG")}
    env["ALIVE_HOME"] = str(home)
    r = subprocess.run([sys.executable, "-S", str(ALIVE), *args], capture_output=True, text=True, env=env,
                       cwd=home, timeout=STEP_TIMEOUT_S)
    for stream in (r.stdout, r.stderr):
        assert "Traceback" not in stream and "internal error" not in stream, (args, stream[-2000:])
    assert r.returncode in EXIT.get(args[0], (0, 1)), (args, r.returncode, r.stderr)
    return r


def make_template(root):
    """A fleet that has run once: every state file exists and is valid."""
    home = root / "template"
    home.mkdir()
    (home / "fleet.toml").write_text(FLEET)
    for name, text in SCRIPTS.items():
        (home / name).write_text(text)
        (home / name).chmod(0o755)
    for args in (["write", "backup", "--status", "error", "--summary", "nas full"], ["watchdog"],
                 ["check", "--notify"], ["probe"], ["pause", "backup", "--for", "1h"], ["triggers"],
                 ["report", "--format", "json"]):
        alive(home, args)
    return home


def set_aside(home, name):
    folder = home / "state" / os.path.dirname(name)
    return sorted(p.name for p in folder.glob(f"{os.path.basename(name)}.corrupt-*"))


def mentions(stderr, name):
    return [ln for ln in stderr.splitlines() if os.path.basename(name) in ln]


def plant(home, name, doc):
    for old in set_aside(home, name):
        (home / "state" / os.path.dirname(name) / old).unlink()
    path = home / "state" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc)
    return path


def one_case(template, root, name, n, doc):
    """-> (commands run, set asides seen). Asserts the promises of the module docstring."""
    home = root / f"{name.replace('/', '_')}-{n}"
    shutil.copytree(template, home, symlinks=True)
    readers, writers = READERS[name]
    ran = asides = 0
    path = plant(home, name, doc)
    for args in readers:
        r = alive(home, args)
        ran += 1
        said = mentions(r.stderr, name)
        assert said and all("ignored" in ln for ln in said), (name, doc, args, r.stderr)
        assert path.read_text() == doc and set_aside(home, name) == [], (name, args, "a reader moved it")
    for args in writers:
        path = plant(home, name, doc)
        r = alive(home, args)
        ran += 1
        said = mentions(r.stderr, name) or mentions(log_text(home), name)
        assert any("set aside" in ln for ln in said), (name, doc, args, r.stderr)
        assert len(set_aside(home, name)) == 1, (name, doc, args, set_aside(home, name))
        assert not path.exists() or path.read_text() != doc, (name, args, "still in place")
        asides += 1
        # the next run recovers by itself: nothing more is said about that file
        for again in (["check"], args if args[0] != "pause" else ["resume", "backup"]):
            r = alive(home, again)
            ran += 1
            assert mentions(r.stderr, name) == [], (name, doc, args, again, r.stderr)
    return ran, asides


def log_text(home):
    path = home / "logs" / "notify.log"
    return path.read_text() if path.exists() else ""


def test_wrong_types_in_every_state_file_never_crash_are_ignored_by_readers_and_set_aside_by_writers(tmp_path):
    template = make_template(tmp_path)
    cases = [(name, n, doc) for name, docs in HOSTILE.items() for n, doc in enumerate(docs) if SOAK > 1 or n == 0]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda c: one_case(template, tmp_path, *c), cases))
    ran, asides = (sum(r[i] for r in results) for i in (0, 1))
    assert asides >= len(cases)
    print(f"\nstate shapes: {len(cases)} hostile documents in {len(HOSTILE)} state files, {ran} commands run: "
          f"0 crashes, {asides} set aside by writers, every reader said it ignored the file")


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_each_state_file_has_a_shape_check_that_names_the_wrong_field(name, tmp_path):
    """In-process: statefile.load sets aside and names where the wrong type is."""
    sys.path.insert(0, str(Path(ALIVE).resolve().parents[1] / "lib"))
    from alive.base import statefile

    path = tmp_path / "state" / name
    path.parent.mkdir(parents=True)
    for doc in HOSTILE[name]:
        path.write_text(doc)
        data, warning = statefile.load(path)
        assert data == {} and warning and "set aside" in warning and os.path.basename(name) in warning, warning
        assert not path.exists()
        for aside in path.parent.glob(f"{path.name}.corrupt-*"):
            assert json.loads(aside.read_text()) == json.loads(doc)
            aside.unlink()
