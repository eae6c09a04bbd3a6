#!/usr/bin/env python3
"""Turns a released causal Wan2.1 checkpoint (a PyTorch pickle with the
original Wan tensor names) into a diffusers-layout model folder the engine
opens: transformer/ with safetensors and a config.json whose "_sora_causal"
holds the chunk, window, sink and timestep settings (docs/models.md, Causal
checkpoints); the text encoder, tokenizer, VAE, scheduler and
model_index.json come from a Wan2.1-T2V-1.3B-Diffusers folder (copied, or
linked with --link).

    python3 tools/convert_causal_checkpoint.py --family self-forcing \\
        --checkpoint checkpoints/self_forcing_dmd.pt \\
        --base Wan2.1-T2V-1.3B-Diffusers --out models/self-forcing
    python3 tools/convert_causal_checkpoint.py --family longlive \\
        --checkpoint longlive_models/models/longlive_base.pt \\
        --lora longlive_models/models/lora.pt \\
        --base Wan2.1-T2V-1.3B-Diffusers --out models/longlive
    python3 tools/convert_causal_checkpoint.py --self-test [--sora-tool T]

Pinned dependencies: tools/requirements-fixtures.txt.  The pickles are read
with torch.load(weights_only=True), which rebuilds tensors and plain
containers only; --trust-pickle lifts that for a file you trust that holds
other objects.  The C side never unpickles anything.

--self-test checks the name mapping against diffusers' own single-file
converter (diffusers.loaders.single_file_utils.
convert_wan_transformer_to_diffusers) on a tiny random model in the original
naming, wrapped as each family's checkpoint (LongLive's with a LoRA), and
that the converted folder loads in diffusers' WanTransformer3DModel (and in
sora-tool inspect with --sora-tool).
"""

import argparse
import importlib.util
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

# Each family's sampling settings as their inference configs state them.
FAMILIES = {
    # github:guandeh17/Self-Forcing configs/self_forcing_dmd.yaml
    # (denoising_step_list 1000/750/500/250, warp_denoising_step: true,
    # timestep_shift 5.0) and configs/default_config.yaml
    # (num_frame_per_block 3, context_noise 0); utils/wan_wrapper.py builds
    # CausalWanModel with local_attn_size=-1 (every past frame), sink_size=0.
    "self-forcing": dict(
        chunk_frames=3,
        window_frames=0,
        sink_frames=0,
        steps=[1000, 750, 500, 250],
        shift=5.0,
        context_timestep=0,
    ),
    # github:tianweiy/CausVid configs/wan_causal_dmd.yaml: denoising_step_list
    # 1000/757/522/0 (causal_inference.py drops the final 0),
    # num_frame_per_block 3, warp_denoising_step false: the steps are the
    # timesteps themselves, so no warp (shift 1); the cache is written with
    # timestep * 0; causal_model.py has no local window.
    "causvid": dict(
        chunk_frames=3,
        window_frames=0,
        sink_frames=0,
        steps=[1000, 757, 522],
        shift=1.0,
        context_timestep=0,
    ),
    # github:NVlabs/LongLive at 9b2102b (the Wan2.1-1.3B release)
    # configs/longlive_inference.yaml: the Self-Forcing steps, warp and shift,
    # num_frame_per_block 3, local_attn_size 12, sink_size 3, context_noise 0.
    "longlive": dict(
        chunk_frames=3,
        window_frames=12,
        sink_frames=3,
        steps=[1000, 750, 500, 250],
        shift=5.0,
        context_timestep=0,
    ),
}
# (rank, alpha) of each family's LoRA: LongLive's configs/longlive_inference.yaml
# adapter (rank 256, alpha 256; peft scales B·A by alpha / rank).
LORA_DEFAULTS = {"longlive": (256, 256)}
CAUSAL_KEYS = (
    "chunk_frames",
    "window_frames",
    "sink_frames",
    "steps",
    "shift",
    "context_timestep",
)
COMPONENTS = ("text_encoder", "tokenizer", "vae", "scheduler")
WEIGHTS = "diffusion_pytorch_model.safetensors"

# Original Wan2.1 T2V names (wan/modules/model.py WanModel; Self-Forcing's
# CausalWanModel keeps them) to diffusers' WanTransformer3DModel names.
# Anything else (an I2V or VACE tensor) is refused rather than dropped.
_ATTN = r"(?P<a>self_attn|cross_attn)"
NAME_MAP = [
    (r"patch_embedding\.(?P<p>weight|bias)", "patch_embedding.{p}"),
    (
        r"text_embedding\.(?P<i>[02])\.(?P<p>weight|bias)",
        "condition_embedder.text_embedder.linear_{n}.{p}",
    ),
    (
        r"time_embedding\.(?P<i>[02])\.(?P<p>weight|bias)",
        "condition_embedder.time_embedder.linear_{n}.{p}",
    ),
    (r"time_projection\.1\.(?P<p>weight|bias)", "condition_embedder.time_proj.{p}"),
    (r"blocks\.(?P<b>\d+)\.modulation", "blocks.{b}.scale_shift_table"),
    (
        r"blocks\.(?P<b>\d+)\." + _ATTN + r"\.(?P<x>[qkv])\.(?P<p>weight|bias)",
        "blocks.{b}.{attn}.to_{x}.{p}",
    ),
    (
        r"blocks\.(?P<b>\d+)\." + _ATTN + r"\.o\.(?P<p>weight|bias)",
        "blocks.{b}.{attn}.to_out.0.{p}",
    ),
    (
        r"blocks\.(?P<b>\d+)\." + _ATTN + r"\.norm_(?P<x>[qk])\.weight",
        "blocks.{b}.{attn}.norm_{x}.weight",
    ),
    # Wan's norm3 (before cross-attention, the only affine one) is
    # diffusers' norm2.
    (r"blocks\.(?P<b>\d+)\.norm3\.(?P<p>weight|bias)", "blocks.{b}.norm2.{p}"),
    (
        r"blocks\.(?P<b>\d+)\.ffn\.0\.(?P<p>weight|bias)",
        "blocks.{b}.ffn.net.0.proj.{p}",
    ),
    (r"blocks\.(?P<b>\d+)\.ffn\.2\.(?P<p>weight|bias)", "blocks.{b}.ffn.net.2.{p}"),
    (r"head\.head\.(?P<p>weight|bias)", "proj_out.{p}"),
    (r"head\.modulation", "scale_shift_table"),
]
NAME_MAP = [(re.compile(p), t) for p, t in NAME_MAP]
# Wrappers around the state dict's names: FSDP and torch.compile leave
# these inside them; WanDiffusionWrapper holds the model as "model.".
WRAPPER_PARTS = ("_fsdp_wrapped_module.", "_orig_mod.", "_checkpoint_wrapped_module.")
MODEL_PREFIXES = ("model.diffusion_model.", "model.")


class ConvertError(Exception):
    pass


def diffusers_name(name):
    for pattern, template in NAME_MAP:
        m = pattern.fullmatch(name)
        if m:
            g = m.groupdict()
            if "i" in g:
                g["n"] = 1 if g["i"] == "0" else 2
            if "a" in g:
                g["attn"] = "attn1" if g["a"] == "self_attn" else "attn2"
            return template.format(**g)
    raise ConvertError(f"tensor {name!r} is not one of Wan2.1 T2V's")


def unwrap(name):
    for part in WRAPPER_PARTS:
        name = name.replace(part, "")
    return name


def dit_tensors(sd, what):
    """The DiT's tensors of a state dict under their original names: the
    wrapper parts removed, and of WanDiffusionWrapper's names ("model." +
    the DiT's) only those; what else the wrapper holds (a GAN critic's
    heads) is not the DiT and is left out, saying so."""
    sd = {unwrap(k): v for k, v in sd.items()}
    for prefix in MODEL_PREFIXES:
        inside = {k[len(prefix) :]: v for k, v in sd.items() if k.startswith(prefix)}
        if inside:
            left = sorted(k for k in sd if not k.startswith(prefix))
            if left:
                print(
                    f"{what}: leaving out {len(left)} tensors outside the DiT: {left[:4]}"
                )
            return inside
    return sd


def load_pickle(path, trust):
    import torch

    # mmap (zip files, torch.save's format since 1.6): a 1.3B checkpoint
    # with its EMA copy is ~11 GB in f32; only the tensors converted are read.
    mmap = zipfile.is_zipfile(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust, mmap=mmap)
    except OSError as e:
        raise ConvertError(f"{path}: {e.strerror or e}") from e
    except pickle.UnpicklingError as e:
        # torch's message is a page; its "Unsupported ..." line says why.
        lines = [l.strip() for l in str(e).splitlines() if l.strip()]
        why = next((l for l in lines if "Unsupported" in l), lines[0] if lines else "")
        raise ConvertError(
            f"{path}: torch.load(weights_only=True) refuses it ({why}); "
            "--trust-pickle reads a checkpoint you trust that holds more than "
            "tensors (its pickle can run code)"
        ) from e
    except Exception as e:  # a corrupt or foreign file: torch's own errors
        raise ConvertError(f"{path}: not a PyTorch checkpoint ({e})") from e


def is_state_dict(obj):
    import torch

    return (
        isinstance(obj, dict)
        and obj
        and all(isinstance(v, torch.Tensor) for v in obj.values())
    )


def generator_state(path, use_ema, trust):
    """The generator's tensors under their original Wan names: Self-Forcing,
    CausVid and LongLive save {"generator": ..., "generator_ema": ...} (or
    {"model": ...}) of WanDiffusionWrapper, whose names start "model."."""
    obj = load_pickle(path, trust)
    key = "generator_ema" if use_ema else "generator"
    if isinstance(obj, dict) and key in obj:
        sd = obj[key]
    elif (
        not use_ema
        and isinstance(obj, dict)
        and "model" in obj
        and is_state_dict(obj["model"])
    ):
        sd = obj["model"]
    elif not use_ema and is_state_dict(obj):
        sd = obj
    else:
        have = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise ConvertError(f"{path}: no {key!r} state dict (has {have})")
    if not is_state_dict(sd):
        raise ConvertError(f"{path}: {key!r} is not a dict of tensors")
    return dit_tensors(sd, path)


def lora_pairs(path, trust):
    """{module: (A, B)} from a peft LoRA state dict (LongLive saves
    get_peft_model_state_dict of the generator's CausalWanModel, optionally
    under "generator_lora": names base_model.model.<module>.lora_A.weight)."""
    obj = load_pickle(path, trust)
    if isinstance(obj, dict) and "generator_lora" in obj:
        obj = obj["generator_lora"]
    if not is_state_dict(obj):
        raise ConvertError(f"{path}: not a LoRA state dict")
    peft_names = {k.replace("base_model.model.", "", 1): v for k, v in obj.items()}
    pairs = {}
    for name, t in dit_tensors(peft_names, path).items():
        m = re.fullmatch(r"(.+)\.lora_([AB])(?:\.default)?\.weight", name)
        if not m:
            raise ConvertError(f"{path}: {name!r} is not a LoRA A or B weight")
        pairs.setdefault(m.group(1), {})[m.group(2)] = t
    for module, ab in pairs.items():
        if set(ab) != {"A", "B"}:
            raise ConvertError(f"{path}: {module!r} has lora_{''.join(ab)} only")
    return {m: (ab["A"], ab["B"]) for m, ab in pairs.items()}


def merge_lora(sd, pairs, rank, alpha, what):
    """W += (alpha / rank)·B·A (peft's LoraLayer scaling), in f32, stored
    back in W's dtype."""
    scale = alpha / rank
    for module, (a, b) in sorted(pairs.items()):
        key = module + ".weight"
        if key not in sd:
            raise ConvertError(
                f"{what}: LoRA module {module!r} has no {key!r} in the checkpoint"
            )
        w = sd[key]
        if a.shape[0] != rank or b.shape[1] != rank:
            raise ConvertError(
                f"{what}: {module!r} has rank {a.shape[0]}, not --lora-rank {rank}"
            )
        if (b.shape[0], a.shape[1]) != tuple(w.shape):
            raise ConvertError(
                f"{what}: {module!r} B·A is {b.shape[0]}x{a.shape[1]}, "
                f"its weight {tuple(w.shape)}"
            )
        merged = w.float() + scale * (b.float() @ a.float())
        sd[key] = merged.to(w.dtype)
    return scale


def to_diffusers(sd, dtype, what):
    import torch

    out = {}
    for name, t in sd.items():
        t = t.detach()
        if dtype is not None:
            t = t.to(getattr(torch, dtype))
        try:
            out[diffusers_name(name)] = t.contiguous().clone()
        except ConvertError as e:
            raise ConvertError(f"{what}: {e}") from e
    return out


def check_against_config(sd, config, what):
    """The names and shapes diffusers' WanTransformer3DModel has for
    @config (built on the meta device, no memory): both ways."""
    from accelerate import init_empty_weights
    from diffusers import WanTransformer3DModel

    with init_empty_weights():
        model = WanTransformer3DModel.from_config(config)
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in sd.items()}
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    shapes = sorted(k for k in set(want) & set(have) if want[k] != have[k])
    if missing or extra or shapes:
        parts = []
        if missing:
            parts.append(f"missing {missing[:4]}")
        if extra:
            parts.append(f"not in the config's model {extra[:4]}")
        if shapes:
            k = shapes[0]
            parts.append(
                f"{len(shapes)} shapes differ, e.g. {k} {have[k]} vs {want[k]}"
            )
        raise ConvertError(
            f"{what}: does not fit the base transformer config: " + "; ".join(parts)
        )


def causal_settings(args):
    fam = FAMILIES[args.family]
    c = {
        k: fam[k] if getattr(args, k) is None else getattr(args, k) for k in CAUSAL_KEYS
    }
    c["steps"] = [int(s) if float(s).is_integer() else float(s) for s in c["steps"]]
    return c


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ConvertError(f"{path}: {e}") from e


def write_folder(out, base, config, sd, link):
    from safetensors.torch import save_file

    tdir = os.path.join(out, "transformer")
    os.makedirs(tdir, exist_ok=True)
    save_file(sd, os.path.join(tdir, WEIGHTS), metadata={"format": "pt"})
    with open(os.path.join(tdir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    for name in COMPONENTS + ("model_index.json",):
        src = os.path.abspath(os.path.join(base, name))
        dst = os.path.join(out, name)
        if link:
            os.symlink(src, dst)
        elif os.path.isdir(src):
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)


def base_config(base):
    """The base folder's transformer config, once the folder is checked to
    hold the components the output takes from it."""
    index = read_json(os.path.join(base, "model_index.json"))
    if index.get("_class_name") != "WanPipeline":
        raise ConvertError(f"{base}/model_index.json: not a WanPipeline folder")
    for name in COMPONENTS:
        if not os.path.isdir(os.path.join(base, name)):
            raise ConvertError(f"{base}: no {name}/")
    return read_json(os.path.join(base, "transformer", "config.json"))


def merge_lora_file(sd, args):
    rank, alpha = LORA_DEFAULTS.get(args.family, (None, None))
    rank = args.lora_rank or rank
    alpha = args.lora_alpha or alpha
    if not rank or not alpha:
        raise ConvertError(
            f"--family {args.family} has no LoRA: give --lora-rank and --lora-alpha"
        )
    pairs = lora_pairs(args.lora, args.trust_pickle)
    scale = merge_lora(sd, pairs, rank, alpha, args.lora)
    print(f"merged {args.lora}: {len(pairs)} modules, scale alpha/rank = {scale:g}")


def convert(args):
    """The whole conversion; returns the output folder's transformer
    config."""
    if os.path.exists(args.out) and os.listdir(args.out):
        raise ConvertError(f"{args.out}: exists and is not empty")
    config = base_config(args.base)
    sd = generator_state(args.checkpoint, args.use_ema, args.trust_pickle)
    if args.lora:
        merge_lora_file(sd, args)
    sd = to_diffusers(sd, args.dtype, args.checkpoint)
    check_against_config(sd, config, args.checkpoint)
    config["_sora_causal"] = causal_settings(args)
    write_folder(args.out, args.base, config, sd, args.link)
    causal = json.dumps(config["_sora_causal"])
    print(f"wrote {args.out}: {len(sd)} tensors, _sora_causal {causal}")
    return config


# --- self-test ---------------------------------------------------------


def original_shapes(cfg):
    """Every tensor of Wan2.1's WanModel (T2V) for a diffusers transformer
    config, under the original names, from wan/modules/model.py."""
    dim = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    ffn, pt, ph, pw = cfg["ffn_dim"], *cfg["patch_size"]
    out_ch = cfg.get("out_channels") or cfg["in_channels"]
    s = {
        "patch_embedding.weight": (dim, cfg["in_channels"], pt, ph, pw),
        "patch_embedding.bias": (dim,),
        "text_embedding.0.weight": (dim, cfg["text_dim"]),
        "text_embedding.0.bias": (dim,),
        "text_embedding.2.weight": (dim, dim),
        "text_embedding.2.bias": (dim,),
        "time_embedding.0.weight": (dim, cfg["freq_dim"]),
        "time_embedding.0.bias": (dim,),
        "time_embedding.2.weight": (dim, dim),
        "time_embedding.2.bias": (dim,),
        "time_projection.1.weight": (6 * dim, dim),
        "time_projection.1.bias": (6 * dim,),
        "head.head.weight": (out_ch * pt * ph * pw, dim),
        "head.head.bias": (out_ch * pt * ph * pw,),
        "head.modulation": (1, 2, dim),
    }
    for b in range(cfg["num_layers"]):
        p = f"blocks.{b}."
        s[p + "modulation"] = (1, 6, dim)
        for a in ("self_attn", "cross_attn"):
            for x in "qkvo":
                s[f"{p}{a}.{x}.weight"] = (dim, dim)
                s[f"{p}{a}.{x}.bias"] = (dim,)
            s[f"{p}{a}.norm_q.weight"] = (dim,)
            s[f"{p}{a}.norm_k.weight"] = (dim,)
        s[p + "norm3.weight"] = (dim,)
        s[p + "norm3.bias"] = (dim,)
        s[p + "ffn.0.weight"] = (ffn, dim)
        s[p + "ffn.0.bias"] = (ffn,)
        s[p + "ffn.2.weight"] = (dim, ffn)
        s[p + "ffn.2.bias"] = (dim,)
    return s


def diffusers_reference(orig, config):
    """diffusers' own converter on @orig, checked to load strictly into
    WanTransformer3DModel(@config)."""
    from diffusers import WanTransformer3DModel
    from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers

    ref = convert_wan_transformer_to_diffusers({k: v.clone() for k, v in orig.items()})
    model = WanTransformer3DModel.from_config(config)
    model.load_state_dict(ref, strict=True)
    return ref


def assert_same(got, want, what, atol=0.0):
    """Same names; every tensor within @atol (0: bit-equal)."""
    if set(got) != set(want):
        raise AssertionError(
            f"{what}: names differ: {sorted(set(got) ^ set(want))[:6]}"
        )
    worst = 0.0
    for k in want:
        if got[k].shape != want[k].shape or got[k].dtype != want[k].dtype:
            raise AssertionError(
                f"{what}: {k} is {got[k].dtype}{tuple(got[k].shape)}, want {want[k].dtype}{tuple(want[k].shape)}"
            )
        worst = max(worst, (got[k].double() - want[k].double()).abs().max().item())
    if worst > atol:
        raise AssertionError(f"{what}: max |diff| {worst:g} > {atol:g}")
    print(
        f"ok {what}: {len(want)} tensors equal diffusers' converter (max |diff| {worst:g}, bound {atol:g})"
    )


def converted(out):
    """The tensors of @out's transformer as the engine reads them, after
    checking that diffusers loads the folder's transformer with nothing
    missing, unexpected or mismatched."""
    from diffusers import WanTransformer3DModel
    from safetensors.torch import load_file

    tdir = os.path.join(out, "transformer")
    _, info = WanTransformer3DModel.from_pretrained(tdir, output_loading_info=True)
    if any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")):
        raise AssertionError(f"{tdir}: WanTransformer3DModel.from_pretrained: {info}")
    return load_file(os.path.join(tdir, WEIGHTS))


def run_convert(argv):
    return convert(parse_args(argv))


def save_generator(path, sd, **more):
    """@sd wrapped as the trainers save it: WanDiffusionWrapper's names
    ("model." + the original name) under "generator"."""
    import torch

    torch.save({"generator": {"model." + k: v for k, v in sd.items()}, **more}, path)


class SelfTest:
    def __init__(self, base, tmp):
        import torch

        self.base, self.tmp = base, tmp
        self.config = read_json(os.path.join(base, "transformer", "config.json"))
        self.shapes = original_shapes(self.config)
        self.g = torch.Generator().manual_seed(21)
        self.orig = {k: self.randn(*s) for k, s in self.shapes.items()}

    def randn(self, *shape):
        import torch

        return torch.randn(shape, generator=self.g)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def argv(self, family, checkpoint, out, *more):
        argv = ["--family", family, "--checkpoint", self.path(checkpoint)]
        return argv + ["--out", self.path(out), "--base", self.base, "--link", *more]

    def convert(self, *args):
        return run_convert(self.argv(*args))["_sora_causal"]

    def refused(self, needle, *args):
        try:
            run_convert(self.argv(*args))
        except ConvertError as e:
            if needle not in str(e):
                raise AssertionError(f"error {e!s} lacks {needle!r}")
            print(f"ok refused: {e}")
            return
        raise AssertionError(f"{args} did not fail")

    def self_forcing(self):
        """Plain and EMA weights (the EMA names with FSDP's part)."""
        ema = {k: v + 1.0 for k, v in self.orig.items()}
        fsdp = {"model._fsdp_wrapped_module." + k: v for k, v in ema.items()}
        # A wrapper-level tensor outside the DiT (the critic's GAN head)
        # is left out.
        fsdp["_cls_pred_branch.0.weight"] = self.randn(3)
        save_generator(self.path("self_forcing_dmd.pt"), self.orig, generator_ema=fsdp)
        causal = self.convert("self-forcing", "self_forcing_dmd.pt", "sf")
        want = diffusers_reference(self.orig, self.config)
        assert_same(converted(self.path("sf")), want, "self-forcing")
        assert causal == FAMILIES["self-forcing"], causal
        self.convert("self-forcing", "self_forcing_dmd.pt", "sf-ema", "--use-ema")
        want = diffusers_reference(ema, self.config)
        assert_same(converted(self.path("sf-ema")), want, "self-forcing --use-ema")

    def causvid(self):
        """CausVid's model.pt, stored as bf16."""
        import torch

        save_generator(self.path("model.pt"), self.orig)
        causal = self.convert("causvid", "model.pt", "cv", "--dtype", "bfloat16")
        ref = diffusers_reference(self.orig, self.config)
        want = {k: v.to(torch.bfloat16) for k, v in ref.items()}
        assert_same(converted(self.path("cv")), want, "causvid --dtype bfloat16")
        assert causal == FAMILIES["causvid"], causal

    def longlive(self, sora_tool):
        """The base and a peft LoRA on every Linear of the blocks (rank 4,
        alpha 8: scale 2), the window overridden on the command line."""
        import torch

        rank, alpha = 4, 8
        lora, merged = {}, dict(self.orig)
        linear = (
            r"blocks\.\d+\.(self_attn\.[qkvo]|cross_attn\.[qkvo]|ffn\.[02])\.weight"
        )
        for k in (k for k in self.shapes if re.fullmatch(linear, k)):
            module = k[: -len(".weight")]
            rows, cols = self.shapes[k]
            a, b = self.randn(rank, cols), self.randn(rows, rank)
            lora[f"base_model.model.{module}.lora_A.weight"] = a
            lora[f"base_model.model.{module}.lora_B.weight"] = b
            merged[k] = self.orig[k] + (alpha / rank) * (b @ a)
        save_generator(self.path("longlive_base.pt"), self.orig)
        torch.save({"generator_lora": lora}, self.path("lora.pt"))
        lora_args = ["--lora", self.path("lora.pt"), "--lora-rank", str(rank)]
        lora_args += ["--lora-alpha", str(alpha)]
        causal = self.convert(
            "longlive", "longlive_base.pt", "ll", "--window-frames", "6", *lora_args
        )
        # The same f32 ops on both sides: bit-equal is expected; 1e-5
        # allows one f32 rounding of the sum (|W + 2·B·A| < 100 here).
        want = diffusers_reference(merged, self.config)
        assert_same(converted(self.path("ll")), want, "longlive + LoRA", atol=1e-5)
        assert causal == dict(FAMILIES["longlive"], window_frames=6), causal
        if sora_tool:
            self.inspect(sora_tool, "ll")

    def inspect(self, sora_tool, out):
        res = subprocess.run(
            [sora_tool, "inspect", self.path(out)], capture_output=True, text=True
        )
        line = [l.strip() for l in res.stdout.splitlines() if "causal:" in l]
        want = (
            "causal: chunks of 3 latent frames, window 6 frames, sink 3, "
            "steps [1000, 750, 500, 250], shift 5, context at t 0"
        )
        if res.returncode != 0 or line != [want]:
            raise AssertionError(
                f"sora-tool inspect: exit {res.returncode}: "
                f"{res.stdout}{res.stderr}"
            )
        print(f"ok sora-tool inspect: {line[0]}")

    def refusals(self):
        """Each bad input is refused naming what is wrong."""
        import torch

        lora = ["--lora", self.path("lora.pt"), "--lora-rank", "8", "--lora-alpha", "8"]
        self.refused(
            "rank 4, not --lora-rank 8", "longlive", "longlive_base.pt", "x", *lora
        )
        no_head = {k: v for k, v in self.orig.items() if k != "head.modulation"}
        save_generator(self.path("bad.pt"), no_head)
        self.refused("missing ['scale_shift_table']", "self-forcing", "bad.pt", "x")
        i2v = dict(self.orig, **{"img_emb.proj.0.weight": self.randn(4)})
        save_generator(self.path("bad.pt"), i2v)
        self.refused(
            "bad.pt: tensor 'img_emb.proj.0.weight' is not one of Wan2.1 T2V's",
            "self-forcing",
            "bad.pt",
            "x",
        )
        torch.save({"critic": {}}, self.path("bad.pt"))
        self.refused(
            "no 'generator' state dict (has ['critic'])", "self-forcing", "bad.pt", "x"
        )
        self.refused(
            "exists and is not empty", "self-forcing", "self_forcing_dmd.pt", "sf"
        )


def self_test(args):
    here = os.path.dirname(os.path.abspath(__file__))
    base = args.base or os.path.join(here, "..", "tests", "fixtures", "wan-tiny")
    tmp = tempfile.mkdtemp(prefix="sora-convert-")
    try:
        t = SelfTest(base, tmp)
        t.self_forcing()
        t.causvid()
        t.longlive(args.sora_tool)
        t.refusals()
    finally:
        shutil.rmtree(tmp)
    print("self-test passed")


def parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--self-test",
        action="store_true",
        help="check the mapping against diffusers' converter and exit",
    )
    p.add_argument(
        "--sora-tool",
        help="with --self-test: also check `SORA_TOOL inspect` on a converted folder",
    )
    p.add_argument(
        "--family",
        choices=sorted(FAMILIES),
        help="the checkpoint's model family (sets the defaults below)",
    )
    p.add_argument(
        "--checkpoint",
        help="the generator pickle (self_forcing_dmd.pt, model.pt, longlive_base.pt)",
    )
    p.add_argument(
        "--use-ema",
        action="store_true",
        help="take 'generator_ema' instead of 'generator'",
    )
    p.add_argument("--lora", help="a peft LoRA pickle to merge (LongLive's lora.pt)")
    p.add_argument("--lora-rank", type=int, help="the LoRA's rank (longlive: 256)")
    p.add_argument(
        "--lora-alpha",
        type=float,
        help="the LoRA's alpha; scale = alpha / rank (longlive: 256)",
    )
    p.add_argument(
        "--base",
        help="a Wan2.1-T2V-1.3B-Diffusers folder (--self-test: tests/fixtures/wan-tiny)",
    )
    p.add_argument("--out", help="the new model folder (must not exist or be empty)")
    p.add_argument(
        "--link",
        action="store_true",
        help="link the base's components instead of copying them",
    )
    p.add_argument(
        "--dtype",
        choices=("float32", "float16", "bfloat16"),
        help="store the weights as this (default: as in the checkpoint)",
    )
    p.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow pickles that hold more than tensors (runs their code)",
    )
    p.add_argument("--chunk-frames", type=int, help="latent frames per chunk")
    p.add_argument(
        "--window-frames",
        type=int,
        help="attention window in latent frames, 0: every past frame",
    )
    p.add_argument(
        "--sink-frames", type=int, help="first latent frames always attended"
    )
    p.add_argument(
        "--steps",
        type=float,
        nargs="+",
        help="raw denoising steps in (0, 1000], descending",
    )
    p.add_argument("--shift", type=float, help="flow shift of the steps' warp")
    p.add_argument(
        "--context-timestep", type=float, help="timestep the KV cache is written at"
    )
    args = p.parse_args(argv)
    if not args.self_test:
        for need in ("family", "checkpoint", "base", "out"):
            if getattr(args, need) is None:
                p.error(f"--{need.replace('_', '-')} is required")
    return args


def main(argv):
    args = parse_args(argv)
    need = ("torch", "diffusers", "safetensors", "accelerate")
    missing = [m for m in need if importlib.util.find_spec(m) is None]
    if missing:
        # 77: meson's skip
        print(
            f"skip: no {', '.join(missing)} (pip install -r tools/requirements-fixtures.txt)"
        )
        return 77 if args.self_test else 1
    try:
        if args.self_test:
            self_test(args)
        else:
            convert(args)
    except ConvertError as e:
        print(f"convert_causal_checkpoint: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
