"""The correct side: the watchdog tick that re-runs stale producers, probes and the
process pump, triggers and their queue and key-value backends. Imports every layer below it
(base, config, write, check, notify).
"""
