# make run | make test | make train   (each installs what it needs into .venv first)
VENV ?= .venv
PYTHON := $(VENV)/bin/python
export MNIST_DATA_DIR ?= $(if $(wildcard ../shared/data/MNIST/raw),../shared/data,)

.PHONY: run test train evaluate install install-dev browser

$(PYTHON):
	python3 -m venv $(VENV)

install: $(PYTHON)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements.txt

install-dev: install
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

# Debian's Chromium for the browser test; Playwright must never download a browser of its own.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
		else echo "Chromium missing and not root: the browser test will not run"; fi; \
	fi

run: install
	$(PYTHON) app.py

test: install-dev browser
	$(PYTHON) -m ruff check .
	$(PYTHON) -m pytest

train: install
	$(PYTHON) train.py

evaluate: install
	$(PYTHON) -m mnist_demo evaluate
