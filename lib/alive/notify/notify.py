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

The rooms: message.py (the records and text shaping), grouping.py (flips -> events -> one
message), outbox.py (keep, bound, deliver, record), one module per channel (ntfy.py,
command.py), each with build() / send() / classify().

urllib, subprocess and fcntl are imported inside the functions that use them: a check
with nothing to deliver should not pay for them (DESIGN §8.10).
"""
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from alive.base import atomic, paths, statefile
from alive.base.timeutil import format_iso
from alive.cliutil import plural
from alive.notify import outbox
from alive.notify.grouping import alert_sinces, not_sent_text, plan, queued_text, reconcile, settled, state_entries
from alive.notify.outbox import configured_channels, oserror_text

LOCK_WAIT_S = 30             # another run delivering holds the lock at most about this long
                             # (outbox.DELIVERY_BUDGET_S: one run stops sending after that)
STATE_FILE = "notify.json"
LOG_FILE = "notify.log"


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
            fd, summary.unrecorded = None, oserror_text(exc)
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


def _run(home, reg, result, now, summary):
    log = Log(home, now, summary)
    state_path = paths.state_dir(home) / STATE_FILE
    outbox_path = paths.state_dir(home) / outbox.OUTBOX_FILE
    state, warning = statefile.load(state_path, now)
    log.warn(warning)
    messages, cancelled = outbox.read_outbox(outbox_path, now, log)
    items = state_entries(state)
    if settled(items, cancelled):
        cancelled = []               # notify.json already says what they say
    reconcile(items, messages, cancelled)
    items, events = plan(items, result.items, reg.notify, now, alert_sinces(home, result.items, items))
    summary.events = len(events)
    messages, new, joined, dropped = outbox.regroup(messages, events, reg, now)
    cancelled = cancelled + dropped
    gone = outbox.bound(messages, log)
    if summary.unrecorded is None:
        try:
            outbox.save_outbox(outbox_path, messages, cancelled)   # first: the write-ahead log
            statefile.save(state_path, {"version": 1, "items": items})
        except OSError as exc:
            summary.unrecorded = oserror_text(exc)
    if summary.unrecorded is None:
        # Logged once it is true: when the outbox cannot be saved (a full disk), nothing was queued.
        if new:
            log.line(queued_text(new, events, joined))
        for part in dropped:
            log.line(not_sent_text(part))
        if gone:
            log.line(f"outbox full (max {outbox.OUTBOX_MAX}): dropped the {len(gone)} oldest: "
                     + ", ".join(m.id for m in gone))
    else:
        for msg in messages:     # unsaved: nothing says it was sent, so it may come again
            msg.body += f"\n(alive cannot write state/ ({summary.unrecorded}): this message may come again)"
    from alive.config.registry import secret_env_names

    sent = outbox.deliver(outbox_path, messages, reg.notify, log, cwd=home, hide_env=secret_env_names(reg),
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
