#!/bin/sh
# gst-sora: the sorasrc stress test under valgrind, after a native warm-up
# run of the same program that compiles (and caches) every kernel it needs.
#
# usage: run-valgrind.sh VALGRIND PROGRAM [VALGRIND-OPTION...]
#
# Compiling one kernel under valgrind takes minutes, so under valgrind all
# of them must come from PoCL's and gst-sora's caches.  But valgrind hides
# AVX-512 from the program: PoCL then loads its avx2 kernel library, names
# the device pthread-haswell and prefers float vectors of 8, not 16, and
# gst-sora sizes its tiles by that, so on an AVX-512 host nothing compiled
# natively is found under valgrind.  On a CPU with AVX2, both runs here are
# pinned to the device valgrind shows: PoCL's avx2 library
# (POCL_KERNELLIB_NAME) and vectors of 8 (SORA_VECTOR_WIDTH, docs/devices.md);
# an AVX2 host without AVX-512 sees that device anyway.
set -eu

valgrind=$1
program=$2
shift 2

if grep -qw avx2 /proc/cpuinfo 2>/dev/null; then
  export POCL_KERNELLIB_NAME=avx2 SORA_VECTOR_WIDTH=8
fi

echo "warm-up: one clip per test, natively"
if ! SORA_STRESS_CYCLES=0 "$program"; then
  echo "FAIL: the native warm-up run failed"
  exit 1
fi
echo "under valgrind: ${SORA_STRESS_CYCLES:-200} cycles per test"
exec "$valgrind" "$@" "$program"
