"""Issue 20 item 2: every module of lib/alive fits in one sitting (none over ~400 lines)."""
from pathlib import Path

LIB = Path(__file__).resolve().parent.parent / "lib" / "alive"
LIMIT = 400


def test_no_module_is_over_the_limit():
    long = {str(p.relative_to(LIB)): n for p in sorted(LIB.rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > LIMIT}
    assert long == {}, f"over {LIMIT} lines: {long}"
