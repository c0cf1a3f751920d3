# Every target works from nothing: it creates .venv and installs the project first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install test lint demo run soak bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Four workers: most tests wait on loopback servers and subprocesses, not on the CPU.
test: lint
	$(BIN)/pytest -q -n 4

# The long suites (1,000 orders with random faults, SIGKILLs with 200 in flight…).
soak: $(STAMP)
	$(BIN)/pytest -q -m soak --soak

# Benchmarks print their figures and the ratio to a floor measured in the same run;
# each writes bench/out/<name>.md. bench/RESULTS.md holds the figures of a reference run.
bench: $(STAMP)
	$(BIN)/python -m bench.ack_latency
	$(BIN)/python -m bench.bulk_placement
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.growth
	$(BIN)/python -m bench.slack_pace
	$(BIN)/python -m bench.slack_burst

demo: $(STAMP)
	$(BIN)/rewards-bot demo

run: $(STAMP)
	$(BIN)/rewards-bot run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
