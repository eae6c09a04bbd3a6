#!/usr/bin/python3
# sorasrc stopped in the middle of a denoising step (issue 22, "stop at
# once"): the demo model at 320x240, PLAYING -> NULL halfway through the
# third step.  The state change must succeed with the clip unfinished; how
# long it took is printed, not judged (docs/obs.md quotes it).
# Exits 77 (skipped) when gi, GStreamer's introspection data or the demo
# model is missing.
# argv[1]: the build directory holding libgstsora.so, argv[2]: the fixtures
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

STEPS = 20


def main():
    model = os.environ.get("SORA_DEMO_MODEL") or os.path.join(
        sys.argv[2], "..", "..", "models", "sora-demo")
    if not os.path.isfile(os.path.join(model, "model_index.json")):
        print("skipped: no demo model in %s" % model)
        return 77
    init_gst(Gst, sys.argv[1])

    pipeline = Gst.parse_launch(
        "sorasrc name=gen num-frames=17 steps=%d ! "
        "video/x-raw,width=320,height=240 ! fakesink" % STEPS)
    gen = pipeline.get_by_name("gen")
    gen.set_property("model", model)
    gen.set_property("prompt", "a red ball bouncing on a beach")
    seen = {"steps": 0, "step_s": 0.0, "clip": False, "error": None}
    loop = GLib.MainLoop()

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.ELEMENT and msg.src == gen:
            s = msg.get_structure()
            if s.get_name() == "sora/progress":
                seen["steps"] = s["step"]
                seen["step_s"] = s["seconds-per-step"]
                # The first step also builds kernels: the second is the
                # step's own time.
                if s["step"] == 2:
                    loop.quit()
            elif s.get_name() == "sora/clip":
                seen["clip"] = True
        elif msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            seen["error"] = "%s (%s)" % (err.message, debug)
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    pipeline.set_state(Gst.State.PLAYING)
    # Generous: a cold start compiles kernels for minutes on 2 cores.
    GLib.timeout_add_seconds(600, loop.quit)
    loop.run()
    if seen["error"] or seen["steps"] < 2:
        pipeline.set_state(Gst.State.NULL)
        print("FAIL: no second step: %s" % (seen["error"] or "timed out"))
        return 1

    time.sleep(seen["step_s"] / 2)
    start = time.monotonic()
    ret = pipeline.set_state(Gst.State.NULL)
    stop_s = time.monotonic() - start
    # Messages posted before the stop.
    while GLib.MainContext.default().iteration(False):
        pass
    bus.remove_signal_watch()

    print("PLAYING -> NULL halfway through step 3 of %d (%.2f s per step "
          "at 320x240): %.1f ms" % (STEPS, seen["step_s"], stop_s * 1e3))
    checks = [
        (ret == Gst.StateChangeReturn.SUCCESS,
         "PLAYING -> NULL returned %s" % ret.value_nick),
        (not seen["clip"] and seen["steps"] < STEPS,
         "the clip stopped early, got %d steps%s" % (
             seen["steps"], " and sora/clip" if seen["clip"] else "")),
    ]
    failed = [what for ok, what in checks if not ok]
    for what in failed:
        print("FAIL: " + what)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
