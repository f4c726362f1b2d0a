"""examples/prometheus/alive.rules.yml: the alerts of a fleet of hosts, on the metrics of
`alive export prometheus`. promtool runs the shipped unit tests, and a second test feeds it
what a real export of a real fleet says, so the rules and the exporter cannot drift apart."""
import json
import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from conftest import ROOT
from test_export import NOW, beat, metrics

from alive import export, heartbeat

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
    assert r.returncode == 0 and "SUCCESS: 5 rules found" in r.stdout, r.stdout + r.stderr
    r = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr
    # the unit tests can fail: the same tests against a rule that never fires
    (tmp_path / RULES.name).write_text(RULES.read_text().replace('{color="RED"} == 1', '{color="RED"} == 2'))
    (tmp_path / RULE_TESTS.name).write_text(RULE_TESTS.read_text())
    r = promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert r.returncode != 0 and "AliveItemRed" in r.stdout + r.stderr


EXPORTED_AT_S = 3600      # the export happened one hour into promtool's clock (which starts at 0)


def series_from(text, instance="host1"):
    """A real export as promtool input series, constant over two hours; timestamps moved so
    the export happened at EXPORTED_AT_S on promtool's clock."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        name, lab, value = m.group(1), m.group(2), float(m.group(3))
        if name.endswith("_timestamp_seconds"):
            value = value - NOW.timestamp() + EXPORTED_AT_S
        labels = f'instance="{instance}",job="node"' + (f",{lab}" if lab else "")
        out.append(f"      - series: '{name}{{{labels}}}'\n        values: '{value:g}x120'")
    return "\n".join(out)


@needs_promtool
def test_a_real_export_raises_exactly_the_alerts_its_fleet_deserves(home, tmp_path):
    (home / "fleet.toml").write_text(
        '[tasks.backup]\nmax_gap = "2h"\n[tasks.backfill]\nmax_gap = "1h"\n[tasks.fails]\n'
        '[sources.track]\npath = "t.json"\nmax_age = "15m"\n[sources.fresh]\npath = "f.json"\nmax_age = "1h"\n')
    (home / "t.json").write_text(json.dumps({"captured_at": "2026-05-02T07:50:00Z"}))   # 10 min old
    (home / "f.json").write_text(json.dumps({"captured_at": "2026-05-02T07:59:00Z"}))
    # after the export, Prometheus counts on: the watchdog (max gap 15m, ran 1 min before) is
    # late 14 min later, backup (max gap 2h, ran 90 min before) 30 min later; backfill never
    beat(home, "backup", NOW - timedelta(minutes=90))
    heartbeat.write(home / "health", heartbeat.build("backfill", NOW - timedelta(days=3), complete=True))
    beat(home, "fails", NOW - timedelta(minutes=1), status="error", errors=["boom"])
    beat(home, "alive-watchdog", NOW - timedelta(minutes=1))
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
      - eval_time: 70m
        alertname: AliveTaskLate
        exp_alerts: []
      - eval_time: 91m
        alertname: AliveTaskLate
        exp_alerts:
          - exp_labels: {{severity: critical, instance: host1, job: node, task: alive-watchdog}}
            exp_annotations: {{summary: "task alive-watchdog on host1 has not run for longer than its max gap"}}
      - eval_time: 96m
        alertname: AliveTaskLate
        exp_alerts:
          - exp_labels: {{severity: critical, instance: host1, job: node, task: alive-watchdog}}
            exp_annotations: {{summary: "task alive-watchdog on host1 has not run for longer than its max gap"}}
          - exp_labels: {{severity: critical, instance: host1, job: node, task: backup}}
            exp_annotations: {{summary: "task backup on host1 has not run for longer than its max gap"}}
      - eval_time: 100m
        alertname: AliveExporterGone
        exp_alerts: []
""")
    r = promtool("test", "rules", "real.test.yml", cwd=tmp_path)
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr + text
