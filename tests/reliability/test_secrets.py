"""alive's own secrets (issue 10, items 2 and 3), end to end with real processes, a real
ntfy stand-in on 127.0.0.1 and real files:

- `alive run` hands none of alive's token variables to the job it wraps, and whatever the
  job prints (a token it read elsewhere, split across reads) never reaches the heartbeat,
  the report, the dashboard, state/, logs/ or the ntfy POST;
- no file alive writes under ALIVE_HOME is written through a symlink planted at its name.
"""
import json
import os
import sys
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import heartbeats, run_alive

NTFY_TOKEN = "tk_ntfy_8d1c4f0e9b7a6d5c"
FILE_TOKEN = "tk_file_0a9b8c7d6e5f4a3b"
KV_TOKEN = "tk_kv_3e4f5a6b7c8d9e0f"
PY = sys.executable


class Ntfy:
    """A loopback ntfy that keeps every request body and header."""

    def __init__(self):
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen.append({"headers": dict(self.headers.items()), "body": body.decode("utf-8", "replace")})
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ntfy():
    server = Ntfy()
    yield server
    server.close()


def fleet(home, ntfy_url):
    (home / "token").write_text(FILE_TOKEN + "\n")
    (home / "fleet.toml").write_text(f"""
[tasks.leaky]
schedule = "every 1h"

[notify]
[notify.ntfy]
server = "{ntfy_url}"
topic = "fleet"
token_env = "NTFY_TOK"

[triggers]
backend = "http-kv"
[triggers.http_kv]
url = "http://127.0.0.1:9/kv"
token_env = "KV_TOK"
""")


def everything_written(home):
    """Every byte of every regular file under ALIVE_HOME (but the token file itself)."""
    out = {}
    for path in Path(home).rglob("*"):
        if path.is_file() and not path.is_symlink() and path.name != "token":
            out[str(path.relative_to(home))] = path.read_bytes()
    return out


def assert_no_token(blobs, *tokens):
    for where, data in blobs.items():
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        for token in tokens:
            assert token not in text, f"token found in {where}"


ENV = {"NTFY_TOK": NTFY_TOKEN, "KV_TOK": KV_TOKEN, "ALIVE_SERVE_TOKEN": "tk_serve_conventional_1234"}


def test_alive_run_keeps_tokens_from_the_job_and_out_of_everything_written(home, ntfy):
    fleet(home, ntfy.url)
    # The reproduction: the job prints the variable (it must be empty), then prints
    # the token it reads from the token file, in two pieces split across two reads.
    job = home / "leak.py"
    job.write_text(
        "import os, sys, time\n"
        "print('env:', repr(os.environ.get('NTFY_TOK')), repr(os.environ.get('KV_TOK')),"
        " repr(os.environ.get('ALIVE_SERVE_TOKEN')), file=sys.stderr, flush=True)\n"
        "t = open(os.path.join(os.environ['ALIVE_HOME'], 'token')).read().strip()\n"
        "sys.stderr.write(t[:7]); sys.stderr.flush(); time.sleep(0.3)\n"
        "sys.stderr.write(t[7:] + ' ntfy=' + os.environ.get('LEAK', '') + '\\n'); sys.stderr.flush()\n"
        "sys.exit(1)\n")
    (home / "fleet.toml").write_text((home / "fleet.toml").read_text().replace(
        'token_env = "NTFY_TOK"', 'token_env = "NTFY_TOK"\ntoken_file = "token"'))
    r = run_alive("run", "leaky", "--", PY, job, home=home, env={**ENV, "LEAK": NTFY_TOKEN})
    assert r.returncode == 1
    assert "env: None None None" in r.stderr                 # the job never saw a token variable
    assert "[redacted]" in r.stderr                          # and its output was scrubbed on the way
    [(_, hb)] = heartbeats(home, "leaky")
    assert hb["status"] == "error" and "[redacted]" in hb["output_tail"]
    outputs = {"run stdout": r.stdout, "run stderr": r.stderr}
    for argv in (["check", "--notify"], ["check", "--json"], ["report"], ["report", "--format", "html"],
                 ["report", "--format", "markdown"], ["report", "--format", "json"], ["export", "prometheus"],
                 ["report", "--format", "html", "--out", str(home / "site" / "index.html")]):
        (home / "site").mkdir(exist_ok=True)
        done = run_alive(*argv, home=home, env=ENV)
        assert done.returncode in (0, 1, 2), (argv, done.stderr)
        outputs[" ".join(argv)] = done.stdout + done.stderr
    assert len(ntfy.seen) == 1 and ntfy.seen[0]["headers"]["Authorization"] == f"Bearer {NTFY_TOKEN}"
    assert_no_token({"ntfy body": ntfy.seen[0]["body"], "ntfy title": ntfy.seen[0]["headers"].get("Title", "")},
                    NTFY_TOKEN, FILE_TOKEN, KV_TOKEN)
    assert_no_token(outputs, NTFY_TOKEN, FILE_TOKEN, KV_TOKEN)
    written = everything_written(home)
    assert any(k.startswith("state/") and "outbox" in k for k in written) or "logs/notify.log" in written
    assert_no_token(written, NTFY_TOKEN, FILE_TOKEN, KV_TOKEN)


def test_alive_write_and_a_foreign_writer_cannot_put_a_token_anywhere(home, ntfy):
    fleet(home, ntfy.url)
    r = run_alive("write", "leaky", "--status", "error", "--error", f"auth {NTFY_TOKEN} refused",
                  "--summary", f"kv {KV_TOKEN}", "--metric", f"tok={NTFY_TOKEN}", home=home, env=ENV)
    assert r.returncode == 0, r.stderr
    assert_no_token(everything_written(home), NTFY_TOKEN, KV_TOKEN)
    # A tool that does not scrub (the shim's bash fallback, a hand-written file) leaks it
    # into health/; every reader still keeps it out of what it shows and sends.
    foreign = json.loads(heartbeats(home, "leaky")[0][0].read_text())
    foreign.update(errors=[f"token {NTFY_TOKEN}"], summary=f"html <{NTFY_TOKEN}>")
    (home / "health" / "2020-01-01_other_0100.json").write_text(json.dumps(dict(foreign, task_id="other")))
    for argv in (["check"], ["check", "--json"], ["report", "--format", "html"], ["report", "--format", "json"],
                 ["check", "--notify"]):
        done = run_alive(*argv, home=home, env=ENV)
        assert_no_token({" ".join(argv): done.stdout + done.stderr}, NTFY_TOKEN)
    assert ntfy.seen and all(NTFY_TOKEN not in s["body"] for s in ntfy.seen)
    written = everything_written(home)
    written.pop("health/2020-01-01_other_0100.json")
    assert_no_token(written, NTFY_TOKEN)


def test_conventional_token_variables_are_kept_from_a_job_without_any_config(home):
    r = run_alive("run", "plain", "--", PY, "-c", "import os; print(sorted(k for k in os.environ if 'TOKEN' in k))",
                  home=home, env={"ALIVE_NTFY_TOKEN": "x" * 20, "ALIVE_KV_TOKEN": "y" * 20, "MY_OWN_TOKEN": "z"})
    assert r.returncode == 0
    assert "['MY_OWN_TOKEN']" in r.stdout


def test_an_explicit_config_that_is_missing_stops_alive_run_before_the_job(home, tmp_path):
    marker = tmp_path / "ran"
    r = run_alive("run", "job", "--config", tmp_path / "typo.toml", "--", "touch", marker, home=home)
    assert r.returncode == 3 and "typo.toml does not exist" in r.stderr
    assert not marker.exists()


# ---------------------------------------------------------------- item 3: no symlink is followed

@pytest.mark.parametrize("link,argv,setup", [
    ("state/watchdog.lock", ["watchdog"], '[sources.s]\npath = "s.json"\nmax_age = "1h"\n'),
    ("state/locks/run.job.lock", ["run", "job", "--no-overlap", "--", "true"], ""),
    ("state/pauses.json.lock", ["pause", "job"], ""),
    ("logs/notify.log", ["check", "--notify"], '[tasks.ghost]\nschedule = "every 1h"\n'
                                                 '[notify.command]\nargv = ["true"]\n'),
    ("state/notify.lock", ["check", "--notify"], '[tasks.ghost]\nschedule = "every 1h"\n'
                                                   '[notify.command]\nargv = ["true"]\n'),
])
def test_a_symlink_planted_at_a_file_alive_writes_is_never_followed(home, tmp_path, link, argv, setup):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    (home / "fleet.toml").write_text(setup)
    os.utime(home / "fleet.toml", (0, 0))      # registered long ago: a never-run task is RED
    run_alive("write", "job", home=home)
    (home / link).parent.mkdir(parents=True, exist_ok=True)
    (home / link).symlink_to(victim)
    r = run_alive(*argv, home=home)
    assert victim.read_bytes() == b"precious\n", (argv, r.stderr)
    assert (home / link).is_symlink()
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    assert "symbolic link" in r.stderr, (argv, r.returncode, r.stderr)


def test_a_symlinked_triggers_log_is_never_followed(home, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious\n")
    (home / "s.json").write_text("{}")
    (home / "fleet.toml").write_text(f'[sources.s]\npath = "s.json"\nmax_age = "1h"\nproducer = ["{PY}", "-c", "pass"]\n')
    assert run_alive("trigger", "s", home=home).returncode == 0
    (home / "logs").mkdir(exist_ok=True)
    (home / "logs" / "triggers.log").symlink_to(victim)
    r = run_alive("triggers", home=home)
    assert victim.read_bytes() == b"precious\n"
    assert "symbolic link" in r.stderr


def test_a_command_that_cannot_be_found_is_named_without_the_token_in_its_path(home, ntfy):
    """issue 19 item 7: `alive run nf -- /nonexistent/$TOKEN` printed the token on stderr
    (scheduled jobs send stderr to ALIVE_HOME/logs)."""
    fleet(home, ntfy.url)
    r = run_alive("run", "nf", "--", f"/nonexistent/{NTFY_TOKEN}", home=home, env=ENV)
    assert r.returncode == 127
    assert "alive run: /nonexistent/[redacted]: not found" in r.stderr
    assert_no_token({"run stdout": r.stdout, "run stderr": r.stderr}, NTFY_TOKEN)
    assert_no_token(everything_written(home), NTFY_TOKEN)


def test_alive_runs_own_lines_show_a_commands_control_characters_as_escapes(home):
    """A command name is the job author's text: `alive run`'s own line about it reaches the
    terminal (or the log) with ESC shown as \\x1b, never as a live escape."""
    r = run_alive("run", "nf", "--", "/nonexistent/\x1b]0;PWNED\x07", home=home)
    assert r.returncode == 127 and "\x1b" not in r.stderr and "\x07" not in r.stderr
    assert "alive run: /nonexistent/\\x1b]0;PWNED\\x07: not found" in r.stderr, r.stderr


@pytest.mark.parametrize("before", [190, 195, 199])
def test_a_summary_is_scrubbed_before_it_is_cut(home, ntfy, before):
    """issue 19 item 7: cut at 200 characters first, the token's first characters were left
    (no longer the whole token, so the scrubber did not know them)."""
    fleet(home, ntfy.url)
    r = run_alive("write", "leaky", "--summary", "x" * before + " " + NTFY_TOKEN, home=home, env=ENV)
    assert r.returncode == 0, r.stderr
    [(_, hb)] = heartbeats(home, "leaky")
    assert hb["summary"] == ("x" * before + " [redacted]")[:200]
    assert_no_token(everything_written(home), NTFY_TOKEN[:4])


@pytest.mark.parametrize("argv", [
    ["write", "leaky", "--status", NTFY_TOKEN],
    ["write", "leaky", "--started-at", NTFY_TOKEN],
    ["run", "leaky", "--timeout", NTFY_TOKEN, "--", "true"],
    ["run", "leaky", "--interval", NTFY_TOKEN, "--", "true"],
])
def test_a_refusal_that_quotes_a_token_says_it_redacted(home, ntfy, argv):
    """issue 19 item 7: every line alive prints passes the scrubber, its refusals too."""
    fleet(home, ntfy.url)
    r = run_alive(*argv, home=home, env=ENV)
    assert r.returncode == 3 and "[redacted]" in r.stderr, r.stderr
    assert_no_token({"stdout": r.stdout, "stderr": r.stderr}, NTFY_TOKEN)


# ---------------------------------------------------------------- review of issues 18/19: tokens left

CONVENTIONAL = {"ALIVE_NTFY_TOKEN": "tk_SECRETSECRET123456"}


@pytest.mark.parametrize("option", ["--timeout", "--interval"])
@pytest.mark.parametrize("value", [CONVENTIONAL["ALIVE_NTFY_TOKEN"], "5 " + CONVENTIONAL["ALIVE_NTFY_TOKEN"] + " min",
                                   "x" * 35 + CONVENTIONAL["ALIVE_NTFY_TOKEN"] + "y" * 30])
def test_a_duration_refusal_carries_no_part_of_a_token(home, option, value):
    """`--timeout "$ALIVE_NTFY_TOKEN"` said `use 123456s`: the hint was built from the
    token's digits; a long value cut at 40 characters kept the token's first characters."""
    r = run_alive("run", "nf", option, value, "--", "true", home=home, env=CONVENTIONAL)
    assert r.returncode == 3, r.stderr
    assert "123456" not in r.stderr and "tk_SE" not in r.stderr, r.stderr
    assert "is not a duration" in r.stderr and len(r.stderr.splitlines()) == 1


@pytest.mark.parametrize("argv", [
    ["check", "--config", "/x/" + CONVENTIONAL["ALIVE_NTFY_TOKEN"]],
    ["--config", "/x/" + CONVENTIONAL["ALIVE_NTFY_TOKEN"], "check"],
    [CONVENTIONAL["ALIVE_NTFY_TOKEN"]],
    ["help", CONVENTIONAL["ALIVE_NTFY_TOKEN"]],
    ["--home"],
])
def test_an_error_raised_before_the_tokens_are_loaded_is_scrubbed(home, argv):
    r = run_alive(*argv, home=home, env=CONVENTIONAL)
    assert r.returncode == 3, r.stderr
    assert len(r.stderr.splitlines()) == 1 and "Traceback" not in r.stderr
    assert CONVENTIONAL["ALIVE_NTFY_TOKEN"] not in r.stderr + r.stdout, r.stderr


@pytest.mark.parametrize("argv", [
    ["write", "nf" + CONVENTIONAL["ALIVE_NTFY_TOKEN"]],
    ["run", "nf" + CONVENTIONAL["ALIVE_NTFY_TOKEN"], "--", "true"],
    ["run", CONVENTIONAL["ALIVE_NTFY_TOKEN"], "--", "true"],
])
def test_a_task_id_that_holds_a_token_is_refused(home, argv):
    """`alive write "nf$ALIVE_NTFY_TOKEN"` named a heartbeat file after the token and printed its path."""
    r = run_alive(*argv, home=home, env=CONVENTIONAL)
    assert r.returncode == 3, r.stderr
    assert len(r.stderr.splitlines()) == 1 and "token" in r.stderr, r.stderr
    assert "SECRET" not in r.stdout + r.stderr
    assert not (home / "health").exists() or not list((home / "health").iterdir())


def test_a_task_id_that_holds_a_configured_token_is_refused_by_the_python_api(home, ntfy, monkeypatch):
    import alive
    from alive.base import tokens

    fleet(home, ntfy.url)
    monkeypatch.setenv("NTFY_TOK", NTFY_TOKEN)
    monkeypatch.setattr(tokens, "_values", [])
    monkeypatch.setattr(tokens, "_forms", [])
    with pytest.raises(ValueError) as refused:
        alive.task("job" + NTFY_TOKEN)
    assert "token" in str(refused.value) and NTFY_TOKEN not in str(refused.value)
    assert not (home / "health").exists()


def test_a_ping_cannot_name_a_task_after_a_token(home):
    from test_ping import CURL, KEY, curl, url
    from test_serve import serving

    if CURL is None:
        pytest.skip("curl is not installed (Debian: apt-get install curl)")
    with serving(home, env={"ALIVE_PING_KEY": KEY, **CONVENTIONAL}) as s:
        for name in ("nf" + CONVENTIONAL["ALIVE_NTFY_TOKEN"], "x" + KEY):
            assert curl(url(s, f"/ping/{KEY}/{name}?create=1")) == (404, "not found")
    assert not (home / "health").exists() or not list((home / "health").iterdir())


# ---------------------------------------------------------------- terminal escapes from a ping or a job

HOSTILE = b"x\n\033]0;PWNED\007\033[2J boom\n"
RAW_CONTROLS = ("\x1b", "\x07", "\x9b", "\r")


def assert_no_controls(where, text):
    for ch in RAW_CONTROLS:
        assert ch not in text, f"raw {ch!r} in {where}: {text!r}"


@pytest.fixture
def hostile_home(home, ntfy, tmp_path):
    """The issue's reproduction: whoever holds the ping key posts ESC/OSC sequences as the
    body of a failing ping (curl --data-binary @- $B/other/fail); a job prints some too."""
    from test_ping import KEY
    from test_serve import serving

    (home / "fleet.toml").write_text(f"""
[tasks.other]
schedule = "every 1h"
[tasks.job]
schedule = "every 1h"
[notify.ntfy]
server = "{ntfy.url}"
topic = "fleet"
[notify.command]
argv = ["{PY}", "-c", "import sys; open(sys.argv[1], 'ab').write(sys.stdin.buffer.read())", "{tmp_path / 'bodies'}"]
""")
    with serving(home, env={"ALIVE_PING_KEY": KEY}) as s:
        ping = urllib.request.Request(f"http://{s[0]}:{s[1]}/ping/{KEY}/other/fail", data=HOSTILE)
        assert urllib.request.urlopen(ping, timeout=10).status == 200
    job = run_alive("run", "job", "--", PY, "-c", "import sys; sys.stderr.write('e\\x1b[31mred\\x9b2J\\r over\\n'); sys.exit(1)",
                    home=home)
    assert job.returncode == 1
    return home


@pytest.mark.parametrize("argv", [["check"], ["report"], ["report", "--format", "text"],
                                  ["report", "--format", "markdown"], ["check", "--notify"]])
def test_no_control_character_reaches_the_terminal(hostile_home, argv):
    r = run_alive(*argv, home=hostile_home)
    assert r.returncode in (0, 1, 2), r.stderr
    assert_no_controls(" ".join(argv), r.stdout + r.stderr)
    if argv[0] == "check" or "text" in argv or argv == ["report"]:
        assert "\\x1b]0;PWNED\\x07\\x1b[2J boom" in r.stdout and "e\\x1b[31mred\\x9b2J" in r.stdout, r.stdout


def test_no_control_character_reaches_a_notification_body(hostile_home, ntfy, tmp_path):
    r = run_alive("check", "--notify", home=hostile_home)
    assert r.returncode == 2, r.stderr
    assert ntfy.seen, r.stderr
    for seen in ntfy.seen:
        assert_no_controls("ntfy body", seen["body"])
        assert_no_controls("ntfy title", seen["headers"].get("Title", ""))
    bodies = (tmp_path / "bodies").read_bytes().decode("utf-8")
    assert_no_controls("command's stdin", bodies)
    assert "\\x1b[31m" in bodies and "\\x1b[31m" in "".join(s["body"] for s in ntfy.seen)


def test_no_control_character_reaches_lint_or_verify(hostile_home):
    health = hostile_home / "health"
    for day in ("2019-01-01", "2020-01-01"):     # verify names the first; check lists the newest
        (health / f"{day}_x\x1b]0;PWNED\x07_0100.json").write_text("{")
    (health / "2020-01-01_job_0100.json").write_text(json.dumps(
        {"task_id": "job", "status": "sure\x1b[2J", "started_at": "x\x1b[2J"}))
    for argv in (["lint"], ["verify"], ["check"]):
        r = run_alive(*argv, home=hostile_home)
        assert "Traceback" not in r.stderr, r.stderr
        assert_no_controls(" ".join(argv), r.stdout + r.stderr)
    for argv in (["lint"], ["verify"], ["check"]):
        assert "\\x1b]0;PWNED\\x07" in run_alive(*argv, home=hostile_home).stdout, argv
