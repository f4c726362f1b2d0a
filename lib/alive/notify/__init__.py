"""Notifications: the outbox, grouping and channels, the dead man's switch and the one
HTTP helper for outgoing requests. May import alive.base, config, write and check (it sends
check's verdicts and reads its alerts).
"""
