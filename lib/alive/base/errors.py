"""The two ways a command fails on purpose; cli.main turns them into one stderr line."""


class UsageError(Exception):
    """Bad usage or bad config: exit 3 (UNKNOWN)."""

    exit_code = 3


class RuntimeFailure(Exception):
    """The command was right but the world said no (unwritable folder, ...): exit 1."""

    exit_code = 1


class BrokenHome(UsageError):
    """ALIVE_HOME, its health/ folder or the named fleet.toml is not there or cannot be
    read: nothing can be judged, which must never read as GREEN (exit 3, UNKNOWN).
    `detail` is the problem without the path (for lint, which names the path itself)."""

    def __init__(self, message, detail=None):
        super().__init__(message)
        self.detail = detail or message
