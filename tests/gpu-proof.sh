#!/bin/sh
# Runs GLib test paths of an engine test under Oclgrind, with its
# out-of-bounds checks, --data-races and --check-api: the GPU kernel forms
# on small odd shapes (issue 19).  Any Oclgrind finding fails the test.
#
# usage: gpu-proof.sh TEST-BINARY PATH...
# SPDX-License-Identifier: LGPL-2.1-or-later
set -u

if ! command -v oclgrind >/dev/null 2>&1; then
  echo "SKIP: oclgrind is not installed (apt-get install oclgrind)"
  exit 77
fi
exe=$1
shift
log=$(mktemp)
trap 'rm -f "$log"' EXIT
paths=
for p in "$@"; do
  paths="$paths -p $p"
done

# The tests' kernels are built for Oclgrind's device; a cached binary from
# another runtime is never loaded (the cache key names the device), but a
# private cache keeps a developer's cache clean.
cache=$(mktemp -d)
trap 'rm -f "$log"; rm -rf "$cache"' EXIT
# shellcheck disable=SC2086
SORA_CACHE_DIR=$cache XDG_CACHE_HOME=$cache \
  oclgrind --data-races --check-api --log "$log" "$exe" $paths
rc=$?
if [ -s "$log" ]; then
  echo "Oclgrind findings:"
  cat "$log"
  exit 1
fi
exit $rc
