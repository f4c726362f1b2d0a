"""Shared command-line plumbing: a parser whose mistakes exit 3, and the common options."""
import argparse

from .errors import UsageError


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
    from .timeutil import parse_duration

    try:
        return parse_duration(text, bare_unit)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def timeout_arg(text):
    """duration_arg for a --timeout: a bare number is hinted as seconds (args.SECONDS_OPTIONS)."""
    return duration_arg(text, "s")
