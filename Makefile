# Two entry points for a fresh machine; each sets itself up in .venv.
#   make demo   search, retrain and segment the bundled customer table
#   make test   the default test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The CPU wheel on disk; an unpinned torch would pull a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test test-slow bench clean

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet $(TORCH_PIN)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(PY) -m sknas demo

test: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider

test-slow: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider -m slow

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_digits.py
	$(PY) benchmarks/bench_trainer.py

clean:
	rm -rf $(VENV) build *.egg-info
