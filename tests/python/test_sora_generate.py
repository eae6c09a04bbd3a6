#!/usr/bin/python3
# docs/examples/sora-generate.py as a user runs it, in a subprocess:
# (a) a clip into an MP4 that the discoverer reads with the expected size,
#     frame count and duration; (b) an endless run stopped by SIGINT after
#     the first progress line of its second clip still leaves a complete,
#     playable MP4; (c) a model path that does not exist exits non-zero
#     naming the path; (d) --then changes the prompt while the pipeline
#     plays: each clip is made with its own prompt, as sora/clip reports.
# Exits 77 (skipped) when gi or GStreamer's introspection data is missing.
# argv[1]: the build directory holding libgstsora.so, argv[2]: the fixtures
import os
import re
import signal
import subprocess
import sys
import tempfile

try:
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstPbutils", "1.0")
    from gi.repository import Gst, GstPbutils
except (ImportError, ValueError) as e:
    print("skipped: PyGObject with Gst 1.0 is not available (%s)" % e)
    sys.exit(77)

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                       "..", "docs", "examples", "sora-generate.py")
# The first clip on PoCL may compile kernels.
TIMEOUT = 300


def run_example(args, env):
    """Runs the example to the end; returns (exit code, stdout, stderr)."""
    p = subprocess.run([sys.executable, EXAMPLE] + args, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=TIMEOUT)
    print("$ sora-generate.py %s\n%s%s-> exit %d" % (
        " ".join(args), p.stdout, p.stderr, p.returncode))
    return p.returncode, p.stdout, p.stderr


def interrupt_example(args, env):
    """Starts the example, sends SIGINT at the first progress line of its
    second clip; returns (exit code, whole output)."""
    p = subprocess.Popen([sys.executable, EXAMPLE] + args, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         universal_newlines=True)
    lines = []
    try:
        for line in p.stdout:
            lines.append(line)
            # After "clip 2, step 1/2": clip 1's frames have started to go
            # out (a continuation starts only once the queue has room), so
            # the file cannot be empty.
            if line.startswith("clip 2, step"):
                p.send_signal(signal.SIGINT)
                break
        lines.append(p.communicate(timeout=TIMEOUT)[0])
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    out = "".join(lines)
    print("$ sora-generate.py %s  (SIGINT)\n%s-> exit %d" % (
        " ".join(args), out, p.returncode))
    return p.returncode, out


def discover(path):
    """(duration in ns, width, height, framerate) of the file's video."""
    info = GstPbutils.Discoverer.new(30 * Gst.SECOND).discover_uri(
        Gst.filename_to_uri(path))
    videos = info.get_video_streams()
    if not videos:
        raise AssertionError("%s has no video stream" % path)
    v = videos[0]
    return (info.get_duration(), v.get_width(), v.get_height(),
            (v.get_framerate_num(), v.get_framerate_denom()))


def count_frames(path):
    """The number of coded frames in the file's video track."""
    pipeline = Gst.parse_launch(
        "filesrc name=src ! qtdemux ! fakesink name=sink")
    pipeline.get_by_name("src").set_property("location", path)
    n = [0]

    def count(pad, info):
        n[0] += 1
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("sink").get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER, count)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(
        30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    pipeline.set_state(Gst.State.NULL)
    if msg is None or msg.type != Gst.MessageType.EOS:
        raise AssertionError("%s does not demux to the end" % path)
    return n[0]


def main():
    env = dict(os.environ)
    env["GST_PLUGIN_PATH_1_0"] = sys.argv[1]
    env["GST_REGISTRY_1_0"] = os.path.join(
        sys.argv[1], "test-python-generate-registry.bin")
    os.environ.update(env)
    Gst.init(None)
    model = os.path.join(sys.argv[2], "wan-tiny")
    tiny = ["--model", model, "--width", "48", "--height", "32",
            "--frames", "9", "--steps", "2", "--seed", "3"]
    failed = []

    def check(ok, what):
        if not ok:
            print("FAIL: " + what)
            failed.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        # (a) One clip of 9 frames at 16/1: 9/16 s, exactly.
        out = os.path.join(tmp, "fox.mp4")
        rc, stdout, _ = run_example(["a red fox in snow", out] + tiny, env)
        check(rc == 0, "normal run exits 0, got %d" % rc)
        check("step 2/2: 100%" in stdout, "progress reaches 100%")
        check("wrote 9 frames" in stdout, "reports 9 frames written")
        if rc == 0:
            duration, w, h, rate = discover(out)
            check(duration == Gst.util_uint64_scale(9, Gst.SECOND, 16),
                  "duration 9/16 s, got %d ns" % duration)
            check((w, h) == (48, 32), "48x32, got %dx%d" % (w, h))
            check(rate == (16, 1), "16/1 fps, got %d/%d" % rate)
            n = count_frames(out)
            check(n == 9, "9 frames in the file, got %d" % n)

        # (b) Endless, stopped by SIGINT: EOS finishes the file, whatever
        # number of frames it got to.
        out = os.path.join(tmp, "endless.mp4")
        rc, output = interrupt_example(
            ["waves on a beach", out, "--clips", "0"] + tiny, env)
        check(rc == 0, "SIGINT run exits 0, got %d" % rc)
        check("interrupted: finishing" in output, "SIGINT acknowledged")
        if rc == 0:
            n = count_frames(out)
            duration, w, h, rate = discover(out)
            print("after SIGINT: %d frames, %d ns" % (n, duration))
            check(n >= 1, "frames in the interrupted file, got %d" % n)
            check("wrote %d frames" % n in output,
                  "reported frame count matches the file's %d" % n)
            check(duration == Gst.util_uint64_scale(n, Gst.SECOND, 16),
                  "duration %d/16 s, got %d ns" % (n, duration))

        # (c) A wrong model path: an error that names it, exit 1.
        bad = os.path.join(tmp, "no-such-model")
        rc, _, stderr = run_example(
            ["a red fox", os.path.join(tmp, "bad.mp4"), "--model", bad], env)
        check(rc == 1, "bad model exits 1, got %d" % rc)
        check(bad in stderr, "the error names %s" % bad)

        # (d) Three prompts, three clips continuing each other: 9 + 8 + 8
        # frames, each clip made with the prompt meant for it.
        out = os.path.join(tmp, "sea.mp4")
        rc, stdout, _ = run_example(
            ["a calm sea", out, "--then", "a storm at sea", "--then",
             "a rainbow"] + tiny, env)
        check(rc == 0, "storyboard run exits 0, got %d" % rc)
        made = re.findall(r'^clip (\d+) done .*: "(.*)"$', stdout, re.M)
        check(made == [("1", "a calm sea"), ("2", "a storm at sea"),
                       ("3", "a rainbow")],
              "each clip made with its own prompt, got %s" % made)
        if rc == 0:
            n = count_frames(out)
            check(n == 25, "25 frames in the file, got %d" % n)

    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
