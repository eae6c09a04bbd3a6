#!/bin/sh
# Sets up a Debian 12 machine (as root), builds gst-sora and generates
# demo.mp4 with sorasrc and the demo model (models/sora-demo, the default
# model; docs/sora-demo.md says what it can draw), uninstalled.
set -eu
cd "$(dirname "$0")/.."

sh tools/setup-debian.sh
[ -d build ] || meson setup build
ninja -C build
./build/tools/sora-tool/sora-tool devices

# what `meson devenv -C build` sets; after `meson install` neither is needed
export GST_PLUGIN_PATH="$PWD/build/gst" GST_SORA_MODEL="$PWD/models/sora-demo"
gst-launch-1.0 -e sorasrc prompt="a red circle moving right on a black background" \
  ! x264enc ! mp4mux ! filesink location=demo.mp4
gst-discoverer-1.0 demo.mp4
echo "demo: wrote $PWD/demo.mp4"
