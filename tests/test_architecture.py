"""lib/alive's rooms and their one-way arrows (docs/architecture.md): every import, lazy ones
included, goes to its own package or to one below it, no module imports a command back, and no
two modules import each other, however far round."""
import ast
from pathlib import Path

LIB = Path(__file__).resolve().parent.parent / "lib"

# The layers, lowest first: a package may import its own modules and those of the packages
# before it in this list. serve and units are side by side (neither imports the other).
LAYERS = ["base", "config", "write", "check", "notify", "correct", "report", "serve", "units"]
BELOW = {p: set(LAYERS[:n]) for n, p in enumerate(LAYERS)}
BELOW["units"] = BELOW["serve"]
# The top-level modules: cliutil is the commands' shared plumbing (parser, load, plural), on
# the base and config only, so any room with commands may use it; cli (the dispatcher) and
# demo sit above every room and nothing imports them.
CLIUTIL_MAY = {"base", "config"}
CLIUTIL_USERS = set(LAYERS) - {"base", "config"}
# check reads what the write room writes: of it, it may use the formats (the heartbeat's
# schema, the ping receiver's state files), not the writers.
NARROW = {("check", "write"): {"alive.write.heartbeat", "alive.write.pingstate"}}

# The seams DESIGN §8.3 names, and where they went in the move (issue 20):
# - the process pump shared by `alive run` and probes (procs -> runner): correct imports
#   write, which is below it: no longer upward;
# - a helper reading registry secrets from below it (procs, notify -> registry.secret_env_names;
#   kv -> notify.scrub): config and notify are below correct and notify: no longer upward;
# - the watchdog (and report, serve, export, probe, queue, triggers, adopt, verify,
#   cmd_schedule) importing the check command for load(): load moved to cliutil; verify's
#   run_check moved to check/facts.py;
# - the watchdog, lint, crontab, systemd, adopt, verify and demo importing report's text
#   table for plural(): plural moved to cliutil;
# - the ping server (write) importing health and probe for the two task names alive writes
#   itself: WATCHDOG_TASK and PROBE_TASK moved to write/heartbeat.py;
# - the check command sending notifications: below, exempt.
# Imports that still point up, each needing a real redesign rather than a helper moved down:
# the check command wires three rooms: DESIGN §8.3's commands layer above the rooms (as
# borgmatic's actions/) is where `alive check --notify` and check's table belong; moving
# cmd_check there changes where every command lives (issue 20 item 4).
EXEMPT = {
    ("alive.check.cmd_check", "alive.notify.notify"),     # check --notify sends the flips
    ("alive.check.cmd_check", "alive.notify.deadman"),    # check --notify pings the dead man
    ("alive.check.cmd_check", "alive.report.textview"),   # check prints report's text table
}


def module_name(path):
    parts = list(path.relative_to(LIB).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted((LIB / "alive").rglob("*.py"))}


def imports(path):
    """[(line, target module)] of every alive import in the file, at any depth (lazy ones too)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: a relative import (write `from alive.x import y`)"
            if node.module.split(".")[0] != "alive":
                continue
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.append((node.lineno, sub if sub in MODULES else node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "alive"]
    return out


GRAPH = {m: sorted({t for _, t in imports(p) if t != m}) for m, p in MODULES.items()}


def room(module):
    """'alive.check.health' -> 'check'; 'alive.cliutil' -> 'alive.cliutil'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in LAYERS) else module


def allowed(source, target):
    src, dst = room(source), room(target)
    if dst == "alive" or src == dst:
        return True                               # the package root (alive.__version__), or one's own room
    if src in ("alive.cli", "alive.demo", "alive"):
        return dst not in ("alive.cli", "alive.demo")
    if src == "alive.cliutil":
        return dst in CLIUTIL_MAY
    if dst == "alive.cliutil":
        return src in CLIUTIL_USERS
    if (src, dst) in NARROW:
        return target in NARROW[src, dst]
    return src in BELOW and dst in BELOW[src]


def test_every_module_is_in_a_room():
    assert set(LAYERS) <= {room(m) for m in MODULES}
    assert {room(m) for m in MODULES} - set(LAYERS) == {"alive", "alive.cli", "alive.cliutil", "alive.demo"}


def test_every_import_follows_the_arrows():
    wrong = [f"{m} -> {t}" for m, targets in GRAPH.items() for t in targets
             if t in MODULES and not allowed(m, t) and (m, t) not in EXEMPT]
    assert wrong == [], "imports against the arrows (docs/architecture.md):\n" + "\n".join(wrong)


def test_the_exemptions_are_still_needed():
    stale = [pair for pair in EXEMPT if pair[1] not in GRAPH.get(pair[0], [])]
    assert stale == [], f"no longer imported, drop from EXEMPT: {stale}"


def test_no_module_imports_a_command_back():
    commands = {m for m in MODULES if m.rsplit(".", 1)[-1].startswith("cmd_")}
    back = [f"{m} -> {t}" for m, targets in GRAPH.items() for t in targets if t in commands]
    assert back == []


def test_every_import_names_a_module_that_is_there():
    missing = [f"{m} -> {t}" for m, targets in GRAPH.items() for t in targets if t not in MODULES]
    assert missing == []


def test_the_package_inits_import_nothing():
    """`from alive.base import atomic` loads alive/base/__init__.py first: it must cost nothing."""
    for pkg in LAYERS:
        tree = ast.parse((LIB / "alive" / pkg / "__init__.py").read_text())
        assert [type(n).__name__ for n in tree.body] == ["Expr"], f"alive/{pkg}/__init__.py: a docstring only"


def cycles(graph):
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_in_lib():
    assert cycles(GRAPH) == []


def test_no_import_cycle_in_bench():
    bench = LIB.parent / "bench"
    names = {p.stem for p in bench.glob("*.py")}
    graph = {}
    for p in bench.glob("*.py"):
        targets = set()
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module in names:
                targets.add(node.module)
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names if a.name in names}
        graph[p.stem] = sorted(targets - {p.stem})
    assert cycles(graph) == []


def test_the_cycle_finder_finds_one():
    assert cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
