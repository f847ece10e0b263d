# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv when missing and install with the pinned constraints
# (torch==2.13.0 is the CPU build on this machine's disk; see constraints.txt).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: install test demo lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstall only when the project's dependency files change.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 2 --dist loadscope -q

demo: $(STAMP)
	$(BIN)/smsim demo --workspace .smsim/demo

lint: $(STAMP)
	$(BIN)/ruff check .

# Ratio benchmarks (figures in README.md); run by hand on a quiet machine.
bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/validate_speed.py

clean:
	rm -rf .smsim
