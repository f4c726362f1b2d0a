"""Issue 20 item 2: a module fits in one sitting (none over ~400 lines), and splitting one
does not make `alive run`, on the path of every scheduled job, load more of alive."""
import os
import subprocess
import sys
from pathlib import Path

from conftest import ALIVE

LIB = Path(__file__).resolve().parent.parent / "lib" / "alive"
SITTING = 400
# The modules split in issue 20 part C, and the modules they were split into.
SPLIT = ["correct/watchdog.py", "correct/triggers.py", "check/health.py", "write/ping.py", "write/runner.py",
         "correct/watchdog_plan.py", "correct/watchdog_run.py", "correct/triggers_backends.py",
         "correct/triggers_journal.py", "check/items.py", "check/sourcehealth.py", "write/pingrecord.py",
         "write/pump.py"]
# What `alive run` loaded of alive before the split; write.pump (the process pump it shares
# with probes) is the one module the split may add, as `alive run` really runs it.
RUN_LOADED = {"alive", "alive.base", "alive.base.atomic", "alive.base.durations", "alive.base.errors",
              "alive.base.paths", "alive.base.regular", "alive.base.tokens", "alive.cli", "alive.write",
              "alive.write.args", "alive.write.heartbeat", "alive.write.runner"}
RUN_MAY_ADD = {"alive.write.pump"}


def lines(path):
    return len(path.read_text().splitlines())


def test_the_split_modules_fit_in_one_sitting():
    too_long = {name: lines(LIB / name) for name in SPLIT if lines(LIB / name) > SITTING}
    assert too_long == {}


def test_alive_run_loads_no_more_of_alive(tmp_path):
    env = dict(os.environ, ALIVE_HOME=str(tmp_path / "home"))
    env.pop("ALIVE_CONFIG", None)
    r = subprocess.run([sys.executable, "-X", "importtime", str(ALIVE), "run", "t", "--", "true"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    # -X importtime: "import time: self [us] | cumulative | imported package" per module
    loaded = {line.rsplit("|", 1)[1].strip() for line in r.stderr.splitlines() if line.startswith("import time:")}
    ours = {m for m in loaded if m == "alive" or m.startswith("alive.")}
    assert RUN_LOADED <= ours
    assert ours - RUN_LOADED <= RUN_MAY_ADD
