"""`alive schedule ACTION ...`: schedules seen from the command line.

`next SPEC [--count N] [--after ISO]` prints the next fire times, one a line, in local
time (TZ) with its offset. Each action is one sub-parser and one function in ACTIONS,
so the unit writers (launchd, systemd, crontab) slot in beside it.
"""
import argparse

from . import cliutil
from .errors import UsageError


def _count(text):
    if not text.isdigit() or not 1 <= int(text) <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count from 1 to 1000")
    return int(text)


def _next(args):
    from .schedule import next_fires, parse_schedule
    from .timeutil import parse_iso, utcnow

    spec = " ".join(args.spec)
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


ACTIONS = {"next": _next}


def main(argv):
    p = cliutil.parser("schedule", description="schedules: next fire times")
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
    args = p.parse_args(argv)
    return ACTIONS[args.action](args)
