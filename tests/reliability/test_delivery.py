"""Delivery is at least once, never lost: the measured truth behind README's promise.

`alive check --notify` is SIGKILLed while its POST is in flight at an ntfy stand-in that
takes 150 ms to answer (the server has the message, alive never hears so): the next run
sends it again. ntfy has no idempotency key; what it has is a sequence id (ntfy 2.16+):
a POST with the sequence id of an earlier one updates that notification on the phone
instead of adding one. So this test asserts:
  - lost: 0 (every message ever queued reached both channels, flips in order, the Ledger
    audit of test_crash);
  - every repeat at ntfy carried the sequence id of its first send;
and counts and prints the duplicates (deliveries of a message beyond its first, per
channel), which are the price of never losing one. Counts scale with ALIVE_SOAK_FACTOR.
"""
import random
import time

import pytest

from .test_crash import (COMMAND, DEADLINE_S, LANES, Ledger, StandIn, aim, audit_home, beat, calibrated,
                         command_received, final_colors, install, lanes, notify_toml, run_alive)
from .test_write_crash import SOAK

ANSWER_S = 0.15            # the stand-in answers this long after it has read the message
ITEMS = 4
FLIP_GAP_S = 2.0           # an item flips at most this often, so two spells never share a second
KILLS = 5 * SOAK           # landed kills per lane (the runs here wait for a slow server: fewer than test_crash)


@pytest.fixture
def slow_stand_in():
    s = StandIn(delay_s=ANSWER_S)
    yield s
    s.close()


def in_flight(stand_in, topic):
    """A predicate that holds while the stand-in holds a POST of this topic unanswered."""
    return lambda: lambda: not stand_in.idle(topic)


def repeats(got):
    """(deliveries beyond the first of each message, messages): a message is known by the
    events it tells."""
    counts = {}
    for mids, _ in got:
        counts[mids] = counts.get(mids, 0) + 1
    return sum(n - 1 for n in counts.values()), len(counts)


def delivery_lane(lane, stand_in, base):
    rng = random.Random(7400 + lane)
    topic = f"dl{lane}"
    home = base / topic
    health = home / "health"
    health.mkdir(parents=True)
    install(home, "cmd.py", COMMAND)
    (home / "fleet.toml").write_text('[settings]\ndefault_max_gap = "36h"\n' + notify_toml(stand_in, topic))
    ledger = Ledger(home, stand_in, topic)
    status = {f"d{i}": "ok" for i in range(ITEMS)}
    flipped = {task: 0.0 for task in status}
    for task, st in status.items():
        beat(health, task, st)
    span = calibrated(home, ["check", "--notify"], (0, 1, 2))
    kills, runs, deadline = 0, 0, time.monotonic() + DEADLINE_S
    while kills < KILLS:
        assert time.monotonic() < deadline, f"lane {lane}: only {kills} kills in {DEADLINE_S}s"
        ready = [t for t in sorted(status) if time.monotonic() - flipped[t] > FLIP_GAP_S]
        for task in rng.sample(ready, min(len(ready), 1)):
            status[task] = "ok" if status[task] == "error" else "error"
            flipped[task] = time.monotonic()
            beat(health, task, status[task])
        # half the runs are left alone; of the others most die while their POST is in flight
        kill_after, kill_on = aim(rng, span + ANSWER_S, [(0.8, in_flight(stand_in, topic))]) \
            if rng.random() < 0.5 else (None, None)
        run = run_alive(home, ["check", "--notify"], kill_after=kill_after, kill_on=kill_on)
        runs += 1
        assert run.problem((0, 1, 2)) is None, run.problem((0, 1, 2))
        if run.killed:
            kills += 1
            ledger.killed(run)
    for _ in range(2):
        run = run_alive(home, ["check", "--notify"])
        assert run.problem((0, 2)) is None, run.problem((0, 2))
    ledger.settle()
    audit_home(home)
    sent, _ = ledger.audit(final_colors(home))      # lost: 0, flips in order, one sequence id per message
    ntfy_dups, messages = repeats(stand_in.received(topic))
    command_dups, _ = repeats(command_received(home))
    # a kill costs at most one repeat per channel: of the message whose answer it cut off
    assert ntfy_dups <= kills and command_dups <= kills, (ntfy_dups, command_dups, kills)
    return {"kills": kills, "runs": runs, "sent": sent, "messages": messages, "ntfy_dups": ntfy_dups,
            "command_dups": command_dups}


def test_kills_mid_send_at_a_slow_server_lose_nothing_and_the_duplicates_are_counted(tmp_path, slow_stand_in):
    t0 = time.monotonic()
    results = lanes(lambda lane: delivery_lane(lane, slow_stand_in, tmp_path))
    assert slow_stand_in.bad == []
    total = {k: sum(r[k] for r in results) for k in results[0]}
    assert total["kills"] >= LANES * KILLS and total["messages"] > 0
    print(f"\ndelivery: {total['kills']} SIGKILLs in {total['runs']} runs of check --notify, most while a POST was "
          f"in flight at a {int(ANSWER_S * 1000)} ms server ({time.monotonic() - t0:.1f}s): {total['messages']} "
          f"messages, 0 lost; sent twice: ntfy {total['ntfy_dups']} ({total['ntfy_dups'] / total['kills']:.2f} "
          f"per kill), command {total['command_dups']}; every ntfy repeat with its first send's sequence id")
