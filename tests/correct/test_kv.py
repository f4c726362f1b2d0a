"""The http-kv trigger backend against a real http.server on 127.0.0.1 that speaks the
Workers KV REST shape: list keys (pages of 2, a cursor), get, put, delete, a bearer token
(401 without it), and on demand 429, 5xx, a hang. The token never shows anywhere."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from conftest import ALIVE, run_alive
from wdkit import runs, script, source, source_state

from alive.config import registry
from alive.correct import kv, queue
from alive.base.errors import UsageError
from alive.base.timeutil import utcnow

TOKEN = "kv-Secret-7f3a9c2e1b"
BASE = "/client/v4/accounts/acc/storage/kv/namespaces/ns"


class FakeKv:
    """The KV store: keys -> bytes, every request seen (method, raw path, authorized), and
    answers to force: `fail` (statuses for the next requests), `hang_s`, `lag` (deleted
    keys still listed and readable, as Cloudflare's eventual consistency allows)."""

    def __init__(self, page=2):
        self.store, self.seen, self.fail, self.hang_s, self.lag, self.page = {}, [], [], 0, False, page
        self.lagging = {}
        self.lock = threading.Lock()
        handler = type("Handler", (KvHandler,), {"kv": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{BASE}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def put(self, key, doc):
        self.store[key] = json.dumps(doc).encode() if not isinstance(doc, bytes) else doc

    def requests(self, method=None):
        return [s for s in self.seen if method is None or s[0] == method]


class KvHandler(BaseHTTPRequestHandler):
    kv = None

    def log_message(self, *args):
        pass

    def answer(self, code, doc=None, body=None, headers=()):
        data = body if body is not None else json.dumps(doc or {}).encode()
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        kv = self.kv
        authorized = self.headers.get("Authorization") == f"Bearer {TOKEN}"
        with kv.lock:
            kv.seen.append((self.command, self.path, authorized))
            forced = kv.fail.pop(0) if kv.fail else None
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if kv.hang_s:
            time.sleep(kv.hang_s)
            return
        if not authorized:
            return self.answer(401, {"success": False, "errors": [{"code": 10000, "message": "Authentication error"}]})
        if forced:
            return self.answer(forced, {"success": False, "errors": [{"code": forced, "message": "try later"}]},
                               headers=[("Retry-After", "1")] if forced == 429 else ())
        path, _, query = self.path.partition("?")
        if not path.startswith(BASE + "/"):
            return self.answer(404, {"success": False})
        rest = path[len(BASE) + 1:]
        if rest == "keys" and self.command == "GET":
            return self.list_keys(parse_qs(query))
        if rest.startswith("values/") and "/" not in rest[len("values/"):]:
            return self.value(unquote(rest[len("values/"):]), body)
        self.answer(404, {"success": False})

    def list_keys(self, query):
        prefix = query.get("prefix", [""])[0]
        start = int(query.get("cursor", ["0"])[0])
        names = sorted(k for k in list(self.kv.store) + list(self.kv.lagging) if k.startswith(prefix))
        page = names[start:start + self.kv.page]
        more = start + self.kv.page < len(names)
        self.answer(200, {"success": True, "errors": [], "messages": [],
                          "result": [{"name": n} for n in page],
                          "result_info": {"count": len(page), "cursor": str(start + self.kv.page) if more else ""}})

    def value(self, key, body):
        kv = self.kv
        if self.command == "PUT":
            kv.store[key] = body
            return self.answer(200, {"success": True, "errors": [], "messages": [], "result": None})
        if self.command == "GET":
            data = kv.store.get(key, kv.lagging.get(key))
            return self.answer(404, {"success": False}) if data is None else self.answer(200, body=data)
        if self.command == "DELETE":
            if key not in kv.store:
                return self.answer(404, {"success": False, "errors": [{"code": 10009, "message": "key not found"}]})
            data = kv.store.pop(key)
            if kv.lag:
                kv.lagging[key] = data
            return self.answer(200, {"success": True, "errors": [], "messages": [], "result": None})
        self.answer(405, {"success": False})

    do_GET = do_PUT = do_DELETE = handle_any


@pytest.fixture
def store():
    kv_server = FakeKv()
    yield kv_server
    kv_server.stop()


@pytest.fixture
def kv_home(home, store, monkeypatch):
    """A home on the http-kv backend with the token in the environment, two sources."""
    monkeypatch.setenv("ALIVE_KV_TOKEN", TOKEN)
    script(home, "good.py")
    write_fleet(home, store.url)
    return home


def write_fleet(home, url, extra=""):
    (home / "fleet.toml").write_text(
        f'[triggers]\nbackend = "http-kv"\npoll = "1s"\n[triggers.http_kv]\nurl = "{url}"\n'
        f'token_env = "ALIVE_KV_TOKEN"\nprefix = "trigger:"\n{extra}\n' + source("track") + source("shop"))


def request_doc(source_name, rid="r1"):
    return {"source": source_name, "requested_at": "2026-05-02T08:00:00Z", "origin": "test", "id": rid}


def triggers(home, *args, **kw):
    return run_alive("triggers", *args, home=home, env={"ALIVE_KV_TOKEN": TOKEN}, **kw)


def assert_token_nowhere(home, *outputs):
    for text in outputs:
        assert TOKEN not in text
    for folder, _, files in os.walk(home):
        for name in files:
            assert TOKEN.encode() not in open(os.path.join(folder, name), "rb").read(), name


# ---------------------------------------------------------------- the test server itself

def test_the_fake_store_refuses_a_request_without_the_token(store):
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{store.url}/keys?prefix=trigger%3A", timeout=5)
    assert caught.value.code == 401


# ---------------------------------------------------------------- alive trigger (PUT)

def test_alive_trigger_puts_one_key_with_the_request_as_its_value(kv_home, store):
    r = run_alive("trigger", "track", home=kv_home, env={"ALIVE_KV_TOKEN": TOKEN})
    assert r.returncode == 0, r.stderr
    [key] = store.store
    source_name, rid = key[len("trigger:"):].split(":")
    assert key.startswith("trigger:") and source_name == "track"
    assert f"queued a refresh of track (key {key})" in r.stdout
    doc = json.loads(store.store[key])
    assert doc["source"] == "track" and doc["origin"] == "cli" and doc["id"] == rid
    [(method, path, authorized)] = store.requests("PUT")
    assert authorized and path == f"{BASE}/values/trigger%3Atrack%3A{rid}"     # the key URL-encoded whole
    assert not (kv_home / "triggers").exists()
    assert_token_nowhere(kv_home, r.stdout, r.stderr)


def test_enqueue_through_the_queue_module_goes_to_the_kv_store(kv_home, store):
    reg = registry.load(kv_home / "fleet.toml", kv_home)
    queued = queue.enqueue(kv_home, reg, "shop", "serve/bearer", utcnow())
    assert queued.name in store.store and json.loads(store.store[queued.name])["origin"] == "serve/bearer"


def test_alive_trigger_with_the_store_down_is_exit_1_in_one_line(kv_home, store):
    store.fail = [503]
    r = run_alive("trigger", "track", home=kv_home, env={"ALIVE_KV_TOKEN": TOKEN})
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "cannot queue the request in the KV store: PUT /values/trigger%3Atrack%3A" in r.stderr
    assert "HTTP 503 (server trouble): try later" in r.stderr and "Traceback" not in r.stderr


# ---------------------------------------------------------------- alive triggers (list, get, delete)

def test_a_pass_follows_the_cursor_coalesces_refuses_and_deletes_what_it_took(kv_home, store):
    for rid in ("a1", "a2", "a3"):
        store.put(f"trigger:track:{rid}", request_doc("track", rid))
    store.put("trigger:shop:b1", request_doc("shop", "b1"))
    store.put("trigger:../../etc:1", request_doc("track"))        # a hostile name
    store.put("trigger:track", request_doc("track"))               # no id
    store.put("trigger:shop:b2", b"<html>any text")                 # the key is the request, not its value
    store.put("trigger:shop:b3", request_doc("track"))             # a value naming another source
    store.put("other:keep-me", b"someone else's key")              # outside the prefix
    r = triggers(kv_home)
    assert r.returncode == 0, r.stderr
    assert runs(kv_home, "good.py") == 2
    assert sorted(r.stdout.splitlines()) == ["shop: refreshed (2 requests)", "track: refreshed (3 requests)"]
    assert list(store.store) == ["other:keep-me"]                   # everything under the prefix was removed
    listing = [path for method, path, _ in store.requests("GET") if "/keys?" in path]
    assert len(listing) == 4 and all("prefix=trigger%3A" in p for p in listing)   # 8 keys, pages of 2
    assert [parse_qs(urlsplit(p).query).get("cursor") for p in listing] == [None, ["2"], ["4"], ["6"]]
    deleted = [path for method, path, _ in store.requests("DELETE")]
    assert f"{BASE}/values/trigger%3A..%2F..%2Fetc%3A1" in deleted     # encoded: never a path of its own
    assert all(authorized for _, _, authorized in store.seen)
    log = (kv_home / "logs" / "triggers.log").read_text()
    assert "refused 'trigger:../../etc:1': asks for unknown source '../../etc'; removed" in log
    assert "refused 'trigger:track': is not trigger:<source>:<id>; removed" in log
    assert "trigger:shop:b2" not in log
    assert "refused 'trigger:shop:b3': has a value that asks for 'track', not shop; removed" in log
    assert source_state(kv_home, "track")["last_refresh_by"] == "trigger"
    assert_token_nowhere(kv_home, r.stdout, r.stderr)


@pytest.mark.parametrize("value", [b"", b"{}", b"1777708800", b"2026-05-02T08:00:00Z", b'"2026-05-02T08:00:00Z"',
                                   b'{"source": "track"}', b'{"requested_at": "2026-05-02T08:00:00Z"}'])
def test_the_key_is_the_request_whatever_a_worker_put_in_its_value(kv_home, store, value):
    # DESIGN §9: a key <prefix><source>:<id> is a request by its name alone; any Worker may
    # post one with an empty value, {}, a timestamp, or only part of alive's own JSON. The
    # peer: a Worker writes `env.NAMESPACE.put(key, value)` with any string or bytes as the
    # value (https://developers.cloudflare.com/kv/api/write-key-value-pairs/).
    store.put("trigger:track:w1", value)
    r = triggers(kv_home)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "track: refreshed (1 request)" and runs(kv_home, "good.py") == 1
    assert store.store == {} and "refused" not in (kv_home / "logs" / "triggers.log").read_text()


@pytest.mark.parametrize("status, said", [(429, "HTTP 429 (rate limited)"), (503, "HTTP 503 (server trouble)"),
                                          (500, "HTTP 500 (server trouble)")])
def test_429_and_5xx_back_off_delete_nothing_and_the_next_poll_works(kv_home, store, status, said):
    store.put("trigger:track:a1", request_doc("track", "a1"))
    store.fail = [status]
    r = triggers(kv_home)
    assert r.returncode == 1 and runs(kv_home) == [] and "trigger:track:a1" in store.store
    assert said in r.stderr and "nothing taken or removed, trying again at the next poll" in r.stderr
    assert "Traceback" not in r.stderr and store.requests("DELETE") == []
    r = triggers(kv_home)
    assert r.returncode == 0 and runs(kv_home, "good.py") == 1 and store.store == {}
    log = (kv_home / "logs" / "triggers.log").read_text()
    assert said in log and "http-kv: reachable again" in log
    assert_token_nowhere(kv_home, r.stdout, r.stderr)


def test_a_failed_delete_after_the_run_is_removed_next_pass_without_running_again(kv_home, store):
    store.put("trigger:track:a1", request_doc("track", "a1"))
    store.put("trigger:track:a2", request_doc("track", "a2"))
    # list (2 keys: one page), get, get, then the first DELETE answers 503
    store.fail = [None, None, None, 503]
    r = triggers(kv_home)
    assert r.returncode == 1 and runs(kv_home, "good.py") == 1
    assert "could not remove 'trigger:track:a1'" in r.stderr and "removed (not run) at the next pass" in r.stderr
    assert list(store.store) == ["trigger:track:a1"]
    # the next pass: that DELETE fails again while a new request runs; a1 is still owed
    store.put("trigger:shop:b1", request_doc("shop", "b1"))
    store.fail = [None, None, 503]                   # list, GET b1, DELETE a1 (503), DELETE b1
    r = triggers(kv_home)
    assert r.returncode == 1 and r.stdout.strip() == "shop: refreshed (1 request)"
    assert list(store.store) == ["trigger:track:a1"]
    r = triggers(kv_home)
    assert r.returncode == 0, r.stderr
    assert runs(kv_home, "good.py") == 2 and store.store == {}      # track ran once, shop once


def test_a_deleted_key_still_listed_by_a_lagging_store_is_not_run_again(kv_home, store):
    store.lag = True
    store.put("trigger:track:a1", request_doc("track", "a1"))
    assert triggers(kv_home).returncode == 0 and runs(kv_home, "good.py") == 1
    assert "trigger:track:a1" in store.lagging                       # still listed, still readable
    r = triggers(kv_home)
    assert r.returncode == 0 and runs(kv_home, "good.py") == 1
    assert "nothing pending" in r.stdout


def test_a_wrong_token_is_refused_exit_1_and_nothing_runs(kv_home, store):
    store.put("trigger:track:a1", request_doc("track", "a1"))
    wrong = "not-the-token-0000"
    r = run_alive("triggers", home=kv_home, env={"ALIVE_KV_TOKEN": wrong})
    assert r.returncode == 1 and runs(kv_home) == []
    assert "HTTP 401: the token was refused ($ALIVE_KV_TOKEN): Authentication error" in r.stderr
    assert wrong not in r.stderr and wrong not in r.stdout and "trigger:track:a1" in store.store


def test_a_hanging_store_times_out_quickly_with_a_clear_line(kv_home, store):
    store.hang_s = 4
    store.put("trigger:track:a1", request_doc("track", "a1"))
    t0 = time.monotonic()
    r = triggers(kv_home, "--timeout", "1s")
    assert time.monotonic() - t0 < 3.5
    assert r.returncode == 1 and "GET /keys?prefix=trigger%3A: no answer within 1s" in r.stderr
    assert "Traceback" not in r.stderr and runs(kv_home) == []


def test_a_store_that_is_down_is_a_clear_message(kv_home, store):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                                    # closed again: nothing listens there
    write_fleet(kv_home, f"http://127.0.0.1:{port}{BASE}")
    r = triggers(kv_home)
    assert r.returncode == 1 and "cannot reach 127.0.0.1: Connection refused" in r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_a_loop_backs_off_says_it_once_and_picks_up_when_the_store_answers(kv_home, store):
    store.put("trigger:track:a1", request_doc("track", "a1"))
    store.fail = [429, 503, 503]
    env = dict(os.environ, ALIVE_HOME=str(kv_home), ALIVE_KV_TOKEN=TOKEN)
    runner = subprocess.Popen([sys.executable, str(ALIVE), "triggers", "--loop"], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while "trigger:track:a1" in store.store and time.monotonic() < deadline:
            time.sleep(0.05)
        runner.terminate()
        out, err = runner.communicate(timeout=10)
    finally:
        runner.kill()
    assert runner.returncode == 0 and runs(kv_home, "good.py") == 1 and store.store == {}
    assert err.count("HTTP 429") == 1 and err.count("HTTP 503") == 1     # said when it changes, not every poll
    assert "http-kv: working again" in err and "track: refreshed (1 request)" in out
    assert_token_nowhere(kv_home, out, err)


# ---------------------------------------------------------------- configuration

def test_an_empty_token_variable_is_exit_3(kv_home, store):
    r = run_alive("triggers", home=kv_home, env={"ALIVE_KV_TOKEN": ""})
    assert r.returncode == 3
    assert r.stderr.strip() == ("alive triggers: triggers.http_kv.token_env names $ALIVE_KV_TOKEN, "
                                "which is empty or not set")


def test_an_empty_prefix_is_refused_before_anything_is_listed(kv_home, store):
    # with no prefix every key of the namespace would look like a request, and be removed
    text = (kv_home / "fleet.toml").read_text().replace('prefix = "trigger:"', 'prefix = ""')
    (kv_home / "fleet.toml").write_text(text)
    store.put("someone:else", b"x")
    r = triggers(kv_home)
    assert r.returncode == 3 and 'triggers.http_kv.prefix: "" is not a non-empty string' in r.stderr
    assert store.seen == [] and "someone:else" in store.store


def test_kv_errors_never_carry_the_token_even_when_the_server_echoes_it(kv_home, store, monkeypatch):
    reg = registry.load(kv_home / "fleet.toml", kv_home)
    monkeypatch.setattr(KvHandler, "do_GET", lambda self: self.answer(
        500, {"success": False, "errors": [{"message": f"bad header {self.headers.get('Authorization')}"}]}))
    with pytest.raises(kv.KvError) as caught:
        kv.list_keys(reg.triggers.http_kv, TOKEN, timeout=5)
    assert TOKEN not in str(caught.value) and "[redacted]" in str(caught.value)


def test_a_token_with_a_newline_is_bad_config(kv_home, monkeypatch):
    monkeypatch.setenv("ALIVE_KV_TOKEN", "abc\ndef")
    reg = registry.load(kv_home / "fleet.toml", kv_home)
    with pytest.raises(UsageError, match="cannot go in an HTTP header"):
        kv.token(reg.triggers.http_kv)


def test_serve_queues_into_the_kv_store(kv_home, store):
    text = (kv_home / "fleet.toml").read_text() + '\n[serve]\ntoken_env = "ALIVE_SERVE_TOKEN"\n'
    (kv_home / "fleet.toml").write_text(text)
    env = dict(os.environ, ALIVE_HOME=str(kv_home), ALIVE_KV_TOKEN=TOKEN, ALIVE_SERVE_TOKEN="serve-token-1")
    server = subprocess.Popen([sys.executable, str(ALIVE), "serve", "--port", "0"], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = server.stdout.readline().split()[2]
        req = urllib.request.Request(f"{url}trigger/track", data=b"", method="POST",
                                     headers={"Authorization": "Bearer serve-token-1"})
        opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                                                  {"redirect_request": lambda *a, **k: None}))
        with pytest.raises(urllib.error.HTTPError) as caught:
            opener.open(req, timeout=10)
        assert caught.value.code == 303
    finally:
        server.terminate()
        out, err = server.communicate(timeout=10)
    [key] = store.store
    assert key.startswith("trigger:track:") and json.loads(store.store[key])["origin"] == "serve/bearer"
    assert TOKEN not in out + err
