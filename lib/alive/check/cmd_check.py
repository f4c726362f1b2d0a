"""`alive check [--notify] [--json]`: judge every task and source; write/clear alerts/."""
import json
import sys

from alive import cliutil
from alive.base import paths, statefile, tokens
from alive.check import alerts, facts, health
from alive.notify import deadman
from alive.report import textview
from alive.base.timeutil import utcnow
from alive.cliutil import load  # noqa: F401 (shared by every command)
from alive.check.facts import run_check  # noqa: F401 (cmd_check.run_check stays)

EXIT = {health.GREEN: 0, health.YELLOW: 1, health.RED: 2}


def build_parser():
    p = cliutil.parser("check", "Judge every task and source; exit 0 GREEN, 1 YELLOW, 2 RED, 3 bad usage or config.")
    cliutil.add_json(p)
    p.add_argument("--notify", action="store_true", help="send notifications for flips")
    return p


def main(argv):
    args = build_parser().parse_args(argv)
    home, reg = load(args)
    now = utcnow()
    if args.notify:
        # A command that writes state/ sets aside what it finds damaged there, so the next
        # run is clean; a plain check only reads (a damaged file is ignored, saying so).
        for warning in statefile.sweep(paths.state_dir(home), now):
            print(f"alive check: warning: {warning}", file=sys.stderr)
    result = run_check(home, reg, now)
    # alerts/ is a side channel: when it cannot be written (a full disk) the verdict is
    # still printed and still decides the exit code, with one line on stderr (at least 1).
    alerts_problem = None
    try:
        alerts.sync(home, result)
    except OSError as exc:
        alerts_problem = f"alive check: cannot write alerts in {paths.alerts_dir(home)}: {exc.strerror or exc}"
    else:
        try:
            facts.record_first_seen(reg, home, now)
        except OSError as exc:
            alerts_problem = f"alive check: cannot write {paths.state_dir(home)}: {exc.strerror or exc}"
    sent = None
    if args.notify:
        from alive.notify import notify

        sent = notify.after_check(home, reg, result, now)
    if args.json:
        print(tokens.scrub(json.dumps(result.to_json(), indent=2, ensure_ascii=False)))
    else:
        print(tokens.scrub(textview.table(result, textview.use_color(sys.stdout))))
        if sent is not None:
            print(f"notifications: {sent['sent']} sent, {sent['queued']} waiting in the outbox, {sent['dropped']} dropped")
    sys.stdout.flush()
    deadman.ping(reg, "check")              # this check completed: tell the outside switch
    if alerts_problem:
        print(alerts_problem, file=sys.stderr)
    # Notifications that could not be recorded (state/ unwritable) were still sent and
    # said so on stderr; the exit code says it too: never 0.
    if alerts_problem or (sent and sent.get("unrecorded")):
        return max(EXIT[result.overall], 1)
    return EXIT[result.overall]
