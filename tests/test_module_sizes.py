"""Issue 20 item 2: modules that fit in one sitting. The fleet.toml reader, the schedules and
the units room are split along their seams, so none of their modules is over ~400 lines."""
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parent.parent / "lib" / "alive"
LIMIT = 400


@pytest.mark.parametrize("package", ["config", "units"])
def test_no_module_in_the_package_is_over_the_limit(package):
    long = {p.name: n for p in sorted((LIB / package).glob("*.py"))
            if (n := len(p.read_text().splitlines())) > LIMIT}
    assert long == {}, f"over {LIMIT} lines in alive/{package}/: {long}"
