# kvmspte developer targets.  `make test` is the README's test command; .ci/run runs it too.
PY ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install run test lint bench docs docs-check golden clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'

run: install
	$(BIN)/kvmspte compare

test:
	$(PY) tests/run_installed.py

lint: install
	$(BIN)/python -m compileall -q kvmspte arches tests bench
	$(BIN)/python -m pyflakes kvmspte arches tests bench 2>/dev/null || \
	  ($(BIN)/pip install -q pyflakes && $(BIN)/python -m pyflakes kvmspte arches tests bench)

bench: install
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/matrix.py
	$(BIN)/python bench/explore.py

docs: install
	$(BIN)/kvmspte docs --out docs

docs-check: install
	$(BIN)/kvmspte docs --out docs --check

golden: install
	$(BIN)/python tests/golden/regen.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
