"""Pings in healthchecks' shape into a real `alive serve` (ping.py): curl and a Python HTTP
client in another process, the heartbeats they leave, and every refusal healthchecks gives."""
import json
import shutil
import subprocess
import sys
import textwrap
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from conftest import ALIVE, heartbeats, run_alive
from test_serve import request, serving

from alive.write import heartbeat, ping, pingrecord

KEY = "pk-7Qm2sX9vL4tR8wZ1"
RID = "0b3f4e1a-2c5d-4e6f-8a9b-7c1d2e3f4a5b"
FLEET = '[tasks.backup]\nschedule = "daily 03:00"\nmax_runtime = "1h"\n'
CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed (Debian: apt-get install curl)")


@pytest.fixture
def server(home):
    (home / "fleet.toml").write_text(FLEET)
    with serving(home, env={"ALIVE_PING_KEY": KEY}) as s:
        yield s


def url(server, path):
    return f"http://{server[0]}:{server[1]}{path}"


def curl(*args):
    """curl as a user's job would call it -> (HTTP status, body)."""
    r = subprocess.run([CURL, "-sS", "-m", "10", "-o", "-", "-w", "\n%{http_code}", *args],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    body, _, status = r.stdout.rpartition("\n")
    return int(status), body


def beats(home, task="backup"):
    """The task's heartbeats in the order they were written (a second one in the same minute is -2)."""
    found = heartbeats(home, task)
    return [hb for p, hb in sorted(found, key=lambda f: heartbeat.parse_name(f[0].name)[2])]


# ---- curl: the one-liners of healthchecks' docs ---------------------------------------------

@needs_curl
def test_curl_success_and_exit_status_pings_leave_canonical_heartbeats(server, home):
    assert curl("--retry", "3", url(server, f"/ping/{KEY}/backup")) == (200, "OK")
    assert curl(url(server, f"/ping/{KEY}/backup/3"), "--data-binary", "copying ...\nrsync: disk full\n") == \
        (200, "OK")
    first, second = beats(home)
    assert (first["status"], first["summary"], first["errors"]) == ("ok", "ok (ping)", [])
    assert first["host"] == "127.0.0.1" and "exit_code" not in first and "output_tail" not in first
    assert (second["status"], second["exit_code"]) == ("error", 3)
    assert second["summary"] == "exit 3: rsync: disk full" and second["errors"] == ["rsync: disk full"]
    assert second["output_tail"] == "copying ...\nrsync: disk full\n" and second["warnings"] == []
    check = json.loads(run_alive("check", "--json", home=home).stdout)
    [item] = [i for i in check["items"] if i["name"] == "backup"]
    assert item["color"] == "RED" and item["reasons"][0] == "latest run failed: rsync: disk full"


@needs_curl
def test_start_then_finish_with_a_rid_is_one_run_with_its_duration_and_log(server, home):
    assert curl(url(server, f"/ping/{KEY}/backup/start?rid={RID}"))[0] == 200
    marker = json.loads((home / "state" / "running" / "backup@ping.json").read_text())
    assert marker["via"] == "ping" and marker["run_id"] == RID and "pid" not in marker
    check = json.loads(run_alive("check", "--json", home=home).stdout)
    [item] = [i for i in check["items"] if i["name"] == "backup"]
    assert item["running_since"] == marker["started_at"]          # check sees the run in progress
    assert curl(url(server, f"/ping/{KEY}/backup/log?rid={RID}"), "--data-binary", "step 1 of 2\n")[0] == 200
    assert curl(url(server, f"/ping/{KEY}/backup/0?rid={RID}"), "--data-binary", "step 2 of 2\n")[0] == 200
    [hb] = beats(home)
    assert hb["status"] == "ok" and hb["run_id"] == RID and hb["exit_code"] == 0
    assert hb["started_at"] == marker["started_at"] and hb["duration_s"] >= 0
    assert hb["output_tail"] == "step 1 of 2\nstep 2 of 2\n" and hb["summary"].startswith("exit 0 in ")
    assert not (home / "state" / "running" / "backup@ping.json").exists()


@needs_curl
@pytest.mark.parametrize("path, code, text", [
    (f"/ping/{KEY}x/backup", 404, "not found"),                   # wrong key
    ("/ping/nokey/backup", 404, "not found"),
    (f"/ping/{KEY}/nosuchtask", 404, "not found"),                # unknown task, no ?create=1
    (f"/ping/{KEY}/..", 404, "not found"),
    (f"/ping/{KEY}/backup/256", 400, "invalid url format"),       # exit status 0-255
    (f"/ping/{KEY}/backup/start?rid=12345", 400, "invalid uuid format"),
    (f"/ping/{KEY}/backup/restart", 404, "not found"),
    (f"/ping/{KEY}/backup/start/now", 404, "not found"),
])
def test_refusals_are_healthchecks_answers_and_write_nothing(server, home, path, code, text):
    assert curl(url(server, path)) == (code, text)
    assert beats(home) == [] and not (home / "state" / "running").exists()


@needs_curl
def test_create_1_accepts_a_new_task_with_201_and_later_pings_are_200(server, home):
    assert curl(url(server, f"/ping/{KEY}/new-job?create=1")) == (201, "Created")
    assert curl(url(server, f"/ping/{KEY}/new-job")) == (200, "OK")
    assert len(beats(home, "new-job")) == 2


@needs_curl
def test_a_big_body_keeps_its_last_10_kB(server, home, tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * 50_000 + "ü\n".encode() * 10_000 + b"the end\n")     # 80,008 bytes
    status, _ = curl(url(server, f"/ping/{KEY}/backup/fail"), "--data-binary", f"@{big}")
    [hb] = beats(home)
    assert status == 200 and len(hb["output_tail"].encode()) <= 10_000
    assert hb["output_tail"].endswith("ü\nthe end\n") and "x" not in hb["output_tail"]
    assert hb["summary"] == "failed (/fail ping): the end" and hb["errors"] == ["the end"]


@needs_curl
def test_head_and_post_count_like_get_and_every_answer_says_the_body_limit(server, home):
    r = subprocess.run([CURL, "-sS", "-I", url(server, f"/ping/{KEY}/backup")], capture_output=True, text=True,
                       timeout=30)
    assert r.stdout.startswith("HTTP/1.0 200") and "Ping-Body-Limit: 10000" in r.stdout
    assert curl("-X", "POST", url(server, f"/ping/{KEY}/backup"))[0] == 200
    assert len(beats(home)) == 2


@needs_curl
def test_the_key_never_reaches_the_log_nor_a_heartbeat(server, home):
    curl(url(server, f"/ping/{KEY}/backup/fail"), "--data-binary", f"job said: key is {KEY}\n")
    curl(url(server, f"/ping/{KEY[:-1]}/backup"))                   # a near miss is most of the key
    log = (home.parent / "serve.log").read_text()
    assert KEY not in log and KEY[:-1] not in log and "/ping/[key]/backup/fail" in log
    [hb] = beats(home)
    assert KEY not in json.dumps(hb) and "[redacted]" in hb["output_tail"]


# ---- a real HTTP client from another process (what runitor and hc client libraries do) -----

CLIENT = textwrap.dedent("""
    import sys, urllib.request, uuid
    base, rid = sys.argv[1], str(uuid.uuid4())
    def post(path, body=b""):
        with urllib.request.urlopen(urllib.request.Request(f"{base}/{path}?rid={rid}", data=body,
                                    headers={"Content-Type": "text/plain"}), timeout=10) as r:
            return r.status, r.headers["Ping-Body-Limit"], r.read().decode()
    print(post("start"))
    print(post("log", b"halfway\\n"))
    print(post("1", b"Traceback: KeyError: 'rows'\\n"))
    print(rid)
""")


def test_a_client_in_another_process_runs_start_log_and_exit_status_like_runitor(server, home, tmp_path):
    script = tmp_path / "client.py"
    script.write_text(CLIENT)
    r = subprocess.run([sys.executable, str(script), url(server, f"/ping/{KEY}/backup")], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[:3] == ["(200, '10000', 'OK')"] * 3
    [hb] = beats(home)
    assert hb["run_id"] == lines[3] and hb["status"] == "error" and hb["exit_code"] == 1
    assert hb["output_tail"] == "halfway\nTraceback: KeyError: 'rows'\n"
    assert hb["summary"].startswith("exit 1 after ") and hb["summary"].endswith(": Traceback: KeyError: 'rows'")


# ---- the server's rules apply to pings too ---------------------------------------------------

def test_without_a_ping_key_every_ping_is_404(home):
    (home / "fleet.toml").write_text(FLEET)
    with serving(home, env={"ALIVE_PING_KEY": ""}) as s:
        assert s[2].stdout.readline().startswith("alive serve: pings are off (set ALIVE_PING_KEY")
        assert request(s, "GET", "/ping//backup")[0] == 404
        assert request(s, "GET", "/ping/anything/backup")[0] == 404
    assert beats(home) == []


def test_a_ping_key_from_another_variable_and_the_dns_rebinding_guard(home):
    (home / "fleet.toml").write_text(FLEET + '[serve]\nping_key_env = "MY_PINGS"\n')
    with serving(home, env={"MY_PINGS": KEY}) as s:
        assert s[2].stdout.readline() == "alive serve: pings at /ping/$MY_PINGS/<task> (healthchecks' ping API)\n"
        assert request(s, "GET", f"/ping/{KEY}/backup", headers={"Host": "evil.example"})[0] == 403
        assert request(s, "GET", f"/ping/{KEY}/backup")[::2] == (200, "OK")
    assert len(beats(home)) == 1


REMOTE_TOKEN = "remote-bearer-token-0123456789"


def test_remote_pings_need_allow_remote_and_authenticate_by_the_key_alone(home):
    (home / "fleet.toml").write_text(FLEET + '[serve]\ntoken_env = "T"\n')
    with serving(home, "--allow-remote", env={"T": REMOTE_TOKEN, "ALIVE_PING_KEY": KEY}) as s:
        assert request(s, "GET", f"/ping/{KEY}/backup", headers={"Host": "alive.example.com"})[::2] == (200, "OK")
        assert request(s, "GET", f"/ping/{KEY}x/backup")[0] == 404
        assert request(s, "GET", "/status.json")[0] == 401            # the key opens pings, nothing else
        assert request(s, "GET", "/status.json", headers={"Authorization": f"Bearer {KEY}"})[0] == 401
    assert len(beats(home)) == 1


@pytest.mark.parametrize("key, problem", [
    ("short-key", "--allow-remote needs a ping key of at least 16 characters in $ALIVE_PING_KEY"),
    ("has/a/slash-and-is-long", "$ALIVE_PING_KEY holds characters a ping URL cannot carry"),
])
def test_a_key_unfit_for_its_use_stops_serve_with_one_line_that_does_not_show_it(home, key, problem):
    (home / "fleet.toml").write_text(FLEET + '[serve]\ntoken_env = "T"\n')
    r = run_alive("serve", "--port", "0", "--allow-remote", home=home,
                  env={"T": REMOTE_TOKEN, "ALIVE_PING_KEY": key}, timeout=30)
    assert r.returncode == 3 and problem in r.stderr and key not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_a_ping_whose_body_drips_is_cut_off_at_the_request_deadline(server, home):
    import socket
    import time

    from reliability.test_serve_deadline import DRIP_EVERY_S, GIVE_UP_S, closed_by_server, drip

    sock = socket.create_connection(server[:2], timeout=5)
    sock.sendall(f"POST /ping/{KEY}/backup HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n".encode())
    started, cut_after = time.monotonic(), None
    try:
        while cut_after is None and time.monotonic() - started < GIVE_UP_S:
            if closed_by_server(sock) or drip(sock, b"x"):
                cut_after = time.monotonic() - started
            time.sleep(DRIP_EVERY_S)
    finally:
        sock.close()
    assert cut_after is not None and 8 < cut_after < 16, cut_after
    assert beats(home) == []


# ---- the core, with the clock passed in ------------------------------------------------------

T0 = datetime(2026, 5, 2, 3, 0, 0, tzinfo=timezone.utc)


def test_a_success_pairs_only_with_the_start_of_the_same_rid(tmp_path):
    other = str(uuid.uuid4())
    pingrecord.record(tmp_path, "job", "start", None, b"", RID, "10.0.0.5", T0)
    pingrecord.record(tmp_path, "job", "success", None, b"", other, "10.0.0.5", T0 + timedelta(minutes=5))
    assert (tmp_path / "state" / "running" / "job@ping.json").exists()       # still open: its finish has not come
    pingrecord.record(tmp_path, "job", "exit", 0, b"", RID, "10.0.0.5", T0 + timedelta(minutes=7, seconds=30))
    runs = {r["completed_at"][11:16]: r for r in beats(tmp_path, "job")}
    assert {t: r.get("duration_s") for t, r in runs.items()} == {"03:05": None, "03:07": 450}
    assert runs["03:07"]["started_at"] == "2026-05-02T03:00:00Z" and runs["03:07"]["summary"] == "exit 0 in 7m30s"
    assert runs["03:07"]["run_id"] == RID and runs["03:05"]["run_id"] == other
    assert not (tmp_path / "state" / "running" / "job@ping.json").exists()


def test_a_long_last_line_makes_a_summary_of_200_characters_and_no_warning(tmp_path):
    pingrecord.record(tmp_path, "job", "fail", None, ("E" * 600 + "\n").encode(), None, "10.0.0.5", T0)
    [(_, hb)] = heartbeats(tmp_path, "job")
    assert len(hb["summary"]) == 200 and hb["warnings"] == [] and hb["errors"] == ["E" * 500]


def test_the_log_line_of_a_ping_hides_its_key_right_or_wrong():
    assert ping.loggable("GET /ping/abc/backup/start HTTP/1.1") == "GET /ping/[key]/backup/start HTTP/1.1"
    assert ping.loggable("GET /status.json HTTP/1.1") == "GET /status.json HTTP/1.1"


# ---- issue 18: the protocol as healthchecks speaks it ---------------------------------------
# healthchecks' Check.ping (hc/api/models.py, healthchecks/healthchecks): a start sets
# last_start and last_start_rid; a finishing ping whose rid equals last_start_rid gets the
# duration and ends the run; "success" with no rid, or "fail" whatever its rid, also ends the
# run in progress (without a duration); a "log" changes nothing but is kept as an event.

def judged(home, task, now, fleet=None):
    """The task's item as `alive check` judges it at `now` (the clock passed in)."""
    from alive.config import registry
    from alive.check import cmd_check

    if fleet is not None:
        (home / "fleet.toml").write_text(fleet)
    reg = registry.load(home / "fleet.toml", home)
    return next((i for i in cmd_check.run_check(home, reg, now).items if i.name == task), None)


def marker_of(home, task="job"):
    path = home / "state" / "running" / f"{task}@ping.json"
    return json.loads(path.read_text()) if path.exists() else None


def test_a_plain_start_is_a_run_alive_reads_and_judges_hung_after_max_runtime(home):
    from alive.base import statefile

    fleet = '[tasks.job]\nmax_runtime = "2s"\n'
    pingrecord.record(home, "job", "start", None, b"", None, "10.0.0.5", T0)
    marker = marker_of(home)
    assert statefile.inspect(home / "state" / "running" / "job@ping.json") is None      # not "damaged"
    assert marker["run_id"] and marker["started_at"] == "2026-05-02T03:00:00Z"
    assert judged(home, "job", T0 + timedelta(seconds=1), fleet).details["running_since"] == marker["started_at"]
    assert judged(home, "job", T0 + timedelta(seconds=2)).reasons == []           # 2 s: not yet hung
    hung = judged(home, "job", T0 + timedelta(seconds=3))
    assert hung.color == "RED" and hung.reasons[0].startswith("hung: run in progress for 3s (max runtime 2s")
    assert statefile.sweep(home / "state", T0) == [] and marker_of(home) == marker      # check --notify keeps it
    pingrecord.record(home, "job", "success", None, b"", None, "10.0.0.5", T0 + timedelta(seconds=4))
    [(_, hb)] = heartbeats(home, "job")
    assert hb["started_at"] == "2026-05-02T03:00:00Z" and hb["duration_s"] == 4 and hb["run_id"] == marker["run_id"]
    assert marker_of(home) is None


def test_a_success_without_a_rid_ends_the_run_a_start_with_a_rid_opened(home):
    pingrecord.record(home, "job", "start", None, b"", RID, "10.0.0.5", T0)
    pingrecord.record(home, "job", "log", None, b"halfway", RID, "10.0.0.5", T0)
    pingrecord.record(home, "job", "success", None, b"done", None, "10.0.0.5", T0 + timedelta(minutes=1))
    [(_, hb)] = heartbeats(home, "job")
    assert hb["status"] == "ok" and "duration_s" not in hb           # healthchecks: no duration either
    assert hb["output_tail"] == "halfway\ndone"                       # what the run logged is not lost
    assert marker_of(home) is None
    assert judged(home, "job", T0 + timedelta(hours=30), '[tasks.job]\nmax_runtime = "1h"\n').color == "GREEN"


def test_a_fail_with_another_rid_ends_the_run_in_progress_too(home):
    pingrecord.record(home, "job", "start", None, b"", RID, "10.0.0.5", T0)
    pingrecord.record(home, "job", "fail", None, b"", str(uuid.uuid4()), "10.0.0.5", T0 + timedelta(minutes=1))
    assert marker_of(home) is None


def test_two_overlapping_runs_each_pair_with_their_own_start(home):
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    pingrecord.record(home, "job", "start", None, b"", first, "10.0.0.5", T0)
    pingrecord.record(home, "job", "start", None, b"", second, "10.0.0.6", T0 + timedelta(minutes=1))
    pingrecord.record(home, "job", "log", None, b"first: halfway\n", first, "10.0.0.5", T0 + timedelta(minutes=2))
    assert marker_of(home)["started_at"] == "2026-05-02T03:00:00Z"    # the older run is the one that may hang
    pingrecord.record(home, "job", "success", None, b"first done\n", first, "10.0.0.5", T0 + timedelta(minutes=3))
    assert marker_of(home)["run_id"] == second
    pingrecord.record(home, "job", "exit", 0, b"", second, "10.0.0.6", T0 + timedelta(minutes=5))
    runs = {hb["run_id"]: hb for _, hb in heartbeats(home, "job")}
    assert runs[first]["duration_s"] == 180 and runs[first]["output_tail"] == "first: halfway\nfirst done\n"
    assert runs[second]["duration_s"] == 240 and runs[second]["host"] == "10.0.0.6"
    assert marker_of(home) is None


def test_a_log_without_a_run_is_kept_and_joins_the_next_finish_with_a_line_break(home):
    said = pingrecord.record(home, "job", "log", None, b"disk at 91%", None, "10.0.0.5", T0)
    assert said == "a /log ping for job with no run in progress: kept for its next finishing ping"
    pingrecord.record(home, "job", "fail", None, b"backup failed", None, "10.0.0.5", T0 + timedelta(minutes=1))
    [(_, hb)] = heartbeats(home, "job")
    assert hb["output_tail"] == "disk at 91%\nbackup failed"


def test_a_log_and_the_finishing_body_are_two_lines_not_one(home):
    pingrecord.record(home, "job", "start", None, b"", RID, "10.0.0.5", T0)
    pingrecord.record(home, "job", "log", None, b"step 1", RID, "10.0.0.5", T0)
    pingrecord.record(home, "job", "success", None, b"step 2", RID, "10.0.0.5", T0 + timedelta(seconds=5))
    [(_, hb)] = heartbeats(home, "job")
    assert hb["output_tail"] == "step 1\nstep 2"


def test_a_failing_body_is_kept_as_it_is_and_only_its_last_meaningful_line_is_the_error(home):
    body = b"Traceback (most recent call last):\n  File \"x.py\", line 3\nKeyError: 'rows'\n\n  }\n"
    pingrecord.record(home, "job", "fail", None, body, None, "10.0.0.5", T0)
    [(_, hb)] = heartbeats(home, "job")
    assert hb["errors"] == ["KeyError: 'rows'"] and hb["output_tail"] == body.decode()
    assert hb["summary"] == "failed (/fail ping): KeyError: 'rows'"


# ---- issue 18, served: bodies, create, URLs, own items, the log ------------------------------

def raw(server, data, timeout=10):
    """Send bytes as they are; -> the whole answer as text (the server closes HTTP/1.0)."""
    import socket

    with socket.create_connection(server[:2], timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def test_a_body_over_100_kB_is_recorded_with_its_last_10_kB_and_says_it_was_cut(server, home):
    # healthchecks keeps the ping and cuts the body to Ping-Body-Limit (hc/api/views.py ping:
    # body[:settings.PING_BODY_LIMIT]); alive keeps the end of it, where a failure says why
    body = b"x" * 150_000 + b"\nrsync: disk full\n"
    status, _, text = request(server, "POST", f"/ping/{KEY}/backup/1", body=body)
    assert (status, text) == (200, "OK")
    [hb] = beats(home)
    assert hb["status"] == "error" and hb["errors"] == ["rsync: disk full"]
    assert hb["output_tail"].startswith("[alive: the body had 150,018 bytes; only its end is kept]\n")
    assert hb["output_tail"].endswith("x\nrsync: disk full\n") and len(hb["output_tail"].encode()) <= 10_000


def test_a_chunked_body_is_read_like_any_other(server, home):
    chunks = [b"step 1\n", b"step 2\n", b"done\n"]
    encoded = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"
    answer = raw(server, f"POST /ping/{KEY}/backup/0 HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                         f"Connection: close\r\n\r\n".encode() + encoded)
    assert answer.startswith("HTTP/1.0 200") or answer.startswith("HTTP/1.1 200"), answer
    [hb] = beats(home)
    assert hb["output_tail"] == "step 1\nstep 2\ndone\n" and hb["status"] == "ok"


def test_a_chunked_body_that_lies_about_its_chunks_is_400_and_writes_nothing(server, home):
    answer = raw(server, f"POST /ping/{KEY}/backup HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                         f"Connection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n".encode())
    assert answer.split("\r\n")[0].endswith("400 Bad Request"), answer
    assert beats(home) == []


@pytest.mark.parametrize("route", ["start", "log"])
def test_create_1_on_start_and_log_makes_a_task_that_later_pings_find(server, home, route):
    assert request(server, "POST", f"/ping/{KEY}/new-job/{route}?create=1", body="hello\n")[::2] == (201, "Created")
    assert request(server, "GET", f"/ping/{KEY}/new-job/log")[::2] == (200, "OK")
    if route == "start":                        # its first run is in progress: check sees it
        check = json.loads(run_alive("check", "--json", home=home).stdout)
        [item] = [i for i in check["items"] if i["name"] == "new-job"]
        assert item["color"] == "GREEN" and "running_since" in item
    assert request(server, "GET", f"/ping/{KEY}/new-job")[::2] == (200, "OK")
    [hb] = beats(home, "new-job")
    assert hb["output_tail"] == "hello\n"


def test_a_trailing_slash_is_a_success(server, home):
    # healthchecks routes /ping/<uuid>/ to a success (hc/api/urls.py: uuid_urls path(""))
    assert request(server, "GET", f"/ping/{KEY}/backup/")[::2] == (200, "OK")
    [hb] = beats(home)
    assert hb["status"] == "ok"


HC_UUID = "5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278"


def test_a_task_pinged_by_its_healthchecks_uuid(home):
    (home / "fleet.toml").write_text(FLEET + f'ping_uuid = "{HC_UUID.upper()}"\n')
    with serving(home, env={"ALIVE_PING_KEY": KEY}) as s:
        assert request(s, "GET", f"/ping/{HC_UUID}/start?rid={RID}")[::2] == (200, "OK")
        assert request(s, "POST", f"/ping/{HC_UUID}/log?rid={RID}", body="halfway\n")[::2] == (200, "OK")
        assert request(s, "POST", f"/ping/{HC_UUID}/2?rid={RID}", body="oops\n")[::2] == (200, "OK")
        assert request(s, "HEAD", f"/ping/{HC_UUID}")[0] == 200
        assert request(s, "GET", f"/ping/{HC_UUID}/")[::2] == (200, "OK")
        assert request(s, "GET", f"/ping/{HC_UUID}/fail")[::2] == (200, "OK")
        assert request(s, "GET", f"/ping/{str(uuid.uuid4())}")[::2] == (404, "not found")
        assert request(s, "GET", f"/ping/{HC_UUID}/restart")[::2] == (404, "not found")
    first, *rest = beats(home)
    assert (first["status"], first["exit_code"], first["run_id"]) == ("error", 2, RID)
    assert first["output_tail"] == "halfway\noops\n" and [hb["status"] for hb in rest] == ["ok", "ok", "error"]
    log = (home.parent / "serve.log").read_text()
    assert HC_UUID not in log and "/ping/[uuid]/start" in log


@pytest.mark.parametrize("task", ["alive-watchdog", "alive-probe"])
def test_a_ping_cannot_speak_for_what_alive_writes_itself(home, task):
    (home / "fleet.toml").write_text(FLEET + '[sources.feed]\npath = "feed.json"\nmax_age = "1h"\n')
    with serving(home, env={"ALIVE_PING_KEY": KEY}) as s:
        for route in ("", "?create=1", "/start?create=1", "/0", "/log?create=1"):
            assert request(s, "GET", f"/ping/{KEY}/{task}{route}")[::2] == (404, "not found")
    assert beats(home, task) == [] and not (home / "state" / "running").exists()
    check = json.loads(run_alive("check", "--json", home=home).stdout)
    assert [i["color"] for i in check["items"] if i["name"] == "alive-watchdog"] == ["RED"]
    assert f"{task} is alive's own: a ping cannot report it" in (home.parent / "serve.log").read_text()


def test_the_log_says_why_a_ping_was_404_without_the_key(server, home):
    request(server, "GET", f"/ping/{KEY}x/backup")
    request(server, "GET", f"/ping/{KEY}/nosuch")
    log = (home.parent / "serve.log").read_text()
    assert "ping refused: wrong ping key" in log and "ping refused: unknown task nosuch (add ?create=1" in log
    assert KEY not in log and KEY[:-1] not in log


def test_the_server_header_has_no_trailing_space(server):
    _, headers, _ = request(server, "GET", f"/ping/{KEY}/backup")
    assert headers["Server"] == "alive"


def test_every_log_line_passes_the_scrubber(home):
    ntfy_token = "tk_ntfy0123456789abcdef"
    (home / "fleet.toml").write_text(FLEET + '[notify.ntfy]\ntopic = "t"\ntoken_env = "NTFY_T"\n')
    with serving(home, env={"ALIVE_PING_KEY": KEY, "NTFY_T": ntfy_token}) as s:
        assert request(s, "GET", f"/task/{ntfy_token}")[0] == 404
        bad = raw(s, f"GET /ping/{KEY[:-1]}/backup HTTP/1.1 junk\r\nHost: 127.0.0.1\r\n\r\n".encode())
        assert "Error code: 400" in bad, bad           # answered as HTTP/0.9: the line said no version
    log = (home.parent / "serve.log").read_text()
    assert ntfy_token not in log and KEY[:-1] not in log and "[redacted]" in log


@pytest.mark.parametrize("fleet, problem", [
    ('[tasks.a]\nping_uuid = "5bf66975"\n', '"5bf66975" is not a UUID (copy it from the check\'s ping URL'),
    (f'[tasks.a]\nping_uuid = "{HC_UUID}"\n[tasks.b]\nping_uuid = "{HC_UUID.upper()}"\n',
     "tasks.b.ping_uuid: is also the ping_uuid of a: one task each"),
])
def test_a_ping_uuid_is_a_uuid_and_names_one_task(home, fleet, problem):
    (home / "fleet.toml").write_text(fleet)
    r = run_alive("lint", home=home)
    assert r.returncode == 2 and problem in r.stdout, r.stdout


def test_the_request_log_keeps_the_http_version_when_it_drops_the_query(server, home):
    assert request(server, "GET", f"/ping/{KEY}/backup/start?rid={RID}&create=1")[0] == 200
    log = (home.parent / "serve.log").read_text()
    assert "GET /ping/[key]/backup/start HTTP/1.1 200" in log
    assert RID not in log and "create=1" not in log


# ---- a ping-opened run and `alive run` on the same task: neither ends the other's run -------

def alive_run(home, *args):
    """`alive run` in its own process, as cron starts it."""
    import os

    return subprocess.Popen([sys.executable, str(ALIVE), "run", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, ALIVE_HOME=str(home)))


def open_ping_runs(home, task="backup"):
    return pingrecord.open_runs(home, task)


def test_no_overlap_sees_a_run_a_start_ping_opened_and_leaves_it_open(server, home):
    assert request(server, "GET", f"/ping/{KEY}/backup/start?rid={RID}")[0] == 200
    r = run_alive("run", "backup", "--no-overlap", "--", "true", home=home)
    assert r.returncode == 75
    [skipped] = beats(home)
    assert skipped["status"] == "skipped" and "opened by a /start ping" in skipped["summary"]
    assert [run["rid"] for run in open_ping_runs(home)] == [RID]        # the ping's run is still open
    assert request(server, "GET", f"/ping/{KEY}/backup?rid={RID}")[0] == 200
    assert beats(home)[-1]["duration_s"] is not None and open_ping_runs(home) == []


def test_a_start_ping_during_alive_run_touches_not_its_marker_and_outlives_it(server, home):
    job = alive_run(home, "backup", "--", sys.executable, "-c", "import time; print('go', flush=True); time.sleep(1)")
    try:
        assert job.stdout.readline() == "go\n"
        marker = home / "state" / "running" / "backup.json"
        before = marker.read_bytes()
        assert request(server, "GET", f"/ping/{KEY}/backup/start")[0] == 200
        assert marker.read_bytes() == before                               # `alive run`'s marker is its own
        assert job.wait(timeout=30) == 0
    finally:
        job.kill()
        job.wait()
    assert not marker.exists() and len(open_ping_runs(home)) == 1        # the ping's run outlives it
    check = json.loads(run_alive("check", "--json", home=home).stdout)
    [item] = [i for i in check["items"] if i["name"] == "backup"]
    assert "running_since" in item
    assert request(server, "GET", f"/ping/{KEY}/backup")[0] == 200
    assert beats(home)[-1]["duration_s"] is not None and open_ping_runs(home) == []


def test_alive_run_without_no_overlap_leaves_a_ping_opened_run_open(server, home):
    assert request(server, "GET", f"/ping/{KEY}/backup/start?rid={RID}")[0] == 200
    assert run_alive("run", "backup", "--", "true", home=home).returncode == 0
    assert [run["rid"] for run in open_ping_runs(home)] == [RID]


# ---- issue 18.6: create=1 on any route makes a task that check judges ------------------------

def test_a_task_made_by_log_create_1_is_listed_by_check_at_once(server, home):
    assert request(server, "POST", f"/ping/{KEY}/new4/log?create=1", body="x")[0] == 201
    check = json.loads(run_alive("check", "--json", home=home).stdout)
    [item] = [i for i in check["items"] if i["name"] == "new4"]
    assert item["color"] == "GREY" and item["reasons"][0].startswith("waiting for first run: created by a ping at ")
    assert "new4" in run_alive("check", home=home).stdout


def test_a_task_made_by_a_ping_waits_one_default_max_gap_then_is_red_never_reported(home):
    fleet = '[settings]\ndefault_max_gap = "1h"\n'
    ping.note_created(home, "new4", T0)
    pingrecord.record(home, "new4", "log", None, b"x", None, "10.0.0.5", T0)
    hour = timedelta(hours=1)
    before = judged(home, "new4", T0 + hour - timedelta(seconds=1), fleet)
    assert before.color == "GREY" and before.reasons[0].startswith("waiting for first run: created by a ping at ")
    assert judged(home, "new4", T0 + hour).color == "GREY"                 # within the gap, at its end too
    after = judged(home, "new4", T0 + hour + timedelta(seconds=1))
    assert after.color == "RED" and after.reasons[0].startswith("never reported: created by a ping at ")
    pingrecord.record(home, "new4", "success", None, b"", None, "10.0.0.5", T0 + 2 * hour)
    assert judged(home, "new4", T0 + 2 * hour).color == "GREEN"            # its first run ends the wait


# ---- issue 18.7: a /log with no run in progress is shown on its own --------------------------
# healthchecks keeps every ping, a log event too (hc/api/models.py: Check.ping saves a Ping
# whose kind is "log"; the check's ping log lists it with its time and body).

def test_a_log_without_a_run_is_shown_on_the_task_page_and_counted_by_check(home):
    ntfy_token = "tk_ntfy0123456789abcdef"
    (home / "fleet.toml").write_text(FLEET + '[notify.ntfy]\ntopic = "t"\ntoken_env = "NTFY_T"\n')
    with serving(home, env={"ALIVE_PING_KEY": KEY, "NTFY_T": ntfy_token}) as s:
        assert request(s, "POST", f"/ping/{KEY}/backup/log", body="disk <b>90%</b> full\n")[0] == 200
        assert request(s, "POST", f"/ping/{KEY}/backup/log", body=f"token {ntfy_token}\n")[0] == 200
        page = request(s, "GET", "/task/backup")[2]
    assert "disk &lt;b&gt;90%&lt;/b&gt; full" in page and "<b>90%" not in page
    assert page.count('<li class="logevent"') == 2 and "token [redacted]" in page and ntfy_token not in page
    check = json.loads(run_alive("check", "--json", home=home, env={"NTFY_T": ntfy_token}).stdout)
    [item] = [i for i in check["items"] if i["name"] == "backup"]
    assert item["log_events"] == 2 and item["last_log_at"].endswith("Z")
    assert not any(ntfy_token in p.read_text() for p in (home / "state").rglob("*") if p.is_file())


def test_log_events_without_a_run_are_bounded_and_all_join_the_next_finish(home):
    for n in range(pingrecord.MAX_LOG_EVENTS + 5):
        pingrecord.record(home, "job", "log", None, f"line {n}\n".encode(), None, "10.0.0.5", T0 + timedelta(seconds=n))
    events = ping.log_events(home, "job")
    assert len(events) == pingrecord.MAX_LOG_EVENTS and events[-1]["body"] == f"line {pingrecord.MAX_LOG_EVENTS + 4}\n"
    assert events[0]["at"] == format_iso_t(T0 + timedelta(seconds=5))
    pingrecord.record(home, "job", "log", None, b"x" * (3 * ping.KEPT), None, "10.0.0.5", T0 + timedelta(minutes=1))
    kept = ping.log_events(home, "job")
    assert sum(len(e["body"].encode()) for e in kept) <= ping.KEPT and kept[-1]["at"] == "2026-05-02T03:01:00Z"
    pingrecord.record(home, "job", "success", None, b"done\n", None, "10.0.0.5", T0 + timedelta(minutes=2))
    [(_, hb)] = heartbeats(home, "job")
    assert hb["output_tail"].endswith("x\ndone\n") and ping.log_events(home, "job") == []


def format_iso_t(when):
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_ping_marker_an_older_alive_left_in_task_json_is_still_ended_by_its_finish(home):
    legacy = home / "state" / "running" / "job.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({"task_id": "job", "started_at": "2026-05-02T03:00:00Z", "run_id": RID,
                                  "host": "10.0.0.5", "via": "ping", "runs": [
                                      {"rid": RID, "run_id": RID, "started_at": "2026-05-02T03:00:00Z"}]}))
    pingrecord.record(home, "job", "success", None, b"", RID, "10.0.0.5", T0 + timedelta(seconds=7))
    [(_, hb)] = heartbeats(home, "job")
    assert hb["duration_s"] == 7 and not legacy.exists() and marker_of(home) is None
