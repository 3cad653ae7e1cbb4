#!/bin/sh
# Print the path of a Python to build a virtualenv with: the version the Open edX releases run
# (3.11 by default; PYTHON_VERSION=3.12 picks another), found on PATH or through pyenv.
# PYTHON=/path/to/python overrides.
set -eu
if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; exit 0; fi
want="${PYTHON_VERSION:-3.11}"
major="${want%%.*}"; minor="${want#*.}"
# A pyenv shim answers `command -v` even when it cannot run, so try each candidate.
works() { "$1" -c "import sys; assert sys.version_info[:2] == ($major, $minor)" >/dev/null 2>&1; }
if works "python$want"; then command -v "python$want"; exit 0; fi
if command -v pyenv >/dev/null 2>&1; then
  version=$(pyenv versions --bare 2>/dev/null | grep -E "^$major\.$minor(\.[0-9]+)?$" | sort -t. -k3 -n | tail -n 1 || true)
  if [ -n "$version" ]; then PYENV_VERSION="$version" pyenv which python; exit 0; fi
fi
if works python3; then command -v python3; exit 0; fi
echo "No Python $want found (on PATH or through pyenv); install one, or set PYTHON=/path/to/python$want" >&2
exit 1
