#!/bin/sh
# The OBS pipelines of docs/obs.md, as obs-gstreamer's GStreamer Source runs
# them: its "videoconvert name=video ! video/x-raw, format={...}" in front,
# which `video.` links to, and a clock-synchronised sink where OBS has its
# appsink.  Each block marked for this test is taken from the document: the
# CPU one as pasted but for the model (the tiny fixture in place of the demo
# model), 9-frame clips, 2 steps and num-buffers; the others made quick (the
# fixture at 48x32, 2 steps, a 1 s latency).  Checks the caps the sink gets and that
# every frame arrives.
# $1: the build directory holding libgstsora.so, $2: the fixtures directory,
# $3: docs/obs.md
set -eu
export GST_PLUGIN_PATH_1_0="$1"
export GST_REGISTRY_1_0="$1/test-pipelines-obs-registry.bin"
model="$2/wan-tiny"
# For the pipelines without model=.
export GST_SORA_MODEL="$model"
doc="$3"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
. "$(dirname "$0")/common.sh"

# obs-gstreamer's video sink, as gstreamer-source.c builds it (appsink there).
obs_video="videoconvert name=video ! video/x-raw, format={I420,NV12,BGRA,BGRx,RGBx,RGBA,YUY2,YVYU,UYVY} ! fakesink name=video_appsink sync=true silent=false"

# Block $1 (1-based) after the test's marker in the document.
block() {
  awk -v want="$1" '
    /test-obs-pipeline.sh runs this block/ { n++; grab = (n == want); next }
    grab && /^```text/ { inside = 1; next }
    inside && /^```/ { exit }
    inside { print }' "$doc"
}

# Replaces $2 with $3 in $1, failing when $2 is not there (the document
# changed under the test).
swap() {
  case "$1" in
    *"$2"*) ;;
    *) fail "\"$2\" not in the pipeline of $doc: $1" ;;
  esac
  printf '%s\n' "$1" | sed "s|$2|$3|"
}

# Runs obs-gstreamer's sink plus pipeline $1; checks the sink's caps contain
# $2 and that it got $3 frames, each 1/16 s after the one before (none
# skipped; a live stream may start later than 0).
run_obs() {
  echo "OBS pipeline: $1"
  eval gst-launch-1.0 -v "$obs_video" "$1" >"$out/log" 2>&1 ||
    { cat "$out/log"; fail "the pipeline failed"; }
  fail_log="$out/log"
  caps=$(grep "video_appsink.GstPad:sink: caps" "$out/log" | tail -1)
  echo "$caps"
  echo "$caps" | grep -q "$2" || fail "sink caps do not have $2"
  n=$(grep -c "video_appsink: last-message = chain" "$out/log")
  [ "$n" = "$3" ] || fail "$n frames reached the sink, not $3"
  gaps=$(grep "video_appsink: last-message = chain" "$out/log" |
    sed 's/.* pts: \([0-9:.]*\),.*/\1/' | awk -F: '
      { split($3, s, "."); t = ($1 * 3600 + $2 * 60 + s[1]) * 1000000000 + s[2] }
      NR > 1 && t - last != 62500000 { printf "%s after %.0f ns; ", $0, last }
      { last = t }')
  [ -z "$gaps" ] || fail "frames not 1/16 s apart: $gaps"
  fail_log=
}

# Our model and a small size in place of the doc's real-model figures.
shrink() {
  q=$(swap "$1" "model=/path/to/Wan2.1-T2V-1.3B-Diffusers" "model=$model")
  swap "$q" "width=832,height=480" "width=48,height=32"
}

t0=$(date +%s)
# The CPU pipeline as pasted: the default model, which the fixture stands in
# for, 3 clips of 9 frames (20 frames), at most 2 steps (keep-up's choice
# under other tests' load is no part of what this test checks).
p=$(block 1)
[ -n "$p" ] || fail "no first OBS pipeline in $doc"
p=$(swap "$p" " steps=4 " " steps=2 ")
p=$(swap "$p" "sorasrc " "sorasrc num-frames=9 num-buffers=20 ")
run_obs "$p" "format=(string)RGBA, width=(int)64, height=(int)64" 20

p=$(block 2)
[ -n "$p" ] || fail "no second OBS pipeline in $doc"
p=$(shrink "$p")
p=$(swap "$p" "latency=30000000000" "latency=1000000000")
p=$(swap "$p" "sorasrc " "sorasrc num-frames=9 steps=2 num-buffers=20 ")
run_obs "$p" "format=(string)RGBA, width=(int)48, height=(int)32" 20

gst-launch-1.0 -q videotestsrc num-buffers=1 ! video/x-raw,width=64,height=64 ! \
  pngenc ! filesink location="$out/picture.png"
p=$(block 3)
[ -n "$p" ] || fail "no third OBS pipeline in $doc"
p=$(swap "$p" "location=/path/to/picture.png" "location=$out/picture.png")
p=$(shrink "$p")
p=$(swap "$p" "soraextend " "soraextend steps=2 ")
# The picture and 48 new frames.
run_obs "$p" "format=(string)BGRx" 49
echo "OBS pipelines: $(($(date +%s) - t0)) s"
echo "ok"
