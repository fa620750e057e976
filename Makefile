# Two commands on a fresh machine:
#   make demo   set everything up (.venv, CPU torch, minisbert and its test extras, the weights), run the demo
#   make test   the same set-up, then every test (notebooks included); this is what CI runs
# and for a student: make lab, JupyterLab on the notebooks (notebooks/README.md is the course map)
# and while working: make test-fast, the tests marked fast (tiny models, tokenizer, ...), about a minute

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
MODEL  := all-MiniLM-L6-v2
# torch first and pinned: this version's CPU build lies on these machines' disk; an unpinned torch
# would pull a CUDA build of several GB.
TORCH  := torch==2.13.0

# The STS Benchmark and SICK data are read from here when the caller has not set MINISBERT_DATA.
ifneq ($(wildcard ../shared/data),)
export MINISBERT_DATA ?= $(abspath ../shared/data)
endif

.PHONY: setup browser demo test test-fast bench weights notebooks notebooks-sync lab clean

setup: $(VENV)/.installed weights browser

# Headless Chromium and its WebDriver from Debian, for tests/test_browser.py (the HTML views). Installed
# only where missing and only as root; elsewhere this says what to run.
browser:
	@command -v chromium > /dev/null && command -v chromedriver > /dev/null || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get > /dev/null; then \
	      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) > /dev/null; \
	    else echo "tests/test_browser.py needs chromium and chromedriver: sudo apt-get install chromium chromium-driver" >&2; exit 1; fi; }

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[test,bench,notebooks]'
	$(BIN)/python -m ipykernel install --prefix $(VENV) --name python3 > /dev/null
	touch $@

weights: $(VENV)/.installed
	$(BIN)/python -m minisbert fetch $(MODEL) > /dev/null

demo: setup
	$(BIN)/python -m minisbert demo

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "fast and not slow"

bench: setup
	$(BIN)/python -m benchmarks.bench

# The notebooks: NN_name.py (jupytext percent format) paired with NN_name.ipynb. notebooks-sync copies the
# side edited last to the other; notebooks also runs them and saves the .ipynb with outputs (and docs/nb_*.png).
notebooks: setup
	$(BIN)/python notebooks/execute.py

notebooks-sync: $(VENV)/.installed
	$(BIN)/jupytext --sync notebooks/[0-9][0-9]_*.py

# JupyterLab on the notebooks, with the weights fetched (the data comes from ../shared/data or MINISBERT_DATA,
# else `python -m minisbert fetch stsb|sick|snli`).
lab: $(VENV)/.installed weights
	cd notebooks && ../$(BIN)/jupyter lab

clean:
	rm -rf $(VENV) weights/$(MODEL) .pytest_cache
