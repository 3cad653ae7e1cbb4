#!/usr/bin/env bash
# Create (or bring up to date) a virtualenv holding the plugin, editable, with the extras asked for
# (default: demo and test), at one Open edX release's versions:
#   scripts/make_venv.sh VENV CONSTRAINTS [EXTRAS]     e.g. EXTRAS=demo for `make demo`
# The interpreter is the platform's Python (scripts/find_python.sh); a virtualenv made with another
# Python is made anew.
set -euo pipefail
venv="$1"; constraints="$2"; extras="${3:-demo,test}"
python=$(scripts/find_python.sh)
want=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ -x "$venv/bin/python" ]; then
  have=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo none)
  if [ "$have" != "$want" ]; then echo "$venv has Python $have, not $want: making it anew"; rm -rf "$venv"; fi
fi
if [ ! -x "$venv/bin/python" ]; then echo "Creating $venv with $python"; "$python" -m venv "$venv"; fi
"$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip
"$venv/bin/pip" install -q --disable-pip-version-check -c "$constraints" -e ".[$extras]"
"$venv/bin/pip" check
