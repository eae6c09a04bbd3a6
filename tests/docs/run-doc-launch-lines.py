#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs every gst-launch-1.0 line of the documentation.

usage: run-doc-launch-lines.py PLUGIN_DIR SOURCE_ROOT [FILE...]

Reads docs/*.md and docs/examples/ (*.md and *.sh) under SOURCE_ROOT, or
only the FILEs given.  In Markdown, a launch line is a line of a fenced code
block that starts with gst-launch-1.0 (after an optional "$ " prompt and
VAR=value assignments); backslash continuations are joined.  In a shell
script every such line counts.

Each line runs here as written, except for what cannot run on a build
machine or would take minutes (each change is printed):

- GST_SORA_MODEL is the tiny fixture tests/fixtures/wan-tiny (whatever
  the line sets), so lines without model= use it; a model= folder that
  does not exist (a download the reader makes) becomes the fixture.
- A device= (or SORA_DEVICE=) other than auto or cpu is dropped: the
  device is the test's $SORA_DEVICE, else auto.
- sorasrc/soraextend: steps above 4 (or unset: 50) become 2, num-frames
  above 17 (or unset: the model's) 17, extend-frames above 16 (or unset: 32)
  16, clips=0 (endless) or above 2 become 2; a sorasrc not followed by caps
  with a width gets video/x-raw,width=64,height=64 (the fixture's native
  size is 512x480).
- Caps widths and heights above 64 shrink in proportion to at most 64, in
  multiples of 16.
- filesink-like locations go to a temporary folder; a filesrc location that
  is neither written by an earlier line of the same file nor present in the
  source tree is made there first (17 frames of videotestsrc, 64x48).
- Display sinks become fakesink; cameras and videotestsrc without
  num-buffers become videotestsrc num-buffers=17, so every line ends.

A line that cannot run here is skipped only when its fenced block is
preceded by <!-- doc-test: skip (why) --> (a "# doc-test: skip (why)" line
in a script); the test prints why.  <!-- doc-test: fails (text) --> marks a
block whose lines must fail with text in their output (troubleshooting
examples; their sizes and model= stay as written, as they may be the
error).  A marker with no launch line after it is an error.

Exit status 0 when every line passed, 1 otherwise (each failure names the
file and line and shows the end of gst-launch-1.0's output).
"""
import glob
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

# Generous: on a fresh machine the first line also compiles the OpenCL
# kernels (PoCL: up to a minute on 2 busy cores).  A line that never ends
# (a receiver waiting for a network) fails after this.
LINE_TIMEOUT_S = 120
# A line that must fail posts its error at once.  gst-launch-1.0 1.22 then
# sometimes never exits (an error while prerolling; seen with qtdemux on a
# broken file too, 1 run in 30): the error text decides.
FAILS_TIMEOUT_S = 20

MAX_SIDE = 64  # the largest caps width/height kept
MAX_STEPS, SMALL_STEPS = 4, 2
MAX_NUM_FRAMES = 17
MAX_EXTEND_FRAMES = 16
MAX_CLIPS = 2
INPUT_FRAMES = 17

DISPLAY_SINKS = {
    "autovideosink", "xvimagesink", "ximagesink", "glimagesink",
    "waylandsink", "kmssink", "fbdevsink", "gtksink", "gtkglsink",
    "fpsdisplaysink", "osxvideosink", "d3dvideosink", "d3d11videosink",
    "autoaudiosink", "pulsesink", "alsasink",
}
CAMERAS = {"v4l2src", "autovideosrc", "pipewiresrc", "ximagesrc",
           "avfvideosrc", "ksvideosrc", "mfvideosrc"}
FILE_SINKS = {"filesink", "multifilesink", "splitmuxsink"}
FILE_SOURCES = {"filesrc", "multifilesrc"}
# Properties a display sink shares with fakesink.
SINK_PROPS = {"name", "sync", "async"}

MARKER = r"doc-test:\s*(\w+)\s*(?:\((.*)\))?\s*"
# Indented by 4 or more, a line is an indented code block: an example.
MD_MARKER_RE = re.compile(r"^ {0,3}<!--\s*" + MARKER + r"-->\s*$")
SH_MARKER_RE = re.compile(r"^\s*#\s*" + MARKER + r"$")
FENCE_RE = re.compile(r"^(\s*)(`{3,}|~{3,})")
CAPS_RE = re.compile(r"^[a-z]+/[A-Za-z0-9.+_-]+(\(|,|$)")
SIZE_RE = re.compile(r"\b(width|height)(\s*=\s*(?:\(int\)\s*)?)(\d+)")
ASSIGN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")

# How to make a missing input file, by extension: the encoding tail after
# videotestsrc and its caps.
INPUT_RECIPES = {
    ".mp4": "videoconvert ! x264enc ! mp4mux",
    ".mov": "videoconvert ! x264enc ! qtmux",
    ".mkv": "videoconvert ! x264enc ! matroskamux",
    ".webm": "videoconvert ! vp8enc ! webmmux",
    ".png": "pngenc",
    ".jpg": "jpegenc",
    ".jpeg": "jpegenc",
}


class Line:
    def __init__(self, path, lineno, text, marker):
        self.path, self.lineno, self.text = path, lineno, text
        self.marker = marker  # None or (kind, argument)

    def where(self):
        return "%s:%d" % (self.path, self.lineno)


class DocError(Exception):
    pass


def parse_marker(regex, text, where):
    m = regex.match(text)
    kind, arg = (m.group(1), (m.group(2) or "").strip()) if m else ("", "")
    if kind not in ("skip", "fails") or not arg:
        raise DocError("%s: marker %r: use doc-test: skip (why) or "
                       "doc-test: fails (expected text)" % (where, text))
    return kind, arg


def strip_comment(text):
    """@text without a shell comment (# at a word start, outside quotes)."""
    quote, i = None, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and quote != "'":
            i += 1  # the next character is escaped
        elif quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or text[i - 1].isspace()):
            return text[:i]
        i += 1
    return text


def is_launch(text):
    words = text.split()
    if words and words[0] == "$":
        words = words[1:]
    while words and ASSIGN_RE.match(words[0]):
        words = words[1:]
    return bool(words) and words[0] == "gst-launch-1.0"


def joined(lines, start):
    """The logical line from lines[start] on (backslash continuations
    joined) and the index after it."""
    text, i = "", start
    while i < len(lines):
        part = lines[i].rstrip("\n")
        i += 1
        if part.rstrip().endswith("\\"):
            text += part.rstrip()[:-1] + " "
        else:
            text += part
            break
    return text, i


def markdown_lines(path, rel):
    lines = open(path, encoding="utf-8").read().split("\n")
    found, pending, pending_at = [], None, 0
    i = 0
    while i < len(lines):
        fence = FENCE_RE.match(lines[i])
        if fence is None:
            if re.match(r" {0,3}<!--", lines[i]) and "doc-test" in lines[i]:
                if pending is not None:
                    raise DocError("%s:%d: marker with no launch line after "
                                   "it" % (rel, pending_at))
                pending = parse_marker(MD_MARKER_RE, lines[i],
                                       "%s:%d" % (rel, i + 1))
                pending_at = i + 1
            elif lines[i].strip() and pending is not None:
                raise DocError("%s:%d: marker not right before a fenced "
                               "block" % (rel, pending_at))
            i += 1
            continue
        indent, mark = fence.group(1), fence.group(2)
        i += 1
        block = []
        while i < len(lines):
            m = FENCE_RE.match(lines[i])
            if (m and m.group(2)[0] == mark[0] and len(m.group(2)) >= len(mark)
                    and not lines[i].strip()[len(m.group(2)):].strip()):
                break
            text = lines[i]
            block.append(text[len(indent):] if text.startswith(indent)
                         else text.lstrip())
            i += 1
        first = i - len(block) + 1  # line number of block[0]
        i += 1
        j, in_block = 0, []
        while j < len(block):
            text, after = joined(block, j)
            if is_launch(text):
                in_block.append(Line(rel, first + j, text, pending))
            j = after
        if pending is not None and not in_block:
            raise DocError("%s:%d: marker with no launch line after it"
                           % (rel, pending_at))
        found += in_block
        pending = None
    if pending is not None:
        raise DocError("%s:%d: marker with no launch line after it"
                       % (rel, pending_at))
    return found


def script_lines(path, rel):
    lines = open(path, encoding="utf-8").read().split("\n")
    found, pending, i = [], None, 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith("#") and "doc-test" in stripped:
            pending = parse_marker(SH_MARKER_RE, stripped,
                                   "%s:%d" % (rel, i + 1))
            i += 1
            continue
        text, after = joined(lines, i)
        if is_launch(text):
            found.append(Line(rel, i + 1, text, pending))
        elif pending is not None and stripped:
            raise DocError("%s:%d: marker not right before a launch line"
                           % (rel, i))
        if stripped:
            pending = None
        i = after
    return found


def doc_files(root):
    docs = os.path.join(root, "docs")
    files = sorted(glob.glob(os.path.join(docs, "*.md")))
    for ext in ("md", "sh"):
        files += sorted(glob.glob(os.path.join(docs, "examples", "**",
                                               "*." + ext), recursive=True))
    return files


class Element:
    def __init__(self, factory):
        self.factory = factory
        self.props = []  # [key, value]

    def get(self, key):
        for k, v in self.props:
            if k == key:
                return v
        return None

    def set(self, key, value):
        for p in self.props:
            if p[0] == key:
                p[1] = value
                return
        self.props.append([key, value])


def shrink_sizes(text):
    """@text (caps) with width and height scaled to at most MAX_SIDE."""
    sizes = [int(m.group(3)) for m in SIZE_RE.finditer(text)]
    if not sizes or max(sizes) <= MAX_SIDE:
        return text
    scale = MAX_SIDE / max(sizes)
    return SIZE_RE.sub(lambda m: "%s%s%d" % (
        m.group(1), m.group(2),
        max(16, round(int(m.group(3)) * scale / 16) * 16)), text)


def parse_pipeline(tokens):
    """Items: "!", Element, or a plain token (caps, pad references)."""
    items = []
    for tok in tokens:
        if tok == "!" or CAPS_RE.match(tok):
            items.append(tok)
        elif "=" in tok and items and isinstance(items[-1], Element):
            key, value = tok.split("=", 1)
            items[-1].props.append([key, value])
        elif "=" not in tok and "." not in tok:
            items.append(Element(tok))
        else:
            items.append(tok)
    return items


def unparse(items):
    out = []
    for item in items:
        if isinstance(item, Element):
            out.append(item.factory)
            out += ["%s=%s" % (k, v) for k, v in item.props]
        else:
            out.append(item)
    return out


class Rewriter:
    def __init__(self, root, fixture, tmpdir):
        self.root, self.fixture, self.tmpdir = root, fixture, tmpdir
        self.made = set()  # basenames written in tmpdir
        self.inputs = []  # (path, pipeline) to make before the line
        # Off for lines that must fail: a size or a missing model folder
        # may be the error they show.
        self.adapt = True

    def local(self, location):
        return os.path.join(self.tmpdir, os.path.basename(location))

    def input_file(self, location):
        name = os.path.basename(location)
        if name in self.made:
            return self.local(location)
        if os.path.exists(os.path.join(self.root, location)):
            return location
        ext = os.path.splitext(name)[1].lower()
        if ext not in INPUT_RECIPES:
            raise DocError("input %s does not exist and the test cannot make "
                           "a %s file" % (location, ext or "extension-less"))
        frames = 1 if ext in (".png", ".jpg", ".jpeg") else INPUT_FRAMES
        path = self.local(location)
        self.inputs.append((path, (
            "videotestsrc num-buffers=%d ! video/x-raw,width=64,height=48,"
            "framerate=16/1 ! %s ! filesink location=%s"
            % (frames, INPUT_RECIPES[ext], shlex.quote(path)))))
        self.made.add(name)
        return path

    def model(self, element):
        model = element.get("model")
        if self.adapt and model is not None and not os.path.isdir(
                os.path.join(self.root, os.path.expanduser(model))):
            element.set("model", self.fixture)

    def sora(self, element, next_items):
        self.model(element)
        if self.adapt and element.get("device") not in (None, "auto", "cpu"):
            element.props.remove(["device", element.get("device")])
        steps = element.get("steps")
        if steps is None or int(steps) > MAX_STEPS:
            element.set("steps", str(SMALL_STEPS))
        if element.factory == "sorasrc":
            frames = element.get("num-frames")
            if frames is None or not 0 < int(frames) <= MAX_NUM_FRAMES:
                element.set("num-frames", str(MAX_NUM_FRAMES))
            clips = element.get("clips")
            if clips is not None and (int(clips) == 0 or
                                      int(clips) > MAX_CLIPS):
                element.set("clips", str(MAX_CLIPS))
            sized = (len(next_items) >= 2 and next_items[0] == "!" and
                     isinstance(next_items[1], str) and
                     CAPS_RE.match(next_items[1]) and
                     "width" in next_items[1])
            return not sized
        frames = element.get("extend-frames")
        if frames is None or int(frames) > MAX_EXTEND_FRAMES:
            element.set("extend-frames", str(MAX_EXTEND_FRAMES))
        return False

    def rewrite(self, items):
        out = []
        for i, item in enumerate(items):
            if not isinstance(item, Element):
                out.append(shrink_sizes(item)
                           if self.adapt and CAPS_RE.match(item) else item)
                continue
            f = item.factory
            if f in DISPLAY_SINKS:
                sink = Element("fakesink")
                sink.props = [p for p in item.props if p[0] in SINK_PROPS]
                item = sink
            elif f in CAMERAS:
                src = Element("videotestsrc")
                src.props = [p for p in item.props if p[0] == "name"]
                src.set("is-live", "true")
                item = src
            if item.factory == "videotestsrc" and \
                    item.get("num-buffers") is None:
                item.set("num-buffers", str(INPUT_FRAMES))
            if self.adapt and item.get("caps") is not None:
                item.set("caps", shrink_sizes(item.get("caps")))
            if item.factory in FILE_SINKS and item.get("location"):
                self.made.add(os.path.basename(item.get("location")))
                item.set("location", self.local(item.get("location")))
            if item.factory in FILE_SOURCES and item.get("location"):
                item.set("location", self.input_file(item.get("location")))
            out.append(item)
            if item.factory in ("sorasrc", "soraextend") and \
                    self.sora(item, items[i + 1:]):
                out += ["!", "video/x-raw,width=%d,height=%d"
                        % (MAX_SIDE, MAX_SIDE)]
        return out


def command(line, root, rewriter):
    """argv and extra environment for @line, rewritten to run here."""
    text = strip_comment(line.text)
    tokens = shlex.split(text)
    if tokens and tokens[0] == "$":
        tokens = tokens[1:]
    env = {}
    while tokens and ASSIGN_RE.match(tokens[0]):
        key, value = tokens.pop(0).split("=", 1)
        # The plugin and registry are the build's, whatever the doc says;
        # the model and device as for model= and device=.
        if key.startswith(("GST_PLUGIN_PATH", "GST_REGISTRY")) or (
                rewriter.adapt and (key == "GST_SORA_MODEL" or (
                    key == "SORA_DEVICE" and value not in ("auto", "cpu")))):
            continue
        env[key] = value
    for stop in ("|", "||", "&&", ";", "&"):
        if stop in tokens:
            tokens = tokens[:tokens.index(stop)]
    tokens = [t for t in tokens if not re.match(r"^[0-9]*[<>]", t)]
    expanded = [os.path.expandvars(t.replace("$PWD", root)) for t in tokens]
    argv, i = [expanded[0]], 1
    while i < len(expanded) and expanded[i].startswith("-"):
        argv.append(expanded[i])
        i += 1
    # After the rewrite: a model=$MODEL placeholder becomes the fixture.
    argv += unparse(rewriter.rewrite(parse_pipeline(expanded[i:])))
    unknown = [t for t in argv if "$" in t]
    if unknown:
        raise DocError("uses a shell variable or command the test cannot "
                       "know: %s" % " ".join(unknown))
    return argv, env


def run(argv, env, cwd, timeout=LINE_TIMEOUT_S):
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout)
        out = p.stdout.decode("utf-8", "replace")
        ok = p.returncode == 0 and "ERROR: from element" not in out
        why = "" if ok else "exit status %d" % p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        ok, why = False, "still running, stopped"
    return ok, why, out, time.monotonic() - t0


def check(line, root, base_env, rewriter):
    """None when @line passed, else why it failed."""
    rewriter.inputs = []
    rewriter.adapt = line.marker is None
    try:
        argv, extra = command(line, root, rewriter)
    except (DocError, ValueError) as e:
        return str(e)
    env = dict(base_env, **extra)
    for path, pipeline in rewriter.inputs:
        ok, why, out, _ = run(["gst-launch-1.0", "-q"] +
                              shlex.split(pipeline), env, root)
        if not ok:
            return "making the input %s failed (%s):\n%s" % (path, why, out)
        print("  made input %s" % os.path.basename(path))
    print("  runs: %s" % shlex.join(
        ["%s=%s" % kv for kv in extra.items()] + argv))
    fails = line.marker is not None and line.marker[0] == "fails"
    ok, why, out, seconds = run(argv, env, root,
                                FAILS_TIMEOUT_S if fails else LINE_TIMEOUT_S)
    tail = "\n".join(out.strip().split("\n")[-15:])
    if fails:
        if ok:
            return "succeeded, but the doc says it fails with %r" \
                % line.marker[1]
        if line.marker[1] not in out:
            return "failed without %r in its output:\n%s" \
                % (line.marker[1], tail)
        print("  failed as documented (%.1f s%s)" % (
            seconds, "; it did not exit and was stopped" if why.startswith(
                "still running") else ""))
        return None
    if not ok:
        return "%s after %.1f s:\n%s" % (why, seconds, tail)
    print("  ok (%.1f s)" % seconds)
    return None


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    plugin_dir = os.path.abspath(sys.argv[1])
    root = os.path.abspath(sys.argv[2])
    files = [os.path.abspath(f) for f in sys.argv[3:]] or doc_files(root)
    fixture = os.path.join(root, "tests", "fixtures", "wan-tiny")
    env = dict(os.environ)
    env.pop("GST_PLUGIN_PATH", None)
    env.update({
        "GST_PLUGIN_PATH_1_0": plugin_dir,
        "GST_REGISTRY_1_0": os.path.join(plugin_dir, "doc-test-registry.bin"),
        "GST_SORA_MODEL": fixture,
    })

    failures, passed, skipped = [], 0, 0
    t0 = time.monotonic()
    for path in files:
        rel = os.path.relpath(path, root)
        try:
            lines = (markdown_lines(path, rel) if path.endswith(".md")
                     else script_lines(path, rel))
        except DocError as e:  # its text starts with the file and line
            print("FAIL %s" % e)
            failures.append((None, str(e)))
            continue
        with tempfile.TemporaryDirectory(prefix="doc-test-") as tmpdir:
            rewriter = Rewriter(root, fixture, tmpdir)
            for line in lines:
                print("%s: %s" % (line.where(), " ".join(line.text.split())))
                if line.marker is not None and line.marker[0] == "skip":
                    print("  SKIP: %s" % line.marker[1])
                    skipped += 1
                    continue
                why = check(line, root, env, rewriter)
                if why is None:
                    passed += 1
                else:
                    print("  FAIL: %s" % why)
                    failures.append((line.where(), why))

    print("\n%d launch lines passed, %d skipped, %d failed in %.0f s"
          % (passed, skipped, len(failures), time.monotonic() - t0))
    for where, why in failures:
        why = why.split("\n")[0]
        print("FAIL %s" % ("%s: %s" % (where, why) if where else why))
    if passed + len(failures) == 0:
        print("FAIL: no launch line found in %s" % ", ".join(files))
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
