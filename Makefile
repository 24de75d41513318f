# The dev loop: lint, format check, strict types (tests included) and the unit and lexer
# tests, in about a minute, without root, a tracer or a browser.  `./setup.sh test` (as
# root) runs everything, the real tracers and Chromium included.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: check format
check: $(VENV)/.dev-tools
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit tests/lexer

format: $(VENV)/.dev-tools
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The tools, installed once into .venv (again when pyproject.toml changes).
$(VENV)/.dev-tools: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check '.[test]'
	touch $@
