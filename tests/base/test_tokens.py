"""tokens.py: which variables hold alive's tokens, and scrubbing them from text and streams."""
import importlib
from pathlib import Path

import pytest

from alive.base import tokens
from alive.config import registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh(monkeypatch):
    """tokens keeps what it learns for the life of the process: start each test clean."""
    importlib.reload(tokens)
    for name in ("ALIVE_NTFY_TOKEN", "ALIVE_KV_TOKEN", "ALIVE_SERVE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    yield tokens
    importlib.reload(tokens)


CONFIGS = [
    ((ROOT / "examples" / "fleet.toml").read_text(), set()),
    ('[notify]\nntfy = { topic = "t", token_env = "INLINE_TOK" }\n[serve]\ntoken_env=\'SERVE_TOK\'\n',
     {"INLINE_TOK", "SERVE_TOK"}),
    ('notify.ntfy.topic = "t"\nnotify.ntfy.token_env = "DOTTED_TOK"\n'
     '[triggers]\nbackend = "http-kv"\n[triggers.http_kv]\nurl = "https://x.example/kv"\ntoken_env = "KV_TOK"\n',
     {"DOTTED_TOK", "KV_TOK"}),
]


@pytest.mark.parametrize("text,configured", CONFIGS)
def test_the_cheap_scan_finds_every_token_variable_the_registry_names(tmp_path, text, configured, fresh):
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    reg = registry.load(path, tmp_path)
    named = {n for n in registry.secret_env_names(reg)}
    fresh.remember_config(path, tmp_path)
    assert named <= fresh.env_names()
    assert named == configured | set(fresh.CONVENTIONAL_ENV)


def test_token_files_are_read_relative_to_home(tmp_path, monkeypatch, fresh):
    (tmp_path / "secret").write_text("abcdef-123456\n")
    (tmp_path / "fleet.toml").write_text('[notify.ntfy]\ntopic = "t"\ntoken_file = "secret"\n')
    fresh.remember_config(tmp_path / "fleet.toml", tmp_path)
    assert fresh.scrub("token is abcdef-123456.") == "token is [redacted]."


def test_scrub_finds_the_raw_json_and_html_forms(monkeypatch, fresh):
    monkeypatch.setenv("ALIVE_NTFY_TOKEN", 'a"b<c>&d\'e\\f')
    fresh.remember()
    raw = 'a"b<c>&d\'e\\f'
    assert fresh.scrub(f"x {raw} y") == "x [redacted] y"
    assert fresh.scrub('x a\\"b<c>&d\'e\\\\f y') == "x [redacted] y"                     # inside a JSON string
    assert fresh.scrub("x a&quot;b&lt;c&gt;&amp;d&#x27;e\\f y") == "x [redacted] y"      # in HTML text
    assert fresh.scrub_bytes(raw.encode()) == b"[redacted]"


def test_short_values_are_not_scrubbed(monkeypatch, fresh):
    monkeypatch.setenv("ALIVE_NTFY_TOKEN", "abc")
    fresh.remember()
    assert fresh.scrub("abc abc") == "abc abc" and not fresh.active()


def test_a_token_split_anywhere_across_chunks_is_still_scrubbed(monkeypatch, fresh):
    token = "tk_0123456789abcdef"
    monkeypatch.setenv("ALIVE_KV_TOKEN", token)
    fresh.remember()
    text = f"before {token} middle {token}after".encode()
    for a in range(len(text)):
        for b in range(a, len(text), 7):
            s = fresh.StreamScrubber()
            out = s.feed(text[:a]) + s.feed(text[a:b]) + s.feed(text[b:]) + s.flush()
            assert out == b"before [redacted] middle [redacted]after", (a, b)


def test_without_tokens_a_stream_passes_through_at_once(fresh):
    s = fresh.StreamScrubber()
    assert s.feed(b"partial line") == b"partial line" and s.flush() == b""


def test_hidden_env_drops_configured_and_conventional_names(fresh):
    fresh.remember(["MY_NTFY"])
    env = fresh.hidden_env({"MY_NTFY": "1", "ALIVE_KV_TOKEN": "2", "PATH": "/bin"})
    assert env == {"PATH": "/bin"}
