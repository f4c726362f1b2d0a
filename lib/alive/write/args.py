"""A small option parser for the two commands every job runs (`alive write`, `alive run`):
argparse and what it imports cost more than the rest of a heartbeat write.

Mistakes raise UsageError (exit 3) with argparse's wording.
"""
from alive.base.errors import UsageError


def parse(argv, prog, usage, valued=(), repeated=(), flags=()):
    """-> dict: option name without '--' (dashes kept) -> value; repeated options -> lists;
    flags -> True when given; the one positional argument -> 'positional'.
    Accepts `--opt value` and `--opt=value`; -h/--help prints usage and exits 0."""
    opts = {name[2:]: [] for name in repeated}
    positional = []
    args = iter(argv)
    for arg in args:
        if arg in ("-h", "--help"):
            print(usage)
            raise SystemExit(0)
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in flags and not eq:
            opts[name[2:]] = True
        elif name in valued or name in repeated:
            value = inline if eq else next(args, None)
            if value is None:
                raise UsageError(f"{prog}: argument {name}: expected one argument")
            if name in repeated:
                opts[name[2:]].append(value)
            else:
                opts[name[2:]] = value
        elif arg.startswith("--") or (arg.startswith("-") and len(arg) > 1 and not positional):
            raise UsageError(f"{prog}: unrecognized arguments: {arg}")
        else:
            positional.append(arg)
    if not positional:
        raise UsageError(f"{prog}: the following arguments are required: task")
    if len(positional) > 1:
        raise UsageError(f"{prog}: unrecognized arguments: {' '.join(positional[1:])}")
    opts["positional"] = positional[0]
    return opts


# A bare number given to these is hinted as seconds, as GNU timeout reads one ("'s' for
# seconds (the default)": https://www.gnu.org/software/coreutils/manual/html_node/timeout-invocation.html).
SECONDS_OPTIONS = {"--timeout"}


def duration(prog, option, raw):
    """A DUR option's value in seconds, more than 0 (None when not given)."""
    if raw is None:
        return None
    from alive.base.durations import parse_duration

    try:
        seconds = parse_duration(raw, "s" if option in SECONDS_OPTIONS else None)
    except ValueError as exc:
        raise UsageError(f"{prog}: argument {option}: {exc}") from None
    if seconds <= 0:
        raise UsageError(f"{prog}: argument {option}: {raw!r} must be more than 0")
    return seconds
