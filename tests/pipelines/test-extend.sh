#!/bin/sh
# soraextend in real pipelines, into H.264/MP4, checked with the discoverer:
# 17 videotestsrc frames + 16 new = 33 frames at 16/1 (33/16 s), and a PNG
# still (through imagefreeze, and straight from pngdec at framerate 0/1)
# + 16 new = 17 frames (17/16 s).
# $1: the build directory holding libgstsora.so, $2: the fixtures directory
set -eu
export GST_PLUGIN_PATH_1_0="$1"
export GST_REGISTRY_1_0="$1/test-pipelines-extend-registry.bin"
model="$2/wan-tiny"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
extend="soraextend model=$model extend-frames=16 steps=2 seed=3 prompt=\"waves on a beach\""
enc="videoconvert ! video/x-raw,format=I420 ! x264enc ! mp4mux"
. "$(dirname "$0")/common.sh"

# $1: file, $2: expected duration, $3: expected frame count
check() {
  check_discovered "$1" 48 32
  echo "$discovered" | grep -q "Duration: $2" || fail "$1: duration not $2"
  echo "$discovered" | grep -q "Frame rate: 16/1" || fail "$1: frame rate"
  n=$(demuxed_frames "$1" qtdemux)
  [ "$n" = "$3" ] || fail "$1 has $n frames, not $3"
}

t0=$(date +%s)
eval gst-launch-1.0 -q videotestsrc num-buffers=17 ! \
  video/x-raw,width=48,height=32,format=RGB,framerate=16/1 ! "$extend" ! \
  "$enc" ! filesink location="$out/extended.mp4"
gst-launch-1.0 -q videotestsrc num-buffers=1 ! \
  video/x-raw,width=48,height=32 ! pngenc ! filesink location="$out/still.png"
eval gst-launch-1.0 -q filesrc location="$out/still.png" ! pngdec ! \
  imagefreeze num-buffers=1 ! video/x-raw,framerate=16/1 ! "$extend" ! \
  "$enc" ! filesink location="$out/animated.mp4"
eval gst-launch-1.0 -q filesrc location="$out/still.png" ! pngdec ! \
  "$extend" ! "$enc" ! filesink location="$out/still.mp4"
echo "pipelines: $(($(date +%s) - t0)) s"

check "$out/extended.mp4" 0:00:02.062500000 33
check "$out/animated.mp4" 0:00:01.062500000 17
check "$out/still.mp4" 0:00:01.062500000 17
echo "ok"
