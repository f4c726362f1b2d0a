"""`alive verify [--json]`: the whole system at a glance, one line per check.

  ✓ passes   ! a warning   ✗ fails (with a hint saying what to do)   - skipped (an earlier ✗ hides it)

The checks: fleet.toml valid; health/ lint; the installed units against what `alive
schedule` would write (for the scheduler this system uses: $ALIVE_SCHEDULER, else launchd on
macOS, systemd where `systemctl --user` works, else crontab); the watchdog's last heartbeat;
each source's capture time, age and probe state; the overall check. verify is a check
(DESIGN §9): exit 0 when every line passes, 1 when the worst is a warning, 2 on any ✗ (a
broken fleet.toml is a ✗ line, never exit 3). It reads only: nothing is written.
"""
import json
from dataclasses import asdict, dataclass

from alive import cliutil
from alive.base import paths
from alive.config import registry
from alive.check import health, lint
from alive.units import units
from alive.base.errors import RuntimeFailure, UsageError
from alive.cliutil import plural
from alive.base.timeutil import format_duration, utcnow
from alive.base.tokens import printable

OK, WARNING, ERROR, SKIPPED = "ok", "warning", "error", "skipped"
MARK = {OK: "✓", WARNING: "!", ERROR: "✗", SKIPPED: "-"}
STATUS_OF = {health.GREEN: OK, health.GREY: OK, health.YELLOW: WARNING, health.RED: ERROR}


@dataclass
class Check:
    name: str
    status: str
    text: str
    hint: str | None = None
    details: dict | None = None


def exit_code(checks):
    statuses = {c.status for c in checks}
    return 2 if ERROR in statuses else 1 if WARNING in statuses else 0


# ---------------------------------------------------------------- the checks


def check_config(config, home):
    """-> (Check, Registry or None)."""
    problems = lint.lint_config(config, home)
    errors = [p for p in problems if p["severity"] == lint.ERROR]
    registry_ = None
    if not errors:
        try:
            registry_ = registry.load(config, home)
        except registry.ConfigError as exc:  # lint and load agree; this is only a safety net
            errors = [{"problem": p} for p in exc.problems]
    shown = "fleet.toml" if config == home / "fleet.toml" else str(config)
    if errors:
        first = errors[0]
        where = f"line {first['line']}: " if first.get("line") else ""
        return Check("fleet.toml", ERROR, f"{shown}: {where}{first['problem']}{_more(errors)}",
                     "`alive lint` lists every problem; fix fleet.toml"), None
    if problems:
        return Check("fleet.toml", WARNING, f"{shown}: {problems[0]['problem']}{_more(problems)}",
                     "`alive lint` lists every warning"), registry_
    if registry_.path is None:
        return Check("fleet.toml", OK, f"{shown}: none (nothing registered; health/ is judged as found)"), registry_
    counts = ", ".join(plural(len(group), word) for group, word in
                       ((registry_.tasks, "task"), (registry_.sources, "source"), (registry_.probes, "probe")))
    return Check("fleet.toml", OK, f"{shown}: valid ({counts})"), registry_


def _more(found):
    return f" (and {len(found) - 1} more)" if len(found) > 1 else ""


def check_health(config, home, now):
    problems, checked = lint.lint_health(paths.health_dir(home), home, now)
    errors = sum(p["severity"] == lint.ERROR for p in problems)
    if not problems:
        return Check("health", OK, f"health/: {lint.plural(checked, 'file')}, clean")
    first = problems[0]
    text = (f"health/: {lint.plural(errors, 'error')}, {lint.plural(len(problems) - errors, 'warning')} "
            f"in {lint.plural(checked, 'file')}; first: {first['file']}: {first['problem']}")
    return Check("health", ERROR if errors else WARNING, text, "`alive lint` lists every problem",
                 {"problems": problems})


def check_units(reg, scheduler, now):
    try:
        setup = units.setup_for(reg)
        found = units.module(scheduler).compare(setup, units.jobs(reg, setup), now)
    except (UsageError, RuntimeFailure) as exc:
        return Check("units", ERROR, f"{scheduler}: cannot compare the installed units: {exc}",
                     f"ALIVE_SCHEDULER=launchd|systemd|crontab chooses the scheduler verify looks at")
    install = f"`make install` (alive schedule {scheduler} --install)"
    if not found.installed:
        return Check("units", ERROR, f"{scheduler}: not installed ({plural(found.total, 'unit')} expected in {found.where})",
                     install, found.to_json())
    if found.ok:
        return Check("units", OK, f"{scheduler}: {plural(found.total, 'unit')} installed in {found.where}, as fleet.toml says",
                     None, found.to_json())
    parts = []
    for word, names in (("missing", found.missing), ("extra", found.extra), ("different", found.different),
                        (found.inactive_word, found.inactive)):
        if names:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            parts.append(f"{len(names)} {word} ({shown})")
    return Check("units", ERROR, f"{scheduler}: {'; '.join(parts)}", f"{install} brings them in line with fleet.toml",
                 found.to_json())


def check_watchdog(reg, result):
    item = next((i for i in result.items if i.kind == "task" and i.name == health.WATCHDOG_TASK), None)
    if item is None:
        return Check("watchdog", WARNING, "watchdog: no heartbeat yet (no sources depend on it)",
                     "`alive watchdog` runs it once; `make install` schedules it every 3 minutes")
    d = item.details
    status = STATUS_OF[item.color]
    if d.get("last_completed_at"):
        text = (f"watchdog: last heartbeat {d['last_completed_at']}, {format_duration(d['age_s'])} ago "
                f"({d.get('last_status')})")
        if status != OK and item.reasons:
            text += f": {item.reasons[0]}"
    else:
        text = f"watchdog: {item.reasons[0] if item.reasons else 'never reported'}"
    hint = None
    late = not d.get("last_completed_at") or (d.get("age_s") or 0) > d.get("max_gap_s", 0)
    if status != OK and late:
        hint = "`make install` schedules it every 3 minutes; `alive watchdog` runs it now"
    elif status != OK:  # it runs, but its tick went wrong: the sources' lines say which
        hint = "`alive watchdog` runs a tick and says what went wrong (scheduled runs log to logs/watchdog.log)"
    return Check("watchdog", status, text, hint, item.to_json())


def check_source(item):
    d = item.details
    if d.get("captured_at"):
        text = (f"source {item.name}: captured {d['captured_at']}, {format_duration(d['age_s'])} old "
                f"(max {format_duration(d['max_age_s'])})")
    else:
        text = f"source {item.name}: no capture time"
    if d.get("probe"):
        text += f", probe {d['probe']}"
    status = STATUS_OF[item.color]
    hint = None
    if status != OK:
        text += f": {'; '.join(item.reasons)}"
        if d.get("probe") in ("expired", "no_tab"):
            hint = "log in again where the probe checks, then `alive probe`"
        else:
            hint = f"`alive refresh {item.name}` refreshes it now and says what fails"
    return Check(f"source.{item.name}", status, text, hint, item.to_json())


def check_notify(reg, home, now):
    """[a warning] when a channel refused a message for good lately (outbox.tell_refused),
    else []: a lost alert is said here too."""
    if not (reg.notify.ntfy or reg.notify.command):
        return []
    from alive.notify.outbox import recent_refusals, refusals_text

    refused = recent_refusals(home, now)
    if not refused:
        return []
    return [Check("notify", WARNING, f"notify: {refusals_text(refused)}",
                  "logs/notify.log has each; fix the channel's settings in fleet.toml, "
                  "`alive check` shows what is RED now")]


def check_overall(result):
    counts = {}
    for item in result.items:
        counts[item.color] = counts.get(item.color, 0) + 1
    shown = ", ".join(f"{counts[c]} {c}" for c in (health.GREEN, health.YELLOW, health.RED, health.GREY) if c in counts)
    status = STATUS_OF[result.overall]
    return Check("check", status, f"check: {result.overall} ({shown or 'nothing to judge'})",
                 None if status == OK else "`alive check` shows each item and why")


def run_checks(home, config, now, scheduler):
    """Every check, in order."""
    from alive.check.facts import run_check

    first, reg = check_config(config, home)
    checks = [first, check_health(config, home, now)]
    if reg is None:
        why = "fleet.toml is invalid"
        return checks + [Check(name, SKIPPED, f"{name}: not checked ({why})")
                         for name in ("units", "watchdog", "sources", "check")]
    checks.append(check_units(reg, scheduler, now))
    result = run_check(home, reg, now)
    checks.append(check_watchdog(reg, result))
    checks += [check_source(i) for i in result.items if i.kind == "source"]
    checks += check_notify(reg, home, now)
    checks.append(check_overall(result))
    return checks


# ---------------------------------------------------------------- command line


def text_lines(checks, scheduler):
    lines = []
    for c in checks:
        lines.append(f"{MARK[c.status]} {c.text}")
        if c.hint:
            lines.append(f"    → {c.hint}")
    failed = sum(c.status == ERROR for c in checks)
    warned = sum(c.status == WARNING for c in checks)
    verdict = "all good" if not failed and not warned else f"{failed} failing, {plural(warned, 'warning')}"
    lines.append(f"{verdict} ({len(checks)} checks; units for {scheduler})")
    return lines


def main(argv):
    p = cliutil.parser("verify", "The whole system at a glance; exit 0 all pass, 1 warnings, 2 failures.")
    cliutil.add_json(p)
    args = p.parse_args(argv)
    home = paths.existing_home(args.home)
    config = paths.resolve_config(home, args.config)
    scheduler = units.detect_scheduler()
    checks = run_checks(home, config, utcnow(), scheduler)
    code = exit_code(checks)
    if args.json:
        print(json.dumps({"ok": code == 0, "exit_code": code, "scheduler": scheduler,
                          "checks": [asdict(c) for c in checks]}, indent=2, ensure_ascii=False))
    else:
        print(printable("\n".join(text_lines(checks, scheduler))))   # a file name or a reason may hold ESC
    return code
