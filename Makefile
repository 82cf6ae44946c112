# Set-up and everyday commands. Each target creates the virtual environment first when it is missing or
# when pyproject.toml changed, so on a fresh machine `make run` or `make test` is all it takes.
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: run test test-core test-gui bench clean

run: $(STAMP)  ## open the app (built-in shapes dataset, no download needed)
	$(VENV)/bin/layerscope

test: $(STAMP)  ## layering contracts and linter, then every test (Qt offscreen)
	$(VENV)/bin/lint-imports && $(VENV)/bin/ruff check core gui tests benchmarks
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python -m pytest

test-core: $(STAMP)
	$(VENV)/bin/python -m pytest tests/core

test-gui: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python -m pytest tests/gui

bench: $(STAMP)  ## speed against bare PyTorch baselines (prints tables; not tests)
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python benchmarks/training.py
	$(VENV)/bin/python benchmarks/inspect.py
	$(VENV)/bin/python benchmarks/data.py

$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
