"""`alive prune [--days N] [--dry-run] [--json]`: retention of canonical heartbeats.

The rule, judged by the date in the file name (the run's started_at, UTC), never by
mtime (a copy or a restore changes mtime, not when the run happened):

    a canonical heartbeat is removed when  today - its date  >  N days

so with N = 30 a file dated exactly 30 days ago is kept and one dated 31 days ago goes;
`today` is the UTC date of now. Always kept, however old: each task's newest canonical
heartbeat (a weekly or finished task never vanishes), every <task>_latest.json, legacy
and unknown files, and anything that is not a regular file (a symlink is never followed
nor removed). Nothing outside health/ is touched.
"""
import argparse
import json
import os
import stat
import sys
from datetime import date

from alive import cliutil
from alive.base import paths
from alive.config import registry
from alive.check import facts, scan
from alive.base.timeutil import utcnow


def days_arg(text):
    """argparse type for --days: a whole number of days, 0 or more."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days, 0 or more (e.g. --days 30)")
    return int(text)


def build_parser():
    p = cliutil.parser("prune", "Remove canonical heartbeats older than the retention "
                                "(each task's newest is always kept).")
    p.add_argument("--days", type=days_arg, help="keep this many days (default: settings.retention_days, 30)")
    p.add_argument("--dry-run", action="store_true", help="say what would be removed; remove nothing")
    cliutil.add_json(p)
    return p


# ---------------------------------------------------------------- the pure core


def plan(groups, today, days):
    """Names of canonical heartbeats to remove: dated more than `days` days before `today`,
    never a task's newest. `groups`: task -> its canonical names (scan.grouped). Pure:
    reads nothing but its arguments."""
    doomed = []
    for names in groups.values():
        for name in scan.newest_first(names)[1:]:
            age = age_in_days(name[:10], today)
            if age is not None and age > days:
                doomed.append(name)
    return sorted(doomed)


def age_in_days(text, today):
    """Whole days from the name's date to today; None for a date that does not exist
    (2026-02-30 passes the name pattern): such a file is not judged, so it is kept."""
    try:
        return (today - date.fromisoformat(text)).days
    except ValueError:
        return None


# ---------------------------------------------------------------- the edge


def newest_regular(listing):
    """task -> its names, without the newest ones that are not regular files (a symlink,
    a folder) down to a regular one: a symlink must not count as the newest kept while
    real runs go. Only these few names are stat'ed, not every file."""
    groups = {}
    for task, names in scan.grouped(listing).items():
        ordered = scan.newest_first(names)
        while ordered and not is_regular(os.path.join(listing.folder, ordered[0])):
            ordered.pop(0)
        if ordered:
            groups[task] = ordered
    return groups


def is_regular(path):
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)  # lstat: a symlink is never followed
    except OSError:
        return False


def remove(folder, names):
    """Unlink each name in folder -> (removed, failed [(name, reason)]). Each is checked
    again just before, so one swapped for a symlink or folder since is left alone."""
    removed, failed = [], []
    for name in names:
        path = os.path.join(folder, name)
        if not is_regular(path):
            continue
        try:
            os.unlink(path)  # unlink removes a link itself, never its target, and never a folder
        except FileNotFoundError:
            continue  # gone already (another prune): nothing left to do
        except OSError as exc:
            failed.append((name, exc.strerror or str(exc)))
            continue
        removed.append(name)
    return removed, failed


def main(argv):
    args = build_parser().parse_args(argv)
    home = paths.existing_home(args.home)
    reg = registry.load(paths.resolve_config(home, args.config), home)  # a bad fleet.toml: exit 3
    days = args.days if args.days is not None else reg.settings.retention_days
    folder = paths.health_dir(home)
    groups = newest_regular(scan.list_health(folder))
    # Symlinks, folders and FIFOs are left alone: not removed, not even listed as would-be.
    doomed = [name for name in plan(groups, utcnow().date(), days) if is_regular(os.path.join(folder, name))]
    removed, failed = (doomed, []) if args.dry_run else remove(folder, doomed)
    total = sum(len(names) for names in groups.values())
    report(args, home, folder, removed, failed, total, days)
    return 1 if failed else 0


def report(args, home, folder, removed, failed, total, days):
    shown = [facts.shown_path(os.path.join(folder, name), home) for name in removed]
    problems = [{"file": facts.shown_path(os.path.join(folder, name), home), "problem": f"cannot remove: {why}"}
                for name, why in failed]
    for p in problems:
        print(f"alive prune: {p['file']}: {p['problem']}", file=sys.stderr)
    if args.json:
        print(json.dumps({"dry_run": args.dry_run, "days": days, "removed": shown, "failed": problems},
                         indent=2, ensure_ascii=False))
        return
    verb = "would remove" if args.dry_run else "removed"
    for path in shown:
        print(f"{verb} {path}")
    print(f"{verb} {len(shown)} of {total} canonical heartbeats older than {days} day{'' if days == 1 else 's'} "
          f"(each task's newest kept){f'; {len(failed)} could not be removed' if failed else ''}")
