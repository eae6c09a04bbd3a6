#!/usr/bin/python3
"""Generate a video from a text prompt with sorasrc into an MP4 file.

    sora-generate.py "a red fox in snow" fox.mp4 --frames 17 --steps 10
    sora-generate.py "a calm sea" sea.mp4 --then "a storm at sea" \
        --then "a rainbow over the sea"

Builds `sorasrc ! [video/x-raw,width=W,height=H] ! x264enc ! mp4mux !
filesink`, shows the denoising progress from the `sora/progress` element
messages on one line, and finishes the file properly on Ctrl-C (it sends EOS,
as `gst-launch-1.0 -e` does, so mp4mux writes its index; a second Ctrl-C
quits at once).  With --then, each later clip continues the one before with
the next prompt: the prompt changes while the pipeline plays.  Exits 0 when
the file is complete, 1 on an error (the element's message and debug text go
to stderr), 2 on bad arguments.

Needs Debian's python3-gi and python3-gst-1.0, so run it with /usr/bin/python3
(a virtual environment needs --system-site-packages).  From the build tree:

    GST_PLUGIN_PATH=$PWD/build/gst /usr/bin/python3 docs/examples/sora-generate.py \
        "a red fox in snow" fox.mp4 --model tests/fixtures/wan-tiny \
        --width 48 --height 32 --frames 9 --steps 2
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Generate a video from a text prompt into an MP4 file.")
    p.add_argument("prompt", help="what the video shows")
    p.add_argument("output", help="the .mp4 file to write")
    p.add_argument("--model", help="a Wan2.1 diffusers folder (default: "
                   "$GST_SORA_MODEL, else the installed demo model)")
    p.add_argument("--frames", type=int,
                   help="frames of the first clip, 4k+1 (default: the "
                   "model's)")
    p.add_argument("--then", action="append", default=[], metavar="PROMPT",
                   help="a prompt for the next clip, which continues the "
                   "last (repeat for more)")
    p.add_argument("--clips", type=int,
                   help="clips, each continuing the last; 0 runs until "
                   "Ctrl-C (default: one per prompt)")
    p.add_argument("--steps", type=int, help="denoising steps per clip")
    p.add_argument("--width", type=int, help="a multiple of 16")
    p.add_argument("--height", type=int, help="a multiple of 16")
    p.add_argument("--seed", type=int,
                   help="the noise seed (default: random, printed at the "
                   "end of each clip)")
    p.add_argument("--device", help="auto, gpu, cpu, P:D or part of the "
                   "device name (default: auto)")
    args = p.parse_args(argv)
    args.prompts = [args.prompt] + args.then
    if args.clips is None:
        args.clips = len(args.prompts)
    return args


def make(factory, **props):
    element = Gst.ElementFactory.make(factory, None)
    if element is None:
        raise RuntimeError("no element %s: is its plugin installed?" % factory)
    for name, value in props.items():
        element.set_property(name.replace("_", "-"), value)
    return element


def build_pipeline(args):
    """The pipeline, its sorasrc, and the pad whose buffers are counted."""
    src_props = {"prompt": args.prompt, "clips": args.clips}
    for name in ("model", "steps", "seed", "device"):
        if getattr(args, name) is not None:
            src_props[name] = getattr(args, name)
    if args.frames is not None:
        src_props["num_frames"] = args.frames
    src = make("sorasrc", **src_props)

    # Only the size is asked for: sorasrc offers I420 first, which x264enc
    # takes as it is.
    caps = Gst.Caps.new_empty_simple("video/x-raw")
    if args.width:
        caps.set_value("width", args.width)
    if args.height:
        caps.set_value("height", args.height)
    elements = [src, make("capsfilter", caps=caps), make("x264enc"),
                make("mp4mux"), make("filesink", location=args.output)]

    pipeline = Gst.Pipeline.new("sora-generate")
    for element in elements:
        pipeline.add(element)
    for upstream, downstream in zip(elements, elements[1:]):
        if not upstream.link(downstream):
            raise RuntimeError("cannot link %s to %s" % (
                upstream.get_name(), downstream.get_name()))
    return pipeline, src, elements[1].get_static_pad("src")


class Progress:
    """One status line, rewritten in place on a terminal."""

    def __init__(self, clips):
        self.clips = clips
        self.end = "\r" if sys.stdout.isatty() else "\n"
        self.open = False

    def step(self, s):
        step, total, clip = s["step"], s["total-steps"], s["clip"]
        if self.clips > 0:
            done = (clip * total + step) / (self.clips * total)
            head = "clip %d/%d" % (clip + 1, self.clips)
        else:
            done = step / total
            head = "clip %d" % (clip + 1)
        self.say("%s, step %d/%d: %3.0f%% (%.2f s/step)" % (
            head, step, total, 100 * done, s["seconds-per-step"]))

    def say(self, text):
        print(text, end=self.end, flush=True)
        self.open = self.end == "\r"

    def done(self):
        if self.open:
            print(flush=True)
            self.open = False


def main(argv):
    args = parse_args(argv)
    Gst.init(None)
    if Gst.ElementFactory.find("sorasrc") is None:
        print("error: no sorasrc element; point GST_PLUGIN_PATH at the "
              "folder holding libgstsora.so", file=sys.stderr)
        return 1
    try:
        pipeline, src, counted = build_pipeline(args)
    except RuntimeError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1

    frames = [0]

    def count_frame(pad, info):
        frames[0] += 1
        return Gst.PadProbeReturn.OK

    counted.add_probe(Gst.PadProbeType.BUFFER, count_frame)

    progress = Progress(args.clips)
    loop = GLib.MainLoop()
    state = {"status": 0, "interrupted": False}

    def on_message(bus, msg):
        t = msg.type
        if t == Gst.MessageType.ELEMENT and msg.src == src:
            s = msg.get_structure()
            if s.get_name() == "sora/progress":
                progress.step(s)
            elif s.get_name() == "sora/clip":
                progress.done()
                print("clip %d done in %.1f s, seed %d: \"%s\"" % (
                    s["clip"] + 1, s["generation-time"], s["seed"],
                    s["prompt"]), flush=True)
        elif t == Gst.MessageType.PROGRESS and msg.src == src:
            ptype, code, text = msg.parse_progress()
            if ptype == Gst.ProgressType.START:
                progress.say("loading the model...")
        elif t == Gst.MessageType.WARNING:
            err, debug = msg.parse_warning()
            progress.done()
            print("warning from %s: %s" % (msg.src.get_name(), err.message),
                  file=sys.stderr)
        elif t == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            progress.done()
            print("error from %s: %s" % (msg.src.get_name(), err.message),
                  file=sys.stderr)
            if debug:
                print("  %s" % debug, file=sys.stderr)
            state["status"] = 1
            loop.quit()
        elif t == Gst.MessageType.EOS:
            loop.quit()

    def on_sigint():
        if state["interrupted"]:
            # The second Ctrl-C: stop without finishing the file.
            state["status"] = 130
            loop.quit()
            return GLib.SOURCE_REMOVE
        state["interrupted"] = True
        progress.done()
        print("interrupted: finishing %s (Ctrl-C again to quit now)"
              % args.output, flush=True)
        pipeline.send_event(Gst.Event.new_eos())
        return GLib.SOURCE_CONTINUE

    def on_sync_message(bus, msg):
        # On the generation thread, while clip k runs (it has read its
        # prompt): the next prompt is in place before clip k + 1 starts.
        # Through the main loop it could come too late for a fast clip.
        s = msg.get_structure()
        if msg.src == src and s.get_name() == "sora/progress" \
                and s["step"] == 1 and s["clip"] + 1 < len(args.prompts):
            src.set_property("prompt", args.prompts[s["clip"] + 1])

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    bus.enable_sync_message_emission()
    bus.connect("sync-message::element", on_sync_message)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, on_sigint)

    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        # The element posted why; the bus watch prints it.
        state["status"] = 1
        GLib.idle_add(loop.quit)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    progress.done()

    if state["status"] == 0:
        print("wrote %d frames to %s" % (frames[0], args.output))
    return state["status"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
