#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PyTorch reference of the whole causal (Self-Forcing / LongLive class)
sampling loop of a diffusers Wan folder whose transformer config carries
"_sora_causal" (chunk_frames, window_frames, sink_frames, steps, shift,
context_timestep), for the engine's stream to be compared with.

The loop, chunk c holding latent frames [s, e = s + chunk_frames):
  sigma(step) = shift u / (1 + (shift - 1) u), u = step / 1000;
  timestep = 1000 sigma.
  x = noise(c, draw 0); for each step i: v = DiT(x at its timestep,
  attending the cache and itself); x0 = x - sigma v; before the last step
  x = (1 - sigma') x0 + sigma' noise(c, draw i + 1), sigma' the next
  step's.  The clean chunk is the last x0; its K/V go into the cache from a
  pass at context_timestep (sigma = t / 1000 of noise(c, draw len(steps))
  added, nothing at 0).  No classifier-free guidance.

The KV cache is implicit here: each step is one masked full-sequence
forward of diffusers' WanTransformer3DModel over the context frames (the
clean chunks, at context_timestep) plus the noisy chunk (at its timestep),
per-token timesteps ([B, seq_len], which diffusers 0.35 accepts), the
block-causal mask of tools/causal_attention.py by absolute frame position,
and RoPE at the absolute positions.  A cached frame's K/V depend only on the
frames it attended when it was written, and those are exactly the frames the
mask lets it attend in this forward, so the outputs are the KV-cached ones
(checked against an explicit K/V cache by --self-check).

A prompt switch at chunk c (LongLive's re-cache): the context keeps only
the frames chunk c attends (the sink and the window), re-run with the new
text; so the sequence after a switch starts with those frames at their
absolute positions, and the older ones are gone.

noise(c, draw) is Philox4x32-10 like opencl/pipeline/sora-noise.c
sora_noise_normal (seed) with the block counter {i, i >> 32, c, draw}
(chunk 0, draw 0 is sora_noise_normal itself), in C order of the chunk's
[1, C, chunk_frames, h, w] latents.

Decoding: the whole latent sequence through AutoencoderKLWan.  That VAE is
causal and diffusers decodes latent frame by latent frame with its feature
cache, so the frames equal a chunk-by-chunk streaming decode: chunk 0 gives
1 + 4 (chunk_frames - 1) frames, every later chunk 4 chunk_frames.

usage: python3 tools/causal_reference.py MODEL [--prompt P] [--switch C:P]
           [--chunks N] [--seed S] [--size WxH] [--out frames.npy]
       python3 tools/causal_reference.py --self-check
       python3 tools/causal_reference.py --fixture   (make_fixture, below;
           also tools/make_fixtures.py causal-stream)
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from causal_attention import (BlockCausalProcessor, frame_attends,  # noqa
                              install_full)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TEXT_LENGTH = 512  # WanPipeline's padded prompt length, as the engine's

# --- noise -------------------------------------------------------------------
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = 0x9E3779B9, 0xBB67AE85
_LO = np.uint64(0xFFFFFFFF)


def philox4x32_10(counter, key):
    """Philox4x32-10 of uint32 arrays counter [4, n] and key (k0, k1)."""
    c0, c1, c2, c3 = (np.asarray(w, dtype=np.uint32) for w in counter)
    k0, k1 = key
    for _ in range(10):
        p0 = _M0 * c0.astype(np.uint64)
        p1 = _M1 * c2.astype(np.uint64)
        hi0, lo0 = (p0 >> np.uint64(32)).astype(np.uint32), \
            (p0 & _LO).astype(np.uint32)
        hi1, lo1 = (p1 >> np.uint64(32)).astype(np.uint32), \
            (p1 & _LO).astype(np.uint32)
        c0, c1, c2, c3 = hi1 ^ c1 ^ np.uint32(k0), lo1, \
            hi0 ^ c3 ^ np.uint32(k1), lo0
        k0, k1 = (k0 + _W0) & 0xFFFFFFFF, (k1 + _W1) & 0xFFFFFFFF
    return c0, c1, c2, c3


def noise(seed, chunk, draw, n):
    """@n standard normals (float32) of @seed, @chunk, @draw."""
    blocks = (n + 3) // 4
    i = np.arange(blocks, dtype=np.uint64)
    counter = ((i & _LO).astype(np.uint32), (i >> np.uint64(32)).astype(
        np.uint32), np.full(blocks, chunk, np.uint32),
        np.full(blocks, draw, np.uint32))
    w = philox4x32_10(counter, (seed & 0xFFFFFFFF, seed >> 32))
    z = []
    for p in range(2):
        u1 = (w[2 * p].astype(np.float64) + 0.5) / 4294967296.0
        u2 = (w[2 * p + 1].astype(np.float64) + 0.5) / 4294967296.0
        r = np.sqrt(-2.0 * np.log(u1))
        z += [r * np.cos(2.0 * np.pi * u2), r * np.sin(2.0 * np.pi * u2)]
    return np.stack(z, 1).reshape(-1)[:n].astype(np.float32)


def chunk_noise(seed, chunk, draw, shape):
    return torch.from_numpy(noise(seed, chunk, draw, int(np.prod(shape)))
                            ).view(shape)


# --- model -------------------------------------------------------------------
def sigma(step, shift):
    u = step / 1000.0
    return shift * u / (1 + (shift - 1) * u)


# A stream of a model attending every past frame (window_frames 0) attends
# at most the latent frames of its training clip ("_sora_native_size"), else
# these (Self-Forcing's 32760-token cache), then rolls that window: as
# opencl/pipeline/sora-stream.c stream_window.
GLOBAL_WINDOW_FRAMES = 21


def stream_window(config, cfg):
    """The window the engine's stream uses for transformer @config (the
    config.json object) and its "_sora_causal" settings @cfg."""
    if cfg["window_frames"]:
        return cfg["window_frames"]
    native = config.get("_sora_native_size")
    trained = 1 + (native[2] - 1) // 4 if native else GLOBAL_WINDOW_FRAMES
    # diffusers' defaults where the config leaves them out
    max_frames = (config.get("rope_max_seq_len", 1024)
                  * config.get("patch_size", [1, 2, 2])[0])
    room = max(max_frames - cfg["sink_frames"], 0)
    chunk = cfg["chunk_frames"]
    return max(min(trained, room) // chunk, 1) * chunk


def load(folder):
    """WanPipeline of @folder in f32 and its "_sora_causal" settings, the
    window as the engine's stream uses it."""
    from diffusers import WanPipeline
    pipe = WanPipeline.from_pretrained(folder, torch_dtype=torch.float32)
    with open(os.path.join(folder, "transformer", "config.json")) as f:
        config = json.load(f)
    cfg = dict({"window_frames": 0, "sink_frames": 0, "shift": 5.0,
                "context_timestep": 0}, **config["_sora_causal"])
    cfg["window_frames"] = stream_window(config, cfg)
    return pipe, cfg


def encode_prompt(pipe, prompt):
    """[1, 512, text_dim] as WanPipeline hands it to the DiT."""
    return pipe.encode_prompt(prompt, do_classifier_free_guidance=False,
                              max_sequence_length=TEXT_LENGTH)[0]


def rope_at(dit, positions, height, width):
    """diffusers' RoPE (cos, sin) for the frames at absolute @positions."""
    n = max(positions) + 1
    probe = torch.zeros(1, 1, n, height, width)
    cos, sin = dit.rope(probe)
    tpf = cos.shape[1] // n
    idx = torch.tensor(positions)

    def pick(f):
        return f.view(n, tpf, -1)[idx].reshape(1, len(positions) * tpf, 1, -1)
    return pick(cos), pick(sin)


class FixedRope(torch.nn.Module):
    def __init__(self, freqs):
        super().__init__()
        self.freqs = freqs

    def forward(self, hidden_states):
        return self.freqs


def forward(dit, latents, positions, timesteps, text, cfg):
    """The DiT on latent frames [1, C, F, h, w] at absolute @positions (F
    of them, ascending), frame f at timestep @timesteps[f], under the
    block-causal mask of cfg by absolute position."""
    _, _, frames, height, width = latents.shape
    pt, ph, pw = dit.config.patch_size
    tpf = (height // ph) * (width // pw)
    mask = torch.tensor([[frame_attends(q, j, cfg["chunk_frames"],
                                        cfg["window_frames"],
                                        cfg["sink_frames"])
                          for j in positions] for q in positions])
    mask = mask.repeat_interleave(tpf, 0).repeat_interleave(tpf, 1)
    t = torch.tensor(timesteps, dtype=torch.float32).repeat_interleave(tpf)
    rope = dit.rope
    dit.set_attn_processor(BlockCausalProcessor(mask))
    dit.rope = FixedRope(rope_at(dit, positions, height, width))
    try:
        return dit(latents, t[None], text, return_dict=False)[0]
    finally:
        dit.rope = rope
        install_full(dit)


class Stream:
    """The causal loop's state: the clean context frames (latents and
    absolute positions) since the start or the last prompt switch."""

    def __init__(self, pipe, cfg, seed, height, width, guidance=1.0):
        self.dit, self.cfg, self.seed = pipe.transformer, cfg, seed
        self.guidance = guidance
        self.shape = (1, pipe.transformer.config.in_channels,
                      cfg["chunk_frames"], height // 8, width // 8)
        self.context = None  # [1, C, n, h, w] at context_timestep
        self.positions = []
        self.clean = []  # every clean chunk, for decoding

    def switch(self, chunk):
        """Keep only the frames @chunk attends (sink and window)."""
        first = chunk * self.cfg["chunk_frames"]
        keep = [i for i, p in enumerate(self.positions) if frame_attends(
            first, p, self.cfg["chunk_frames"], self.cfg["window_frames"],
            self.cfg["sink_frames"])]
        self.positions = [self.positions[i] for i in keep]
        self.context = self.context[:, :, keep] if keep else None

    def velocity(self, seq, positions, t, text):
        """The DiT's prediction; with guidance != 1 classifier-free guidance
        against the empty prompt (text is then (prompt, empty)): each
        branch is its own stream with its own cache."""
        if self.guidance == 1.0:
            return forward(self.dit, seq, positions, t, text, self.cfg)
        cond = forward(self.dit, seq, positions, t, text[0], self.cfg)
        uncond = forward(self.dit, seq, positions, t, text[1], self.cfg)
        return uncond + self.guidance * (cond - uncond)

    def chunk(self, c, text):
        cfg, steps = self.cfg, self.cfg["steps"]
        first = c * cfg["chunk_frames"]
        mine = list(range(first, first + cfg["chunk_frames"]))
        x = chunk_noise(self.seed, c, 0, self.shape)
        for i, step in enumerate(steps):
            s = sigma(step, cfg["shift"])
            if self.context is None:
                seq = x
            else:
                seq = torch.cat([self.context, x], 2)
            t = [float(cfg["context_timestep"])] * len(self.positions) + \
                [1000.0 * s] * len(mine)
            v = self.velocity(seq, self.positions + mine, t, text)
            x0 = x - s * v[:, :, -len(mine):]
            if i + 1 < len(steps):
                s1 = sigma(steps[i + 1], cfg["shift"])
                x = (1 - s1) * x0 + s1 * chunk_noise(self.seed, c, i + 1,
                                                     self.shape)
        self.clean.append(x0)
        s = cfg["context_timestep"] / 1000.0
        written = x0 if s == 0 else (1 - s) * x0 + s * chunk_noise(
            self.seed, c, len(steps), self.shape)
        self.context = written if self.context is None else torch.cat(
            [self.context, written], 2)
        self.positions += mine
        return x0


def decode(pipe, latents):
    """uint8 frames [F, H, W, 3] of normalized latents [1, C, n, h, w]."""
    vae = pipe.vae
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
    video = vae.decode(latents * std + mean, return_dict=False)[0]
    video = (video[0].permute(1, 2, 3, 0) * 0.5 + 0.5).clamp(0, 1)
    return (video * 255 + 0.5).to(torch.uint8).numpy()


@torch.no_grad()
def generate(pipe, cfg, prompts, chunks, seed, height, width, guidance=1.0):
    """(uint8 frames [F, H, W, 3], clean latents [1, C, n, h, w]) of
    @chunks chunks; @prompts maps a chunk index to the prompt that takes
    effect there (0 must be in it)."""
    stream = Stream(pipe, cfg, seed, height, width, guidance)
    text = None
    empty = encode_prompt(pipe, "") if guidance != 1.0 else None
    for c in range(chunks):
        if c in prompts:
            text = encode_prompt(pipe, prompts[c])
            text = text if empty is None else (text, empty)
            if c > 0:
                stream.switch(c)
        stream.chunk(c, text)
    latents = torch.cat(stream.clean, 2)
    return decode(pipe, latents), latents


def video_frames(chunk, chunk_frames):
    """Video frames [first, end) that latent chunk @chunk decodes to."""
    if chunk == 0:
        return 0, 1 + 4 * (chunk_frames - 1)
    first = 1 + 4 * (chunk * chunk_frames - 1)
    return first, first + 4 * chunk_frames


# --- self-check --------------------------------------------------------------
class CacheProcessor(BlockCausalProcessor):
    """Self-attention through an explicit K/V cache, the engine's way: the
    K/V (after norm_k and RoPE) of the frames written are kept; a chunk
    attends the kept frames the rule allows and itself."""

    def __init__(self, store, index):
        super().__init__(None)
        self.store, self.index = store, index

    def __call__(self, attn, hidden_states, encoder_hidden_states=None,
                 attention_mask=None, rotary_emb=None):
        if encoder_hidden_states is not None:
            return super().__call__(attn, hidden_states,
                                    encoder_hidden_states, None, None)
        captured = {}

        def sdpa(q, k, v, attn_mask=None, **kw):
            captured["k"], captured["v"] = k, v
            keys = self.store["allowed"](self.index)
            if keys:
                k = torch.cat([kk for kk, _ in keys] + [k], 1)
                v = torch.cat([vv for _, vv in keys] + [v], 1)
            return torch.nn.functional.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2),
                v.transpose(1, 2)).transpose(1, 2)
        import diffusers.models.transformers.transformer_wan as wan
        real = wan.dispatch_attention_fn
        wan.dispatch_attention_fn = sdpa
        try:
            out = super().__call__(attn, hidden_states, None, None,
                                   rotary_emb)
        finally:
            wan.dispatch_attention_fn = real
        self.store["last"][self.index] = (captured["k"], captured["v"])
        return out


@torch.no_grad()
def self_check(folder):
    """Checks, on a tiny causal folder: per-token timesteps all equal to t
    and a one-chunk mask give the plain forward; the masked full-sequence
    forward equals an explicit K/V cache chunk by chunk; the noise against
    values printed by the C code."""
    pipe, cfg = load(folder)
    dit = pipe.transformer
    cf = cfg["chunk_frames"]
    text = encode_prompt(pipe, "a red circle moving right")
    g = torch.Generator().manual_seed(3)
    x = torch.randn(1, 16, 3 * cf, 4, 6, generator=g)
    plain = dit(x, torch.tensor([600.0]), text, return_dict=False)[0]
    one = dict(cfg, chunk_frames=3 * cf, window_frames=0, sink_frames=0)
    masked = forward(dit, x, list(range(3 * cf)), [600.0] * 3 * cf, text,
                     one)
    err = ((masked - plain).abs().max() / plain.abs().max()).item()
    print("one chunk, per-token t vs plain forward: rel err %.2e" % err)
    assert err < 1e-5

    # explicit cache: chunks 0..3, each written at context_timestep, then
    # chunk 4 noisy; compare with the masked forward over all of them
    chunks = 5
    x = torch.randn(1, 16, chunks * cf, 4, 6, generator=g)
    cache = []  # per chunk: per block (k, v)

    tpf = 2 * 3  # tokens of a 4x6 latent frame

    def allowed(block):
        q = len(cache) * cf
        return [(k[:, f * tpf:(f + 1) * tpf], v[:, f * tpf:(f + 1) * tpf])
                for (c, kv) in enumerate(cache)
                for (k, v) in [kv[block]]
                for f in range(cf)
                if frame_attends(q, c * cf + f, cf, cfg["window_frames"],
                                 cfg["sink_frames"])]
    store = {"allowed": allowed, "last": {}}
    rope = dit.rope
    outs = []
    for c in range(chunks):
        for i, block in enumerate(dit.blocks):
            block.attn1.processor = CacheProcessor(store, i)
            block.attn2.processor = CacheProcessor(store, i)
        pos = list(range(c * cf, (c + 1) * cf))
        dit.rope = FixedRope(rope_at(dit, pos, 4, 6))
        t = 500.0 if c == chunks - 1 else float(cfg["context_timestep"])
        outs.append(dit(x[:, :, c * cf:(c + 1) * cf], torch.tensor([t]),
                        text, return_dict=False)[0])
        dit.rope = rope
        cache.append([store["last"][i] for i in range(len(dit.blocks))])
    install_full(dit)
    t = [float(cfg["context_timestep"])] * (chunks - 1) * cf + [500.0] * cf
    full = forward(dit, x, list(range(chunks * cf)), t, text, cfg)
    for c in range(chunks):
        ref = full[:, :, c * cf:(c + 1) * cf]
        err = ((outs[c] - ref).abs().max() / ref.abs().max()).item()
        print("chunk %d: KV cache vs masked full sequence: rel err %.2e"
              % (c, err))
        assert err < 1e-5
    check_noise()


# Printed by the C code (opencl/pipeline/sora-noise.c, "%.9g"):
# sora_noise_normal (seed, out, 4) and sora_philox4x32_10 ({0, 0, 1, 2},
# {42, 0}), the block of chunk 1, draw 2.
C_NORMALS = {42: [-0.97018981, 0.19401896, -1.23562074, 1.92392671],
             (1 << 40) + 5: [0.925970316, 1.06710863, 1.75547588,
                             0.483348548]}
C_PHILOX_42_C1_D2 = [4090560323, 3859952554, 145946737, 3852241422]


def check_noise():
    for seed, want in C_NORMALS.items():
        got = noise(seed, 0, 0, 4)
        print("noise(%d, chunk 0, draw 0)" % seed, got.tolist())
        assert np.allclose(got, want, rtol=1e-7, atol=1e-8)
    words = [int(w[0]) for w in philox4x32_10(([0], [0], [1], [2]), (42, 0))]
    print("philox counter {0, 0, 1, 2} key 42:", words)
    assert words == C_PHILOX_42_C1_D2
    print("noise(42, chunk 1, draw 2)[:4]", noise(42, 1, 2, 4).tolist())


# --- fixture -----------------------------------------------------------------
FIXTURE_MODEL = os.path.join(ROOT, "tests", "fixtures", "wan-tiny-causal")
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "reference",
                       "tiny-causal-stream.safetensors")
FIXTURE_PROMPTS = {0: "a red circle moving right on a black background",
                   3: "a blue square moving left on a white background"}
FIXTURE_SEED, FIXTURE_CHUNKS, FIXTURE_SIZE = 7, 5, (48, 32)


def make_fixture():
    """tests/fixtures/reference/tiny-causal-stream.safetensors: the loop on
    tests/fixtures/wan-tiny-causal, FIXTURE_CHUNKS chunks of a WxH =
    FIXTURE_SIZE stream, seed FIXTURE_SEED, the prompts of FIXTURE_PROMPTS
    (a switch at chunk 3).  Tensors (f32):
      latents        [1, C, chunks * chunk_frames, h, w] every clean chunk
      noise_c0_d0    [1, C, chunk_frames, h, w] chunk 0 draw 0 (equals
                     sora_noise_normal (seed))
      noise_c1_d1    chunk 1 draw 1, to check the counter words
      frames         [F, H, W, 3] the decoded stream in [0, 1] (before the
                     8-bit rounding), F = 1 + 4 (chunks * chunk_frames - 1)
      chunk_first    [chunks] first video frame of each chunk in frames
      prompt_chunks  [n] the chunks where a prompt takes effect
    with the metadata (strings) seed, chunks, width, height, prompts (JSON
    of chunk -> prompt) and command."""
    from safetensors.torch import save_file
    pipe, cfg = load(FIXTURE_MODEL)
    width, height = FIXTURE_SIZE
    frames, latents = generate(pipe, cfg, FIXTURE_PROMPTS, FIXTURE_CHUNKS,
                               FIXTURE_SEED, height, width)
    shape = (1, 16, cfg["chunk_frames"], height // 8, width // 8)
    vae = pipe.vae
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
    with torch.no_grad():
        video = vae.decode(latents * std + mean, return_dict=False)[0]
    video = (video[0].permute(1, 2, 3, 0) * 0.5 + 0.5).clamp(0, 1)
    tensors = {
        "latents": latents, "frames": video.contiguous(),
        "noise_c0_d0": chunk_noise(FIXTURE_SEED, 0, 0, shape),
        "noise_c1_d1": chunk_noise(FIXTURE_SEED, 1, 1, shape),
        "chunk_first": torch.tensor([float(video_frames(
            c, cfg["chunk_frames"])[0]) for c in range(FIXTURE_CHUNKS)]),
        "prompt_chunks": torch.tensor([float(c) for c in FIXTURE_PROMPTS])}
    meta = {"seed": str(FIXTURE_SEED), "chunks": str(FIXTURE_CHUNKS),
            "width": str(width), "height": str(height),
            "prompts": json.dumps(FIXTURE_PROMPTS),
            "command": "python3 tools/make_fixtures.py causal-stream"}
    save_file({k: v.float().contiguous() for k, v in tensors.items()},
              FIXTURE, metadata=meta)
    print("wrote", FIXTURE, {k: list(v.shape) for k, v in tensors.items()})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", nargs="?")
    ap.add_argument("--prompt", default="a red circle moving right on a "
                    "black background")
    ap.add_argument("--switch", action="append", default=[],
                    help="CHUNK:PROMPT, a prompt that takes effect there")
    ap.add_argument("--chunks", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--size", default="64x64")
    ap.add_argument("--out", help="write the uint8 frames [F, H, W, 3]")
    ap.add_argument("--self-check", action="store_true")
    ap.add_argument("--fixture", action="store_true")
    args = ap.parse_args()
    torch.set_grad_enabled(False)
    torch.manual_seed(0)
    if args.self_check:
        self_check(args.model or FIXTURE_MODEL)
        return
    if args.fixture:
        make_fixture()
        return
    if not args.model:
        ap.error("MODEL is needed")
    width, height = (int(v) for v in args.size.split("x"))
    prompts = {0: args.prompt}
    for s in args.switch:
        c, p = s.split(":", 1)
        prompts[int(c)] = p
    pipe, cfg = load(args.model)
    frames, _ = generate(pipe, cfg, prompts, args.chunks, args.seed, height,
                         width)
    print("frames", frames.shape)
    if args.out:
        np.save(args.out, frames)


if __name__ == "__main__":
    main()
