# Two entry points: `make run` and `make test` (and `make bench` for the benchmarks). Both build .venv from scratch when it is missing
# or when pyproject.toml changed, so they work the same on a fresh clone and in CI.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/copydesk run $(ARGS)

test: $(STAMP)
	$(VENV)/bin/ruff check bot handlers storage tests bench
	$(VENV)/bin/ruff format --check bot handlers storage tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q -n 4 $(ARGS)

bench: $(STAMP)
	$(VENV)/bin/python -m bench $(ARGS)

clean:
	rm -rf $(VENV) *.egg-info
