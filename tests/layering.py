#!/usr/bin/env python3
"""Fails when an #include runs against the layering (docs/architecture.md).

layering.py SOURCE_ROOT    checks the tree, prints every bad include
layering.py --self-test    checks that a tree with bad includes fails

Rooms, bottom up: common/ < ext/ < opencl/core < opencl/ops <
opencl/models < opencl/pipeline.  A room includes only its own headers and
those of rooms below it; the engine's rooms may also include the public
header (opencl/public/).  The public header includes only common/.  The
elements (gst/) and their gst-check tests (tests/check/) include only the
public header, common/ and their own folder; the fuzz targets (tests/fuzz/)
only ext/ and common/.  The two seams of the pipeline: sora-engine-internal.h
only inside opencl/pipeline/, sora-engine-test.h only there and in tests/.
Every quoted include must name a file of the tree or a generated header.
"""
import os
import re
import sys
import tempfile

RANKED = ["common", "ext", "opencl/core", "opencl/ops", "opencl/models",
          "opencl/pipeline"]
PUBLIC = "opencl/public"
# Written at build time, so not in the source tree.
GENERATED = {"config.h", "sora-kernels.h"}
SEAMS = {
    "sora-engine-internal.h": ["opencl/pipeline"],
    "sora-engine-test.h": ["opencl/pipeline", "tests"],
}
# Who may include which rooms, for the folders outside the ranked ones;
# a room's own folder is always allowed.
CONSUMERS = {
    "gst": {PUBLIC, "common"},
    "tests/check": {PUBLIC, "common"},
    "tests/fuzz": {"ext", "common"},
    PUBLIC: {"common"},
}
SOURCE_DIRS = ["common", "ext", "opencl", "gst", "tests", "tools"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def room_of(path):
    """The longest room prefix of @path (relative, '/'-separated)."""
    rooms = RANKED + [PUBLIC] + list(CONSUMERS) + ["tests", "tools"]
    best = None
    for room in rooms:
        if path == room or path.startswith(room + "/"):
            if best is None or len(room) > len(best):
                best = room
    return best


def allowed(src_room, dst_room):
    if src_room == dst_room:
        return True
    if src_room in RANKED:
        if dst_room == PUBLIC:
            return RANKED.index(src_room) >= RANKED.index("opencl/core")
        return (dst_room in RANKED and
                RANKED.index(dst_room) <= RANKED.index(src_room))
    if src_room in CONSUMERS:
        return dst_room in CONSUMERS[src_room]
    # tests/ and tools/ drive the engine's insides on purpose.
    return True


def sources(root):
    for top in SOURCE_DIRS:
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if name.endswith((".c", ".h")):
                    full = os.path.join(dirpath, name)
                    yield os.path.relpath(full, root).replace(os.sep, "/")


def check(root):
    files = list(sources(root))
    by_name = {}
    for f in files:
        by_name.setdefault(os.path.basename(f), []).append(f)
    problems = []
    for f in files:
        src_room = room_of(f)
        if src_room is None:
            problems.append(f + " lies in no room")
            continue
        with open(os.path.join(root, f), encoding="utf-8") as fp:
            text = fp.read()
        for m in INCLUDE.finditer(text):
            inc = os.path.basename(m.group(1))
            line = text.count("\n", 0, m.start()) + 1
            where = "%s:%d: \"%s\"" % (f, line, m.group(1))
            targets = by_name.get(inc, [])
            if not targets:
                if inc not in GENERATED:
                    problems.append(where + " is no file of the tree")
                continue
            if len(targets) > 1:
                problems.append(where + " is ambiguous: " + ", ".join(targets))
                continue
            dst_room = room_of(targets[0])
            if not allowed(src_room, dst_room):
                problems.append("%s: %s may not include %s" %
                                (where, src_room, targets[0]))
            seam_rooms = SEAMS.get(inc)
            if seam_rooms and src_room not in seam_rooms and not any(
                    src_room.startswith(r + "/") for r in seam_rooms):
                problems.append("%s: the seam %s is not for %s" %
                                (where, inc, src_room))
    return len(files), problems


def self_test():
    """A tree with one include of each forbidden kind: all must be found."""
    tree = {
        "common/sora-error.h": "",
        "ext/safetensors/sora-safetensors.c": '#include "sora-tensor.h"\n',
        "opencl/core/sora-tensor.h": '#include "sora-op.h"\n',
        "opencl/ops/sora-op.h": '#include "sora-error.h"\n',
        "opencl/public/sora-engine.h": '#include "sora-op.h"\n',
        "opencl/pipeline/sora-engine-internal.h": "",
        "opencl/pipeline/sora-engine-test.h": "",
        "gst/gstsorasrc.c": '#include "sora-engine.h"\n'
                            '#include "sora-engine-test.h"\n',
        "tests/check/elements/sorasrc.c": '#include "sora-tensor.h"\n',
        "tests/fuzz/fuzz-x.c": '#include "sora-engine.h"\n',
        "tools/x.c": '#include "sora-engine-internal.h"\n#include "nope.h"\n',
        "opencl/sora-loose.c": "",
    }
    expected = [
        "ext/safetensors/sora-safetensors.c:1",  # ext -> core
        "opencl/core/sora-tensor.h:1",  # core -> ops
        "opencl/public/sora-engine.h:1",  # public -> ops
        "gst/gstsorasrc.c:2",  # gst -> pipeline, and the test seam
        "tests/check/elements/sorasrc.c:1",  # element test -> core
        "tests/fuzz/fuzz-x.c:1",  # fuzz -> public
        "tools/x.c:1",  # the internal seam outside pipeline/
        "tools/x.c:2",  # no such file
        "opencl/sora-loose.c",  # an engine file outside the rooms
    ]
    with tempfile.TemporaryDirectory() as root:
        for path, text in tree.items():
            os.makedirs(os.path.dirname(os.path.join(root, path)),
                        exist_ok=True)
            with open(os.path.join(root, path), "w") as fp:
                fp.write(text)
        _, problems = check(root)
    missed = [e for e in expected
              if not any(p.startswith(e + ":") or p.startswith(e + " ")
                         for p in problems)]
    allowed_lines = ("opencl/ops/sora-op.h", "gst/gstsorasrc.c:1")
    wrong = [p for p in problems if p.startswith(allowed_lines)]
    for p in problems:
        print("found (as it should): " + p)
    for e in missed:
        print("MISSED: bad include at %s not found" % e)
    for p in wrong:
        print("WRONG: allowed include reported: " + p)
    return 1 if missed or wrong else 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    n, problems = check(sys.argv[1])
    for p in problems:
        print(p)
    print("%d files, %d includes against the layering" % (n, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
