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

test: $(VPY)
	$(VPY) -m pytest -q tests

demo:
	$(PYTHON) bin/alive demo

lint:
	@command -v shellcheck >/dev/null || { command -v apt-get >/dev/null && (apt-get install -y -qq shellcheck >/dev/null 2>&1 || (apt-get update -qq >/dev/null && apt-get install -y -qq shellcheck >/dev/null)); } || true
	@if command -v shellcheck >/dev/null; then shellcheck scripts/*.sh && echo "shellcheck: clean"; else echo "shellcheck: not installed and cannot be installed here; skipped"; fi
	$(PYTHON) -m compileall -q lib bin/alive >/dev/null && echo "compileall: clean"

bench:
	$(PYTHON) bench/bench.py

# A real browser (Debian's chromium, installed when missing) screenshots the dashboard of the
# demo fleet into docs/screenshots/ and checks its DOM. Not part of `make test`.
browser-check:
	$(PYTHON) scripts/browser_check.py

clean:
	rm -rf $(VENV) bench/results.json
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
