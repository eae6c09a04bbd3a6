#!/bin/sh
# The plugin loads from the build tree and registers under the name "sora".
# $1: the build directory holding libgstsora.so, $2: the package-origin
# option
set -eu
export GST_PLUGIN_PATH_1_0="$1"
export GST_REGISTRY_1_0="$1/test-registry.bin"
out=$(gst-inspect-1.0 sora 2>&1) || { echo "$out"; exit 1; }
echo "$out"
echo "$out" | grep -q "Filename.*libgstsora.so"
echo "$out" | grep -q "Generative video with a diffusion transformer on OpenCL"
# The origin is the packager's to set (no made-up home page).
echo "$out" | grep -q "Origin URL  *$2\$"
