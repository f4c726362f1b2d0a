"""The check side of the triad: scanning health/, the listing cache, facts, health verdicts
and lateness, runs, lint, prune, pause/resume, alerts/ and `alive check`. Imports alive.base,
alive.config and, of alive.write, the heartbeat schema only. `alive check --notify` and check's table
reach up into alive.notify and alive.report (the seams tests/test_architecture.py names).
"""
