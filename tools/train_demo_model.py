#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Trains models/sora-demo: a small model of the exact Wan2.1 architecture
(diffusers AutoencoderKLWan + WanTransformer3DModel, transformers
UMT5EncoderModel, a SentencePiece Unigram tokenizer) on the procedural world
of tools/demo_world.py.

Stages, each resumable from its checkpoint in WORKDIR (run the same command
again after an interruption; a finished stage is skipped):

  tokenizer  SentencePiece Unigram on every caption, as tokenizer.json
  vae        the VAE through a plain teacher encoder (see ChunkEncoder);
             logs the losses and PSNR on object pixels
  latents    encodes the training clips (posterior mode) once
  dit        DiT + text encoder, flow matching with caption dropout;
             logs the loss and, at checkpoints, colour/motion accuracy of
             clips sampled with WanPipeline on held-out prompts
  export     the diffusers folder models/sora-demo (f16 weights)

The live model (docs/sora-live.md), from the demo folder (--base):

  --stage causal        causal_latents (long clips with prompt switches,
                        encoded by the base VAE), causal (teacher-forcing
                        fine-tune of the base DiT, block-causal), and the
                        export of models/sora-live (--live-out)
  --stage measure_live  its figures through tools/causal_reference.py
                        beside the demo model's

usage: pip install -r tools/requirements-fixtures.txt
       python3 tools/train_demo_model.py [--workdir DIR] [--out DIR]
           [--stage all|tokenizer|vae|latents|dit|export]
           [--vae-steps N | --vae-minutes M] [--vae-batch N]
           [--dit-steps N | --dit-minutes M] [--batch N] [--threads N]

The shipped models/sora-demo (docs/sora-demo.md) came from, on one H200:
       --clips 10000 --vae-batch 16 --vae-minutes 2.4 --dit-minutes 7.2
           --batch 128 --eval-prompts 0

Every seed is fixed; with step counts (not minutes) on the same torch build
and thread count the run is repeatable.  A GPU is used when torch sees one
(--device).
"""
import argparse
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_world as world  # noqa: E402

TEXT_LENGTH = 512  # what WanPipeline (and our engine) pad prompts to
CAPTION_TOKENS = 40  # longer than any caption of the world
VAE_CONFIG = dict(base_dim=16, z_dim=16, dim_mult=[1, 2, 4, 4],
                  num_res_blocks=1, attn_scales=[],
                  temperal_downsample=[False, True, True], dropout=0.0)
TEXT_CONFIG = dict(d_model=64, d_kv=16, d_ff=128, num_layers=2,
                   num_decoder_layers=0, num_heads=4,
                   relative_attention_num_buckets=32,
                   relative_attention_max_distance=128,
                   feed_forward_proj="gated-gelu", dropout_rate=0.0,
                   layer_norm_epsilon=1e-6, tie_word_embeddings=False,
                   pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
DIT_CONFIG = dict(patch_size=[1, 2, 2], num_attention_heads=2,
                  attention_head_dim=64, in_channels=16, out_channels=16,
                  text_dim=64, freq_dim=256, ffn_dim=512, num_layers=4,
                  cross_attn_norm=True, qk_norm="rms_norm_across_heads",
                  eps=1e-6, image_dim=None, added_kv_proj_dim=None,
                  rope_max_seq_len=1024)
FLOW_SHIFT = 3.0
# the Wan decoder is unstable at 1e-3 and slow at 1e-4
VAE_LR = 3e-4
SEED = 20261125
TRAIN_SEED0 = 1000000  # world seeds of the training clips


def log(workdir, stage, record):
    record = dict(record, stage=stage, time=round(time.time(), 1))
    print(json.dumps(record, ensure_ascii=False), flush=True)
    with open(os.path.join(workdir, "log.jsonl"), "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")


class Schedule:
    """Cosine learning rate after a warm-up, over a number of steps or,
    when @minutes is set, over that much training time (the step count then
    depends on the machine; the log records it).  @elapsed resumes it."""

    def __init__(self, lr, steps, minutes, warmup, elapsed=0.0):
        self.lr, self.steps, self.warmup = lr, steps, warmup
        self.seconds = minutes * 60.0
        self.elapsed0, self.t0 = elapsed, time.time()

    def elapsed(self):
        return self.elapsed0 + time.time() - self.t0

    def progress(self, step):
        if self.seconds > 0:
            return min(1.0, self.elapsed() / self.seconds)
        return min(1.0, step / self.steps)

    def rate(self, step):
        return self.lr * min(1.0, (step + 1) / self.warmup) * (
            0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * self.progress(step))))


def save_checkpoint(path, state):
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


# --- tokenizer --------------------------------------------------------------

def stage_tokenizer(args):
    import sentencepiece as spm
    from transformers import T5TokenizerFast

    out = os.path.join(args.workdir, "tokenizer")
    if os.path.exists(os.path.join(out, "tokenizer.json")):
        return
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(world.all_caption_corpus()) + "\n")
        prefix = os.path.join(tmp, "spiece")
        spm.SentencePieceTrainer.train(
            input=corpus, model_prefix=prefix, model_type="unigram",
            vocab_size=400, hard_vocab_limit=False,
            normalization_rule_name="nmt_nfkc", character_coverage=1.0,
            byte_fallback=True, pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
            num_threads=1, input_sentence_size=0,
            shuffle_input_sentence=False, minloglevel=2)
        fast = T5TokenizerFast(vocab_file=prefix + ".model", extra_ids=0,
                               legacy=True, add_prefix_space=True)
        fast.save_pretrained(out)
        shutil.copyfile(prefix + ".model", os.path.join(out, "spiece.model"))
    tok = T5TokenizerFast.from_pretrained(out)
    log(args.workdir, "tokenizer", {"vocab": len(tok)})


def load_tokenizer(args):
    from transformers import T5TokenizerFast
    return T5TokenizerFast.from_pretrained(
        os.path.join(args.workdir, "tokenizer"))


# --- VAE --------------------------------------------------------------------

def to_tensor(clips):
    """uint8 [B, F, H, W, 3] -> float [B, 3, F, H, W] in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(clips)).float()
    return x.permute(0, 4, 1, 2, 3) / 127.5 - 1.0


def foreground(clips, backgrounds):
    """[B, 1, F, H, W] 1 where a pixel differs from its clip's background."""
    bg = torch.tensor([dict((b[0], b[2]) for b in world.BACKGROUNDS)[b]
                       for b in backgrounds], dtype=torch.float32)
    x = torch.from_numpy(np.ascontiguousarray(clips)).float()
    d = (x - bg[:, None, None, None, :]).abs().sum(-1)
    return (d > 60).float()[:, None]


def _sample(seed):
    return world.sample(seed + TRAIN_SEED0)


def clip_bank(args):
    """The args.clips training clips (clip, en, zh, background), rendered
    by args.workers processes."""
    import multiprocessing
    if getattr(args, "bank", None) is None:
        with multiprocessing.Pool(args.workers) as pool:
            args.bank = pool.map(_sample, range(args.clips), chunksize=16)
    return args.bank


def vae_batch(rng, batch, frames, bank=None):
    """Random windows of clips from @bank, or of fresh clips."""
    clips, bgs = [], []
    for _ in range(batch):
        if bank is not None:
            clip, _, _, background = bank[rng.randrange(len(bank))]
        else:
            clip, _, _, background = world.sample(rng.randrange(1 << 30))
        start = rng.choice(range(0, world.FRAMES - frames + 1, 4))
        clips.append(clip[start:start + frames])
        bgs.append(background)
    clips = np.stack(clips)
    return to_tensor(clips), foreground(clips, bgs)


def object_psnr(x, y, mask):
    """PSNR (8-bit scale) over object pixels."""
    err = ((x - y) * 127.5) ** 2
    m = mask.expand_as(err)
    mse = (err * m).sum() / m.sum().clamp(min=1)
    return 10 * math.log10(255.0 ** 2 / max(mse.item(), 1e-10))


def new_vae():
    from diffusers import AutoencoderKLWan
    return AutoencoderKLWan(**VAE_CONFIG)


class ChunkEncoder(torch.nn.Module):
    """A plain conv net (GroupNorm) from one causal time chunk (the first
    frame repeated 4 times, then 4 frames each) to one latent frame.

    Trained end to end from random weights, the Wan VAE stays at the
    background-only solution for hundreds of steps (object PSNR 7-9 dB after
    500 steps at lr 3e-4; it cannot even overfit 8 images, while this net
    with the Wan decoder does).  So the VAE is trained through a teacher:
    the Wan decoder learns to decode this net's latents, then the Wan
    encoder learns to produce them.  The teacher is not exported."""

    def __init__(self, z_dim):
        super().__init__()

        def block(i, o, stride):
            return [torch.nn.Conv2d(i, o, 3, stride, 1),
                    torch.nn.GroupNorm(8, o), torch.nn.SiLU()]
        self.net = torch.nn.Sequential(
            *block(12, 64, 1), *block(64, 64, 2), *block(64, 96, 2),
            *block(96, 128, 2), *block(128, 128, 1),
            torch.nn.Conv2d(128, z_dim, 1))

    def forward(self, x):
        b, c, f, h, w = x.shape
        chunks = [x[:, :, :1].expand(b, c, 4, h, w)] + [
            x[:, :, 1 + 4 * i:5 + 4 * i] for i in range((f - 1) // 4)]
        z = [self.net(ch.reshape(b, c * 4, h, w)) for ch in chunks]
        return torch.stack(z, 2)


def decode_unclamped(vae, z):
    """AutoencoderKLWan._decode without its final clamp to [-1, 1], which
    would stop the gradient wherever the output overshoots."""
    vae.clear_cache()
    x = vae.post_quant_conv(z)
    out = []
    for i in range(z.shape[2]):
        vae._conv_idx = [0]
        out.append(vae.decoder(x[:, :, i:i + 1], feat_cache=vae._feat_map,
                               feat_idx=vae._conv_idx, first_chunk=i == 0))
    vae.clear_cache()
    return torch.cat(out, 2)


def wan_latents(vae, x):
    return vae.encode(x).latent_dist.mode()


def stage_vae(args):
    """Phase 0 (args.vae_steps): teacher + Wan decoder on reconstruction,
    with the Wan encoder regressing the teacher's latents alongside; phase 1
    (a quarter as many steps): the Wan encoder alone on the final teacher.
    Clip lengths 5, 9 and 17 frames, so the causal caches see every
    position the engine will use."""
    ckpt = os.path.join(args.workdir, "vae.pt")
    torch.manual_seed(SEED)
    vae = new_vae().to(args.device)
    teacher = ChunkEncoder(VAE_CONFIG["z_dim"]).to(args.device)
    phase, step, elapsed, rng_state, opt_state = 0, 0, 0.0, None, None
    if os.path.exists(ckpt):
        state = torch.load(ckpt, weights_only=False)
        vae.load_state_dict(state["model"])
        teacher.load_state_dict(state["teacher"])
        phase, step, rng_state = state["phase"], state["step"], state["rng"]
        opt_state, elapsed = state["opt"], state.get("elapsed", 0.0)
    if phase >= 2:
        return
    rng = random.Random(SEED + 1)
    if rng_state is not None:
        rng.setstate(rng_state)
    bank = clip_bank(args)
    x_eval, m_eval = vae_batch(random.Random(SEED + 2), 8, world.FRAMES)
    x_eval, m_eval = x_eval.to(args.device), m_eval.to(args.device)
    n = args.vae_batch
    while phase < 2:
        params = list(vae.encoder.parameters()) + \
            list(vae.quant_conv.parameters())
        if phase == 0:
            params += list(teacher.parameters()) + \
                list(vae.post_quant_conv.parameters()) + \
                list(vae.decoder.parameters())
        opt = torch.optim.AdamW(params, lr=VAE_LR, weight_decay=0.0)
        if opt_state is not None:
            opt.load_state_dict(opt_state)
            opt_state = None
        # phase 1 gets a quarter of phase 0's steps or time
        share = 1.0 if phase == 0 else 0.25
        sched = Schedule(VAE_LR, max(1, int(args.vae_steps * share)),
                         args.vae_minutes * share, 50, elapsed)
        while True:
            done = sched.progress(step) >= 1.0
            if step % 100 == 0 or done:
                with torch.no_grad():
                    zt, zw = teacher(x_eval), wan_latents(vae, x_eval)
                    yt, yw = vae.decode(zt).sample, vae.decode(zw).sample
                log(args.workdir, "vae", {
                    "phase": phase, "step": step,
                    "eval_object_psnr": round(object_psnr(
                        x_eval, yt, m_eval), 2),
                    "eval_psnr": round(object_psnr(
                        x_eval, yt, torch.ones_like(m_eval)), 2),
                    "eval_wan_encoder_object_psnr": round(object_psnr(
                        x_eval, yw, m_eval), 2),
                    "eval_latent_rel_err": round(
                        ((zw - zt).norm() / zt.norm()).item(), 4)})
                save_checkpoint(ckpt, {
                    "model": vae.state_dict(),
                    "teacher": teacher.state_dict(),
                    "phase": phase + done, "step": 0 if done else step,
                    "elapsed": 0.0 if done else sched.elapsed(),
                    "opt": None if done else opt.state_dict(),
                    "rng": rng.getstate()})
            if done:
                break
            lr = sched.rate(step)
            for g in opt.param_groups:
                g["lr"] = lr
            frames, batch = rng.choice([(5, 4 * n), (9, 2 * n), (17, n)])
            x, m = vae_batch(rng, batch, frames, bank)
            x, m = x.to(args.device), m.to(args.device)
            z = teacher(x)
            target = z.detach()
            # the Wan encoder follows the teacher from the start; phase 1
            # only finishes the job against the final teacher
            loss = F.mse_loss(wan_latents(vae, x), target) / target.var()
            if phase == 0:
                # noise: robust to the small errors of the DiT's latents
                y = decode_unclamped(
                    vae, z + 0.05 * target.std() * torch.randn_like(z))
                w = 1.0 + 8.0 * m  # the objects matter, and they are small
                loss = loss + ((y - x).abs() * w).mean() + \
                    ((y - x) ** 2 * w).mean() + 1e-3 * (z ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            step += 1
            if step % 25 == 0:
                log(args.workdir, "vae", {
                    "phase": phase, "step": step, "loss": round(loss.item(), 4),
                    "lr": lr, "s": round(sched.elapsed())})
        phase, step, elapsed = phase + 1, 0, 0.0


def load_vae(args):
    vae = new_vae()
    vae.load_state_dict(torch.load(os.path.join(args.workdir, "vae.pt"),
                                   weights_only=False)["model"])
    return vae.to(args.device).eval()


# --- latents ----------------------------------------------------------------

def stage_latents(args):
    path = os.path.join(args.workdir, "latents.pt")
    if os.path.exists(path):
        return
    vae = load_vae(args)
    lat, en, zh = [], [], []
    start = 0
    part = path + ".part"
    if os.path.exists(part):
        state = torch.load(part, weights_only=False)
        lat, en, zh = state["lat"], state["en"], state["zh"]
        start = len(en)
    t0 = time.time()
    batch = 16
    bank = clip_bank(args)
    for i in range(start, args.clips, batch):
        clips = []
        for clip, e, z, _ in bank[i:i + batch]:
            clips.append(clip)
            en.append(e)
            zh.append(z)
        with torch.no_grad():
            x = to_tensor(np.stack(clips)).to(args.device)
            lat.append(vae.encode(x).latent_dist.mode().cpu().half())
        if (i // batch) % 25 == 24:
            save_checkpoint(part, {"lat": lat, "en": en, "zh": zh})
            log(args.workdir, "latents", {"clips": len(en),
                                          "s": round(time.time() - t0)})
    z = torch.cat(lat).float()
    mean = z.mean(dim=(0, 2, 3, 4))
    std = z.std(dim=(0, 2, 3, 4))
    torch.save({"latents": z.half(), "en": en, "zh": zh, "mean": mean,
                "std": std}, path)
    if os.path.exists(part):
        os.remove(part)
    log(args.workdir, "latents", {"clips": len(en), "mean": mean.tolist(),
                                  "std": std.tolist()})


# --- DiT + text encoder -----------------------------------------------------

def new_text_encoder(vocab):
    from transformers import UMT5Config, UMT5EncoderModel
    return UMT5EncoderModel(UMT5Config(vocab_size=vocab, **TEXT_CONFIG))


def new_dit():
    from diffusers import WanTransformer3DModel
    return WanTransformer3DModel(**DIT_CONFIG)


def encode_text(text_encoder, tokenizer, captions, device):
    """As WanPipeline._get_t5_prompt_embeds: the states of the real tokens,
    then zeros, CAPTION_TOKENS + 1 of them (encoding only CAPTION_TOKENS is
    the same as 512: padding is masked).  The last zero row stands for all
    TEXT_LENGTH - CAPTION_TOKENS zero rows WanPipeline has (use_short_text)."""
    tok = tokenizer(captions, padding="max_length", max_length=CAPTION_TOKENS,
                    truncation=True, add_special_tokens=True,
                    return_attention_mask=True, return_tensors="pt")
    ids = tok.input_ids.to(device)
    mask = tok.attention_mask.to(device)
    h = text_encoder(ids, mask).last_hidden_state * mask[..., None]
    return F.pad(h, (0, 0, 0, 1))


def use_short_text(dit):
    """Cross-attention over the CAPTION_TOKENS + 1 rows of encode_text equal
    to attention over WanPipeline's 512: zero rows all give the same key and
    value, so the TEXT_LENGTH - CAPTION_TOKENS of them weigh as one key with
    log(count) added to its logit.  Saves most of the cross-attention cost
    in training."""
    from diffusers.models.transformers.transformer_wan import \
        WanAttnProcessor

    bias = torch.zeros(1, 1, 1, CAPTION_TOKENS + 1)
    bias[..., -1] = math.log(TEXT_LENGTH - CAPTION_TOKENS)

    class ShortTextProcessor(WanAttnProcessor):
        def __call__(self, attn, hidden_states, encoder_hidden_states=None,
                     attention_mask=None, rotary_emb=None):
            if encoder_hidden_states is not None:
                attention_mask = bias.to(hidden_states)
            return super().__call__(attn, hidden_states,
                                    encoder_hidden_states, attention_mask,
                                    rotary_emb)

    for block in dit.blocks:
        block.attn2.processor = ShortTextProcessor()


def shifted_sigma(u, shift=FLOW_SHIFT):
    return shift * u / (1 + (shift - 1) * u)


def stage_dit(args):
    data = torch.load(os.path.join(args.workdir, "latents.pt"),
                      weights_only=False)
    mean = data["mean"].view(1, -1, 1, 1, 1)
    std = data["std"].view(1, -1, 1, 1, 1)
    latents = (data["latents"].float() - mean) / std
    captions = list(zip(data["en"], data["zh"]))
    tokenizer = load_tokenizer(args)
    ckpt = os.path.join(args.workdir, "dit.pt")
    torch.manual_seed(SEED + 3)
    te = new_text_encoder(len(tokenizer)).to(args.device)
    dit = new_dit().to(args.device)
    use_short_text(dit)
    params = list(te.parameters()) + list(dit.parameters())
    opt = torch.optim.AdamW(params, lr=args.dit_lr, weight_decay=0.01)
    step, rng_state, torch_state = 0, None, None
    if os.path.exists(ckpt):
        state = torch.load(ckpt, weights_only=False)
        te.load_state_dict(state["text_encoder"])
        dit.load_state_dict(state["dit"])
        opt.load_state_dict(state["opt"])
        step, rng_state = state["step"], state["rng"]
        torch_state = state["torch_rng"]
    elapsed = state.get("elapsed", 0.0) if os.path.exists(ckpt) else 0.0
    sched = Schedule(args.dit_lr, args.dit_steps, args.dit_minutes, 200,
                     elapsed)
    if sched.progress(step) >= 1.0:
        return
    rng = random.Random(SEED + 4)
    if rng_state is not None:
        rng.setstate(rng_state)
        torch.set_rng_state(torch_state)
    latents = latents.to(args.device)
    smooth = None
    while sched.progress(step) < 1.0:
        lr = sched.rate(step)
        for g in opt.param_groups:
            g["lr"] = lr
        idx = [rng.randrange(len(captions)) for _ in range(args.batch)]
        # English and Chinese equally; 10% empty for classifier-free guidance
        texts = []
        for i in idx:
            r = rng.random()
            texts.append("" if r < 0.1 else captions[i][0 if r < 0.55 else 1])
        x0 = latents[idx]
        noise = torch.randn_like(x0)
        sigma = shifted_sigma(torch.rand(args.batch, device=args.device))
        s = sigma.view(-1, 1, 1, 1, 1)
        xt = (1 - s) * x0 + s * noise
        ctx = encode_text(te, tokenizer, texts, args.device)
        pred = dit(hidden_states=xt, timestep=sigma * 1000,
                   encoder_hidden_states=ctx, return_dict=False)[0]
        loss = F.mse_loss(pred, noise - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        smooth = loss.item() if smooth is None else 0.98 * smooth + \
            0.02 * loss.item()
        if step % 50 == 0:
            log(args.workdir, "dit", {"step": step, "loss": round(smooth, 4),
                                      "lr": lr, "s": round(sched.elapsed())})
        if step % args.checkpoint_every == 0 or sched.progress(step) >= 1.0:
            save_checkpoint(ckpt, {
                "text_encoder": te.state_dict(), "dit": dit.state_dict(),
                "opt": opt.state_dict(), "step": step,
                "elapsed": sched.elapsed(),
                "rng": rng.getstate(), "torch_rng": torch.get_rng_state()})
            if args.eval_prompts > 0:
                export(args, os.path.join(args.workdir, "eval-model"))
                log(args.workdir, "dit", dict(
                    step=step, **evaluate(args, os.path.join(
                        args.workdir, "eval-model"))))


# --- causal (live) DiT -------------------------------------------------------
# The live model (models/sora-live, docs/sora-live.md): the demo DiT
# fine-tuned block-causal, for chunk-by-chunk generation with a KV cache
# (docs of the rule and the sampling loop: tools/causal_reference.py).
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


# --- export and evaluation --------------------------------------------------

def export(args, out):
    from diffusers import UniPCMultistepScheduler, WanPipeline
    tokenizer = load_tokenizer(args)
    data = torch.load(os.path.join(args.workdir, "latents.pt"),
                      weights_only=False)
    state = torch.load(os.path.join(args.workdir, "dit.pt"),
                       weights_only=False)
    te = new_text_encoder(len(tokenizer))
    te.load_state_dict(state["text_encoder"])
    dit = new_dit()
    dit.load_state_dict(state["dit"])
    from diffusers import AutoencoderKLWan
    vae = AutoencoderKLWan(
        **VAE_CONFIG, latents_mean=[round(v, 5) for v in data["mean"].tolist()],
        latents_std=[round(v, 5) for v in data["std"].tolist()])
    vae.load_state_dict(torch.load(os.path.join(args.workdir, "vae.pt"),
                                   weights_only=False)["model"])
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True,
        num_train_timesteps=1000, flow_shift=FLOW_SHIFT)
    pipe = WanPipeline(tokenizer=tokenizer, text_encoder=te, transformer=dit,
                       vae=vae, scheduler=scheduler)
    if os.path.exists(out):
        shutil.rmtree(out)
    pipe.to(torch.float16).save_pretrained(out)
    # the size it was trained at, for our engine (diffusers ignores "_" keys)
    cfg_path = os.path.join(out, "transformer", "config.json")
    with open(cfg_path, encoding="utf-8") as f:
        cfg = json.load(f)
    cfg["_sora_native_size"] = [world.SIZE, world.SIZE, world.FRAMES]
    with open(cfg_path, "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")


def foreground_mask(frames, background):
    """bool [F, H, W]: pixels of uint8 frames [F, H, W, 3] that differ from
    the background (the rule the C quality test uses too)."""
    bg = np.array(dict((b[0], b[2]) for b in world.BACKGROUNDS)[background],
                  dtype=np.float32)
    return np.abs(frames.astype(np.float32) - bg).sum(-1) > 60


def dominant_hue(pixels):
    """Circular mean hue (degrees) of the saturated ones of uint8 pixels
    [N, 3], or None when fewer than 4 are."""
    px = pixels.astype(np.float32) / 255.0
    mx, mn = px.max(-1), px.min(-1)
    keep = (mx - mn) / np.maximum(mx, 1e-6) > 0.3
    if keep.sum() < 4:
        return None
    px, mx, mn = px[keep], mx[keep], mn[keep]
    r, g, b = px[:, 0], px[:, 1], px[:, 2]
    d = np.maximum(mx - mn, 1e-6)
    hue = np.where(mx == r, ((g - b) / d) % 6,
                   np.where(mx == g, (b - r) / d + 2, (r - g) / d + 4)) * 60
    ang = np.deg2rad(hue)
    return np.rad2deg(np.arctan2(np.sin(ang).sum(), np.cos(ang).sum())) % 360


def colour_of(hue):
    return [c[0] for c in world.COLOURS][int(((hue + 30) % 360) // 60)]


def hue_of(colour):
    rgb = dict((c[0], c[2]) for c in world.COLOURS)[colour]
    return dominant_hue(np.array([rgb] * 4, dtype=np.uint8))


def hue_distance(a, b):
    return abs((a - b + 180) % 360 - 180)


def shape_of(mask):
    """"circle", "square" or "triangle" of one object's foreground mask
    [H, W] (None when it is too small): the world's upward triangle has
    3/4 of its area in the lower half of its bounding box, a square fills
    its box, a circle pi/4 of it."""
    n = mask.sum()
    if n < 12:
        return None
    ys, xs = np.nonzero(mask)
    fill = n / ((xs.max() - xs.min() + 1) * (ys.max() - ys.min() + 1))
    lower = (ys > (ys.min() + ys.max()) / 2).sum() / n
    if lower > 0.62:
        return "triangle"
    return "square" if fill > 0.86 else "circle"


def measure(frames, background):
    """(hue name or None, (dx, dy) of the object's centroid from the first
    to the last frame) of uint8 [F, H, W, 3]; the rule the C quality test
    uses too."""
    fg = foreground_mask(frames, background)
    if fg[0].sum() < 4 or fg[-1].sum() < 4:
        return None, None
    hue = dominant_hue(frames[fg])
    if hue is None:
        return None, None
    ys, xs = np.mgrid[0:frames.shape[1], 0:frames.shape[2]]
    c0 = (xs[fg[0]].mean(), ys[fg[0]].mean())
    c1 = (xs[fg[-1]].mean(), ys[fg[-1]].mean())
    return colour_of(hue), (c1[0] - c0[0], c1[1] - c0[1])


def measure_frames(frames, background):
    """Per frame of uint8 [F, H, W, 3] with one object: (hue or None,
    shape or None, centroid (x, y) or None)."""
    fg = foreground_mask(frames, background)
    ys, xs = np.mgrid[0:frames.shape[1], 0:frames.shape[2]]
    out = []
    for f in range(len(frames)):
        if fg[f].sum() < 4:
            out.append((None, None, None))
            continue
        out.append((dominant_hue(frames[f][fg[f]]), shape_of(fg[f]),
                    (xs[fg[f]].mean(), ys[fg[f]].mean())))
    return out


def stream_figures(frames, colour, shape, background, motion, chunk_frames):
    """Counts for one single-object stream of uint8 frames [F, H, W, 3]
    made in chunks of @chunk_frames latent frames: frames whose shape is
    @shape, whose hue is within 20 degrees of @colour's, centroid steps
    inside chunks and across their boundaries, and whether it moved the
    prompted way."""
    per = measure_frames(frames, background)
    want = hue_of(colour)
    seen = [p for p in per if p[0] is not None]
    shape_ok = sum(p[1] == shape for p in seen)
    hue_ok = sum(hue_distance(p[0], want) <= 20 for p in seen)
    # chunk c > 0 starts at video frame 1 + 4 (c chunk_frames - 1)
    starts = set(1 + 4 * (c * chunk_frames - 1)
                 for c in range(1, len(frames) // 4 + 1))
    inside, across = [], []
    for f in range(1, len(per)):
        if per[f][2] is None or per[f - 1][2] is None:
            continue
        step = math.hypot(per[f][2][0] - per[f - 1][2][0],
                          per[f][2][1] - per[f - 1][2][1])
        (across if f in starts else inside).append(step)
    _, d = measure(frames, background)
    return {"frames": len(per), "seen": len(seen), "shape_ok": shape_ok,
            "hue_ok": hue_ok, "inside": inside, "across": across,
            "motion_ok": None if motion not in world.DIRECTIONS else
            direction_of(d) == motion}


def switch_latency(frames, colour, background, first):
    """Video frames from @first (the first frame made after a prompt
    switch) to the first frame whose hue is within 20 degrees of the new
    @colour, or None when none is."""
    want = hue_of(colour)
    for f, (hue, _, _) in enumerate(measure_frames(frames[first:],
                                                   background)):
        if hue is not None and hue_distance(hue, want) <= 20:
            return f
    return None


def summarize(records):
    n = lambda k: sum(r[k] for r in records)  # noqa: E731
    inside = [s for r in records for s in r["inside"]]
    across = [s for r in records for s in r["across"]]
    motion = [r["motion_ok"] for r in records if r["motion_ok"] is not None]
    out = {"streams": len(records), "frames_seen": n("seen"),
           "shape_acc": round(n("shape_ok") / max(1, n("seen")), 3),
           "hue_within_20": round(n("hue_ok") / max(1, n("seen")), 3),
           "motion_acc": round(sum(motion) / max(1, len(motion)), 3)}
    if across:
        out["boundary_step_ratio"] = round(
            float(np.mean(across) / max(np.mean(inside), 1e-6)), 2)
        out["step_inside_px"] = round(float(np.mean(inside)), 2)
        out["step_across_px"] = round(float(np.mean(across)), 2)
    return out


def measure_prompts(n):
    """@n held-out single-object combinations, every motion."""
    combos = world.held_out_combos()
    return [combos[i * len(combos) // n] for i in range(n)]


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


def direction_of(d):
    if d is None or max(abs(d[0]), abs(d[1])) < 4:
        return None
    if abs(d[0]) >= abs(d[1]):
        return "right" if d[0] > 0 else "left"
    return "down" if d[1] > 0 else "up"


def evaluate(args, model_dir):
    """Colour and direction accuracy of clips WanPipeline samples from the
    exported folder for held-out prompts (a quick look during training; the
    real figures come from tests/test-demo-quality.c through our engine)."""
    from diffusers import WanPipeline
    pipe = WanPipeline.from_pretrained(
        model_dir, torch_dtype=torch.float32).to(args.device)
    pipe.set_progress_bar_config(disable=True)
    combos = [c for c in world.held_out_combos() if c[3] in world.DIRECTIONS]
    colour_ok = motion_ok = 0
    n = min(args.eval_prompts, len(combos))
    for i, (c, s, b, m) in enumerate(combos[:n]):
        prompt = world.caption([(c, s)], b, m, "en")
        g = torch.Generator().manual_seed(i)
        video = pipe(prompt=prompt, negative_prompt="", height=world.SIZE,
                     width=world.SIZE, num_frames=world.FRAMES,
                     num_inference_steps=20, guidance_scale=5.0, generator=g,
                     output_type="np").frames[0]
        frames = (np.clip(video, 0, 1) * 255 + 0.5).astype(np.uint8)
        colour, d = measure(frames, b)
        colour_ok += colour == c
        motion_ok += direction_of(d) == m
    return {"eval_colour": round(colour_ok / n, 3),
            "eval_motion": round(motion_ok / n, 3), "eval_n": n}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", default="build-demo-model")
    ap.add_argument("--out", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "models",
        "sora-demo"))
    ap.add_argument("--stage", default="all")
    ap.add_argument("--vae-steps", type=int, default=1200)
    ap.add_argument("--vae-minutes", type=float, default=0,
                    help="train the VAE this long instead of --vae-steps")
    ap.add_argument("--vae-batch", type=int, default=2,
                    help="17-frame clips a VAE step (or 2x 9, 4x 5 frames)")
    ap.add_argument("--clips", type=int, default=6000)
    ap.add_argument("--dit-steps", type=int, default=6000)
    ap.add_argument("--dit-minutes", type=float, default=0,
                    help="train the DiT this long instead of --dit-steps")
    ap.add_argument("--dit-lr", type=float, default=1e-3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--checkpoint-every", type=int, default=500)
    ap.add_argument("--eval-prompts", type=int, default=16)
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
    ap.add_argument("--measure-prompts", type=int, default=24)
    ap.add_argument("--live-guidance", type=float, default=1.0,
                    help="measure the live model with this CFG as well")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count(),
                    help="processes that render the training clips")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available()
                    else "cpu")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    os.makedirs(args.workdir, exist_ok=True)
    stages = ["tokenizer", "vae", "latents", "dit", "export"]
    if args.stage == "causal":
        stages = ["causal_latents", "causal"] + (
            ["causal_distill"] if args.distill_minutes > 0 else []) + \
            ["export_causal"]
    elif args.stage != "all":
        stages = [args.stage]
    for stage in stages:
        if stage == "export":
            export(args, args.out)
            log(args.workdir, "export", {"out": os.path.abspath(args.out)})
        elif stage == "export_causal":
            export_causal(args, args.live_out)
            log(args.workdir, "export_causal",
                {"out": os.path.abspath(args.live_out)})
        else:
            globals()["stage_" + stage](args)


if __name__ == "__main__":
    main()
