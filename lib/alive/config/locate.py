"""The TOML line locator: tomllib gives no line numbers, so _locate maps every table header
and `key =` line to its dotted key (a key it cannot place, inside an inline table or missing,
is reported at its table's line); _failing_line finds the line of an error tomllib gives no
position for; _dotted writes a key back as TOML would accept it."""
import json
import re


def _failing_line(text):
    """The line where tomllib hits an error it gives no position for: the shortest run of
    whole lines from the top that still fails the same way (a prefix that ends before the
    culprit parses, or fails only where it was cut)."""
    import tomllib

    lines = text.splitlines(keepends=True)

    def fails(n):
        try:
            tomllib.loads("".join(lines[:n]))
        except tomllib.TOMLDecodeError:
            return False
        except (ValueError, RecursionError):
            return True
        return False

    low, high = 1, max(len(lines), 1)
    while low < high:
        mid = (low + high) // 2
        if fails(mid):
            high = mid
        else:
            low = mid + 1
    return low


def _key(part):
    """One key segment as TOML would accept it in a dotted key."""
    return part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part, ensure_ascii=False)


def _dotted(key):
    return ".".join(_key(part) for part in key)


_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _parse_key(line, i):
    """A dotted key at line[i:] -> (parts, index after it), or (None, i)."""
    parts = []
    n = len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return None, i
        if line[i] == '"':
            j = i + 1
            while j < n and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            raw = line[i + 1: j]
            try:
                parts.append(json.loads(f'"{raw}"'))
            except ValueError:
                parts.append(raw)
            i = j + 1
        elif line[i] == "'":
            j = line.find("'", i + 1)
            if j < 0:
                return None, i
            parts.append(line[i + 1: j])
            i = j + 1
        else:
            m = _BARE.match(line, i)
            if not m:
                return None, i
            parts.append(m.group())
            i = m.end()
        while i < n and line[i] in " \t":
            i += 1
        if i < n and line[i] == ".":
            i += 1
            continue
        return parts, i


def _scan_value(line, i, in_string, depth):
    """Follow strings, comments and brackets through line[i:]; returns the state at its end."""
    n = len(line)
    while i < n:
        if in_string:
            if in_string == '"""' and line[i] == "\\":
                i += 2
            elif line.startswith(in_string, i):
                i += 3
                in_string = None
            else:
                i += 1
            continue
        c = line[i]
        if c == "#":
            break
        if line.startswith('"""', i) or line.startswith("'''", i):
            in_string = line[i: i + 3]
            i += 3
            continue
        if c == '"':
            i += 1
            while i < n and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
        elif c == "'":
            j = line.find("'", i + 1)
            i = n if j < 0 else j
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return in_string, depth


def _locate(text):
    """{dotted key tuple: line} for every table header and `key =` line of a TOML text."""
    lines = {}
    table = ()
    in_string, depth = None, 0

    def record(path, n):
        for k in range(1, len(path) + 1):
            lines.setdefault(path[:k], n)

    for n, line in enumerate(text.splitlines(), 1):
        start = 0
        if in_string is None and depth == 0:
            stripped = line.lstrip()
            indent = len(line) - len(stripped)
            if stripped.startswith("["):
                parts, _ = _parse_key(line, indent + (2 if stripped.startswith("[[") else 1))
                if parts:
                    table = tuple(parts)
                    record(table, n)
                continue
            if not stripped or stripped.startswith("#"):
                continue
            parts, j = _parse_key(line, indent)
            if not parts or j >= len(line) or line[j] != "=":
                continue
            record(table + tuple(parts), n)
            start = j + 1
        in_string, depth = _scan_value(line, start, in_string, depth)
    return lines
