#!/bin/sh
# Sets up a Debian 12 machine (as root), builds gst-sora and generates
# demo.mp4 with sorasrc.  Until the trained demo model ships, the model is
# the tiny random-weight test fixture: the clip is noise, but every part of
# the stack (text encoder, DiT, scheduler, VAE, element, x264, mp4) runs.
set -eu
cd "$(dirname "$0")/.."

sh tools/setup-debian.sh
[ -d build ] || meson setup build
ninja -C build
./build/tools/sora-tool/sora-tool devices

export GST_PLUGIN_PATH="$PWD/build/gst"
gst-launch-1.0 -e sorasrc model=tests/fixtures/wan-tiny \
    prompt="a red fox in snow" steps=10 num-frames=17 \
  ! x264enc ! mp4mux ! filesink location=demo.mp4
gst-discoverer-1.0 demo.mp4
echo "demo: wrote $PWD/demo.mp4"
