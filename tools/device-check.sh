#!/bin/sh
# One prepared check for a GPU machine lent for minutes (issue 19): sets up
# OpenCL for the NVIDIA driver if needed, then runs, each under its own
# timeout so that one failure leaves the others' figures:
#   devices   sora-tool devices
#   tests     the engine's parity tests (the GPU forms) on SORA_DEVICE
#   bench     sora-tool bench gemm attention --json (the matrix-unit rows,
#             "mma", where the device has them)
#   mma       test-gemm's matrix-unit paths (/gemm/mma, /gemm/precision) with
#             the device's own instructions
#   bench-f16 sora-tool bench gemm with SORA_PRECISION=f16 (the "mma" rows
#             in f16 operands)
#   attention-mma  test-attention's matrix-unit form (/attention/mma)
#   dit-bf16-parity test-dit's /dit-bf16: whole models on the matrix units
#             against PyTorch's bf16 (the CPU autocast fixtures) and f32
#   attention-bf16 sora-tool bench attention with SORA_PRECISION=bf16 (N =
#             32760, 12 heads of 128 on a GPU: against torch.json's SDPA)
#   dit-bf16  sora-tool bench model with SORA_PRECISION=bf16 against
#             PyTorch bf16 on CUDA (tools/bench_reference.py): its "1.3B
#             480p" row is one CFG step of the 30-block 1.3B-shaped DiT at
#             480p, 81 frames, with the rel L2 of the output between them
#   precision-auto sora-tool bench attention with SORA_PRECISION=auto: the
#             per-device choice of the matrix units (off when unset),
#             measured on first use; then devices-auto lists what it stored
#   causal    sora-tool bench causal with SORA_PRECISION=bf16 (issue 21):
#             one chunk of the 30-block 1.3B-shaped causal DiT at 832x480
#             (LongLive's chunk 3, window 12, sink 3) attending a full window,
#             a step and the context pass, with seconds a chunk and fps
#   torch     tools/device_check_torch.py (f32 and bf16 GEMM and SDPA on
#             CUDA)
#   torch-dit tools/device_check_torch.py --dit (a bf16 CFG step of the
#             30-block 1.3B-shaped DiT at 480p, 81 frames)
# Everything goes under $OUT: NAME.log per stage, bench.json,
# bench-f16.json, attention-bf16.json, attention-auto.json, dit-bf16.json,
# causal.json, torch.json,
# torch-dit.json, and stages.json ({"stage", "rc", "seconds"} per stage; rc 124 = timeout).
#
# usage: OUT=DIR tools/device-check.sh [--quick] [BUILD-DIR]
#   SORA_DEVICE   the device to test (default gpu; cpu to rehearse on PoCL,
#                 with SORA_KERNELS=gpu for the GPU forms)
#   TESTS         the engine tests to run (default: gemm attention conv norm
#                 elementwise rope layout)
#   CARRY         a folder with lib/ (ocl-icd's libOpenCL.so.1, libclblast,
#                 what the build links) and wheels/ (pip wheels), used when
#                 the machine lacks them
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u

quick=
if [ "${1:-}" = "--quick" ]; then
  quick=--quick
  shift
fi
build=${1:-build}
: "${OUT:?set OUT to the folder for the results}"
export SORA_DEVICE="${SORA_DEVICE:-gpu}"
mkdir -p "$OUT"
stages=$OUT/stages.jsonl
: >"$stages"

note () {
  echo "device-check: $*" | tee -a "$OUT/setup.log"
}

# stage NAME SECONDS COMMAND...: runs it with its log, records rc and time.
stage () {
  name=$1
  limit=$2
  shift 2
  t0=$(date +%s)
  timeout -k 10 "$limit" "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  t1=$(date +%s)
  printf '{"stage": "%s", "rc": %d, "seconds": %d}\n' "$name" "$rc" \
    "$((t1 - t0))" >>"$stages"
  note "$name: rc $rc in $((t1 - t0)) s"
}

# OpenCL for the NVIDIA driver: the loader from CARRY when the system has
# none, and a generated .icd naming the driver's library wherever it is.
setup_opencl () {
  if [ -n "${CARRY:-}" ] && [ -d "$CARRY/lib" ]; then
    export LD_LIBRARY_PATH="$CARRY/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    note "using carried libraries from $CARRY/lib"
  fi
  if [ -n "${OCL_ICD_VENDORS:-}" ] || [ "$SORA_DEVICE" = cpu ]; then
    return
  fi
  if ls /etc/OpenCL/vendors/*nvidia*.icd >/dev/null 2>&1; then
    note "driver ICD: $(ls /etc/OpenCL/vendors/*nvidia*.icd)"
    return
  fi
  lib=$( (ldconfig -p 2>/dev/null | awk '/libnvidia-opencl\.so\.1/ {print $NF}';
    find /usr/lib /usr/lib64 /usr/local/nvidia /usr/local/cuda* /opt \
      -name 'libnvidia-opencl.so.1' 2>/dev/null) | head -n 1)
  if [ -z "$lib" ]; then
    note "no libnvidia-opencl.so.1 found; OpenCL sees only what is installed"
    return
  fi
  mkdir -p "$OUT/vendors"
  echo "$lib" >"$OUT/vendors/nvidia.icd"
  export OCL_ICD_VENDORS="$OUT/vendors"
  note "generated $OUT/vendors/nvidia.icd -> $lib"
}

setup_opencl
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  uname -a
} >"$OUT/machine.log" 2>&1

tool=$build/tools/sora-tool/sora-tool
stage devices 60 "$tool" devices
# The GPU forms and their CPU-side references: the parity tests that run in
# minutes (the model tests need the trained weights).
for t in ${TESTS:-gemm attention conv norm elementwise rope layout}; do
  stage "test-$t" 240 "$build/tests/test-$t" --tap
done
stage bench 300 "$tool" bench gemm attention $quick --json "$OUT/bench.json"
# The matrix units (issue 20), off unless SORA_PRECISION names them:
# correctness on the device's instructions first (the tests set the
# variable themselves), then f16 operands' rate (bench's "mma" rows are
# bf16, their backend named).
stage mma 240 "$build/tests/test-gemm" --tap -p /gemm/mma -p /gemm/precision
stage bench-f16 120 env SORA_PRECISION=f16 "$tool" bench gemm $quick \
  --json "$OUT/bench-f16.json"
# Both attention products on the matrix units, then their rate; where the
# device has none, SORA_PRECISION=bf16 fails by name (the rehearsal on PoCL
# sets SORA_MMA=emulate).
stage attention-mma 300 "$build/tests/test-attention" --tap -p /attention/mma
# The tests set SORA_PRECISION=bf16 themselves.
stage dit-bf16-parity 300 env SORA_FIXTURES="$PWD/tests/fixtures" \
  "$build/tests/test-dit" --tap -p /dit-bf16
stage attention-bf16 240 env SORA_PRECISION=bf16 "$tool" bench attention \
  $quick --json "$OUT/attention-bf16.json"
stage dit-bf16 600 env SORA_PRECISION=bf16 SORA_BENCH_TORCH_DEVICE=cuda \
  SORA_BENCH_TORCH_DTYPE=bfloat16 "$tool" bench model $quick \
  --json "$OUT/dit-bf16.json"
# The per-device choice: the first-use check and timing of both ops
# (gemm-precision, attention-precision), then what was stored.
stage precision-auto 300 env SORA_PRECISION=auto "$tool" bench attention \
  $quick --json "$OUT/attention-auto.json"
stage devices-auto 60 "$tool" devices
stage causal 300 env SORA_PRECISION=bf16 "$tool" bench causal $quick \
  --json "$OUT/causal.json"
stage torch 300 sh -c "python3 tools/device_check_torch.py $quick >'$OUT/torch.json'"
stage torch-dit 300 sh -c \
  "python3 tools/device_check_torch.py --dit $quick >'$OUT/torch-dit.json'"

# One JSON array of the stages.
{
  echo "["
  sed '$!s/$/,/' "$stages"
  echo "]"
} >"$OUT/stages.json"
rm -f "$stages"
note "done; results in $OUT"
