"""Where ALIVE_HOME is, and the fixed layout below it (DESIGN §2)."""
import os
import sys
from pathlib import Path


def default_home():
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "alive"
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "alive"


def resolve_home(explicit=None):
    """--home wins, then $ALIVE_HOME, then the platform default."""
    raw = explicit or os.environ.get("ALIVE_HOME")
    return Path(raw).expanduser() if raw else default_home()


def resolve_config(home, explicit=None):
    """--config wins, then $ALIVE_CONFIG, then ALIVE_HOME/fleet.toml (which may not exist)."""
    raw = explicit or os.environ.get("ALIVE_CONFIG")
    return Path(raw).expanduser() if raw else home / "fleet.toml"


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
