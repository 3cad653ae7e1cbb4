#!/bin/sh
# Print the path of the Python to build the project's virtualenv with: 3.12 (the current Open edX),
# found on PATH or through pyenv. PYTHON=/path/to/python overrides. The plugin itself also runs on
# 3.11 (tests/packaging checks it), but the demo host and the suite need 3.12 (xblock-sdk 0.15).
set -eu
if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; exit 0; fi
# A pyenv shim answers `command -v` even when it cannot run, so try each candidate.
works() { "$1" -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; }
if works python3.12; then command -v python3.12; exit 0; fi
if command -v pyenv >/dev/null 2>&1; then
  version=$(pyenv versions --bare 2>/dev/null | grep -E "^3\.12(\.[0-9]+)?$" | sort -t. -k3 -n | tail -n 1 || true)
  if [ -n "$version" ]; then PYENV_VERSION="$version" pyenv which python; exit 0; fi
fi
if works python3; then command -v python3; exit 0; fi
echo "No Python 3.12 found (on PATH or through pyenv); install one, or set PYTHON=/path/to/python3.12" >&2
exit 1
