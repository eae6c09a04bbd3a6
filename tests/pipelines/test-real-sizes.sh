#!/bin/sh
# sorasrc and soraextend at real sizes, 320x240 and Wan's 832x480, with the
# demo model (the tiny fixture's RoPE is too short for them): one step
# without guidance, raw RGB into a verbose fakesink, whose log gives the
# negotiated caps and each buffer.  sorasrc makes 5 frames; soraextend
# passes 1 input frame through and appends 4.
# $1: the build directory holding libgstsora.so, $2: the fixtures directory
# (unused), $3: the demo model
set -eu
export GST_PLUGIN_PATH_1_0="$1"
export GST_REGISTRY_1_0="$1/test-pipelines-real-sizes-registry.bin"
gen="model=$3 steps=1 guidance-scale=1 seed=3"
. "$(dirname "$0")/common.sh"

# $1: a pipeline up to its sink, $2: width, $3: height, $4: frames.  Checks
# the caps at the sink, the buffer count, each buffer's size and the last
# one's timestamp (16 fps from 0).
check_raw() {
  t0=$(date +%s)
  log=$(eval gst-launch-1.0 -v "$1" ! fakesink silent=false 2>&1) ||
    fail "$1: $log"
  echo "$1: $(($(date +%s) - t0)) s"
  caps=$(echo "$log" | grep "fakesink0.GstPad:sink: caps" | tail -1)
  echo "$caps"
  for field in "format=(string)RGB" "width=(int)$2" "height=(int)$3" \
    "framerate=(fraction)16/1"; do
    echo "$caps" | grep -qF "$field," || fail "$1: caps without $field"
  done
  chains=$(echo "$log" | grep "last-message = chain")
  n=$(echo "$chains" | grep -c . || true)
  [ "$n" = "$4" ] || fail "$1: $n frames, not $4"
  n=$(echo "$chains" | grep -cF "($(($2 * $3 * 3)) bytes," || true)
  [ "$n" = "$4" ] || fail "$1: $n of $4 frames of $2x$3 RGB"
  pts=$(echo "$chains" | tail -1 | sed -n 's/.*pts: \([0-9:.]*\),.*/\1/p')
  want=$(awk "BEGIN { printf \"0:00:%012.9f\", ($4 - 1) / 16 }")
  [ "$pts" = "$want" ] || fail "$1: last frame at $pts, not $want"
}

for size in 320x240 832x480; do
  w=${size%x*}
  h=${size#*x}
  check_raw "sorasrc $gen prompt=\"a red fox in the snow\" num-frames=5 ! \
    video/x-raw,format=RGB,width=$w,height=$h" "$w" "$h" 5
  check_raw "videotestsrc num-buffers=1 ! \
    video/x-raw,format=RGB,width=$w,height=$h,framerate=16/1 ! \
    soraextend $gen extend-frames=4 prompt=\"waves on a beach\"" "$w" "$h" 5
done
echo "ok"
