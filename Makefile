# Set-up and test entry points. The README's quick start uses `make demo` and `make test`.
#
# torch is installed first, pinned by TORCH_SPEC, because a bare `torch` requirement on a machine
# without torch pulls the newest CUDA build (gigabytes). Elsewhere, override it, e.g.
#   make demo TORCH_SPEC="torch>=2.1"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: install install-test demo test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e .

install-test: install
	$(BIN)/python -m pip install --quiet -e ".[test]"

demo: install
	$(BIN)/mattepaint demo --overwrite

test: install-test
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
