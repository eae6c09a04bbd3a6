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

The live model (docs/sora-live.md) is trained from the demo folder by
tools/train_live_model.py.

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
from demo_measure import direction_of, measure  # noqa: E402

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
    if args.stage != "all":
        stages = [args.stage]
    for stage in stages:
        if stage == "export":
            export(args, args.out)
            log(args.workdir, "export", {"out": os.path.abspath(args.out)})
        else:
            globals()["stage_" + stage](args)


if __name__ == "__main__":
    main()
