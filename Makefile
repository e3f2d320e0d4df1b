# Set-up and test entry points. The README's quick start uses `make demo` and `make test`.
#
# torch is installed first, pinned by TORCH_SPEC, because a bare `torch` requirement on a machine
# without torch pulls the newest CUDA build (gigabytes). Elsewhere, override it, e.g.
#   make demo TORCH_SPEC="torch>=2.1"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin

.PHONY: install install-test demo test serve browser-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[app]"

install-test: install
	$(BIN)/python -m pip install --quiet -e ".[app,test]"

demo: install
	$(BIN)/mattepaint demo --overwrite

test: install-test
	$(BIN)/python -m pytest -q

serve: install
	$(BIN)/mattepaint serve

# Debian's Chromium for the browser test (tests/server/test_browser.py skips without it).
# Needs root and apt-get; Playwright never downloads a browser of its own.
browser-deps:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: /usr/bin/chromium"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "chromium not installed (needs root + apt-get): the browser test will be skipped"; fi

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
