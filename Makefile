# The two commands: `make run` (the whole stack) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VAR_DIR ?= var

.PHONY: run test bench bench-peer-env soak fuzz clean clean-data

$(STAMP): requirements.txt requirements-dev.txt setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

# Listens on 127.0.0.1 unless HOST says otherwise; prints the API, docs and console addresses.
run: $(STAMP)
	VAR_DIR=$(VAR_DIR) $(BIN)/maiascore up

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# The optional extra of `make bench`'s peer section: MLflow in .venv-peer, never in .venv.
bench-peer-env:
	$(PYTHON) -m bench.peer env

soak: $(STAMP)
	$(BIN)/python -m bench.soak

fuzz: $(STAMP)
	$(BIN)/python -m pytest tests/test_fuzz.py

# The virtualenv, logs and benchmark results; never the embedded database (see clean-data).
clean:
	rm -rf $(VENV) .venv-peer bench/results/latest.json $(VAR_DIR)/*.log

# Deletes `make run`'s embedded database and its secret key: every group, user, model and report.
clean-data:
	@if [ -f $(VAR_DIR)/stack.json ]; then \
	  echo "$(VAR_DIR)/stack.json exists: stop \`make run\` first (or delete the file if it is not running)"; \
	  exit 1; fi
	@echo "deleting $(VAR_DIR)/ and all in it: the embedded database (every group, user, model and report), the secret key, mail files"
	rm -rf $(VAR_DIR)
