#!/usr/bin/env bash
# Set up prime on a fresh machine: system packages for the sandbox, a virtual environment in .venv with the
# CPU build of torch, and prime itself (editable) with its development tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
  else
    echo "install.sh: bubblewrap (bwrap) is missing; install it for the code sandbox's namespace isolation" >&2
  fi
fi

# Headless Chromium renders report.html in the report tests (they skip without it).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 ||
    echo "install.sh: could not install chromium; the report's browser test will be skipped" >&2
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch first, pinned: any other spec pulls a CUDA build of several GB on this project's machines.
.venv/bin/python -m pip install -q "torch==${PRIME_TORCH_VERSION:-2.13.0}"
# Every other dependency at the versions the tests passed with (constraints.txt; scripts/refresh_constraints.sh
# moves them forward), so a fresh machine installs what CI tested rather than whatever was released since.
.venv/bin/python -m pip install -q -c constraints.txt -e ".[dev]"
echo "prime installed in .venv ($(.venv/bin/prime-eval --version))"
