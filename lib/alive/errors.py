"""The two ways a command fails on purpose; cli.main turns them into one stderr line."""


class UsageError(Exception):
    """Bad usage or bad config: exit 3 (UNKNOWN)."""

    exit_code = 3


class RuntimeFailure(Exception):
    """The command was right but the world said no (unwritable folder, ...): exit 1."""

    exit_code = 1
