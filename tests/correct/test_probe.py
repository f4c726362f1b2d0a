"""`alive probe`: real probe scripts, state/probes.json and the alive-probe heartbeat."""
import json
import time

from conftest import run_alive
from wdkit import fleet, latest, probe_table, runs, script, scripts, state

from alive.config import registry
from alive.correct import probe, procs


def probe_fleet(home, *pairs, timeout="5s"):
    fleet(home, "".join(probe_table(name, script_name, timeout=timeout) for name, script_name in pairs))


def test_each_probe_state_comes_from_the_first_word_or_the_exit_code(home):
    scripts(home, "probe_alive.py", "probe_expired.py", "probe_notab.py", "probe_silent_ok.py",
            "probe_silent_fail.py")
    probe_fleet(home, ("a", "probe_alive.py"), ("b", "probe_expired.py"), ("c", "probe_notab.py"),
                ("d", "probe_silent_ok.py"), ("e", "probe_silent_fail.py"))
    r = run_alive("probe", home=home)
    assert r.returncode == 0, r.stderr  # every probe ran, whatever it said
    got = state(home, "probes.json")
    assert {n: (e["state"], e["detail"]) for n, e in got.items()} == {
        "a": ("alive", "alive"),
        "b": ("expired", "expired  (cookie gone)"),
        "c": ("no_tab", "no_tab"),            # the word wins over its exit code 3
        "d": ("alive", "exit 0"),
        "e": ("error", "exit 2: chrome not running"),
    }
    assert all(e["checked_at"].endswith("Z") for e in got.values())
    beat = latest(home, "alive-probe")
    assert beat["status"] == "ok" and beat["interval_s"] == 600
    assert beat["metrics"] == {"probes": 5, "alive": 2, "expired": 1, "no_tab": 1, "error": 1}
    assert beat["summary"] == "5 probes: 2 alive, 1 expired, 1 no_tab, 1 error"


def test_a_probe_that_prints_garbage_is_an_error_that_says_what_it_printed(home):
    script(home, "probe_garbage.py")
    probe_fleet(home, ("browser", "probe_garbage.py"))
    r = run_alive("probe", home=home)
    assert r.returncode == 0
    entry = state(home, "probes.json")["browser"]
    assert entry["state"] == "error"
    assert entry["detail"] == ('printed "Traceback (most recent call last): KeyError: tab", '
                               'not alive, expired or no_tab (exit 0)')


def test_a_hung_probe_is_killed_at_its_timeout_and_the_others_still_run(home):
    scripts(home, "probe_hang.py", "probe_alive.py")
    probe_fleet(home, ("a_hang", "probe_hang.py"), ("b_ok", "probe_alive.py"), timeout="1s")
    t0 = time.monotonic()
    r = run_alive("probe", home=home)
    assert time.monotonic() - t0 < 15
    assert r.returncode == 1 and "Traceback" not in r.stderr
    got = state(home, "probes.json")
    assert got["a_hang"] == {**got["a_hang"], "state": "error", "detail": "timed out after 1s and was killed"}
    assert got["b_ok"]["state"] == "alive"
    beat = latest(home, "alive-probe")
    assert beat["status"] == "error" and beat["errors"] == ["a_hang: timed out after 1s and was killed"]


def test_a_probe_that_cannot_be_started_is_exit_1_and_named(home):
    script(home, "probe_alive.py", executable=False)
    fleet(home, probe_table("gone", "nowhere.sh") + probe_table("noexec", "probe_alive.py"))
    r = run_alive("probe", home=home)
    assert r.returncode == 1
    got = state(home, "probes.json")
    assert got["gone"]["detail"] == "could not run: ./nowhere.sh not found"
    assert got["noexec"]["detail"] == "could not run: ./probe_alive.py is not executable"
    assert "could not run: gone, noexec" in latest(home, "alive-probe")["summary"]


def test_probes_json_keeps_only_the_registered_probes_and_a_corrupt_one_is_set_aside(home):
    script(home, "probe_alive.py")
    probe_fleet(home, ("a", "probe_alive.py"))
    (home / "state").mkdir()
    (home / "state" / "probes.json").write_text("{not json")
    r = run_alive("probe", home=home)
    assert r.returncode == 0 and "probes.json is not valid JSON" in r.stderr
    assert list((home / "state").glob("probes.json.corrupt-*"))
    (home / "state" / "probes.json").write_text(json.dumps({"old": {"state": "alive"}, "a": {}}))
    run_alive("probe", home=home)
    assert list(state(home, "probes.json")) == ["a"]


def test_no_probes_is_nothing_to_do(home):
    r = run_alive("probe", home=home)
    assert r.returncode == 0 and "nothing to run" in r.stdout
    assert not (home / "health").exists() and runs(home) == []


def test_a_broken_fleet_toml_is_exit_3_in_one_line(home):
    fleet(home, '[probes.x]\ncommand = "check.sh"\n')
    r = run_alive("probe", home=home)
    assert r.returncode == 3 and "Traceback" not in r.stderr
    assert "probes.x.command" in r.stderr


def test_interpret_reads_only_the_first_word_and_cuts_what_it_shows():
    p = registry.Probe("p", ["x"], timeout=30)
    assert probe.interpret(procs.Ran(["x"], 1, stdout="expired\nmore"), p)[:2] == ("expired", "expired")
    assert probe.interpret(procs.Ran(["x"], 0, stdout="Alive"), p)[0] == "error"  # exact words only
    state, detail, ran = probe.interpret(procs.Ran(["x"], 0, stdout="x" * 500), p)
    assert state == "error" and ran and detail == f'printed "{"x" * 80}" ..., not alive, expired or no_tab (exit 0)'
    assert probe.interpret(procs.Ran(["x"], None, problem="./x not found"), p) == (
        "error", "could not run: ./x not found", False)
    assert probe.interpret(procs.Ran(["x"], -15, timed_out=True), p) == (
        "error", "timed out after 30s and was killed", False)
