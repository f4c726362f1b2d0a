"""state/health-listing.cache: an accelerator that never changes what a listing says.
Real folders in tmp_path; the full scan (scan.list_health) is the oracle at every step."""
import os
import random

import pytest

from alive.check import listcache, scan

TASKS = ["a", "b", "a_b", "a-1", "etl.daily"]


def fields(listing):
    return (listing.canonical, listing.newest, listing.latest, sorted(listing.legacy), sorted(listing.temp),
            sorted(listing.other), listing.dates)


@pytest.fixture
def where(tmp_path):
    folder = tmp_path / "health"
    folder.mkdir()
    return folder, tmp_path / "state" / listcache.NAME


def settle(folder):
    """Backdate health/'s mtime beyond the racy window: the cache may be trusted unlisted."""
    old = folder.stat().st_mtime - 3600
    os.utime(folder, (old, old))


def random_name(rng):
    kind = rng.random()
    task = rng.choice(TASKS)
    if kind < 0.6:
        suffix = rng.choice(["", "", "", "-2", "-3", "-10", "-0", "-01"])
        return f"2026-0{rng.randint(1, 3)}-{rng.randint(10, 12)}_{task}_{rng.choice(['0100', '0115', '2359'])}{suffix}.json"
    if kind < 0.7:
        return f"{task}_latest.json"
    if kind < 0.8:
        return f".{task}.{rng.randint(0, 99)}.tmp"
    if kind < 0.9:
        return f"{task}_{rng.randint(0, 9)}.json"
    return rng.choice(["notes.txt", "a b.json", "2026-13-40_a_9999.json", "x\nname.json"])


def forge(folder, cache, drop):
    """What someone with write access to state/ but not to health/ can do: a well-formed cache
    that keeps the folder's recorded stat and leaves out `drop` (a task's newest run, an error),
    made with every function alive has but without the key only alive's user can read."""
    found, seen = listcache.load(cache, folder)
    assert found is not None
    forged = scan.build_listing(str(folder), [n for n in found.names if n != drop])
    listcache.save(cache, forged, seen["key"], True, secret=os.urandom(32).hex().encode())


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_listing_through_the_cache_equals_a_full_listing_at_every_step(where, seed):
    folder, cache = where
    rng = random.Random(seed)
    for step in range(120):
        names = os.listdir(folder)
        roll = rng.random()
        if names and roll < 0.3:
            os.unlink(folder / rng.choice(names))
        elif roll < 0.33:       # a burst: more names than the cache patches in place
            for _ in range(listcache.MAX_EDITS + 5):
                (folder / random_name(rng)).write_text("{}")
        else:
            (folder / random_name(rng)).write_text("{}")
        if rng.random() < 0.3:
            settle(folder)      # sometimes the cache is then trusted without a listing
        assert fields(listcache.listing(folder, cache)) == fields(scan.list_health(folder)), step
        newest = scan.list_health(folder).newest
        if newest and rng.random() < 0.15:      # someone with write access to state/ (issue 19 item 8)
            settle(folder)
            listcache.listing(folder, cache)        # the cache now holds the settled folder's stat
            forge(folder, cache, newest[rng.choice(sorted(newest))])
            assert fields(listcache.listing(folder, cache)) == fields(scan.list_health(folder)), step


def test_an_unchanged_settled_folder_is_not_listed_again(where, monkeypatch):
    folder, cache = where
    for name in ("2026-01-01_a_0100.json", "2026-01-02_a_0100.json", "b_latest.json"):
        (folder / name).write_text("{}")
    settle(folder)
    first = fields(listcache.listing(folder, cache))
    listed = []
    monkeypatch.setattr(scan, "read_names", lambda f: listed.append(f) or os.listdir(f))
    assert fields(listcache.listing(folder, cache)) == first and listed == []
    (folder / "2026-01-03_a_0100.json").write_text("{}")      # any change moves the folder's key
    got = listcache.listing(folder, cache)
    assert listed == [folder] and got.newest["a"] == "2026-01-03_a_0100.json"


def test_a_folder_changed_within_the_racy_window_is_always_listed(where, monkeypatch):
    folder, cache = where
    (folder / "2026-01-01_a_0100.json").write_text("{}")      # mtime: now
    listcache.listing(folder, cache)
    listed = []
    monkeypatch.setattr(scan, "read_names", lambda f: listed.append(f) or os.listdir(f))
    listcache.listing(folder, cache)
    assert listed == [folder]      # the same key, but a change in the same clock tick would keep it


def test_a_removed_canonical_name_is_a_full_listing_again(where):
    folder, cache = where
    for name in ("2026-01-01_a_0100.json", "2026-01-02_a_0100.json"):
        (folder / name).write_text("{}")
    listcache.listing(folder, cache)
    os.unlink(folder / "2026-01-02_a_0100.json")              # prune, or a hand
    got = listcache.listing(folder, cache)
    assert got.newest == {"a": "2026-01-01_a_0100.json"} and got.canonical == ["2026-01-01_a_0100.json"]


@pytest.mark.parametrize("damage", [
    lambda raw: b"garbage\n" + raw,
    lambda raw: raw[: len(raw) // 2],                       # cut short
    lambda raw: raw.replace(b'"version":%d' % listcache.VERSION, b'"version":99'),
    lambda raw: raw.replace(b'"newest":{', b'"newest":[{', 1).replace(b'},"latest"', b'}],"latest"', 1),
    lambda raw: b"\xff\xfe" + raw,
    lambda raw: b"",
])
def test_a_damaged_cache_is_ignored_and_replaced(where, damage):
    folder, cache = where
    for name in ("2026-01-01_a_0100.json", "2026-01-02_b_0100.json", "x_1.json"):
        (folder / name).write_text("{}")
    settle(folder)
    listcache.listing(folder, cache)
    cache.write_bytes(damage(cache.read_bytes()))
    assert fields(listcache.listing(folder, cache)) == fields(scan.list_health(folder))
    assert listcache.load(cache, folder)[0] is not None       # written afresh


def test_a_cache_of_another_folder_is_ignored(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    (one / "2026-01-01_a_0100.json").write_text("{}")
    (two / "2026-01-01_b_0100.json").write_text("{}")
    cache = tmp_path / listcache.NAME
    settle(one)
    listcache.listing(one, cache)
    settle(two)
    assert listcache.listing(two, cache).newest == {"b": "2026-01-01_b_0100.json"}


def test_a_cache_that_cannot_be_written_costs_only_speed(where):
    folder, cache = where
    cache.parent.write_text("state/ is a file here")
    (folder / "2026-01-01_a_0100.json").write_text("{}")
    assert listcache.listing(folder, cache).newest == {"a": "2026-01-01_a_0100.json"}


def test_a_symlink_at_the_cache_is_replaced_never_followed(where, tmp_path):
    folder, cache = where
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    cache.parent.mkdir()
    cache.symlink_to(victim)
    (folder / "2026-01-01_a_0100.json").write_text("{}")
    listcache.listing(folder, cache)
    assert victim.read_text() == "keep me" and not cache.is_symlink()


def test_names_that_are_not_utf8_survive_the_round_trip(where):
    folder, cache = where
    os.close(os.open(os.path.join(os.fsencode(folder), b"bad\xff_1.json"), os.O_CREAT | os.O_WRONLY))
    (folder / "2026-01-01_a_0100.json").write_text("{}")
    settle(folder)
    first = fields(listcache.listing(folder, cache))
    assert fields(listcache.listing(folder, cache)) == first == fields(scan.list_health(folder))


@pytest.mark.parametrize("seed", range(6))
def test_edits_turn_one_listing_into_the_other(seed):
    rng = random.Random(seed)
    old = [f"n{k}" for k in range(rng.randint(0, 3000))]
    rng.shuffle(old)
    new = list(old)
    for _ in range(rng.randint(0, 40)):
        if new and rng.random() < 0.4:
            new.pop(rng.randrange(len(new)))
        elif new and rng.random() < 0.2:            # listed at another place
            new.insert(rng.randrange(len(new)), new.pop(rng.randrange(len(new))))
        else:
            new.insert(rng.randint(0, len(new)), f"x{rng.random()}")
    added, removed = listcache.edits(old, new)
    assert (set(old) - set(removed)) | set(added) == set(new)
    assert set(removed) <= set(old) and set(added) <= set(new)


def test_too_many_edits_are_a_full_listing():
    old = [f"n{k}" for k in range(1000)]
    assert listcache.edits(old, old[::-1], budget=50) is None
    assert listcache.edits(old, old + [f"x{k}" for k in range(51)], budget=50) is None
    assert listcache.edits(old, old + [f"x{k}" for k in range(50)], budget=50) == ([f"x{k}" for k in range(50)], [])


def test_a_forged_cache_that_hides_a_tasks_newest_run_is_not_trusted(where):
    """issue 19 item 8: a cache rewritten with the recorded stat kept and a task's newest
    error dropped turned RED into GREEN until the next change in health/."""
    folder, cache = where
    for name in ("2026-01-01_a_0100.json", "2026-01-02_a_0100.json", "2026-01-02_b_0100.json"):
        (folder / name).write_text("{}")
    settle(folder)
    assert listcache.listing(folder, cache).newest["a"] == "2026-01-02_a_0100.json"
    forge(folder, cache, "2026-01-02_a_0100.json")
    got = listcache.listing(folder, cache)
    assert got.newest["a"] == "2026-01-02_a_0100.json" and fields(got) == fields(scan.list_health(folder))


def test_a_forged_cache_does_not_turn_a_red_task_green(home):
    from datetime import datetime, timedelta, timezone

    from alive.config import registry
    from alive.write import heartbeat
    from alive.check.cmd_check import run_check

    now = datetime(2026, 5, 2, 8, 0, tzinfo=timezone.utc)
    heartbeat.write(home / "health", heartbeat.build("a", now - timedelta(hours=2)))
    heartbeat.write(home / "health", heartbeat.build("a", now - timedelta(hours=1), status="error", errors=["disk full"]))
    settle(home / "health")
    reg = registry.load(None, home)
    assert run_check(home, reg, now).overall == "RED"
    cache = home / "state" / listcache.NAME
    forge(home / "health", cache, "2026-05-02_a_0700.json")
    assert run_check(home, reg, now).overall == "RED"


def test_a_key_others_can_read_does_not_authenticate_a_cache(where, monkeypatch):
    """A key readable by the group or others could sign a forged cache: the listing is then
    made afresh each time (only speed is lost)."""
    folder, cache = where
    (folder / "2026-01-01_a_0100.json").write_text("{}")
    settle(folder)
    listcache.listing(folder, cache)
    key = listcache.secret_path(cache)
    assert os.stat(key).st_mode & 0o777 == 0o600
    os.chmod(key, 0o640)
    expected = fields(scan.list_health(folder))
    listed = []
    monkeypatch.setattr(scan, "read_names", lambda f: listed.append(f) or os.listdir(f))
    assert fields(listcache.listing(folder, cache)) == expected and listed == [folder]
