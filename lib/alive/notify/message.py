"""What every notify module shares: an event, a message (an outbox entry), a channel's
answer (Outcome), and the text shaping all of them need (a line cut to a size, a line
without control characters, secrets scrubbed)."""
import re
from dataclasses import dataclass, field

from alive.base import tokens

# ntfy's default message-size-limit is 4096 bytes, and a body that reaches it is no message:
# the server reads at most that many bytes (util/peek.go Peek: LimitReached = read == limit)
# and takes such a body as an attachment (server/server.go handlePublishBody), which a server
# without attachment-cache-dir refuses (400, code 40014 "attachments not allowed") and one
# with it delivers as a file the phone does not show. So a body is at most 4095 bytes.
NTFY_MESSAGE_MAX = 4095

INTO_RED, RENOTIFY, RECOVERED = "red", "renotify", "recovered"
SENT, RETRY, DROP = "sent", "retry", "drop"
NTFY, COMMAND = "ntfy", "command"
PRIORITIES = ("min", "low", "default", "high", "urgent")   # ntfy's names, quietest first


# ---------------------------------------------------------------- records

@dataclass
class Event:
    key: str                 # "task:NAME" | "source:NAME"
    kind: str                # INTO_RED | RENOTIFY | RECOVERED
    item: object             # health.Item
    red_since: str           # ISO start of the RED spell the event belongs to
    stamp: str               # ISO time that makes the event unique (spell start, or renotify time)

    @property
    def id(self):
        return f"{self.key}/{self.kind}/{self.stamp}"


@dataclass
class Message:
    """One outbox entry: what each channel gets once. `parts` are the events it tells,
    each {id, key, event, color, red_since, at, title, body, line, reasons}: reconcile()
    needs the first six, a later run that joins this message into a group the rest."""
    id: str
    created_at: str
    title: str
    body: str
    priority: str
    tags: list
    parts: list
    click: str | None = None
    delivered: dict = field(default_factory=dict)   # channel -> ISO time its answer came
    dropped: dict = field(default_factory=dict)     # channel -> why it refused for good
    attempts: int = 0
    last_error: str | None = None

    @classmethod
    def from_json(cls, data):
        """A Message from an outbox entry of the right shape (statefile.MESSAGE). An entry
        of the format before grouping has key/event/color/red_since instead of parts."""
        parts = data.get("parts")
        if parts is None:
            parts = [{"id": data["id"], **{k: data[k] for k in ("key", "event", "color", "red_since") if k in data},
                      "title": data["title"], "body": data["body"],
                      "line": f"{data['title']}: {'; '.join(data['body'].splitlines())}"}]
        return cls(id=data["id"], created_at=data["created_at"], title=data["title"], body=data["body"],
                   priority=data.get("priority", "default"), tags=data.get("tags", []), parts=parts,
                   click=data.get("click"), delivered=data.get("delivered", {}), dropped=data.get("dropped", {}),
                   attempts=data.get("attempts", 0), last_error=data.get("last_error"))

    @property
    def tried(self):
        return bool(self.attempts or self.delivered or self.dropped)


@dataclass
class Outcome:
    state: str               # SENT | RETRY | DROP
    reason: str


def fit_lines(lines, more, limit=NTFY_MESSAGE_MAX, max_lines=None, line_bytes=None):
    """The first of `lines` (each cut to `line_bytes`) that fit in `limit` bytes of UTF-8
    and `max_lines`, joined; when some are left out, a last line `more(how many)`."""
    lines = [cut_bytes(line, line_bytes or limit) for line in lines]
    kept, used = [], 0
    for n, line in enumerate(lines):
        rest = len(lines) - n - 1
        after = used + len(line.encode("utf-8")) + (1 if kept else 0)
        tail = len(more(rest).encode("utf-8")) + 1 if rest else 0
        if after + tail > limit or (max_lines is not None and n >= max_lines):
            break
        kept.append(line)
        used = after
    if len(kept) < len(lines):
        kept.append(cut_bytes(more(len(lines) - len(kept)), limit))
    return "\n".join(kept)


def cut_bytes(text, limit):
    """`text` in at most `limit` bytes of UTF-8, cut on a character and ending "…" when cut."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    return raw[:max(0, limit - 3)].decode("utf-8", "ignore") + "…"


# An escape sequence of a terminal: CSI (ESC [ ... final byte, or the one-byte C1 CSI), OSC
# (ESC ] ... BEL or ESC \\), or any other two-byte ESC x.
_ANSI = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")


def plain_line(text):
    """One line, no control character, no terminal escape: whitespace runs become a space."""
    text = " ".join(str(text).split())    # a header is one line: no CR/LF injection
    return "".join(ch for ch in _ANSI.sub("", text) if not _is_control(ch))


def _is_control(ch):
    """C0 and C1 control characters and DEL (Unicode category Cc)."""
    return ord(ch) < 0x20 or 0x7f <= ord(ch) < 0xa0


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def scrub(text, secrets):
    """Remove secrets and URL credentials from a text before it is logged or returned."""
    text = tokens.scrub(str(text))
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _USERINFO.sub(r"\1[redacted]@", text)

