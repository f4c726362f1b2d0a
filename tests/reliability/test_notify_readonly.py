"""`alive check --notify` with a state/ it cannot write: one clear line on stderr, an exit
code that is not 0 (2 stays RED), and the messages of this run are still tried: never a
silent "0 sent".

state/ is its own real tmpfs, remounted read-only (the tests run as root, where chmod does
not stop a write); without mount the test is skipped, saying why. The notification
command writes outside ALIVE_HOME, so it can still take the message.
"""
import errno
import os
import subprocess

import pytest

from .test_faults import make_fleet, mount_tmpfs, run, set_the_stage, snapshot, stderr_lines, unmount


@pytest.fixture
def read_only_state(tmp_path):
    """-> (home, state, remount(ro: bool)); state/ is a tmpfs of its own."""
    home = tmp_path / "home"
    state = home / "state"
    state.mkdir(parents=True)
    why = mount_tmpfs(state)
    if why:
        pytest.skip(f"needs state/ on its own read-only filesystem: {why}")

    def remount(ro):
        r = subprocess.run(["mount", "-o", f"remount,{'ro' if ro else 'rw'}", str(state)], capture_output=True,
                           text=True, timeout=20)
        assert r.returncode == 0, r.stderr

    try:
        yield home, state, remount
    finally:
        unmount(state)


def test_a_read_only_state_is_one_line_exit_2_for_red_and_the_new_flip_is_still_sent(read_only_state, tmp_path):
    home, state, remount = read_only_state
    notified = tmp_path / "notified.log"
    told = set_the_stage(home, notified)           # broke2 has just gone RED: a flip to send
    before = snapshot(state)
    remount(True)
    r = run(home, "check", "--notify")
    assert r.returncode == 2
    lines = stderr_lines(r)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"alive: notify: cannot write {state}: {os.strerror(errno.EROFS)}; ")
    assert "1 message of this run sent without being recorded: it may be sent again" in lines[0]
    assert "notifications: 1 sent, 0 waiting in the outbox, 0 dropped" in r.stdout
    new = notified.read_text().splitlines()[len(told):]
    assert new[0] == "RED: task broke2", new                    # tried, and taken
    assert snapshot(state) == before                           # nothing in state/ changed, or could
    assert "sent command task:broke2/red/" in (home / "logs" / "notify.log").read_text()

    # writable again: the flip is recorded (told once more: nothing said it was told), and
    # from then on never again
    remount(False)
    assert run(home, "check", "--notify").returncode == 2
    settled = notified.read_text().splitlines()
    assert settled[len(told):] == ["RED: task broke2", "RED: task broke2"]
    assert run(home, "check", "--notify").returncode == 2
    assert notified.read_text().splitlines() == settled


def test_a_green_fleet_with_a_read_only_state_still_exits_non_zero(read_only_state, tmp_path):
    home, state, remount = read_only_state
    make_fleet(home, tmp_path / "notified.log")
    text = (home / "fleet.toml").read_text()
    (home / "fleet.toml").write_text(text[:text.index("[sources.feed]")] + text[text.index("[notify]"):])
    assert run(home, "write", "nightly").returncode == 0
    assert run(home, "check", "--notify").returncode == 0
    remount(True)
    r = run(home, "check", "--notify")
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    lines = stderr_lines(r)
    assert len(lines) == 1 and lines[0].startswith(f"alive: notify: cannot write {state}: "), lines
    assert "nothing to send in this run" in lines[0]
    assert "overall: GREEN" in r.stdout
