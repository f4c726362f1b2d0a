"""The command line a new user meets first (issue 10, "also found"): help, version, the
global options before the command, output paths, plurals."""
import json

import pytest
from conftest import heartbeats, run_alive

from alive import __version__


def test_version():
    r = run_alive("--version")
    assert r.returncode == 0 and r.stdout.startswith(f"alive {__version__} ")


@pytest.mark.parametrize("argv", [["run", "--help"], ["help", "run"], ["run", "job", "-h"]])
def test_alive_run_has_help(argv):
    r = run_alive(*argv)
    assert r.returncode == 0 and r.stdout.startswith("usage: alive run TASK"), r.stderr


@pytest.mark.parametrize("command", ["check", "write", "report", "schedule", "pause"])
def test_help_of_a_command_is_that_commands_help(command):
    r = run_alive("help", command)
    assert r.returncode == 0 and f"alive {command}" in r.stdout.splitlines()[0]


def test_help_of_an_unknown_command_is_exit_3():
    r = run_alive("help", "chek")
    assert r.returncode == 3 and "unknown command 'chek'" in r.stderr


@pytest.mark.parametrize("front", [["--home", "{home}"], ["--home={home}"], ["--config", "{home}/fleet.toml", "--home", "{home}"]])
def test_global_options_may_come_before_the_command(tmp_path, front):
    home = tmp_path / "h"
    home.mkdir()
    (home / "fleet.toml").write_text('[tasks.job]\nschedule = "every 1h"\n')
    args = [a.format(home=home) for a in front]
    assert run_alive(*args, "write", "job", home=tmp_path / "elsewhere").returncode == 0
    assert len(heartbeats(home, "job")) == 1
    r = run_alive(*args, "check", "--json", home=tmp_path / "elsewhere")
    assert r.returncode == 0 and [i["name"] for i in json.loads(r.stdout)["items"]] == ["job"]


def test_global_options_before_run_do_not_reach_the_wrapped_command(tmp_path):
    home = tmp_path / "h"
    r = run_alive("--home", home, "run", "job", "--", "echo", "--home", "x", home=tmp_path / "elsewhere")
    assert r.returncode == 0 and r.stdout == "--home x\n"
    assert len(heartbeats(home, "job")) == 1


@pytest.mark.parametrize("argv,message", [(["--home"], "--home needs a value"),
                                          (["--home", "/tmp"], "no command after --home /tmp")])
def test_a_global_option_without_its_value_or_command_is_exit_3(argv, message):
    r = run_alive(*argv)
    assert r.returncode == 3 and message in r.stderr


@pytest.mark.parametrize("argv", [["export", "prometheus"], ["report", "--format", "html"]])
def test_out_outside_home_needs_its_folder_and_inside_home_alive_makes_it(home, tmp_path, argv):
    missing = tmp_path / "typo" / "dir" / "out.txt"
    r = run_alive(*argv, "--out", missing, home=home)
    assert r.returncode == 3 and "does not exist" in r.stderr
    assert not (tmp_path / "typo").exists()
    inside = home / "site" / "out.txt"
    assert run_alive(*argv, "--out", inside, home=home).returncode == 0
    assert inside.exists()


def test_counts_use_the_singular_for_one(home):
    run_alive("write", "only", home=home)
    assert "(1 item: 1 GREEN)" in run_alive("check", home=home).stdout
    run_alive("write", "second", home=home)
    assert "(2 items: 2 GREEN)" in run_alive("check", home=home).stdout


# ---- issue 19: a newcomer's path --------------------------------------------

@pytest.mark.parametrize("given, hint", [("10", '"10s"?'), ("90", '"90s" (1m30s)?')])
def test_a_bare_number_for_a_timeout_is_hinted_as_seconds(tmp_path, given, hint):
    """Item 16: `--timeout 10` suggested "10h"; a timeout is seconds (timeout(1), runitor -t)."""
    r = run_alive("run", "x", "--timeout", given, "--", "true", home=tmp_path / "h")
    assert r.returncode == 3 and hint in r.stderr and "h\"?" not in r.stderr, r.stderr
    assert not (tmp_path / "h").exists()    # refused before anything ran or was written


@pytest.mark.parametrize("command", [["trigger", "src"], ["triggers"]])
def test_every_timeout_option_hints_a_bare_number_as_seconds(home, command):
    r = run_alive(*command, "--timeout", "10", home=home)
    assert r.returncode == 3 and '"10s"?' in r.stderr, r.stderr


def test_a_mistyped_command_names_the_one_meant():
    r = run_alive("chek")
    assert r.returncode == 3 and "alive: unknown command 'chek' (did you mean check?); usage: " in r.stderr, r.stderr
    assert len(r.stderr.splitlines()) == 1
    assert "(did you mean check?)" in run_alive("help", "chek").stderr
    assert "did you mean" not in run_alive("frobnicate").stderr


def test_alive_help_lists_help_and_version_too():
    out = run_alive("help").stdout
    assert "\n  help [COMMAND]" in out and "\n  --version" in out, out


def test_check_help_names_every_exit_code():
    r = run_alive("check", "--help")
    assert r.returncode == 0 and "3 bad usage or config" in " ".join(r.stdout.split()), r.stdout
    assert "3 bad usage or config" in run_alive("help").stdout
