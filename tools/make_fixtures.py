#!/usr/bin/env python3
"""Builds the parity fixtures: tiny random-weight Wan models of the real
diffusers/transformers classes, saved as diffusers-layout model folders, and
the reference outputs our engine must reproduce.

    python3 -m venv .venv && .venv/bin/pip install -r tools/requirements-fixtures.txt
    .venv/bin/python tools/make_fixtures.py [TARGET...]

TARGETs (all when none is named): tiny, wide, schedulers, extend,
real-extents, causal, causal-stream, bf16.

Writes (all committed, so CI never needs torch):
  tests/fixtures/wan-tiny/            WanPipeline.from_pretrained loads it (f32)
  tests/fixtures/wan-tiny-f16/        the same weights stored as f16
  tests/fixtures/wan-tiny-bf16/       ... and as bf16
  tests/fixtures/wan-tiny-real-extents/
        Wan2.1's extents with tiny widths: a DiT of one block with
        rope_max_seq_len 1024 (so any size Wan makes, up to 1920x1088 and
        81 frames) and a VAE of wan-tiny's shape (Wan's 8x spatial and 4x
        temporal factors) 8 channels wide; wan-tiny's text encoder,
        tokenizer and scheduler, linked
  tests/fixtures/reference/real-extents-*.safetensors
        WanPipeline at those sizes and the VAE at 832x480, on inputs from
        the recipe generator (below); only every stride-th output value, as
        the whole outputs are far too big for git
  tests/fixtures/reference/tiny-*.safetensors
        inputs, outputs and intermediate points of each component
  tests/fixtures/reference/wide-*.safetensors + wide-recipe.json
        the 1.3B widths (dim 1536, 12x128 heads, FFN 8960, text 4096) with
        2 blocks.  Its 140M weights are too big for git, so they come from a
        counter-based generator (recipe below) that the C test reproduces
        exactly; only the recipe and the reference outputs are committed.
  tests/fixtures/wan-tiny-causal/
        a tiny block-causal DiT ("_sora_causal" in its config: chunks of 2
        latent frames, a window of 4, a sink of 2); wan-tiny's other parts,
        linked
  tests/fixtures/reference/tiny-causal-dit.safetensors
        its full-sequence forward over 4 chunks under the block-causal
        attention mask (tools/causal_attention.py), at one timestep; the
        same without window and sink, and unmasked
  tests/fixtures/reference/tiny-causal-stream.safetensors
        the whole causal sampling loop of tools/causal_reference.py on
        wan-tiny-causal (5 chunks, a prompt switch at chunk 3, the decoded
        frames); the format is in causal_reference.make_fixture
  tests/fixtures/reference/bf16-autocast.safetensors
        PyTorch's bf16 (torch.autocast on the CPU) on the inputs of
        tiny-dit, wide-dit and tiny-pipeline: each DiT's output and the
        pipeline's frames, what the engine's SORA_PRECISION=bf16 is held to
        (tests/test-dit-bf16.c); the f32 references stay the f32 side
  tests/fixtures/reference/scheduler-{unipc,euler}.safetensors
        every step of the schedulers on a small latent, with the fake model
        outputs fed to them, for each config of scheduler-cases.json

Every folder and the wide recipe are checked against the engine's tables
(tools/check_fixture_tensors.py, through `sora-tool inspect --json`: the
sora-tool of $SORA_TOOL or build/): a tensor on one side only stops the run.
meson test fixture-tensors checks the committed ones again.

Every parameter is re-drawn after construction (the classes initialise many
tensors to 0 or 1, which would hide mistakes such as a missing bias or gain).
"""
import json
import os
import shutil
import sys

import numpy as np
import torch
from safetensors.torch import save_file

from diffusers import (AutoencoderKLWan, FlowMatchEulerDiscreteScheduler,
                       UniPCMultistepScheduler, WanPipeline,
                       WanTransformer3DModel)
from transformers import T5TokenizerFast, UMT5Config, UMT5EncoderModel

from check_fixture_tensors import check_folder, check_recipe

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
REF = os.path.join(FIXTURES, "reference")
TOKENIZER_JSON = os.path.join(FIXTURES, "tokenizer", "tokenizer.json")

SORA_TOOL = os.environ.get(
    "SORA_TOOL", os.path.join(ROOT, "build", "tools", "sora-tool", "sora-tool"))

torch.set_grad_enabled(False)
torch.set_num_threads(2)


# --- the counter-based weight generator shared with the C tests ---------------
# splitmix64 of (fnv1a64(name) + index * golden), top 24 bits as a uniform in
# [0, 1), then offset + scale * (2u - 1), all in float32: exact in C as well.
M64 = (1 << 64) - 1


def fnv1a64(text):
    h = 0xCBF29CE484222325
    for b in text.encode():
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def recipe_values(name, numel, scale, offset):
    with np.errstate(over="ignore"):
        i = np.arange(numel, dtype=np.uint64)
        z = np.uint64(fnv1a64(name)) + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float32) * np.float32(1.0 / 16777216.0)
    return (np.float32(offset) + np.float32(scale) *
            (u * np.float32(2.0) - np.float32(1.0))).astype(np.float32)


def scale_for(name, shape):
    """Scale and offset of a parameter: gains near 1, the rest ~1/sqrt(fan_in)."""
    if len(shape) == 1 and ("norm" in name or name.endswith("gamma")):
        return 0.2, 1.0
    if "scale_shift_table" in name:
        return 0.2, 0.0
    if len(shape) == 1:
        return 0.1, 0.0
    fan_in = int(np.prod(shape[1:]))
    return float(np.sqrt(3.0 / fan_in)), 0.0


def fill_from_recipe(model):
    recipe = {}
    for name, p in model.named_parameters():
        scale, offset = scale_for(name, tuple(p.shape))
        values = recipe_values(name, p.numel(), scale, offset)
        p.copy_(torch.from_numpy(values).reshape(p.shape))
        recipe[name] = {"shape": list(p.shape), "scale": scale,
                        "offset": offset}
    return recipe


def randomize(model, seed):
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        scale, offset = scale_for(name, tuple(p.shape))
        p.copy_(offset + scale * (2 * torch.rand(p.shape, generator=g) - 1))


def check_tensors(path):
    """Stops unless the folder (or recipe) at @path holds exactly the
    tensors the engine's tables name."""
    if not os.path.exists(SORA_TOOL):
        print("note: no %s: build it (or set SORA_TOOL) to check %s against "
              "the engine's tables; meson test fixture-tensors will"
              % (SORA_TOOL, path))
        return
    check = check_recipe if path.endswith(".json") else check_folder
    problems = check(SORA_TOOL, path)
    if problems:
        sys.exit("\n".join(problems))


# --- capture of intermediate points --------------------------------------------
class Capture:
    def __init__(self):
        self.values = {}
        self.handles = []

    def output(self, module, key):
        def hook(_m, _args, out):
            out = out[0] if isinstance(out, tuple) else out
            self.values[key] = out.detach().float().clone()
        self.handles.append(module.register_forward_hook(hook))

    def input(self, module, key):
        def hook(_m, args):
            self.values[key] = args[0].detach().float().clone()
        self.handles.append(module.register_forward_pre_hook(hook))

    def close(self):
        for h in self.handles:
            h.remove()


def save(path, tensors):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file({k: v.float().contiguous() for k, v in tensors.items()}, path)


# --- components ---------------------------------------------------------------
def tiny_text_encoder(vocab):
    config = UMT5Config(vocab_size=vocab, d_model=32, d_kv=8, num_heads=4,
                        d_ff=37, num_layers=2,
                        relative_attention_num_buckets=8,
                        relative_attention_max_distance=16,
                        feed_forward_proj="gated-gelu",
                        layer_norm_epsilon=1e-6, pad_token_id=0,
                        eos_token_id=1, decoder_start_token_id=0,
                        tie_word_embeddings=False)
    return UMT5EncoderModel(config).eval()


def tiny_transformer(num_layers=2, rope_max_seq_len=32):
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12,
        in_channels=16, out_channels=16, text_dim=32, freq_dim=256,
        ffn_dim=32, num_layers=num_layers, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=rope_max_seq_len).eval()


def wide_transformer():
    return WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128,
        in_channels=16, out_channels=16, text_dim=4096, freq_dim=256,
        ffn_dim=8960, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads").eval()


def tiny_vae(base_dim=3):
    return AutoencoderKLWan(base_dim=base_dim, z_dim=16,
                            dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                            temperal_downsample=[False, True, True]).eval()


def scheduler():
    return UniPCMultistepScheduler(prediction_type="flow_prediction",
                                   use_flow_sigmas=True,
                                   num_train_timesteps=1000, flow_shift=3.0)


# --- references -----------------------------------------------------------------
def encode_text(tokenizer, text_encoder, prompt, max_length):
    tok = tokenizer(prompt, padding="max_length", max_length=max_length,
                    truncation=True, add_special_tokens=True,
                    return_attention_mask=True, return_tensors="pt")
    cap = Capture()
    cap.output(text_encoder.encoder.block[0], "after_layer0")
    out = text_encoder(tok.input_ids, tok.attention_mask).last_hidden_state
    cap.close()
    # What WanPipeline hands the DiT: real rows kept, padding rows zeroed.
    n = int(tok.attention_mask.sum())
    embeds = torch.zeros_like(out)
    embeds[:, :n] = out[:, :n]
    return {"input_ids": tok.input_ids.float(),
            "attention_mask": tok.attention_mask.float(),
            "after_layer0": cap.values["after_layer0"],
            "last_hidden_state": out, "prompt_embeds": embeds}


def dit_reference(transformer, latents, timestep, text):
    cap = Capture()
    cap.output(transformer.patch_embedding, "patch_embedding")
    cap.output(transformer.condition_embedder.time_embedder, "temb")
    cap.output(transformer.condition_embedder.time_proj, "timestep_proj")
    cap.output(transformer.condition_embedder.text_embedder, "text_embedded")
    for i, block in enumerate(transformer.blocks):
        cap.output(block, "after_block%d" % i)
    cap.input(transformer.proj_out, "before_head")
    out = transformer(latents, timestep, text, return_dict=False)[0]
    cap.close()
    values = dict(cap.values)
    # [B, d, F, h, w] -> tokens [B, L, d], as the engine holds them
    pe = values["patch_embedding"]
    values["patch_embedding"] = pe.flatten(2).transpose(1, 2)
    values.update({"hidden_states": latents, "timestep": timestep.float(),
                   "encoder_hidden_states": text, "output": out})
    return values


def make_tiny():
    if not os.path.exists(TOKENIZER_JSON):
        sys.exit("missing %s: run tools/make_tokenizer_fixtures.py first"
                 % TOKENIZER_JSON)
    torch.manual_seed(0)
    tokenizer = T5TokenizerFast(tokenizer_file=TOKENIZER_JSON)
    text_encoder = tiny_text_encoder(len(tokenizer))
    transformer = tiny_transformer()
    vae = tiny_vae()
    for seed, model in enumerate((text_encoder, transformer, vae)):
        randomize(model, seed + 1)

    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=text_encoder,
                       transformer=transformer, vae=vae,
                       scheduler=scheduler())
    folders = {}
    for dtype, suffix in ((torch.float32, ""), (torch.float16, "-f16"),
                          (torch.bfloat16, "-bf16")):
        folder = os.path.join(FIXTURES, "wan-tiny" + suffix)
        shutil.rmtree(folder, ignore_errors=True)
        # Converting in place would round the f32 weights: save a copy.
        copy = copy_pipeline(pipe)
        copy.to(dtype).save_pretrained(folder, safe_serialization=True)
        check_tensors(folder)
        folders[suffix] = folder
    # Each reference is the f32 model on that folder's (rounded) weights.
    for suffix, folder in folders.items():
        make_tiny_references(
            WanPipeline.from_pretrained(folder).to(torch.float32), suffix)


def copy_pipeline(pipe):
    import copy
    return WanPipeline(tokenizer=pipe.tokenizer,
                       text_encoder=copy.deepcopy(pipe.text_encoder),
                       transformer=copy.deepcopy(pipe.transformer),
                       vae=copy.deepcopy(pipe.vae), scheduler=pipe.scheduler)


def make_tiny_references(pipe, suffix):
    g = torch.Generator().manual_seed(42)
    # Shorter than max_length, so the padding path is exercised.
    text = encode_text(pipe.tokenizer, pipe.text_encoder,
                       "a red fox in snow", 32)
    save(os.path.join(REF, "tiny%s-umt5.safetensors" % suffix), text)

    # Non-square latents, an odd number of latent frames, padded text.
    latents = torch.randn(1, 16, 3, 6, 10, generator=g)
    timestep = torch.tensor([757.0])
    dit = dit_reference(pipe.transformer, latents, timestep,
                        text["prompt_embeds"])
    save(os.path.join(REF, "tiny%s-dit.safetensors" % suffix), dit)
    save(os.path.join(REF, "tiny%s-vae.safetensors" % suffix),
         vae_reference(pipe.vae, g))
    if suffix == "":
        save(os.path.join(REF, "tiny-pipeline.safetensors"),
             pipeline_reference(pipe, g))


def vae_reference(vae, g):
    mean = torch.tensor(vae.config.latents_mean).view(1, 16, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, 16, 1, 1, 1)
    out = {}
    # Decode 1, 2 and 5 latent frames (1, 5 and 17 video frames) of odd size.
    for frames in (1, 2, 5):
        z = torch.randn(1, 16, frames, 3, 5, generator=g)
        out["latents%d" % frames] = z
        out["video%d" % frames] = vae.decode(z * std + mean,
                                             return_dict=False)[0]
    video = torch.rand(1, 3, 9, 24, 40, generator=g) * 2 - 1
    mu = vae.encode(video).latent_dist.mode()
    out.update({"encode_input": video, "encode_mean": mu,
                "encode_normalized": (mu - mean) / std})
    return out


def pipeline_run(pipe, latents):
    """The tiny pipeline's frames and its latents after each step
    ([steps, 1, 16, F, h, w])."""
    steps = []

    def keep(_pipe, _i, _t, kwargs):
        steps.append(kwargs["latents"].float().clone())
        return {}

    frames = pipe(prompt="a red circle moving left on a black background",
                  negative_prompt="blurry", height=32, width=48,
                  num_frames=9, num_inference_steps=3, guidance_scale=5.0,
                  latents=latents.clone(), output_type="np",
                  max_sequence_length=32,
                  callback_on_step_end=keep).frames[0]
    return torch.from_numpy(frames), torch.stack(steps)


def pipeline_reference(pipe, g):
    latents = torch.randn(1, 16, 3, 4, 6, generator=g)
    return {"latents": latents, "frames": pipeline_run(pipe, latents)[0]}


def extend_context_frames(n, height, width):
    """@n deterministic uint8 RGB frames [n, H, W, 3]: a bright disc moving
    right over a colour gradient, so the context has motion to continue."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    for f in range(n):
        r = 40 + 150 * x / width
        g = 60 + 120 * y / height
        b = np.full_like(x, 30 + 20 * f)
        disc = (x - 8 - 4 * f) ** 2 + (y - height / 2) ** 2 < 36
        rgb = np.stack([np.where(disc, 250, r), np.where(disc, 240, g),
                        np.where(disc, 60, b)], axis=-1)
        frames.append(np.round(rgb).astype(np.uint8))
    return np.stack(frames)


def extend_reference():
    """Video extension as the engine does it (docs/extension.md): the last
    1 + 4k context frames encoded to z_ctx, and before each step the context
    latent frames of x replaced by z_ctx noised to that step's sigma with
    the context part of the initial noise; WanPipeline's CFG and UniPC from
    the folder; the context set to z_ctx after the last step; the whole
    latent decoded and the frames after the context kept."""
    pipe = WanPipeline.from_pretrained(os.path.join(FIXTURES, "wan-tiny"))
    pipe.to(torch.float32)
    height, width, n_context, ctx_latents, new_frames = 32, 48, 7, 2, 8
    used = 1 + 4 * (ctx_latents - 1)
    context = extend_context_frames(n_context, height, width)
    video = torch.from_numpy(context[-used:]).float() / 255 * 2 - 1
    video = video.permute(3, 0, 1, 2).unsqueeze(0)
    vae = pipe.vae
    mean = torch.tensor(vae.config.latents_mean).view(1, 16, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, 16, 1, 1, 1)
    z_ctx = (vae.encode(video).latent_dist.mode() - mean) / std

    g = torch.Generator().manual_seed(5)
    frames = ctx_latents + new_frames // 4
    noise = torch.randn(1, 16, frames, height // 8, width // 8, generator=g)
    prompt, negative = pipe.encode_prompt(
        "a red circle moving left on a black background", "blurry",
        max_sequence_length=32)
    sched = UniPCMultistepScheduler.from_config(pipe.scheduler.config)
    sched.set_timesteps(3)
    x = noise.clone()
    for i, t in enumerate(sched.timesteps):
        sigma = sched.sigmas[i]
        x[:, :, :ctx_latents] = ((1 - sigma) * z_ctx +
                                 sigma * noise[:, :, :ctx_latents])
        ts = t.expand(1)
        cond = pipe.transformer(x, ts, prompt, return_dict=False)[0]
        uncond = pipe.transformer(x, ts, negative, return_dict=False)[0]
        v = uncond + 5.0 * (cond - uncond)
        x = sched.step(v, t, x, return_dict=False)[0]
    x[:, :, :ctx_latents] = z_ctx
    decoded = vae.decode(x * std + mean, return_dict=False)[0]
    new = (decoded[:, :, used:] * 0.5 + 0.5).clamp(0, 1)
    return {"context": torch.from_numpy(context).float(),
            "z_ctx": z_ctx, "noise": noise, "latents": x,
            "new_frames": new[0].permute(1, 2, 3, 0)}


def json_default(value):
    # Sets (diffusers' _use_default_values) sorted, so the file is stable.
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return list(value)


def make_wide():
    transformer = wide_transformer()
    recipe = fill_from_recipe(transformer)
    g = torch.Generator().manual_seed(7)
    # 2 x 4 x 6 latent patches per frame, 3 frames: 72 tokens; 20 text rows,
    # the last 8 of them zero as the pipeline pads them.
    latents = torch.randn(1, 16, 3, 8, 12, generator=g)
    text = torch.randn(1, 20, 4096, generator=g)
    text[:, 12:] = 0
    dit = dit_reference(transformer, latents, torch.tensor([333.0]), text)
    save(os.path.join(REF, "wide-dit.safetensors"), dit)
    with open(os.path.join(REF, "wide-recipe.json"), "w") as f:
        json.dump({"generator": "splitmix64(fnv1a64(name) + i * "
                   "0x9E3779B97F4A7C15) >> 40, u = bits / 2^24, "
                   "w = offset + scale * (2u - 1), float32",
                   "config": {k: v for k, v in transformer.config.items()
                              # diffusers' bookkeeping, in no stable order
                              if k != "_use_default_values"},
                   "tensors": recipe}, f, indent=1, default=json_default)
    check_tensors(os.path.join(REF, "wide-recipe.json"))


# --- real extents ----------------------------------------------------------------
REAL = "wan-tiny-real-extents"
# Wan2.1's sizes (width, height, frames): 480p and 720p at lengths that keep
# the test quick, the largest frame and a one-patch-wide strip of it.
REAL_SIZES = ((832, 480, 81), (1280, 720, 17), (1920, 1088, 5), (16, 1088, 5))
# About this many output values of each are kept (see sampled).
REAL_SAMPLES = 16384
# Unit-variance uniform inputs: recipe_values (name, n, REAL_SCALE, 0).
REAL_SCALE = 1.75


def recipe_tensor(name, shape):
    return torch.from_numpy(
        recipe_values(name, int(np.prod(shape)), REAL_SCALE, 0.0)
    ).reshape(shape)


def sampled(values, prefix):
    """Every stride-th value of @values (flattened), the stride the first
    prime that keeps at most REAL_SAMPLES: a prime, so that the samples
    wander over rows, columns, channels and frames."""
    flat = values.flatten()
    stride = max(2, -(-flat.numel() // REAL_SAMPLES))
    while any(stride % d == 0 for d in range(2, int(stride ** 0.5) + 1)):
        stride += 1
    return {prefix + "stride": torch.tensor([float(stride)]),
            prefix + "samples": flat[::stride].clone()}


def make_real_extents():
    tiny = os.path.join(FIXTURES, "wan-tiny")
    folder = os.path.join(FIXTURES, REAL)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    # Wider than wan-tiny's VAE: with 3 channels its RMS norms of near-zero
    # vectors make big frames chaotic (a 1e-5 change of the latents moves
    # some pixels by 0.5, so f32 rounding alone fails any parity bound);
    # with 8 a 1e-4 change moves them by 1e-3.
    for name, model, seed in (
            ("transformer", tiny_transformer(num_layers=1,
                                             rope_max_seq_len=1024), 4),
            ("vae", tiny_vae(base_dim=8), 5)):
        randomize(model, seed)
        model.save_pretrained(os.path.join(folder, name),
                              safe_serialization=True)
    shutil.copy(os.path.join(tiny, "model_index.json"), folder)
    for part in ("scheduler", "text_encoder", "tokenizer"):
        os.symlink(os.path.join("..", "wan-tiny", part),
                   os.path.join(folder, part))
    check_tensors(folder)
    pipe = WanPipeline.from_pretrained(folder).to(torch.float32)

    out = {}
    for width, height, frames in REAL_SIZES:
        key = "%dx%dx%d" % (width, height, frames)
        shape = (1, 16, (frames - 1) // 4 + 1, height // 8, width // 8)
        video = pipe(prompt="a red fox in snow", height=height, width=width,
                     num_frames=frames, num_inference_steps=1,
                     guidance_scale=1.0,
                     latents=recipe_tensor("real/" + key, shape),
                     output_type="np", max_sequence_length=16).frames[0]
        out.update(sampled(torch.from_numpy(video), key + "/"))
    save(os.path.join(REF, "real-extents-pipeline.safetensors"), out)

    vae = pipe.vae
    mean = torch.tensor(vae.config.latents_mean).view(1, 16, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, 16, 1, 1, 1)
    z = recipe_tensor("real/vae/832x480x5", (1, 16, 2, 60, 104))
    video = vae.decode(z * std + mean, return_dict=False)[0]
    save(os.path.join(REF, "real-extents-vae.safetensors"),
         sampled(video, "832x480x5/"))


# --- schedulers ------------------------------------------------------------------
def scheduler_run(sched, steps, g, prefix):
    """Runs @sched for @steps on a small latent with a fake model whose
    outputs are saved, so the C test feeds the same ones in."""
    sched.set_timesteps(steps)
    sample = torch.randn(1, 16, 1, 2, 3, generator=g)
    out = {prefix + "timesteps": sched.timesteps.clone(),
           prefix + "sigmas": sched.sigmas.clone(),
           prefix + "sample0": sample.clone()}
    for i, t in enumerate(sched.timesteps):
        output = 0.5 * torch.tanh(sample) + torch.randn(sample.shape,
                                                        generator=g)
        sample = sched.step(output, t, sample).prev_sample
        out[prefix + "output%d" % i] = output
        out[prefix + "sample%d" % (i + 1)] = sample.clone()
    return out


def scheduler_noise(sched, steps, index, g):
    """add_noise / scale_noise at step @index of @steps."""
    sched.set_timesteps(steps)
    # With a begin index and no step taken, both use sigmas[begin_index].
    sched.set_begin_index(index)
    clean = torch.randn(1, 16, 1, 2, 3, generator=g)
    noise = torch.randn(1, 16, 1, 2, 3, generator=g)
    t = sched.timesteps[index:index + 1]
    if isinstance(sched, UniPCMultistepScheduler):
        noisy = sched.add_noise(clean, noise, t)
    else:
        noisy = sched.scale_noise(clean, t, noise)
    return {"noise/clean": clean, "noise/noise": noise, "noise/noisy": noisy,
            "noise/index": torch.tensor([float(index)]),
            "noise/steps": torch.tensor([float(steps)])}


# Scheduler configs: (case, keys over the base config, step counts).  The
# case's fixtures are "<case>/n<steps>/..."; scheduler-cases.json holds each
# case's scheduler_config.json as diffusers writes it, which the C test
# parses, and its step counts.
UNIPC_CASES = [
    ("shift3", {"flow_shift": 3.0}, (1, 2, 4, 10, 50)),
    ("shift5", {"flow_shift": 5.0}, (1, 2, 4, 10, 50)),
    ("order3", {"solver_order": 3}, (1, 2, 3, 4, 10, 50)),
    ("disable0", {"disable_corrector": [0]}, (1, 2, 4, 10)),
    ("disable02", {"disable_corrector": [0, 2]}, (4, 10)),
    ("order3-disable02", {"solver_order": 3, "disable_corrector": [0, 2]},
     (10,)),
    ("order1", {"solver_order": 1}, (1, 4, 10)),
    ("sigma-min", {"final_sigmas_type": "sigma_min"}, (1, 4, 10)),
    ("order3-sigma-min", {"solver_order": 3, "final_sigmas_type": "sigma_min"},
     (4, 10)),
    ("bh1-sigma-min", {"solver_type": "bh1", "final_sigmas_type": "sigma_min"},
     (4, 10)),
    ("no-lower-final", {"lower_order_final": False,
                        "final_sigmas_type": "sigma_min"}, (4, 10)),
    ("order1-no-lower-final", {"solver_order": 1, "lower_order_final": False},
     (4,)),
    ("midpoint", {"solver_type": "midpoint"}, (4,)),
    # keys the flow sigmas never read
    ("unused-keys", {"beta_schedule": "squaredcos_cap_v2", "beta_start": 0.5,
                     "beta_end": 0.7, "rescale_betas_zero_snr": True,
                     "timestep_spacing": "trailing", "steps_offset": 3,
                     "sample_max_value": 3.0,
                     "dynamic_thresholding_ratio": 0.5,
                     "use_dynamic_shifting": True,
                     "time_shift_type": "linear"}, (4,)),
]
EULER_CASES = [
    ("shift3", {"shift": 3.0}, (1, 3, 10)),
    ("shift7", {"shift": 7.0}, (1, 3, 10)),
    ("shift-terminal", {"shift": 3.0, "shift_terminal": 0.1}, (2, 3, 10)),
    ("invert", {"shift": 3.0, "invert_sigmas": True}, (1, 3, 10)),
    ("karras", {"shift": 3.0, "use_karras_sigmas": True}, (1, 3, 10)),
    ("exponential", {"shift": 3.0, "use_exponential_sigmas": True},
     (1, 3, 10)),
    # keys the class does not know, which its Karras sigmas still read
    ("karras-ends", {"shift": 3.0, "use_karras_sigmas": True,
                     "sigma_min": 0.01, "sigma_max": 0.9}, (3, 10)),
    ("unused-keys", {"shift": 3.0, "base_shift": 0.2, "max_shift": 2.0,
                     "base_image_seq_len": 16, "max_image_seq_len": 64,
                     "time_shift_type": "linear"}, (3,)),
]


def scheduler_cases(make, cases, g, runs, index):
    for name, keys, steps in cases:
        config = None
        for n in steps:
            sched = make(keys)
            config = json.loads(sched.to_json_string())
            runs.update(scheduler_run(sched, n, g, "%s/n%d/" % (name, n)))
        index[name] = {"config": config, "steps": list(steps)}


def make_scheduler_references():
    g = torch.Generator().manual_seed(11)
    index = {"unipc": {}, "euler": {}}
    unipc, euler = {}, {}

    def make_unipc(keys):
        return UniPCMultistepScheduler.from_config(scheduler().config, **keys)

    def make_euler(keys):
        return FlowMatchEulerDiscreteScheduler.from_config(keys)

    # The first cases and the noise draw first, as they always did, so their
    # tensors stay the same; the later cases follow.
    scheduler_cases(make_unipc, UNIPC_CASES[:2], g, unipc, index["unipc"])
    unipc.update(scheduler_noise(scheduler(), 10, 3, g))
    scheduler_cases(make_euler, EULER_CASES[:2], g, euler, index["euler"])
    euler.update(scheduler_noise(FlowMatchEulerDiscreteScheduler(shift=3.0),
                                 10, 3, g))
    scheduler_cases(make_unipc, UNIPC_CASES[2:], g, unipc, index["unipc"])
    scheduler_cases(make_euler, EULER_CASES[2:], g, euler, index["euler"])
    save(os.path.join(REF, "scheduler-unipc.safetensors"), unipc)
    save(os.path.join(REF, "scheduler-euler.safetensors"), euler)
    with open(os.path.join(REF, "scheduler-cases.json"), "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
        f.write("\n")


def rel_l2(got, want):
    return float((got.double() - want.double()).norm() / want.double().norm())


def make_bf16_references():
    """The f32 models of tiny-dit, wide-dit and tiny-pipeline (their
    committed inputs; their f32 outputs recomputed and checked against the
    committed ones) again under torch.autocast("cpu", torch.bfloat16), as
    PyTorch runs a model in bf16: Linears, attention and convolutions on
    bf16 operands, their outputs bf16.  The pipeline's latents after each
    step are kept on both sides (no f32 reference holds them)."""
    from safetensors.torch import load_file

    def load(ref):
        return load_file(os.path.join(REF, ref))

    def dit_out(transformer, ref):
        t = load(ref)
        return transformer(t["hidden_states"], t["timestep"],
                           t["encoder_hidden_states"], return_dict=False)[0]

    pipe = WanPipeline.from_pretrained(
        os.path.join(FIXTURES, "wan-tiny")).to(torch.float32)
    wide = wide_transformer()
    fill_from_recipe(wide)
    latents = load("tiny-pipeline.safetensors")["latents"]

    def outputs():
        frames, steps = pipeline_run(pipe, latents)
        return {"tiny_dit_output": dit_out(pipe.transformer,
                                           "tiny-dit.safetensors"),
                "wide_dit_output": dit_out(wide, "wide-dit.safetensors"),
                "tiny_frames": frames, "tiny_step_latents": steps}

    f32 = outputs()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        bf16 = {k: v.float() for k, v in outputs().items()}
    # The committed f32 outputs, and how far a rerun may drift from them:
    # the engine's f32 parity bounds (1e-4 the DiT's, 1e-3 the frames').
    for key, (ref, name, bound) in {
            "tiny_dit_output": ("tiny-dit.safetensors", "output", 1e-4),
            "wide_dit_output": ("wide-dit.safetensors", "output", 1e-4),
            "tiny_frames": ("tiny-pipeline.safetensors", "frames", 1e-3),
    }.items():
        drift = rel_l2(f32[key], load(ref)[name])
        if drift > bound:
            sys.exit("%s: f32 drifted from %s (relative L2 %.3g)"
                     % (key, ref, drift))
    def report(what, got, want):
        print("%s: PyTorch bf16 autocast against f32: relative L2 %.3g"
              % (what, rel_l2(got, want)))

    for key in ("tiny_dit_output", "wide_dit_output", "tiny_frames"):
        report(key, bf16[key], f32[key])
    for i, (got, want) in enumerate(zip(bf16["tiny_step_latents"],
                                        f32["tiny_step_latents"])):
        report("tiny latents after step %d" % (i + 1), got, want)
    bf16["tiny_step_latents_f32"] = f32["tiny_step_latents"]
    save(os.path.join(REF, "bf16-autocast.safetensors"), bf16)


def make_extend_reference():
    save(os.path.join(REF, "tiny-extend.safetensors"), extend_reference())


CAUSAL = "wan-tiny-causal"
CAUSAL_SETTINGS = {"chunk_frames": 2, "window_frames": 4, "sink_frames": 2,
                   "steps": [1000, 750, 500, 250], "shift": 5.0,
                   "context_timestep": 0}


def make_causal():
    from causal_attention import install_block_causal, install_full
    folder = os.path.join(FIXTURES, CAUSAL)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    transformer = tiny_transformer()
    randomize(transformer, 6)
    path = os.path.join(folder, "transformer")
    transformer.save_pretrained(path, safe_serialization=True)
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    config["_sora_causal"] = CAUSAL_SETTINGS
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    shutil.copy(os.path.join(FIXTURES, "wan-tiny", "model_index.json"),
                folder)
    for part in ("scheduler", "text_encoder", "tokenizer", "vae"):
        os.symlink(os.path.join("..", "wan-tiny", part),
                   os.path.join(folder, part))
    check_tensors(folder)

    # 4 chunks: the last attends the sink (0, 1) and its window (4..7) but
    # not frames 2, 3.  Non-square latents: 3x5 tokens a frame.
    transformer = WanTransformer3DModel.from_pretrained(path)
    g = torch.Generator().manual_seed(7)
    frames, height, width = 8, 6, 10
    latents = torch.randn(1, 16, frames, height, width, generator=g)
    text = torch.randn(1, 7, 32, generator=g)
    timestep = torch.tensor([625.0])
    s = CAUSAL_SETTINGS
    install_block_causal(transformer, frames, height * width // 4,
                         s["chunk_frames"], s["window_frames"],
                         s["sink_frames"])
    out = transformer(latents, timestep, text, return_dict=False)[0]
    # Block-causal over every past frame (window_frames 0, no sink).
    install_block_causal(transformer, frames, height * width // 4,
                         s["chunk_frames"])
    no_window = transformer(latents, timestep, text, return_dict=False)[0]
    install_full(transformer)
    full = transformer(latents, timestep, text, return_dict=False)[0]
    save(os.path.join(REF, "tiny-causal-dit.safetensors"),
         {"hidden_states": latents, "timestep": timestep,
          "encoder_hidden_states": text, "output": out,
          "output_no_window": no_window, "output_unmasked": full})


def make_causal_stream():
    from causal_reference import make_fixture
    make_fixture()


# In this order: make_real_extents, the extend reference and the causal
# folder use wan-tiny.
TARGETS = {"tiny": make_tiny, "wide": make_wide,
           "schedulers": make_scheduler_references,
           "extend": make_extend_reference,
           "real-extents": make_real_extents,
           "causal": make_causal,
           "causal-stream": make_causal_stream,
           "bf16": make_bf16_references}

if __name__ == "__main__":
    # Some of them, named on the command line, else all.
    for target in sys.argv[1:] or TARGETS:
        if target not in TARGETS:
            sys.exit("unknown target %s: not one of %s"
                     % (target, ", ".join(TARGETS)))
        TARGETS[target]()
