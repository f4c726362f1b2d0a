"""Shared command-line plumbing: a parser whose mistakes exit 3, and the common options."""
import argparse

from alive.base.errors import UsageError


class Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is a UsageError (exit 3, one line) instead of exit 2."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def parser(command, description=None):
    p = Parser(prog=f"alive {command}", description=description)
    p.add_argument("--home", help="ALIVE_HOME (default: $ALIVE_HOME or the platform default)")
    p.add_argument("--config", help="fleet.toml (default: $ALIVE_CONFIG or ALIVE_HOME/fleet.toml)")
    return p


def add_json(p):
    p.add_argument("--json", action="store_true", help="machine-readable output")


def duration_arg(text, bare_unit=None):
    """argparse type for DUR options: the message names the value and how to write it."""
    from alive.base.timeutil import parse_duration

    try:
        return parse_duration(text, bare_unit)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def timeout_arg(text):
    """duration_arg for a --timeout: a bare number is hinted as seconds (args.SECONDS_OPTIONS)."""
    return duration_arg(text, "s")


def load(args, create_home=False):
    """(home, registry) from the common options; a bad fleet.toml raises ConfigError and a
    home that is not there BrokenHome (both exit 3). create_home: the command sets up a
    home (schedule), so a missing one is fine."""
    from alive.base import paths
    from alive.config import registry

    home = paths.resolve_home(args.home) if create_home else paths.existing_home(args.home)
    return home, registry.load(paths.resolve_config(home, args.config), home)


def plural(n, word, many=None):
    """'1 source', '2 sources', '0 sources' (many: the plural when it is not word + s)."""
    return f"{n} {word if n == 1 else many or word + 's'}"
