#!/bin/sh
# Runs the whole benchmark of docs/performance.md on a Debian 12 machine
# (as root): sets up and builds as tools/demo.sh does, makes the PyTorch
# side's venv from tools/requirements-fixtures.txt in tools/.venv-bench
# (several GB from PyPI, once) unless SORA_BENCH_PYTHON names an interpreter
# with torch, diffusers and transformers, then times every group and keeps
# the figures in bench.json.  Takes about 10 minutes on 2 cores after the
# downloads.
set -eu
cd "$(dirname "$0")/.."

sh tools/setup-debian.sh python3-venv
[ -d build ] || meson setup build
ninja -C build

if [ -z "${SORA_BENCH_PYTHON:-}" ]; then
  venv=tools/.venv-bench
  [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r tools/requirements-fixtures.txt
  SORA_BENCH_PYTHON="$PWD/$venv/bin/python"
fi
export SORA_BENCH_PYTHON
./build/tools/sora-tool/sora-tool bench gemm attention model --json bench.json
echo "bench: figures in $PWD/bench.json"
