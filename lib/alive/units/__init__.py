"""Schedulers: launchd, systemd and crontab units, `alive schedule`, `alive adopt` and
`alive verify`. Imports the layers below it; nothing below imports units.
"""
