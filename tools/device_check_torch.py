#!/usr/bin/env python3
"""The PyTorch side of tools/device-check.sh: f32 GEMM at the DiT's shapes
(TF32 off), the same in bf16 (the rate the matrix-unit path, SORA_PRECISION
=bf16, is held against), and f32 and bf16 scaled-dot-product attention on
one CUDA device, timed with CUDA events (best of 5 after one untimed run),
printed as one JSON object.  With --dit, only one CFG denoising step
(batch 2) of the 1.3B-shaped 30-block Wan transformer (random weights) at
480p, 81 frames (32,760 tokens), in bf16 (issue 20's step to hold the
engine's SORA_PRECISION=bf16 against; 2 blocks on 4 x 4 latents with
--quick).  Prints {"skipped": reason} when torch or CUDA is missing.

    python3 tools/device_check_torch.py [--quick] [--dit]
"""
import json
import sys


def best_ms(torch, fn, runs=5):
    fn()
    torch.cuda.synchronize()
    best = None
    for _ in range(runs):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        ms = start.elapsed_time(end)
        best = ms if best is None else min(best, ms)
    return best


def dit_step(torch, dev, quick):
    """Seconds of one bf16 CFG step, best of 3 after one untimed."""
    from diffusers import WanTransformer3DModel
    layers, frames, h, w = (2, 1, 4, 4) if quick else (30, 21, 60, 104)
    model = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128,
        in_channels=16, out_channels=16, text_dim=4096, freq_dim=256,
        ffn_dim=8960, num_layers=layers, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads").eval().to(dev, torch.bfloat16)
    lat = torch.randn(2, 16, frames, h, w, device=dev, dtype=torch.bfloat16)
    text = torch.randn(2, 512, 4096, device=dev, dtype=torch.bfloat16)
    t = torch.tensor([500.0, 500.0], device=dev)
    with torch.no_grad():
        ms = best_ms(torch, lambda: model(lat, t, text, return_dict=False),
                     runs=3)
    return {"layers": layers, "latent": [2, 16, frames, h, w],
            "tokens": frames * h * w // 4, "dtype": "bfloat16",
            "seconds": ms / 1e3,
            "peak_bytes": torch.cuda.max_memory_allocated()}


def main():
    quick = "--quick" in sys.argv[1:]
    try:
        import torch
        import torch.nn.functional as F
    except ImportError as e:
        print(json.dumps({"skipped": "no torch: %s" % e}))
        return 0
    if not torch.cuda.is_available():
        print(json.dumps({"skipped": "torch has no CUDA device"}))
        return 0
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    if "--dit" in sys.argv[1:]:
        print(json.dumps({"device": torch.cuda.get_device_name(0),
                          "dit_step": dit_step(torch, dev, quick)}))
        return 0
    out = {"device": torch.cuda.get_device_name(0),
           "torch": torch.__version__, "cuda": torch.version.cuda,
           "gemm": [], "attention": []}
    rows = (96,) if quick else (4096, 32760)
    for dtype in (torch.float32, torch.bfloat16):
        for m in rows:
            for n, k in ((1536, 1536), (8960, 1536), (1536, 8960)):
                x = torch.randn(m, k, device=dev, dtype=dtype)
                w = torch.randn(n, k, device=dev, dtype=dtype)
                ms = best_ms(torch, lambda: x @ w.t())
                out["gemm"].append({"shape": "%dx%dx%d" % (m, n, k),
                                    "dtype": str(dtype)[6:], "ms": ms,
                                    "gflops": 2.0 * m * n * k / ms / 1e6})
                del x, w
    n, heads, dim = (256, 2, 128) if quick else (32760, 12, 128)
    for dtype in (torch.float32, torch.bfloat16):
        q, k, v = (torch.randn(1, heads, n, dim, device=dev, dtype=dtype)
                   for _ in range(3))
        ms = best_ms(torch, lambda: F.scaled_dot_product_attention(q, k, v))
        out["attention"].append({"n": n, "heads": heads, "dim": dim,
                                 "dtype": str(dtype)[6:], "ms": ms,
                                 "gflops": 4.0 * n * n * dim * heads / ms
                                 / 1e6})
        del q, k, v
    out["peak_bytes"] = torch.cuda.max_memory_allocated()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
