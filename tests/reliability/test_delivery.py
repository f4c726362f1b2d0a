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

from .test_crash import (LANES, StandIn, aim, audit_home, command_received, final_colors, flips_under_kills,
                         lanes)
from .test_write_crash import SOAK

ANSWER_S = 0.15            # the stand-in answers this long after it has read the message
ITEMS = 4
KILLS = 5 * SOAK           # landed kills per lane (the runs here wait for a slow server: fewer than test_crash)


@pytest.fixture
def slow_stand_in():
    s = StandIn(delay_s=ANSWER_S)
    yield s
    s.close()


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
    status = {f"d{i}": "ok" for i in range(ITEMS)}

    def aim_at(ledger, span):
        # half the runs are left alone; of the others most die while their POST is in flight
        if rng.random() < 0.5:
            return None, None
        return aim(rng, span + ANSWER_S, [(0.8, lambda: lambda: not stand_in.idle(topic))])

    ledger, runs = flips_under_kills(home, stand_in, topic, rng, status, aim_at, KILLS, most_flips=1)
    audit_home(home)
    sent, _ = ledger.audit(final_colors(home))      # lost: 0, flips in order, one sequence id per message
    kills = len(ledger.kills)
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
