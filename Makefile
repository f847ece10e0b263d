# Two commands on a fresh machine: `make demo` and `make test`.
# Both create .venv when missing and install with the pinned constraints
# (torch==2.13.0 is the CPU build on this machine's disk; see constraints.txt).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
# A second venv with the SageMaker Python SDK v3: `make test` runs the SDK-facing
# tests (marker `sdk`) there again. Same pins as .venv except the SDK's own
# (constraints-sdk3.txt says why two files).
VENV3   := .venv-sdk3
BIN3    := $(VENV3)/bin
STAMP3  := $(VENV3)/.installed

.PHONY: install install-sdk3 test test-sdk3 demo lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Reinstall only when the project's dependency files change.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(BIN3)/python:
	$(PY) -m venv $(VENV3)
	$(BIN3)/pip install -q --upgrade pip

# constraints.txt minus its SDK v2 pins (sagemaker, sagemaker-core), plus the v3 layer.
$(STAMP3): $(BIN3)/python pyproject.toml constraints.txt constraints-sdk3.txt
	grep -v -E '^sagemaker(-core)?==' constraints.txt > $(VENV3)/constraints-shared.txt
	$(BIN3)/pip install -q -c $(VENV3)/constraints-shared.txt -c constraints-sdk3.txt -e '.[sdk3]'
	touch $(STAMP3)

install: $(STAMP)

install-sdk3: $(STAMP3)

# The whole suite under SDK v2, then the SDK-facing tests again under SDK v3.
# The two venvs install side by side (-j2: one pip process per core).
test:
	$(MAKE) -j2 $(STAMP) $(STAMP3)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n 3 --dist loadscope -q --durations=30
	$(BIN3)/python -m pytest -n 2 --dist loadscope -q -m sdk

test-sdk3: $(STAMP3)
	$(BIN3)/python -m pytest -n 2 --dist loadscope -q -m sdk

demo: $(STAMP)
	$(BIN)/smsim demo --workspace .smsim/demo

lint: $(STAMP)
	$(BIN)/ruff check .

# Ratio benchmarks (figures in README.md); run by hand on a quiet machine.
bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/train_throughput.py
	$(BIN)/python benchmarks/validate_speed.py
	$(BIN)/python benchmarks/endpoint.py
	$(BIN)/python benchmarks/pipeline_engine.py
	$(BIN)/python benchmarks/inference.py
	$(BIN)/python benchmarks/tuning.py
	$(BIN)/python benchmarks/bsm_models_auroc.py
	$(BIN)/python benchmarks/load.py
	$(BIN)/python benchmarks/distributed.py
	$(BIN)/python benchmarks/ray_backend.py

clean:
	rm -rf .smsim
