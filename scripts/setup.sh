#!/usr/bin/env bash
# Create .venv in the repository root and install recforge with every extra used by the
# tests. Installs the pinned CPU build of torch first (see constraints.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
export PIP_DISABLE_PIP_VERSION_CHECK=1
python -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
python -m pip install -q -c constraints.txt "torch==2.13.0" 2>&1 | grep -v "^WARNING: Location" || true
python -m pip install -q -c constraints.txt -e ".[all,dev,ray]" 2>&1 | grep -v "^WARNING: Location" || true
python -c "import recforge, torch; print('recforge', recforge.__version__, '| torch', torch.__version__)"
