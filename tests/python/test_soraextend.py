#!/usr/bin/python3
# soraextend from Python (PyGObject): the extend action signal mid-stream,
# then the extension at EOS, with the bus messages an application sees.
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
    if not init_gst(Gst, sys.argv[1], "soraextend",
                    "test-python-extend-registry.bin"):
        return 1

    pipeline = Gst.parse_launch(
        "videotestsrc num-buffers=9 ! "
        "video/x-raw,format=RGB,width=48,height=32,framerate=16/1 ! "
        "soraextend name=ext extend-frames=4 steps=2 seed=7 ! "
        "fakesink name=sink")
    ext = pipeline.get_by_name("ext")
    ext.set_property("model", os.path.join(sys.argv[2], "wan-tiny"))
    ext.set_property("prompt", "a windmill at dusk")

    frames = []
    extended = []
    received = [0]

    def on_input(pad, info):
        # Before the 6th input frame reaches the element: 4 new frames go in
        # after the 5th (from the element's streaming thread, where the order
        # is certain; an application may emit it from anywhere).
        received[0] += 1
        if received[0] == 6:
            extended.append(ext.emit("extend"))
        return Gst.PadProbeReturn.OK

    ext.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, on_input)

    def on_handoff(sink, buf, pad):
        frames.append(buf.pts)

    sink = pipeline.get_by_name("sink")
    sink.set_property("signal-handoffs", True)
    sink.connect("handoff", on_handoff)

    seen = {"progress": 0, "clips": [], "error": None}
    loop = GLib.MainLoop()

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.ELEMENT and msg.src == ext:
            s = msg.get_structure()
            if s.get_name() == "sora/progress":
                seen["progress"] += 1
            elif s.get_name() == "sora/clip":
                seen["clips"].append(s["frames"])
                print(s.to_string())
        elif msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            seen["error"] = "%s (%s)" % (err.message, debug)
            loop.quit()
        elif msg.type == Gst.MessageType.EOS:
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    pipeline.set_state(Gst.State.PLAYING)
    # Generous: the first generation on PoCL also compiles kernels.
    GLib.timeout_add_seconds(300, loop.quit)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()

    if seen["error"]:
        print("FAIL: %s" % seen["error"])
        return 1
    # 9 input + 4 from the signal + 4 at EOS, one after the other.
    expected = [Gst.util_uint64_scale(i, Gst.SECOND, 16) for i in range(17)]
    checks = [
        (extended == [True], "extend signal returned %s" % extended),
        (seen["clips"] == [4, 4], "two extensions of 4, got %s"
         % seen["clips"]),
        (seen["progress"] == 4, "2 x 2 sora/progress, got %d"
         % seen["progress"]),
        (frames == expected, "timestamps %s" % frames),
    ]
    failed = [what for ok, what in checks if not ok]
    for what in failed:
        print("FAIL: " + what)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
