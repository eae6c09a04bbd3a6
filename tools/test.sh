#!/bin/sh
# Sets up a Debian 12 machine (as root), builds gst-sora and runs the whole
# test suite.  Used as-is by CI (.ci/run).
set -eu
cd "$(dirname "$0")/.."

sh tools/setup-debian.sh
if [ -d build ]; then
  meson setup --reconfigure build
else
  meson setup build
fi
ninja -C build
meson test -C build --print-errorlogs --num-processes 2 "$@"
