"""`alive COMMAND ...`: dispatch to one module per command, imported only when used.

Each command module exposes main(argv) -> int. Nothing heavy is imported here, so
`alive write` pays only for what writing needs.
"""
import os
import sys

from alive.base.errors import RuntimeFailure, UsageError

# command -> (package.module, one-line help). Modules are imported lazily by name.
COMMANDS = {
    "write": ("write.cmd_write", "write one heartbeat"),
    "run": ("write.runner", "run a command and write its heartbeat"),
    "check": ("check.cmd_check", "judge every task and source (exit 0 GREEN, 1 YELLOW, 2 RED, 3 bad usage or config)"),
    "pause": ("check.cmd_pause", "pause an item: GREY until --for runs out or it is resumed"),
    "resume": ("check.cmd_pause:resume_main", "end a pause"),
    "lint": ("check.lint", "check health/ files and fleet.toml (exit 0 clean, 1 warnings, 2 errors)"),
    "prune": ("check.prune", "remove canonical heartbeats older than the retention"),
    "demo": ("demo", "a self-contained demo fleet in a temporary ALIVE_HOME"),
    "schedule": ("units.cmd_schedule", "schedules: next fire times; launchd/systemd/crontab units"),
    "probe": ("correct.probe", "run the probes, write state/probes.json (exit 1 when one could not run)"),
    "watchdog": ("correct.watchdog", "one freshness tick: refresh stale sources (--dry-run: only say what)"),
    "refresh": ("correct.watchdog:refresh_main", "refresh one source now, whatever its age"),
    "trigger": ("correct.queue", "ask for an immediate refresh of a source"),
    "triggers": ("correct.triggers", "take queued triggers and refresh each source once (--loop: keep polling)"),
    "report": ("report.report", "render health for people or tools: --format text|markdown|json|html"),
    "serve": ("serve.serve", "live dashboard on 127.0.0.1 with \"Trigger now\" buttons"),
    "export": ("report.export", "metrics for monitoring: export prometheus (node_exporter textfile)"),
    "verify": ("units.verify", "the whole system at a glance: config, health/, units, watchdog, sources"),
    "adopt": ("units.adopt", "take the jobs you have (crontab, launchd, systemd timers): fleet.toml tasks, run under alive run"),
}

USAGE = "usage: alive [--home DIR] [--config FILE] COMMAND [ARGS...]   (alive help [COMMAND] for more)"
GLOBAL = ("--home", "--config")   # accepted before the command too, and handed on to it


# Listed by `alive help` after the commands: they are not modules, and a newcomer looks for them.
BUILTINS = {"help [COMMAND]": "this list, or one command's help (the same as COMMAND --help)",
            "--version": "which alive and which Python"}


def _help():
    lines = [USAGE, "", "commands:"]
    lines += [f"  {name:<14} {text}" for name, text in {**{n: t for n, (_, t) in COMMANDS.items()}, **BUILTINS}.items()]
    return "\n".join(lines)


def unknown_command(name):
    """One line for a command alive does not have, naming the close one meant (`chek`)."""
    import difflib

    close = difflib.get_close_matches(name, COMMANDS, n=1)
    meant = f" (did you mean {close[0]}?)" if close else ""
    return f"alive: unknown command {name!r}{meant}; {USAGE}"


def hoist_globals(argv):
    """`alive --home X check` -> ['check', '--home', 'X']: the options every command takes
    may come before the command. -> (argv, problem or None)."""
    front = []
    while argv and argv[0].split("=", 1)[0] in GLOBAL:
        if "=" in argv[0]:
            front, argv = front + [argv[0]], argv[1:]
        elif len(argv) < 2:
            return argv, f"{argv[0]} needs a value"
        else:
            front, argv = front + argv[:2], argv[2:]
    if not front:
        return argv, None
    if not argv:
        return argv, "no command after " + " ".join(front)
    rest = argv[1:]
    if argv[0] == "run" and "--" in rest:   # the wrapped command's own options stay its own
        cut = rest.index("--")
        return [argv[0], *rest[:cut], *front, *rest[cut:]], None
    return [argv[0], *rest, *front], None


def main(argv):
    argv, problem = hoist_globals(list(argv))
    if problem:
        say(f"alive: {problem}; {USAGE}")
        return 3
    if argv[:1] in (["--version"], ["version"]):
        from alive import __version__

        print(f"alive {__version__} (Python {sys.version.split()[0]})")
        return 0
    if argv[:1] == ["help"] and len(argv) == 2 and argv[1] in COMMANDS:
        argv = [argv[1], "--help"]          # `alive help check` is `alive check --help`
    if not argv or argv[0] in ("help", "-h", "--help"):
        if len(argv) > 1:
            say(unknown_command(argv[1]))
            return 3
        print(_help())
        return 0 if argv else 3
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        say(unknown_command(name))
        return 3
    try:
        module_name, _, function = COMMANDS[name][0].partition(":")
        module = __import__(f"alive.{module_name}", fromlist=["main"])
        return getattr(module, function or "main")(rest)
    except SystemExit as exc:               # --help printed; argparse's own exits
        return exc.code if isinstance(exc.code, int) else 0
    except (UsageError, RuntimeFailure) as exc:
        say(f"alive {name}: {exc}" if not str(exc).startswith("alive ") else str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"alive {name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # one line, never a traceback, unless asked for
        if os.environ.get("ALIVE_DEBUG"):
            raise
        say(f"alive {name}: internal error: {type(exc).__name__}: {exc} (ALIVE_DEBUG=1 shows more)")
        return 1


def say(line):
    """One error line on stderr, scrubbed of alive's tokens: those the command already knows
    and the conventional variables' (tokens.remember() reads only the environment: an
    error raised before the command loaded its config, or an unknown command, may quote one)."""
    from alive.base import tokens

    tokens.remember()
    print(tokens.printable(line), file=sys.stderr)
