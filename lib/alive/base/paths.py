"""Where ALIVE_HOME is, and the fixed layout below it (DESIGN §2).

pathlib is imported only when a Path is asked for: `alive write` works with the plain
string (home_text), and pathlib's imports cost more than the write itself.
"""
import os
import sys


def default_home_text():
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "alive")
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(home, ".local", "state")
    return os.path.join(state, "alive")


def home_text(explicit=None):
    """--home wins, then $ALIVE_HOME, then the platform default."""
    raw = explicit or os.environ.get("ALIVE_HOME")
    return os.path.expanduser(raw) if raw else default_home_text()


def default_home():
    from pathlib import Path

    return Path(default_home_text())


def resolve_home(explicit=None):
    from pathlib import Path

    return Path(home_text(explicit))


def existing_home(explicit=None):
    """ALIVE_HOME as a Path, for commands that judge or act on what is there: a home that
    does not exist is a typo or an unmounted volume, and judging it would say "GREEN,
    0 items" about a fleet nobody looked at. Only writers of heartbeats create it."""
    home = resolve_home(explicit)
    if not home.is_dir():
        from alive.base.errors import BrokenHome

        where = "--home" if explicit else "ALIVE_HOME" if os.environ.get("ALIVE_HOME") else "the default ALIVE_HOME"
        what = "is not a folder" if os.path.lexists(home) else "does not exist"
        raise BrokenHome(f"{where} {home} {what} (alive write or alive run creates it; "
                         f"check the path, or pass --home DIR)")
    return home


def say_created(command, home):
    """The one line a writer prints when it created ALIVE_HOME (a mistyped one would otherwise
    fill a folder nobody watches). A stderr that is closed or gone changes nothing (the
    heartbeat is written, the job's exit code wins), and the line never lands on stdout
    (print's fallback when sys.stderr is None)."""
    try:
        if sys.stderr is not None:
            print(f"{command}: created ALIVE_HOME {home}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


def resolve_config(home, explicit=None):
    """--config wins, then $ALIVE_CONFIG, then ALIVE_HOME/fleet.toml. Only the default may
    be missing (no config is a valid, empty registry): a file named on purpose that is not
    there is a mistake, not an empty fleet."""
    from pathlib import Path

    return Path(config_text(home, explicit))


def config_text(home, explicit=None):
    """resolve_config as a plain string, for the write path (no pathlib)."""
    raw = explicit or os.environ.get("ALIVE_CONFIG")
    if not raw:
        return os.path.join(home, "fleet.toml")
    path = os.path.expanduser(raw)
    if not os.path.exists(path):
        from alive.base.errors import BrokenHome

        where = "--config" if explicit else "ALIVE_CONFIG"
        raise BrokenHome(f"{where} {path} does not exist")
    return path


def health_dir(home):
    return home / "health"


def state_dir(home):
    return home / "state"


def alerts_dir(home):
    return home / "alerts"


def triggers_dir(home):
    return home / "triggers"


def site_dir(home):
    return home / "site"


def logs_dir(home):
    return home / "logs"


def running_dir(home):
    return home / "state" / "running"
