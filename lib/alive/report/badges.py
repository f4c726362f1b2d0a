"""Status badges, shields.io style: `alive | GREEN` for the fleet, `<name> | RED` for one item.

`alive serve` answers /badge.svg and /badge/<item>.svg; `alive report --format html --out
FILE` writes the same files beside FILE (badge.svg, badge/<item>.svg). An item's file is
named like its alert file: a task by its name, a source as source.<name>.
The colors are the page's, dark enough for white text (WCAG AA); every name is escaped.
"""
from xml.sax.saxutils import escape

from alive.check import health

FILL = {health.GREEN: "#1a7f37", health.YELLOW: "#8a5d00", health.RED: "#cf222e", health.GREY: "#5c6570"}
WORDS = {health.GREY: "paused"}
LABEL_FILL = "#3d444d"
# Widths of Verdana 11px (what shields measures with), roughly: narrow letters, capitals
# and wide letters; anything else is 7 px.
NARROW = {**dict.fromkeys("iljtf.:,;!|'I ", 4), **dict.fromkeys("rsJ()-[]{}/", 5)}


def text_width(text):
    return sum(NARROW.get(ch, 8 if ch.isupper() or ch in "mw@%" else 7) for ch in text)


def svg(label, color):
    """One badge: label on the left in grey, the color's word on the right in its color."""
    message = WORDS.get(color, color)
    lw, mw = text_width(label) + 12, text_width(message) + 12
    total = lw + mw
    title = escape(f"{label}: {message}")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{title}">'
            f'<title>{title}</title>'
            f'<clipPath id="r"><rect width="{total}" height="20" rx="3" fill="#fff"/></clipPath>'
            f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="{LABEL_FILL}"/>'
            f'<rect x="{lw}" width="{mw}" height="20" fill="{FILL.get(color, FILL[health.GREY])}"/></g>'
            f'<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
            f'<text x="{lw / 2:g}" y="14">{escape(label)}</text>'
            f'<text x="{lw + mw / 2:g}" y="14">{escape(message)}</text></g></svg>\n')


def file_name(item):
    """An item's badge file: a task by its name, a source as source.<name> (as its alert file)."""
    return f"{item.name}.svg" if item.kind == "task" else f"source.{item.name}.svg"


def find(result, file):
    """The item whose badge is `file` (<item>.svg), or None: names are looked up, never used as paths."""
    return next((i for i in result.items if file_name(i) == file), None)


def all_badges(result):
    """{relative path: svg} of every badge: badge.svg and badge/<item>.svg."""
    out = {"badge.svg": svg("alive", result.overall)}
    for item in result.items:
        out[f"badge/{file_name(item)}"] = svg(item.name, item.color)
    return out


def write_beside(out_path, result):
    """The badges next to a written report (only files whose bytes changed are rewritten).
    -> how many were written."""
    import os

    from alive.base import atomic, regular

    folder = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(os.path.join(folder, "badge"), exist_ok=True)
    written = 0
    for rel, text in all_badges(result).items():
        path = os.path.join(folder, rel)
        try:
            if regular.read_regular(path).decode("utf-8") == text:
                continue
        except (OSError, ValueError):
            pass
        atomic.write_atomic(path, text)
        written += 1
    return written
