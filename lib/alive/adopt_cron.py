"""`alive adopt crontab`: the jobs of the user's crontab (`crontab -l`, written back with
`crontab -`, as `alive schedule crontab` does; tests put a stand-in `crontab` on PATH).

A job line is `M H DOM MON DOW command` or `@nickname command`; its schedule passes through
as `cron M H DOM MON DOW` (@hourly, @daily, ... as the five fields cron's man page gives
them; @reboot has none). Environment lines (SHELL=, MAILTO=, CRON_TZ=), comments, blank
lines and the block `alive schedule crontab` writes are left alone.

The rewritten line keeps the schedule and runs
    <python> <bin/alive> run NAME --home ALIVE_HOME -- <SHELL> -c '<the command>'
with the crontab's SHELL (default /bin/sh), as cron itself would have, so the command means
what it meant. cron turns a `%` into a newline and feeds what follows it to the command's
standard input; `alive run` gives a job no standard input, so such a line is left as it is
and says so. A `\\%` stays as it is inside the quotes (cron unescapes it the same way).
"""
import re
import shlex

from . import crontab, units
from .adopt import Job, slug
from .errors import RuntimeFailure

NICKNAMES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
             "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
JOB_LINE = re.compile(r"^(\s*)((?:\S+\s+){4}\S+|@[A-Za-z]+)(\s+)(\S.*)$")
ENV_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
INTERPRETERS = {"sh", "bash", "zsh", "python", "python3", "perl", "ruby", "node", "php", "env", "nice", "ionice",
                "flock", "timeout", "nohup"}


def read(ctx):
    units.require_tool("crontab", crontab.NO_CRONTAB)
    return {"crontab": crontab.current().encode("utf-8")}


def read_one(key, ctx):
    return crontab.current().encode("utf-8")


def write(key, data, ctx):
    units.tool(["crontab", "-"], input=data.decode("utf-8"))


def remove(key, ctx):
    raise RuntimeFailure("the crontab is never removed by adopt")     # it existed: it had the jobs


def reload(keys, ctx, say):
    pass                                                               # cron reads a new crontab itself


def shown(key, data):
    return data.decode("utf-8", "replace")


def split_percent(command):
    """(the command cron runs, its standard input or None): cut at the first `%` not escaped."""
    i = 0
    while i < len(command):
        if command[i] == "\\" and command[i + 1:i + 2] == "%":
            i += 2
            continue
        if command[i] == "%":
            return command[:i], command[i + 1:]
        i += 1
    return command, None


def program_name(command):
    """A task name from a shell command: the program of its first real step (a script run by
    an interpreter names itself), without folder or extension."""
    for step in re.split(r"&&|\|\||;|\|", command):
        try:
            words = shlex.split(step)
        except ValueError:
            words = step.split()
        words = [w for w in words if not ENV_LINE.match(w)]
        if not words or words[0] in ("cd", "test", "[", "true", ":"):
            continue
        while len(words) > 1 and words[0].rsplit("/", 1)[-1] in INTERPRETERS:
            words = [w for w in words[1:] if not w.startswith("-")] or words[:1]
        base = words[0].rstrip("/").rsplit("/", 1)[-1]
        return slug(base.rsplit(".", 1)[0] if "." in base[1:] else base)
    return "cron-job"


def parse(text):
    """[(line index, leading space, spec, separator, command, notes)] of the job lines, and the
    SHELL the crontab sets for them (cron's default /bin/sh)."""
    lines = text.splitlines()
    out, shell, zone, inside_ours = [], {}, None, False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("# BEGIN alive ("):
            inside_ours = True
        if inside_ours:
            inside_ours = not stripped.startswith("# END alive (")
            continue
        if not stripped or stripped.startswith("#"):
            continue
        env = ENV_LINE.match(line)
        m = JOB_LINE.match(line)
        if env and not (m and m.group(2).split()[0][0] in "0123456789*@"):
            name, value = env.group(1), env.group(2).strip().strip("\"'")
            if name == "SHELL":
                shell[i] = value
            elif name in ("CRON_TZ", "TZ"):
                zone = value
            continue
        if m:
            notes = [f"CRON_TZ={zone}: cron runs this line in that zone; alive reads a schedule in the local "
                     f"zone (TZ), so set TZ for alive or check the times"] if zone else []
            out.append((i, m.group(1), m.group(2), m.group(3), m.group(4), notes, _shell_at(shell, i)))
    return lines, out


def _shell_at(shells, index):
    before = [i for i in shells if i < index]
    return shells[max(before)] if before else "/bin/sh"


def schedule_of(spec):
    """(alive schedule, note) of a cron line's time fields."""
    from .schedule import parse_schedule

    if spec.startswith("@"):
        fields = NICKNAMES.get(spec.lower())
        if fields is None:
            return None, f"{spec} runs at boot (or is not a cron nickname): no time to expect it at"
        spec = fields
    try:
        return parse_schedule(f"cron {spec}").text, None
    except ValueError as exc:
        return None, f"{spec!r} has no alive form ({exc})"


def jobs(files, ctx):
    text = files["crontab"].decode("utf-8")
    _, found = parse(text)
    out = []
    for index, _lead, spec, _sep, command, notes, _shell in found:
        head, stdin = split_percent(command)
        job = Job(program_name(head), f"crontab line {index + 1}", command, None, list(notes), key="crontab",
                  handle=index)
        job.schedule, note = schedule_of(spec)
        job.notes += [note] if note else []
        try:
            adopted = ctx.wrapped(shlex.split(head))
        except ValueError:
            adopted = None
        if adopted:
            job.name, job.wrap, job.adopted = adopted, False, True
        elif stdin is not None:
            job.wrap = False
            job.notes.append("it feeds its command standard input (the text after %), which `alive run` does not "
                             "pass on: left as it is, not registered")
        out.append(job)
    return out


def _word(text):
    return shlex.quote(text).replace("%", "\\%")


def rewrite(files, chosen, ctx):
    text = files["crontab"].decode("utf-8")
    lines, found = parse(text)
    by_line = {j.handle: j for j in chosen}
    for index, lead, spec, sep, command, _notes, shell in found:
        job = by_line.get(index)
        if job is None:
            continue
        runner = " ".join(_word(w) for w in ctx.alive_run(job.name) + [shell, "-c"])
        lines[index] = f"{lead}{spec}{sep}{runner} {shlex.quote(command)}"
    new = "\n".join(lines) + ("\n" if text.endswith("\n") else "")
    return {"crontab": new.encode("utf-8")}
