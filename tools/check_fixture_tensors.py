#!/usr/bin/env python3
"""Checks that model folders hold exactly the tensors the engine reads.

    check_fixture_tensors.py SORA_TOOL FOLDER|RECIPE.json...
    check_fixture_tensors.py SORA_TOOL --self-test FOLDER

The engine's list, with shapes, is `sora-tool inspect --json FOLDER` (the
models' tables in opencl/models/ applied to the folder's configs); the
folder's is the headers of its safetensors files, as tools/make_fixtures.py
wrote them from the diffusers and transformers classes.  A recipe
(reference/wide-recipe.json) is checked the same way: its "tensors" against
the table for its "config", through a folder of that config with no
weights, the other components linked from the recipe's wan-tiny.  A tensor on one
side only, or shaped otherwise, fails: the two lists cannot drift apart.
make_fixtures.py runs this on every folder it writes; meson test
fixture-tensors on the committed fixtures.  --self-test copies FOLDER, adds
a tensor to one copy and drops one from another, and fails unless both are
reported.  Needs neither torch nor numpy.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile


def engine_tensors(sora_tool, folder):
    """{component: [{"name", "shape", "alt_name"?}]} from sora-tool."""
    out = subprocess.run([sora_tool, "inspect", "--json", folder],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit("%s inspect --json %s failed: %s"
                         % (sora_tool, folder, out.stderr.strip()))
    return json.loads(out.stdout)["tensors"]


def read_header(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return header


def weight_files(directory):
    """The component's safetensors files: the shards of its index, else
    its one file."""
    names = sorted(os.listdir(directory))
    index = [n for n in names if n.endswith(".safetensors.index.json")]
    if index:
        with open(os.path.join(directory, index[0])) as f:
            shards = sorted(set(json.load(f)["weight_map"].values()))
        return [os.path.join(directory, s) for s in shards]
    files = [n for n in names if n.endswith(".safetensors")]
    if len(files) != 1:
        raise SystemExit("%s: %d *.safetensors files, expected one"
                         % (directory, len(files)))
    return [os.path.join(directory, files[0])]


def folder_tensors(directory):
    """{name: shape} over the component's files."""
    tensors = {}
    for path in weight_files(directory):
        for name, info in read_header(path).items():
            tensors[name] = info["shape"]
    return tensors


def compare(folder, component, expected, held):
    """The differences between the engine's list and the files, as
    messages."""
    where = (os.path.join(folder, component) if os.path.isdir(folder)
             else "%s %s" % (folder, component))
    problems = []
    known = set()
    for e in expected:
        names = [e["name"]] + ([e["alt_name"]] if "alt_name" in e else [])
        known.update(names)
        found = [n for n in names if n in held]
        if not found:
            problems.append("%s lacks %s %s, which the engine reads"
                            % (where, e["name"], e["shape"]))
        for n in found:
            if held[n] != e["shape"]:
                problems.append("%s: %s is %s there, %s in the engine's "
                                "table" % (where, n, held[n], e["shape"]))
    for name in sorted(set(held) - known):
        problems.append("%s holds %s %s, which the engine's table lacks"
                        % (where, name, held[name]))
    return problems


def check_folder(sora_tool, folder):
    problems = []
    for component, expected in engine_tensors(sora_tool, folder).items():
        held = folder_tensors(os.path.join(folder, component))
        problems += compare(folder, component, expected, held)
    return problems


def check_recipe(sora_tool, path):
    with open(path) as f:
        recipe = json.load(f)
    tiny = os.path.join(os.path.dirname(os.path.abspath(path)), "..",
                        "wan-tiny")
    with tempfile.TemporaryDirectory() as tmp:
        for part in ("model_index.json", "scheduler", "text_encoder",
                     "tokenizer", "vae"):
            os.symlink(os.path.join(tiny, part), os.path.join(tmp, part))
        sub = os.path.join(tmp, "transformer")
        os.makedirs(sub)
        with open(os.path.join(sub, "config.json"), "w") as f:
            json.dump(dict(recipe["config"],
                           _class_name="WanTransformer3DModel"), f)
        empty = json.dumps({}).encode()
        with open(os.path.join(sub, "empty.safetensors"), "wb") as f:
            f.write(struct.pack("<Q", len(empty)) + empty)
        expected = engine_tensors(sora_tool, tmp)["transformer"]
    held = {name: t["shape"] for name, t in recipe["tensors"].items()}
    return compare(path, "(tensors)", expected, held)


# --- self-test -------------------------------------------------------------
def rewrite(path, drop=None, add=None):
    """Rewrites a safetensors file without tensor @drop, or with an extra
    F32 tensor @add of shape [2]."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None)
    out, blob = {}, b""
    for name, info in header.items():
        if name == drop:
            continue
        start, end = info["data_offsets"]
        out[name] = dict(info, data_offsets=[len(blob),
                                             len(blob) + end - start])
        blob += data[start:end]
    if add:
        out[add] = {"dtype": "F32", "shape": [2],
                    "data_offsets": [len(blob), len(blob) + 8]}
        blob += b"\0" * 8
    if meta is not None:
        out["__metadata__"] = meta
    text = json.dumps(out).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + blob)


def self_test(sora_tool, folder):
    planted = {"add": "blocks.0.planted.weight", "drop": "proj_out.bias"}
    ok = True
    for how, name in planted.items():
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "model")
            shutil.copytree(folder, copy, symlinks=False)
            files = weight_files(os.path.join(copy, "transformer"))
            rewrite(files[-1], **{how: name})
            problems = check_folder(sora_tool, copy)
            reported = any(name in p for p in problems)
            print("%s %s: %s" % (how, name, "; ".join(problems) or
                                 "nothing reported"))
            ok = ok and reported and len(problems) == 1
    return ok


def main(argv):
    if len(argv) >= 4 and argv[2] == "--self-test":
        ok = self_test(argv[1], argv[3])
        print("self-test %s" % ("passed" if ok else "FAILED"))
        return 0 if ok else 1
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    problems = []
    for folder in argv[2:]:
        check = check_recipe if folder.endswith(".json") else check_folder
        found = check(argv[1], folder)
        print("%s: %s" % (folder, "; ".join(found) or
                          "the same tensors as the engine's tables"))
        problems += found
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
