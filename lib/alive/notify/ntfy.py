"""The ntfy channel: build() the POST of a message, send() it, classify() the answer
(sent / retry / refused for good), as every channel module does. The token is read at
send time (read_token), never stored. urllib is imported inside send(): a check with
nothing to deliver does not pay for it (DESIGN §8.10)."""
import os
from pathlib import Path

from alive.base import regular, tokens
from alive.cliutil import plural
from alive.notify import outgoing
from alive.notify.message import DROP, NTFY_MESSAGE_MAX, RETRY, SENT, Outcome, fit_lines, plain_line

NTFY_TIMEOUT_S = 10          # one POST, all of it (connect, send, answer); tests shorten it


def build(ntfy, msg, token=None):
    """The POST of `msg` to <server>/<topic>: a urllib Request."""
    import urllib.request

    headers = {"Title": header_value(tokens.scrub(msg.title)), "Priority": header_value(msg.priority),
               "Content-Type": "text/plain; charset=utf-8"}
    if msg.tags:
        headers["Tags"] = header_value(",".join(msg.tags))
    if msg.click:
        headers["Click"] = header_value(msg.click)
    # The same for every try of this message: ntfy 2.16+ clients show a repeat (a kill
    # between the server's answer and the save that records it) as an update, not twice.
    headers["X-Sequence-ID"] = sequence_id(msg.id)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{ntfy.server.rstrip('/')}/{ntfy.topic}"
    data = body(tokens.printable(msg.body)).encode("utf-8")   # no terminal escapes in a message
    return urllib.request.Request(url, data=data, headers=headers, method="POST")


def send(ntfy, msg, token=None):
    """POST the message to <server>/<topic>. -> Outcome; never raises for network trouble."""
    import http.client
    import urllib.error
    import urllib.request

    request = build(ntfy, msg, token)
    try:
        # NTFY_TIMEOUT_S is the deadline of the whole POST, not of each read (outgoing).
        answer = outgoing.exchange(request, NTFY_TIMEOUT_S, handlers=[_no_redirect_handler(urllib.request)])
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        # No answer came back (refused, reset, timeout, bad address): the message stays.
        reason = getattr(exc, "reason", None) or exc
        return Outcome(RETRY, str(reason) if isinstance(exc, outgoing.DeadlineExceeded)
                       else f"{type(exc).__name__}: {reason}")
    if answer.status < 300:
        return Outcome(SENT, f"HTTP {answer.status}")
    return classify(answer.status, _error_text(answer.body),
                    answer.headers.get("Location") if answer.headers else None)


def classify(code, text, location=None):
    """What an HTTP error status means for the message."""
    if code == 429 or code >= 500:
        return Outcome(RETRY, f"HTTP {code} {text}".rstrip())
    if 300 <= code < 400:
        # Not a refusal of the message: the address in fleet.toml is out of date. Keep it.
        return Outcome(RETRY, f"HTTP {code}: redirected to {location or '?'}; not followed, "
                              f"set [notify.ntfy] server to the final address")
    if 400 <= code < 500:
        return Outcome(DROP, f"HTTP {code} {text}".rstrip())
    return Outcome(RETRY, f"HTTP {code} {text}".rstrip())


def _error_text(raw):
    return " ".join(raw[:300].decode("utf-8", "replace").split())[:200]


def sequence_id(message_id):
    """A message's ntfy sequence id: stable, and within what ntfy accepts ([-_A-Za-z0-9],
    at most 64 characters; anything else is refused with a 400)."""
    import hashlib

    return "alive-" + hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]


def _no_redirect_handler(urllib_request):
    class NoRedirect(urllib_request.HTTPRedirectHandler):
        # urllib would follow a redirect carrying the Authorization header to wherever it
        # points; a 3xx is reported instead (see classify).
        def redirect_request(self, *args, **kwargs):
            return None

    return NoRedirect


def token_env(notify_cfg):
    return (notify_cfg.ntfy.token_env,) if notify_cfg.ntfy and notify_cfg.ntfy.token_env else ()


def read_token(ntfy):
    """(token or None, problem or None). No token configured is a public topic: (None, None).
    A configured token that cannot be read is a problem: sending without it would be
    refused with a 4xx and the message dropped, so the outbox keeps it instead."""
    if not ntfy.token_env and not ntfy.token_file:
        return None, None
    token, where = None, None
    if ntfy.token_env:
        token, where = (os.environ.get(ntfy.token_env) or "").strip(), f"environment variable {ntfy.token_env}"
    if not token and ntfy.token_file:
        where = f"token_file {ntfy.token_file}"
        try:
            token = regular.read_regular(Path(ntfy.token_file).expanduser()).decode("utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            return None, f"cannot read {where}: {getattr(exc, 'strerror', None) or type(exc).__name__}"
    if not token:
        return None, f"no ntfy token: {where} is empty or not set"
    if not (token.isascii() and token.isprintable()) or " " in token:
        return None, f"the ntfy token in {where} holds characters that cannot go in an HTTP header"
    return token, None


def body(text):
    """The body ntfy gets: under its message size limit whatever the message (a group is
    made to fit already; this cuts a single message's long reasons, or an older entry)."""
    return fit_lines(text.split("\n"), lambda n: f"... {plural(n, 'more line')} cut: ntfy takes "
                                                  f"{NTFY_MESSAGE_MAX + 1} bytes at most",
                     line_bytes=NTFY_MESSAGE_MAX // 2)


ENCODED_WORD_BYTES = 45      # 45 bytes of UTF-8 -> 60 base64 characters -> a 72-character word


def header_value(text):
    """A header value that survives HTTP's latin-1 headers.

    ntfy reads every header parameter through Go's mime.WordDecoder (server/util.go,
    maybeDecodeHeader), so RFC 2047 encoded-words (=?utf-8?b?...?=) carry UTF-8 safely;
    raw non-ASCII would be refused by http.client (outside latin-1) or arrive as mojibake.
    ASCII text goes as it is, unless it contains "=?", which the server would try to decode.
    Control characters go: Go's net/http, so ntfy, refuses a header value holding one
    with a 400 (server.go readRequest, httpguts.ValidHeaderFieldValue), and a colored
    error line's ANSI escapes would be one. Whitespace becomes single spaces."""
    import base64

    text = plain_line(text)
    if text.isascii() and "=?" not in text:
        return text
    words, chunk = [], b""
    for ch in text:                       # split on characters, never inside one
        raw = ch.encode("utf-8")
        if len(chunk) + len(raw) > ENCODED_WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += raw
    words.append(chunk)
    return " ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)
