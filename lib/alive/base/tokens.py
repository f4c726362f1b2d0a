"""alive's own secrets (the ntfy, http-kv and serve tokens, serve's ping key): kept away from the programs
alive runs, and scrubbed from everything alive writes or says.

The tokens live in environment variables named by `token_env` keys and in `token_file`
files of fleet.toml. A command that loads the registry calls remember_registry(); the
write path (`alive write`, `alive run`), which must not pay for the registry, calls
remember_config(), a plain scan of fleet.toml's text for those two keys (a superset of
what the registry would name: scrubbing a value too many is harmless).

Once remembered, scrub()/scrub_bytes() replace every token, raw and as JSON or HTML would
escape it, in the text alive writes: every atomic file write (atomic.py), log line,
heartbeat, notification and report goes through here. Tokens shorter than MIN_LEN are
not scrubbed: replacing every "ab" of a report would hide more than it protects.

No imports beyond os: this module is on the path of every heartbeat write.
"""
import os

# alive's conventional names: never handed to a job even when fleet.toml names others.
CONVENTIONAL_ENV = ("ALIVE_NTFY_TOKEN", "ALIVE_KV_TOKEN", "ALIVE_SERVE_TOKEN", "ALIVE_PING_KEY")
MIN_LEN = 4
REDACTED = "[redacted]"

_env_names = set(CONVENTIONAL_ENV)
_values = []           # the tokens, longest first (a token containing another is replaced whole)
_forms = []            # (bytes to find, bytes to put) for scrub_bytes


def env_names():
    """The variables that hold alive's tokens: configured and conventional."""
    return set(_env_names)


def hidden_env(environ=None):
    """A copy of the environment without alive's token variables (for programs alive runs)."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if k not in _env_names}


def remember(names=(), files=()):
    """Note token variables and token files; their current values are scrubbed from now on."""
    _env_names.update(n for n in names if n)
    found = {(os.environ.get(n) or "").strip() for n in _env_names}
    from alive.base.regular import read_regular

    for path in files:
        try:
            found.add(read_regular(os.path.expanduser(os.fspath(path)))[:4096].decode("utf-8", "replace").strip())
        except OSError:
            continue
    new = {v for v in found if len(v) >= MIN_LEN} - set(_values)
    if new:
        _values.extend(new)
        _values.sort(key=len, reverse=True)
        _forms[:] = [(form.encode("utf-8"), REDACTED.encode()) for v in _values for form in _escaped_forms(v)]


def _escaped_forms(value):
    """The token as it appears raw, inside a JSON string, and in HTML text."""
    forms = [value]
    json_form = value.replace("\\", "\\\\").replace('"', '\\"')
    html_form = (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                 .replace('"', "&quot;").replace("'", "&#x27;"))
    return forms + [f for f in (json_form, html_form) if f != value]


def remember_registry(reg):
    """The tokens a loaded registry names (ntfy, http-kv, serve)."""
    names = [reg.notify.ntfy.token_env if reg.notify.ntfy else None,
             reg.triggers.http_kv.token_env if reg.triggers.http_kv else None,
             reg.serve.token_env, reg.serve.ping_key_env]
    files = [reg.notify.ntfy.token_file] if reg.notify.ntfy and reg.notify.ntfy.token_file else []
    remember(names, files)


def remember_config(path, home):
    """The write path's cheap version: token_env / token_file values found in fleet.toml's
    text, wherever they stand (tables, inline tables, dotted keys)."""
    from alive.base.regular import read_regular

    try:
        text = read_regular(path)[: 1 << 20].decode("utf-8", "replace")
    except OSError:
        remember()
        return
    files = []
    for raw in quoted_values(text, "token_file"):
        p = os.path.expanduser(raw)
        files.append(p if os.path.isabs(p) else os.path.join(home, p))
    remember(quoted_values(text, "token_env") + quoted_values(text, "ping_key_env"), files)


def quoted_values(text, key):
    """Every "value" or 'value' that follows `key =` in text (comments included: a value
    too many is harmless)."""
    out, start = [], 0
    while True:
        i = text.find(key, start)
        if i < 0:
            return out
        start = i + len(key)
        rest = text[start:start + 300].lstrip(" \t")
        if not rest.startswith("="):
            continue
        rest = rest[1:].lstrip(" \t")
        if rest[:1] in ("'", '"'):
            end = rest.find(rest[0], 1)
            if end > 1:
                out.append(rest[1:end])


def active():
    return bool(_values)


def scrub(text):
    """text with every remembered token replaced by [redacted]."""
    if not _values or not isinstance(text, str):
        return text
    for value in _values:
        for form in _escaped_forms(value):
            if form in text:
                text = text.replace(form, REDACTED)
    return text


# C0 controls but tab and newline, DEL and C1: an ESC or OSC sequence from a job's output or a
# ping's body would move the cursor, clear the screen or retitle the operator's terminal.
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7f, 0xa0)) if c not in (0x09, 0x0a)}


def printable(text):
    """text fit for a terminal or a message: scrubbed, and every control character but
    newline and tab shown as the escape that writes it (ESC -> \\x1b)."""
    return scrub(str(text)).translate(_CONTROLS)


def scrub_bytes(data):
    if not _forms:
        return data
    for form, put in _forms:
        if form in data:
            data = data.replace(form, put)
    return data


def scrub_obj(value):
    """A JSON-like value with every string scrubbed (dict keys too)."""
    if not _values:
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(k): scrub_obj(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_obj(v) for v in value]
    return value


class StreamScrubber:
    """Scrub a byte stream that arrives in chunks: a token split between two chunks is
    still found, because the last len(longest token) - 1 bytes wait for the next chunk."""

    def __init__(self):
        self.held = b""
        self.keep = max((len(f) for f, _ in _forms), default=1) - 1

    def feed(self, chunk):
        if not _forms:
            return chunk
        data = scrub_bytes(self.held + chunk)
        cut = max(len(data) - self.keep, 0)
        self.held = data[cut:]
        return data[:cut]

    def flush(self):
        data, self.held = scrub_bytes(self.held), b""
        return data
