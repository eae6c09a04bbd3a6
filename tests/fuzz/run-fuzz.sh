#!/bin/sh
# gst-sora fuzzing: builds tests/fuzz/fuzz-TARGET.c with libFuzzer, ASan and
# UBSan against the file-format code of ext/, then fuzzes it for SECONDS
# starting from tests/fuzz/corpus-TARGET/.
#   run-fuzz.sh TARGET SECONDS [WORKDIR]
# Exit 77 (a skip for meson) when clang or the fuzzer runtime is missing.
# SPDX-License-Identifier: LGPL-2.1-or-later
set -eu

target=${1:?usage: run-fuzz.sh TARGET SECONDS [WORKDIR]}
seconds=${2:?usage: run-fuzz.sh TARGET SECONDS [WORKDIR]}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
work=${3:-$(mktemp -d "${TMPDIR:-/tmp}/sora-fuzz-$target.XXXXXX")}
clang=${CLANG:-clang}

if ! command -v "$clang" >/dev/null 2>&1; then
  echo "SKIP: $clang not found"
  exit 77
fi
mkdir -p "$work/corpus"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n)\n{ return 0; }\n' \
  > "$work/probe.c"
if ! $clang $flags "$work/probe.c" -o "$work/probe" >/dev/null 2>&1; then
  echo "SKIP: $clang cannot link -fsanitize=fuzzer (install libclang-rt-dev)"
  exit 77
fi

# Everything that parses outside input; not ext/clblast (needs a device).
sources=$(ls "$top"/ext/safetensors/*.c "$top"/ext/diffusers/*.c \
  "$top"/ext/tokenizer/*.c 2>/dev/null || true)
# shellcheck disable=SC2086
$clang $flags -DCL_TARGET_OPENCL_VERSION=120 \
  -I"$top/ext" -I"$top/ext/safetensors" -I"$top/ext/diffusers" \
  -I"$top/ext/tokenizer" -I"$top/common" \
  "$here/fuzz-$target.c" $sources "$top/common/sora-error.c" \
  $(pkg-config --cflags --libs glib-2.0 json-glib-1.0) \
  -o "$work/fuzz-$target"

# GLib keeps some allocations for the life of the process on purpose.
printf 'leak:g_quark_from_static_string\nleak:g_type_register_static\nleak:g_type_init\n' \
  > "$work/lsan.supp"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export LSAN_OPTIONS="suppressions=$work/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# Criticals would be bugs in our use of GLib: make them crashes.
export G_DEBUG=fatal-criticals

echo "fuzzing $target for $seconds s in $work"
exec "$work/fuzz-$target" -max_total_time="$seconds" -timeout=10 \
  -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work/corpus" "$here/corpus-$target"
