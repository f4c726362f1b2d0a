"""`alive pause TASK|source:NAME [--for DUR] [--reason TEXT]` and `alive resume ...`.

A pause is a fact in state/pauses.json ({"task:x": {until, reason, since}}); the item is
GREY while it is in force, and an expired pause simply stops counting.
"""
from datetime import timedelta

import sys

from alive import cliutil
from alive.base import paths, statefile
from alive.config import registry
from alive.write import heartbeat
from alive.base.errors import RuntimeFailure, UsageError
from alive.base.timeutil import format_iso, utcnow


def pauses_path(home):
    return paths.state_dir(home) / "pauses.json"


def update(home, change, command):
    """statefile.update of pauses.json; an unwritable state/ is one line and exit 1, a
    damaged pauses.json is set aside (one line says so) and the change made to a fresh one."""
    try:
        _, warning = statefile.update(pauses_path(home), change)
    except OSError as exc:
        raise RuntimeFailure(f"cannot write {pauses_path(home)}: {exc.strerror or exc}") from None
    if warning:
        print(f"alive {command}: warning: {warning}", file=sys.stderr)


def item_key(target, reg):
    """'task:<id>' or 'source:<name>'; a source must be registered, a task id must be valid."""
    if target.startswith("source:"):
        name = target[len("source:"):]
        if name not in reg.sources:
            known = ", ".join(sorted(reg.sources)) or "none registered"
            raise UsageError(f"unknown source {name!r} (sources: {known})")
        return f"source:{name}"
    name = target[len("task:"):] if target.startswith("task:") else target
    problem = heartbeat.task_id_problem(name)
    if problem:
        raise UsageError(problem)
    return f"task:{name}"


def require_known_task(key, home, reg):
    """A typo would be paused for good and greyed out nowhere: a task must be registered,
    be the implicit watchdog, or have a file in health/ (resume needs none of this: a
    paused task may since have left fleet.toml)."""
    from alive.check import health, scan

    name = key.partition(":")[2]
    if not key.startswith("task:") or name in reg.tasks or (name == health.WATCHDOG_TASK and reg.sources):
        return
    listing = scan.list_health(paths.health_dir(home))
    if name in listing.newest or name in listing.latest or any(n.startswith(name + "_") for n in listing.legacy):
        return
    hint = source_hint(key, reg, "pause")
    if hint:
        raise UsageError(f"unknown task {name!r}{hint}")
    known = ", ".join(sorted(reg.tasks)) or "none registered"
    raise UsageError(f"unknown task {name!r}: not in fleet.toml and no heartbeat in health/ (registered: {known})")


def source_hint(key, reg, command):
    """' (prices is a source: alive pause source:prices)' when a bare name given as a task is
    a registered source (a newcomer's first guess), else ''."""
    name = key.partition(":")[2]
    if key.startswith("task:") and name in reg.sources:
        return f" ({name} is a source: alive {command} source:{name})"
    return ""


def parser(command, text):
    p = cliutil.parser(command, text)
    p.add_argument("item", help="TASK or source:NAME")
    return p


def pause_main(argv):
    p = parser("pause", "Pause an item: GREY, not alerted, until --for runs out or it is resumed.")
    p.add_argument("--for", dest="duration", type=cliutil.duration_arg)
    p.add_argument("--reason")
    args = p.parse_args(argv)
    if args.duration is not None and args.duration <= 0:
        raise UsageError("pause: --for must be more than 0 (leave it out to pause until resumed)")
    home = paths.existing_home(args.home)
    reg = registry.load(paths.resolve_config(home, args.config), home)
    key = item_key(args.item, reg)
    require_known_task(key, home, reg)
    now = utcnow()
    until = format_iso(now + timedelta(seconds=args.duration)) if args.duration else None
    entry = {"since": format_iso(now), "until": until, "reason": args.reason}
    update(home, lambda data: data.__setitem__(key, entry), "pause")
    print(f"paused {key} {'until ' + until if until else 'until resumed'}"
          f"{': ' + args.reason if args.reason else ''}")
    return 0


def resume_main(argv):
    args = parser("resume", "End a pause.").parse_args(argv)
    home = paths.existing_home(args.home)
    reg = registry.load(paths.resolve_config(home, args.config), home)
    key = item_key(args.item, reg)
    found = []
    update(home, lambda data: found.append(data.pop(key, None)), "resume")
    print(f"resumed {key}" if found[0] else f"{key} was not paused{source_hint(key, reg, 'resume')}")
    return 0


main = pause_main
