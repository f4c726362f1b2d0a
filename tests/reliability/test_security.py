"""Security, end to end: the whole system, real files, real processes, real sockets on 127.0.0.1.

1. Path tricks: hostile task ids, source names, trigger names (CLI, spool files, KV keys,
   `alive serve` URLs) never make alive write or read anything outside ALIVE_HOME: the
   folder around ALIVE_HOME is snapshotted (every path, its bytes and mtime) before and after.
2. XSS: a hostile payload in every text field of a heartbeat, of the registry and of the
   state a run leaves behind reaches the HTML report, `alive serve`'s page and the Markdown
   brief as text only: html.parser finds exactly the elements and attributes of a benign twin
   fleet (same data, same lengths, markup characters replaced by ~), and every payload a page
   shows is there verbatim, as text.
3. CSRF on POST /trigger: no token, a wrong one, the token of another server process, a GET,
   the token in the query string: all refused, nothing queued.
4. A non-loopback bind is refused without --allow-remote and a real (non-blank) token.
5. Tokens (ntfy via token_env and token_file, the KV token, the serve token) appear in no
   file under ALIVE_HOME and in no output of a whole scenario, while the stand-in servers
   prove they were really sent.
"""
import contextlib
import html
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import ALIVE, run_alive
from helpers import alive_here
from test_kv import BASE as KV_BASE
from test_kv import TOKEN as KV_TOKEN
from test_kv import FakeKv
from test_notify import FakeNtfy
from test_serve import request
from wdkit import HEAD, runs, script, snapshot

from alive.report import render_html

PY = sys.executable


# ---------------------------------------------------------------- plumbing

@pytest.fixture
def deep_home(tmp_path, monkeypatch):
    """ALIVE_HOME three folders below tmp_path, cwd beside it: every ../ trick used here
    (at most three levels, from health/ or from the cwd) lands inside tmp_path, where the
    snapshot sees it."""
    home = tmp_path / "outer" / "mid" / "home"
    home.mkdir(parents=True)
    cwd = tmp_path / "outer" / "mid" / "cwd"
    cwd.mkdir()
    monkeypatch.setenv("ALIVE_HOME", str(home))
    monkeypatch.delenv("ALIVE_CONFIG", raising=False)
    monkeypatch.chdir(cwd)
    return home


def changed(before, after, ignore=()):
    """Paths added, removed or modified between two wdkit.snapshot()s."""
    keys = set(before) | set(after)
    return sorted(k for k in keys if before.get(k) != after.get(k) and not k.startswith(tuple(ignore)))


@contextlib.contextmanager
def serving(home, log_path, *args, env=None):
    """`alive serve --port 0` as a real process; yields (host, port, proc); SIGTERM at the end.
    Its stderr goes to log_path (a file, never a pipe nobody reads)."""
    full = dict(os.environ, ALIVE_HOME=str(home), **(env or {}))
    full.pop("ALIVE_CONFIG", None)
    with open(log_path, "a") as log:
        proc = subprocess.Popen([PY, str(ALIVE), "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                                stderr=log, text=True, env=full)
        try:
            ready, _, _ = select.select([proc.stdout], [], [], 20)
            assert ready, "alive serve printed nothing in 20 s"
            m = re.match(r"alive serve: http://127\.0\.0\.1:(\d+)/ ", proc.stdout.readline())
            assert m, "alive serve did not say where it listens"
            yield "127.0.0.1", int(m.group(1)), proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            proc.stdout.close()


def raw_post(server, path, token):
    """POST path (sent as raw UTF-8 bytes, exactly) with a bearer token -> the status code."""
    host, port, _ = server
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(b"POST " + path.encode("utf-8") + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Authorization: Bearer " + token.encode() + b"\r\nContent-Length: 0\r\n"
                     b"Connection: close\r\n\r\n")
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def outside_home(diff, home_rel="outer/mid/home"):
    """The changed paths that are neither ALIVE_HOME itself (its mtime) nor below it."""
    return [p for p in diff if p != home_rel and not p.startswith(home_rel + "/")]


def csrf_of(page):
    tokens = set(re.findall(r'<input type="hidden" name="csrf" value="([^"]+)">', page))
    assert len(tokens) == 1, tokens
    return tokens.pop()


# ---------------------------------------------------------------- 1. path tricks

# Task ids and source names that must be refused: traversal, separators, absolute paths
# (ABS is replaced by a path inside tmp_path), look-alike Unicode (fullwidth solidus and
# full stop, division slash, fraction slash, one-dot leader), encodings, whitespace, shell
# and Windows forms, a leading dot, too long.
BAD_NAMES = [
    "../x", "../../x", "../../../x", "a/b", "..", ".", "ABS", "x/../../y", "./x", "x/",
    "..x", ".hidden", "x\\..\\y", "..\\..\\x", "a\uff0fb", "\uff0e\uff0e\uff0fx", "a\u2215b", "a\u2044b",
    "x\u2024\u2024y", "\uff41bc", "~", "~/x", "$HOME", "%2e%2e%2fx", "..%2fx", "x\n", "x\ty", " x", "x ",
    "", "a" * 129, "C:\\x", "x:y", "x;y", "x|y", "x*", "\u202ex", "e\u0301", "x\u200b",
]
# Valid ids that look like paths or like alive's own file names: accepted, and their files
# land in health/ under exactly their canonical names.
ODD_VALID = ["x..", "a..b", "a.json", "x_latest", "2026-05-02_x_1200", "health", "fleet.toml", "x-", "CON",
             "A" * 128]


def bad_names(tmp_path):
    return [str(tmp_path / "abs" / "x") if n == "ABS" else n for n in BAD_NAMES]


def test_hostile_task_and_source_names_on_every_command_never_escape_alive_home(deep_home, tmp_path):
    home = deep_home
    script(home, "good.py")
    (home / "fleet.toml").write_text('[sources.track]\npath = "track.json"\nmax_age = "15m"\n'
                                     'producer = ["./good.py"]\n')
    marker = tmp_path / "ran-anyway"
    touch = [PY, "-c", f"open({str(marker)!r}, 'w').close()"]
    before = snapshot(tmp_path)
    refused = []
    for name in bad_names(tmp_path):
        for argv in (["write", name], ["write", name, "--summary", "s", "--interval", "1h"],
                     ["run", name, "--", *touch], ["run", name, "--no-overlap", "--", *touch],
                     ["pause", name], ["pause", f"task:{name}", "--for", "1h"], ["resume", name],
                     ["pause", f"source:{name}"], ["resume", f"source:{name}"],
                     ["trigger", name], ["refresh", name]):
            code, out, err = alive_here(*argv)
            if code != 3 or err.count("\n") != 1 or "Traceback" in err:
                refused.append((argv, code, err))
    assert refused == [], refused[:5]
    assert not marker.exists(), "alive run started a command for an invalid task id"
    assert changed(before, snapshot(tmp_path)) == [], "a refused command left something behind"
    assert runs(home) == []

    # the odd but valid ids: written, run, paused and resumed, and only ever inside health/ and state/
    for name in ODD_VALID:
        for argv in (["write", name], ["run", name, "--", "true"], ["pause", name, "--reason", "r"],
                     ["resume", name]):
            code, out, err = alive_here(*argv)
            assert code == 0, (argv, err)
    diff = changed(before, snapshot(tmp_path))
    assert diff and outside_home(diff) == [], diff
    inside = {p.split("/")[3] for p in diff if p.count("/") >= 3}
    assert inside <= {"health", "state", "logs"}, inside
    health = sorted(os.listdir(home / "health"))
    for name in ODD_VALID:
        mine = [h for h in health if re.fullmatch(r"\d{4}-\d\d-\d\d_" + re.escape(name) + r"_\d{4}(-\d+)?\.json", h)]
        assert len(mine) == 2 and f"{name}_latest.json" in health, (name, health)
    assert len(health) == 3 * len(ODD_VALID)
    code, out, _ = alive_here("check", "--json")
    tasks = {i["name"] for i in json.loads(out)["items"] if i["kind"] == "task"}
    assert tasks == set(ODD_VALID) | {"alive-watchdog"}


def test_hostile_names_through_the_real_command_line_and_the_shell_shim(deep_home, tmp_path):
    """The same refusals through bin/alive and scripts/cron-heartbeat-write.sh (which always
    exits 0, and must not write either)."""
    home = deep_home
    before = snapshot(tmp_path)
    for name in ("../../x", "a\uff0fb", str(tmp_path / "abs" / "y"), "..x"):
        r = run_alive("write", name, "--summary", "x", cwd=Path.cwd())
        assert r.returncode == 3 and "is not valid" in r.stderr and r.stdout == "", r
        r = run_alive("run", name, "--", "true", cwd=Path.cwd())
        assert r.returncode == 3 and "is not valid" in r.stderr, r
        shim = subprocess.run(["bash", str(Path(ALIVE).parent.parent / "scripts" / "cron-heartbeat-write.sh"),
                               name, "1h"], capture_output=True, text=True, timeout=30,
                              env=dict(os.environ, ALIVE_HOME=str(home)), cwd=Path.cwd())
        assert shim.returncode == 0 and shim.stderr.strip(), shim
    assert changed(before, snapshot(tmp_path)) == []


def test_registry_names_hiding_a_newline_are_refused_so_no_file_name_carries_one(deep_home, tmp_path):
    """`$` in a regex also matches before a final newline: "track\\n" once passed as a source
    name and became triggers/track<newline>.<stamp>.json. Every name rule must refuse it."""
    home = deep_home
    (home / "fleet.toml").write_text(
        '[sources."track\\n"]\npath = "t.json"\nmax_age = "15m"\n[tasks."etl\\n"]\nschedule = "every 1h"\n'
        '[probes."p\\n"]\ncommand = ["true"]\n'
        '[notify.ntfy]\ntopic = "fleet\\n"\ntoken_env = "TOK\\n"\n[settings]\nlabel_prefix = "com.x\\n"\n'
        '[serve]\ntoken_env = "SERVE\\n"\n')
    before = snapshot(tmp_path)
    code, out, err = alive_here("check")
    assert code == 3 and out == ""
    for key in ('sources."track\\n"', 'tasks."etl\\n"', 'probes."p\\n"', "notify.ntfy.topic", "notify.ntfy.token_env",
                "settings.label_prefix", "serve.token_env"):
        assert key in err, (key, err)
    code, _, err = alive_here("trigger", "track\n")
    assert code == 3
    assert changed(before, snapshot(tmp_path)) == []


def test_spool_files_named_or_pointing_outside_are_refused_and_never_followed(deep_home, tmp_path):
    home = deep_home
    script(home, "good.py")
    (home / "fleet.toml").write_text('[sources.track]\npath = "track.json"\nmax_age = "15m"\n'
                                     'producer = ["./good.py"]\n[sources."a..b"]\npath = "ab.json"\n'
                                     'max_age = "15m"\nproducer = ["./good.py"]\n')
    spool = home / "triggers"
    spool.mkdir()
    victim = tmp_path / "outer" / "victim.json"
    request_doc = {"source": "track", "requested_at": "2026-05-02T08:00:00Z", "origin": "x", "id": "v1"}
    victim.write_text(json.dumps(request_doc))

    def doc(source, rid):
        return json.dumps(dict(request_doc, source=source, id=rid))

    (spool / "x..%2F..%2Fescape.json").write_text(doc("../../escape", "e1"))
    (spool / "..%2F..%2Fdot.json").write_text(doc("track", "e0"))     # a dot name is a writer's temp file
    (spool / "track.json").write_text(doc("track/../track", "e2"))
    (spool / "back.json").write_text(doc("..\\..\\track", "e3"))
    (spool / "wide.json").write_text(doc("track\uff0f..", "e4"))
    (spool / "nl.json").write_text(doc("track\n", "e5"))
    (spool / "evil.json").symlink_to(victim)                       # a valid request, outside: not followed
    (spool / "dangling.json").symlink_to(tmp_path / "outer" / "nothing-here.json")
    (spool / "dir.json").mkdir()                                   # a folder: not ours, left alone
    os.mkfifo(spool / "fifo.json")                                 # must not block the runner
    (spool / "a..b.20260502T080000Z.ok.json").write_text(doc("a..b", "ok1"))   # the one real request
    before = snapshot(tmp_path)
    r = run_alive("triggers", home=home, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "a..b: refreshed (1 request)"
    assert runs(home, "good.py") == 1                              # the symlinked request did not run track
    assert victim.read_text() == json.dumps(request_doc)
    # refused requests are removed (links unlinked, never their targets); a dot file is a
    # writer's temp file: never read as a request, left alone
    assert sorted(os.listdir(spool)) == ["..%2F..%2Fdot.json", "dir.json"]
    log = (home / "logs" / "triggers.log").read_text()
    assert log.count("refused") == 8 and "'../../escape'" in log
    assert outside_home(changed(before, snapshot(tmp_path))) == []


def test_kv_keys_with_traversal_are_refused_and_every_request_stays_under_the_namespace(deep_home, tmp_path):
    home = deep_home
    store = FakeKv(page=3)
    try:
        script(home, "good.py")
        (home / "fleet.toml").write_text(
            f'[triggers]\nbackend = "http-kv"\n[triggers.http_kv]\nurl = "{store.url}"\n'
            f'token_env = "ALIVE_KV_TOKEN"\nprefix = "trigger:"\n'
            '[sources.track]\npath = "track.json"\nmax_age = "15m"\nproducer = ["./good.py"]\n')

        def doc(source, rid):
            return {"source": source, "requested_at": "2026-05-02T08:00:00Z", "origin": "t", "id": rid}

        hostile = ["trigger:../../x:1", "trigger:track:../../y", "trigger:track:a/b", "trigger:..%2F..%2Fz:1",
                   "trigger:track\\..\\x:1", "trigger:track:..", "trigger:track:x\n", "trigger:/etc/passwd:1",
                   "trigger:track/../track:1", "trigger:track:%2e%2e%2f"]
        for key in hostile:
            store.put(key, doc(key.split(":")[1], "r"))
        store.put("trigger:track:ok1", doc("track", "ok1"))
        before = snapshot(tmp_path)
        r = run_alive("triggers", home=home, env={"ALIVE_KV_TOKEN": KV_TOKEN}, timeout=30)
        assert r.returncode == 0, r.stderr
        assert runs(home, "good.py") == 1 and store.store == {}
        log = (home / "logs" / "triggers.log").read_text()
        assert log.count("refused") == len(hostile), log
        for method, path, authorized in store.seen:
            raw = path.partition("?")[0]
            assert authorized and raw.startswith(KV_BASE + "/"), path
            rest = raw[len(KV_BASE) + 1:]
            assert rest == "keys" or (rest.startswith("values/") and "/" not in rest[len("values/"):]), path
            assert ".." not in raw.split("/"), path
        assert outside_home(changed(before, snapshot(tmp_path))) == []
    finally:
        store.stop()


SERVE_TRICKS = [
    "/trigger/..%2F..%2Fx", "/trigger/%2e%2e%2f%2e%2e%2fx", "/trigger/%252e%252e%252fx", "/trigger/..%252Fx",
    "/trigger/..\\..\\x", "/trigger/..%5C..%5Cx", "/trigger/track%5C..%5C..%5Cx", "/trigger/%c0%ae%c0%ae%c0%afx",
    "/trigger/track%ef%bc%8f..", "/trigger/\uff0e\uff0e\uff0fx", "/trigger/track\u2215..",
    "/trigger/track%0a", "/trigger/track%20", "/trigger/%20track", "/trigger/track;x",
    "/trigger/track#frag", "/trigger/a..b/../track", "/trigger/%61..b%2F", "/trigger/../trigger/track",
    "/trigger/" + "a" * 5000, "/trigger/track/", "/trigger//etc/passwd", "/trigger/%2Fetc%2Fpasswd",
    "/trigger/~", "/trigger/$HOME",
]
# GETs that try to read files: only /, /status.json and /healthz exist.
SERVE_READS = ["/fleet.toml", "/../fleet.toml", "/%2e%2e/fleet.toml", "/state/watchdog.json", "//etc/passwd",
               "/site/index.html", "/health/", "/.%2e/.%2e/secret.txt", "/..%2f..%2fsecret.txt",
               "/status.json/../../secret.txt", "/healthz/..%2f..%2fsecret.txt"]


def test_serve_path_tricks_queue_nothing_and_read_nothing(deep_home, tmp_path):
    home = deep_home
    token = "serve-path-trick-token-9f2e"
    (home / "fleet.toml").write_text('[sources.track]\npath = "track.json"\nmax_age = "15m"\n'
                                     '[sources."a..b"]\npath = "ab.json"\nmax_age = "15m"\n'
                                     '[serve]\ntoken_env = "SEC_SERVE_TOKEN"\n')
    (tmp_path / "outer" / "secret.txt").write_text("SECRET-CONTENT-4411")
    (home / "secret.txt").write_text("SECRET-CONTENT-4411")
    log = tmp_path / "serve.log"
    with serving(home, log, env={"SEC_SERVE_TOKEN": token}) as s:
        request(s, "GET", "/")                                    # the first render writes state/ caches
        before = snapshot(tmp_path)
        answers = {path: raw_post(s, path, token) for path in SERVE_TRICKS}
        assert set(answers.values()) <= {400, 404}, {p: c for p, c in answers.items() if c not in (400, 404)}
        for path in SERVE_READS:
            status, _, body = request(s, "GET", path)
            assert status in (400, 404) and "SECRET" not in body and "[sources" not in body, (path, status)
        assert changed(before, snapshot(tmp_path), ignore=("serve.log",)) == []     # not a byte anywhere
        # the real names still work: the lookup is exact, not "safe-looking"; a query is not the name
        assert raw_post(s, "/trigger/a..b", token) == 303
        assert raw_post(s, "/trigger/track?x=/../../escape", token) == 303
    after = snapshot(tmp_path)
    diff = changed(before, after, ignore=("serve.log",))
    assert [p for p in diff if not p.startswith("outer/mid/home/triggers")] == ["outer/mid/home"], diff
    queued = sorted(p.rsplit("/", 1)[1].split(".20")[0] for p in diff if p.endswith(".json"))
    assert queued == ["a..b", "track"]                                   # exactly the two real requests
    assert "Traceback" not in log.read_text()


# ---------------------------------------------------------------- 2. XSS in every field

VECTORS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "'><svg onload=alert(3)>",
    "javascript:alert(4)",
    "</textarea></title></style><iframe src=javascript:alert(5)>",
    '<a href="javascript:alert(6)">x</a>',
    "--><!--<script>alert(7)</script>",
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    "<form action=https://evil.example><button>go</button>",
    '<input type="hidden" name="csrf" value="stolen">',
    "<base href=https://evil.example/>",
    "&lt;script&gt;alert(8)&lt;/script&gt;",
    "\u2028<script>alert(9)</script>\u2029",
    "<style>body{background:url(javascript:alert(10))}</style>",
    "<body onload=alert(11)>",
    "<details open ontoggle=alert(12)>",
    "[x](javascript:alert(13)) ![y](https://evil.example/t.png) <https://evil.example>",
    "| col | injected |\n# heading",
    "<!--",
    "<![CDATA[<script>alert(14)</script>]]>",
]


class Payloads:
    """Distinct hostile strings, one per field: 'XSS<n>:' + a vector. twin() is the benign
    version of a text: every payload with its markup characters replaced, same length."""

    def __init__(self, benign=False):
        self.benign, self.made = benign, []

    def __call__(self, label):
        known = dict(self.made)
        raw = known[label] if label in known else self.hostile(len(self.made))
        if label not in known:
            self.made.append((label, raw))
        return self.twin(raw) if self.benign else raw

    @staticmethod
    def hostile(n):
        return f"XSS{n:02d}:" + VECTORS[n % len(VECTORS)]

    @staticmethod
    def twin(text):
        return "".join(c if c.isalnum() else "~" for c in text)   # "~": as invalid in a task id as "<"


def toml_str(s):
    return json.dumps(s)


def build_fleet(home, p):
    """One fleet where every text field is p(...): a hostile one, or its benign twin."""
    fail = home / "fail_xss.py"
    fail.write_text(HEAD + f"sys.stderr.write({p('producer stderr')!r})\nsys.exit(1)\n")
    fail.chmod(0o755)
    probe = home / "probe_xss.py"
    probe.write_text(HEAD + f"print('expired ' + {p('probe detail')!r})\n")
    probe.chmod(0o755)
    loud = home / "loud.py"
    loud.write_text(HEAD + f"print({p('stdout')!r})\nsys.stderr.write({p('stderr line')!r} + '\\n')\nsys.exit(3)\n")
    loud.chmod(0o755)
    data_dir = p("source path").replace("/", "_")
    (home / "fleet.toml").write_text(f"""
[settings]
dashboard_url = {toml_str("http://127.0.0.1:8765/" + p("dashboard_url"))}
[tasks.etl]
description = {toml_str(p("task description"))}
schedule = "every 1h"
run = ["./loud.py", {toml_str(p("task run argv"))}]
[tasks.child]
description = {toml_str(p("child description"))}
depends_on = ["etl"]
[sources.track]
path = {toml_str("data/" + data_dir + ".json")}
max_age = "15m"
description = {toml_str(p("source description"))}
timestamp = {toml_str(p("timestamp field"))}
status_field = {toml_str(p("status_field"))}
bad_status = [{toml_str(p("bad_status"))}]
producer = ["./fail_xss.py", {toml_str(p("producer argv"))}]
after = ["./fail_xss.py", {toml_str(p("after argv"))}]
retries = 0
[sources.web]
path = "web.json"
max_age = "15m"
probe = "browser"
producer = ["./fail_xss.py"]
retries = 0
[sources.gone]
path = {toml_str(p("missing path").replace("/", "_"))}
max_age = "15m"
[probes.browser]
command = ["./probe_xss.py", {toml_str(p("probe argv"))}]
interval = "10m"
[notify.command]
argv = ["./fail_xss.py", {toml_str(p("notify argv"))}]
""")
    # the data file: its status field holds a payload, its timestamp field too
    (home / "data").mkdir()
    (home / "data" / f"{data_dir}.json").write_text(json.dumps({
        p("timestamp field"): p("captured_at"), p("status_field"): p("bad_status")}))
    return data_dir


def hostile_beats(home, p):
    """Heartbeats with every field hostile: through alive write and alive run, and as raw
    files (host, run_id, output_tail, unknown fields, metric keys, invalid ones)."""
    health = home / "health"
    health.mkdir(exist_ok=True)
    calls = [
        ["write", "etl", "--status", "partial", "--summary", p("summary partial"), "--warning", p("warning 1"),
         "--warning", p("warning 2"), "--started-at", "2026-05-02T06:00:00Z"],
        ["write", "etl", "--status", "error", "--summary", p("summary error"), "--error", p("error 1"),
         "--error", p("error 2"), "--metric", f"rows={p('metric value')}", "--started-at", "2026-05-02T07:00:00Z"],
        ["write", "child", "--status", "error", "--summary", p("child summary"), "--error", p("child error")],
        ["write", "quiet", "--summary", p("quiet summary")],
        ["pause", "quiet", "--reason", p("pause reason")],
    ]
    for argv in calls:
        code, _, err = alive_here(*argv)
        assert code == 0, (argv, err)
    code, _, err = alive_here("run", "shell-task", "--", "./loud.py", p("run argv"))
    assert code == 3, err
    raw = {"task_id": "raw", "status": "ok", "started_at": "2026-05-02T07:30:00Z",
           "completed_at": "2026-05-02T07:31:00Z", "summary": p("raw summary"),
           "warnings": [p("raw warning")], "errors": [p("raw error")],
           "metrics": {p("metric key"): p("metric value 2"), "nested": {p("nested key"): [p("nested value")]}},
           "host": p("host"), "run_id": p("run_id"), "output_tail": p("output_tail"), p("extra key"): p("extra")}
    (health / "2026-05-02_raw_0730.json").write_text(json.dumps(raw))
    # invalid files whose problems quote the hostile values, and a hostile file name
    (health / "2026-05-02_bad-status_0700.json").write_text(json.dumps(dict(raw, task_id="bad-status",
                                                                            status=p("status value"))))
    (health / "2026-05-02_bad-time_0700.json").write_text(json.dumps(dict(raw, task_id="bad-time",
                                                                          started_at=p("started_at"))))
    (health / (p("file name").replace("/", "_") + "_x.json")).write_text("{not json")
    (health / "legacy_x.json").write_text(json.dumps(dict(raw, task_id=p("task_id"))))
    # a queued trigger with a hostile origin and request time
    (home / "triggers").mkdir(exist_ok=True)
    (home / "triggers" / "track.q.json").write_text(json.dumps(
        {"source": "track", "requested_at": p("requested_at"), "origin": p("origin"), "id": "q1"}))


class Structure(HTMLParser):
    """Every element with its attribute names, every attribute value, and the text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements, self.attrs, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, tuple(sorted(name for name, _ in attrs))))
        self.attrs += [(tag, name, value or "") for name, value in attrs]

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.elements.append(("<!--", ()))

    def handle_pi(self, data):
        self.elements.append(("<?", ()))

    def unknown_decl(self, data):
        self.elements.append(("<![", ()))


def structure(page):
    s = Structure()
    s.feed(page)
    s.close()
    return s


def render_all(home, log):
    """The three renderings: static HTML, Markdown, and the live page of `alive serve`."""
    r = run_alive("report", "--format", "html", "--out", home / "site" / "index.html", home=home)
    assert r.returncode == 0, r.stderr
    static = (home / "site" / "index.html").read_text()
    r = run_alive("report", "--format", "markdown", home=home)
    assert r.returncode == 0, r.stderr
    markdown = r.stdout
    with serving(home, log) as s:
        status, _, live = request(s, "GET", "/")
        assert status == 200
    return static, markdown, live


def make_fleet(home, benign, monkeypatch):
    p = Payloads(benign)
    monkeypatch.setenv("ALIVE_HOME", str(home))
    monkeypatch.chdir(home)
    build_fleet(home, p)
    hostile_beats(home, p)
    for argv in (["probe"], ["watchdog"], ["check", "--notify"]):
        alive_here(*argv)
    return p


def test_xss_in_every_field_reaches_html_and_markdown_as_text_only(tmp_path, monkeypatch):
    homes = {}
    for kind in ("hostile", "benign"):
        homes[kind] = tmp_path / kind / "home"
        homes[kind].mkdir(parents=True)
        p = make_fleet(homes[kind], kind == "benign", monkeypatch)
    # p holds the benign run's labels; the hostile run made the same ones in the same order
    payloads = [Payloads.hostile(n) for n in range(len(p.made))]
    p.made = [(label, raw) for (label, _), raw in zip(p.made, payloads)]
    assert len(payloads) >= 40
    state = json.loads((homes["hostile"] / "state" / "watchdog.json").read_text())
    assert "XSS" in state["sources"]["track"]["last_error"]        # the producer's stderr really is stored

    hostile = render_all(homes["hostile"], tmp_path / "serve-h.log")
    benign = render_all(homes["benign"], tmp_path / "serve-b.log")
    reached = {}
    ours = f"<script>{render_html.SCRIPT}</script>"        # the page's one script: a constant, no data in it
    for page, h_page, b_page in (("static", hostile[0], benign[0]), ("live", hostile[2], benign[2])):
        assert h_page.lower().count("<script") == 1 and h_page.count(ours) == 1
        h_page, b_page = h_page.replace(ours, ""), b_page.replace(ours, "")
        h, b = structure(h_page), structure(b_page)
        # the same elements with the same attributes, in the same order, as the benign twin
        assert h.elements == b.elements, (page, sorted(set(h.elements) ^ set(b.elements))[:10])
        tags = {t for t, _ in h.elements}
        assert "script" not in tags and "img" not in tags and "iframe" not in tags and "base" not in tags
        for tag, name, value in h.attrs:
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src", "action", "formaction", "content"):
                assert not value.strip().lower().startswith(("javascript:", "data:")), (tag, name, value)
        csrf_fields = [(t, n, v) for t, n, v in h.attrs if t == "input" and n == "name" and v == "csrf"]
        assert len(csrf_fields) == (3 if page == "live" else 0)      # one per source's form, nothing injected
        assert "stolen" not in {v for t, n, v in h.attrs if t == "input" and n == "value"}
        assert "<script" not in h_page.lower()
        text = "".join(h.text) + " ".join(v for _, _, v in h.attrs)
        reached[page] = {raw[:5] for raw in payloads if raw[:5] in text}
        # a payload shown is shown whole, as text; the only exceptions are transformed on purpose
        # (a "/" in a file name made "_" by this test; a value shown as repr(); a metric cut short)
        cut = {label for label, raw in p.made if raw[:5] in reached[page] and raw not in text}
        assert cut <= {"source path", "file name", "missing path", "bad_status", "nested key", "metric value 2"}, cut
    # Markdown: no raw HTML at all from a payload, no link, no extra table cell or heading
    h_md, b_md = hostile[1], benign[1]
    md_tags = re.findall(r"<[A-Za-z!/?][^>]*>?", h_md)
    assert md_tags == re.findall(r"<[A-Za-z!/?][^>]*>?", b_md) and set(md_tags) <= {"<br>"}   # the renderer's own
    assert "](" not in h_md.replace("\\]", "") and "<https" not in h_md
    assert [ln.count("|") - ln.count("\\|") for ln in h_md.splitlines()] == \
           [ln.count("|") - ln.count("\\|") for ln in b_md.splitlines()]
    assert [ln for ln in h_md.splitlines() if ln.startswith("#")] == \
           [ln for ln in b_md.splitlines() if ln.startswith("#")]
    md_text = html.unescape(h_md.replace("\\", ""))
    reached["markdown"] = {raw[:5] for raw in payloads if raw[:5] in md_text}
    # Every field a page shows must really be on it, or this test proves nothing. Not shown by
    # design: argv of commands, probe output, a run's stdout, host, run_id, unknown fields,
    # warnings of older runs, trigger origins (they are in JSON forms only).
    not_shown = {"probe detail", "stdout", "task run argv", "producer argv", "after argv", "probe argv",
                 "notify argv", "warning 1", "warning 2", "run argv", "nested value", "host", "run_id",
                 "output_tail", "extra key", "extra", "requested_at", "origin"}
    index = dict(p.made)
    for label in set(index) - not_shown:
        assert index[label][:5] in reached["static"], label
        assert index[label][:5] in reached["live"] or label == "dashboard_url", label   # live: working buttons
    in_brief = {"error 1", "child error", "producer stderr", "stderr line", "pause reason", "status value",
                "started_at", "file name", "task_id", "raw warning", "captured_at", "bad_status", "missing path",
                "source path", "timestamp field"}
    for label in in_brief:
        assert index[label][:5] in reached["markdown"], label


# ---------------------------------------------------------------- 3. CSRF on POST /trigger

def queued_files(home):
    folder = home / "triggers"
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_csrf_a_trigger_needs_this_processes_token_in_a_post_body(home, tmp_path):
    (home / "fleet.toml").write_text('[sources.track]\npath = "track.json"\nmax_age = "15m"\n')
    log = tmp_path / "serve.log"
    with serving(home, log) as a, serving(home, log) as b:
        token_a, token_b = csrf_of(request(a, "GET", "/")[2]), csrf_of(request(b, "GET", "/")[2])
        assert token_a != token_b
        form = "application/x-www-form-urlencoded"
        attempts = {
            "no body": request(b, "POST", "/trigger/track"),
            "no token": request(b, "POST", "/trigger/track", body="source=track"),
            "empty token": request(b, "POST", "/trigger/track", body="csrf="),
            "wrong token": request(b, "POST", "/trigger/track", body="csrf=" + "A" * len(token_b)),
            "another process's token": request(b, "POST", "/trigger/track", body=f"csrf={token_a}"),
            "a prefix of the token": request(b, "POST", "/trigger/track", body=f"csrf={token_b[:-1]}"),
            "the token plus more": request(b, "POST", "/trigger/track", body=f"csrf={token_b}x"),
            "token in the query": request(b, "POST", f"/trigger/track?csrf={token_b}", body=""),
            "token in a cookie": request(b, "POST", "/trigger/track", body="", headers={"Cookie": f"csrf={token_b}"}),
            "token in a header": request(b, "POST", "/trigger/track", body="", headers={"X-CSRF-Token": token_b}),
            "token as a bearer": request(b, "POST", "/trigger/track", headers={"Authorization": f"Bearer {token_b}"}),
            "a rebinding Host": request(b, "POST", "/trigger/track", body=f"csrf={token_b}",
                                        headers={"Host": "evil.example"}),
            "a multipart body": request(b, "POST", "/trigger/track",
                                        body=f'--x\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token_b}\r\n--x--',
                                        headers={"Content-Type": "multipart/form-data; boundary=x"}),
        }
        refused = {what: answer[0] for what, answer in attempts.items()}
        assert set(refused.values()) == {403}, refused
        for method in ("GET", "HEAD"):                  # a link or an <img> cannot trigger anything
            assert request(b, method, f"/trigger/track?csrf={token_b}")[0] == 404
        for method in ("PUT", "DELETE", "OPTIONS", "PATCH"):
            assert request(b, method, "/trigger/track", body=f"csrf={token_b}")[0] in (404, 405, 501)
        assert queued_files(home) == []
        assert request(b, "POST", "/trigger/track", body=f"csrf={token_b}", headers={"Content-Type": form})[0] == 303
        assert request(a, "POST", "/trigger/track", body=f"csrf={token_a}")[0] == 303
    assert len(queued_files(home)) == 2
    with serving(home, log) as c:                        # a restarted server: yesterday's page is refused
        assert request(c, "POST", "/trigger/track", body=f"csrf={token_b}")[0] == 403
    assert len(queued_files(home)) == 2


# ---------------------------------------------------------------- 4. binding

@pytest.mark.parametrize("bind", ["0.0.0.0", "", "0", "::", "[::]", "::ffff:127.0.0.1", "127.1", "0x7f000001",
                                  "localhost.", "10.0.0.1", "example.com"])
def test_a_bind_that_is_not_plainly_loopback_is_refused_without_allow_remote(home, bind):
    r = run_alive("serve", "--bind", bind, "--port", "0", home=home, timeout=15)
    assert r.returncode == 3 and r.stdout == "", (bind, r)
    assert "not a loopback address" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("value", ["", "   ", "\t"])
def test_allow_remote_needs_a_real_token_from_the_config_or_the_command_line(home, value):
    (home / "fleet.toml").write_text('[serve]\nbind = "0.0.0.0"\ntoken_env = "SEC_REMOTE_TOKEN"\n')
    r = run_alive("serve", "--port", "0", home=home, timeout=15)          # bind from fleet.toml, no flag
    assert r.returncode == 3 and "not a loopback address" in r.stderr and r.stdout == ""
    r = run_alive("serve", "--port", "0", "--allow-remote", home=home, timeout=15, env={"SEC_REMOTE_TOKEN": value})
    assert r.returncode == 3 and "$SEC_REMOTE_TOKEN is empty" in r.stderr and r.stdout == "", r


# ---------------------------------------------------------------- 5. tokens never printed

NTFY_ENV_TOKEN = "tkENV-7a1f93c0-ntfy-Qz"
NTFY_FILE_TOKEN = "tkFILE-55e2b8d4-ntfy-Wy"
SERVE_TOKEN = "tkSERVE-0b7c2e19-Xv"
TOKENS = (NTFY_ENV_TOKEN, NTFY_FILE_TOKEN, KV_TOKEN, SERVE_TOKEN)

# A program alive runs (producer, probe, notify command, after): it keeps its whole
# environment and stdin in a file under ALIVE_HOME, where the sweep below looks too.
ENV_DUMP = HEAD + """
name = os.path.basename(sys.argv[0]) + "." + str(os.getpid())
got = sys.stdin.read() if not sys.stdin.isatty() and "notify" in sys.argv[0] else ""
with open(os.path.join(HOME, "env-" + name + ".json"), "w") as f:
    json.dump({"env": dict(os.environ), "argv": sys.argv, "stdin": got}, f)
if "ALIVE_SOURCE_PATH" in os.environ:
    write_data({"captured_at": now_iso(), "env_keys": sorted(os.environ)})
if "probe" in sys.argv[0]:
    print("alive")
"""


def test_tokens_appear_in_no_file_and_no_output_of_a_whole_scenario(home, tmp_path):
    ntfy, kv = FakeNtfy(), FakeKv()
    ntfy.start()
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "ntfy-token").write_text(NTFY_FILE_TOKEN + "\n")
    for name in ("producer.py", "probe.py", "notify.py", "after.py"):
        (home / name).write_text(ENV_DUMP)
        (home / name).chmod(0o755)
    (home / "fleet.toml").write_text(f"""
[settings]
dashboard_url = "http://127.0.0.1:8765/"
[tasks.etl]
schedule = "every 1h"
run = ["{PY}", "-c", "print('etl did its job')"]
[sources.track]
path = "track.json"
max_age = "15m"
producer = ["./producer.py"]
after = ["./after.py"]
probe = "browser"
[sources.shop]
path = "shop.json"
max_age = "15m"
producer = ["./producer.py"]
[probes.browser]
command = ["./probe.py"]
interval = "10m"
[notify]
renotify = "0"
[notify.ntfy]
server = "{ntfy.url}"
topic = "fleet"
token_env = "ALIVE_NTFY_TOKEN"
token_file = "{secrets_dir / 'ntfy-token'}"
[notify.command]
argv = ["./notify.py"]
[triggers]
backend = "http-kv"
[triggers.http_kv]
url = "{kv.url}"
token_env = "ALIVE_KV_TOKEN"
prefix = "trigger:"
[serve]
token_env = "ALIVE_SERVE_TOKEN"
""")
    env = {"ALIVE_NTFY_TOKEN": NTFY_ENV_TOKEN, "ALIVE_KV_TOKEN": KV_TOKEN, "ALIVE_SERVE_TOKEN": SERVE_TOKEN}
    outputs = []

    def alive(*args, extra=None, expect=None):
        r = run_alive(*args, home=home, env={**env, **(extra or {})}, timeout=60, cwd=home)
        outputs.append((args, r.stdout + r.stderr))
        if expect is not None:
            assert r.returncode in expect, (args, r.returncode, r.stderr)
        return r

    try:
        alive("write", "etl", "--status", "error", "--summary", "token check", "--error", "it broke", expect=(0,))
        ntfy.mode = "500"
        alive("check", "--notify", expect=(2,))                     # RED: queued, the server said 500
        ntfy.mode = "200"
        alive("check", "--notify", expect=(2,))                     # delivered now
        alive("probe", expect=(0,))
        alive("watchdog", expect=(0, 1))                            # both sources refreshed by the producer
        alive("trigger", "track", expect=(0,))                      # a PUT to the KV stand-in
        alive("triggers", expect=(0, 1))
        alive("run", "etl", "--", PY, "-c", "print('fine')", expect=(0,))
        alive("write", "other", "--status", "error", expect=(0,))
        alive("check", "--notify", extra={"ALIVE_NTFY_TOKEN": ""}, expect=(2,))   # the token from token_file
        ntfy.mode = "400-echo"                                      # a server that echoes the Authorization header
        alive("write", "third", "--status", "error", expect=(0,))
        alive("check", "--notify", "--json", expect=(2,))
        ntfy.mode = "200"
        serve_log = tmp_path / "serve.log"
        with serving(home, serve_log, env=env) as s:
            page = request(s, "GET", "/")[2]
            assert request(s, "POST", "/trigger/shop", headers={"Authorization": f"Bearer {SERVE_TOKEN}"})[0] == 303
            assert request(s, "POST", "/trigger/shop", headers={"Authorization": f"Bearer {SERVE_TOKEN}x"})[0] == 403
            assert request(s, "POST", "/trigger/shop", body=f"csrf={csrf_of(page)}")[0] == 303
            outputs.append(("serve pages", page + request(s, "GET", "/status.json")[2]))
        outputs.append(("serve log", serve_log.read_text()))
        alive("triggers", expect=(0, 1))
        for fmt in ("text", "markdown", "json"):
            alive("report", "--format", fmt, expect=(0,))
        alive("report", "--format", "html", "--out", home / "site" / "index.html", expect=(0,))
        alive("export", "prometheus", "--out", home / "site" / "alive.prom", expect=(0,))
        alive("check", "--json", expect=(2,))
        alive("lint", "--json", expect=(0, 1, 2))
        alive("verify", expect=(0, 1, 2))
        for kind in ("crontab", "systemd", "launchd"):
            alive("schedule", kind, "--out", home / "units" / kind, expect=(0,))
            alive("schedule", kind, expect=(0,))
        alive("prune", "--days", "0", expect=(0,))
    finally:
        ntfy.stop()
        kv.stop()

    # the tokens were really in use: the stand-ins saw them
    auth = [r["headers"].get("Authorization") for r in ntfy.requests]
    assert f"Bearer {NTFY_ENV_TOKEN}" in auth and f"Bearer {NTFY_FILE_TOKEN}" in auth
    assert [r["answer"] for r in ntfy.requests][:2] == ["500", "200"]
    assert kv.requests("PUT") and kv.requests("DELETE") and all(ok for _, _, ok in kv.seen)
    dumps = list(home.glob("env-*.json"))
    assert {p.name.split(".")[0] for p in dumps} >= {"env-producer", "env-probe", "env-notify", "env-after"}
    # ... and they are nowhere: not in a file under ALIVE_HOME, not in any output
    files = [p for p in home.rglob("*") if p.is_file() and not p.is_symlink()]
    leaks = [(str(p.relative_to(home)), t) for p in files for t in TOKENS if t.encode() in p.read_bytes()]
    leaks += [(str(what), t) for what, text in outputs for t in TOKENS if t in text]
    assert leaks == [], "\n".join(map(str, sorted(set(leaks))))
    assert len(files) >= 40 and (home / "logs" / "notify.log").exists()
    assert "[redacted]" in (home / "logs" / "notify.log").read_text()        # the echo was scrubbed
