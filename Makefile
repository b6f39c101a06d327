# Two commands for a newcomer: `make demo` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "edge-hub needs Python 3.11 or newer as '$(PYTHON)'; on Debian/Raspberry Pi OS: apt-get install python3"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { \
	  echo "Cannot create a virtual environment; on Debian/Raspberry Pi OS: apt-get install python3-venv"; exit 1; }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/edge-hub demo

test: $(STAMP)
	$(BIN)/python -m pytest
	$(BIN)/python -m mypy

bench: $(STAMP)
	$(BIN)/python tests/bench/ingest.py
	$(BIN)/python tests/bench/sos_latency.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis *.egg-info
