# Two commands for a newcomer: `make demo` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench campaign clean mosquitto browser

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

# The uplink tests start their own Mosquitto on a free port; install it where missing.
mosquitto:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Mosquitto for the uplink tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto; \
	  else echo "The tests need Mosquitto; run: sudo apt-get install mosquitto"; exit 1; fi; }

# The console's tests drive Debian's chromium through Playwright; install it where missing.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing chromium for the console's browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "The console's tests need chromium; run: sudo apt-get install chromium"; exit 1; fi; }

test: $(STAMP) mosquitto browser
	$(BIN)/python -m pytest
	$(BIN)/python -m mypy

# The long fault campaign (about ten minutes): a table, and exit 1 on any loss or crash.
campaign: $(STAMP) mosquitto
	$(BIN)/python -m tests.campaign.run

bench: $(STAMP)
	$(BIN)/python tests/bench/ingest.py
	$(BIN)/python tests/bench/enqueue.py
	$(BIN)/python tests/bench/sos_latency.py
	$(BIN)/python tests/bench/drain.py
	$(BIN)/python tests/bench/footprint.py
	$(BIN)/python tests/bench/server.py
	$(BIN)/python tests/bench/idle.py
	$(BIN)/python tests/bench/startup.py
	$(BIN)/python tests/bench/welfare_week.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .hypothesis *.egg-info
