#!/usr/bin/env python3
"""The RoPE split of diffusers' Wan transformer against Wan's, for run-dit.

diffusers 0.35 builds the RoPE table of WanRotaryPosEmbed with the axes
[D - 4*(D//6), 2*(D//6), 2*(D//6)] (Wan's) but slices it with
[D - 2*(D//3), D//3, D//3]; both agree unless D % 6 == 4 (40, 64, ...).
This writes a model folder (wan-tiny with a random 2-block transformer of
head dim D) and two references for `sora-tool run-dit`: diffusers as it is,
and diffusers with the slices of its table (Wan's split, what the engine
computes).  docs/models.md quotes the figures.

    .venv/bin/python tools/rope_split_reference.py OUT_DIR D [F,H,W]
    build/tools/sora-tool/sora-tool run-dit OUT_DIR OUT_DIR/ref-diffusers.safetensors
    build/tools/sora-tool/sora-tool run-dit OUT_DIR OUT_DIR/ref-wan-split.safetensors
"""
import os
import shutil
import sys
import types

import torch
from diffusers import WanTransformer3DModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402


def wan_split_forward(self, hidden_states):
    """WanRotaryPosEmbed.forward slicing the table as it was built."""
    _, _, f, h, w = hidden_states.shape
    p_t, p_h, p_w = self.patch_size
    ppf, pph, ppw = f // p_t, h // p_h, w // p_w
    hw = 2 * (self.attention_head_dim // 6)
    split = [self.attention_head_dim - 2 * hw, hw, hw]
    out = []
    for table in (self.freqs_cos, self.freqs_sin):
        t = table.split(split, dim=1)
        out.append(torch.cat([
            t[0][:ppf].view(ppf, 1, 1, -1).expand(ppf, pph, ppw, -1),
            t[1][:pph].view(1, pph, 1, -1).expand(ppf, pph, ppw, -1),
            t[2][:ppw].view(1, 1, ppw, -1).expand(ppf, pph, ppw, -1),
        ], dim=-1).reshape(1, ppf * pph * ppw, 1, -1))
    return tuple(out)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    folder, head_dim = sys.argv[1], int(sys.argv[2])
    grid = [int(x) for x in (sys.argv[3] if len(sys.argv) == 4
                             else "3,6,10").split(",")]
    torch.set_grad_enabled(False)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(os.path.join(mf.FIXTURES, "wan-tiny"), folder)
    shutil.rmtree(os.path.join(folder, "transformer"))
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2,
        attention_head_dim=head_dim, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=64, num_layers=2,
        cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        rope_max_seq_len=64).eval()
    mf.randomize(transformer, 1)
    transformer.save_pretrained(os.path.join(folder, "transformer"),
                                safe_serialization=True)
    g = torch.Generator().manual_seed(42)
    latents = torch.randn(1, 16, *grid, generator=g)
    timestep = torch.tensor([757.0])
    text = torch.randn(1, 16, 32, generator=g)
    ref = mf.dit_reference(transformer, latents, timestep, text)
    mf.save(os.path.join(folder, "ref-diffusers.safetensors"), ref)
    transformer.rope.forward = types.MethodType(wan_split_forward,
                                                transformer.rope)
    wan = mf.dit_reference(transformer, latents, timestep, text)
    mf.save(os.path.join(folder, "ref-wan-split.safetensors"), wan)
    a, b = ref["output"], wan["output"]
    print("D %d, latent grid %s: diffusers vs Wan split: output relative L2 "
          "%.3g, max abs %.3g" % (head_dim, grid,
                                  ((a - b).norm() / a.norm()).item(),
                                  (a - b).abs().max().item()))


if __name__ == "__main__":
    main()
