"""Issue 20 item 2: splitting modules to fit one sitting (test_module_sizes.py) does not make
`alive run`, on the path of every scheduled job, load more of alive."""
import os
import subprocess
import sys

from conftest import ALIVE

# What `alive run` loaded of alive before the split; write.pump (the process pump it shares
# with probes) is the one module the split may add, as `alive run` really runs it.
RUN_LOADED = {"alive", "alive.base", "alive.base.atomic", "alive.base.durations", "alive.base.errors",
              "alive.base.paths", "alive.base.regular", "alive.base.tokens", "alive.cli", "alive.write",
              "alive.write.args", "alive.write.heartbeat", "alive.write.runner"}
RUN_MAY_ADD = {"alive.write.pump"}


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
