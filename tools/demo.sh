#!/bin/sh
# Sets up a Debian 12 machine (as root), builds gst-sora and runs the demo.
# Until the elements land this is the engine's self-check: the device report
# and a short benchmark of the op library on the selected OpenCL device.
set -eu
cd "$(dirname "$0")/.."

sh tools/setup-debian.sh
[ -d build ] || meson setup build
ninja -C build
./build/tools/sora-tool/sora-tool devices
./build/tools/sora-tool/sora-tool bench --quick
