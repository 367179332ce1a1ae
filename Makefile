# What a newcomer needs: `make demo`, `make check` (the fast tier: lit and the unit
# tests not marked slow, under 2 minutes) and `make test` (everything; what CI runs).
# All of them bootstrap .venv. Each suite prints its own header and progress.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tidal-installed
# pytest workers (pytest-xdist); JOBS=0 runs pytest in one process.
JOBS ?= 2
PYTEST := $(BIN)/pytest -n $(JOBS)

.PHONY: demo check test lit unit unit-fast e2e pytest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# Bytecode for the package's modules now, as pip writes it when it installs a
	# package (an editable install leaves it to the first import, which writes
	# nothing where PYTHONDONTWRITEBYTECODE is set): every tool starts ~0.4 s sooner.
	$(BIN)/python -m compileall -q dialects passes targets sim tools
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

# The fast tier, for every change.
check: lit unit-fast

# Everything: lit, every unit test, then the end-to-end tests (every lowering and the
# zoo against onnxruntime, random graphs, the README's and docs' commands).
test: lit unit e2e

lit: $(STAMP)
	@echo "== lit: FileCheck tests (test/filecheck) =="
	$(BIN)/lit -sv test/filecheck

unit-fast: $(STAMP)
	@echo "== pytest: unit tests not marked slow (test/unit) =="
	$(PYTEST) test/unit -m "not slow"

unit: $(STAMP)
	@echo "== pytest: unit tests (test/unit) =="
	$(PYTEST) test/unit

e2e: $(STAMP)
	@echo "== pytest: end-to-end tests (test/e2e) =="
	$(PYTEST) test/e2e

pytest: unit e2e

clean:
	rm -rf $(VENV) build *.egg-info
