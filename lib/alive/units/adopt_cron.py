"""`alive adopt crontab [FILE|-]`: the jobs of the user's crontab (`crontab -l`, written back with
`crontab -`, as `alive schedule crontab` does; tests put a stand-in `crontab` on PATH), or of a
crontab FILE (written back in place), or of standard input (`-`: shown, never written).

A crontab is bytes and stays bytes: each line keeps its own end (CRLF too: cron passes the \\r
on to the command as part of its last word, cronie src/entry.c load_entry() reading the command
up to the \\n; the rewritten line keeps it in the same place, so the command gets the same
word), and bytes that are not UTF-8 are kept as they are (surrogateescape). A job line holding
such bytes is left as it is and said: fleet.toml, where its description would go, is UTF-8.

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

`@reboot` lines are left as they are: they run once after each boot, and alive has no schedule
that says "once after each boot" (registered without one, they would be RED "never reported"
at once and again 36 h after every boot).

A guarded line (`[ "$(date +\\%d)" -le 07 ] && job`) exits 1 on every day its guard skips;
cron does not look at exit codes, alive would count a failed run. Such a command is adopted as
`if GUARD; then JOB; fi` (exit 0 when the guard skips, the job's own status when it runs); a
guarded command that is not a plain `GUARD && ... && JOB` is adopted as it is, with a note.
"""
import os
import re
import shlex
import sys
from pathlib import Path

from alive.units import crontab, units
from alive.units.adopt import Job, slug, write_raw
from alive.base.errors import RuntimeFailure, UsageError

NICKNAMES = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
             "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
JOB_LINE = re.compile(r"^(\s*)((?:\S+\s+){4}\S+|@[A-Za-z]+)(\s+)(\S.*)$")
ENV_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
INTERPRETERS = {"sh", "bash", "zsh", "python", "python3", "perl", "ruby", "node", "php", "env", "nice", "ionice",
                "flock", "timeout", "nohup"}


USER_CRONTAB = "crontab"          # the key of the user's crontab; a FILE's key is its absolute path
STDIN = "-"
TEST_WORDS = {"[": "]", "[[": "]]", "test": None}


def read(ctx):
    if ctx.source == STDIN:
        return {STDIN: sys.stdin.buffer.read()}
    if ctx.source is not None:
        path = os.path.abspath(ctx.source)
        refuse_system_path(path)
        try:
            return {path: Path(path).read_bytes()}
        except OSError as exc:
            raise UsageError(f"cannot read the crontab {ctx.source}: {exc.strerror or exc}") from None
    units.require_tool("crontab", crontab.NO_CRONTAB)
    return {USER_CRONTAB: crontab.current(raw=True)}


# crontab(5) (cronie man/crontab.5): /etc/crontab and the files of /etc/cron.d are system crontabs,
# whose job lines name a user between the times and the command; cronie src/entry.c load_entry()
# reads that word with getpwnam() when the file has no owner (`if (!pw)`). A user crontab has no such
# field: adopted as one, the user name would become the program run (and the task's name).
ONLY_USER_CRONTABS = "adopt reads user crontabs only (no user field): nothing written"


def refuse_system_path(path):
    real = os.path.realpath(path)
    if any(p == "/etc/crontab" or p.startswith("/etc/cron.d/") for p in (path, real)):
        shown = path if real == path else f"{path} (-> {real})"
        raise UsageError(f"{shown} is a system crontab, whose job lines name a user before the command "
                         f"(crontab(5)); {ONLY_USER_CRONTABS}")


def refuse_system_lines(key, commands):
    """Every job line's first word a user name followed by a command: the system format, wherever the
    file is (one job line running a program is enough to say it is not: there the field is mandatory)."""
    firsts = [c.split(None, 1) for c in commands]
    users = [words[0] for words in firsts if len(words) == 2 and is_user(words[0])]
    if commands and len(users) == len(commands):
        where = {USER_CRONTAB: "your crontab (crontab -l)", STDIN: "the crontab on standard input"}.get(key, key)
        raise UsageError(f"{where} looks like a system crontab: every job line names a user "
                         f"({', '.join(dict.fromkeys(users))}) before its command (crontab(5)); {ONLY_USER_CRONTABS}")


def is_user(word):
    import pwd

    try:
        pwd.getpwnam(word)
    except (KeyError, ValueError, UnicodeError):
        return False
    return True


def read_one(key, ctx):
    if key == USER_CRONTAB:
        return crontab.current(raw=True)
    path = Path(key)
    return path.read_bytes() if path.exists() else None


def write(key, data, ctx):
    if key == USER_CRONTAB:
        units.tool(["crontab", "-"], input=data, text=False)
    else:
        write_raw(Path(key), data)


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
        if not words or words[0] in ("cd", "true", ":", *TEST_WORDS):      # a guard names no job
            continue
        while len(words) > 1 and words[0].rsplit("/", 1)[-1] in INTERPRETERS:
            words = [w for w in words[1:] if not w.startswith("-")] or words[:1]
        base = words[0].rstrip("/").rsplit("/", 1)[-1]
        return slug(base.rsplit(".", 1)[0] if "." in base[1:] else base)
    return "cron-job"


def split_lines(data):
    r"""[(text, end)] of a crontab's bytes: each line as text (bytes that are not UTF-8 as
    surrogates, which encode back as they were) and its own end ("\n", "\r\n", or none on a last
    line without one). Only \n ends a line, as for cron (str.splitlines would also split at \f,
    \x1c, U+2028 ... and every line would come back ending in \n)."""
    pieces = data.decode("utf-8", "surrogateescape").split("\n")
    out = []
    for i, piece in enumerate(pieces):
        end = "\n" if i < len(pieces) - 1 else ""
        if piece.endswith("\r"):
            piece, end = piece[:-1], "\r" + end
        out.append((piece, end))
    if out[-1] == ("", ""):
        out.pop()
    return out


def joined(lines):
    return "".join(text + end for text, end in lines).encode("utf-8", "surrogateescape")


def not_utf8(text):
    """The first byte of a line that is not UTF-8 (as a surrogate), or None."""
    bad = re.search("[\udc80-\udcff]", text)
    return ord(bad.group()) - 0xDC00 if bad else None


def parse(lines):
    """[(line index, leading space, spec, separator, command, notes)] of the job lines, and the
    SHELL the crontab sets for them (cron's default /bin/sh)."""
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
    return out


def _shell_at(shells, index):
    before = [i for i in shells if i < index]
    return shells[max(before)] if before else "/bin/sh"


def schedule_of(spec):
    """(alive schedule, note) of a cron line's time fields."""
    from alive.config.schedule import parse_schedule

    if spec.lower() == "@reboot":
        return None, None                                  # jobs() says why, once
    if spec.startswith("@"):
        fields = NICKNAMES.get(spec.lower())
        if fields is None:
            return None, f"{spec} is not a cron nickname: no time to expect it at"
        spec = fields
    try:
        return parse_schedule(f"cron {spec}").text, None
    except ValueError as exc:
        return None, f"{spec!r} has no alive form ({exc})"


def jobs(files, ctx):
    [(key, data)] = files.items()
    lines = split_lines(data)
    parsed = parse([text for text, _ in lines])
    refuse_system_lines(key, [command for *_, command, _notes, _shell in parsed])
    out = []
    for index, _lead, spec, _sep, command, notes, _shell in parsed:
        head, stdin = split_percent(command)
        shown = command.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        job = Job(program_name(head), f"crontab line {index + 1}", shown, None, list(notes), key=key,
                  handle=(index, command))
        job.schedule, note = schedule_of(spec)
        job.notes += [note] if note else []
        try:
            adopted = ctx.wrapped(shlex.split(head))
        except ValueError:
            adopted = None
        bad = not_utf8(command)
        if adopted:
            job.name, job.wrap, job.adopted = adopted, False, True
        elif stdin is not None:
            job.wrap = False
            job.notes.append("it feeds its command standard input (the text after %), which `alive run` does not "
                             "pass on: left as it is, not registered")
        elif bad is not None:
            job.wrap = False
            job.notes.append(f"the line is not UTF-8 (byte 0x{bad:02x}), and fleet.toml, where its description "
                             f"would go, is: left as it is, not registered")
        elif spec.lower() == "@reboot":
            job.wrap = False
            job.notes.append("@reboot runs once after each boot, and alive has no schedule for that (registered "
                             "without one it would be RED at once and 36h after every boot): left as it is, "
                             "not registered")
        else:
            guard_note(job, head)
        if job.wrap and lines[index][1].startswith("\r"):
            job.notes.append("the line ends in CRLF: cron passes the \\r on as the end of the command's last word; "
                             "kept where it was")
        out.append(job)
    return out


def guard_note(job, command):
    """A command starting with a test guard (`[ ... ] && job`) exits non-zero on the days the
    guard skips: run as `if GUARD; then JOB; fi` when it is plain enough to say exactly."""
    steps = top_level(command)
    if steps is None or len(steps) < 2 or not is_test(steps[0][0]) or steps[0][1] != "&&":
        return
    guards = 1
    while guards < len(steps) and is_test(steps[guards][0]) and steps[guards - 1][1] == "&&":
        guards += 1
    rest_ops = {op for _, op in steps[guards:-1]}
    if steps[guards - 1][1] != "&&" or guards == len(steps) or not rest_ops <= {"&&", "|"} or steps[-1][1]:
        job.notes.append("it starts with a test guard (`[ ... ] &&`), which exits 1 on the days it skips: cron "
                         "ignores that, alive counts a failed run; write it as `if GUARD; then JOB; fi` and adopt "
                         "again")
        return
    condition = " && ".join(text.strip() for text, _ in steps[:guards])
    body = "".join(text + (op or "") for text, op in steps[guards:]).strip()
    job.handle = (job.handle[0], f"if {condition}; then {body}; fi")
    job.notes.append("its test guard exits 1 on the days it skips, which cron ignores and alive would count as a "
                     "failed run: run as `if GUARD; then JOB; fi`, which exits 0 when the guard skips")


def is_test(step):
    try:
        words = shlex.split(step)
    except ValueError:
        return False
    if not words or words[0] not in TEST_WORDS:
        return False
    close = TEST_WORDS[words[0]]
    return close is None or words[-1] == close


def top_level(command):
    """[(step text, operator after it or None)] split at the shell's control operators (&&, ||,
    |, ;, &) outside quotes, $(...), `...` and (...); None for what this does not read (a
    comment, a here-document, a line break, |&, unbalanced quotes): no fix is offered for those."""
    steps, start, i, depth, quote = [], 0, 0, 0, None
    while i < len(command):
        c = command[i]
        if quote == "'":                                    # nothing is special inside '...'
            quote = None if c == "'" else quote
        elif c == "\\":
            i += 1                                          # the next character is taken as it is
        elif quote is not None:
            quote = None if c == quote else quote
        elif c in "'\"`":
            quote = c
        elif c in "()":
            depth += 1 if c == "(" else -1
        elif depth == 0:
            if c == "\n" or command.startswith(("<<", "|&"), i) or (c == "#" and command[i - 1:i] in ("", " ", "\t")):
                return None
            op = next((o for o in ("&&", "||", ";;", ";", "&", "|") if command.startswith(o, i)), None)
            if op == "&" and (command[i - 1:i] in ("<", ">") or command[i + 1:i + 2] == ">"):
                op = None                                   # 2>&1, &>file: a redirection
            if op:
                steps.append((command[start:i], op))
                i += len(op)
                start = i
                continue
        i += 1
    if quote is not None or depth:
        return None
    if command[start:].strip():
        steps.append((command[start:], None))
    return steps


def _word(text):
    return shlex.quote(text).replace("%", "\\%")


def rewrite(files, chosen, ctx):
    [(key, data)] = files.items()
    lines = split_lines(data)
    by_line = {j.handle[0]: j for j in chosen}
    for index, lead, spec, sep, _command, _notes, shell in parse([text for text, _ in lines]):
        job = by_line.get(index)
        if job is None:
            continue
        runner = " ".join(_word(w) for w in ctx.alive_run(job.name) + [shell, "-c"])
        lines[index] = (f"{lead}{spec}{sep}{runner} {shlex.quote(job.handle[1])}", lines[index][1])
    return {key: joined(lines)}
