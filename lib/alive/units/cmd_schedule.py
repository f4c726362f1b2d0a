"""`alive schedule ACTION ...`: schedules seen from the command line.

`next SPEC [--count N] [--after ISO]` prints the next fire times, one a line, in local
time (TZ) with its offset. Each action is one sub-parser and one function in ACTIONS.

`launchd|systemd|crontab [--out DIR] [--install|--uninstall] [--dry-run]` writes the units
of every scheduled job of the fleet (units.jobs): to standard output by default, into DIR
with --out, into the scheduler with --install (and out of it with --uninstall). The
writers are launchd.py, systemd.py and crontab.py.
"""
import argparse

from alive import cliutil
from alive.base.errors import RuntimeFailure, UsageError


def _count(text):
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count from 1 to 1000")
    return int(text)


def _one_spec(words):
    """The SPEC of `next` from its words; two specs in one call are refused, not run together."""
    from alive.config.schedule import KINDS

    words = [w for arg in words for w in arg.split()]
    starts = [i for i, w in enumerate(words) if w.lower() in KINDS]
    if len(starts) > 1:
        specs = [" ".join(words[a:b]) for a, b in zip(starts, starts[1:] + [len(words)])]
        raise UsageError(f"alive schedule next: one SPEC per call, got {len(specs)} "
                         f"({', '.join(repr(s) for s in specs)}): run it once for each")
    return " ".join(words)


def _next(args):
    from alive.config.schedule import next_fires, parse_schedule
    from alive.base.timeutil import parse_iso, utcnow

    spec = _one_spec(args.spec)
    try:
        schedule = parse_schedule(spec)
    except ValueError as exc:
        raise UsageError(f"bad schedule: {exc}") from None
    try:
        after = parse_iso(args.after, naive_as_local=True) if args.after is not None else utcnow()
    except ValueError as exc:
        raise UsageError(f"--after: {exc}") from None
    try:
        fires = next_fires(schedule, after, args.count)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print("\n".join(f.isoformat(timespec="seconds") for f in fires))
    return 0


def _units(args):
    from alive.units import units
    from alive.cliutil import load

    if args.dry_run and not (args.install or args.uninstall):
        raise UsageError("--dry-run goes with --install or --uninstall")
    _home, reg = load(args, create_home=True)
    setup = units.setup_for(reg)
    writer = units.module(args.action)
    job_list = units.jobs(reg, setup)
    if not args.uninstall:
        for text in writer.notes(setup, job_list):
            units.note(text)
    try:
        if args.uninstall:
            return writer.uninstall(setup, dry_run=args.dry_run)
        if args.install:
            return writer.install(setup, job_list, dry_run=args.dry_run)
        files = writer.render(setup, job_list)
        if args.out:
            written = units.write_files(args.out, files)
            print("\n".join(str(path) for path in written))
            return 0
    except OSError as exc:  # an unwritable LaunchAgents, --out or logs/ folder
        raise RuntimeFailure(f"cannot write {exc.filename or 'a file'}: {exc.strerror or exc}") from None
    texts = {name: data.decode() if isinstance(data, bytes) else data for name, data in files.items()}
    if args.action == "crontab":  # one block, pasteable into `crontab -e` as it is
        print(next(iter(texts.values())), end="")
    else:
        print("\n".join(f"==> {name} <==\n{text}" for name, text in texts.items()), end="")
    return 0


ACTIONS = {"next": _next, "launchd": _units, "systemd": _units, "crontab": _units}


def main(argv):
    p = cliutil.parser("schedule", description="schedules: next fire times; launchd/systemd/crontab units")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    nxt = actions.add_parser("next", help="next fire times of a schedule, strictly after --after (default now)",
                             description="Print the next fire times of SPEC, one a line, in local time (TZ).")
    # The common options are accepted after the action too (they do not matter to `next`).
    nxt.add_argument("--home", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    nxt.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    nxt.add_argument("spec", nargs="+", metavar="SPEC",
                     help='"every 15m" | "daily 07:00" | "weekly mon 06:00" | "cron 0 7 * * *"')
    nxt.add_argument("--count", type=_count, default=5, help="how many (1 to 1000, default 5)")
    nxt.add_argument("--after", metavar="ISO", help="start instant; without an offset it is local time (default now)")
    where = {"launchd": "~/Library/LaunchAgents, loaded into gui/<uid>",
             "systemd": "user units in ~/.config/systemd/user, timers enabled",
             "crontab": "a marked block of the user's crontab"}
    for name, place in where.items():
        unit = actions.add_parser(name, help=f"{name} units of every scheduled job ({place})",
                                  description=f"Write the {name} units of every scheduled job of the fleet: to "
                                              f"standard output, into --out DIR, or with --install into {place}.")
        unit.add_argument("--home", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        unit.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        how = unit.add_mutually_exclusive_group()
        how.add_argument("--out", metavar="DIR", help="write the files into DIR instead of printing them")
        how.add_argument("--install", action="store_true", help=f"install into {place}")
        how.add_argument("--uninstall", action="store_true", help="remove this fleet's units (label_prefix)")
        unit.add_argument("--dry-run", action="store_true", help="with --install/--uninstall: only say what")
    args = p.parse_args(argv)
    return ACTIONS[args.action](args)
