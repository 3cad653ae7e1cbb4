#!/bin/sh
# Print the path of the Python to build the virtualenv with: 3.12 (the current
# Open edX) when the machine has one, found on PATH or through pyenv; else 3.11.
# PYTHON=/path/to/python overrides.
set -eu
if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; exit 0; fi
# A pyenv shim answers `command -v` even when it cannot run, so try each candidate.
works() { "$1" -c 'import sys; assert sys.version_info[:2] in ((3, 11), (3, 12))' >/dev/null 2>&1; }
if works python3.12; then command -v python3.12; exit 0; fi
if command -v pyenv >/dev/null 2>&1; then
  for minor in 3.12 3.11; do
    version=$(pyenv versions --bare 2>/dev/null | grep -E "^${minor}(\.[0-9]+)?$" | sort -t. -k3 -n | tail -n 1 || true)
    if [ -n "$version" ]; then PYENV_VERSION="$version" pyenv which python; exit 0; fi
  done
fi
for candidate in python3.11 python3; do
  if works "$candidate"; then command -v "$candidate"; exit 0; fi
done
echo "No Python 3.11 or 3.12 found; set PYTHON=/path/to/python" >&2
exit 1
