#!/bin/sh
# Compiles every GPU kernel variant the engine builds (sora-tool
# gpu-variants) offline for NVIDIA (clang-15 + libclc to PTX, ptxas for
# sm_80 and sm_90) and AMD (clang-15 for gfx90a and gfx1100, its
# resource-usage remarks), prints registers, spills, stack and local memory
# of each, and fails on a spill, a stack frame, or local memory over 48 KiB.
# The matrix-unit variants go to their own targets only: -DMMA_PTX to
# NVIDIA's, -DMMA_MFMA to gfx90a, -DMMA_WMMA to gfx1100, and Intel's
# -DMMA_XMX to clang-15's SPIR (spir64) with the extension's prototypes
# (tools/intel-matrix-mad.h): that proves they compile and call the
# builtins of their sub-group size by the extension's signatures, not their
# register use or spills (no Intel offline compiler here).
#
# usage: check-gpu-resources.sh SORA-TOOL KERNEL-DIR
#        check-gpu-resources.sh --one KERNEL-DIR PROGRAM "OPTIONS"
#   (the second form reports one variant, say a CPU kernel, and never fails
#   on its figures)
# Exits 77 (skipped, with the reason) where clang-15, libclc-15 or ptxas is
# missing.  SPDX-License-Identifier: LGPL-2.1-or-later
set -u

LOCAL_LIMIT=49152
CLANG=${CLANG:-clang-15}
PTXAS=${PTXAS:-$(command -v ptxas || echo /usr/local/cuda/bin/ptxas)}

skip () {
  echo "SKIP: $*"
  exit 77
}

command -v "$CLANG" >/dev/null 2>&1 || skip "$CLANG not found (apt-get install clang-15)"
LIBCLC=$(dpkg -L libclc-15 2>/dev/null | grep 'nvptx64--nvidiacl.bc$' | head -n 1)
[ -f "${LIBCLC:-/nonexistent}" ] || skip "libclc-15 not installed (apt-get install libclc-15)"
AMDCLC=$(dpkg -L libclc-15 2>/dev/null | grep 'amdgcn--amdhsa.bc$' | head -n 1)
[ -f "${AMDCLC:-/nonexistent}" ] || skip "libclc-15 has no amdgcn--amdhsa.bc"
[ -x "$PTXAS" ] || skip "ptxas not found (CUDA toolkit, /usr/local/cuda/bin)"

intel_protos=$(dirname "$0")/intel-matrix-mad.h
one=false
if [ "${1:-}" = "--one" ]; then
  one=true
  shift
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

# check_nvidia PROGRAM OPTIONS SOURCE: NVPTX, then ptxas for sm_80, sm_90.
check_nvidia () {
  prog=$1
  opts=$2
  src=$3
  # shellcheck disable=SC2086
  if ! "$CLANG" -x cl -cl-std=CL1.2 -target nvptx64-nvidia-nvcl -O2 \
      -Xclang -finclude-default-header -Xclang -mlink-bitcode-file \
      -Xclang "$LIBCLC" $opts -S "$src" -o "$work/k.ptx" 2>"$work/err"; then
    echo "FAIL $prog $opts: clang (nvptx) failed:"; cat "$work/err"
    failed=1
    return
  fi
  for sm in sm_80 sm_90; do
    sed -e "s/^\.target .*/.target $sm/" -e 's/^\.version .*/.version 8.0/' \
      "$work/k.ptx" >"$work/$sm.ptx"
    if ! "$PTXAS" -arch="$sm" -v "$work/$sm.ptx" -o "$work/k.cubin" \
        >"$work/ptxas" 2>&1; then
      echo "FAIL $prog $opts $sm: ptxas failed:"; cat "$work/ptxas"
      failed=1
      continue
    fi
    # "Function properties for K\n N bytes stack frame, N bytes spill
    # stores, N bytes spill loads\nptxas info: Used N registers, N bytes
    # smem, ..."
    awk -v what="$prog $opts $sm" -v limit=$LOCAL_LIMIT -v one=$one '
      /Compiling entry function/ { k = $0; sub(/.*function ./, "", k); sub(/. for.*/, "", k) }
      /bytes stack frame/ { stack = $1 + 0; st = $5 + 0; ld = $9 + 0 }
      /Used [0-9]+ registers/ {
        regs = $0; sub(/.*Used /, "", regs); regs += 0
        smem = 0
        if (match($0, /[0-9]+ bytes smem/)) smem = substr($0, RSTART) + 0
        bad = stack > 0 || st > 0 || ld > 0 || smem > limit
        printf "%s %s: %d registers, %d B stack, %d B spill stores, %d B spill loads, %d B shared%s\n", \
          (bad && one != "true") ? "FAIL" : "ok  ", what " " k, regs, stack, st, ld, smem, \
          bad ? " (spill, stack or over 48 KiB)" : ""
        if (bad) status = 1
      }
      END { exit one == "true" ? 0 : status }' "$work/ptxas" || failed=1
  done
}

# check_intel PROGRAM OPTIONS SOURCE: SPIR's LLVM IR, where every matrix
# call must be the one builtin its operands and sub-group size name (the
# Itanium mangling of the extension's prototype: int8 a for sub-groups of
# 8, short8 for 16), and the kernel must require that sub-group size.
check_intel () {
  prog=$1
  opts=$2
  src=$3
  case " $opts " in
    *" -DMMA_SG=8 "*) sg=8 a=iS_ ;;
    *) sg=16 a=sDv8_i ;;
  esac
  case " $opts " in
    *" -DMMA_BF16 "*) want=_Z40intel_sub_group_bf16_bf16_matrix_mad_k16Dv8_${a}Dv8_f ;;
    *) want=_Z38intel_sub_group_f16_f16_matrix_mad_k16Dv8_${a}Dv8_f ;;
  esac
  # shellcheck disable=SC2086
  if ! "$CLANG" -x cl -cl-std=CL1.2 -target spir64 -O2 \
      -Xclang -finclude-default-header -include "$intel_protos" $opts \
      -emit-llvm -S "$src" -o "$work/k.ll" 2>"$work/err"; then
    echo "FAIL $prog $opts spir64: clang failed:"; cat "$work/err"
    failed=1
    return
  fi
  calls=$(grep -o 'call [^@]*@[A-Za-z0-9_]*matrix_mad[A-Za-z0-9_]*' "$work/k.ll" |
    sed 's/.*@//' | sort | uniq -c)
  n=$(echo "$calls" | awk -v w="$want" '$2 == w { print $1 }')
  others=$(echo "$calls" | awk -v w="$want" 'NF && $2 != w')
  node=$(sed -n 's/.*!intel_reqd_sub_group_size \(![0-9]*\).*/\1/p' "$work/k.ll")
  reqd=$(sed -n "s/^$node = !{i32 \([0-9]*\)}/\1/p" "$work/k.ll")
  if [ -z "$n" ] || [ -n "$others" ] || [ "$reqd" != "$sg" ]; then
    echo "FAIL $prog $opts spir64: want calls to $want only and sub-group size $sg;"
    echo "  got sub-group size '${reqd}', calls: $calls"
    failed=1
    return
  fi
  echo "ok   $prog $opts spir64: $n calls to $want, sub-group size $sg"
}

# check PROGRAM OPTIONS: one variant on every target it has.
check () {
  prog=$1
  opts=$2
  src=$work/k.cl
  cat "$kdir/common.cl" "$kdir/$prog.cl" >"$src"
  # AMD's matrix-unit forms are AMD's alone, each on its own target;
  # inline PTX (NVIDIA's form) is NVIDIA's alone, Intel's goes to SPIR.
  gfxs="gfx90a gfx1100"
  case " $opts " in
    *" -DMMA_MFMA "*) gfxs=gfx90a ;;
    *" -DMMA_WMMA "*) gfxs=gfx1100 ;;
    *" -DMMA_PTX "* | *" -DMMA_XMX "*) gfxs= ;;
  esac
  case " $opts " in
    *" -DMMA_MFMA "* | *" -DMMA_WMMA "*) ;;
    *" -DMMA_XMX "*) check_intel "$prog" "$opts" "$src" ;;
    *) check_nvidia "$prog" "$opts" "$src" ;;
  esac
  for gfx in $gfxs; do
    # shellcheck disable=SC2086
    if ! "$CLANG" -x cl -cl-std=CL1.2 -target amdgcn-amd-amdhsa -mcpu=$gfx \
        -nogpulib -O2 -Xclang -finclude-default-header -Xclang \
        -mlink-bitcode-file -Xclang "$AMDCLC" $opts \
        -Rpass-analysis=kernel-resource-usage -c "$src" -o "$work/k.o" \
        2>"$work/amd"; then
      echo "FAIL $prog $opts $gfx: clang (amdgcn) failed:"; cat "$work/amd"
      failed=1
      continue
    fi
    awk -v what="$prog $opts $gfx" -v limit=$LOCAL_LIMIT -v one=$one '
      function num(s) { sub(/.*: /, "", s); return s + 0 }
      /Function Name:/ { k = $0; sub(/.*Function Name: /, "", k); sub(/ \[.*/, "", k); spill = 0 }
      /VGPRs:/ { vgpr = num($0) }
      /AGPRs:/ { agpr = num($0) }
      /GPRs Spill:/ { spill += num($0) }
      /ScratchSize/ { scratch = num($0) }
      /LDS Size/ {
        lds = num($0)
        bad = scratch > 0 || spill > 0 || lds > limit
        printf "%s %s: %d VGPRs, %d AGPRs, %d spilled registers, %d B scratch, %d B LDS%s\n", \
          (bad && one != "true") ? "FAIL" : "ok  ", what " " k, vgpr, agpr, spill, scratch, lds, \
          bad ? " (spill, scratch or over 48 KiB)" : ""
        if (bad) status = 1
      }
      END { exit one == "true" ? 0 : status }' "$work/amd" || failed=1
  done
}

if $one; then
  kdir=$1
  check "$2" "$3"
  exit $failed
fi
tool=$1
kdir=$2
"$tool" gpu-variants >"$work/variants" || { echo "FAIL: $tool gpu-variants"; exit 1; }
[ -s "$work/variants" ] || { echo "FAIL: no GPU variants listed"; exit 1; }
while read -r prog opts; do
  check "$prog" "$opts"
done <"$work/variants"
exit $failed
