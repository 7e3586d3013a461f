# The README's two commands are `make demo` and `make test`; both install first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test check bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The demo ends live: `watch` on the simulated venue (a minute at 14,400x: 240 hourly bars), alerts
# on the terminal and in a JSONL file, then the morning brief of the watched market.
# `demo` writes the demo market's HTML report (.demo-home/demo-report.html) and prints its path;
# `make demo OPEN=1` opens it in the default browser.
DEMO := $(BIN)/oiradar --home $(CURDIR)/.demo-home
demo: install
	$(DEMO) demo --fresh $(if $(OPEN),--open)
	$(DEMO) watch -e sim -s DOT/USDT:USDT -t 1h --sim-speed 14400 --stop-after-bars 240 \
		--notify jsonl://$(CURDIR)/.demo-home/alerts.jsonl
	$(DEMO) brief -e sim -s DOT/USDT:USDT -t 1h

test: install
	$(BIN)/python -m pytest

check: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .demo-home .pytest_cache build *.egg-info
