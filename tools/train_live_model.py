#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Trains models/sora-live (docs/sora-live.md): the DiT of the demo model
(--base, models/sora-demo) fine-tuned block-causal, for chunk-by-chunk
generation with a KV cache (the rule and the sampling loop:
tools/causal_reference.py).

Stages, each resumable from its checkpoint in WORKDIR:

  causal_latents  long clips with prompt switches, encoded by the base VAE
  causal          teacher-forcing fine-tune of the base DiT, block-causal
  causal_distill  (with --distill-minutes) guidance distilled into it
  export_causal   the diffusers folder models/sora-live (--live-out)
  measure_live    its figures through tools/causal_reference.py beside
                  the demo model's (not part of "all")

usage: pip install -r tools/requirements-fixtures.txt
       python3 tools/train_live_model.py [--workdir DIR] [--stage STAGE]
           [--causal-clips N] [--causal-steps N | --causal-minutes M]
           [--distill-minutes M] [--batch N] [--threads N]
"""
import argparse
import json
import os
import random
import shutil
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_world as world  # noqa: E402
from demo_measure import (measure_prompts, stream_figures,  # noqa: E402
                          summarize, switch_latency)
from train_demo_model import (SEED, Schedule, encode_text,  # noqa: E402
                              log, save_checkpoint, shifted_sigma, to_tensor,
                              use_short_text)


CAUSAL = {"chunk_frames": 2, "window_frames": 4, "sink_frames": 0,
          "steps": [1000, 750, 500, 250], "shift": 1.0,
          "context_timestep": 0}
LONG_FRAMES = 29  # 8 latent frames: 4 chunks, the last ones past the window
SWITCH_SHARE = 0.25  # clips whose prompt changes at a chunk boundary
CAUSAL_SEED0 = 3000000  # world seeds of the causal training clips


def latent_frames(video_frames):
    return 1 + (video_frames - 1) // 4


def causal_sample(seed):
    """A long clip (clip, en, zh, switch): with SWITCH_SHARE, from chunk
    `switch` on it shows another object and background on the same path
    and the captions are the new ones (the prompt-switch case; the chunks
    before it do not count in the loss).  switch is 0 otherwise."""
    rng = random.Random((seed + CAUSAL_SEED0) * 7919 + 23)
    a = world.draw(rng)
    t = rng.randrange(12)
    path_seed = rng.randrange(1 << 30)
    clip = world.render(*a, path_seed, LONG_FRAMES)
    switch, shown = 0, a
    if rng.random() < SWITCH_SHARE:
        while True:
            b = world.draw(rng)
            if b[2] == a[2] and b != a:
                break
        chunks = latent_frames(LONG_FRAMES) // CAUSAL["chunk_frames"]
        switch = rng.randrange(1, chunks)
        # the first video frame of latent frame i > 0 is 1 + 4 (i - 1)
        first = 1 + 4 * (switch * CAUSAL["chunk_frames"] - 1)
        clip[first:] = world.render(*b, path_seed, LONG_FRAMES)[first:]
        shown = b
    return (clip, world.caption(*shown, "en", t),
            world.caption(*shown, "zh", t), switch)


def load_base(args):
    """Tokenizer, text encoder and VAE of the --base model folder (f32)."""
    from diffusers import AutoencoderKLWan
    from transformers import T5TokenizerFast, UMT5EncoderModel
    tok = T5TokenizerFast.from_pretrained(os.path.join(args.base, "tokenizer"))
    te = UMT5EncoderModel.from_pretrained(
        os.path.join(args.base, "text_encoder")).float().eval()
    vae = AutoencoderKLWan.from_pretrained(
        os.path.join(args.base, "vae")).float().eval()
    return tok, te.to(args.device), vae.to(args.device)


def stage_causal_latents(args):
    """The normalized latents of args.causal_clips long clips, encoded
    (posterior mode) by the base model's VAE."""
    path = os.path.join(args.workdir, "causal-latents.pt")
    if os.path.exists(path):
        return
    _, _, vae = load_base(args)
    mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
    t0 = time.time()
    lat, en, zh, switch = [], [], [], []
    for i in range(0, args.causal_clips, 16):
        part = [causal_sample(j)
                for j in range(i, min(args.causal_clips, i + 16))]
        x = to_tensor(np.stack([p[0] for p in part]))
        with torch.no_grad():
            z = vae.encode(x.to(args.device)).latent_dist.mode()
        lat.append(((z.cpu() - mean) / std).half())
        en += [p[1] for p in part]
        zh += [p[2] for p in part]
        switch += [p[3] for p in part]
        if (i // 16) % 8 == 7:
            log(args.workdir, "causal_latents",
                {"clips": len(en), "s": round(time.time() - t0)})
    torch.save({"latents": torch.cat(lat), "en": en, "zh": zh,
                "switch": torch.tensor(switch)}, path)


def teacher_forcing_mask(frames, tokens_per_frame, cfg):
    """Self-attention mask of the teacher-forcing sequence [clean frames |
    noisy frames] (2 * @frames latent frames): the clean half is block-causal
    as a KV cache written at context_timestep sees it; each noisy chunk
    attends the clean frames before it that the rule allows (its cache) and
    itself.  One forward trains every chunk of the clip."""
    from causal_attention import frame_mask
    rule = frame_mask(frames, cfg["chunk_frames"], cfg["window_frames"],
                      cfg["sink_frames"])
    chunk = torch.arange(frames) // cfg["chunk_frames"]
    before = chunk[None, :] < chunk[:, None]
    mask = torch.zeros(2 * frames, 2 * frames, dtype=torch.bool)
    mask[:frames, :frames] = rule
    mask[frames:, :frames] = rule & before
    mask[frames:, frames:] = chunk[None, :] == chunk[:, None]
    return mask.repeat_interleave(tokens_per_frame, 0).repeat_interleave(
        tokens_per_frame, 1)


class RepeatedRope(torch.nn.Module):
    """The RoPE of the first 1 / @copies of the frames, repeated: the noisy
    copy of a frame sits at the clean frame's position."""

    def __init__(self, rope, copies):
        super().__init__()
        self.rope, self.copies = rope, copies

    def forward(self, hidden_states):
        frames = hidden_states.shape[2] // self.copies
        cos, sin = self.rope(hidden_states[:, :, :frames])
        return cos.repeat(1, self.copies, 1, 1), sin.repeat(1, self.copies,
                                                             1, 1)


def load_dit(folder, device):
    from diffusers import WanTransformer3DModel
    return WanTransformer3DModel.from_pretrained(
        os.path.join(folder, "transformer")).float().to(device)


def causal_dit(args, state_dict, mask):
    """The DiT of @state_dict (the base one when None) set up for the
    teacher-forcing sequence under @mask."""
    from causal_attention import BlockCausalProcessor
    dit = load_dit(args.base, args.device)
    if state_dict is not None:
        dit.load_state_dict(state_dict)
    use_short_text(dit)
    for block in dit.blocks:
        block.attn1.processor = BlockCausalProcessor(mask)
    dit.rope = RepeatedRope(dit.rope, 2)
    return dit


def stage_causal(args):
    """Teacher forcing: the DiT sees each long clip's clean latents (at
    context_timestep) and a noisy copy with an independent noise level per
    chunk, under teacher_forcing_mask; flow-matching loss on the noisy
    chunks.  The text encoder stays the base model's."""
    train_causal(args, "causal.pt", None)


def stage_causal_distill(args):
    """Guidance distillation (no CFG at run time, as the causal loop
    wants): the same sequences, the target now the stage causal model's
    own prediction with classifier-free guidance args.distill_guidance
    against the empty prompt (each branch with its own context)."""
    teacher = torch.load(os.path.join(args.workdir, "causal.pt"),
                         weights_only=False)["dit"]
    train_causal(args, "causal-distill.pt", teacher)


def train_causal(args, name, teacher):
    data = torch.load(os.path.join(args.workdir, "causal-latents.pt"),
                      weights_only=False)
    latents = data["latents"].float().to(args.device)
    captions = list(zip(data["en"], data["zh"]))
    switch = data["switch"].to(args.device)
    tok, te, _ = load_base(args)
    te.requires_grad_(False)
    b, c, frames, h, w = latents[:1].shape
    tpf = (h // 2) * (w // 2)
    mask = teacher_forcing_mask(frames, tpf, CAUSAL).to(args.device)
    ckpt = os.path.join(args.workdir, name)
    dit = causal_dit(args, teacher, mask)
    opt = torch.optim.AdamW(dit.parameters(), lr=args.causal_lr,
                            weight_decay=0.01)
    step, elapsed, rng_state, torch_state = 0, 0.0, None, None
    minutes = args.causal_minutes
    if teacher is not None:
        minutes = args.distill_minutes
        teacher = causal_dit(args, teacher, mask).requires_grad_(False)
        with torch.no_grad():
            empty = encode_text(te, tok, [""] * args.batch, args.device)
    if os.path.exists(ckpt):
        state = torch.load(ckpt, weights_only=False)
        dit.load_state_dict(state["dit"])
        opt.load_state_dict(state["opt"])
        step, elapsed = state["step"], state["elapsed"]
        rng_state, torch_state = state["rng"], state["torch_rng"]
    sched = Schedule(args.causal_lr, args.causal_steps, minutes, 50, elapsed)
    if sched.progress(step) >= 1.0:
        return
    rng = random.Random(SEED + 5)
    torch.manual_seed(SEED + 6)
    if rng_state is not None:
        rng.setstate(rng_state)
        torch.set_rng_state(torch_state)
    cf = CAUSAL["chunk_frames"]
    chunks = frames // cf
    ctx_t = torch.full((args.batch, frames * tpf),
                       float(CAUSAL["context_timestep"]), device=args.device)
    smooth = None
    while sched.progress(step) < 1.0:
        lr = sched.rate(step)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = [rng.randrange(len(captions)) for _ in range(args.batch)]
        texts = [captions[i][0 if rng.random() < 0.5 else 1] for i in idx]
        with torch.no_grad():
            ctx = encode_text(te, tok, texts, args.device)
        x0 = latents[idx]
        noise = torch.randn_like(x0)
        sigma = shifted_sigma(torch.rand(args.batch, chunks,
                                         device=args.device), CAUSAL["shift"])
        s = sigma.repeat_interleave(cf, 1).view(args.batch, 1, frames, 1, 1)
        xt = (1 - s) * x0 + s * noise
        t = (s.view(args.batch, frames, 1) * 1000).expand(
            -1, -1, tpf).reshape(args.batch, frames * tpf)
        inputs = dict(hidden_states=torch.cat([x0, xt], 2),
                      timestep=torch.cat([ctx_t, t], 1), return_dict=False)
        target = noise - x0
        if teacher is not None:
            with torch.no_grad():
                cond = teacher(encoder_hidden_states=ctx, **inputs)[0]
                uncond = teacher(encoder_hidden_states=empty, **inputs)[0]
            target = (uncond + args.distill_guidance * (cond - uncond))[
                :, :, frames:]
        pred = dit(encoder_hidden_states=ctx, **inputs)[0]
        err = ((pred[:, :, frames:] - target) ** 2).mean(dim=(1, 3, 4))
        # a switched clip's chunks before the switch show the old prompt
        keep = (torch.arange(frames, device=args.device)[None] // cf >=
                switch[idx][:, None]).float()
        loss = (err * keep).sum() / keep.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(dit.parameters(), 1.0)
        opt.step()
        step += 1
        smooth = loss.item() if smooth is None else 0.98 * smooth + \
            0.02 * loss.item()
        if step % 25 == 0:
            log(args.workdir, name[:-3], {"step": step,
                                          "loss": round(smooth, 4), "lr": lr,
                                          "s": round(sched.elapsed())})
        if step % args.checkpoint_every == 0 or sched.progress(step) >= 1.0:
            save_checkpoint(ckpt, {
                "dit": dit.state_dict(), "opt": opt.state_dict(),
                "step": step, "elapsed": sched.elapsed(),
                "rng": rng.getstate(), "torch_rng": torch.get_rng_state()})


def export_causal(args, out):
    """models/sora-live: the base folder with the fine-tuned DiT (f16) and
    the causal settings in its config."""
    name = "causal-distill.pt" if args.distill_minutes > 0 else "causal.pt"
    state = torch.load(os.path.join(args.workdir, name), weights_only=False)
    dit = load_dit(args.base, "cpu")
    dit.load_state_dict(state["dit"])
    if os.path.exists(out):
        shutil.rmtree(out)
    shutil.copytree(args.base, out, ignore=shutil.ignore_patterns(
        "transformer"))
    dit.to(torch.float16).save_pretrained(os.path.join(out, "transformer"))
    cfg_path = os.path.join(out, "transformer", "config.json")
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg["_sora_native_size"] = [world.SIZE, world.SIZE, LONG_FRAMES]
    cfg["_sora_causal"] = CAUSAL
    with open(cfg_path, "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def stage_measure_live(args):
    """Figures of the live model through tools/causal_reference.py, beside
    today's demo model measured the same way (its DiT in the same causal
    loop) and as it is used (17-frame clips, 20 UniPC steps, guidance 5),
    and the VAE round trip of the world's own clips (the ceiling the VAE
    allows).  Written to WORKDIR/measure-live.json."""
    import causal_reference as ref
    from diffusers import WanPipeline
    torch.set_grad_enabled(False)
    prompts = measure_prompts(args.measure_prompts)
    chunks = latent_frames(LONG_FRAMES) // CAUSAL["chunk_frames"]
    live, cfg = ref.load(args.live_out)
    demo = WanPipeline.from_pretrained(args.base, torch_dtype=torch.float32)
    demo.set_progress_bar_config(disable=True)
    runs = {"live": (live, cfg, 1.0), "demo_causal_loop": (demo, cfg, 1.0)}
    if args.live_guidance != 1.0:
        runs["live_guidance%g" % args.live_guidance] = (live, cfg,
                                                         args.live_guidance)
    results = {}
    for name, (pipe, c, g) in runs.items():
        recs = []
        for i, (colour, shape, bg, motion) in enumerate(prompts):
            prompt = world.caption([(colour, shape)], bg, motion, "en")
            frames, _ = ref.generate(pipe, c, {0: prompt}, chunks, i,
                                     world.SIZE, world.SIZE, g)
            recs.append(stream_figures(frames, colour, shape, bg, motion,
                                       c["chunk_frames"]))
        results[name] = summarize(recs)
        log(args.workdir, "measure_live", dict(model=name, **results[name]))
    recs, vae_recs = [], []
    for i, (colour, shape, bg, motion) in enumerate(prompts):
        prompt = world.caption([(colour, shape)], bg, motion, "en")
        video = demo(prompt=prompt, negative_prompt="", height=world.SIZE,
                     width=world.SIZE, num_frames=world.FRAMES,
                     num_inference_steps=20, guidance_scale=5.0,
                     generator=torch.Generator().manual_seed(i),
                     output_type="np").frames[0]
        frames = (np.clip(video, 0, 1) * 255 + 0.5).astype(np.uint8)
        recs.append(stream_figures(frames, colour, shape, bg, motion, 1000))
        clip = world.render([(colour, shape)], bg, motion, i, LONG_FRAMES)
        z = demo.vae.encode(to_tensor(clip[None])).latent_dist.mode()
        back = demo.vae.decode(z).sample[0].permute(1, 2, 3, 0)
        back = ((back * 0.5 + 0.5).clamp(0, 1) * 255 + 0.5).byte().numpy()
        vae_recs.append(stream_figures(back, colour, shape, bg, motion,
                                       CAUSAL["chunk_frames"]))
    results["demo_clip"] = summarize(recs)
    results["vae_round_trip"] = summarize(vae_recs)
    for name in ("demo_clip", "vae_round_trip"):
        log(args.workdir, "measure_live", dict(model=name, **results[name]))
    # prompt switches: another colour and shape, same background and
    # motion, from chunk 2 on
    first = ref.video_frames(2, cfg["chunk_frames"])[0]
    names = [c[0] for c in world.COLOURS]
    lat = {}
    for name, (pipe, c, g) in runs.items():
        lat[name] = []
        for i, (colour, shape, bg, motion) in enumerate(
                prompts[:args.measure_prompts // 2]):
            colour2 = names[(names.index(colour) + 2 + i % 3) % len(names)]
            shape2 = [s[0] for s in world.SHAPES if s[0] != shape][i % 2]
            frames, _ = ref.generate(pipe, c, {
                0: world.caption([(colour, shape)], bg, motion, "en"),
                2: world.caption([(colour2, shape2)], bg, motion, "en")},
                chunks, 100 + i, world.SIZE, world.SIZE, g)
            lat[name].append(switch_latency(frames, colour2, bg, first))
        shown = [v for v in lat[name] if v is not None]
        results[name]["switch_shown"] = "%d/%d" % (len(shown),
                                                    len(lat[name]))
        results[name]["switch_frames_median"] = (
            float(np.median(shown)) if shown else None)
        log(args.workdir, "measure_live",
            {"model": name, "switch_latency_frames": lat[name]})
    with open(os.path.join(args.workdir, "measure-live.json"), "w") as f:
        json.dump(results, f, indent=1)
    print(json.dumps(results, indent=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", default="build-live-model")
    ap.add_argument("--stage", default="all")
    ap.add_argument("--base", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "models",
        "sora-demo"), help="the model the causal stage starts from")
    ap.add_argument("--live-out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "models",
        "sora-live"))
    ap.add_argument("--causal-clips", type=int, default=3000)
    ap.add_argument("--causal-steps", type=int, default=1500)
    ap.add_argument("--causal-minutes", type=float, default=0,
                    help="train the causal DiT this long instead")
    ap.add_argument("--causal-lr", type=float, default=4e-4)
    ap.add_argument("--distill-minutes", type=float, default=0,
                    help="then distill guidance into it this long")
    ap.add_argument("--distill-guidance", type=float, default=3.0)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--checkpoint-every", type=int, default=500)
    ap.add_argument("--measure-prompts", type=int, default=24)
    ap.add_argument("--live-guidance", type=float, default=1.0,
                    help="measure the live model with this CFG as well")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available()
                    else "cpu")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    os.makedirs(args.workdir, exist_ok=True)
    stages = ["causal_latents", "causal"] + (
        ["causal_distill"] if args.distill_minutes > 0 else []) + \
        ["export_causal"]
    if args.stage != "all":
        stages = [args.stage]
    for stage in stages:
        if stage == "export_causal":
            export_causal(args, args.live_out)
            log(args.workdir, "export_causal",
                {"out": os.path.abspath(args.live_out)})
        else:
            globals()["stage_" + stage](args)


if __name__ == "__main__":
    main()
