"""From flips to messages (DESIGN §7): plan() compares each item's color with
state/notify.json and derives the events (into RED, still RED after `renotify`, recovered);
reconcile() applies what the outbox says happened; event_part(), message_of() and
coalesce() make one message of one run's events, with its title and body. Pure, but for
alert_sinces(), which reads alerts/."""
from alive.check.health import GREY, RED, SKEW_S
from alive.base.timeutil import format_duration, format_iso, parse_iso, seconds_between
from alive.cliutil import plural
from alive.notify.message import INTO_RED, PRIORITIES, RECOVERED, RENOTIFY, Event, Message, fit_lines

GROUP_LINES_MAX = 20         # a grouped message lists this many parts, then says how many more
LINE_BYTES_MAX = 300         # one item's line in a grouped message: more items fit, each named


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


