"""Notifications (DESIGN §7, §9): flips -> messages -> outbox -> ntfy and/or a command.

after_check() is the one entry point, used by `alive check --notify` and the watchdog:
  1. compare each item's color with state/notify.json and decide the events: into RED,
     still RED after `renotify`, out of RED (recovery);
  2. append their messages to state/outbox.json, which is saved BEFORE notify.json: the
     outbox is a write-ahead log, so a crash between the two saves loses nothing, and
     reconcile() keeps the next run from deriving the same event twice;
  3. deliver the outbox, channel by channel, saving after every answer.

A message leaves the outbox once every configured channel has taken it or refused it for
good (a 4xx other than 429). It goes to a channel again only when no answer came back
(refused connection, timeout, 429, 5xx, a failing command), so a crash or an outage never
resends what was already answered. The ntfy token is read at send time, never stored, and
scrubbed from every text this module writes or returns.

urllib, subprocess and fcntl are imported inside the functions that use them: a check
with nothing to deliver should not pay for them (DESIGN §8.10).
"""
import os
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from . import atomic, paths, statefile, tokens
from .health import GREY, RED, SKEW_S
from .timeutil import format_duration, format_iso, parse_iso, seconds_between

NTFY_TIMEOUT_S = 10          # one POST; tests shorten it
OUTBOX_MAX = 500             # over this, the oldest messages are dropped (and a log line says so)
LOCK_WAIT_S = 30             # another run delivering holds the lock at most about this long ...
DELIVERY_BUDGET_S = 120      # ... because one run stops sending after this, the rest waits
KILL_WAIT_S = 5              # after killing a timed-out command, how long to wait for its pipes
STATE_FILE = "notify.json"
OUTBOX_FILE = "outbox.json"
LOG_FILE = "notify.log"

INTO_RED, RENOTIFY, RECOVERED = "red", "renotify", "recovered"
SENT, RETRY, DROP = "sent", "retry", "drop"
NTFY, COMMAND = "ntfy", "command"


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
    id: str
    key: str
    event: str
    color: str               # the item's color when the event happened (reconcile() needs it)
    red_since: str
    created_at: str
    title: str
    body: str
    priority: str
    tags: list
    click: str | None = None
    delivered: dict = field(default_factory=dict)   # channel -> ISO time its answer came
    dropped: dict = field(default_factory=dict)     # channel -> why it refused for good
    attempts: int = 0
    last_error: str | None = None

    @classmethod
    def from_json(cls, data):
        """A Message from its outbox entry, or None when the entry is not one."""
        if not isinstance(data, dict):
            return None
        try:
            msg = cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
        except TypeError:
            return None
        # Types that delivery relies on: a string `delivered` would make "ntfy" in "...ntfy..." true.
        shapes = ((msg.id, str), (msg.key, str), (msg.title, str), (msg.body, str), (msg.created_at, str),
                  (msg.tags, list), (msg.delivered, dict), (msg.dropped, dict), (msg.attempts, int))
        return msg if all(isinstance(value, kind) for value, kind in shapes) else None


@dataclass
class Outcome:
    state: str               # SENT | RETRY | DROP
    reason: str


@dataclass
class Summary:
    events: int = 0
    sent: int = 0            # deliveries (message x channel) answered in this run
    queued: int = 0          # messages still in the outbox afterwards
    dropped: int = 0         # deliveries refused for good + messages pushed out of a full outbox
    warnings: list = field(default_factory=list)

    def to_dict(self):
        return asdict(self)


# ---------------------------------------------------------------- entry point

def after_check(home, reg, result, now):
    """Notify the flips of `result` and deliver the outbox. Never raises for a bad
    channel or a bad state file: everything goes into the returned summary dict
    {events, sent, queued, dropped, warnings}; warnings also go to stderr."""
    home = Path(home)
    summary = Summary()
    if not configured_channels(reg.notify):
        summary.warnings.append("no notification channel configured: add [notify.ntfy] or [notify.command]")
    else:
        try:
            with _locked(paths.state_dir(home) / "notify.lock") as got:
                if got:
                    _run(home, reg, result, now, summary)
                else:
                    summary.warnings.append("another run is delivering notifications; these flips wait for the next run")
        except OSError as exc:
            # An unwritable state/ must not break the check that called us (DESIGN §8.5).
            summary.warnings.append(f"notifications not processed: {exc}")
    for warning in summary.warnings:
        print(f"alive: notify: {warning}", file=sys.stderr)
    return summary.to_dict()


def _run(home, reg, result, now, summary):
    log = Log(home, now, summary)
    state_path = paths.state_dir(home) / STATE_FILE
    outbox_path = paths.state_dir(home) / OUTBOX_FILE
    state, warning = statefile.load(state_path, now)
    log.warn(warning)
    messages = read_outbox(outbox_path, now, log)
    items = state_entries(state)
    reconcile(items, messages)
    items, events = plan(items, result.items, reg.notify, now)
    summary.events = len(events)
    queued = [msg for msg in (build_message(event, reg, now) for event in events) if enqueue(messages, msg)]
    gone = bound(messages, log)
    save_outbox(outbox_path, messages)           # first: the write-ahead log
    # Logged once it is true: when the outbox cannot be saved (a full disk), nothing was queued.
    for msg in queued:
        log.line(f"queued {msg.id} {msg.title!r}")
    if gone:
        log.line(f"outbox full (max {OUTBOX_MAX}): dropped the {len(gone)} oldest: " + ", ".join(m.id for m in gone))
    statefile.save(state_path, {"version": 1, "items": items})
    from .registry import secret_env_names

    deliver(outbox_path, messages, reg.notify, log, cwd=home, hide_env=secret_env_names(reg))
    summary.queued = len(messages)


def state_entries(state):
    """The per-item entries of notify.json, ignoring anything that is not one."""
    raw = state.get("items")
    if not isinstance(raw, dict):
        return {}
    return {key: entry for key, entry in raw.items() if isinstance(entry, dict)}


@contextmanager
def _locked(lock_path):
    """One notifier at a time (watchdog and `check --notify` may overlap): two senders
    would each deliver the same outbox message. Waits at most LOCK_WAIT_S; yields False
    when the lock could not be had."""
    from . import locks

    fd = locks.acquire(lock_path, LOCK_WAIT_S)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


# ---------------------------------------------------------------- flips (pure)

def item_key(item):
    return f"{item.kind}:{item.name}"


def plan(previous, items, notify_cfg, now):
    """(state entries by key, health items, Notify, now) -> (new entries, events). Pure.

    An entry is {"color", "red_since", "notified_at"}; the last two only while RED.
    A blocked item keeps its entry untouched: it is neither alerted nor recovered until
    its dependency is back. Items that are gone from the result lose their entry."""
    entries, events = {}, []
    for item in items:
        key = item_key(item)
        before = previous.get(key) or {}
        if item.details.get("blocked_by"):
            if before:
                entries[key] = before
            continue
        entries[key], event = step(key, item, before, notify_cfg, now)
        if event:
            events.append(event)
    return entries, events


def step(key, item, before, notify_cfg, now):
    """One item: its new state entry and the event it causes, if any."""
    stamp = format_iso(now)
    was_red = before.get("color") == RED
    if item.color == RED:
        if not was_red:
            return {"color": RED, "red_since": stamp, "notified_at": stamp}, Event(key, INTO_RED, item, stamp, stamp)
        entry = dict(before)
        spell = before.get("red_since") or stamp
        if renotify_due(before.get("notified_at"), notify_cfg.renotify, now):
            entry["notified_at"] = stamp
            return entry, Event(key, RENOTIFY, item, spell, stamp)
        return entry, None
    entry = {"color": item.color}
    # GREY means a person paused it: they know, and it has not recovered.
    if was_red and item.color != GREY and notify_cfg.recovery:
        spell = before.get("red_since") or stamp
        return entry, Event(key, RECOVERED, item, spell, spell)
    return entry, None


def renotify_due(notified_at, renotify_s, now):
    """True when `renotify_s` seconds or more have passed since the last RED message, or
    when that message is dated more than SKEW_S ahead of now: the clock stepped back, and
    waiting for it to catch up could be months of silence (the reminder then restarts
    the count from now, so a clock that stepped back costs one reminder, not one per check)."""
    if not renotify_s:
        return False
    try:
        elapsed = seconds_between(parse_iso(notified_at), now)
    except (TypeError, ValueError):
        return True  # a hand-edited or damaged time: better one message too many than silence
    return elapsed >= renotify_s or elapsed < -SKEW_S


def reconcile(entries, messages):
    """Apply to the state what queued messages say happened. Only matters after a crash
    between saving the outbox and saving notify.json: without it the next run would see
    the same flip again, stamp it with a new time, and send it a second time."""
    for msg in messages:
        entry = entries.get(msg.key) or {}
        if msg.event in (INTO_RED, RENOTIFY) and (entry.get("notified_at") or "") < msg.created_at:
            entries[msg.key] = {"color": RED, "red_since": msg.red_since, "notified_at": msg.created_at}
        elif msg.event == RECOVERED and entry.get("color") == RED and entry.get("red_since") == msg.red_since:
            entries[msg.key] = {"color": msg.color}


# ---------------------------------------------------------------- messages

def build_message(event, reg, now):
    item, ntfy = event.item, reg.notify.ntfy
    label = f"{item.kind} {item.name}"
    spell = _spell_text(event.red_since, now)
    configured = ntfy.priority if ntfy else "default"
    if event.kind == RECOVERED:
        title = f"recovered: {label}"
        lines = [f"now {item.color}; was RED {spell}", *item.reasons]
        # A recovery is good news: never louder than "default", quieter if the user chose so.
        priority = configured if configured in ("min", "low") else "default"
        tag = "white_check_mark"
    else:
        title = f"{'still RED' if event.kind == RENOTIFY else 'RED'}: {label}"
        # A reminder says how long it has lasted; a first message has lasted no time yet.
        lines = [*item.reasons, f"RED {spell}" if event.kind == RENOTIFY else f"RED since {event.red_since}"]
        priority, tag = configured, "rotating_light"
    extra = [t for t in (ntfy.tags if ntfy and ntfy.tags else []) if t != tag]
    return Message(id=event.id, key=event.key, event=event.kind, color=item.color, red_since=event.red_since,
                   created_at=format_iso(now), title=title, body="\n".join(lines), priority=priority,
                   tags=[tag, *extra], click=reg.settings.dashboard_url or None)


def _spell_text(red_since, now):
    try:
        return f"since {red_since} ({format_duration(seconds_between(parse_iso(red_since), now))})"
    except ValueError:
        return f"since {red_since}"


# ---------------------------------------------------------------- outbox

def read_outbox(path, now, log):
    doc, warning = statefile.load(path, now)
    log.warn(warning)
    raw = doc.get("messages")
    if raw is None:
        return []
    if not isinstance(raw, list):
        log.warn(f"{OUTBOX_FILE}: 'messages' is not a list; starting with an empty outbox")
        return []
    messages = [Message.from_json(m) for m in raw]
    if None in messages:
        log.warn(f"{OUTBOX_FILE}: skipped {messages.count(None)} entries that are not messages")
    return [m for m in messages if m is not None]


def save_outbox(path, messages):
    statefile.save(path, {"version": 1, "messages": [asdict(m) for m in messages]})


def enqueue(messages, msg, log=None):
    """Append msg unless a message with its id is already waiting: same event, no-op.
    -> True when appended (the caller logs it once the outbox is saved)."""
    if any(m.id == msg.id for m in messages):
        return False
    messages.append(msg)
    return True


def bound(messages, log):
    """Keep the outbox at OUTBOX_MAX: an outage of weeks must not grow it without end.
    -> the messages dropped (the caller logs them once the outbox is saved)."""
    excess = len(messages) - OUTBOX_MAX
    if excess <= 0:
        return []
    gone = messages[:excess]
    del messages[:excess]
    log.summary.dropped += excess
    return gone


# ---------------------------------------------------------------- delivery

def configured_channels(notify_cfg):
    return [name for name, cfg in ((NTFY, notify_cfg.ntfy), (COMMAND, notify_cfg.command)) if cfg]


def deliver(outbox_path, messages, notify_cfg, log, cwd=None, hide_env=None):
    """Send each message to each channel that has not answered it yet, oldest first.
    A channel that fails once is left alone for the rest of this run (a server that is
    down would cost a timeout per message). The outbox is saved after every attempt, so
    a crash right after an answer cannot lead to a second send. The command channel runs
    in `cwd` (ALIVE_HOME), so a relative argv works as it does for producers, without the
    variables in `hide_env` (every token variable of the registry; default: the ntfy one)."""
    channels = configured_channels(notify_cfg)
    token, token_problem = read_token(notify_cfg.ntfy) if notify_cfg.ntfy else (None, None)
    secrets = [token] if token else []
    resting = {}
    if token_problem:
        resting[NTFY] = token_problem
    deadline = time.monotonic() + DELIVERY_BUDGET_S
    for msg in list(messages):
        for channel in [c for c in channels if c not in resting and not answered(msg, c)]:
            if time.monotonic() > deadline:
                log.warn(f"stopped after {DELIVERY_BUDGET_S}s of sending; the rest waits for the next run")
                return
            if channel == NTFY:
                outcome = send_ntfy(notify_cfg.ntfy, msg, token)
            else:
                outcome = send_command(notify_cfg.command, msg, cwd=cwd,
                                       hide_env=_token_env(notify_cfg) if hide_env is None else hide_env)
            outcome.reason = scrub(outcome.reason, secrets)
            record(msg, channel, outcome, log)
            if outcome.state == RETRY:
                resting[channel] = outcome.reason
            save_outbox(outbox_path, messages)
        # Checked after the attempts, and also for a message whose remaining channel was
        # removed from fleet.toml since it was queued.
        if all(answered(msg, c) for c in channels):
            messages.remove(msg)
            save_outbox(outbox_path, messages)
    for channel, reason in resting.items():
        if any(not answered(m, channel) for m in messages):
            log.warn(f"{channel}: not delivered, kept for the next run: {reason}")


def answered(msg, channel):
    """The channel took the message or refused it for good: never send it there again."""
    return channel in msg.delivered or channel in msg.dropped


def record(msg, channel, outcome, log):
    msg.attempts += 1
    if outcome.state == SENT:
        msg.delivered[channel] = log.stamp
        msg.last_error = None
        log.summary.sent += 1
        log.line(f"sent {channel} {msg.id} {msg.title!r}")
    elif outcome.state == DROP:
        msg.dropped[channel] = outcome.reason
        log.summary.dropped += 1
        log.line(f"dropped {channel} {msg.id}: {outcome.reason}")
    else:
        msg.last_error = f"{channel}: {outcome.reason}"
        log.line(f"retry-later {channel} {msg.id}: {outcome.reason}")


def _token_env(notify_cfg):
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
            token = Path(ntfy.token_file).expanduser().read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            return None, f"cannot read {where}: {getattr(exc, 'strerror', None) or type(exc).__name__}"
    if not token:
        return None, f"no ntfy token: {where} is empty or not set"
    if not (token.isascii() and token.isprintable()) or " " in token:
        return None, f"the ntfy token in {where} holds characters that cannot go in an HTTP header"
    return token, None


def send_ntfy(ntfy, msg, token=None):
    """POST the message to <server>/<topic>. -> Outcome; never raises for network trouble."""
    import http.client
    import urllib.error
    import urllib.request

    headers = {"Title": header_value(tokens.scrub(msg.title)), "Priority": str(msg.priority),
               "Content-Type": "text/plain; charset=utf-8"}
    if msg.tags:
        headers["Tags"] = header_value(",".join(msg.tags))
    if msg.click:
        headers["Click"] = header_value(msg.click)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = f"{ntfy.server.rstrip('/')}/{ntfy.topic}"
    request = urllib.request.Request(url, data=tokens.scrub(msg.body).encode("utf-8"), headers=headers, method="POST")
    opener = urllib.request.build_opener(_no_redirect_handler(urllib.request))
    try:
        with opener.open(request, timeout=NTFY_TIMEOUT_S) as response:
            response.read(65536)
            return Outcome(SENT, f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        return http_outcome(exc.code, _error_text(exc), exc.headers.get("Location") if exc.headers else None)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        # No answer came back (refused, reset, timeout, bad address): the message stays.
        reason = getattr(exc, "reason", None) or exc
        return Outcome(RETRY, f"{type(exc).__name__}: {reason}")


def _no_redirect_handler(urllib_request):
    class NoRedirect(urllib_request.HTTPRedirectHandler):
        # urllib would follow a redirect carrying the Authorization header to wherever it
        # points; a 3xx is reported instead (see http_outcome).
        def redirect_request(self, *args, **kwargs):
            return None

    return NoRedirect


def http_outcome(code, text, location=None):
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


def _error_text(exc):
    try:
        raw = exc.read(300)
    except Exception:  # the body of an error answer is a courtesy; any failure reading it is not ours
        return ""
    return " ".join(raw.decode("utf-8", "replace").split())[:200]


def send_command(command, msg, hide_env=(), cwd=None):
    """Run argv with the message on stdin; exit 0 is delivered. A timeout kills the
    command's whole process group (it runs in its own session)."""
    import signal
    import subprocess

    data = tokens.scrub(f"{msg.title}\n\n{msg.body}\n").encode("utf-8")
    # The ntfy token has no business in the command's environment.
    env = {k: v for k, v in os.environ.items() if k not in hide_env}
    try:
        proc = subprocess.Popen(command.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True)
    except (OSError, ValueError) as exc:
        return Outcome(RETRY, f"cannot start {command.argv[0]}: {getattr(exc, 'strerror', None) or exc}")
    try:
        _, err = proc.communicate(data, timeout=command.timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            proc.communicate(timeout=KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            proc.kill()  # a grandchild left the group and holds the pipes; ours is gone
            proc.wait(timeout=KILL_WAIT_S)
        return Outcome(RETRY, f"{command.argv[0]} timed out after {format_duration(command.timeout)} and was killed")
    if proc.returncode != 0:
        tail = " ".join(err.decode("utf-8", "replace").split())[-200:]
        return Outcome(RETRY, f"{command.argv[0]} exited {proc.returncode}" + (f": {tail}" if tail else ""))
    return Outcome(SENT, "exit 0")


# ---------------------------------------------------------------- text helpers

ENCODED_WORD_BYTES = 45      # 45 bytes of UTF-8 -> 60 base64 characters -> a 72-character word


def header_value(text):
    """A header value that survives HTTP's latin-1 headers.

    ntfy reads every header parameter through Go's mime.WordDecoder (server/util.go,
    maybeDecodeHeader), so RFC 2047 encoded-words (=?utf-8?b?...?=) carry UTF-8 safely;
    raw non-ASCII would be refused by http.client (outside latin-1) or arrive as mojibake.
    ASCII text goes as it is, unless it contains "=?", which the server would try to decode."""
    import base64

    text = " ".join(str(text).split())    # a header is one line: no CR/LF injection
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


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@")


def scrub(text, secrets):
    """Remove secrets and URL credentials from a text before it is logged or returned."""
    text = tokens.scrub(str(text))
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return _USERINFO.sub(r"\1[redacted]@", text)


class Log:
    """logs/notify.log, one line per event; also collects warnings for the summary."""

    def __init__(self, home, now, summary):
        self.path = paths.logs_dir(home) / LOG_FILE
        self.stamp = format_iso(now)
        self.summary = summary
        self._failed = False

    def line(self, text):
        """Append one line, whole or not at all (atomic.append_line)."""
        try:
            atomic.append_line(self.path, f"{self.stamp} {text}")
        except OSError as exc:
            if not self._failed:      # say it once, not once per line
                self._failed = True
                self.summary.warnings.append(f"cannot write {self.path}: {exc.strerror or exc}")

    def warn(self, warning):
        if warning:
            self.summary.warnings.append(warning)
            self.line(f"warning: {warning}")
