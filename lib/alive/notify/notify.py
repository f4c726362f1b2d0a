"""Notifications (DESIGN §7, §9): flips -> messages -> outbox -> ntfy and/or a command.

after_check() is the one entry point, used by `alive check --notify` and the watchdog:
  1. compare each item's color with state/notify.json and decide the events: into RED,
     still RED after `renotify`, out of RED (recovery);
  2. group them: the events of one run are ONE message (a part per event; more than one
     part is titled "3 items RED", a line each), joined by the parts of any message an
     earlier run queued and never tried to send; a flip that reverted before its message
     was tried is not sent (coalesce);
  3. save that outbox, state/outbox.json, BEFORE notify.json: the outbox is a write-ahead
     log, so a crash between the two saves loses nothing, and reconcile() keeps the next
     run from deriving the same event twice;
  4. deliver the outbox, channel by channel, saving after every answer.

A message leaves the outbox once every configured channel has taken it or refused it for
good (a 4xx other than 429). It goes to a channel again only when no answer came back
(refused connection, timeout, 429, 5xx, a failing command), so a crash or an outage never
resends what was already answered; a kill between a server's answer and the save that
records it can (at least once, never lost). Each ntfy POST carries X-Sequence-ID, the same
for every try of one message: ntfy 2.16+ clients then show a repeat as an update of the
first notification, not a second one. The ntfy token is read at send time, never stored,
and scrubbed from every text this module writes or returns.

When state/ cannot be written (read-only, full), nothing can be recorded: the messages of
the run are still sent, each saying it may come again, and the summary says why
(`unrecorded`), so `check --notify` exits non-zero instead of printing "0 sent".

urllib, subprocess and fcntl are imported inside the functions that use them: a check
with nothing to deliver should not pay for them (DESIGN §8.10).
"""
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from alive.base import atomic, paths, statefile, tokens
from alive.notify import outgoing
from alive.check.health import GREY, RED, SKEW_S
from alive.base.timeutil import format_duration, format_iso, parse_iso, seconds_between

NTFY_TIMEOUT_S = 10          # one POST, all of it (connect, send, answer); tests shorten it
OUTBOX_MAX = 500             # over this, the oldest messages are dropped (and a log line says so)
LOCK_WAIT_S = 30             # another run delivering holds the lock at most about this long ...
DELIVERY_BUDGET_S = 120      # ... because one run stops sending after this, the rest waits
KILL_WAIT_S = 5              # after killing a timed-out command, how long to wait for its pipes
GROUP_LINES_MAX = 20         # a grouped message lists this many parts, then says how many more
# ntfy's default message-size-limit is 4096 bytes, and a body that reaches it is no message:
# the server reads at most that many bytes (util/peek.go Peek: LimitReached = read == limit)
# and takes such a body as an attachment (server/server.go handlePublishBody), which a server
# without attachment-cache-dir refuses (400, code 40014 "attachments not allowed") and one
# with it delivers as a file the phone does not show. So a body is at most 4095 bytes.
NTFY_MESSAGE_MAX = 4095
LINE_BYTES_MAX = 300         # one item's line in a grouped message: more items fit, each named
STATE_FILE = "notify.json"
OUTBOX_FILE = "outbox.json"
REFUSED_FILE = "refused.json"   # the messages a channel refused for good, newest last
REFUSED_KEPT = 20               # ... this many of them
REFUSED_SHOWN_S = 7 * 86400     # `alive verify` and the dashboard say a refusal for this long
LOG_FILE = "notify.log"

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


@dataclass
class Summary:
    events: int = 0
    sent: int = 0            # deliveries (message x channel) answered in this run
    queued: int = 0          # messages still in the outbox afterwards
    dropped: int = 0         # deliveries refused for good + messages pushed out of a full outbox
    warnings: list = field(default_factory=list)
    unrecorded: str | None = None   # why state/ could not be written (then nothing was recorded)

    def to_dict(self):
        return asdict(self)


# ---------------------------------------------------------------- entry point

def after_check(home, reg, result, now):
    """Notify the flips of `result` and deliver the outbox. Never raises for a bad
    channel or a bad state file: everything goes into the returned summary dict
    {events, sent, queued, dropped, warnings, unrecorded}; warnings also go to stderr."""
    from alive.base import locks

    home = Path(home)
    summary = Summary()
    if not configured_channels(reg.notify):
        summary.warnings.append("no notification channel configured: add [notify.ntfy] or [notify.command]")
    else:
        # One notifier at a time (watchdog and `check --notify` may overlap): two senders
        # would each deliver the same outbox message. A state/ that cannot even hold the
        # lock cannot record anything either: the run still sends, unrecorded.
        try:
            fd = locks.acquire(paths.state_dir(home) / "notify.lock", LOCK_WAIT_S)
        except OSError as exc:
            fd, summary.unrecorded = None, _why(exc)
        if fd is None and summary.unrecorded is None:
            summary.warnings.append("another run is delivering notifications; these flips wait for the next run")
        else:
            try:
                _run(home, reg, result, now, summary)
            finally:
                if fd is not None:
                    os.close(fd)
    for warning in summary.warnings:
        print(f"alive: notify: {warning}", file=sys.stderr)
    return summary.to_dict()


def _why(exc):
    return exc.strerror or str(exc)


def _run(home, reg, result, now, summary):
    log = Log(home, now, summary)
    state_path = paths.state_dir(home) / STATE_FILE
    outbox_path = paths.state_dir(home) / OUTBOX_FILE
    state, warning = statefile.load(state_path, now)
    log.warn(warning)
    messages, cancelled = read_outbox(outbox_path, now, log)
    items = state_entries(state)
    if settled(items, cancelled):
        cancelled = []               # notify.json already says what they say
    reconcile(items, messages, cancelled)
    items, events = plan(items, result.items, reg.notify, now, alert_sinces(home, result.items, items))
    summary.events = len(events)
    messages, new, joined, dropped = regroup(messages, events, reg, now)
    cancelled = cancelled + dropped
    gone = bound(messages, log)
    if summary.unrecorded is None:
        try:
            save_outbox(outbox_path, messages, cancelled)   # first: the write-ahead log
            statefile.save(state_path, {"version": 1, "items": items})
        except OSError as exc:
            summary.unrecorded = _why(exc)
    if summary.unrecorded is None:
        # Logged once it is true: when the outbox cannot be saved (a full disk), nothing was queued.
        if new:
            log.line(queued_text(new, events, joined))
        for part in dropped:
            log.line(not_sent_text(part))
        if gone:
            log.line(f"outbox full (max {OUTBOX_MAX}): dropped the {len(gone)} oldest: "
                     + ", ".join(m.id for m in gone))
    else:
        for msg in messages:     # unsaved: nothing says it was sent, so it may come again
            msg.body += f"\n(alive cannot write state/ ({summary.unrecorded}): this message may come again)"
    from alive.config.registry import secret_env_names

    sent = deliver(outbox_path, messages, reg.notify, log, cwd=home, hide_env=secret_env_names(reg),
                   cancelled=cancelled)
    summary.queued = len(messages)
    if summary.unrecorded is not None:     # the headline: said first
        text = unrecorded_text(paths.state_dir(home), summary.unrecorded, sent, len(messages))
        summary.warnings.insert(0, text)
        log.line(f"warning: {text}")


def unrecorded_text(state_dir, why, sent, left):
    if sent:
        text = f"{plural(sent, 'message')} of this run sent without being recorded: it may be sent again"
    elif not left:
        text = "nothing to send in this run, and nothing can be recorded"
    else:
        text = "nothing could be sent"
    if left:
        text += f"; {plural(left, 'message')} not delivered, tried again by the next run"
    return f"cannot write {state_dir}: {why}; {text}"


def plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def state_entries(state):
    """The per-item entries of notify.json (its shape is checked when it is read)."""
    return dict(state.get("items") or {})


# ---------------------------------------------------------------- flips (pure)

def item_key(item):
    return f"{item.kind}:{item.name}"


def alert_sinces(home, items, previous):
    """key -> the since of its alert file, for each item RED now and not RED before: a new
    spell starts when a check first saw it RED (alerts/), which may be before this run."""
    from alive.check import alerts

    found = {}
    for item in items:
        key = item_key(item)
        if item.color == RED and (previous.get(key) or {}).get("color") != RED:
            since = alerts.red_since(home, item)
            if since:
                found[key] = since
    return found


def plan(previous, items, notify_cfg, now, first_seen=None):
    """(state entries by key, health items, Notify, now, {key: since of a new RED spell})
    -> (new entries, events). Pure.

    An entry is {"color", "red_since", "notified_at"}; the last two only while RED. A new
    spell starts at `first_seen[key]` (the alert file's since), else now.
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
        entries[key], event = step(key, item, before, notify_cfg, now, (first_seen or {}).get(key))
        if event:
            events.append(event)
    return entries, events


def step(key, item, before, notify_cfg, now, first_seen=None):
    """One item: its new state entry and the event it causes, if any."""
    stamp = format_iso(now)
    was_red = before.get("color") == RED
    if item.color == RED:
        if not was_red:
            since = first_seen or stamp
            return {"color": RED, "red_since": since, "notified_at": stamp}, Event(key, INTO_RED, item, since, since)
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


def reconcile(entries, messages, cancelled=()):
    """Apply to the state what the outbox says happened: the parts of its messages, and
    the parts `cancelled` (flips that reverted before they were sent: coalesce), in the
    order they happened. Only matters after a crash between saving the outbox and saving
    notify.json: without it the next run would see the same flip again, stamp it with a
    new time, and send it a second time (or send the recovery of a RED it never sent)."""
    parts = [(p.get("at") or msg.created_at, p) for msg in messages for p in msg.parts]
    parts += [(p.get("at") or "", p) for p in cancelled]
    for at, part in sorted(parts, key=lambda ap: ap[0]):
        key, event = part.get("key"), part.get("event")
        entry = entries.get(key) or {}
        if event in (INTO_RED, RENOTIFY) and (entry.get("notified_at") or "") < at:
            entries[key] = {"color": RED, "red_since": part.get("red_since") or at, "notified_at": at}
        elif event == RECOVERED and entry.get("color") == RED and entry.get("red_since") == part.get("red_since"):
            entries[key] = {"color": part.get("color")}


def settled(entries, cancelled):
    """True when notify.json already holds what the cancelled parts say (they were saved
    with the outbox of a run that then saved notify.json too): they are needed no more."""
    def reds(es):
        return {k: (e.get("red_since"), e.get("notified_at")) for k, e in es.items() if e.get("color") == RED}

    after = {k: dict(v) for k, v in entries.items()}
    reconcile(after, [], cancelled)
    return reds(after) == reds(entries)


# ---------------------------------------------------------------- messages

def event_part(event, now):
    """One event as a part of a message: what reconcile() needs, and its texts: the
    title and body of a message of its own, and its line in a grouped message."""
    item = event.item
    label = f"{item.kind} {item.name}"
    since, lasted = f"since {event.red_since}", _lasted(event.red_since, now)
    why = "; ".join(item.reasons)
    if event.kind == RECOVERED:
        title = f"recovered: {label}"
        lines = [f"now {item.color}; was RED {since}" + (f" ({lasted})" if lasted else ""), *item.reasons]
        line = f"{title}: now {item.color}" + (f": {why}" if why else "") \
            + f" (was RED {since}" + (f", {lasted})" if lasted else ")")
    else:
        title = f"{'still RED' if event.kind == RENOTIFY else 'RED'}: {label}"
        # A reminder says how long it has lasted; a first message has lasted no time yet.
        if event.kind == RENOTIFY:
            lines = [*item.reasons, f"RED {since}" + (f" ({lasted})" if lasted else "")]
            when = since + (f", {lasted}" if lasted else "")
        else:
            lines, when = [*item.reasons, f"RED {since}"], f"RED {since}"
        line = f"{title}: " + (f"{why} " if why else "") + f"({when})"
    return {"id": event.id, "key": event.key, "event": event.kind, "color": item.color,
            "red_since": event.red_since, "at": format_iso(now), "title": title, "body": "\n".join(lines),
            "line": line, "reasons": list(item.reasons)}


def build_group(events, reg, now):
    """The message of one run's events: one message, whatever their number."""
    return message_of([event_part(e, now) for e in events], reg, now)


def message_of(parts, reg, now):
    """One message telling `parts`. A single part keeps its own title and body; more are a
    group: "3 items RED" (with their common reason, when they share one), a line each.
    The id is stable: the event's id, or one made of the parts' ids (never of `now`)."""
    import hashlib

    ntfy = reg.notify.ntfy
    configured = ntfy.priority if ntfy else "default"
    red = any(p["event"] != RECOVERED for p in parts)
    tag = "rotating_light" if red else "white_check_mark"
    extra = [t for t in (ntfy.tags if ntfy and ntfy.tags else []) if t != tag]
    if len(parts) == 1:
        msg_id, title, body = parts[0]["id"], parts[0]["title"], parts[0]["body"]
    else:
        ids = sorted(p["id"] for p in parts)
        newest = max(i.rsplit("/", 1)[-1] for i in ids)
        msg_id = f"group/{newest}/{hashlib.sha256(chr(10).join(ids).encode()).hexdigest()[:12]}"
        title, body = group_title(parts), group_body(parts, reg.settings.dashboard_url)
    return Message(id=msg_id, created_at=format_iso(now), title=title, body=body,
                   priority=max((part_priority(p, configured) for p in parts), key=_loudness), tags=[tag, *extra],
                   parts=list(parts),
                   click=reg.settings.dashboard_url or None)


ORDER = {INTO_RED: 0, RENOTIFY: 1, RECOVERED: 2}
WORDS = {INTO_RED: "RED", RENOTIFY: "still RED", RECOVERED: "recovered"}


def group_title(parts):
    counts = {kind: sum(1 for p in parts if p["event"] == kind) for kind in ORDER}
    said = [f"{n} {WORDS[kind]}" for kind, n in counts.items() if n]
    items = plural(len({p.get("key") for p in parts}), "item")
    if len(said) > 1:
        return f"{items}: " + ", ".join(said)
    title = f"{items} {WORDS[parts[0]['event']]}"
    if parts[0]["event"] != RECOVERED:
        # One expired login behind five sources: the title says the cause, the lines who.
        shared = [r for r in parts[0].get("reasons", []) if all(r in p.get("reasons", []) for p in parts)]
        if shared:
            title += f": {shared[-1]}"
    return title


def group_body(parts, dashboard=None):
    """A line per part: the new REDs first, then reminders, then recoveries (by what an
    item's last word is), and by name; an item told twice (recovered, then RED again)
    keeps its two lines in the order they happened."""
    by_key = {}
    for p in parts:
        by_key.setdefault(p.get("key") or "", []).append(p)
    ordered = sorted(by_key.items(), key=lambda kv: (ORDER.get(kv[1][-1].get("event"), 3), kv[0]))
    lines = [p.get("line") or p.get("title") or p["id"] for _, told in ordered for p in told]
    link = f"; {dashboard}" if dashboard else ""
    return fit_lines(lines, lambda n: f"... and {n} more (alive check lists them all{link})",
                     max_lines=GROUP_LINES_MAX, line_bytes=LINE_BYTES_MAX)


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


def ntfy_body(text):
    """The body ntfy gets: under its message size limit whatever the message (a group is
    made to fit already; this cuts a single message's long reasons, or an older entry)."""
    return fit_lines(text.split("\n"), lambda n: f"... {plural(n, 'more line')} cut: ntfy takes "
                                                  f"{NTFY_MESSAGE_MAX + 1} bytes at most",
                     line_bytes=NTFY_MESSAGE_MAX // 2)


def part_priority(part, configured):
    if part["event"] == RECOVERED:
        # A recovery is good news: never louder than "default", quieter if the user chose so.
        return configured if configured in ("min", "low") else "default"
    return configured


def _loudness(priority):
    """ntfy priorities by name or number (1-5), "max" being "urgent"."""
    text = str(priority).strip().lower()
    if text.isdigit():
        return int(text)
    return PRIORITIES.index(text) + 1 if text in PRIORITIES else 5 if text == "max" else 3


def _lasted(red_since, now):
    """How long a RED spell has lasted, as text (0s after the clock stepped back, never
    negative: format_duration), or None when its start is not a time."""
    try:
        return format_duration(seconds_between(parse_iso(red_since), now))
    except ValueError:
        return None


def queued_text(msg, events, joined):
    """The log line of a message queued: its id; for a group, the events of this run it
    tells and the unsent messages it replaces (tools count parts from these); its title."""
    told = f" events={','.join(e.id for e in events)}" if msg.id.startswith("group/") and events else ""
    replaces = f" joined={','.join(joined)}" if joined else ""
    return f"queued {msg.id}{told}{replaces} {msg.title!r}"


def not_sent_text(part):
    if part["event"] == INTO_RED:
        why = f"{part['key']} was RED and recovered before its message went out"
    elif part["event"] == RENOTIFY:
        why = f"a newer word on {part['key']} replaces this reminder"
    else:
        why = f"the RED of {part['key']} it recovers from was never sent"
    return f"not sent: {part['id']} ({why})"


def coalesce(parts):
    """The parts of messages never tried, in the order they happened -> (kept, dropped),
    each in that order. Per item: a RED and the recovery of the same spell cancel out (the
    flip reverted before anyone was told); a reminder followed by anything about the same
    item is dropped (the later word replaces it), and so is a reminder of a spell whose
    first RED has not been sent yet (that RED says it)."""
    kept, dropped, last = {}, set(), {}
    for n, part in enumerate(parts):
        key, event = part.get("key"), part.get("event")
        before = last.get(key)
        prev = parts[before] if before is not None else None
        if prev is not None and prev.get("event") == INTO_RED and event == RECOVERED \
                and prev.get("red_since") == part.get("red_since"):
            del kept[before]
            dropped |= {before, n}
            last.pop(key)
            continue
        if prev is not None and prev.get("event") == RENOTIFY:
            del kept[before]
            dropped.add(before)
        elif prev is not None and prev.get("event") == INTO_RED and event == RENOTIFY \
                and prev.get("red_since") == part.get("red_since"):
            dropped.add(n)
            continue
        kept[n] = part
        last[key] = n
    return list(kept.values()), [parts[n] for n in sorted(dropped)]


# ---------------------------------------------------------------- outbox

def read_outbox(path, now, log):
    """-> (messages, cancelled parts). A damaged outbox is set aside (its shape is
    statefile's), and the messages in it that can still be read are kept: each is a
    notification not yet sent."""
    doc, warning = statefile.load(path, now, salvage=_readable_messages)
    log.warn(warning)
    return [Message.from_json(m) for m in doc.get("messages") or []], list(doc.get("cancelled") or [])


def _readable_messages(data):
    raw = data.get("messages") if isinstance(data, dict) else None
    kept = [m for m in raw if statefile.MESSAGE(m, "") is None] if isinstance(raw, list) else []
    if not kept:
        return {}, None
    return {"messages": kept}, f"kept the {plural(len(kept), 'readable message')} in it"


def save_outbox(path, messages, cancelled=()):
    """The messages, and the parts cancelled until notify.json is known to hold them."""
    doc = {"version": 1, "messages": [asdict(m) for m in messages]}
    if cancelled:
        doc["cancelled"] = list(cancelled)
    statefile.save(path, doc)


def regroup(messages, events, reg, now):
    """This run's events join the parts of every message no run has tried to send yet,
    as ONE message at the end of the outbox; flips that reverted meanwhile are dropped
    (coalesce). -> (the outbox, the new message or None, the ids of the unsent messages
    it replaces, the parts dropped)."""
    untried = [m for m in messages if not m.tried]
    if not events and len(untried) <= 1:
        return messages, None, [], []
    parts = [p for m in untried for p in m.parts] + [event_part(e, now) for e in events]
    # The same event again (derived twice within one second after a crash): told once.
    seen = set()
    parts = [p for p in parts if not (p["id"] in seen or seen.add(p["id"]))]
    kept, dropped = coalesce(parts)
    new = message_of(kept, reg, now) if kept else None
    if new is not None and len(untried) == 1 and untried[0].id == new.id:
        return messages, None, [], dropped         # the same message again: no-op
    outbox = [m for m in messages if m.tried]
    return outbox + ([new] if new else []), new, [m.id for m in untried], dropped


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


def deliver(outbox_path, messages, notify_cfg, log, cwd=None, hide_env=None, cancelled=()):
    """Send each message to each channel that has not answered it yet, oldest first.
    -> how many messages at least one channel took in this run.
    A channel that fails once is left alone for the rest of this run (a server that is
    down would cost a timeout per message). The outbox is saved after every attempt, so
    a crash right after an answer cannot lead to a second send (`cancelled` is saved with
    it, see reconcile); when it cannot be saved (log.summary.unrecorded), sending goes on
    without saving. The command channel runs
    in `cwd` (ALIVE_HOME), so a relative argv works as it does for producers, without the
    variables in `hide_env` (every token variable of the registry; default: the ntfy one)."""
    channels = configured_channels(notify_cfg)
    token, token_problem = read_token(notify_cfg.ntfy) if notify_cfg.ntfy else (None, None)
    secrets = [token] if token else []
    resting = {}
    if token_problem:
        resting[NTFY] = token_problem
    deadline = time.monotonic() + DELIVERY_BUDGET_S
    taken = set()
    refused = []      # (message, channel, why) refused for good in this run

    def save():
        if log.summary.unrecorded is None:
            try:
                save_outbox(outbox_path, messages, cancelled)
            except OSError as exc:   # the disk filled up meanwhile: go on sending, unrecorded
                log.summary.unrecorded = _why(exc)

    stopped = False
    for msg in list(messages):
        for channel in [c for c in channels if c not in resting and not answered(msg, c)]:
            if time.monotonic() > deadline:
                stopped = True
                break
            first = not msg.tried
            msg.attempts += 1
            if first:
                # Saved as tried before it leaves: a message that may have reached a channel
                # is never joined into a new group (regroup), which would send it again
                # under another id and another ntfy sequence id.
                save()
            if channel == NTFY:
                outcome = send_ntfy(notify_cfg.ntfy, msg, token)
            else:
                outcome = send_command(notify_cfg.command, msg, cwd=cwd,
                                       hide_env=_token_env(notify_cfg) if hide_env is None else hide_env)
            outcome.reason = scrub(outcome.reason, secrets)
            record(msg, channel, outcome, log)
            if outcome.state == SENT:
                taken.add(msg.id)
            if outcome.state == RETRY:
                resting[channel] = outcome.reason
            if outcome.state == DROP:
                refused.append((msg, channel, outcome.reason))
            save()
        if stopped:
            break
        # Checked after the attempts, and also for a message whose remaining channel was
        # removed from fleet.toml since it was queued.
        if all(answered(msg, c) for c in channels):
            messages.remove(msg)
            save()
    tell_refused(outbox_path.parent / REFUSED_FILE, refused, channels, log, secrets)
    if stopped:
        log.warn(f"stopped after {DELIVERY_BUDGET_S}s of sending; the rest waits for the next run")
        return len(taken)
    for channel, reason in resting.items():
        if any(not answered(m, channel) for m in messages):
            kept = "kept for the next run" if log.summary.unrecorded is None else "and it cannot be kept"
            log.warn(f"{channel}: not delivered, {kept}: {reason}")
    return len(taken)


def tell_refused(path, refused, channels, log, secrets=()):
    """A message a channel refused for good is never dropped in silence: one line on stderr
    and in the log each, naming it, the answer and which other channel has it, and an entry
    in state/refused.json, which `alive verify` and the dashboard show (recent_refusals)."""
    if not refused:
        return
    entries = []
    for msg, channel, why in refused:
        title = scrub(plain_line(msg.title), secrets)
        reached = [c for c in channels if c != channel and c in msg.delivered]
        waiting = [c for c in channels if c != channel and not answered(msg, c)]
        if reached:
            where = f"it went to {', '.join(reached)}"
        elif waiting:
            where = f"it waits for {', '.join(waiting)} (tried again by the next run)"
        else:
            where = "no other channel has it (`alive check` shows what is RED)"
        log.warn(f"{channel} refused {title!r} for good: {why}; {where}")
        entries.append({"at": log.stamp, "channel": channel, "id": msg.id, "title": title, "reason": why,
                        "reached": reached})
    if log.summary.unrecorded is None:
        try:
            doc, warning = statefile.load(path, None)
            log.warn(warning)
            statefile.save(path, {"version": 1, "refused": (doc.get("refused", []) + entries)[-REFUSED_KEPT:]})
        except OSError as exc:
            log.summary.unrecorded = _why(exc)


def recent_refusals(home, now):
    """The refusals of the last REFUSED_SHOWN_S (state/refused.json), newest first; read
    only (a damaged file is ignored, saying so once)."""
    doc = statefile.peek(paths.state_dir(home) / REFUSED_FILE)
    return [e for e in (doc.get("refused") or [])[::-1]
            if seconds_between(parse_iso(e["at"]), now) <= REFUSED_SHOWN_S]   # its shape is statefile's


def refusals_text(refusals):
    """One line for a person: how many each channel refused, and the newest with its answer."""
    counts = {}
    for entry in refusals:
        counts[entry["channel"]] = counts.get(entry["channel"], 0) + 1
    newest = refusals[0]
    where = f"it went to {', '.join(newest['reached'])}" if newest.get("reached") else "no other channel had it then"
    return (" and ".join(f"{channel} refused {plural(n, 'message')}" for channel, n in counts.items())
            + f" for good in the last {format_duration(REFUSED_SHOWN_S)}; the newest, {newest['title']!r} at "
            f"{newest['at']}: {newest['reason']} ({where})")


def answered(msg, channel):
    """The channel took the message or refused it for good: never send it there again."""
    return channel in msg.delivered or channel in msg.dropped


def record(msg, channel, outcome, log):
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
            token = atomic.read_regular(Path(ntfy.token_file).expanduser()).decode("utf-8").strip()
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
    body = ntfy_body(tokens.printable(msg.body)).encode("utf-8")   # no terminal escapes in a message
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
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
    return http_outcome(answer.status, _error_text(answer.body),
                        answer.headers.get("Location") if answer.headers else None)


def sequence_id(message_id):
    """A message's ntfy sequence id: stable, and within what ntfy accepts ([-_A-Za-z0-9],
    at most 64 characters; anything else is refused with a 400)."""
    import hashlib

    return "alive-" + hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()[:40]


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


def _error_text(body):
    return " ".join(body[:300].decode("utf-8", "replace").split())[:200]


def send_command(command, msg, hide_env=(), cwd=None):
    """Run argv with the message on stdin; exit 0 is delivered. A timeout kills the
    command's whole process group (it runs in its own session)."""
    import signal
    import subprocess

    data = tokens.printable(f"{msg.title}\n\n{msg.body}\n").encode("utf-8")   # no terminal escapes either
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
