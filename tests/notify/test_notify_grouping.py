"""notify: the flips of one run go out as one message per channel; a flip that reverts
before its message was first tried is not sent; nothing is lost; each ntfy POST carries a
sequence id that is stable per message.

The fake ntfy server and the helpers are test_notify's (a real ThreadingHTTPServer on
127.0.0.1, a real command script, real files); `now` is passed in.
"""
import json
import re
from datetime import timedelta

import pytest
from test_notify import (T0, check, item, log_text, make_reg, ntfy, outbox, recording_command,  # noqa: F401
                         records, token)

from alive.notify import grouping, message
from alive.notify import outbox as notify_outbox   # `outbox()` reads the test's outbox
from alive.notify import ntfy as ntfy_channel   # `ntfy` is the fake server's fixture
from alive.check.health import GREEN, RED, YELLOW
from alive.config.registry import CommandChannel

EXPIRED = "probe login says expired: a person must re-authenticate"


def titles(ntfy):
    return [r["headers"]["Title"] for r in ntfy.answered_200()]


# ---------------------------------------------------------------- one message per run

def test_two_flips_in_one_run_are_one_message_per_channel(home, ntfy, token, tmp_path):
    command, got = recording_command(tmp_path)
    reg = make_reg(home, ntfy, command=command)
    summary = check(home, reg, item("a", RED, reasons=["latest run failed: disk full"]),
                    item("b", RED, reasons=["no heartbeat for 2d (max gap 36h)"]), item("c", GREEN))
    assert summary["events"] == 2 and summary["sent"] == 2 and summary["queued"] == 0   # 1 message x 2 channels
    assert titles(ntfy) == ["2 items RED"]
    body = ntfy.requests[0]["body"].splitlines()
    assert body == ["RED: task a: latest run failed: disk full (RED since 2026-05-02T08:00:00Z)",
                    "RED: task b: no heartbeat for 2d (max gap 36h) (RED since 2026-05-02T08:00:00Z)"]
    assert [r["stdin"] for r in records(got)] == ["2 items RED\n\n" + "\n".join(body) + "\n"]


def test_a_single_flip_keeps_its_own_title_and_body(home, ntfy, token):
    check(home, make_reg(home, ntfy), item("a", RED, reasons=["latest run failed: disk full"]), item("b", GREEN))
    assert titles(ntfy) == ["RED: task a"]
    assert ntfy.requests[0]["body"] == "latest run failed: disk full\nRED since 2026-05-02T08:00:00Z"


def test_red_reminders_and_recoveries_of_one_run_share_a_message(home, ntfy, token):
    reg = make_reg(home, ntfy, renotify=3600)
    check(home, reg, item("old", RED), item("gone", RED))
    later = T0 + timedelta(hours=1)
    check(home, reg, item("old", RED), item("gone", YELLOW, reasons=["data is 20m old"]), item("new", RED),
          now=later)
    assert titles(ntfy)[-1] == "3 items: 1 RED, 1 still RED, 1 recovered"
    assert ntfy.requests[-1]["body"].splitlines() == [
        "RED: task new: new is red (RED since 2026-05-02T09:00:00Z)",
        "still RED: task old: old is red (since 2026-05-02T08:00:00Z, 1h)",
        "recovered: task gone: now YELLOW: data is 20m old (was RED since 2026-05-02T08:00:00Z, 1h)"]


def test_an_expired_login_affecting_three_sources_is_one_message_naming_them(home, ntfy, token):
    reg = make_reg(home, ntfy)
    check(home, reg, *(item(n, RED, kind="source", reasons=[f"data is {h}h old (max age 15m)", EXPIRED])
                       for h, n in enumerate(("crm", "shop", "track"), start=1)))
    assert titles(ntfy) == [f"3 items RED: {EXPIRED}"]
    body = ntfy.requests[0]["body"]
    assert all(f"RED: source {n}: " in body for n in ("crm", "shop", "track")) and len(body.splitlines()) == 3


def test_a_big_run_lists_twenty_lines_and_says_how_many_more(home, ntfy, token):
    check(home, make_reg(home, ntfy), *(item(f"t{n:02d}", RED) for n in range(25)))
    assert titles(ntfy) == ["25 items RED"]
    lines = ntfy.requests[0]["body"].splitlines()
    assert len(lines) == 21 and lines[-1] == "... and 5 more (alive check lists them all; http://127.0.0.1:8765/)"
    assert lines[0].startswith("RED: task t00: ") and lines[19].startswith("RED: task t19: ")


def test_a_group_is_as_loud_as_its_loudest_part(home, ntfy, token):
    reg = make_reg(home, ntfy, renotify=0, priority="urgent")
    check(home, reg, item("a", RED))
    check(home, reg, item("a", GREEN), item("b", RED), now=T0 + timedelta(minutes=1))
    check(home, reg, item("b", GREEN), item("c", GREEN), now=T0 + timedelta(minutes=2))
    assert [(r["headers"]["Title"], r["headers"]["Priority"], r["headers"]["Tags"].split(",")[0])
            for r in ntfy.requests] == [("RED: task a", "urgent", "rotating_light"),
                                        ("2 items: 1 RED, 1 recovered", "urgent", "rotating_light"),
                                        ("recovered: task b", "default", "white_check_mark")]


# ---------------------------------------------------------------- the outbox keeps working per group

def test_a_group_is_one_outbox_entry_with_a_stable_id_delivered_once_after_an_outage(home, ntfy, token):
    reg = make_reg(home, ntfy)
    ntfy.stop()
    check(home, reg, item("a", RED), item("b", RED))
    check(home, reg, item("a", RED), item("b", RED), now=T0 + timedelta(minutes=5))
    waiting = outbox(home)
    assert len(waiting) == 1 and waiting[0]["attempts"] == 2
    assert re.fullmatch(r"group/2026-05-02T08:00:00Z/[0-9a-f]{12}", waiting[0]["id"])
    assert [p["id"] for p in waiting[0]["parts"]] == ["task:a/red/2026-05-02T08:00:00Z",
                                                      "task:b/red/2026-05-02T08:00:00Z"]
    ntfy.start()
    assert check(home, reg, item("a", RED), item("b", RED), now=T0 + timedelta(minutes=10))["sent"] == 1
    check(home, reg, item("a", RED), item("b", RED), now=T0 + timedelta(minutes=15))
    assert titles(ntfy) == ["2 items RED"] and outbox(home) == []
    assert log_text(home).count(f"sent ntfy {waiting[0]['id']} ") == 1


def test_the_same_flips_give_the_same_group_id():
    reg = make_reg(None, None, command=CommandChannel(argv=["true"]))
    events = [message.Event(f"task:{n}", message.INTO_RED, item(n, RED), "2026-05-02T08:00:00Z",
                           "2026-05-02T08:00:00Z") for n in ("a", "b")]
    first = grouping.build_group(events, reg, T0)
    again = grouping.build_group(list(reversed(events)), reg, T0 + timedelta(seconds=30))
    assert first.id == again.id and first.id.startswith("group/")
    assert grouping.build_group(events[:1], reg, T0).id == "task:a/red/2026-05-02T08:00:00Z"


def test_a_crash_between_saving_the_outbox_and_the_state_does_not_send_a_group_twice(home, ntfy, token):
    reg = make_reg(home, ntfy)
    ntfy.mode = "500"
    check(home, reg, item("a", RED), item("b", RED))
    (home / "state" / "notify.json").unlink()      # as if the process died before saving it
    ntfy.mode = "200"
    check(home, reg, item("a", RED), item("b", RED), now=T0 + timedelta(minutes=5))
    check(home, reg, item("a", RED), item("b", RED), now=T0 + timedelta(minutes=10))
    assert titles(ntfy) == ["2 items RED"]
    state = json.loads((home / "state" / "notify.json").read_text())["items"]
    assert state["task:a"]["red_since"] == state["task:b"]["red_since"] == "2026-05-02T08:00:00Z"


def test_an_outbox_entry_of_the_previous_format_is_still_delivered_and_reconciled(home, ntfy, token):
    (home / "state").mkdir()
    old = {"id": "task:y/red/2026-05-02T07:00:00Z", "key": "task:y", "event": "red", "color": RED,
           "red_since": "2026-05-02T07:00:00Z", "created_at": "2026-05-02T07:30:00Z", "title": "RED: task y",
           "body": "y is red", "priority": "high", "tags": ["rotating_light"], "delivered": {}, "dropped": {},
           "attempts": 1, "last_error": "ntfy: HTTP 500"}
    (home / "state" / "outbox.json").write_text(json.dumps({"version": 1, "messages": [old]}))
    summary = check(home, make_reg(home, ntfy), item("y", RED))
    assert summary["events"] == 0 and titles(ntfy) == ["RED: task y"] and summary["warnings"] == []
    assert json.loads((home / "state" / "notify.json").read_text())["items"]["task:y"]["red_since"] \
        == "2026-05-02T07:00:00Z"


# ---------------------------------------------------------------- flips that revert before they are sent

def not_delivered(monkeypatch):
    """The next run queues its messages and dies before sending any (a crash, a budget spent)."""
    monkeypatch.setattr(notify_outbox, "deliver", lambda *a, **k: None)


def test_a_flip_that_reverts_before_its_message_was_tried_is_not_sent(home, ntfy, token, monkeypatch):
    reg = make_reg(home, ntfy)
    with monkeypatch.context() as m:
        not_delivered(m)
        check(home, reg, item("a", RED), item("b", RED))
    assert len(outbox(home)) == 1 and outbox(home)[0]["attempts"] == 0
    summary = check(home, reg, item("a", GREEN), item("b", RED), now=T0 + timedelta(minutes=1))
    assert titles(ntfy) == ["RED: task b"] and summary["queued"] == 0
    assert ntfy.requests[0]["body"].endswith("RED since 2026-05-02T08:00:00Z")
    assert ("not sent: task:a/red/2026-05-02T08:00:00Z (task:a was RED and recovered before its message went out)"
            in log_text(home))
    state = json.loads((home / "state" / "notify.json").read_text())["items"]
    assert state["task:a"] == {"color": GREEN} and state["task:b"]["color"] == RED
    check(home, reg, item("a", GREEN), item("b", RED), now=T0 + timedelta(minutes=2))
    assert len(ntfy.requests) == 1


def test_a_crash_after_a_flip_was_cancelled_never_sends_its_recovery_alone(home, ntfy, token, monkeypatch):
    # found by the crash suite: the outbox no longer held the RED, notify.json (not saved
    # yet) still did, and the next run sent "recovered" for a RED nobody was told
    reg = make_reg(home, ntfy)
    with monkeypatch.context() as m:
        not_delivered(m)
        check(home, reg, item("a", RED))
    stale = (home / "state" / "notify.json").read_text()
    check(home, reg, item("a", GREEN), now=T0 + timedelta(minutes=1))        # the pair is cancelled ...
    (home / "state" / "notify.json").write_text(stale)                      # ... and the state save lost
    assert [p["id"] for p in json.loads((home / "state" / "outbox.json").read_text())["cancelled"]] == [
        "task:a/red/2026-05-02T08:00:00Z", "task:a/recovered/2026-05-02T08:00:00Z"]
    check(home, reg, item("a", GREEN), now=T0 + timedelta(minutes=2))
    check(home, reg, item("a", GREEN), now=T0 + timedelta(minutes=3))
    assert ntfy.requests == []
    assert "cancelled" not in json.loads((home / "state" / "outbox.json").read_text())   # needed no more
    check(home, reg, item("a", RED), now=T0 + timedelta(minutes=4))
    assert titles(ntfy) == ["RED: task a"]


def test_unsent_messages_of_earlier_runs_join_this_run_as_one_message(home, ntfy, token, monkeypatch):
    reg = make_reg(home, ntfy)
    with monkeypatch.context() as m:
        not_delivered(m)
        check(home, reg, item("a", RED))
    check(home, reg, item("a", RED), item("b", RED), now=T0 + timedelta(minutes=1))
    assert titles(ntfy) == ["2 items RED"] and outbox(home) == []


def test_a_flip_whose_message_was_already_tried_is_never_cancelled(home, ntfy, token):
    reg = make_reg(home, ntfy)
    ntfy.mode = "500"
    check(home, reg, item("a", RED))
    ntfy.mode = "200"
    check(home, reg, item("a", GREEN), now=T0 + timedelta(minutes=1))
    assert titles(ntfy) == ["RED: task a", "recovered: task a"]     # nothing lost, in order
    assert outbox(home) == []


def test_coalesce_drops_a_red_and_its_recovery_and_a_superseded_reminder():
    def part(key, event, red_since, stamp=None):
        return {"id": f"{key}/{event}/{stamp or red_since}", "key": key, "event": event, "color": RED,
                "red_since": red_since}

    a_red, a_back = part("task:a", "red", "T1"), part("task:a", "recovered", "T1")
    b_remind, b_back = part("task:b", "renotify", "T0", "T2"), part("task:b", "recovered", "T0")
    c_back, c_red = part("task:c", "recovered", "T0"), part("task:c", "red", "T3")
    kept, dropped = grouping.coalesce([a_red, b_remind, c_back, a_back, b_back, c_red])
    assert kept == [c_back, b_back, c_red]          # a RED spell that ended after it began is still news
    assert dropped == [a_red, b_remind, a_back]


# ---------------------------------------------------------------- ntfy's sequence id

SEQUENCE_ID = re.compile(r"^[-_A-Za-z0-9]{1,64}$")   # what ntfy accepts (else HTTP 400)


def test_each_post_carries_a_sequence_id_stable_per_message(home, ntfy, token):
    reg = make_reg(home, ntfy)
    ntfy.mode = "500"
    check(home, reg, item("a", RED))
    ntfy.mode = "200"
    check(home, reg, item("a", RED), now=T0 + timedelta(minutes=1))
    check(home, reg, item("a", GREEN), now=T0 + timedelta(minutes=2))
    ids = [{k.lower(): v for k, v in r["headers"].items()}.get("x-sequence-id") for r in ntfy.requests]
    assert len(ids) == 3 and all(i and SEQUENCE_ID.match(i) for i in ids), ids
    assert ids[0] == ids[1] != ids[2]                 # a retry re-uses it; another message has its own
    assert ids[0] == ntfy_channel.sequence_id("task:a/red/2026-05-02T08:00:00Z")


@pytest.mark.parametrize("message_id", ["task:a/red/2026-05-02T08:00:00Z", "group/2026-05-02T08:00:00Z/0123456789ab",
                                        "source:" + "x" * 200 + "/recovered/2026-05-02T08:00:00Z", "tâche:ü/red/x"])
def test_a_sequence_id_is_what_ntfy_accepts_and_differs_between_messages(message_id):
    sid = ntfy_channel.sequence_id(message_id)
    assert SEQUENCE_ID.match(sid) and sid != ntfy_channel.sequence_id(message_id + "x")
