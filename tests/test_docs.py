"""README.md fits on a screen or two and sends the reader to docs/ by topic (issue 20); its
links hold, and the fleet of "your own fleet in five minutes" works as written: its
fleet.toml is valid, its crontab line runs and reports, `make install` schedules its task."""
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from conftest import run_alive

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```[ \t]*$", re.S | re.M)
MAX_README_LINES = 260          # the "at most ~250"


def pages():
    return [README, *sorted(DOCS.glob("*.md"))]


def prose(text):
    """The text outside fenced code blocks and inline code, where links are links."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def slugs(text):
    """The anchors GitHub gives a page's headings: lower case, punctuation but '-' and '_'
    dropped, spaces as '-', a repeated one suffixed -1, -2 (github/cmark-gfm's anchor
    filter, as github.com renders README files)."""
    seen, out = {}, set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", FENCE.sub("", text), re.M):
        base = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def section(title):
    """README's section whose `## ` heading starts with title, up to the next `## `."""
    text = README.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(title)}.*?(?=^## |\Z)", text, re.S | re.M)
    assert match, f"README has no section '## {title}'"
    return match.group(0)


def five_minute_fleet_toml():
    blocks = re.findall(r"^```toml\n(.*?)^```", section("Your own fleet in five minutes"), re.S | re.M)
    assert blocks, "the five-minute section shows no fleet.toml"
    return blocks[0]


def five_minute_home(tmp_path, fleet):
    """An ALIVE_HOME holding the five-minute fleet.toml."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "fleet.toml").write_text(fleet, encoding="utf-8")
    return home


def test_readme_is_at_most_about_250_lines():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; reference text belongs in docs/"


def test_readme_states_the_wall_time_of_make_test_on_its_own_line():
    lines = [line for line in README.read_text(encoding="utf-8").splitlines() if "wall time" in line]
    assert len(lines) == 1 and "make test" in lines[0], lines


def test_readme_links_every_docs_page():
    linked = {(README.parent / target.split("#")[0]).resolve()
              for target in LINK.findall(prose(README.read_text(encoding="utf-8")))}
    unlinked = [p.name for p in sorted(DOCS.glob("*.md")) if p.resolve() not in linked]
    assert len(list(DOCS.glob("*.md"))) > 1 and unlinked == [], unlinked


def test_every_relative_link_and_anchor_resolves():
    broken = []
    for page in pages():
        for target in LINK.findall(prose(page.read_text(encoding="utf-8"))):
            if re.match(r"[a-z]+:", target):
                continue                      # https:, mailto: are not ours to check here
            path, _, anchor = target.partition("#")
            dest = (page.parent / path).resolve() if path else page
            if not dest.exists():
                broken.append(f"{page.name}: {target}: no such file")
            elif anchor and dest.suffix == ".md" and anchor not in slugs(dest.read_text(encoding="utf-8")):
                broken.append(f"{page.name}: {target}: no such heading")
    assert broken == []


def test_five_minute_fleet_toml_is_valid(tmp_path):
    home = five_minute_home(tmp_path, five_minute_fleet_toml())
    lint = run_alive("lint", "--json", home=home)
    errors = [p for p in json.loads(lint.stdout)["problems"] if p["severity"] == "error"]
    assert errors == [] and lint.returncode in (0, 1), lint.stdout + lint.stderr
    check = run_alive("check", "--json", home=home)
    assert check.returncode == 0, check.stderr
    tasks = [item["name"] for item in json.loads(check.stdout)["items"] if item["kind"] == "task"]
    assert len(tasks) == 3, tasks


def test_five_minute_crontab_line_runs_and_its_task_turns_green(tmp_path):
    """The crontab line as README gives it, with the repository's path for /path/to/alive and
    `true` for the job, run by /bin/sh as cron does; then check judges that task GREEN."""
    home = five_minute_home(tmp_path, five_minute_fleet_toml())
    lines = [line for line in section("Your own fleet in five minutes").splitlines()
             if re.match(r"^[\d*/,-]+( [\d*/,-]+){4} .*\balive run\b", line)]
    assert len(lines) == 1, lines
    command = lines[0].split(None, 5)[5].replace("/path/to/alive", str(ROOT))
    task = re.search(r"\balive run (\S+)", command).group(1)
    command = command.split(" -- ")[0] + " -- true"
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "ALIVE_HOME": str(home),
           "HOME": str(tmp_path)}
    ran = subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    items = json.loads(run_alive("check", "--json", home=home).stdout)["items"]
    assert [(i["name"], i["color"]) for i in items if i["name"] == task] == [(task, "GREEN")]


def test_make_install_schedules_the_five_minute_task_that_has_run(tmp_path):
    """`make install` installs what `alive schedule KIND` writes: the task with `run` is there
    under `alive run`, with its timeout."""
    fleet = five_minute_fleet_toml()
    home = five_minute_home(tmp_path, fleet)
    tasks = tomllib.loads(fleet)["tasks"]
    with_run = [name for name, keys in tasks.items() if "run" in keys]
    assert len(with_run) == 1, tasks
    units = run_alive("schedule", "crontab", home=home)
    assert units.returncode == 0, units.stderr
    assert re.search(rf" run {re.escape(with_run[0])} --timeout \S+ --no-overlap -- ", units.stdout), units.stdout
