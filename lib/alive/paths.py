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


def resolve_config(home, explicit=None):
    """--config wins, then $ALIVE_CONFIG, then ALIVE_HOME/fleet.toml (which may not exist)."""
    from pathlib import Path

    raw = explicit or os.environ.get("ALIVE_CONFIG")
    return Path(raw).expanduser() if raw else Path(home) / "fleet.toml"


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
