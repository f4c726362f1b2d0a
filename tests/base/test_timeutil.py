from datetime import datetime, timezone

import pytest

from alive.base.timeutil import format_duration, format_iso, parse_duration, parse_iso


@pytest.mark.parametrize("text,seconds", [
    ("30s", 30), ("15m", 900), ("36h", 129600), ("9d", 777600), ("2w", 1209600),
    ("1h30m", 5400), ("1d2h3m4s", 93784),
])
def test_durations_are_read_in_every_unit(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text,hint", [
    ("36 hours", "use 36h"), ("5 min", "use 5m"), ("1.5h", "e.g."), ("", "e.g."),
    ("h", "e.g."), ("1h30", "e.g."), ("-5m", "e.g."), (True, "e.g."), (-3, "negative"),
    ("90", '"90s" (1m30s)?'), (45, '"45h"?'), ("36", "no unit"), ("\uff15m", "e.g."),
])
def test_a_bad_duration_says_how_to_write_it(text, hint):
    with pytest.raises(ValueError) as err:
        parse_duration(text)
    assert hint in str(err.value)


def test_durations_format_compactly():
    assert [format_duration(s) for s in (5, 90, 900, 3600, 5400, 40 * 3600, 3 * 86400 + 7200)] == \
        ["5s", "1m30s", "15m", "1h", "1h30m", "40h", "3d2h"]


def test_iso_times_become_utc_and_print_with_z():
    assert format_iso(parse_iso("2026-05-02T03:55:00+02:00")) == "2026-05-02T01:55:00Z"
    assert parse_iso("2026-05-02T01:55:00Z") == datetime(2026, 5, 2, 1, 55, tzinfo=timezone.utc)


def test_a_naive_time_is_refused_unless_it_comes_from_the_command_line(monkeypatch):
    with pytest.raises(ValueError, match="no time zone"):
        parse_iso("2026-05-02T01:55:00")
    monkeypatch.setenv("TZ", "Europe/Berlin")
    import time
    time.tzset()
    try:
        assert format_iso(parse_iso("2026-05-02T03:55:00", naive_as_local=True)) == "2026-05-02T01:55:00Z"
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


@pytest.mark.parametrize("bad", ["nope", "", None, 12, "2026-13-01T00:00:00Z"])
def test_unparseable_times_are_refused(bad):
    with pytest.raises(ValueError):
        parse_iso(bad)
