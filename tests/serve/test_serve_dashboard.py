"""`alive serve` as the page a phone keeps open (issue 12): /status.json's ETag, the stale
form and expired login sent back to a page, the run log, badges, the app's files and the
Content-Security-Policy, the tag filter, and the pending count on both queue backends.
A real server process on 127.0.0.1 (test_serve.serving), real sockets."""
import base64
import hashlib
import json
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from conftest import run_alive
from test_kv import TOKEN as KV_TOKEN
from test_kv import store  # noqa: F401  (the fixture: a Workers KV stand-in on 127.0.0.1)
from test_serve import FLEET, TOKEN, csrf, queued, request, serving

from alive.write import heartbeat
from alive.report import html_kit, render_html

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def server(home):
    (home / "fleet.toml").write_text(FLEET + '[tasks.etl]\ntags = ["finance"]\n[tasks.other]\n')
    with serving(home, env={"TEST_SERVE_TOKEN": TOKEN}) as s:
        yield s


def beat(home, task, at, **kw):
    heartbeat.write(home / "health", heartbeat.build(task, at, started_at=at - timedelta(seconds=5), **kw))


# ---- /status.json: ETag and If-None-Match -------------------------------------------------------------

def test_status_json_has_a_weak_etag_that_holds_while_only_the_clock_moves(server, home):
    beat(home, "etl", datetime.now(timezone.utc))
    status, headers, body = request(server, "GET", "/status.json")
    etag = headers["ETag"]
    assert status == 200 and re.fullmatch(r'W/"[0-9a-f]{32}"', etag) and json.loads(body)["items"]
    assert headers["Cache-Control"] == "no-cache"
    status, headers, body = request(server, "GET", "/status.json", headers={"If-None-Match": etag})
    assert (status, body, headers["ETag"]) == (304, "", etag) and "Content-Length" not in headers
    time.sleep(2.1)                                 # a new render: checked_at and the ages moved, nothing else
    assert request(server, "GET", "/status.json", headers={"If-None-Match": etag})[0] == 304
    assert request(server, "GET", "/status.json", headers={"If-None-Match": f'"x", {etag[2:]}'})[0] == 304
    assert request(server, "GET", "/status.json", headers={"If-None-Match": "*"})[0] == 304
    assert request(server, "GET", "/status.json", headers={"If-None-Match": 'W/"other"'})[0] == 200


def test_the_etag_changes_when_the_fleet_or_the_queue_changes(server, home):
    beat(home, "etl", datetime.now(timezone.utc))
    first = request(server, "GET", "/status.json")[1]["ETag"]
    _, headers, page = request(server, "GET", "/")
    assert f'data-etag="{headers["ETag"].replace(chr(34), "&quot;")}"' in page    # the page starts with its own
    request(server, "POST", "/trigger/track", headers=BEARER)                # a queued trigger
    second = request(server, "GET", "/status.json")[1]["ETag"]
    assert second != first
    beat(home, "etl", datetime.now(timezone.utc) + timedelta(minutes=1), status="error", errors=["boom"])
    time.sleep(2.1)
    assert request(server, "GET", "/status.json", headers={"If-None-Match": second})[0] == 200


def test_a_restarted_server_has_another_etag_so_the_page_gets_its_new_forms(home):
    (home / "fleet.toml").write_text(FLEET)
    with serving(home) as one:
        first = request(one, "GET", "/status.json")[1]["ETag"]
    with serving(home) as two:
        assert request(two, "GET", "/status.json", headers={"If-None-Match": first})[0] == 200


# ---- a refused trigger never ends on a dead-end page -----------------------------------------------------

def test_a_form_of_an_older_page_is_sent_back_to_the_page_with_a_notice(server, home):
    stale = "csrf=" + "x" * 43                      # the token of a server that has since restarted
    status, headers, _ = request(server, "POST", "/trigger/track", body=stale, headers=BROWSER)
    assert status == 303 and headers["Location"] == "/?notice=stale#trigger-track"
    assert queued(home) == []
    status, headers, page = request(server, "GET", "/?notice=stale")
    assert status == 200 and "That button came from an older page" in page and 'role="alert"' in page
    assert "That button" not in request(server, "GET", "/?notice=%3Cb%3E")[2]      # no text from the URL
    # scripts (no text/html) still get their 403, and a bad bearer is never redirected
    assert request(server, "POST", "/trigger/track", body=stale)[0] == 403
    assert request(server, "POST", "/trigger/track", body=stale, headers=BROWSER | {"Authorization": "Bearer x"})[0] \
        == 403
    token = csrf(server)
    assert request(server, "POST", "/trigger/track", body=f"csrf={token}", headers=BROWSER)[1]["Location"] == \
        "/#trigger-track"
    assert len(queued(home)) == 1


def test_a_browser_whose_login_expired_gets_the_login_form_saying_why(home):
    (home / "fleet.toml").write_text(FLEET)
    with serving(home, "--allow-remote", env={"TEST_SERVE_TOKEN": TOKEN}) as s:
        status, headers, _ = request(s, "POST", "/trigger/track", body="csrf=x", headers=BROWSER)
        assert status == 303 and headers["Location"] == "/?notice=login"
        status, _, page = request(s, "GET", "/?notice=login")
        assert status == 401 and "Your login expired: log in again." in page and 'name="token"' in page
        assert request(s, "POST", "/trigger/track", body="csrf=x")[0] == 401       # a script: 401 as before
        assert request(s, "GET", "/task/etl")[0] == 401 and request(s, "GET", "/badge.svg")[0] == 401
        for path in ("/manifest.webmanifest", "/sw.js", "/icon.svg", "/icon-192.png"):
            assert request(s, "HEAD", path)[0] == 200, path             # the app's files say nothing of the fleet
    assert queued(home) == []


# ---- the run log, badges ---------------------------------------------------------------------------------

def test_the_run_log_of_a_task(server, home):
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    for n in range(3):
        beat(home, "etl", now - timedelta(hours=3 - n), exit_code=n, output_tail=f"<b>tail {n}</b>",
             summary=f"run {n}")
    status, headers, page = request(server, "GET", "/task/etl")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.count('<li class="run"') == 3 and page.index("run 2") < page.index("run 0")
    assert "&lt;b&gt;tail 1&lt;/b&gt;" in page and "<b>tail" not in page and "exit 2" in page
    for path in ("/task/nope", "/task/../fleet.toml", "/task/", "/task/etl/x", "/task/%2e%2e"):
        assert request(server, "GET", path)[0] == 404, path
    assert '<a href="/task/etl">etl</a>' in request(server, "GET", "/")[2]      # the card links to it


def test_badges_for_the_fleet_and_each_item(server, home):
    beat(home, "etl", datetime.now(timezone.utc), status="error", errors=["x"])
    status, headers, svg = request(server, "GET", "/badge.svg")
    assert status == 200 and headers["Content-Type"] == "image/svg+xml" and ">RED</text>" in svg
    assert ">RED</text>" in request(server, "GET", "/badge/etl.svg")[2]
    assert ">track</text>" in request(server, "GET", "/badge/source.track.svg")[2]
    for path in ("/badge/nope.svg", "/badge/track.svg", "/badge/etl", "/badge/../etl.svg"):
        assert request(server, "GET", path)[0] == 404, path


# ---- the app and the Content-Security-Policy --------------------------------------------------------------

def test_the_apps_files_and_their_headers(server):
    status, headers, body = request(server, "GET", "/manifest.webmanifest")
    assert status == 200 and headers["Content-Type"] == "application/manifest+json"
    assert json.loads(body)["start_url"] == "/"
    status, headers, body = request(server, "GET", "/sw.js")
    assert status == 200 and headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "connect-src 'self'" in headers["Content-Security-Policy"] and "caches.open" in body
    assert headers["Cache-Control"] == "no-cache"                   # a new version is picked up at once
    assert request(server, "GET", "/icon.svg")[1]["Content-Type"] == "image/svg+xml"
    host, port, _ = server
    import http.client

    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/icon-512.png")
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    assert answer.status == 200 and answer.getheader("Content-Type") == "image/png" and data[:4] == b"\x89PNG"


def test_the_page_may_run_exactly_its_own_script(server):
    status, headers, page = request(server, "GET", "/")
    policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    [script] = re.findall(r"<script>(.*?)</script>", page, re.S)
    digest = "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert policy["script-src"] == f"'{digest}'" and "unsafe" not in policy["script-src"]
    assert policy["default-src"] == "'none'" and policy["connect-src"] == "'self'"
    assert policy["worker-src"] == "'self'" and policy["manifest-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'" and policy["form-action"] == "'self'"
    assert html_kit.SCRIPT_HASH == digest


def test_the_tag_filter_on_the_live_page(server, home):
    now = datetime.now(timezone.utc)
    beat(home, "etl", now)
    beat(home, "other", now)
    page = request(server, "GET", "/?tag=finance")[2]
    assert 'data-item="task:etl"' in page and 'data-item="task:other"' not in page
    assert 'data-item="task:other"' in request(server, "GET", "/")[2]


def test_poll_must_be_a_duration_of_at_least_a_second(home):
    r = run_alive("serve", "--port", "0", "--poll", "0s", home=home, timeout=20)
    assert r.returncode == 3 and "--poll must be at least 1s" in r.stderr
    r = run_alive("serve", "--port", "0", "--poll", "5", home=home, timeout=20)
    assert r.returncode == 3 and "no unit" in r.stderr


# ---- pending and running counts on the page ----------------------------------------------------------------

def test_the_header_counts_pending_triggers_on_the_spool(server, home):
    assert "pending" not in re.search(r'<ul class="counts".*?</ul>', request(server, "GET", "/")[2]).group(0)
    for _ in range(2):
        assert request(server, "POST", "/trigger/track", headers=BEARER)[0] == 303
    page = request(server, "GET", "/")[2]
    assert '<li class="count">2 triggers pending</li>' in page
    assert re.search(r'data-trigger="queued">refresh queued <time [^>]*data-ago>[^<]*</time> \(2 requests\), '
                     r'waiting for the trigger runner', page)


def test_the_header_counts_pending_triggers_in_the_kv_store_listed_at_most_every_30_s(home, store):
    (home / "fleet.toml").write_text(FLEET + f'[triggers]\nbackend = "http-kv"\n[triggers.http_kv]\n'
                                             f'url = "{store.url}"\ntoken_env = "ALIVE_KV_TOKEN"\n')
    env = {"TEST_SERVE_TOKEN": TOKEN, "ALIVE_KV_TOKEN": KV_TOKEN}
    with serving(home, env=env) as s:
        assert "pending" not in re.search(r'<ul class="counts".*?</ul>', request(s, "GET", "/")[2]).group(0)
        assert request(s, "POST", "/trigger/track", headers=BEARER)[0] == 303
        assert list(store.store) and queued(home) == []             # in the store, not the spool
        page = request(s, "GET", "/")[2]                                 # listed again at once after queueing
        assert '<li class="count">1 trigger pending</li>' in page and 'data-trigger="queued"' in page
        store.put("trigger:track:20260502T225900Z.abcdef", {"source": "track"})   # queued by someone else
        time.sleep(2.1)
        assert "1 trigger pending" in request(s, "GET", "/")[2]          # the listing is kept for 30 s
        lists = [p for m, p, _ in store.requests("GET") if "/keys?" in p]
        assert len(lists) == 2
    store.stop()
    with serving(home, env=env) as s:                                    # the store is down: said, never "0"
        page = request(s, "GET", "/")[2]
        assert "pending triggers unknown" in page and "the trigger queue cannot be read" in page


# ---- issue 19, items 13 and 14: one request per change, gzip, the run log live, Trigger now keeps the tag ----

def page_etag(page):
    return re.search(r'data-etag="([^"]*)"', page).group(1).replace("&quot;", '"')


@pytest.mark.parametrize("path", ["/", "/?tag=finance", "/task/etl"])
def test_a_page_answers_its_own_etag_with_304_until_the_fleet_changes(server, home, path):
    beat(home, "etl", datetime.now(timezone.utc) - timedelta(minutes=2))
    status, headers, page = request(server, "GET", path)
    etag = headers["ETag"]
    assert status == 200 and page_etag(page) == etag and 'data-poll="15"' in page      # the run log is live too
    assert headers["Vary"] == "Accept-Encoding"
    time.sleep(2.1)                                     # a new render: only the clock moved
    status, headers, body = request(server, "GET", path, headers={"If-None-Match": etag})
    assert (status, body, headers["ETag"]) == (304, "", etag)
    beat(home, "etl", datetime.now(timezone.utc), status="error", errors=["boom"])
    time.sleep(2.1)
    status, headers, page = request(server, "GET", path, headers={"If-None-Match": etag})
    assert status == 200 and headers["ETag"] != etag and page_etag(page) == headers["ETag"] and "boom" in page


def test_a_filtered_page_has_an_etag_of_its_own(server, home):
    beat(home, "etl", datetime.now(timezone.utc))
    tags = {request(server, "GET", p)[1]["ETag"] for p in ("/", "/?tag=finance", "/task/etl", "/task/other")}
    assert len(tags) == 4
    assert request(server, "GET", "/?notice=stale")[1]["ETag"] == request(server, "GET", "/")[1]["ETag"]


def test_the_pages_script_asks_for_the_page_alone(server):
    # one request per poll: the page's own URL with If-None-Match (304 while nothing changed), never
    # /status.json first and the page after it
    assert "/status.json" not in render_html.SCRIPT
    assert 'fetch(location.pathname + location.search' in render_html.SCRIPT


@pytest.mark.parametrize("path", ["/", "/task/etl", "/status.json"])
def test_gzip_when_the_client_takes_it_and_only_then(server, home, path):
    import gzip

    beat(home, "etl", datetime.now(timezone.utc), output_tail="x" * 3000)
    plain = raw_request(server, path, {})
    assert plain[0] == 200 and "Content-Encoding" not in plain[1]
    for accepted in ("gzip", "gzip, deflate, br", "br;q=1.0, gzip;q=0.8, *;q=0.1", "*;q=0, gzip", "*"):
        status, headers, body = raw_request(server, path, {"Accept-Encoding": accepted})
        assert status == 200 and headers["Content-Encoding"] == "gzip" and headers["Vary"] == "Accept-Encoding"
        assert int(headers["Content-Length"]) == len(body) < len(plain[2])
        assert gzip.decompress(body)[:15] == plain[2][:15] in (b"<!doctype html>", b"{\n  \"overall\": ")
    for refused in ("identity", "gzip;q=0", "br", "deflate", "gzip;q=0, *"):
        assert "Content-Encoding" not in raw_request(server, path, {"Accept-Encoding": refused})[1], refused


def raw_request(server, path, headers):
    """(status, headers, body bytes as sent)."""
    import http.client

    host, port, _ = server
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.endheaders()
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def test_trigger_now_on_a_filtered_page_lands_on_the_same_filtered_page(server, home):
    (home / "fleet.toml").write_text(FLEET.replace('max_age = "15m"\n', 'max_age = "15m"\ntags = ["finance"]\n', 1)
                                     + '[tasks.etl]\ntags = ["finance"]\n')
    page = request(server, "GET", "/?tag=finance")[2]
    assert '<input type="hidden" name="tag" value="finance">' in page
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    status, headers, _ = request(server, "POST", "/trigger/track", body=f"tag=finance&csrf={token}", headers=BROWSER)
    assert status == 303 and headers["Location"] == "/?tag=finance#trigger-track"
    status, headers, _ = request(server, "POST", "/trigger/track", body="tag=a%20b%26c%23d&csrf=" + "x" * 43,
                                 headers=BROWSER)
    assert status == 303 and headers["Location"] == "/?notice=stale&tag=a%20b%26c%23d#trigger-track"
    assert 'name="tag"' not in request(server, "GET", "/")[2]
