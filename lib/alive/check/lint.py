"""`alive lint [--json]`: every file in health/ and fleet.toml, checked against the contract.

Unlike `alive check`, which reads only the few files a decision needs, lint reads every
file, so a broken heartbeat is found before it becomes a task's latest run. Severities
(DESIGN §9): error = cannot be trusted as a heartbeat; warning = readable but not
canonical. Exit 0 clean, 1 warnings only, 2 any error. A broken fleet.toml is an error
line like any other (lint is a check), never exit 3.
"""
import json
import os
import stat
from datetime import timedelta

from alive import cliutil
from alive.base import paths
from alive.config import registry
from alive.write import heartbeat
from alive.check import facts, health, scan
from alive.base.errors import BrokenHome, UsageError
from alive.cliutil import plural
from alive.base.timeutil import format_duration, format_iso, parse_iso, utcnow
from alive.base.tokens import printable

ERROR, WARNING = "error", "warning"
TEMP_GRACE_S = 3600      # a younger dot-file is a writer at work, not a stray
CLOCK_SKEW_S = health.SKEW_S    # the tolerance `alive check` allows (DESIGN §5)


def build_parser():
    p = cliutil.parser("lint", "Check every file in health/ and fleet.toml; "
                               "exit 0 clean, 1 warnings only, 2 errors.")
    cliutil.add_json(p)
    return p


# ---------------------------------------------------------------- fleet.toml


def lint_config(config, home):
    """fleet.toml problems as lint records; `line` is kept (None when unknown)."""
    shown = facts.shown_path(config, home)
    return [{"file": shown, "line": p["line"], "severity": p["severity"], "problem": p["problem"]}
            for p in registry.problems(config, home)]


def registered_tasks(config, home):
    """fleet.toml's task ids; none when it does not load (its errors are lint lines already)."""
    try:
        return set(registry.load(config, home).tasks)
    except UsageError:          # (a ConfigError, or a config that cannot be read)
        return set()


# ---------------------------------------------------------------- health/


def lint_health(folder, home, now, registered=()):
    """-> (problems, number of entries looked at). `now` dates stray temp files and future runs;
    `registered`: fleet.toml's task ids, for the tasks in health/ a typo away from one."""
    shown = facts.shown_path(folder, home)
    try:
        listing = scan.list_health(folder)
    except BrokenHome as exc:  # not a folder, a dangling link, unreadable: say so, do not crash
        return [record(shown, ERROR, exc.detail)], 0
    kinds = classify(listing)
    alone = latest_only(listing)
    problems = []
    for name in sorted(kinds):
        kind, task = kinds[name]
        shown = facts.shown_path(os.path.join(folder, name), home)
        problems += [record(shown, severity, text) for severity, text in lint_entry(folder, name, kind, task, now)]
        if name in alone:
            problems.append(record(shown, WARNING, f"the only file of task {task}: it is judged, but keeps no history "
                                                   f"(alive write and alive run write <YYYY-MM-DD>_{task}_<HHMM>.json too)"))
    return problems + near_misses(listing, registered, home), len(kinds)


def near_misses(listing, registered, home):
    """A warning on the newest file of each task that is not registered but a typo away from
    a registered one (check says the same and calls the task YELLOW)."""
    found = []
    index = health.near_miss_index(registered) if registered else None
    for task in sorted(set(listing.newest) | set(listing.latest)) if index else ():
        match = task not in registered and health.near_miss(task, registered, index)
        if match:
            name = listing.newest.get(task) or listing.latest[task]
            found.append(record(facts.shown_path(os.path.join(listing.folder, name), home), WARNING,
                                f"task {task} is not in fleet.toml: {health.did_you_mean(match)}"))
    return found


def classify(listing):
    """name -> (kind, task) for every entry scan.list_health found."""
    kinds = {}
    for task, names in scan.grouped(listing).items():
        for name in names:
            kinds[name] = ("canonical", task)
    for task, name in listing.latest.items():
        kinds[name] = ("latest", task)
    kinds.update({name: ("legacy", None) for name in listing.legacy})
    kinds.update({name: ("temp", None) for name in listing.temp})
    kinds.update({name: ("other", None) for name in listing.other})
    return kinds


def latest_only(listing):
    """Names of <task>_latest.json files whose task has no other file (a legacy writer)."""
    return {name for task, name in listing.latest.items()
            if task not in listing.newest and not any(n.startswith(task + "_") for n in listing.legacy)}


def record(shown, severity, problem):
    return {"file": shown, "severity": severity, "problem": problem}


def lint_entry(folder, name, kind, task, now):
    """[(severity, problem)] for one entry of health/."""
    if kind == "temp":
        return stray_temp(folder, name, now)
    found = []
    if not utf8(name):
        found.append((WARNING, "file name is not UTF-8 (shown with \ufffd; rename it)"))
    what = file_kind(folder, name)
    if kind == "other":
        return found + [(WARNING, f"not a heartbeat file ({what})" if what else "not a heartbeat file")]
    if what:  # a symlink, folder or FIFO named like a heartbeat: readers refuse it too
        return found + [(ERROR, f"named like a heartbeat but is {what}")]
    return found + beat_problems(folder, name, kind, task, now)


def beat_problems(folder, name, kind, task, now):
    """Read and check one regular file named like a heartbeat. scan.read_beat never
    follows a symlink, blocks on a FIFO or reads past 1 MiB, should one appear meanwhile."""
    beat = scan.read_beat(folder, name, task)
    found = [(ERROR, e) for e in beat.errors] + [(WARNING, w) for w in beat.warnings]
    if kind == "legacy":
        if beat.valid and not name.startswith(beat.data["task_id"] + "_"):
            found.append((ERROR, "not a heartbeat name: neither <YYYY-MM-DD>_<task-id>_<HHMM>.json nor the legacy "
                                 f"{beat.data['task_id']}_<anything>.json, so check does not count it "
                                 f"(rename it {expected_stem(beat.data)}.json)"))
        else:
            found.append((WARNING, legacy_name_problem(beat)))
    if beat.valid:
        found += name_mismatch(name, kind, beat.data) + future_run(beat.data, now)
        if heartbeat.interval_problem(beat.data):
            found.append((ERROR, heartbeat.interval_problem(beat.data) + " (check falls back to the default max gap)"))
    return found


def legacy_name_problem(beat):
    text = "legacy bare file name (alive writes <YYYY-MM-DD>_<task-id>_<HHMM>.json"
    if beat.valid:
        text += f"; this one would be {expected_stem(beat.data)}.json"
    return text + ")"


def expected_stem(data):
    started = format_iso(parse_iso(data["started_at"]))  # any offset -> the UTC form the name uses
    return heartbeat.canonical_stem({"task_id": data["task_id"], "started_at": started})


def name_mismatch(name, kind, data):
    """A canonical name whose date/time is not started_at's misorders the task's runs:
    readers take the newest *name* as the latest run (DESIGN §9)."""
    if kind != "canonical":
        return []
    stem = expected_stem(data)
    if name == f"{stem}.json" or (name.startswith(f"{stem}-") and name[len(stem) + 1:-5].isdigit()):
        return []
    return [(WARNING, f"file name does not match started_at {data['started_at']} (expected {stem}.json)")]


def future_run(data, now):
    """A run dated in the future is a clock that was wrong: check does not count a run that
    starts after the minute of now + 5 minutes (facts.Facts.cutoff) and lists its file as
    invalid, so that is an error here too; a later completed_at alone is clock skew."""
    started = facts.minute_of(parse_iso(data["started_at"]))
    if started > facts.minute_of(now + timedelta(seconds=CLOCK_SKEW_S)):
        return [(ERROR, f"started_at {data['started_at']} is more than {CLOCK_SKEW_S // 60} minutes in the future "
                        "(clock skew?): check does not count it until then")]
    if (parse_iso(data["completed_at"]) - now).total_seconds() <= CLOCK_SKEW_S:
        return []
    return [(WARNING, f"completed_at {data['completed_at']} is in the future (clock skew?): "
                       "check counts this run's age from its started_at")]


def stray_temp(folder, name, now):
    """Dot-files are writers' temp files: one older than an hour was left by a writer that died."""
    try:
        info = os.lstat(os.path.join(folder, name))
    except OSError:
        return []  # gone: its writer finished
    age = now.timestamp() - info.st_mtime
    if age <= TEMP_GRACE_S:
        return []
    what = "stray temp file" if name.endswith(".tmp") else "hidden file, not a heartbeat file"
    kind = file_kind(folder, name)
    return [(WARNING, f"{what}, {format_duration(age)} old{f' ({kind})' if kind else ''} (safe to remove)")]


def file_kind(folder, name):
    """'a folder' and the like, from lstat (a symlink is never followed); None for a plain
    file, or one that is gone (then reading it says so)."""
    try:
        mode = os.lstat(os.path.join(folder, name)).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link, not followed"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO, not read"
    return "a special file, not read"


def utf8(name):
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.scandir keeps undecodable bytes as lone surrogates
        return False
    return True


# ---------------------------------------------------------------- output


def exit_code(problems):
    severities = {p["severity"] for p in problems}
    return 2 if ERROR in severities else 1 if WARNING in severities else 0


def text_lines(problems, checked):
    lines = []
    for p in problems:
        shown = p["file"].replace("\n", "\\n")  # a newline in a file name must not split the line
        where = f"{shown}:{p['line']}" if p.get("line") else shown
        lines.append(f"{p['severity'].upper()} {where}: {p['problem']}")
    errors = sum(p["severity"] == ERROR for p in problems)
    warnings = len(problems) - errors
    counts = "clean" if not problems else f"{plural(errors, 'error')}, {plural(warnings, 'warning')}"
    lines.append(f"{counts} ({plural(checked, 'file')} in health/ checked)")
    return lines


def main(argv):
    args = build_parser().parse_args(argv)
    home = paths.existing_home(args.home)
    config = paths.resolve_config(home, args.config)
    problems = lint_config(config, home)
    found, checked = lint_health(paths.health_dir(home), home, utcnow(), registered_tasks(config, home))
    problems += found
    if args.json:
        print(json.dumps({"problems": problems, "files_checked": checked}, indent=2, ensure_ascii=False))
    else:
        print(printable("\n".join(text_lines(problems, checked))))   # a file name may hold ESC
    return exit_code(problems)
