# alive: write / check / report. Everything here runs with only Python 3.11+ installed;
# `make test` builds its own .venv with the two test dependencies.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
SCRIPTS := $(wildcard scripts/*.sh)

.PHONY: test demo lint bench verify install uninstall soak browser-check clean

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check pytest freezegun

# -rs: each skipped test is named with its reason (a peer tool not installed, ...).
# TESTS=tests/cli/test_cli.py runs one file (tests/<package>/ mirror lib/alive).
TESTS ?= tests
test: $(VPY)
	$(VPY) -m pytest -q -rs $(TESTS)

# The reliability suite (tests/reliability: crash, concurrency, faults, hostile input, ...)
# at 10 x the counts of `make test`.
soak: $(VPY)
	ALIVE_SOAK_FACTOR=10 $(VPY) -m pytest -q tests/reliability

demo:
	$(PYTHON) bin/alive demo

# Installs nothing: without shellcheck it says how to get it and goes on.
lint:
	@if command -v shellcheck >/dev/null; then shellcheck scripts/*.sh && echo "shellcheck: clean"; \
	else echo "shellcheck: not installed; skipped (install it: apt-get install shellcheck, or brew install shellcheck)"; fi
	$(PYTHON) -m compileall -q lib bin/alive >/dev/null && echo "compileall: clean"

bench:
	$(PYTHON) bench/bench.py

# The whole system at a glance (exit 0 all pass, 1 warnings, 2 failures).
verify:
	$(PYTHON) bin/alive verify

# Schedule every job of fleet.toml with this system's scheduler: ALIVE_SCHEDULER, else launchd
# on macOS, systemd where `systemctl --user` works, else crontab (alive.units.units.detect_scheduler,
# the same choice `alive verify` checks). The units run $(PYTHON), so install with the Python
# that should run them. Once, here, not at every run: the real interpreter behind $(PYTHON)
# (a pyenv shim is a bash script) goes into the units and into bin/.alive-python for
# scripts/cron-heartbeat-write.sh, and lib/ is compiled, so an environment with
# PYTHONDONTWRITEBYTECODE set does not compile alive's modules again at every call.
SCHEDULER = $(shell PYTHONPATH=lib $(PYTHON) -c 'import os; from alive.units.units import detect_scheduler as d; print(os.environ.get("ALIVE_SCHEDULER") or d())')

install:
	$(PYTHON) -c 'import os, sys; open("bin/.alive-python.tmp", "w").write(sys.executable + "\n"); os.replace("bin/.alive-python.tmp", "bin/.alive-python")'
	$(PYTHON) -m compileall -q lib >/dev/null
	$(PYTHON) bin/alive schedule $(SCHEDULER) --install
	@echo "interpreter: $$(cat bin/.alive-python); lib/ compiled"

uninstall:
	$(PYTHON) bin/alive schedule $(SCHEDULER) --uninstall
	rm -f bin/.alive-python

# A real browser (Debian's chromium, installed when missing, driven over the DevTools
# protocol) uses the demo fleet's dashboard: screenshots into docs/screenshots/, axe-core
# counts, keyboard, live update, no-JS, offline. Not part of `make test`; .ci/run runs it
# when Chromium can be installed.
browser-check:
	$(PYTHON) scripts/browser_check.py

clean:
	rm -rf $(VENV) bench/results.json
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
