#!/usr/bin/env bash
# Refresh constraints.txt, the versions CI and scripts/install.sh install: resolve the newest versions in a
# throw-away environment, run the tests there, and only then write the file. Commit the result with the test run.
#   bash scripts/refresh_constraints.sh
set -euo pipefail
cd "$(dirname "$0")/.."
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
python3 -m venv "$fresh/venv"
"$fresh/venv/bin/python" -m pip install -q --upgrade pip
"$fresh/venv/bin/python" -m pip install -q "torch==${PRIME_TORCH_VERSION:-2.13.0}"
"$fresh/venv/bin/python" -m pip install -q -e ".[dev]"
"$fresh/venv/bin/python" -m pytest -q -x
{
  echo "# Tested versions of every dependency (torch is pinned by scripts/install.sh, not here)."
  echo "# Written by scripts/refresh_constraints.sh on $(date -u +%Y-%m-%d) after the test suite passed with them."
  "$fresh/venv/bin/python" -m pip freeze --exclude-editable | grep -v -i '^torch=='
} > constraints.txt
echo "constraints.txt refreshed ($(grep -vc '^#' constraints.txt) pins)"
