"""The outbox, state/outbox.json: a write-ahead log of the messages not yet answered by
every channel. read_outbox() / save_outbox() keep it, regroup() adds a run's events as one
message, bound() keeps it at OUTBOX_MAX, deliver() sends each message to each channel module
(ntfy.py, command.py) and record()s the answer; tell_refused() keeps state/refused.json,
which recent_refusals() reads for `alive verify` and the dashboard."""
import time
from dataclasses import asdict

from alive.base import paths, statefile
from alive.base.timeutil import format_duration, parse_iso, seconds_between
from alive.cliutil import plural
from alive.notify import command, ntfy
from alive.notify.grouping import coalesce, event_part, message_of
from alive.notify.message import COMMAND, DROP, NTFY, RETRY, SENT, Message, plain_line, scrub

OUTBOX_MAX = 500             # over this, the oldest messages are dropped (and a log line says so)
DELIVERY_BUDGET_S = 120      # one run stops sending after this, the rest waits (notify.LOCK_WAIT_S)
OUTBOX_FILE = "outbox.json"
REFUSED_FILE = "refused.json"   # the messages a channel refused for good, newest last
REFUSED_KEPT = 20               # ... this many of them
REFUSED_SHOWN_S = 7 * 86400     # `alive verify` and the dashboard say a refusal for this long


def oserror_text(exc):
    """The few words an OSError says about itself."""
    return exc.strerror or str(exc)


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
    token, token_problem = ntfy.read_token(notify_cfg.ntfy) if notify_cfg.ntfy else (None, None)
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
                log.summary.unrecorded = oserror_text(exc)

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
                outcome = ntfy.send(notify_cfg.ntfy, msg, token)
            else:
                outcome = command.send(notify_cfg.command, msg, cwd=cwd,
                                       hide_env=ntfy.token_env(notify_cfg) if hide_env is None else hide_env)
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
            log.summary.unrecorded = oserror_text(exc)


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
