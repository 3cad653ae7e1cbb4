#!/bin/sh
# Extract (make messages) or compile (make translations) the catalogues in
# viatique_xblock/translations with Django's own tools (they need GNU gettext).
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"  # absolute: the commands run from viatique_xblock/
export PYTHONPATH="$PWD:$PWD/demo"
# The commands run from viatique_xblock/, whose platform/ package would shadow Python's own
# `platform` module if the working directory went first on sys.path (Python 3.11+: it does not).
export PYTHONSAFEPATH=1
export DJANGO_SETTINGS_MODULE=scripts.i18n_settings
case "${1:-compile}" in
  extract)
    cd viatique_xblock
    for lang in fr; do
      "$PY" -m django viatique_makemessages -l "$lang" -d django -e py,html --no-location --no-obsolete
      "$PY" -m django viatique_makemessages -l "$lang" -d djangojs -e js --no-location --no-obsolete
    done ;;
  compile)
    cd viatique_xblock && "$PY" -m django compilemessages ;;
  *) echo "usage: $0 extract|compile" >&2; exit 2 ;;
esac
