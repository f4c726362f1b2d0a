"""Hostile input, generated from fixed seeds: heartbeat folders full of junk and broken
fleet.toml files. Nothing may crash, every problem must be named, and the exit codes
must say what is true.

1. Five ALIVE_HOMEs, 10,200 generated entries in all (ALIVE_SOAK_FACTOR multiplies them):
   truncated JSON, wrong types, nulls, missing fields, content dated after its name, huge strings and files, deep
   nesting, random bytes, legacy colors, bare legacy names, names that are not UTF-8 or
   very long, symlinks, folders and FIFOs named like heartbeats, impossible, past and
   future dates, duplicates and suffix collisions (-0, -02, -10, -9, 20 digits: only
   -2 to -9999 without a leading zero are canonical; the rest count for no task). The
   generator knows what each entry is, so for each home:
   - `alive lint --json` names every entry that is an error as an error and every entry
     that is a warning at least as a warning, and says nothing about the clean ones;
     exit 2 with any error, 1 with warnings only;
   - `alive check --json` lists (invalid_files) the newest file of each task when it is
     broken, with the task RED for it, every broken bare-name file, every name that is
     neither canonical nor legacy, every file dated beyond the clock-skew allowance (not
     counted), and every impossible name it had to pass over; it lists nothing that is
     not broken; a home whose newest
     files are all fine, however much junk lies behind them, is GREEN (exit 0);
   - neither ever prints a traceback or anything on stderr, and neither do their text
     forms, `alive report` in every format or `alive export prometheus` on the same folders
     (with lone <task>_latest.json files, broken and valid, among them).
2. 1,000 fleet.toml variants, mutations of examples/fleet.toml: wrong types, bad
   durations and schedules, unknown keys, missing required keys, duplicate tables and
   keys, TOML syntax errors, huge values, unicode, deep nesting, dependency cycles.
   In-process (`alive check` through cli.main, and `alive lint --json` for every fourth),
   and a sample of 50 as real `bin/alive check` processes, which must agree: the check
   either works (0/1/2) or exits 3 naming every mutation as `fleet.toml:<line>: <key>`;
   never a traceback, never "internal error".
3. Absurd durations on the command line (20 digits of weeks, 5,000 digits): one line, exit 3.

The seeds fix what is generated; the dates are relative to the clock (check judges ages).
"""
import json
import os
import random
import re
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers import iso

from .test_write_crash import SOAK

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "lib"))
from alive import cli  # noqa: E402
from alive.config import registry  # noqa: E402

ALIVE = ROOT / "bin" / "alive"
EXAMPLE = ROOT / "examples" / "fleet.toml"
UTC = timezone.utc
STEP_TIMEOUT_S = 120  # no single process in this file may take longer


def alive(*args, home):
    env = {k: v for k, v in os.environ.items() if k not in ("ALIVE_CONFIG", "ALIVE_DEBUG")}
    env["ALIVE_HOME"] = str(home)
    return subprocess.run([sys.executable, str(ALIVE), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=STEP_TIMEOUT_S)


# ================================================================ 1. heartbeat folders

@dataclass
class Made:
    """One generated entry of a health folder, and what the readers must make of it."""
    name: bytes
    task: str | None = None     # the task of a canonical-shaped name
    key: tuple | None = None    # (date, HHMM, n): the order of a task's files
    plausible: bool = True      # a canonical name with a real date and time
    valid: bool = False         # a regular file holding a valid heartbeat of its task
    lint: str | None = None     # the least `alive lint` must say: "error", "warning" or None
    legacy: bool = False        # a bare-name *.json file: check reads every one of them

    def shown(self, folder_name):
        return f"{folder_name}/{self.name.decode('utf-8', 'replace')}"


def beat(task, started, status="ok", took=7, **over):
    hb = {"task_id": task, "status": status, "started_at": iso(started),
          "completed_at": iso(started + timedelta(seconds=took)), "summary": f"{task} {status}",
          "warnings": [], "errors": [] if status != "error" else ["it failed"], "metrics": {"rows": 3},
          "schema": 1}
    hb.update(over)
    return hb


def dump(hb, raw=None):
    """UTF-8 JSON; `raw` replaces the string "@raw@" with bytes json would not write."""
    data = (json.dumps(hb, ensure_ascii=False) + "\n").encode()
    return data.replace(b'"@raw@"', raw) if raw is not None else data


WRONG_TYPES = [("task_id", 5), ("status", ["ok"]), ("started_at", 1777700000), ("completed_at", 12.5),
               ("summary", {"a": 1}), ("summary", 42), ("warnings", "late"), ("warnings", [1, 2]),
               ("errors", {"e": 1}), ("errors", [None]), ("metrics", []), ("metrics", "rows=3"),
               ("interval_s", "3600"), ("interval_s", True), ("interval_s", 1.5), ("complete", "yes"),
               ("exit_code", 1.5), ("exit_code", "0"), ("duration_s", "1"), ("schema", True),
               ("host", 5), ("run_id", []), ("output_tail", 7)]
BAD_STATUS = ["OK", "done", "", "Ok ", "ERROR", "green", "failure", "ok\n"]
BAD_TIMES = ["2026-05-02 01:55:00", "yesterday", "2026-02-30T00:00:00Z", "", "2026-05-02T25:00:00Z", "1777700000"]


def content(rng, task, started, kind, status="ok"):
    """(bytes, valid, lint severity) of one file's content of the given kind."""
    hb = beat(task, started, status)
    if kind == "ok":
        return dump(hb), True, None
    if kind == "legacy_color":  # the health color of the same meaning: GREEN for ok, ...
        color = {"ok": "GREEN", "skipped": "GREEN", "partial": "YELLOW", "error": "RED"}[status]
        return dump(dict(hb, status=color)), True, "warning"
    if kind == "mismatch_time":  # valid, but its name is not its started_at's: earlier the same day
        earlier = max(started - timedelta(minutes=rng.randrange(1, 12 * 60)), started.replace(hour=0, minute=0))
        if earlier == started:
            return dump(hb), True, None
        return dump(beat(task, earlier, status)), True, "warning"
    if kind == "future_content":  # a canonical name over a run dated later (years ahead): invalid
        return dump(beat(task, started + timedelta(days=rng.choice([1, 400, 3000])), status)), False, "error"
    if kind == "huge_int":  # 400 digits: a Python int, but no plausible interval_s (an error)
        return dump(dict(hb, interval_s="@raw@"), b"1" + b"0" * 400), False, "error"
    if kind == "nested_ok":
        deep = {}
        for _ in range(40):
            deep = {"d": deep}
        return dump(dict(hb, metrics=deep)), True, None
    if kind == "big_ok":  # 300 KB of output_tail: big, under the 1 MiB read limit
        return dump(dict(hb, output_tail="y" * 300_000)), True, None
    if kind == "unicode_ok":
        return dump(dict(hb, summary="naïve ✓ 日本語 \u202e RTL \u200b", metrics={"ключ": 1, "😀": 2.5})), True, None
    # everything below cannot be trusted: lint says error, check refuses it
    if kind == "truncated":
        data = dump(hb)
        return data[:rng.randrange(0, len(data) - 2)], False, "error"
    if kind == "wrong_type":
        field, value = rng.choice(WRONG_TYPES)
        return dump(dict(hb, **{field: value})), False, "error"
    if kind == "null":
        return dump(dict(hb, **{rng.choice(list(hb)[:8]): None})), False, "error"
    if kind == "missing":
        gone = rng.choice(list(hb)[:8])
        return dump({k: v for k, v in hb.items() if k != gone}), False, "error"
    if kind == "long_summary":
        return dump(dict(hb, summary="s" * rng.randrange(201, 20_000))), False, "error"
    if kind == "multiline":
        return dump(dict(hb, summary="first line\nsecond line")), False, "error"
    if kind == "bad_status":
        return dump(dict(hb, status=rng.choice(BAD_STATUS))), False, "error"
    if kind == "bad_time":
        return dump(dict(hb, **{rng.choice(["started_at", "completed_at"]): rng.choice(BAD_TIMES)})), False, "error"
    if kind == "backwards":
        return dump(dict(hb, completed_at=iso(started - timedelta(seconds=rng.randrange(1, 9999))))), False, "error"
    if kind == "task_mismatch":
        return dump(dict(hb, task_id=rng.choice(["someone-else", "x", task + "x"]))), False, "error"
    if kind == "bad_task_id":
        return dump(dict(hb, task_id=rng.choice(["../etc/passwd", ".hidden", "a b", "", "é", "x" * 129]))), False, "error"
    if kind == "not_object":
        return rng.choice([b"[]", b'"heartbeat"', b"null", b"42", b"true", b"[{}]", b"{}"]), False, "error"
    if kind == "random":
        return rng.randbytes(rng.randrange(1, 600)), False, "error"
    if kind == "latin1":
        return json.dumps(dict(hb, summary="café crème"), ensure_ascii=False).encode("latin-1"), False, "error"
    if kind == "deep":
        n = rng.choice([5_000, 100_000])
        if rng.random() < 0.5:
            return b"[" * n + b"]" * n, False, "error"
        return dump(dict(hb, metrics="@raw@"), b'{"a":' * n + b"1" + b"}" * n), False, "error"
    if kind == "huge":  # over the 1 MiB limit: flagged, never read
        return dump(dict(hb, output_tail="z" * (1 << 20))), False, "error"
    if kind == "huge_digits":  # 5,000 digits: json refuses to convert it
        return dump(dict(hb, interval_s="@raw@"), b"9" * 5000), False, "error"
    if kind == "empty":
        return b"", False, "error"
    if kind == "nul_bytes":
        return dump(hb).replace(b'"ok"', b'"o\x00k"', 1) if status == "ok" else b"\x00" * 64, False, "error"
    raise AssertionError(kind)


VALID_KINDS = ["ok"] * 12 + ["legacy_color"] * 2 + ["mismatch_time", "nested_ok", "unicode_ok", "big_ok"]
INVALID_KINDS = (["truncated"] * 3 + ["wrong_type"] * 3 + ["null"] * 2 + ["missing"] * 2 + ["random"] * 2
                 + ["long_summary", "multiline", "bad_status", "bad_time", "backwards", "task_mismatch",
                    "bad_task_id", "not_object", "latin1", "deep", "empty", "huge_digits", "huge_int", "nul_bytes",
                    "huge"])
RARE = {"big_ok": 3, "huge": 3, "deep": 12, "fifo": 6}  # at most this many per home (they cost time or memory)
SPECIAL = ["symlink"] * 2 + ["folder", "fifo"]

CANONICAL_TASKS = ["etl", "etl_daily", "etl_daily_0100", "a", "a_b", "a.b", "A-1", "9lives", "db.backup-2",
                   "x" * 128, "report_v2", "sync-crm", "t", "T", "t-", "t.", "z_z_z", "nightly"]
LEGACY_TASKS = ["old-job", "legacy.one", "legacy_two", "cron-thing"]


class Folder:
    """Writes generated entries into one health folder and remembers each one."""

    def __init__(self, path, rng, outside, now):
        self.path, self.rng, self.outside, self.now = path, rng, outside, now
        self.made, self.names, self.counts = [], set(), {}
        path.mkdir(parents=True, exist_ok=True)
        self.fd_path = os.fsencode(path)

    def rare_ok(self, kind):
        if kind not in RARE:
            return True
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return self.counts[kind] <= RARE[kind]

    def pick(self, kinds):
        while True:
            kind = self.rng.choice(kinds)
            if self.rare_ok(kind):
                return kind

    def put(self, entry, data=None, special=None):
        """Create the entry on disk: a file with data, or a symlink/folder/FIFO."""
        assert entry.name not in self.names, entry.name
        self.names.add(entry.name)
        full = os.path.join(self.fd_path, entry.name)
        if special == "symlink":
            target = self.rng.choice([b"/etc/passwd", b"nowhere.json", entry.name, os.fsencode(self.outside),
                                      b"/", b"../" * 3])
            os.symlink(target, full)
        elif special == "folder":
            os.mkdir(full)
            if self.rng.random() < 0.5:
                with open(os.path.join(full, b"inside.json"), "wb") as f:
                    f.write(b"{}")
        elif special == "fifo":
            os.mkfifo(full)
        else:
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        self.made.append(entry)
        return entry

    def file(self, entry, kind, task, started, status="ok"):
        """A regular file (or a special entry) of the given content kind under entry.name."""
        if kind in SPECIAL:
            entry.valid, entry.lint = False, "error"
            return self.put(entry, special=kind)
        data, valid, severity = content(self.rng, task, started, kind, status)
        if valid and started > self.now + timedelta(minutes=10):
            severity = "warning"  # a run dated in the future: lint warns (check: clock skew)
        entry.valid, entry.lint = valid, severity
        return self.put(entry, data)


def canonical_name(task, when, n, rng, impossible=False, tidy=False):
    """-> (name, key): '<date>_<task>_<HHMM>[-N].json' and its (date, HHMM, n) order.
    tidy: only the suffixes alive writes (-2, -3, ...), never -02."""
    date, hhmm = when.strftime("%Y-%m-%d"), when.strftime("%H%M")
    if impossible:
        date, hhmm = rng.choice([
            (f"{when.year}-13-{when.day:02d}", hhmm), (f"{when.year}-00-{when.day:02d}", hhmm),
            (f"{when.year}-{when.month:02d}-32", hhmm), (f"{when.year}-{when.month:02d}-00", hhmm),
            (date, "2400"), (date, "9999"), (date, f"{when.hour:02d}60")])
    suffix = "" if n == 1 else f"-{n}" if tidy or n >= 100 else rng.choice([f"-{n}", f"-{n:02d}"])
    return f"{date}_{task}_{hhmm}{suffix}.json".encode(), (date, hhmm, n)


def canonical_suffix(name):
    """alive writes -2 ... -9999, never -0, -1, -02 or 20 digits: those names count for no task."""
    stem = name[:-5].rsplit(b"_", 1)[1]
    n = stem.partition(b"-")[2]
    return not n or (n[:1] != b"0" and 2 <= int(n) <= 9999)


def uncounted(entry):
    """A name with a suffix alive never writes: check reads it like a bare name, lists it
    (it is not <task>_..., so it is not a legacy name either) and counts it for nothing."""
    if not canonical_suffix(entry.name):
        entry.plausible, entry.valid, entry.legacy, entry.lint = False, False, True, "error"
    return entry


def fill_tasks(folder, count, now, kinds_valid, kinds_invalid, p_invalid, span_s, oldest_s, status_pool):
    """Canonical-named entries for CANONICAL_TASKS: several files per minute (suffix
    collisions), impossible names, duplicates of a file under a second name."""
    rng = folder.rng
    made = 0
    keys = {t: set() for t in CANONICAL_TASKS}
    # content dated after its canonical name: only a canonical name can disagree with it
    kinds_invalid = kinds_invalid + ["future_content"] if kinds_invalid else kinds_invalid
    while made < count:
        task = rng.choice(CANONICAL_TASKS)
        when = now - timedelta(seconds=oldest_s + rng.randrange(span_s))
        when = when.replace(second=0, microsecond=0)
        # one to four files in the same minute: -2, -02, -10, -9, -0 and 20-digit suffixes
        # (a folder with nothing invalid in it gets only the suffixes alive writes)
        tidy = not kinds_invalid
        ns = rng.sample([1, 2, 3, 9, 10] if tidy else [1, 2, 3, 9, 10, 0, 10**19 + rng.randrange(10**19)],
                        rng.randrange(1, 5))
        for n in ns:
            impossible = rng.random() < 0.03
            name, key = canonical_name(task, when, n, rng, impossible, tidy)
            if name in folder.names or (not impossible and key in keys[task]):
                continue
            entry = Made(name, task=task, key=key, plausible=not impossible)
            if not impossible:
                keys[task].add(key)
            bad = rng.random() < p_invalid
            kind = folder.pick(kinds_invalid + SPECIAL if bad else kinds_valid)
            if impossible and kind == "future_content":
                kind = "ok"     # an impossible name is no time to disagree with
            folder.file(entry, kind, task, when, rng.choice(status_pool))
            if impossible and entry.valid:
                entry.lint = "warning"  # lint reads it: its name does not match its started_at
            uncounted(entry)
            made += 1
            if entry.valid and rng.random() < 0.05 and not impossible:  # a duplicate under the next free suffix
                free = max(k[2] for k in keys[task] if k[:2] == key[:2]) + 1
                if free < 10**6:
                    name2, key2 = canonical_name(task, when, free, rng, tidy=tidy)
                    if name2 not in folder.names:
                        keys[task].add(key2)
                        data = open(os.path.join(folder.fd_path, name), "rb").read()
                        folder.put(uncounted(Made(name2, task=task, key=key2, valid=True, lint=entry.lint)), data)
                        made += 1
    return made


ODD_NAMES = ["README", "notes.txt", "x.json", "UPPER_CASE.JSON", " spaced name", "tâche.txt", "a\nb_c.json",
             "<script>alert(1)<\\script>", "..json", "-", "_", "latest.json", "task_latest.json.bak", "\\back\\slash",
             "2026-05-02_etl_0100.json.tmp", "2026-05-02_etl_0100.JSON", "%s%n%x", "$(reboot)", "'quoted'"]


def fill_other(folder, count, now, legacy_valid_fresh, temp_old_share, allow_invalid=True):
    """Entries that are not canonical heartbeats: bare legacy names (valid and broken),
    names that are not UTF-8 or very long, latest files, junk names, temp files."""
    rng = folder.rng
    made, i = 0, 0
    while made < count:
        i += 1
        roll = rng.random()
        if roll < 0.35:  # a bare legacy name: check reads every one
            style = rng.randrange(4) if allow_invalid else 0   # styles 1-3 count for no task: errors
            task = rng.choice(LEGACY_TASKS)
            if style == 0:
                name = f"{task}_{i}.json".encode()
            elif style == 1:  # not UTF-8
                name = b"\xff\xfe" + f"{i}_legacy.json".encode()
            elif style == 2:  # long: 250 bytes
                stem = f"_{i}.json".encode()
                name = b"L" * (250 - len(stem)) + stem
            else:  # canonical-looking, but the task id is not valid
                name = f"2026-05-02_{rng.choice(['-bad', 'tâche', 'a b', '.x'])}{i}_0100.json".encode()
            entry = Made(name, legacy=True)
            started = now - timedelta(seconds=rng.randrange(3600, 20 * 3600))
            if allow_invalid and rng.random() < 0.5:
                kind = folder.pick([k for k in INVALID_KINDS if k != "task_mismatch"] + SPECIAL)
            else:
                kind = rng.choice(["ok", "ok", "legacy_color"] if legacy_valid_fresh else VALID_KINDS)
                if kind == "mismatch_time":
                    kind = "ok"
            folder.file(entry, kind, task, started)
            if entry.lint is None:
                entry.lint = "warning"  # a bare name is always worth a warning
            if style != 0 and entry.valid:  # not <task>_...: no legacy name, counted for no task
                entry.valid, entry.lint = False, "error"
        elif roll < 0.45:  # <task>_latest.json, written with its run: older than the canonical files, so unused
            task = rng.choice(CANONICAL_TASKS)
            name = f"{task}_latest.json".encode()
            if name in folder.names:
                continue
            entry = Made(name)
            if allow_invalid and rng.random() < 0.5:
                folder.file(entry, folder.pick(INVALID_KINDS), task, now - timedelta(hours=2))
            else:
                folder.file(entry, "ok", task, now - timedelta(hours=2))
            if not os.path.islink(os.path.join(folder.fd_path, name)):
                t = (now - timedelta(hours=2)).timestamp()
                os.utime(os.path.join(folder.fd_path, name), (t, t))
        elif roll < 0.75:  # names that are not heartbeat names at all
            base = rng.choice(ODD_NAMES)
            name = (f"{i}" + base if rng.random() < 0.5 else base + f"{i}").encode()
            if rng.random() < 0.2:
                name = b"\x80\xc3" + name  # not UTF-8
            if name.startswith(b"."):
                name = b"x" + name
            entry = Made(name, lint="warning")
            if rng.random() < 0.1:
                folder.put(entry, special="folder")
            else:
                folder.put(entry, rng.randbytes(rng.randrange(0, 200)))
            made += 1
            continue
        else:  # temp files of writers: young ones are fine, old ones are strays
            name = f".{rng.choice(CANONICAL_TASKS)[:20]}.json.{i}.{rng.randrange(16**8):08x}.tmp".encode()
            old = rng.random() < temp_old_share
            entry = Made(name, lint="warning" if old else None)
            folder.put(entry, rng.randbytes(rng.randrange(0, 300)))
            if old:
                t = (now - timedelta(hours=rng.randrange(2, 2000))).timestamp()
                os.utime(os.path.join(folder.fd_path, name), (t, t))
        made += 1


def fill_lone_latest(folder, now, count=12):
    """<task>_latest.json of tasks with no other file (a writer that keeps only that one),
    broken and valid: check judges the task by it, the report counts its runs by it."""
    for i in range(count):
        entry = Made(f"lone-{i}_latest.json".encode())
        broken = i % 3 != 0
        folder.file(entry, folder.pick(INVALID_KINDS) if broken else "ok", f"lone-{i}", now - timedelta(hours=2))
        if entry.valid:
            entry.lint = "warning"      # the only file of its task: judged, but keeps no history


def build_home(tmp_path, label, profile, total, seed, health_dir="health"):
    """One ALIVE_HOME with `total` generated entries in its health folder. -> (home, Folder, now)."""
    rng = random.Random(seed)
    home = tmp_path / label
    home.mkdir()
    outside = tmp_path / f"{label}-outside.json"
    outside.write_bytes(dump(beat("etl", datetime(2026, 1, 1, tzinfo=UTC))))
    now = datetime.now(UTC)
    folder = Folder(home / health_dir, rng, outside, now)
    day = 86400
    if profile == "mixed":  # anything, any age, future and far past included
        other = total // 5
        n = fill_tasks(folder, (total - other) * 8 // 10, now, VALID_KINDS, INVALID_KINDS, 0.45,
                       30 * day, 3600, ["ok", "ok", "partial", "error", "skipped"])
        n += fill_tasks(folder, (total - other) // 10, now + timedelta(days=365 * 60),
                        VALID_KINDS, INVALID_KINDS, 0.3, 365 * day, 0, ["ok"])            # 2086: the future
        n += fill_tasks(folder, total - other - n, datetime(2001, 1, 1, tzinfo=UTC),
                        VALID_KINDS, INVALID_KINDS, 0.3, 30 * 365 * day, 0, ["ok", "error"])  # 1971-2001
        fill_other(folder, total - n, now, False, 0.5)
        fill_lone_latest(folder, now)
    elif profile == "latest_valid":  # junk of every kind behind each task's newest, valid, fresh run
        other = total // 5
        n = fill_tasks(folder, total - other - len(CANONICAL_TASKS), now, VALID_KINDS, INVALID_KINDS,
                       0.6, 30 * day, 2 * day, ["ok", "partial", "error"])
        for task in CANONICAL_TASKS:
            when = (now - timedelta(seconds=rng.randrange(600, 3 * 3600))).replace(second=0, microsecond=0)
            name, key = canonical_name(task, when, 1, rng)
            folder.file(Made(name, task=task, key=key), "ok", task, when)
        fill_other(folder, other, now, True, 0.5)
    elif profile == "garbage":  # nothing readable at all
        n = fill_tasks(folder, total * 3 // 4, now, INVALID_KINDS, INVALID_KINDS, 1.0, 30 * day, 3600,
                       ["ok"])
        fill_other(folder, total - n, now, False, 0.5)
        fill_lone_latest(folder, now)
        for entry in folder.made:
            assert not entry.valid or entry.task is None or not entry.plausible or entry.name.endswith(b"_latest.json")
    elif profile == "warnings":  # readable, fresh, GREEN; only things a person should tidy
        other = total // 2
        n = fill_tasks(folder, total - other, now, ["ok", "ok", "legacy_color", "mismatch_time"],
                       [], 0.0, 20 * 3600, 3600, ["ok", "skipped"])
        fill_other(folder, total - n, now, True, 0.5, allow_invalid=False)
    else:
        raise AssertionError(profile)
    return home, folder, now


def newest_first(entries):
    return sorted(entries, key=lambda e: e.key, reverse=True)


def expectations(folder):
    """From what was made: the files check must list, the files it may list, and each
    task's newest plausible file."""
    by_task = {}
    for e in folder.made:
        if e.task is not None:
            by_task.setdefault(e.task, []).append(e)
    must, newest = set(), {}
    may = {e.name for e in folder.made if not e.valid or not e.plausible}
    ahead = folder.now + timedelta(minutes=5)
    cutoff = (ahead.strftime("%Y-%m-%d"), ahead.strftime("%H%M"))
    for task, entries in by_task.items():
        for e in newest_first(entries):
            if e.plausible and e.key[:2] > cutoff:
                must.add(e.name)  # dated beyond the skew allowance: not counted, named
                may.add(e.name)
                continue
            if e.legacy:
                continue          # a name that counts for no task (listed below)
            if not e.plausible:
                must.add(e.name)  # passed over on the way to the newest real one: reported
                continue
            newest[task] = e
            if not e.valid:
                must.add(e.name)
            break
    must |= {e.name for e in folder.made if e.legacy and not e.valid}
    return must, may, newest


def judge_home(home, folder, health_dir, profile, figures):
    shown = {e.name: e.shown(health_dir) for e in folder.made}
    must, may, newest = expectations(folder)

    # ---- alive check --json
    r = alive("check", "--json", home=home)
    assert r.stderr == "", r.stderr[-2000:]
    doc = doc_check = json.loads(r.stdout)
    listed = {f["file"] for f in doc["invalid_files"]}
    missing = sorted(shown[n] for n in must if shown[n] not in listed)
    assert not missing, f"{profile}: check did not list {len(missing)} broken files, e.g. {missing[:5]}"
    allowed = {shown[n] for n in may}
    extra = sorted(listed - allowed)
    assert not extra, f"{profile}: check listed files that are fine: {extra[:5]}"
    items = {i["name"]: i for i in doc["items"] if i["kind"] == "task"}
    broken_latest = []
    for task, e in newest.items():
        reasons = " ".join(items[task]["reasons"])
        if e.valid:
            assert "latest heartbeat file is invalid" not in reasons, (task, reasons)
        else:
            broken_latest.append(task)
            assert items[task]["color"] == "RED" and "latest heartbeat file is invalid" in reasons, (task, items[task])
    expected_check = {"mixed": 2, "latest_valid": 0, "garbage": 2, "warnings": 0}[profile]
    if expected_check == 2:
        assert broken_latest, f"{profile}: the generator made no task whose newest file is broken"
    else:
        assert not broken_latest
        not_green = {n: i["reasons"] for n, i in items.items() if i["color"] != "GREEN"}
        assert not not_green, f"{profile}: {not_green}"
    assert r.returncode == expected_check, (profile, r.returncode, doc["overall"])

    # ---- alive lint --json
    r = alive("lint", "--json", home=home)
    assert r.stderr == "", r.stderr[-2000:]
    doc = json.loads(r.stdout)
    said = {}
    for p in doc["problems"]:
        said.setdefault(p["file"], set()).add(p["severity"])
    wrong = []
    for e in folder.made:
        got = said.get(shown[e.name], set())
        if e.lint == "error" and "error" not in got:
            wrong.append((shown[e.name], "not named as an error", got))
        elif e.lint == "warning" and not got:
            wrong.append((shown[e.name], "not named at all", got))
        elif e.lint is None and got:
            wrong.append((shown[e.name], "named, but it is fine", got))
    assert not wrong, f"{profile}: {len(wrong)} entries judged wrongly by lint, e.g. {wrong[:5]}"
    expected_lint = 1 if profile == "warnings" else 2
    assert r.returncode == expected_lint and doc["files_checked"] == len(folder.made), (r.returncode, doc["files_checked"])
    figures.append((home.name, len(folder.made), len(listed), len(doc["problems"]), len(broken_latest)))

    # ---- the listing cache decides nothing: the verdicts with it warm (names compared), and
    # trusted without a listing (health/ settled), are those of a full scan without it
    cache = home / "state" / "health-listing.cache"
    assert cache.is_file()

    def verdicts():
        r = alive("check", "--json", home=home)
        assert r.returncode == expected_check and r.stderr == "", (r.returncode, r.stderr[-2000:])
        d = json.loads(r.stdout)
        return d["overall"], {i["name"]: i["color"] for i in d["items"]}, sorted(map(str, d["invalid_files"]))

    warm = verdicts()
    old = (home / health_dir).stat().st_mtime - 3600
    os.utime(home / health_dir, (old, old))       # settled: the cache is trusted without a listing
    settled = verdicts()
    before = cache.stat().st_mtime_ns
    assert verdicts() == settled and cache.stat().st_mtime_ns == before   # used as it was, not rewritten
    cache.unlink()
    assert warm == settled == verdicts()

    # ---- the same folder through the other readers: text forms, the report, the metrics
    for args, code in ((["check"], expected_check), (["lint"], expected_lint), (["report", "--format", "json"], 0),
                       (["report", "--format", "html"], 0), (["report", "--format", "markdown"], 0),
                       (["report"], 0), (["export", "prometheus"], 0)):
        r = alive(*args, home=home)
        assert (r.returncode, r.stderr) == (code, ""), (args, r.returncode, r.stderr[-2000:])
        assert "Traceback" not in r.stdout
        if "json" in args:
            assert json.loads(r.stdout)["overall"] == doc_check["overall"]


HOMES = [  # label, profile, entries at factor 1, seed, health_dir
    ("mixed", "mixed", 3500, 1101, "health"),
    ("latest-valid", "latest_valid", 3000, 2202, "health"),
    ("registered", "mixed", 2000, 3303, "health"),
    ("garbage", "garbage", 1300, 4404, "health"),
    ("warnings", "warnings", 400, 5505, "health"),
]


def test_ten_thousand_hostile_heartbeat_files_never_crash_and_every_problem_is_named(tmp_path):
    built = []
    for label, profile, count, seed, health_dir in HOMES:
        home, folder, _ = build_home(tmp_path, label, profile, count * SOAK, seed, health_dir)
        if label == "registered":  # a registered fleet
            (home / "fleet.toml").write_text(
                '[tasks.etl]\nschedule = "daily 07:00"\nalert_after = 2\n\n'
                '[tasks.nightly]\nmax_gap = "3d"\n\n[tasks.ghost]\nschedule = "every 1h"\n')
        built.append((home, folder, health_dir, profile))
    total = sum(len(f.made) for _, f, _, _ in built)
    assert total >= 10_000 * SOAK
    figures = []
    with ThreadPoolExecutor(2) as pool:  # two homes at a time: a 2-core machine
        list(pool.map(lambda b: judge_home(*b, figures), built))
    kinds = {}
    for _, folder, _, _ in built:
        for e in folder.made:
            kinds[e.lint or "clean"] = kinds.get(e.lint or "clean", 0) + 1
    print(f"\n{total} hostile health/ entries ({kinds['error']} errors, {kinds['warning']} warnings, {kinds['clean']} "
          f"clean) in {len(built)} homes, 0 crashes; "
          + "; ".join(f"{p}: {n} entries, check listed {c}, lint named {l}, {b} tasks RED for a broken newest file"
                      for p, n, c, l, b in figures))


def test_a_registered_task_that_never_reported_is_red_among_junk(tmp_path):
    """Junk in health/: a registered task with no file of its own is RED "never reported"."""
    home, folder, _ = build_home(tmp_path, "reg", "mixed", 600, 6606)
    (home / "fleet.toml").write_text('[tasks.ghost]\nschedule = "every 1h"\n')
    os.utime(home / "fleet.toml", (0, 0))      # registered long ago: its first-run wait is over
    r = alive("check", "--json", home=home)
    assert r.stderr == "" and r.returncode == 2
    items = {i["name"]: i for i in json.loads(r.stdout)["items"]}
    assert items["ghost"]["color"] == "RED" and items["ghost"]["reasons"][0].startswith("never reported: expected first")


# ================================================================ 2. fleet.toml variants

DURATION_KEYS = {"max_gap", "max_runtime", "max_age", "timeout", "default_max_gap", "interval", "poll"}
BAD_DURATIONS = ['"36 hours"', '"1.5h"', '"-5m"', '"5x"', '""', '"h"', "true", "[1]", "1.5", '"0s"', "0", "36", '"900"',
                 '"99999999999999w"', '"1h30"', '"15m "x', "-3", '"\u0661\u0665m"', "1979-05-27"]
BAD = {
    **{k: BAD_DURATIONS for k in DURATION_KEYS},
    "min_duration": ['"5 min"', "true", '"-1s"', "[]"],
    "retry_pause": ['"soon"', "false", "1.5"],
    "renotify": ['"often"', "[60]", "true", '"1 hour"'],
    "retention_days": ['"30"', "1.5", "true", "0", "-1"],
    "alert_after": ['"3"', "1.5", "true", "0", "-2"],
    "retries": ['"2"', "1.5", "false", "-1"],
    "port": ["0", "70000", '"8765"', "true"],
    "discover": ['"true"', "1", '"yes"'],
    "recovery": ['"false"', "0", "[true]"],
    "run": ['"python3 job.py"', "[]", "[1, 2]", '[""]', "{a = 1}", "42"],
    "producer": ['"python3 extract.py"', "[]", "[1]", '[""]'],
    "after": ['"./deploy.sh"', "[]", "[true]"],
    "command": ['"python3 probe.py"', "[]", "[[]]"],
    "argv": ['"logger -t alive"', "[]", "[3]"],
    "description": ["42", "true", "[]", "{x = 1}"],
    "path": ["42", '""', '["a.json"]', '"   "'],
    "timestamp": ["42", '""'],
    "health_dir": ["42", '""', "false"],
    "status_field": ["42", "[]"],
    "bad_status": ['"auth_expired"', "[1]", "{a = 1}"],
    "depends_on": ['"sync-crm"', '["nope"]', "[1]", '["publish-dashboard"]'],
    "schedule": ['"daily 25:00"', '"every"', '"cron 61 * * * *"', '"weekly xyz 06:00"', '"sometimes"', "42",
                 '"cron 0 0 31 2 *"', '"every 0m"', '"daily 7"', '"cron * * *"', '"hourly"', '"daily 07:00,"',
                 '"every 99999999999999d"'],
    "probe": ['"nosuch"', "42", '""'],
    "dashboard_url": ['"ftp://example.com"', '"127.0.0.1:8765"', "8765"],
    "label_prefix": ['"has space"', '"-leading"', "7"],
    "backend": ['"redis"', '"SPOOL"', "1"],
    "bind": ["42", '""'],
    "token_env": ['"not a name"', '"1ABC"', '"$TOKEN"'],
}
GOOD = {  # values that are fine where they stand
    "schedule": ['"every 5m"', '"cron */10 * * * *"', '"weekly mon,fri 06:00"', '"daily 00:00,23:59"'],
    "max_gap": ['"2d"', '"1h30m"', '"86400s"'],
    "description": ['"naïve ✓ 日本語 \u202e \u200b"', '"' + "long " * 20_000 + '"', "'literal \\ string'"],
    "alert_after": ["1000000000000"],
    "retention_days": ["3650"],
    "renotify": ['"0"', "false", "0", '"2h"'],
    "timeout": ['"5m"', '"30s"'], "max_age": ['"1h"', '"1w2d3h4m5s"'], "retries": ["5"], "poll": ['"1m"'],
    "port": ["9000"], "bad_status": ['["a", "b", "ünïcode"]'], "label_prefix": ['"org.example.x"'],
    "run": ['["/bin/echo", "✓"]'], "depends_on": ["[]"],
}
UNKNOWN_KEYS = ["max_age_s", "schedul", "maxgap", "Max_Gap", "tiemout", '"ключ"', '"emoji 🙂"', "x-y-z", "_", "1"]


class Fleet:
    """examples/fleet.toml as lines, with where each table and key is."""

    def __init__(self, text):
        self.lines = text.split("\n")
        self.tables = {}     # dotted table -> header line (1-based)
        self.keys = []       # (line, table, key)
        self.region = {}     # table -> [line numbers of blank/comment lines inside it]
        table = ""
        self.region[""] = []
        for n, line in enumerate(self.lines, 1):
            m = re.match(r"^\[([^\]]+)\]\s*(#.*)?$", line)
            if m:
                table = m.group(1)
                self.tables[table] = n
                self.region[table] = []
                continue
            m = re.match(r"^([A-Za-z0-9_-]+)\s*=", line)
            if m:
                self.keys.append((n, table, m.group(1)))
            elif not line.strip() or line.lstrip().startswith("#"):
                self.region[table].append(n)
        assert tomllib.loads(text), "examples/fleet.toml must parse"


class Variant:
    """One mutated fleet.toml: its lines and what must be named ((line, text) pairs)."""

    def __init__(self, fleet, rng):
        self.fleet, self.rng = fleet, rng
        self.lines = list(fleet.lines)
        self.expect = []           # (line, fragment) that must appear as 'fleet.toml:<line>: ...<fragment>'
        self.touched = set()       # tables already mutated (one mutation per table: no interference)
        self.used = set()          # lines already changed
        self.kinds = []
        self.raw = None            # bytes, when the text is not UTF-8

    def text(self):
        return self.raw if self.raw is not None else "\n".join(self.lines).encode("utf-8")

    def free_tables(self, tables=None):
        return [t for t in (tables if tables is not None else self.fleet.tables) if t not in self.touched]

    # ---- mutations that leave the rest checkable (several per variant)

    def wrong_value(self):
        options = [(n, t, k) for n, t, k in self.fleet.keys if k in BAD and t not in self.touched]
        if not options:
            return False
        n, table, key = self.rng.choice(options)
        value = self.rng.choice(BAD[key])
        if key == "depends_on" and value == '["publish-dashboard"]':  # publish-dashboard depends on itself: a cycle
            value = '["publish-dashboard"]' if table == "tasks.publish-dashboard" else '["nope"]'
        self.lines[n - 1] = f"{key} = {value}"
        self.touched.add(table)
        self.used.add(n)
        if value.endswith('"x'):  # '"15m "x': not even TOML
            self.expect.append((n, "not valid TOML"))
            return "syntax"
        self.expect.append((n, f"{table}.{key}"))
        return True

    def good_value(self):
        options = [(n, t, k) for n, t, k in self.fleet.keys if k in GOOD and t not in self.touched]
        if not options:
            return False
        n, table, key = self.rng.choice(options)
        self.lines[n - 1] = f"{key} = {self.rng.choice(GOOD[key])}"
        self.touched.add(table)
        self.used.add(n)
        return True

    def unknown_key(self):
        options = [t for t in self.free_tables(list(self.fleet.region)) if
                   [n for n in self.fleet.region[t] if n not in self.used]]
        if not options:
            return False
        table = self.rng.choice(options)
        n = self.rng.choice([n for n in self.fleet.region[table] if n not in self.used])
        key = self.rng.choice(UNKNOWN_KEYS)
        if table in ("serve", "notify.ntfy") and self.rng.random() < 0.5:
            key = "token"  # a secret in fleet.toml: refused with a hint
        self.lines[n - 1] = f'{key} = "15m"'
        self.touched.add(table)
        self.used.add(n)
        name = json.loads(key) if key.startswith('"') else key
        self.expect.append((n, registry._dotted(tuple(table.split(".")) + (name,)) if table else registry._dotted((name,))))
        return True

    def missing_required(self):
        required = {"path": "sources.", "max_age": "sources.", "command": "probes.", "argv": "notify.command"}
        options = [(n, t, k) for n, t, k in self.fleet.keys if k in required and t.startswith(required[k])
                   and t not in self.touched]
        if not options:
            return False
        n, table, key = self.rng.choice(options)
        self.lines[n - 1] = "# (removed)"
        self.touched.add(table)
        self.used.add(n)
        self.expect.append((self.fleet.tables[table], f"{table}.{key}: missing"))
        return True

    def cycle(self):
        pair = ("tasks.sync-crm", "tasks.publish-dashboard")
        if any(t in self.touched for t in pair):
            return False
        n = next((n for n in self.fleet.region["tasks.sync-crm"] if n not in self.used), None)
        if n is None:
            return False
        self.lines[n - 1] = 'depends_on = ["publish-dashboard"]'
        self.touched.update(pair)
        self.used.add(n)
        self.expect.append((n, "tasks.sync-crm.depends_on: dependency cycle"))
        return True

    def bad_name(self):
        options = [t for t in self.free_tables() if t.count(".") == 1 and t.split(".")[0] in ("tasks", "sources", "probes")]
        if not options:
            return False
        table = self.rng.choice(options)
        section = table.split(".")[0]
        name = self.rng.choice(["tâche", "../etc/passwd", "a b", ".hidden", "x" * 129, "日本", "-lead", ""])
        n = self.fleet.tables[table]
        self.lines[n - 1] = f"[{section}.{json.dumps(name, ensure_ascii=False)}]"
        self.touched.add(table)
        # a table renamed away: whatever named the old one (depends_on, probe) is now dangling
        self.touched.update(t for t in self.fleet.tables if t.startswith(section + "."))
        self.used.add(n)
        self.expect.append((n, registry._dotted((section, name))))
        return True

    def nested_value(self):
        options = [(n, t, k) for n, t, k in self.fleet.keys if k in ("description", "path", "schedule", "run")
                   and t not in self.touched]
        if not options:
            return False
        n, table, key = self.rng.choice(options)
        depth = self.rng.randrange(2, 60)
        value = "[" * depth + '"x"' + "]" * depth if self.rng.random() < 0.5 else "{a = " * depth + "1" + "}" * depth
        self.lines[n - 1] = f"{key} = {value}"
        self.touched.add(table)
        self.used.add(n)
        self.expect.append((n, f"{table}.{key}"))
        return True

    def deep_dotted_key(self):
        options = [t for t in self.free_tables(list(self.fleet.region)) if t and
                   [n for n in self.fleet.region[t] if n not in self.used]]
        if not options:
            return False
        table = self.rng.choice(options)
        n = self.rng.choice([n for n in self.fleet.region[table] if n not in self.used])
        self.lines[n - 1] = ".".join(["deep"] * self.rng.randrange(2, 600)) + " = 1"
        self.touched.add(table)
        self.used.add(n)
        self.expect.append((n, registry._dotted(tuple(table.split(".")) + ("deep",)) + ": unknown key"))
        return True

    SEMANTIC = ("wrong_value", "wrong_value", "wrong_value", "unknown_key", "unknown_key", "missing_required",
                "cycle", "bad_name", "nested_value", "deep_dotted_key", "good_value")

    # ---- mutations that stop the parser (alone in their variant)

    def syntax(self):
        n, table, key = self.rng.choice(self.fleet.keys)
        how = self.rng.randrange(12)
        if how == 0:
            line = f'{key} = "unterminated'
        elif how == 1:
            line = "= 5"
        elif how == 2:
            line = f"[{table}"
        elif how == 3:
            line = f"{key} = "
        elif how == 4:
            line = f'{key} = "bad \\q escape"'
        elif how == 5:
            line = f"{key} = 1 2"
        elif how == 6:
            line = f"{key} = {{a = 1"
        elif how == 7:
            line = f"{key} = tru"
        elif how == 8:
            line = f"{key} = 1979-05-27T25:00:00Z"
        elif how == 9:
            line = f'{key} = "a\x01b"'
        elif how == 10:  # the same key twice in its table: the second one, a later line, is named
            later = [m for m, t, k in self.fleet.keys if t == table and m > n]
            if not later:
                return False
            line, n = self.lines[n - 1], later[0]
        else:  # a table declared twice: the second header is named
            spare = [m for t in self.fleet.region if t for m in self.fleet.region[t]]
            n = self.rng.choice(spare)
            line = f"[{self.rng.choice([t for t in self.fleet.tables if self.fleet.tables[t] < n])}]"
        self.lines[n - 1] = line
        self.expect.append((n, "not valid TOML"))
        return True

    def too_deep(self):
        n, table, key = self.rng.choice(self.fleet.keys)
        depth = self.rng.choice([600, 2000, 20_000])
        value = "[" * depth + "]" * depth if self.rng.random() < 0.5 else "{a = " * depth + "1" + "}" * depth
        self.lines[n - 1] = f"{key} = {value}"
        self.expect.append((n, "not valid TOML: nested too deeply"))
        return True

    def huge_int(self):
        n, table, key = self.rng.choice(self.fleet.keys)
        self.lines[n - 1] = f"{key} = {self.rng.randrange(1, 10)}" + "9" * self.rng.randrange(4300, 9000)
        self.expect.append((n, "not valid TOML"))
        return True

    def not_utf8(self):
        n, table, key = self.rng.choice(self.fleet.keys)
        self.lines[n - 1] = f'{key} = "\udcff"'
        self.raw = "\n".join(self.lines).encode("utf-8", "surrogateescape")
        self.expect.append((n, "not UTF-8"))
        return True

    PARSER = ("syntax", "syntax", "syntax", "syntax", "too_deep", "huge_int", "not_utf8")


def make_variant(fleet, seed):
    rng = random.Random(seed)
    v = Variant(fleet, rng)
    roll = rng.random()
    if roll < 0.35:
        while not getattr(v, rng.choice(Variant.PARSER))():
            pass
        v.kinds.append("parser")
        return v
    if roll < 0.45:  # only changes that are fine: the check must work
        for _ in range(rng.randrange(1, 4)):
            if v.good_value():
                v.kinds.append("good_value")
        return v
    for _ in range(rng.randrange(1, 4)):
        for _attempt in range(10):
            kind = rng.choice(Variant.SEMANTIC)
            done = getattr(v, kind)()
            if done == "syntax":  # a bad value that broke the TOML itself: nothing else can be named
                v.kinds = ["parser"]
                v.expect = v.expect[-1:]
                return v
            if done:
                v.kinds.append(kind)
                break
    return v


LINE = re.compile(r"^(?:alive check: )?fleet\.toml:(\d+): ")


def problems_named(lines, expect):
    """The expected (line, fragment) pairs that no problem line names: 'fleet.toml:<line>: ...<fragment>...'."""
    def names(ln, n, frag):
        m = LINE.match(ln)
        return m is not None and m.group(1) == str(n) and frag in ln[m.end():]
    return [(n, frag) for n, frag in expect if not any(names(ln, n, frag) for ln in lines)]


def judge_in_process(home, variant, capsys, with_lint):
    """`alive check` (and, for every fourth variant, `alive lint --json`) through cli.main in
    this process. -> check's (exit code, stderr)."""
    (home / "fleet.toml").write_bytes(variant.text())
    capsys.readouterr()
    rc = cli.main(["check", "--home", str(home)])
    out, check_err = capsys.readouterr()
    assert "Traceback" not in out + check_err and "internal error" not in check_err, check_err
    if variant.expect:
        assert rc == 3 and out == "", (variant.kinds, rc, out[:300])
        lines = check_err.splitlines()
        assert lines and all(LINE.match(ln) for ln in lines), f"a problem without its line: {lines[:5]}"
        unnamed = problems_named(lines, variant.expect)
        assert not unnamed, (variant.kinds, unnamed, lines[:8])
    else:
        assert rc in (0, 1, 2) and check_err == "" and "overall:" in out, (variant.kinds, rc, check_err)
    if with_lint:  # lint is a check: a broken fleet.toml is error lines in its output and exit 2, never 3
        rc_lint = cli.main(["lint", "--json", "--home", str(home)])
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err and err == "", err
        found = json.loads(out)["problems"]
        mine = [f"fleet.toml:{p['line']}: {p['problem']}" for p in found if p["file"] == "fleet.toml"]
        assert rc_lint == 2 if variant.expect else rc_lint in (0, 1), (rc_lint, mine[:5])
        assert not problems_named(mine, variant.expect), (variant.expect, mine[:5])
    return rc, check_err


def test_a_thousand_fleet_toml_variants_never_crash_and_name_every_mistake(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ALIVE_DEBUG", raising=False)
    monkeypatch.delenv("ALIVE_CONFIG", raising=False)
    fleet = Fleet(EXAMPLE.read_text(encoding="utf-8"))
    count = 1000 * SOAK
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("ALIVE_HOME", str(home))
    results, kinds = {}, {}
    for seed in range(count):
        variant = make_variant(fleet, 7_000_000 + seed)
        for k in variant.kinds or ["none"]:
            kinds[k] = kinds.get(k, 0) + 1
        try:
            results[seed] = (variant, judge_in_process(home, variant, capsys, seed % 4 == 0))
        except AssertionError as exc:
            raise AssertionError(f"variant seed {7_000_000 + seed}: {exc}") from None

    # a sample as real processes: the same exit code and the same words
    sample = list(range(0, count, max(1, count // (50 * SOAK))))

    def real(seed):
        variant, (rc, err) = results[seed]
        own = tmp_path / f"sub{seed}"
        own.mkdir()
        (own / "fleet.toml").write_bytes(variant.text())
        r = alive("check", home=own)
        return seed, rc, err, r

    with ThreadPoolExecutor(2) as pool:
        for seed, rc, err, r in pool.map(real, sample):
            assert "Traceback" not in r.stdout + r.stderr and "internal error" not in r.stderr, (seed, r.stderr)
            assert r.returncode == rc, (7_000_000 + seed, r.returncode, rc, r.stderr[:500])
            if rc == 3:
                assert r.stderr == err, (7_000_000 + seed, r.stderr[:500], err[:500])
    broken = sum(1 for v, _ in results.values() if v.expect)
    print(f"\n{count} fleet.toml variants ({broken} broken, {count - broken} valid; mutations: "
          + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())) + f"), {len(sample)} also as real processes: "
          "0 tracebacks, every mistake named with its line")


# ================================================================ 3. huge values on the command line

@pytest.mark.parametrize("args", [
    ["write", "t", "--interval", "99999999999999999999w"],
    ["write", "t", "--interval", "9" * 5000],
    ["pause", "t", "--for", "99999999999999w"],
    ["schedule", "next", "every 99999999999999999w"],
    ["schedule", "next", "every " + "9" * 5000 + "s"],
    ["run", "t", "--timeout", "99999999999999999999d", "--", "true"],
])
def test_absurd_durations_on_the_command_line_are_one_line_and_exit_3(tmp_path, args):
    r = alive(*args, home=tmp_path)
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert len(r.stderr.splitlines()) == 1 and "too long" in r.stderr, r.stderr[:500]
    assert len(r.stderr) < 400 + sum(map(len, args)), "the message may echo the input once, not more"
    assert not (tmp_path / "health").exists()
