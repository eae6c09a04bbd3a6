#!/bin/sh
# sorasrc over the network (docs/network.md): RTP/H.264 over UDP on
# 127.0.0.1 into a receiver that records an MP4, then two generators into
# one compositor (one generator per GPU host, composited downstream).
# EOS does not cross UDP: each receiver runs under gst-launch-1.0 -e and is
# stopped with SIGINT once its senders are done, so mp4mux finishes the file.
# Checks: 17 frames of 48x32 arrive (none are lost on the loopback), and the
# composited recording is 96x32 video with a duration.
# $1: the build directory holding libgstsora.so, $2: the fixtures directory
set -eu
export GST_PLUGIN_PATH_1_0="$1"
export GST_REGISTRY_1_0="$1/test-pipelines-network-registry.bin"
model="$2/wan-tiny"
out=$(mktemp -d)
receiver=""
cleanup() {
  [ -n "$receiver" ] && kill "$receiver" 2>/dev/null
  rm -rf "$out"
}
trap cleanup EXIT
. "$(dirname "$0")/common.sh"
fail_log="$out/receiver.log"

rtp="application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96"
# The receiver side: the jitterbuffer reorders and waits up to 200 ms for
# late packets.  mp4mux wants the size in the H.264 caps, which h264parse
# (plugins-bad) would add; with plugins-good and libav only, decode and
# encode again.
depay="rtpjitterbuffer latency=200 ! rtph264depay ! avdec_h264"

free_port() {
  python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# $1: port, $2: seed.  Paced by udpsink (sync=true), as a live stream is.
send() {
  gst-launch-1.0 -q sorasrc model="$model" prompt="waves on a beach" \
    num-frames=17 steps=2 seed="$2" ! video/x-raw,width=48,height=32 ! \
    x264enc tune=zerolatency ! rtph264pay config-interval=-1 ! \
    udpsink host=127.0.0.1 port="$1"
}

# Starts gst-launch-1.0 -e with the arguments in the background and waits
# until it is PLAYING (its udpsrc sockets are bound by then).
start_receiver() {
  gst-launch-1.0 -e "$@" >"$out/receiver.log" 2>&1 &
  receiver=$!
  i=0
  until grep -q "Setting pipeline to PLAYING" "$out/receiver.log"; do
    i=$((i + 1))
    [ $i -le 300 ] || fail "receiver not PLAYING after 30 s"
    kill -0 "$receiver" 2>/dev/null || fail "receiver exited"
    sleep 0.1
  done
}

# Lets the jitterbuffer push the last packets, then SIGINT: EOS, the MP4 is
# finished and gst-launch-1.0 exits 0.
stop_receiver() {
  sleep 1
  kill -INT "$receiver"
  i=0
  while kill -0 "$receiver" 2>/dev/null; do
    i=$((i + 1))
    [ $i -le 300 ] || fail "receiver still running 30 s after SIGINT"
    sleep 0.1
  done
  wait "$receiver" || fail "receiver exited with $?"
  receiver=""
  grep -q "Got EOS from element" "$out/receiver.log" ||
    fail "receiver stopped without EOS"
}

t0=$(date +%s)
port=$(free_port)
start_receiver udpsrc address=127.0.0.1 port="$port" caps="$rtp" ! $depay ! \
  videoconvert ! x264enc tune=zerolatency ! mp4mux ! \
  filesink location="$out/received.mp4"
send "$port" 3
stop_receiver
check_discovered "$out/received.mp4" 48 32
n=$(demuxed_frames "$out/received.mp4" qtdemux)
[ "$n" = 17 ] || fail "received $n frames, not 17"

# Two generators side by side; the compositor runs on the receiver's clock
# and fills in while a stream has no new frame.
port0=$(free_port)
port1=$(free_port)
start_receiver compositor name=mix sink_1::xpos=48 ! \
  video/x-raw,width=96,height=32,framerate=16/1 ! videoconvert ! \
  video/x-raw,format=I420 ! x264enc tune=zerolatency ! mp4mux ! \
  filesink location="$out/wall.mp4" \
  udpsrc address=127.0.0.1 port="$port0" caps="$rtp" ! $depay ! mix.sink_0 \
  udpsrc address=127.0.0.1 port="$port1" caps="$rtp" ! $depay ! mix.sink_1
send "$port0" 3 &
sender0=$!
send "$port1" 4 || fail "second sender failed"
wait "$sender0" || fail "first sender failed"
stop_receiver
check_discovered "$out/wall.mp4" 96 32
echo "network pipelines: $(($(date +%s) - t0)) s"
echo "ok"
