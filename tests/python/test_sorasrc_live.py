#!/usr/bin/python3
# sorasrc with a causal model, live into a clock-synchronised sink without a
# queue: the prompt switches three times while it plays, and each switch is
# measured (docs/elements.md, "Live generation"); then, not live, clips=3
# makes three clips' frames, and soraextend continues a video with the
# model.
# Exits 77 (skipped) when gi or GStreamer's introspection data is missing.
# argv[1]: the build directory holding libgstsora.so, argv[2]: the fixtures;
# $SORA_LIVE_MODEL: another causal model to play (default: the fixture
# wan-tiny-causal), $SORA_LIVE_SIZE: WxH (default 32x32).
#
# What is asserted holds however loaded the machine is: each switch is
# announced by sora/prompt-switched, its first frame reaches the sink with
# the buffer offset announced, every chunk after it carries the new prompt,
# and offsets only grow.  The latencies and the frames skipped for lateness
# (QoS) are printed, not asserted: they measure the machine.
import os
import sys
import time

try:
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import GLib, Gst
except (ImportError, ValueError) as e:
    print("skipped: PyGObject with Gst 1.0 is not available (%s)" % e)
    sys.exit(77)

from sora_gst import init_gst  # noqa: E402

PROMPTS = ["a red circle moving right", "a blue square moving up",
           "a green triangle moving left", "a yellow circle moving down"]
# chunks played between two switches
CHUNKS_BETWEEN = 3


def main():
    if not init_gst(Gst, sys.argv[1], "sorasrc"):
        return 1
    model = os.environ.get("SORA_LIVE_MODEL",
                           os.path.join(sys.argv[2], "wan-tiny-causal"))
    width, height = os.environ.get("SORA_LIVE_SIZE", "32x32").split("x")
    pipeline = Gst.parse_launch(
        "sorasrc name=gen is-live=true clips=0 ! "
        "video/x-raw,width=%s,height=%s ! fakesink name=sink sync=true"
        % (width, height))
    gen = pipeline.get_by_name("gen")
    gen.set_property("model", model)
    gen.set_property("prompt", PROMPTS[0])
    gen.set_property("seed", 5)

    loop = GLib.MainLoop()
    state = {"switches": [], "pending": None, "chunks": [], "qos": 0,
             "offsets": [], "error": None, "first_frame": None,
             "start": None, "shown": {}}

    def on_handoff(sink, buf, pad):
        # streaming thread: record, the main loop acts
        now = time.monotonic()
        state["offsets"].append(buf.offset)
        state["shown"][buf.offset] = now
        if state["first_frame"] is None:
            state["first_frame"] = now

    sink = pipeline.get_by_name("sink")
    sink.set_property("signal-handoffs", True)
    sink.connect("handoff", on_handoff)

    def switch(i):
        state["pending"] = {"prompt": PROMPTS[i], "set": time.monotonic()}
        gen.set_property("prompt", PROMPTS[i])
        return False

    def on_message(bus, msg):
        t = msg.type
        if t == Gst.MessageType.ELEMENT and msg.src == gen:
            s = msg.get_structure()
            if s.get_name() == "sora/clip":
                state["chunks"].append((s["clip"], s["prompt"],
                                        s["generation-time"], s["frames"]))
            elif s.get_name() == "sora/prompt-switched":
                p = state["pending"]
                assert p is not None, "a switch nobody asked for"
                assert s["prompt"] == p["prompt"], s.to_string()
                p["frame"] = s["frame"]
                p["chunk"] = s["chunk"]
                p["latency"] = s["latency"]
        elif t == Gst.MessageType.QOS and msg.src == gen:
            state["qos"] += 1
        elif t == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            state["error"] = "%s (%s)" % (err.message, debug)
            loop.quit()
        elif t == Gst.MessageType.EOS:
            state["error"] = "EOS from an endless stream"
            loop.quit()

    def tick():
        # the next switch once the last one's first frame was shown and a
        # few chunks played since
        p = state["pending"]
        done = len(state["switches"])
        if p is not None and p.get("frame") in state["shown"]:
            p["shown"] = state["shown"][p["frame"]]
            state["switches"].append(p)
            state["pending"] = None
            done += 1
        if done == 3 and state["pending"] is None:
            loop.quit()
            return False
        made = len(state["chunks"])
        last = state["switches"][-1]["chunk"] if state["switches"] else 0
        if state["pending"] is None and made >= last + CHUNKS_BETWEEN:
            switch(done + 1)
        return True

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    state["start"] = time.monotonic()
    pipeline.set_state(Gst.State.PLAYING)
    GLib.timeout_add(20, tick)
    # Generous: the first chunk on PoCL also compiles kernels.
    GLib.timeout_add_seconds(500, loop.quit)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()

    if state["error"]:
        print("FAIL: %s" % state["error"])
        return 1
    if len(state["switches"]) != 3:
        print("FAIL: %d of 3 switches seen (chunks %s)"
              % (len(state["switches"]), state["chunks"]))
        return 1
    offsets = state["offsets"]
    if any(b <= a for a, b in zip(offsets, offsets[1:])):
        print("FAIL: buffer offsets not increasing: %s" % offsets)
        return 1
    # every chunk from a switch's on carries its prompt until the next
    for i, p in enumerate(state["switches"]):
        end = (state["switches"][i + 1]["chunk"]
               if i + 1 < len(state["switches"]) else None)
        for clip, prompt, _, _ in state["chunks"]:
            if clip >= p["chunk"] and (end is None or clip < end) \
                    and prompt != p["prompt"]:
                print("FAIL: chunk %d made with \"%s\", not \"%s\""
                      % (clip, prompt, p["prompt"]))
                return 1

    times = [c[2] for c in state["chunks"][1:]]
    frames = state["chunks"][-1][3]
    print("first frame %.2f s after PLAYING; %d chunks, %d frames each, "
          "%.3f s per chunk (median after the first) = %.1f fps made"
          % (state["first_frame"] - state["start"], len(state["chunks"]),
             frames, sorted(times)[len(times) // 2],
             frames / sorted(times)[len(times) // 2]))
    for p in state["switches"]:
        print("switch to \"%s\": chunk %d, frame %d decoded %.3f s after "
              "the set, shown %.3f s after it"
              % (p["prompt"], p["chunk"], p["frame"], p["latency"],
                 p["shown"] - p["set"]))
    skipped = (offsets[-1] - offsets[0] + 1) - len(offsets)
    print("%d frames out, %d skipped for lateness (%d QoS messages)"
          % (len(offsets), skipped, state["qos"]))
    return 0


def run_to_eos(launch, name, model):
    """Plays @launch, whose element @name takes @model, to EOS (or an error):
    the buffers' timestamps, the frames of each sora/clip message, the
    errors and the duration query's answer (None when it fails)."""
    pipeline = Gst.parse_launch(launch)
    element = pipeline.get_by_name(name)
    element.set_property("model", model)
    pts, clips, error = [], [], []
    sink = pipeline.get_by_name("sink")
    sink.set_property("signal-handoffs", True)
    sink.connect("handoff", lambda s, buf, pad: pts.append(buf.pts))
    loop = GLib.MainLoop()

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.ELEMENT and msg.src == element and \
                msg.get_structure().get_name() == "sora/clip":
            clips.append(msg.get_structure()["frames"])
        elif msg.type == Gst.MessageType.ERROR:
            error.append(msg.parse_error()[0].message)
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    pipeline.set_state(Gst.State.PLAYING)
    GLib.timeout_add_seconds(300, loop.quit)
    loop.run()
    ok, duration = pipeline.query_duration(Gst.Format.DEFAULT)
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    return pts, clips, error, duration if ok else None


def clips_causal(model):
    """Not live, num-frames=9 clips=3 with the causal model: as many frames
    as three clips make (9 + 8 + 8), in chunks as fast as they come (1 +
    4 (n - 1) frames, then 4n: n latent frames a chunk), the last cut; the
    duration query says as much; then EOS."""
    pts, chunks, error, duration = run_to_eos(
        "sorasrc name=gen num-frames=9 clips=3 seed=2 ! "
        "video/x-raw,width=32,height=32 ! fakesink name=sink", "gen", model)
    n = (chunks[1] // 4) if len(chunks) > 1 else 0
    want = [1 + 4 * (n - 1)]
    while sum(want) < 25:
        want.append(min(4 * n, 25 - sum(want)))
    expected = [Gst.util_uint64_scale(i, Gst.SECOND, 16) for i in range(25)]
    if error or chunks != want or pts != expected or duration != 25:
        print("FAIL: num-frames=9 clips=3 with a causal model: error %s, "
              "chunks %s (want %s), %d frames, duration %s"
              % (error, chunks, want, len(pts), duration))
        return 1
    print("num-frames=9 clips=3 with a causal model: chunks of %s frames"
          % chunks)
    return 0


def extend_causal(model):
    """soraextend with the causal model: 9 input frames, then 12 new ones
    (chunks of 4 per latent frame, the last one cut), timestamps on."""
    pts, clips, error, _ = run_to_eos(
        "videotestsrc num-buffers=9 ! "
        "video/x-raw,format=RGB,width=32,height=32,framerate=16/1 ! "
        "soraextend name=ext extend-frames=12 seed=3 ! fakesink name=sink",
        "ext", model)
    expected = [Gst.util_uint64_scale(i, Gst.SECOND, 16) for i in range(21)]
    if error or clips != [12] or pts != expected:
        print("FAIL: soraextend with a causal model: error %s, extensions "
              "%s, timestamps %s" % (error, clips, pts))
        return 1
    print("soraextend with a causal model: 9 + 12 frames")
    return 0


if __name__ == "__main__":
    ret = main()
    causal = os.environ.get("SORA_LIVE_MODEL",
                            os.path.join(sys.argv[2], "wan-tiny-causal"))
    for check in (clips_causal, extend_causal):
        ret = ret or check(causal)
    sys.exit(ret)
