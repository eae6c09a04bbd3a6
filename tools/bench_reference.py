#!/usr/bin/env python3
"""The PyTorch side of `sora-tool bench model`: times one component of a
diffusers-layout model folder on the CPU in float32, on the same inputs as
the engine (make_fixtures.py's counter-based generator), and prints one JSON
line with the figures.

    python tools/bench_reference.py dit --folder DIR --latents 2,16,1,16,16 \\
        --text 512 [--warmup 2,16,1,2,2] [--compare OUT.safetensors]
    python tools/bench_reference.py umt5 --folder DIR --batch 1 --seq 512
    python tools/bench_reference.py vae --folder DIR --latents 16,3,8,8

Weights stored as f16/bf16 are widened to float32, as the engine computes.
The DiT runs on $SORA_BENCH_TORCH_DEVICE (default cpu; cuda for
tools/device-check.sh) in $SORA_BENCH_TORCH_DTYPE (default float32;
bfloat16 to hold the engine's SORA_PRECISION=bf16 against PyTorch bf16).
Times are the best of at least 3 and up to 5 runs within about a second
after one untimed run (the DiT's untimed run on --warmup latents when given); wall and process
CPU seconds.  Prints {"skipped": reason} when torch or diffusers is
missing.
"""
import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def shape_arg(text):
    return tuple(int(x) for x in text.split(","))


def inputs(name, shape):
    """Deterministic inputs, the same as the engine's sora_recipe_values."""
    import numpy as np
    import torch
    from make_fixtures import recipe_values

    n = int(np.prod(shape))
    return torch.from_numpy(recipe_values(name, n, 1.0, 0.0)).reshape(shape)


def timed(fn, warmup):
    warmup()
    walls, cpus = [], []
    while len(walls) < 3 or (sum(walls) < 1.0 and len(walls) < 5):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return out, min(walls), min(cpus), len(walls)


def rel_l2(got, path):
    from safetensors.torch import load_file

    want = load_file(path)["output"]
    got = got.float().reshape(want.shape)
    return ((got - want).norm() / want.norm()).item()


def run_dit(args):
    import torch
    from diffusers import WanTransformer3DModel

    dev = torch.device(os.environ.get("SORA_BENCH_TORCH_DEVICE", "cpu"))
    dtype = getattr(torch, os.environ.get("SORA_BENCH_TORCH_DTYPE",
                                          "float32"))
    model = WanTransformer3DModel.from_pretrained(
        os.path.join(args.folder, "transformer"),
        torch_dtype=dtype).eval().to(dev)
    cfg = model.config
    latents = inputs("bench.latents", args.latents).to(dev, dtype)
    batch = args.latents[0]
    text = inputs("bench.text", (batch, args.text, cfg.text_dim)).to(dev,
                                                                      dtype)
    t = torch.full((batch,), 500.0, device=dev)

    def fwd(x):
        out = model(x, t, text, return_dict=False)[0]
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return out.float().cpu()

    warm = args.warmup and inputs("bench.latents", args.warmup).to(dev, dtype)
    return timed(lambda: fwd(latents),
                 lambda: fwd(warm if args.warmup else latents))


def umt5_ids(batch, seq, vocab):
    import torch

    i = torch.arange(batch * seq, dtype=torch.int64)
    return ((i * 7919 + 3) % vocab).reshape(batch, seq)


def run_umt5(args):
    import torch
    from transformers import UMT5EncoderModel

    model = UMT5EncoderModel.from_pretrained(
        os.path.join(args.folder, "text_encoder"),
        torch_dtype=torch.float32).eval()
    ids = umt5_ids(args.batch, args.seq, model.config.vocab_size)
    mask = torch.ones_like(ids)

    def fwd():
        return model(ids, mask).last_hidden_state

    return timed(fwd, fwd)


def run_vae(args):
    import torch
    from diffusers import AutoencoderKLWan

    vae = AutoencoderKLWan.from_pretrained(
        os.path.join(args.folder, "vae"), torch_dtype=torch.float32).eval()
    z = inputs("bench.latents", args.latents).unsqueeze(0)
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)

    def fwd():
        return vae.decode(z * std + mean, return_dict=False)[0]

    return timed(fwd, fwd)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="component", required=True)
    dit = sub.add_parser("dit")
    dit.add_argument("--latents", type=shape_arg, required=True)
    dit.add_argument("--text", type=int, required=True)
    dit.add_argument("--warmup", type=shape_arg)
    umt5 = sub.add_parser("umt5")
    umt5.add_argument("--batch", type=int, default=1)
    umt5.add_argument("--seq", type=int, required=True)
    vae = sub.add_parser("vae")
    vae.add_argument("--latents", type=shape_arg, required=True)
    for p in (dit, umt5, vae):
        p.add_argument("--folder", required=True)
        p.add_argument("--compare",
                       help="safetensors with the engine's \"output\"")
        p.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    try:
        import torch
        import diffusers  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as e:
        print(json.dumps({"skipped": "cannot import %s" % e.name}))
        return
    torch.set_grad_enabled(False)
    torch.set_num_threads(args.threads)
    run = {"dit": run_dit, "umt5": run_umt5, "vae": run_vae}[args.component]
    out, wall, cpu, runs = run(args)
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "seconds": wall, "cpu_seconds": cpu, "runs": runs,
              # Linux reports kilobytes.
              "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
              / 1024.0}
    if args.compare:
        result["rel_l2"] = rel_l2(out, args.compare)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
