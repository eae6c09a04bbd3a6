#!/bin/sh
# sorasrc into real encoders and containers, then the files are checked:
# 9 frames of 48x32 at 16/1 (9/16 s), and H.264 that is not High 4:4:4
# (sorasrc offers I420 first, so x264enc needs no videoconvert).
# $1: the build directory holding libgstsora.so, $2: the fixtures directory
set -eu
export GST_PLUGIN_PATH_1_0="$1"
export GST_REGISTRY_1_0="$1/test-pipelines-registry.bin"
model="$2/wan-tiny"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
src="sorasrc model=$model prompt=\"a red fox in the snow\" num-frames=9 steps=2 seed=3"
. "$(dirname "$0")/common.sh"

t0=$(date +%s)
eval gst-launch-1.0 -q "$src" ! video/x-raw,width=48,height=32 ! x264enc ! \
  mp4mux ! filesink location="$out/fox.mp4"
# The fixture cannot make Wan's native 832x480 (its RoPE is too short).
eval gst-launch-1.0 -q "$src" ! video/x-raw,width=48,height=32 ! \
  videoconvert ! vp8enc ! webmmux ! filesink location="$out/fox.webm"
echo "both pipelines: $(($(date +%s) - t0)) s"

# WebM: the discoverer decodes VP8 with plugins-good.
check_discovered "$out/fox.webm" 48 32
echo "$discovered" | grep -q "Duration: 0:00:00.562500000" ||
  fail "webm duration"
echo "$discovered" | grep -q "Frame rate: 16/1" || fail "webm frame rate"
n=$(demuxed_frames "$out/fox.webm" matroskademux)
[ "$n" = 9 ] || fail "webm has $n frames"

# MP4: with an H.264 decoder installed the discoverer checks it all; without
# one (plugins-ugly has none; h264parse is in plugins-bad) it names the stream's caps under "Missing
# plugins", and the demuxed stream gives the rest.
d=$(gst-discoverer-1.0 -v "$out/fox.mp4")
echo "$d"
if echo "$d" | grep -q "Missing plugins"; then
  echo "no H.264 decoder: duration from the demuxed frames"
else
  echo "$d" | grep -q "Duration: 0:00:00.562500000" || fail "mp4 duration"
fi
echo "$d" | grep -q "profile=(string)high-4:4:4" && fail "H.264 High 4:4:4"
p=$(gst-launch-1.0 -v filesrc location="$out/fox.mp4" ! qtdemux ! \
  fakesink silent=false 2>&1)
caps=$(echo "$p" | grep "fakesink0.GstPad:sink: caps" | tail -1)
echo "$caps"
echo "$caps" | grep -q "width=(int)48" || fail "mp4 width"
echo "$caps" | grep -q "height=(int)32" || fail "mp4 height"
echo "$caps" | grep -q "framerate=(fraction)16/1" || fail "mp4 frame rate"
echo "$caps" | grep -q "profile=(string)high," || fail "mp4 profile not High"
n=$(echo "$p" | grep -c "last-message = chain")
[ "$n" = 9 ] || fail "mp4 has $n frames"
echo "ok"
