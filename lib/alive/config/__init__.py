"""fleet.toml and schedules: the registry (records, validation, value parsers, the line
finder) and the schedule language (cron, calendar, every). Imports only alive.base.
"""
