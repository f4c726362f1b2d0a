"""The terminal table of items: color, kind, name, age, reason. Colors only on a TTY
and never with NO_COLOR set (https://no-color.org)."""
import os

from alive.base.timeutil import format_duration, parse_iso
from alive.base.tokens import printable
from alive.cliutil import plural  # noqa: F401 (textview.plural stays)

ANSI = {"GREEN": "32", "YELLOW": "33", "RED": "31", "GREY": "90"}


def use_color(stream):
    return stream.isatty() and not os.environ.get("NO_COLOR")


def paint(text, color, enabled):
    return f"\033[{ANSI[color]}m{text}\033[0m" if enabled and color in ANSI else text


def age_text(item):
    age = item.details.get("age_s")
    return "-" if age is None else format_duration(age)


def reason_text(item, now):
    """The reasons (none for a GREEN on time, as README's table says), and a run in progress
    that no reason names yet: README promises check shows it running."""
    reasons = list(item.reasons)
    since = item.details.get("running_since")
    if since and not any("run in progress" in r or "running for" in r for r in reasons):
        reasons.append(f"run in progress for {format_duration(max(0, (now - parse_iso(since)).total_seconds()))}")
    return "; ".join(reasons)


def table(result, color=False):
    # printable() before the colors are painted: a reason quotes a job's output or a ping's body
    rows = [(i.color, i.kind, printable(i.name), age_text(i), printable(reason_text(i, result.checked_at)))
            for i in result.items]
    widths = [max([len(h)] + [len(r[n]) for r in rows]) for n, h in enumerate(("COLOR", "KIND", "NAME", "AGE"))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(("COLOR", "KIND", "NAME", "AGE"), widths)) + "  REASON"]
    for row in rows:
        cells = [paint(row[0].ljust(widths[0]), row[0], color)] + [c.ljust(w) for c, w in zip(row[1:4], widths[1:])]
        lines.append(("  ".join(cells) + "  " + row[4]).rstrip())
    counts = {c: sum(1 for i in result.items if i.color == c) for c in ANSI}
    summary = ", ".join(f"{n} {c}" for c, n in counts.items() if n)
    lines.append("")
    lines.append(f"overall: {paint(result.overall, result.overall, color)}"
                 f" ({plural(len(result.items), 'item')}{': ' + summary if summary else ''})")
    if result.invalid_files:
        lines.append(f"invalid files ({len(result.invalid_files)}):")
        lines += [printable(f"  {f['file']}: {f['problem']}") for f in result.invalid_files]
    return "\n".join(lines)
