"""The Python API: `with alive.task("id", interval="15m") as run: ...`

Exactly one heartbeat is written when the block ends. An exception in the block makes
the run an error and propagates; a heartbeat that cannot be written is reported on
stderr and never masks the job's own outcome.
"""
import sys

from alive.base import paths, tokens
from alive.write import heartbeat
from alive.base.timeutil import parse_duration, utcnow


class Run:
    """What the block can say about its run. Fields are plain; the heartbeat is built at exit."""

    def __init__(self, task_id, interval_s, summary):
        self.task_id = task_id
        self.interval_s = interval_s
        self.status = None          # None: ok, or partial when there are warnings
        self.summary = summary
        self.warnings = []
        self.errors = []
        self.metrics = {}
        self.is_complete = False

    def metric(self, key, value):
        self.metrics[str(key)] = value

    def warn(self, text):
        self.warnings.append(str(text))

    def error(self, text):
        self.errors.append(str(text))

    def complete(self):
        """This job is finished for good: its heartbeat's absence is expected from now on."""
        self.is_complete = True

    def final_status(self):
        if self.status is not None:
            return self.status
        if self.errors:
            return "error"
        return "partial" if self.warnings else "ok"


class task:  # noqa: N801 - reads as a function at the call site: `with alive.task(...)`
    def __init__(self, task_id, interval=None, summary=None, home=None):
        self.home = paths.resolve_home(home)
        try:
            tokens.remember_config(paths.config_text(self.home), self.home)   # scrubbed from the heartbeat
        except Exception as problem:  # ALIVE_CONFIG names no file: say so, never stop the job
            print(f"alive: {problem}", file=sys.stderr)
        problem = heartbeat.task_id_problem(task_id)   # after the tokens: an id may hold one
        if problem:
            raise ValueError(problem)
        interval_s = parse_duration(interval) if interval is not None else None
        self.run = Run(task_id, interval_s, summary)
        self.started = None

    def __enter__(self):
        self.started = utcnow()
        return self.run

    def __exit__(self, exc_type, exc, tb):
        run = self.run
        if exc_type is not None:
            run.status = "error"
            run.errors.append(f"{exc_type.__name__}: {exc}")
            if run.summary is None:
                run.summary = f"{exc_type.__name__}: {exc}"
        now = utcnow()
        try:
            problem = heartbeat.future_problem("started_at", self.started, now)   # a clock stepped back
            if problem:
                raise ValueError(problem)
            hb = heartbeat.build(
                run.task_id, now, status=run.final_status(), summary=run.summary,
                started_at=self.started, warnings=run.warnings, errors=run.errors,
                metrics=run.metrics, interval_s=run.interval_s,
                complete=True if run.is_complete else None,
            )
            heartbeat.write(paths.health_dir(self.home), hb)
        except Exception as problem:  # never mask the job's own exception or result
            print(f"alive: could not write heartbeat for {run.task_id}: {problem}", file=sys.stderr)
        return False
