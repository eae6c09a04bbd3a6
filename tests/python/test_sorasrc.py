#!/usr/bin/python3
# sorasrc from Python (PyGObject): parse_launch, properties, bus messages.
# Exits 77 (skipped) when gi or GStreamer's introspection data is missing.
# argv[1]: the build directory holding libgstsora.so, argv[2]: the fixtures
import os
import sys

try:
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import GLib, Gst
except (ImportError, ValueError) as e:
    print("skipped: PyGObject with Gst 1.0 is not available (%s)" % e)
    sys.exit(77)

from sora_gst import init_gst  # noqa: E402


def main():
    if not init_gst(Gst, sys.argv[1], "sorasrc"):
        return 1

    model = os.path.join(sys.argv[2], "wan-tiny")
    pipeline = Gst.parse_launch(
        "sorasrc name=gen num-frames=9 ! video/x-raw,width=48,height=32 ! "
        "fakesink name=sink")
    gen = pipeline.get_by_name("gen")
    # None is the default model: $GST_SORA_MODEL, here the fixture.
    os.environ["GST_SORA_MODEL"] = model
    gen.set_property("model", "/elsewhere")
    gen.set_property("model", None)
    model_none = gen.get_property("model")
    gen.set_property("prompt", "a paper boat on a river")
    gen.set_property("steps", 3)
    gen.set_property("seed", 11)
    Gst.util_set_object_arg(gen, "scheduler", "euler")
    assert gen.get_property("scheduler") == 1

    frames = []
    sink = pipeline.get_by_name("sink")
    sink.set_property("signal-handoffs", True)
    sink.connect("handoff", lambda s, buf, pad: frames.append(buf.pts))

    seen = {"progress": 0, "load": [], "denoise": [], "clip": None,
            "error": None}
    loop = GLib.MainLoop()

    def on_message(bus, msg):
        t = msg.type
        if t == Gst.MessageType.ELEMENT and msg.src == gen:
            s = msg.get_structure()
            if s.get_name() == "sora/progress":
                seen["progress"] += 1
                print("step %d/%d: %.3f s/step" % (
                    s["step"], s["total-steps"], s["seconds-per-step"]))
            elif s.get_name() == "sora/clip":
                seen["clip"] = s.to_string()
        elif t == Gst.MessageType.PROGRESS:
            ptype, code, text = msg.parse_progress()
            seen.setdefault(code, []).append(ptype)
            print("progress %s: %s" % (code, text))
        elif t == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            seen["error"] = "%s (%s)" % (err.message, debug)
            loop.quit()
        elif t == Gst.MessageType.EOS:
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    pipeline.set_state(Gst.State.PLAYING)
    # Generous: the first clip on PoCL also compiles kernels.
    GLib.timeout_add_seconds(300, loop.quit)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()

    print("clip: %s" % seen["clip"])
    if seen["error"]:
        print("FAIL: %s" % seen["error"])
        return 1
    P = Gst.ProgressType
    checks = [
        (model_none == model, "model None is %s, not $GST_SORA_MODEL"
         % model_none),
        (seen["denoise"] == [P.COMPLETE] * 3,
         "denoise progress COMPLETE after each of 3 steps, got %s"
         % seen["denoise"]),
        (seen["progress"] == 3, "3 sora/progress messages, got %d"
         % seen["progress"]),
        (seen["load"][:2] == [Gst.ProgressType.START,
                              Gst.ProgressType.COMPLETE],
         "load progress START then COMPLETE, got %s" % seen["load"]),
        (seen["clip"] is not None and "seed=(guint64)11" in seen["clip"],
         "sora/clip with seed 11"),
        (len(frames) == 9, "9 frames, got %d" % len(frames)),
        (frames == [Gst.util_uint64_scale(i, Gst.SECOND, 16)
                    for i in range(len(frames))], "timestamps %s" % frames),
    ]
    failed = [what for ok, what in checks if not ok]
    for what in failed:
        print("FAIL: " + what)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
