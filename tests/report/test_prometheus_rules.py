"""examples/prometheus/alive.rules.yml: the alerts of a fleet of hosts, on the metrics of
`alive export prometheus`. promtool runs the shipped unit tests, and a second test feeds it
what a real export of a real fleet says, so the rules and the exporter cannot drift apart."""
import json
import os
import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from conftest import ROOT
from test_export import NOW, beat, metrics

from alive.write import heartbeat
from alive.report import export

RULES = ROOT / "examples" / "prometheus" / "alive.rules.yml"
RULE_TESTS = ROOT / "examples" / "prometheus" / "alive.rules.test.yml"
needs_promtool = pytest.mark.skipif(
    not shutil.which("promtool"), reason="promtool is not installed (Debian: apt-get install prometheus; .ci/run tries)")


def promtool(*args, cwd=None):
    return subprocess.run(["promtool", *map(str, args)], capture_output=True, text=True, timeout=120, cwd=cwd)


def test_the_rules_use_only_metrics_alive_exports():
    used = set(re.findall(r"\balive_[a-z_]+", RULES.read_text()))
    exported = {name for name, _ in export.FAMILIES}
    assert used and used <= exported, used - exported


@needs_promtool
def test_promtool_checks_the_rules_and_passes_their_unit_tests(tmp_path):
    r = promtool("check", "rules", RULES)
    assert r.returncode == 0 and "SUCCESS: 6 rules found" in r.stdout, r.stdout + r.stderr
    r = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr
    # the unit tests can fail: the same tests against a rule that never fires
    (tmp_path / RULES.name).write_text(RULES.read_text().replace('{color="RED"} == 1', '{color="RED"} == 2'))
    (tmp_path / RULE_TESTS.name).write_text(RULE_TESTS.read_text())
    r = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert r.returncode != 0 and "AliveItemRed" in r.stdout + r.stderr
    # and against the naive `time() > deadline`: a run between two exports would page
    naive = RULES.read_text().replace("clamp_min(alive_export_timestamp_seconds, time() - 2100)",
                                      "clamp_min(alive_export_timestamp_seconds, time())")
    assert naive != RULES.read_text()
    (tmp_path / RULES.name).write_text(naive)
    r = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert r.returncode != 0 and 'task="ontime"' in r.stdout + r.stderr


EXPORTED_AT_S = 3600      # the export happened one hour into promtool's clock (which starts at 0)


def series_from(text, instance="host1"):
    """A real export as promtool input series, constant over two hours; timestamps moved so
    the export happened at EXPORTED_AT_S on promtool's clock, and alive exporting the same
    facts again every minute after that (its export timestamp moves on)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        name, lab, value = m.group(1), m.group(2), float(m.group(3))
        if name.endswith("_timestamp_seconds"):
            value = value - NOW.timestamp() + EXPORTED_AT_S
        labels = f'instance="{instance}",job="node"' + (f",{lab}" if lab else "")
        values = "Inf+0x120" if value == float("inf") else f"{value:g}x60 {value + 60:g}+60x59" \
            if name == "alive_export_timestamp_seconds" else f"{value:g}x120"
        out.append(f"      - series: '{name}{{{labels}}}'\n        values: '{values}'")
    return "\n".join(out)


def late(task, due):
    """One expected AliveTaskLate alert of host1, `due` minutes on promtool's clock."""
    return (f"          - exp_labels: {{severity: critical, instance: host1, job: node, task: {task}}}\n"
            f"            exp_annotations:\n              summary: \"task {task} on host1 is late\"\n"
            f"              description: \"A run was due to start by 1970-01-01 {due // 60:02d}:{due % 60:02d}:00 "
            f"+0000 UTC (its expected run + grace, or its max gap).\"\n")


@needs_promtool
def test_a_real_export_raises_exactly_the_alerts_its_fleet_deserves(home, tmp_path, zone):
    zone("UTC")
    (home / "fleet.toml").write_text(
        '[tasks.backup]\nmax_gap = "2h"\n[tasks.backfill]\nmax_gap = "1h"\n[tasks.fails]\n'
        '[tasks.daily]\nschedule = "daily 07:30"\ngrace = "10m"\n[tasks.new]\nschedule = "every 30m"\n'
        '[tasks.holiday]\nmax_gap = "1h"\n'
        '[sources.track]\npath = "t.json"\nmax_age = "15m"\n[sources.fresh]\npath = "f.json"\nmax_age = "1h"\n')
    os.utime(home / "fleet.toml", ((NOW - timedelta(minutes=10)).timestamp(),) * 2)   # "new" first seen then
    (home / "t.json").write_text(json.dumps({"captured_at": "2026-05-02T07:50:00Z"}))   # 10 min old
    (home / "f.json").write_text(json.dumps({"captured_at": "2026-05-02T07:59:00Z"}))
    # The export happens at minute 60 of promtool's clock, and again every minute after it
    # with the same facts. Deadlines: daily's 07:30 run + 10m has passed (alive says late;
    # its max gap, 48h, is far); the watchdog (max gap 15m, ran 1 min before) is due at 74;
    # new (waiting: first seen 10 min before, every 30m + 5m) at 85; backup (max gap 2h, ran
    # 90 min before) at 90; each pages at the first export after it, plus 5m. backfill
    # (complete) and holiday (paused, 3h without a run on a max gap of 1h) never.
    beat(home, "backup", NOW - timedelta(minutes=90))
    heartbeat.write(home / "health", heartbeat.build("backfill", NOW - timedelta(days=3), complete=True))
    beat(home, "fails", NOW - timedelta(minutes=1), status="error", errors=["boom"])
    beat(home, "alive-watchdog", NOW - timedelta(minutes=1))
    beat(home, "daily", NOW - timedelta(days=1, minutes=30), took=0)
    beat(home, "holiday", NOW - timedelta(hours=3))
    (home / "state").mkdir()
    (home / "state" / "pauses.json").write_text(json.dumps({"task:holiday": {"since": "2026-05-02T07:00:00Z"}}))
    text = metrics(home)
    (tmp_path / "alive.rules.yml").write_text(RULES.read_text())
    (tmp_path / "real.test.yml").write_text(f"""rule_files: [alive.rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
{series_from(text)}
    alert_rule_test:
      - eval_time: 66m
        alertname: AliveItemRed
        exp_alerts:
          - exp_labels: {{severity: critical, instance: host1, job: node, kind: task, name: fails, color: RED}}
            exp_annotations: {{summary: "task fails is RED on host1", description: "alive check --json on that host says why."}}
          - exp_labels: {{severity: critical, instance: host1, job: node, kind: task, name: daily, color: RED}}
            exp_annotations: {{summary: "task daily is RED on host1", description: "alive check --json on that host says why."}}
      - eval_time: 66m
        alertname: AliveSourceStale
        exp_alerts: []
      - eval_time: 71m
        alertname: AliveSourceStale
        exp_alerts:
          - exp_labels: {{severity: warning, instance: host1, job: node, source: track}}
            exp_annotations:
              summary: "source track on host1 is stale"
              description: "Its data was captured 21m 0s ago, more than its max_age."
      - eval_time: 66m
        alertname: AliveTaskLate
        exp_alerts:
{late("daily", 40)}      - eval_time: 79m
        alertname: AliveTaskLate
        exp_alerts:
{late("daily", 40)}      - eval_time: 80m
        alertname: AliveTaskLate
        exp_alerts:
{late("alive-watchdog", 74)}{late("daily", 40)}      - eval_time: 95m
        alertname: AliveTaskLate
        exp_alerts:
{late("alive-watchdog", 74)}{late("daily", 40)}{late("new", 85)}      - eval_time: 96m
        alertname: AliveTaskLate
        exp_alerts:
{late("alive-watchdog", 74)}{late("backup", 90)}{late("daily", 40)}{late("new", 85)}      - eval_time: 120m
        alertname: AliveTaskLate
        exp_alerts:
{late("alive-watchdog", 74)}{late("backup", 90)}{late("daily", 40)}{late("new", 85)}      - eval_time: 100m
        alertname: AliveExporterGone
        exp_alerts: []
""")
    r = promtool("test", "rules", "real.test.yml", cwd=tmp_path)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr + text
