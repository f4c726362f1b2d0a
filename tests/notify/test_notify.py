"""notify: flips become messages, the outbox delivers each one exactly once per channel.

A real ThreadingHTTPServer on 127.0.0.1 stands in for ntfy; the command channel is a real
script; state lives in real files under a temporary ALIVE_HOME. `now` is passed in.
"""
import fcntl
import json
import os
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from freezegun import freeze_time

from alive.notify import notify
from alive.notify import message
from alive.notify import outbox as notify_outbox   # `outbox()` reads the test's outbox
from alive.notify import ntfy as ntfy_channel   # `ntfy` is the fake server's fixture
from alive.check.health import GREEN, GREY, RED, YELLOW, Item, Result
from alive.config.registry import CommandChannel, Notify, Ntfy, Registry, Settings
from alive.base.timeutil import utcnow

T0 = datetime(2026, 5, 2, 8, 0, 0, tzinfo=timezone.utc)
TOKEN = "tk_s3cret-token-0123456789abcdef"
TOKEN_ENV = "ALIVE_TEST_NTFY_TOKEN"
HANG_S = 5                      # how long the fake server sits on a request in "hang" mode


# ---------------------------------------------------------------- the fake ntfy server

class FakeNtfy:
    """Records each request; answers with `mode`: "200", "500", "429", "400", "400-echo"
    (a 400 whose body echoes the Authorization header), "302" (to /elsewhere on the same
    server), or "hang" (no answer for HANG_S).
    stop() closes the port (down); start() opens the same port again."""

    def __init__(self):
        self.requests = []
        self.mode = "200"
        self.port = 0
        self.release = threading.Event()
        self.server = self.thread = None

    def start(self):
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
        self.release.clear()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def answered_200(self):
        return [r for r in self.requests if r["answer"] == "200"]


NTFY_MESSAGE_LIMIT = 4096      # ntfy's default message-size-limit, in bytes


def peer_refusal(headers, raw_body):
    """What a real ntfy server (default config: no attachment cache) refuses, whatever the
    test's mode: -> (status, ntfy error code, text) or None.
    - Go's net/http answers 400 "invalid header value" for a header value holding a control
      byte other than tab (golang/go src/net/http/server.go readRequest ->
      httpguts.ValidHeaderFieldValue, which refuses CTLs: bytes < 0x20 but HTAB, and 0x7f).
    - ntfy reads at most message-size-limit bytes of the body as the message; a body that
      reaches the limit (util/peek.go: LimitReached = read == limit) is taken as an
      attachment (server/server.go handlePublishBody, "Case 6"), which a server without
      attachment-cache-dir refuses: handleBodyAsAttachment -> errHTTPBadRequestAttachmentsDisallowed,
      400 with code 40014 "invalid request: attachments not allowed" (server/errors.go)."""
    for value in headers.values():
        if any(ord(c) < 0x20 and c != "\t" or ord(c) == 0x7f for c in value):
            return 400, None, "invalid header value"
    if len(raw_body) >= NTFY_MESSAGE_LIMIT:
        return 400, 40014, "invalid request: attachments not allowed"
    return None


def _handler(fake):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = raw.decode("utf-8")
            refused = peer_refusal(dict(self.headers.items()), raw)
            mode = fake.mode if refused is None else f"{refused[0]}-peer"
            fake.requests.append({"path": self.path, "headers": dict(self.headers.items()), "body": body,
                                  "answer": mode})
            if mode == "hang":
                fake.release.wait(HANG_S)
                return
            if mode == "302":
                self.send_response(302)
                self.send_header("Location", f"{fake.url}/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            code = int(mode.split("-")[0])
            text = json.dumps({"code": (refused and refused[1]) or code * 100 + 1,
                               "error": refused[2] if refused else "test answer",
                               "echo": self.headers.get("Authorization") if mode == "400-echo" else None})
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def ntfy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(ntfy_channel, "NTFY_TIMEOUT_S", 0.5)
    fake = FakeNtfy()
    fake.start()
    yield fake
    if fake.server is not None:
        fake.release.set()
        fake.server.shutdown()
        fake.server.server_close()


@pytest.fixture
def token(monkeypatch):
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return TOKEN


# ---------------------------------------------------------------- helpers

def make_reg(home, ntfy=None, command=None, renotify=3600, recovery=True, dashboard="http://127.0.0.1:8765/",
             priority="high", token_env=TOKEN_ENV, token_file=None, tags=("fleet",)):
    channel = Ntfy(topic="my-fleet", server=ntfy.url, token_env=token_env, token_file=token_file,
                   priority=priority, tags=list(tags)) if ntfy else None
    return Registry(path=None, home=home, settings=Settings(dashboard_url=dashboard),
                    notify=Notify(renotify=renotify, recovery=recovery, ntfy=channel, command=command))


def item(name, color, kind="task", reasons=None, **details):
    return Item(kind, name, color, reasons if reasons is not None else [f"{name} is {color.lower()}"], details)


def result(*items, now=T0):
    return Result(overall=RED, items=list(items), invalid_files=[], checked_at=now)


def check(home, reg, *items, now=T0):
    return notify.after_check(home, reg, result(*items, now=now), now)


def log_text(home):
    path = home / "logs" / "notify.log"
    return path.read_text() if path.exists() else ""


def outbox(home):
    return json.loads((home / "state" / "outbox.json").read_text())["messages"]


def recording_command(tmp_path, timeout=10):
    """A real script that appends its stdin to a file, one record per run."""
    out = tmp_path / "command-got.txt"
    script = tmp_path / "record.py"
    script.write_text(f"#!{sys.executable}\n"
                      "import json, os, sys\n"
                      "line = json.dumps({'stdin': sys.stdin.read(), 'env': sorted(os.environ)})\n"
                      "with open(sys.argv[1], 'a') as f:\n"
                      "    f.write(line + '\\n')\n")
    script.chmod(0o755)
    return CommandChannel(argv=[str(script), str(out)], timeout=timeout), out


def records(path):
    """What the recording command received: one dict (stdin, env names) per run."""
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# ---------------------------------------------------------------- flips

def test_going_red_sends_one_message_and_staying_red_sends_nothing_more(home, ntfy, token):
    reg = make_reg(home, ntfy)
    first = check(home, reg, item("daily-dq", RED))
    second = check(home, reg, item("daily-dq", RED), now=T0 + timedelta(minutes=5))
    assert [r["headers"]["Title"] for r in ntfy.requests] == ["RED: task daily-dq"]
    assert first["sent"] == 1 and first["queued"] == 0 and first["events"] == 1
    assert second["sent"] == 0 and second["events"] == 0
    assert "daily-dq is red" in ntfy.requests[0]["body"] and "RED since 2026-05-02T08:00:00Z" in ntfy.requests[0]["body"]


def test_the_first_check_ever_notifies_only_what_is_red_now(home, ntfy, token):
    reg = make_reg(home, ntfy)
    check(home, reg, item("a", GREEN), item("b", YELLOW), item("c", RED), item("track", RED, kind="source"))
    assert [r["headers"]["Title"] for r in ntfy.requests] == ["2 items RED"]      # one run, one message
    assert [ln.split(" (")[0] for ln in ntfy.requests[0]["body"].splitlines()] == [
        "RED: source track: track is red", "RED: task c: c is red"]


@pytest.mark.parametrize("offset, expected", [(-1, 0), (0, 1), (1, 1)])
def test_renotify_repeats_a_red_item_once_the_interval_has_passed(home, ntfy, token, offset, expected):
    reg = make_reg(home, ntfy, renotify=3600)
    with freeze_time(T0) as clock:
        check(home, reg, item("daily-dq", RED), now=utcnow())
        clock.move_to(T0 + timedelta(seconds=3600 + offset))
        check(home, reg, item("daily-dq", RED), now=utcnow())
    titles = [r["headers"]["Title"] for r in ntfy.requests]
    assert titles == ["RED: task daily-dq"] + ["still RED: task daily-dq"] * expected
    if expected:
        assert "RED since 2026-05-02T08:00:00Z (1h)" in ntfy.requests[-1]["body"]


def test_renotify_counts_from_the_last_reminder_not_from_the_first_message(home, ntfy, token):
    reg = make_reg(home, ntfy, renotify=600)
    for minutes in (0, 10, 19, 20):
        check(home, reg, item("x", RED), now=T0 + timedelta(minutes=minutes))
    assert [r["headers"]["Title"] for r in ntfy.requests] == ["RED: task x"] + ["still RED: task x"] * 2


def test_without_renotify_a_red_item_is_told_once(home, ntfy, token):
    reg = make_reg(home, ntfy, renotify=None)
    for days in (0, 1, 30):
        check(home, reg, item("x", RED), now=T0 + timedelta(days=days))
    assert len(ntfy.requests) == 1


def test_leaving_red_sends_a_recovery(home, ntfy, token):
    reg = make_reg(home, ntfy)
    check(home, reg, item("track", RED, kind="source"))
    check(home, reg, item("track", GREEN, kind="source", reasons=[]), now=T0 + timedelta(hours=2))
    check(home, reg, item("track", GREEN, kind="source", reasons=[]), now=T0 + timedelta(hours=3))
    assert len(ntfy.requests) == 2
    recovered = ntfy.requests[1]
    assert recovered["headers"]["Title"] == "recovered: source track"
    assert recovered["headers"]["Tags"] == "white_check_mark,fleet"
    assert recovered["headers"]["Priority"] == "default"
    assert recovered["body"] == "now GREEN; was RED since 2026-05-02T08:00:00Z (2h)"


def test_red_to_yellow_is_a_recovery_too(home, ntfy, token):
    reg = make_reg(home, ntfy)
    check(home, reg, item("x", RED))
    check(home, reg, item("x", YELLOW, reasons=["warning: disk 85% full"]), now=T0 + timedelta(minutes=1))
    assert ntfy.requests[1]["headers"]["Title"] == "recovered: task x"
    assert "warning: disk 85% full" in ntfy.requests[1]["body"]


def test_no_recovery_message_when_recovery_is_off(home, ntfy, token):
    reg = make_reg(home, ntfy, recovery=False)
    check(home, reg, item("x", RED))
    check(home, reg, item("x", GREEN, reasons=[]), now=T0 + timedelta(minutes=1))
    check(home, reg, item("x", RED), now=T0 + timedelta(minutes=2))
    assert [r["headers"]["Title"] for r in ntfy.requests] == ["RED: task x", "RED: task x"]


def test_blocked_and_grey_items_are_never_notified(home, ntfy, token):
    reg = make_reg(home, ntfy)
    blocked = item("child", YELLOW, blocked_by=["parent"], color_unblocked=RED)
    blocked_red = item("other", RED, blocked_by=["parent"])      # should health ever leave one RED
    paused = item("quiet", GREY, paused={"until": None})
    for minutes in (0, 90, 180):
        summary = check(home, reg, blocked, blocked_red, paused, now=T0 + timedelta(minutes=minutes))
        assert summary["events"] == 0
    assert ntfy.requests == []


def test_a_red_item_that_is_paused_gets_no_recovery_and_is_told_again_when_red_after_the_pause(home, ntfy, token):
    reg = make_reg(home, ntfy)
    check(home, reg, item("x", RED))
    check(home, reg, item("x", GREY, paused={"until": None}), now=T0 + timedelta(minutes=1))
    assert len(ntfy.requests) == 1
    check(home, reg, item("x", RED), now=T0 + timedelta(minutes=2))
    assert [r["headers"]["Title"] for r in ntfy.requests] == ["RED: task x", "RED: task x"]


def test_a_red_item_that_becomes_blocked_is_neither_recovered_nor_told_again(home, ntfy, token):
    reg = make_reg(home, ntfy, renotify=None)
    check(home, reg, item("child", RED))
    check(home, reg, item("child", YELLOW, blocked_by=["parent"]), now=T0 + timedelta(hours=1))
    check(home, reg, item("child", RED), now=T0 + timedelta(hours=2))
    check(home, reg, item("child", GREEN, reasons=[]), now=T0 + timedelta(hours=3))
    assert [r["headers"]["Title"] for r in ntfy.requests] == ["RED: task child", "recovered: task child"]
    assert "was RED since 2026-05-02T08:00:00Z (3h)" in ntfy.requests[1]["body"]


# ---------------------------------------------------------------- delivery and the outbox

def test_a_500_is_retried_on_the_next_run_and_then_sent_once_only(home, ntfy, token):
    reg = make_reg(home, ntfy)
    ntfy.mode = "500"
    first = check(home, reg, item("x", RED))
    assert first["sent"] == 0 and first["queued"] == 1
    assert any("kept for the next run" in w and "HTTP 500" in w for w in first["warnings"])
    ntfy.mode = "200"
    for minutes in (5, 10, 15):
        check(home, reg, item("x", RED), now=T0 + timedelta(minutes=minutes))
    assert [r["answer"] for r in ntfy.requests] == ["500", "200"]
    assert ntfy.requests[0]["body"] == ntfy.requests[1]["body"]
    assert outbox(home) == []
    assert "retry-later ntfy task:x/red/2026-05-02T08:00:00Z: HTTP 500" in log_text(home)
    assert "sent ntfy task:x/red/2026-05-02T08:00:00Z 'RED: task x'" in log_text(home)


@pytest.mark.parametrize("trouble", ["429", "hang", "down"])
def test_429_timeout_and_a_closed_port_keep_the_message_for_the_next_run(home, ntfy, token, trouble):
    reg = make_reg(home, ntfy)
    if trouble == "down":
        ntfy.stop()
    else:
        ntfy.mode = trouble
    started = time.monotonic()
    first = check(home, reg, item("x", RED))
    assert time.monotonic() - started < 3            # the 0.5 s timeout held
    assert first["sent"] == 0 and first["queued"] == 1
    assert [m["id"] for m in outbox(home)] == ["task:x/red/2026-05-02T08:00:00Z"]
    assert "retry-later ntfy task:x/red" in log_text(home)
    if trouble == "down":
        ntfy.start()
    ntfy.release.set()
    ntfy.mode = "200"
    second = check(home, reg, item("x", RED), now=T0 + timedelta(minutes=5))
    assert second["sent"] == 1 and second["queued"] == 0
    assert len(ntfy.answered_200()) == 1


def test_a_400_is_dropped_with_its_reason_logged(home, ntfy, token):
    reg = make_reg(home, ntfy)
    ntfy.mode = "400"
    first = check(home, reg, item("x", RED))
    assert first["dropped"] == 1 and first["queued"] == 0 and first["sent"] == 0
    assert "dropped ntfy task:x/red/2026-05-02T08:00:00Z: HTTP 400" in log_text(home)
    assert "test answer" in log_text(home)
    ntfy.mode = "200"
    check(home, reg, item("x", RED), now=T0 + timedelta(minutes=5))
    assert len(ntfy.requests) == 1


def test_a_redirect_is_not_followed_with_the_token_and_the_message_is_kept(home, ntfy, token):
    reg = make_reg(home, ntfy)
    ntfy.mode = "302"
    summary = check(home, reg, item("x", RED))
    assert [r["path"] for r in ntfy.requests] == ["/my-fleet"]
    assert summary["queued"] == 1
    assert f"HTTP 302: redirected to {ntfy.url}/elsewhere; not followed" in log_text(home)


def test_ntfy_down_and_command_ok_each_channel_gets_the_message_exactly_once(home, ntfy, token, tmp_path):
    command, got = recording_command(tmp_path)
    reg = make_reg(home, ntfy, command=command)
    ntfy.stop()
    check(home, reg, item("x", RED))
    check(home, reg, item("x", RED), now=T0 + timedelta(minutes=5))
    assert len(records(got)) == 1
    assert outbox(home)[0]["delivered"] == {"command": "2026-05-02T08:00:00Z"}
    ntfy.start()
    third = check(home, reg, item("x", RED), now=T0 + timedelta(minutes=10))
    check(home, reg, item("x", RED), now=T0 + timedelta(minutes=15))
    assert third["sent"] == 1 and third["queued"] == 0
    assert len(records(got)) == 1 and len(ntfy.requests) == 1


def test_the_command_gets_title_blank_line_and_body_on_stdin_without_the_token_in_its_environment(
        home, ntfy, token, tmp_path):
    command, got = recording_command(tmp_path)
    reg = make_reg(home, ntfy, command=command)
    ntfy.mode = "500"
    summary = check(home, reg, item("daily-dq", RED, reasons=["latest run failed: boom", "second reason"]))
    [record] = records(got)
    assert record["stdin"] == ("RED: task daily-dq\n\nlatest run failed: boom\nsecond reason\n"
                               "RED since 2026-05-02T08:00:00Z\n")
    assert TOKEN_ENV in os.environ and TOKEN_ENV not in record["env"] and "PATH" in record["env"]
    assert summary["sent"] == 1


def test_a_failing_command_is_retried(home, tmp_path):
    flag = tmp_path / "fail"
    flag.write_text("")
    script = tmp_path / "flaky.sh"
    script.write_text(f'#!/bin/sh\ncat >> "{tmp_path}/got"\n[ -e "{flag}" ] && {{ echo nope >&2; exit 3; }}\nexit 0\n')
    script.chmod(0o755)
    reg = make_reg(home, command=CommandChannel(argv=[str(script)], timeout=10))
    first = check(home, reg, item("x", RED))
    assert first["queued"] == 1 and "exited 3: nope" in log_text(home)
    flag.unlink()
    second = check(home, reg, item("x", RED), now=T0 + timedelta(minutes=1))
    assert second["sent"] == 1 and second["queued"] == 0


def test_a_hanging_command_is_killed_at_its_timeout_and_the_message_kept(home, tmp_path):
    pid_file = tmp_path / "pid"
    script = tmp_path / "hang.py"
    script.write_text(f"#!{sys.executable}\nimport os, time\n"
                      f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)\n")
    script.chmod(0o755)
    reg = make_reg(home, command=CommandChannel(argv=[str(script)], timeout=1))
    started = time.monotonic()
    summary = check(home, reg, item("x", RED))
    elapsed = time.monotonic() - started
    assert 1 <= elapsed < 5
    assert summary["queued"] == 1 and summary["sent"] == 0
    assert "timed out after 1s and was killed" in log_text(home)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_headers_title_priority_tags_click_and_bearer_token(home, ntfy, token):
    reg = make_reg(home, ntfy, priority="urgent", tags=("fleet", "prod"))
    check(home, reg, item("daily-dq", RED))
    [req] = ntfy.requests
    assert req["path"] == "/my-fleet"
    h = req["headers"]
    assert h["Title"] == "RED: task daily-dq"
    assert h["Priority"] == "urgent"
    assert h["Tags"] == "rotating_light,fleet,prod"
    assert h["Click"] == "http://127.0.0.1:8765/"
    assert h["Authorization"] == f"Bearer {TOKEN}"
    assert h["Content-Type"] == "text/plain; charset=utf-8"


def test_token_from_a_file_and_no_click_without_a_dashboard(home, ntfy, tmp_path, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    token_file = tmp_path / "ntfy-token"
    token_file.write_text(f"  {TOKEN}\n")
    reg = make_reg(home, ntfy, token_env=None, token_file=token_file, dashboard=None)
    check(home, reg, item("x", RED))
    h = ntfy.requests[0]["headers"]
    assert h["Authorization"] == f"Bearer {TOKEN}" and "Click" not in h


def test_a_public_topic_sends_no_authorization(home, ntfy):
    reg = make_reg(home, ntfy, token_env=None)
    check(home, reg, item("x", RED))
    assert "Authorization" not in ntfy.requests[0]["headers"]


def test_a_configured_token_that_is_missing_keeps_the_message_instead_of_sending_without_it(home, ntfy, monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    reg = make_reg(home, ntfy)
    summary = check(home, reg, item("x", RED))
    assert ntfy.requests == [] and summary["queued"] == 1
    assert any(f"environment variable {TOKEN_ENV} is empty or not set" in w for w in summary["warnings"])
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    assert check(home, reg, item("x", RED), now=T0 + timedelta(minutes=1))["sent"] == 1


def test_a_non_ascii_title_travels_as_rfc_2047_and_decodes_to_the_original(ntfy):
    title = "RED: tâche données ☃ — " + "é" * 40
    msg = message.Message(id="m", created_at="2026-05-02T08:00:00Z", title=title, body="corps ☃", priority="high",
                         tags=["rotating_light", "données"], parts=[], click=None)
    outcome = ntfy_channel.send(Ntfy(topic="t", server=ntfy.url), msg)
    assert outcome.state == message.SENT
    h = ntfy.requests[0]["headers"]
    assert h["Title"].isascii() and h["Title"].startswith("=?utf-8?b?")
    assert all(len(word) <= 75 for word in h["Title"].split())
    assert str(make_header(decode_header(h["Title"]))) == title
    assert str(make_header(decode_header(h["Tags"]))) == "rotating_light,données"
    assert ntfy.requests[0]["body"] == "corps ☃"


def test_header_values_are_one_line_and_ascii_passes_unchanged():
    assert ntfy_channel.header_value("RED: task x") == "RED: task x"
    assert ntfy_channel.header_value("a\r\nInjected: yes") == "a Injected: yes"
    assert ntfy_channel.header_value("looks =?like?= a word").startswith("=?utf-8?b?")


def test_the_token_appears_in_no_file_and_no_output(home, ntfy, token, tmp_path, capfd):
    command, _ = recording_command(tmp_path)
    reg = make_reg(home, ntfy, command=command)
    ntfy.mode = "500"
    check(home, reg, item("a", RED))
    ntfy.mode = "400-echo"               # a server that echoes the Authorization header back
    summary = check(home, reg, item("b", RED), now=T0 + timedelta(minutes=1))
    ntfy.mode = "hang"
    check(home, reg, item("c", RED), now=T0 + timedelta(minutes=2))
    assert any(TOKEN in r["headers"].get("Authorization", "") for r in ntfy.requests)   # it was sent
    assert "[redacted]" in log_text(home)                                               # and scrubbed
    out, err = capfd.readouterr()
    assert TOKEN not in out and TOKEN not in err and TOKEN not in json.dumps(summary)
    for path in home.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_url_credentials_and_secrets_are_scrubbed():
    text = "<urlopen error https://user:pw@ntfy.example/t> Bearer abc123"
    assert message.scrub(text, ["abc123"]) == "<urlopen error https://[redacted]@ntfy.example/t> Bearer [redacted]"


def test_a_crash_between_saving_the_outbox_and_the_state_does_not_send_twice(home, ntfy, token):
    reg = make_reg(home, ntfy)
    ntfy.mode = "500"
    check(home, reg, item("x", RED))
    (home / "state" / "notify.json").unlink()      # as if the process died before saving it
    ntfy.mode = "200"
    check(home, reg, item("x", RED), now=T0 + timedelta(minutes=5))
    check(home, reg, item("x", RED), now=T0 + timedelta(minutes=10))
    assert len(ntfy.answered_200()) == 1


def test_re_enqueueing_the_same_event_is_a_no_op(home):
    # was notify.enqueue; the outbox is now made by regroup (one message per run)
    reg = make_reg(home, command=CommandChannel(argv=["true"]))
    event = message.Event("task:x", message.INTO_RED, item("x", RED), "2026-05-02T08:00:00Z", "2026-05-02T08:00:00Z")
    messages, new, _, _ = notify_outbox.regroup([], [event], reg, T0)
    again, none, _, _ = notify_outbox.regroup(messages, [event], reg, T0 + timedelta(minutes=1))
    assert [m.id for m in again] == ["task:x/red/2026-05-02T08:00:00Z"] and new.id == again[0].id and none is None


def test_the_outbox_is_bounded_and_drops_the_oldest_with_a_log_line(home, ntfy, token, monkeypatch):
    monkeypatch.setattr(notify_outbox, "OUTBOX_MAX", 1)
    reg = make_reg(home, ntfy)
    ntfy.stop()
    check(home, reg, item("a", RED), item("b", RED))              # one run, one message (a group)
    [first] = outbox(home)
    summary = check(home, reg, item("a", RED), item("b", RED), item("c", RED), now=T0 + timedelta(minutes=1))
    assert [m["id"] for m in outbox(home)] == ["task:c/red/2026-05-02T08:01:00Z"]
    assert summary["dropped"] == 1 and summary["queued"] == 1
    assert f"outbox full (max 1): dropped the 1 oldest: {first['id']}" in log_text(home)


def test_a_message_is_not_lost_when_the_outbox_holds_an_unrelated_one(home, ntfy, token):
    reg = make_reg(home, ntfy)
    ntfy.stop()
    check(home, reg, item("a", RED))
    check(home, reg, item("a", RED), item("b", RED), now=T0 + timedelta(minutes=1))
    ntfy.start()
    check(home, reg, item("a", RED), item("b", RED), now=T0 + timedelta(minutes=2))
    assert sorted(r["headers"]["Title"] for r in ntfy.requests) == ["RED: task a", "RED: task b"]


# ---------------------------------------------------------------- damaged state, locks, no channel

@pytest.mark.parametrize("name", ["notify.json", "outbox.json"])
def test_a_corrupt_state_file_is_set_aside_with_a_warning(home, ntfy, token, capfd, name):
    (home / "state").mkdir()
    (home / "state" / name).write_text("{not json")
    summary = check(home, reg := make_reg(home, ntfy), item("x", RED))
    assert any(name in w and "set aside" in w for w in summary["warnings"])
    assert name in capfd.readouterr().err
    assert list((home / "state").glob(f"{name}.corrupt-*"))
    assert summary["sent"] == 1
    assert check(home, reg, item("x", RED), now=T0 + timedelta(minutes=1))["warnings"] == []


def test_an_outbox_with_entries_that_are_not_messages_is_set_aside_and_the_readable_ones_kept(home, ntfy, token):
    # was: the bad entries skipped; now the file is set aside like any damaged state file
    # (kept for a person), and the messages that can be read still go out
    (home / "state").mkdir()
    good = {"id": "task:y/red/2026-05-02T07:00:00Z", "key": "task:y", "event": "red", "color": RED,
            "red_since": "2026-05-02T07:00:00Z", "created_at": "2026-05-02T07:00:00Z", "title": "RED: task y",
            "body": "b", "priority": "high", "tags": ["rotating_light"]}
    bad_delivered = dict(good, id="other", delivered="ntfy")
    (home / "state" / "outbox.json").write_text(json.dumps({"messages": [42, {"id": "only-an-id"}, bad_delivered,
                                                                         good]}))
    summary = check(home, make_reg(home, ntfy), item("x", RED))
    assert any("outbox.json holds the wrong types: messages[0] is 42, not an object; set aside as outbox.json.corrupt-"
               in w and w.endswith("kept the 1 readable message in it") for w in summary["warnings"]), summary
    assert [r["headers"]["Title"] for r in ntfy.requests] == ["2 items RED"]     # never tried: joins this run
    assert [ln.split(":")[1] for ln in ntfy.requests[0]["body"].splitlines()] == [" task x", " task y"]


def test_while_another_run_holds_the_lock_nothing_is_sent_and_the_flip_waits(home, ntfy, token, monkeypatch):
    monkeypatch.setattr(notify, "LOCK_WAIT_S", 0.2)
    reg = make_reg(home, ntfy)
    (home / "state").mkdir()
    fd = os.open(home / "state" / "notify.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        summary = check(home, reg, item("x", RED))
    finally:
        os.close(fd)
    assert ntfy.requests == [] and any("another run" in w for w in summary["warnings"])
    assert check(home, reg, item("x", RED), now=T0 + timedelta(minutes=1))["sent"] == 1


def test_without_a_channel_it_says_so_and_touches_no_state(home):
    summary = check(home, make_reg(home), item("x", RED))
    assert summary["warnings"] == ["no notification channel configured: add [notify.ntfy] or [notify.command]"]
    assert not (home / "state" / "notify.json").exists()


def test_every_configured_channel_is_a_module_with_build_send_and_classify():
    """One module per channel, each with the same three functions (borgmatic's monitoring
    hooks share one shape: borgmatic/hooks/monitoring/*.py): what deliver() calls by name."""
    import importlib

    cfg = Notify(renotify=None, recovery=True, ntfy=Ntfy(topic="t", server="http://127.0.0.1:9"),
                 command=CommandChannel(argv=["true"], timeout=5))
    channels = notify_outbox.configured_channels(cfg)
    assert channels == [message.NTFY, message.COMMAND]
    for name in channels:
        module = importlib.import_module(f"alive.notify.{name}")
        assert all(callable(getattr(module, f, None)) for f in ("build", "send", "classify")), name
    refused = ntfy_channel.classify(400, "bad")
    assert (refused.state, ntfy_channel.classify(429, "slow").state) == (message.DROP, message.RETRY)
    from alive.notify import command

    assert command.classify(CommandChannel(argv=["x"], timeout=5), 0, b"").state == message.SENT
    assert command.classify(CommandChannel(argv=["x"], timeout=5), 1, b"no\n").reason == "x exited 1: no"
