# Shared by the pipeline tests (sourced): failing, and checking a recorded
# file with the discoverer and by counting its demuxed buffers.

# Prints the reason (and $fail_log when the test has set one) and exits 1.
fail() {
  echo "FAIL: $*"
  if [ -n "${fail_log:-}" ] && [ -f "$fail_log" ]; then
    cat "$fail_log"
  fi
  exit 1
}

# $1: file, $2: its demuxer.  Prints how many buffers the demuxer gives.
demuxed_frames() {
  gst-launch-1.0 -v filesrc location="$1" ! "$2" ! fakesink silent=false 2>&1 |
    grep -c "last-message = chain"
}

# $1: file, $2: width, $3: height.  Checks that the discoverer finds a video
# stream of that size with a non-zero duration; prints its report and
# leaves it in $discovered for further checks.
check_discovered() {
  discovered=$(gst-discoverer-1.0 -v "$1")
  echo "$discovered"
  echo "$discovered" | grep -q "video #" || fail "$1 has no video stream"
  echo "$discovered" | grep -q "Width: $2" || fail "$1: width not $2"
  echo "$discovered" | grep -q "Height: $3" || fail "$1: height not $3"
  echo "$discovered" | grep -q "Duration: 0:00:00.000000000" &&
    fail "$1: duration 0"
  echo "$discovered" | grep -q "Duration: " || fail "$1: no duration"
}
