# Viatique XBlock: developer commands. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
HOST ?= 127.0.0.1
MANAGE := $(PY) demo/manage.py
STAMP := $(VENV)/.installed
# Debian packages: chromium for the browser tests; the MariaDB client headers
# to build mysqlclient; gettext for msgfmt checks; LibreOffice Calc (no GUI) to open
# the grades CSV as a spreadsheet does in the export tests.
DEB_PACKAGES := chromium libmariadb-dev pkg-config gettext libreoffice-calc-nogui

.PHONY: help venv system-packages demo serve test test-fast translations extract-translations clean

help:
	@echo "make demo    - install, migrate, load sample data and serve the workbench on $(HOST):$(PORT)"
	@echo "make serve   - production-like stack: gunicorn (3 workers) + Celery worker + Redis (+ DATABASE_URL)"
	@echo "make test    - install everything needed and run the whole test suite"
	@echo "make extract-translations - update the .po catalogues from the code"
	@echo "make translations - compile the .po catalogues into .mo"

system-packages:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

$(STAMP): setup.py requirements/constraints.txt
	@$(MAKE) --no-print-directory system-packages
	@test -x $(PY) || { PYBIN=$$(scripts/find_python.sh) && echo "Creating $(VENV) with $$PYBIN" && $$PYBIN -m venv $(VENV); }
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c requirements/constraints.txt -e '.[demo,test]'
	@touch $(STAMP)

venv: $(STAMP)

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
	@echo ""
	$(MANAGE) runserver $(HOST):$(PORT)

serve: venv var
	PY=$(PY) HOST=$(HOST) PORT=$(PORT) scripts/serve.sh

test: system-packages venv
	$(VENV)/bin/pytest

translations: venv
	PY=$(PY) scripts/translations.sh compile

extract-translations: venv
	PY=$(PY) scripts/translations.sh extract

clean:
	rm -rf $(VENV) var build dist *.egg-info test-artifacts
