"""fleet.toml's records (DESIGN §4): what registry.load() returns, a Registry holding one frozen
record per table ([settings], [tasks.NAME], [sources.NAME], [probes.NAME], [notify], [triggers], [serve]).
Built by the checker (config/checker.py), read everywhere else through registry.py."""
from pathlib import Path

from alive.base.record import field, record


@record(frozen=True)
class Settings:
    retention_days: int = 30
    default_max_gap: int = 129600  # 36h
    discover: bool = True
    dashboard_url: str | None = None
    label_prefix: str = "local.alive"   # was com.example.alive: units installed with it are still found (units.py)


@record(frozen=True)
class Task:
    name: str
    schedule: object = None  # Schedule | None
    max_gap: int | None = None  # explicit only; see task_max_gap
    run: list | None = None
    alert_after: int = 1
    max_runtime: int | None = None
    min_duration: int | None = None
    depends_on: tuple = ()
    description: str | None = None
    tags: tuple = ()            # words to filter the dashboard by (tags = ["finance", "daily"])
    line: int | None = None
    grace: int | None = None         # None: 10% of the gap before the expected run, >= 5m (lateness.py)
    recover_after: int = 1           # non-error runs in a row before a RED task counts as recovered
    slow_after: tuple | None = None  # ("seconds", N) or ("median", factor): a slower run is YELLOW
    ping_uuid: str | None = None     # the check's healthchecks UUID: /ping/<uuid> pings this task (ping.py)
    timeout: int | None = None       # tasks with run: `alive run --timeout` in every unit
    overlap: bool = False            # tasks with run: False puts `--no-overlap` in every unit


@record(frozen=True)
class Source:
    name: str
    path: Path
    max_age: int
    timestamp: str = "captured_at"
    producer: list | None = None
    after: list | None = None
    probe: str | None = None
    status_field: str | None = None
    bad_status: list = field(default_factory=list)
    retries: int = 0
    retry_pause: int = 0
    timeout: int = 600
    alert_after: int = 1
    schedule: object = None  # Schedule | None
    description: str | None = None
    tags: tuple = ()
    line: int | None = None


@record(frozen=True)
class Probe:
    name: str
    command: list
    timeout: int = 30
    interval: int = 600
    line: int | None = None


@record(frozen=True)
class Ntfy:
    topic: str
    server: str = "https://ntfy.sh"
    token_env: str | None = None
    token_file: Path | None = None
    priority: str = "default"
    tags: list = field(default_factory=list)


@record(frozen=True)
class CommandChannel:
    argv: list
    timeout: int = 30


@record(frozen=True)
class Deadman:
    url: str                    # an outside dead man's switch (healthchecks.io, ...), pinged by GET
    timeout: int = 5


@record(frozen=True)
class Notify:
    renotify: int | None = 3600  # None: say it once
    recovery: bool = True
    ntfy: Ntfy | None = None
    command: CommandChannel | None = None
    deadman: Deadman | None = None


@record(frozen=True)
class HttpKv:
    url: str
    token_env: str | None = None
    prefix: str = "trigger:"


@record(frozen=True)
class Triggers:
    backend: str = "spool"
    poll: int = 30
    http_kv: HttpKv | None = None


@record(frozen=True)
class Serve:
    bind: str = "127.0.0.1"
    port: int = 8765
    token_env: str | None = None
    ping_key_env: str = "ALIVE_PING_KEY"   # the key of /ping/<key>/<task> (ping.py)


@record
class Registry:
    path: Path | None
    home: Path
    settings: Settings = field(default_factory=Settings)
    tasks: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    probes: dict = field(default_factory=dict)
    notify: Notify = field(default_factory=Notify)
    triggers: Triggers = field(default_factory=Triggers)
    serve: Serve = field(default_factory=Serve)

