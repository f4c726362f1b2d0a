"""The Makefile's targets a newcomer runs first (issue 19): real make, real processes."""
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAKE = shutil.which("make")
pytestmark = pytest.mark.skipif(MAKE is None, reason="make is not installed")


def make(*args, path, timeout=120):
    """Run make in its own process group, all of which is killed when it overruns (a make
    that ignored TESTS= would otherwise leave the whole suite running)."""
    with subprocess.Popen([MAKE, "--no-print-directory", "-C", str(ROOT), *args], env={"PATH": str(path)},
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True) as p:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            raise
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def toolbin(folder, **tools):
    """A PATH folder holding only python3 (this interpreter), the tools make's recipes need,
    and the given fakes (name -> shell script body)."""
    folder.mkdir()
    (folder / "python3").symlink_to(sys.executable)
    for tool in ("bash", "sh", "echo"):
        (folder / tool).symlink_to(shutil.which(tool))
    for name, body in tools.items():
        (folder / name).write_text(f"#!/bin/sh\n{body}\n")
        (folder / name).chmod(0o755)
    return folder


def test_lint_without_shellcheck_installs_nothing_and_says_how(tmp_path):
    """Item 18: `make lint` ran `apt-get install shellcheck` (as root, silently)."""
    marker = tmp_path / "apt-get-called"
    path = toolbin(tmp_path / "bin", **{"apt-get": f'echo "$*" >> "{marker}"', "sudo": f'echo "$*" >> "{marker}"'})
    r = make("lint", path=path)
    assert r.returncode == 0, r.stderr
    assert not marker.exists(), marker.read_text()
    assert "shellcheck: not installed; skipped (install it: apt-get install shellcheck" in r.stdout
    assert "compileall: clean" in r.stdout


def test_make_test_names_each_skipped_test_and_its_reason(tmp_path):
    """`make test` showed only dots and an 's': which tests were skipped, and why? (-rs)"""
    suite = tmp_path / "test_sample.py"
    suite.write_text('import pytest\n\n\ndef test_runs():\n    pass\n\n\n'
                     '@pytest.mark.skip(reason="promtool is not installed")\ndef test_needs_a_peer():\n    pass\n')
    path = toolbin(tmp_path / "bin")
    r = make("test", f"VPY={sys.executable}", f"TESTS={suite}", path=path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SKIPPED [1] " in r.stdout and "promtool is not installed" in r.stdout, r.stdout
    assert "1 passed, 1 skipped" in r.stdout
