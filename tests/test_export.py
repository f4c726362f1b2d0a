"""`alive export prometheus`: node_exporter textfile format."""
import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from conftest import run_alive

from alive import export, facts, health, heartbeat, registry

NOW = datetime(2026, 5, 2, 8, 0, 0, tzinfo=timezone.utc)


def beat(home, task, at, status="ok", took=30, **kw):
    hb = heartbeat.build(task, at, status=status, started_at=at - timedelta(seconds=took), completed_at=at, **kw)
    heartbeat.write(home / "health", hb)


def metrics(home, now=NOW):
    reg = registry.load(home / "fleet.toml", home)
    f = facts.gather(reg, home, now, 1)
    return export.render(f, health.evaluate(reg, f, now))


def samples(text):
    """{(name, labels text): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = re.fullmatch(r"(\w+)(\{.*\})? (\S+)", line)
            assert m, line
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def test_every_family_has_help_and_type_gauge_before_its_samples(home):
    beat(home, "etl", NOW - timedelta(minutes=5))
    text = metrics(home)
    for name, _ in export.FAMILIES:
        help_at, type_at = text.index(f"# HELP {name} "), text.index(f"# TYPE {name} gauge\n")
        assert help_at < type_at
        for m in re.finditer(rf"^{name}[{{ ]", text, re.M):
            assert m.start() > type_at
    assert text.endswith("\n")


def test_task_metrics(home):
    epoch = lambda dt: dt.timestamp()   # noqa: E731
    beat(home, "etl", NOW - timedelta(hours=3), took=12)
    beat(home, "etl", NOW - timedelta(hours=2), status="error")
    beat(home, "etl", NOW - timedelta(hours=1), status="error", took=7)
    s = samples(metrics(home))
    assert s[("alive_task_last_run_timestamp_seconds", '{task="etl"}')] == epoch(NOW - timedelta(hours=1))
    assert s[("alive_task_last_duration_seconds", '{task="etl"}')] == 7
    assert s[("alive_task_last_success_timestamp_seconds", '{task="etl"}')] == epoch(NOW - timedelta(hours=3))
    assert s[("alive_task_consecutive_errors", '{task="etl"}')] == 2


def test_the_last_success_is_looked_for_only_as_far_back_as_check_reads(home):
    beat(home, "etl", NOW - timedelta(hours=20))
    for n in range(10):                                  # 10 errors in a row: the walk stops there
        beat(home, "etl", NOW - timedelta(hours=10 - n), status="error")
    s = samples(metrics(home))
    assert ("alive_task_last_success_timestamp_seconds", '{task="etl"}') not in s
    assert s[("alive_task_consecutive_errors", '{task="etl"}')] == 10
    beat(home, "other", NOW - timedelta(hours=20), status="skipped")
    for n in range(9):
        beat(home, "other", NOW - timedelta(hours=10 - n), status="error")
    assert samples(metrics(home))[("alive_task_last_success_timestamp_seconds", '{task="other"}')] == \
        (NOW - timedelta(hours=20)).timestamp()


def test_partial_counts_as_a_success(home):
    beat(home, "etl", NOW - timedelta(hours=1), status="partial")
    assert samples(metrics(home))[("alive_task_last_success_timestamp_seconds", '{task="etl"}')] == \
        (NOW - timedelta(hours=1)).timestamp()


def test_item_and_overall_status_one_hot(home):
    beat(home, "etl", NOW - timedelta(minutes=5), status="partial")
    s = samples(metrics(home))
    got = {c: s[("alive_item_status", f'{{kind="task",name="etl",color="{c}"}}')] for c in export.COLORS}
    assert got == {"GREEN": 0, "YELLOW": 1, "RED": 0, "GREY": 0}
    overall = {c: s[("alive_overall_status", f'{{color="{c}"}}')] for c in export.COLORS}
    assert overall == {"GREEN": 0, "YELLOW": 1, "RED": 0, "GREY": 0}


def test_source_metrics(home):
    (home / "fleet.toml").write_text('[sources.track]\npath = "t.json"\nmax_age = "15m"\n'
                                     '[sources.gone]\npath = "gone.json"\nmax_age = "1h"\n')
    (home / "t.json").write_text(json.dumps({"captured_at": "2026-05-02T07:58:00Z"}))
    s = samples(metrics(home))
    assert s[("alive_source_age_seconds", '{source="track"}')] == 120
    assert s[("alive_source_max_age_seconds", '{source="track"}')] == 900
    assert ("alive_source_age_seconds", '{source="gone"}') not in s          # unknown age: no sample
    assert s[("alive_source_max_age_seconds", '{source="gone"}')] == 3600
    assert s[("alive_item_status", '{kind="source",name="gone",color="RED"}')] == 1


def test_label_values_are_escaped():
    assert export.label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert export.labels(task='x"}\n') == '{task="x\\"}\\n"}'


def test_a_broken_newest_file_leaves_only_status_and_errors(home):
    (home / "health").mkdir()
    (home / "health" / "2026-05-02_etl_0700.json").write_text("{")
    s = samples(metrics(home))
    assert s[("alive_item_status", '{kind="task",name="etl",color="RED"}')] == 1
    assert ("alive_task_last_run_timestamp_seconds", '{task="etl"}') not in s


def test_the_command_writes_atomically_and_says_where_as_report_does(home, tmp_path):
    beat(home, "etl", datetime.now(timezone.utc))
    out = tmp_path / "textfile" / "alive.prom"
    out.parent.mkdir()           # node_exporter's textfile folder exists; alive does not invent it
    r = run_alive("export", "prometheus", "--out", out, home=home)
    assert r.returncode == 0 and r.stderr == "" and r.stdout == f"alive export: wrote {out} (prometheus)\n"
    assert 'alive_item_status{kind="task",name="etl",color="GREEN"} 1' in out.read_text()
    assert [p.name for p in out.parent.iterdir()] == ["alive.prom"]
    r = run_alive("export", "prometheus", home=home)
    assert r.returncode == 0 and r.stdout.startswith("# HELP alive_task_last_success_timestamp_seconds ")


def test_an_unknown_target_is_exit_3(home):
    r = run_alive("export", "graphite", home=home)
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "invalid choice: 'graphite'" in r.stderr


@pytest.mark.skipif(not shutil.which("promtool"),
                    reason="promtool is not installed (Debian: apt-get install prometheus; .ci/run tries)")
def test_promtool_accepts_the_output(home):
    (home / "fleet.toml").write_text('[sources.track]\npath = "t.json"\nmax_age = "15m"\n')
    (home / "t.json").write_text(json.dumps({"captured_at": "2026-05-02T07:58:00Z"}))
    beat(home, "etl", NOW - timedelta(hours=2), status="error", errors=['quote " and \\ backslash'])
    beat(home, "legacy_task.v2", NOW - timedelta(hours=1), status="partial")
    text = metrics(home)
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr
    broken = text.replace("# TYPE alive_overall_status gauge\n", "# TYPE alive_overall_status gauge\nbad line\n")
    r = subprocess.run(["promtool", "check", "metrics"], input=broken, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0                           # promtool really checks: the test can fail
