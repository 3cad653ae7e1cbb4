# Viatique XBlock: developer commands. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The suite runs on the current Open edX line's versions (requirements/current.txt) in $(VENV), and its
# unit, integration and packaging tests once more on Teak's (requirements/teak.txt) in $(TEAK_VENV);
# both on the platform's Python (3.11), found by scripts/find_python.sh.
VENV ?= .venv
TEAK_VENV ?= .venv-teak
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
HOST ?= 127.0.0.1
MANAGE := $(PY) demo/manage.py
# the demo's packages (setup.py's demo extra), then the test tools on top (its test extra)
STAMP := $(VENV)/.installed-demo
TEST_STAMP := $(VENV)/.installed-test
TEAK_STAMP := $(TEAK_VENV)/.installed
# Debian packages. The demo's: the MariaDB client headers to build mysqlclient, gettext (msgfmt) for
# the catalogues. The tests' on top: Chromium for the browser tests, LibreOffice Calc (no GUI) to
# open the grades CSV as a spreadsheet does in the export tests, npm (unless Node.js brings it) to
# fetch axe-core for the accessibility checks of the browser tests.
DEB_PACKAGES := libmariadb-dev pkg-config gettext
TEST_DEB_PACKAGES := $(DEB_PACKAGES) chromium libreoffice-calc-nogui $(if $(shell command -v npm),,npm)
# axe-core, from the npm registry, injected into the pages by the browser tests (tests/browser/axe.py)
AXE_VERSION := 4.14.1
AXE_DIR := $(VENV)/node
AXE := $(AXE_DIR)/node_modules/axe-core/axe.min.js

.PHONY: help venv test-venv system-packages test-system-packages install-deb demo serve test test-current test-teak translations extract-translations clean

help:
	@echo "make demo    - install, migrate, load sample data and serve the workbench on $(HOST):$(PORT)"
	@echo "make serve   - production-like stack: gunicorn (3 workers) + Celery worker + Redis (+ DATABASE_URL)"
	@echo "make test    - install everything needed and run the whole test suite: on the current Open edX"
	@echo "               line's versions (make test-current), then unit, integration and packaging tests on Teak's (make test-teak)"
	@echo "make extract-translations - update the .po catalogues from the code"
	@echo "make translations - compile the .po catalogues into .mo"

system-packages:
	@$(MAKE) --no-print-directory install-deb PACKAGES="$(DEB_PACKAGES)"

test-system-packages:
	@$(MAKE) --no-print-directory install-deb PACKAGES="$(TEST_DEB_PACKAGES)"

install-deb:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): setup.py requirements/constraints.txt requirements/current.txt scripts/make_venv.sh
	@$(MAKE) --no-print-directory system-packages
	scripts/make_venv.sh $(VENV) requirements/current.txt demo
	@touch $(STAMP)

$(TEST_STAMP): setup.py requirements/constraints.txt requirements/current.txt scripts/make_venv.sh
	@$(MAKE) --no-print-directory test-system-packages
	scripts/make_venv.sh $(VENV) requirements/current.txt demo,test
	@touch $(STAMP) $(TEST_STAMP)

$(AXE):
	@$(MAKE) --no-print-directory test-system-packages
	npm install --silent --no-audit --no-fund --no-save --prefix $(AXE_DIR) axe-core@$(AXE_VERSION)

$(TEAK_STAMP): setup.py requirements/constraints.txt requirements/teak.txt scripts/make_venv.sh
	@$(MAKE) --no-print-directory test-system-packages
	scripts/make_venv.sh $(TEAK_VENV) requirements/teak.txt demo,test
	@touch $(TEAK_STAMP)

# the demo's virtualenv (no test tools); `make test-venv` adds them and axe-core
venv: $(STAMP)

test-venv: $(TEST_STAMP) $(AXE)

var:
	@mkdir -p var

demo: system-packages venv var
	$(MANAGE) migrate --noinput -v 0
	$(MANAGE) viatique_demo_seed
	@echo ""
	@echo "Viatique demo on http://$(HOST):$(PORT)/"
	@echo "  instructor: http://$(HOST):$(PORT)/scenario/viatique.0/?student=instructor_1"
	@echo "  grader:     http://$(HOST):$(PORT)/scenario/viatique.0/?student=staff_1"
	@echo "  learner:    http://$(HOST):$(PORT)/scenario/viatique.0/?student=learner_1"
	@echo "  Studio:     http://$(HOST):$(PORT)/scenario/viatique.0/studio_view/?student=instructor_1"
	@echo "  empty exam (import an archive): http://$(HOST):$(PORT)/scenario/viatique.1/?student=instructor_1"
	@echo ""
	$(MANAGE) runserver $(HOST):$(PORT)

serve: venv var
	PY=$(PY) HOST=$(HOST) PORT=$(PORT) scripts/serve.sh

test: test-current test-teak

test-current: test-system-packages test-venv
	VIATIQUE_AXE=$(abspath $(AXE)) $(VENV)/bin/pytest

test-teak: test-system-packages $(TEAK_STAMP)
	$(TEAK_VENV)/bin/pytest -m "not browser"

translations: venv
	PY=$(PY) scripts/translations.sh compile

extract-translations: venv
	PY=$(PY) scripts/translations.sh extract

clean:
	rm -rf $(VENV) $(TEAK_VENV) var build dist *.egg-info test-artifacts
