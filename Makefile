# dwcp-diag: the two commands are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEBIAN_PACKAGES := postgresql postgresql-contrib prometheus victoria-metrics chromium

.PHONY: help demo test test-fast test-stress lint format system-deps venv demo-record bench clean lab docs

help:
	@echo "make demo         set up .venv and render every notebook from the built-in demo data into reports/"
	@echo "make test         set up .venv (+ Debian servers) and run ruff and the whole test suite"
	@echo "make test-fast    the tests that need no server, kernel or other process (under a minute)"
	@echo "make test-stress  the whole suite in a shuffled order with every core kept busy (slow)"
	@echo "make demo-record  re-record the demo bundle from the simulator through real servers"
	@echo "make bench        run the benchmarks in benchmarks/"
	@echo "make lab          JupyterLab on 127.0.0.1:8888 with the project kernel"
	@echo "make docs         regenerate notebooks/reference/ (NAME.md from the notebooks, checks.md) and the README table of checks from dwcp_diag/checks.py"

$(STAMP): pyproject.toml constraints.txt
	@# a half-made venv (no pip) is made again; Debian's python3 needs python3-venv for it
	@test -x $(BIN)/pip || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV) 2>/dev/null; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    rm -rf $(VENV); apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
	    && $(PYTHON) -m venv $(VENV); \
	  else echo "cannot create $(VENV): install python3-venv (apt-get install -y python3-venv)"; exit 1; fi; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/dwcp-diag demo --out reports

# Real PostgreSQL and Prometheus for the tests: installed from Debian when missing.
system-deps:
	@missing=""; \
	command -v prometheus >/dev/null || missing="$$missing prometheus"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v victoria-metrics >/dev/null || missing="$$missing victoria-metrics"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	ls /usr/share/postgresql/*/extension/pg_stat_statements.control >/dev/null 2>&1 || missing="$$missing postgresql-contrib"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages: $(DEBIAN_PACKAGES)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEBIAN_PACKAGES) >/dev/null; \
	  else \
	    echo "missing:$$missing. Run: sudo apt-get update && sudo apt-get install -y $(DEBIAN_PACKAGES)"; exit 1; \
	  fi; \
	fi

# The suite on every core (at most 4): pytest-xdist workers, each a session with its own
# servers; tests/scheduling.py decides which worker runs what. TEST_WORKERS=0: one process.
TEST_WORKERS ?= $(shell n=$$(nproc); echo $$(( n < 4 ? n : 4 )))
test: system-deps $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q -n $(TEST_WORKERS)

# The development loop: analysis, config, quantities, decoding, doctests. conftest.py marks
# every test that needs a server, a notebook kernel or another process `server`.
test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not server"

# A guard against tests that depend on the machine's speed or on the order they run in: the
# whole suite with one busy loop per core competing for the CPU (each bounded by STRESS_BOUND_S
# and killed by its PID at the end) and in the order pytest-randomly shuffles (the seed is
# printed; SEED=n repeats an order; TESTS=path narrows it).
STRESS_BOUND_S ?= 7200
test-stress: system-deps $(STAMP)
	@busy=""; \
	for core in $$(seq "$$(nproc)"); do \
	  timeout $(STRESS_BOUND_S) sh -c 'while :; do :; done' & busy="$$busy $$!"; \
	done; \
	trap 'kill $$busy 2>/dev/null' EXIT; \
	seed=$${SEED:-$$RANDOM$$RANDOM}; \
	echo "busy loops (PIDs$$busy) on $$(nproc) cores; order: SEED=$$seed"; \
	$(BIN)/pytest -q -p randomly --randomly-seed=$$seed $(TESTS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: system-deps $(STAMP)
	$(BIN)/python benchmarks/prom_loader.py
	$(BIN)/python benchmarks/prom_listing.py
	$(BIN)/python benchmarks/k8s_loader.py
	$(BIN)/python benchmarks/pg_loader.py

# notebooks/reference/NAME.md, made from each notebook's parameters cell (a test checks them).
docs: $(STAMP)
	$(BIN)/python -m dwcp_diag.report.reference notebooks/reference

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache reports/*/ reports/*.html

# The demo bundle (dwcp_diag/demo/bundle) is recorded from the simulator through real servers.
demo-record: system-deps $(STAMP)
	$(BIN)/python -m tests.record_demo

# JupyterLab from the project venv: kernel "Python (dwcp-diag)", 127.0.0.1, no browser.
lab: $(STAMP)
	$(BIN)/dwcp-diag lab
