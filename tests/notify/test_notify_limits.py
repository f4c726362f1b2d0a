"""notify against the limits of the real peers: one overall deadline per request, ntfy's
message size limit and its header rules, a message refused for good told to a person, and
no negative duration in any message.

The fake ntfy server and the helpers are test_notify's (a real ThreadingHTTPServer on
127.0.0.1, a real command script, real files); `now` is passed in.
"""
import json
import re
import socket
import threading
import time
from datetime import timedelta

from conftest import run_alive
from test_notify import (T0, check, item, log_text, make_reg, ntfy, recording_command, records,  # noqa: F401
                         result, token)

from alive.notify import notify
from alive.notify import message
from alive.notify import outbox as notify_outbox   # `outbox()` reads the test's outbox
from alive.notify import ntfy as ntfy_channel   # `ntfy` is the fake server's fixture
from alive.check.health import GREEN, RED


# ---------------------------------------------------------------- one overall deadline

class Trickler:
    """An ntfy stand-in that reads the request, sends its headers at once, then one byte of
    the body every `every_s` seconds for at most `for_s` seconds (the test's own bound)."""

    def __init__(self, every_s=1.5, for_s=12):
        self.every_s, self.for_s = every_s, for_s
        self.stop = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn):
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: application/json\r\n\r\n")
                ends = time.monotonic() + self.for_s
                while not self.stop.is_set() and time.monotonic() < ends:
                    conn.sendall(b" ")
                    self.stop.wait(self.every_s)
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def test_an_ntfy_server_that_trickles_its_answer_is_cut_off_at_one_overall_deadline(home, monkeypatch):
    # Each read gets a byte within 1.5 s, well inside the 2 s timeout: only a deadline for
    # the whole request ends it. No answer came: the message stays for the next run.
    monkeypatch.setattr(ntfy_channel, "NTFY_TIMEOUT_S", 2)
    server = Trickler()
    try:
        reg = make_reg(home, server, token_env=None)
        started = time.monotonic()
        summary = check(home, reg, item("daily-dq", RED))
        took = time.monotonic() - started
    finally:
        server.close()
    assert took < 2 + 1.5, f"one POST took {took:.1f}s with a 2s deadline"
    assert summary["sent"] == 0 and summary["queued"] == 1
    assert "timed out: no complete answer within 2s" in log_text(home)


def test_a_kv_store_that_trickles_its_answer_is_cut_off_at_one_overall_deadline():
    # The trigger backend's requests go out the same way (kv.request): one deadline each.
    from alive.correct import kv
    from alive.config.registry import HttpKv

    server = Trickler()
    try:
        started = time.monotonic()
        try:
            kv.request(HttpKv(url=server.url), None, "GET", f"{server.url}/values/x", timeout=2)
            problem = None
        except kv.KvError as exc:
            problem = exc
        took = time.monotonic() - started
    finally:
        server.close()
    assert took < 2 + 1.5, f"one GET took {took:.1f}s with a 2s deadline"
    assert problem is not None and problem.transient and "no answer within 2s" in str(problem)


# ---------------------------------------------------------------- no negative durations

def test_after_a_clock_step_back_no_message_says_a_negative_duration(home, ntfy, token):
    # RED at 08:00; the clock then steps back an hour: the reminder (sent at once, see
    # renotify_due) and the recovery say the spell lasted 0s, never "-1h".
    reg = make_reg(home, ntfy, renotify=600)
    check(home, reg, item("x", RED), item("y", RED))
    back = T0 - timedelta(hours=1)
    check(home, reg, item("x", RED), item("y", GREEN, reasons=[]), now=back)
    bodies = [r["body"] for r in ntfy.requests[1:]]
    assert bodies and not any("-1h" in b or "(-" in b or ", -" in b for b in bodies), bodies
    assert "was RED since 2026-05-02T08:00:00Z, 0s)" in bodies[0]          # y recovered
    assert "still RED: task x: x is red (since 2026-05-02T08:00:00Z, 0s)" in bodies[0]


def test_a_message_says_the_same_red_since_as_the_alert_file(home, ntfy, token):
    # A plain `alive check` saw the task RED first (alerts/ is written by every check);
    # `check --notify` runs 5 minutes later: the message's "RED since" is the alert's since.
    from alive.check import alerts

    alerts.sync(home, result(item("x", RED), now=T0))
    later = T0 + timedelta(minutes=5)
    red = result(item("x", RED), now=later)
    alerts.sync(home, red)
    notify.after_check(home, make_reg(home, ntfy), red, later)
    since = json.loads((home / "alerts" / "x.alert").read_text())["since"]
    assert since == "2026-05-02T08:00:00Z"
    assert f"RED since {since}" in ntfy.requests[0]["body"]


def test_no_duration_formatting_path_says_a_negative_duration():
    # A heartbeat or a capture dated ahead of the clock (it stepped back) has a negative
    # age: the table, the markdown report and verify say 0s (the reason says "in the future").
    from alive.report import report, textview
    from alive.units import verify
    from alive.check.health import Item, YELLOW
    from alive.base.timeutil import format_duration

    assert [format_duration(s) for s in (-0.4, -5, -3600, -3 * 86400)] == ["0s"] * 4
    task = Item("task", "x", YELLOW, ["completed_at is 5m in the future (clock skew?)"], {"age_s": -300})
    source = Item("source", "s", YELLOW, ["captured 5m in the future (clock skew?)"],
                  {"age_s": -300, "max_age_s": 3600, "captured_at": "2026-05-02T08:05:00Z"})
    assert textview.age_text(task) == "0s" and report.age_words(-300) == "0s"
    assert "0s old" in verify.check_source(source).text


# ---------------------------------------------------------------- ntfy's limits

LONG = ("latest run failed: exit 1: Traceback (most recent call last): File \"/srv/jobs/etl.py\", line 88, in load: "
        "psycopg2.OperationalError: could not connect to server: Connection refused. Is the server running on host "
        "db.internal (10.0.4.12) and accepting TCP/IP connections on port 5432? (after 3 retries, 45s apart)")


def test_a_grouped_message_for_26_red_tasks_stays_under_ntfys_limit_naming_the_first_and_counting_the_rest(
        home, ntfy, token):
    # The case: 26 RED tasks with ordinary long reasons were a 10,183-byte body,
    # which a self-hosted ntfy refuses (the fake answers as ntfy does: peer_refusal).
    summary = check(home, make_reg(home, ntfy), *(item(f"t{n:02d}", RED, reasons=[f"{LONG} #{n}"]) for n in range(26)))
    assert [r["answer"] for r in ntfy.requests] == ["200"], ntfy.requests[0]["body"][-300:]
    assert summary["sent"] == 1 and summary["dropped"] == 0
    body = ntfy.requests[0]["body"]
    assert len(body.encode("utf-8")) < message.NTFY_MESSAGE_MAX + 1
    lines = body.splitlines()
    named = [ln for ln in lines if ln.startswith("RED: task ")]
    assert named and named[0].startswith("RED: task t00: ") and len(named) < 26
    assert lines[-1] == f"... and {26 - len(named)} more (alive check lists them all; http://127.0.0.1:8765/)"


def test_a_single_message_with_a_huge_reason_is_cut_to_the_limit_and_still_sent(home, ntfy, token):
    check(home, make_reg(home, ntfy), item("x", RED, reasons=[LONG * 20, "second reason"]))
    assert [r["answer"] for r in ntfy.requests] == ["200"]
    body = ntfy.requests[0]["body"]
    assert len(body.encode("utf-8")) <= message.NTFY_MESSAGE_MAX
    assert body.startswith("latest run failed: exit 1: ")


def test_a_colored_error_line_shared_by_two_tasks_reaches_ntfy_without_control_bytes(home, ntfy, token):
    # The shared reason becomes the title; its ANSI escape went raw into the Title header,
    # which Go's net/http (and so ntfy) refuses with a 400.
    red = "\x1b[31merror: disk full\x1b[0m"
    check(home, make_reg(home, ntfy), item("a", RED, reasons=[red]), item("b", RED, reasons=[red]))
    assert [r["answer"] for r in ntfy.requests] == ["200"]
    assert ntfy.requests[0]["headers"]["Title"] == "2 items RED: error: disk full"


def test_every_header_value_is_stripped_of_control_characters():
    assert ntfy_channel.header_value("a\x1b[1;31mb\x1b[0m\x00c\x7fd\x1b]0;title\x07e\x9b1mf") == "abcdef"
    assert ntfy_channel.header_value("tab\there\r\nand\x0bthere") == "tab here and there"
    assert ntfy_channel.header_value("\x1b[31mrouge é\x1b[0m") == ntfy_channel.header_value("rouge é")


# ---------------------------------------------------------------- refused for good: told to a person

def fleet_with_ntfy(home, ntfy, command_script=None):
    text = ('[settings]\ndashboard_url = "http://127.0.0.1:8765/"\n'
            '[tasks.backup]\nschedule = "daily 03:00"\n'
            f'[notify.ntfy]\nserver = "{ntfy.url}"\ntopic = "my-fleet"\n')
    if command_script:
        text += f'[notify.command]\nargv = {json.dumps(command_script)}\n'
    (home / "fleet.toml").write_text(text)
    assert run_alive("write", "backup", "--status", "error", home=home).returncode == 0


def test_a_message_ntfy_refuses_for_good_goes_to_the_command_and_is_told_everywhere(home, ntfy, tmp_path):
    command, got = recording_command(tmp_path)
    fleet_with_ntfy(home, ntfy, command.argv)
    ntfy.mode = "400"
    r = run_alive("check", "--notify", home=home)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    # The other channel has it.
    assert [rec["stdin"].splitlines()[0] for rec in records(got)] == ["RED: task backup"]
    # stderr and the log say it, naming the message, the answer and where it went.
    said = [ln for ln in r.stderr.splitlines() if "refused" in ln]
    assert len(said) == 1, r.stderr
    assert "ntfy refused 'RED: task backup' for good: HTTP 400" in said[0] and "it went to command" in said[0]
    assert "ntfy refused 'RED: task backup' for good: HTTP 400" in log_text(home)
    # The dashboard and `alive verify` say it too.
    page = run_alive("report", "--format", "html", home=home)
    assert page.returncode == 0 and "ntfy refused" in page.stdout and "RED: task backup" in page.stdout
    v = run_alive("verify", home=home)
    line = next((ln for ln in v.stdout.splitlines() if "refused" in ln), "")
    assert line.startswith("! notify: ntfy refused 1 message for good"), v.stdout
    assert "'RED: task backup'" in line


def test_with_ntfy_alone_a_refused_message_says_no_other_channel_has_it(home, ntfy):
    fleet_with_ntfy(home, ntfy)
    ntfy.mode = "400"
    r = run_alive("check", "--notify", home=home)
    said = [ln for ln in r.stderr.splitlines() if "refused" in ln]
    assert len(said) == 1 and "no other channel has it" in said[0], r.stderr


def test_a_damaged_refused_file_is_ignored_by_readers_and_set_aside_by_the_next_refusal(home, ntfy):
    fleet_with_ntfy(home, ntfy)
    (home / "state").mkdir(exist_ok=True)
    (home / "state" / "refused.json").write_text('{"version": 1, "refused": [{"at": "yesterday", "channel": 1}]}')
    v = run_alive("verify", home=home)
    assert "Traceback" not in v.stderr and "refused.json holds the wrong types" in v.stderr
    assert not any("notify:" in ln for ln in v.stdout.splitlines())
    page = run_alive("report", "--format", "html", home=home)
    assert page.returncode == 0 and 'id="refused"' not in page.stdout
    ntfy.mode = "400"
    r = run_alive("check", "--notify", home=home)
    assert "refused.json holds the wrong types" in r.stderr and "Traceback" not in r.stderr
    assert list((home / "state").glob("refused.json.corrupt-*"))
    assert "! notify: ntfy refused 1 message for good" in run_alive("verify", home=home).stdout


def test_a_refusal_is_shown_for_seven_days(home):
    notify_outbox.tell_refused(home / "state" / "refused.json", [(message.Message("m", "x", "RED: task x", "b", "high", [], []),
                                                           "ntfy", "HTTP 400")], ["ntfy"],
                        notify.Log(home, T0, notify.Summary()))
    week = timedelta(seconds=notify_outbox.REFUSED_SHOWN_S)
    assert [len(notify_outbox.recent_refusals(home, T0 + week + timedelta(seconds=d))) for d in (-1, 0, 1)] == [1, 1, 0]


def test_a_refusal_changes_the_live_pages_etag_and_lands_in_a_live_slot(home):
    # The page that stays open on a phone polls /status.json's ETag and swaps its data-live
    # parts: a refusal made while it is open must change the one and fill the other.
    from alive.report import render_html, report
    from alive.serve import app
    from alive.check.health import Result

    reg = make_reg(home, None, command=recording_command(home)[0])
    result = Result(overall=RED, items=[], invalid_files=[], checked_at=T0)
    view = report.View(result, T0, {}, {}, {}, reg, home, report.counts(result))
    before = app.status_etag(view, "instance")
    assert '<div id="refused-slot" data-live></div>' in render_html.render(view)
    view.refused = [{"at": "2026-05-02T08:00:00Z", "channel": "ntfy", "id": "m", "title": "RED: task x",
                     "reason": "HTTP 400", "reached": []}]
    assert app.status_etag(view, "instance") != before
    assert re.search(r'<div id="refused-slot" data-live><p class="notice" id="refused" role="alert">ntfy refused '
                     r'1 message for good in the last 7d; the newest, &#x27;RED: task x&#x27;', render_html.render(view))
