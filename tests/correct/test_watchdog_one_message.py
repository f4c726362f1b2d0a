"""One failing source is one notification, not two; one expired login is one message.

Real `alive watchdog` ticks with real producers and probes (wdkit), the command channel a
real script that keeps every message it is given (notified.log, messages split by ---).
"""
from conftest import run_alive
from wdkit import check_items, data, fleet, latest, probe_table, scripts, source

from alive.correct import watchdog_plan

NOTIFY = '[notify]\nrecovery = true\n[notify.command]\nargv = ["./notified.py"]\n'


def told(home):
    path = home / "notified.log"
    return [m.strip() for m in path.read_text().split("\n---\n") if m.strip()] if path.exists() else []


def test_a_refresh_failing_at_alert_after_leaves_the_tick_partial_not_error():
    o = watchdog_plan.Outcome
    assert watchdog_plan.tick_status([o("a", "failed", consecutive_failures=3, alerting=True)], [], []) == "partial"
    assert watchdog_plan.tick_status([o("a", "failed", consecutive_failures=1)], [], []) == "partial"
    assert watchdog_plan.tick_status([o("a", "refreshed")], [{"ok": False}], []) == "error"  # the tick's own work
    assert watchdog_plan.tick_status([o("a", "refreshed")], [], []) == "ok"


def test_one_failing_source_sends_one_notification_about_the_source(home):
    scripts(home, "fail.py", "notified.py")
    fleet(home, source("shop", producer="fail.py", alert_after=1) + NOTIFY)
    data(home, "shop.json", age_s=3600)
    r = run_alive("watchdog", home=home)
    assert r.returncode == 1 and "FAILED shop" in r.stdout
    assert latest(home, "alive-watchdog")["status"] == "partial"
    items = check_items(home, run_alive)
    assert items["shop"]["color"] == "RED" and items["alive-watchdog"]["color"] == "YELLOW"
    messages = told(home)
    assert len(messages) == 1 and messages[0].startswith("RED: source shop\n"), messages
    assert "producer exited 1: boom: upstream said 503" in messages[0]
    assert run_alive("watchdog", home=home).returncode == 1
    assert len(told(home)) == 1                              # still RED: nothing more (no renotify)


def test_an_expired_login_behind_three_sources_is_one_message_naming_them(home):
    scripts(home, "good.py", "probe_expired.py", "notified.py")
    fleet(home, "".join(source(n, probe="login") for n in ("crm", "shop", "track"))
          + probe_table("login", "probe_expired.py") + NOTIFY)
    for name in ("crm", "shop", "track"):
        data(home, f"{name}.json", age_s=3600)
    r = run_alive("watchdog", home=home)
    assert r.returncode == 0, r.stderr
    messages = told(home)
    assert len(messages) == 1, messages
    title, _, body = messages[0].partition("\n\n")
    assert title == "3 items RED: probe login says expired: a person must re-authenticate"
    assert [line.split(":")[1].strip() for line in body.splitlines()] == ["source crm", "source shop",
                                                                          "source track"]
    assert "alive-watchdog" not in messages[0]
