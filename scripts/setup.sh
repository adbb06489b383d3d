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

# pip, quietly; its output is shown (minus this machine's find-links noise) when it fails.
pipq() {
  local out
  if ! out=$(python -m pip "$@" 2>&1); then
    printf '%s\n' "$out" | grep -v "^WARNING: Location" >&2 || true
    echo "setup: pip $* failed" >&2
    return 1
  fi
}

pipq install -q --upgrade pip
pipq install -q -c constraints.txt "torch==2.13.0"
pipq install -q -c constraints.txt -e ".[all,dev,ray]"
python -c "import recforge, torch; print('recforge', recforge.__version__, '| torch', torch.__version__)"
