"""alive: heartbeats, health checks and reports for a fleet of scheduled jobs.

`import alive` stays cheap: the API module is loaded on first use of alive.task.
"""

__version__ = "0.3.0"


def task(task_id, interval=None, summary=None, home=None):
    """Context manager that writes exactly one heartbeat for the block it wraps."""
    from alive.write.api import task as _task

    return _task(task_id, interval=interval, summary=summary, home=home)
