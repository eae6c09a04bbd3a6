# SPDX-License-Identifier: LGPL-2.1-or-later
"""The procedural world the demo model (models/sora-demo) is trained on:
short clips of one or two flat shapes moving on a plain background, with
captions made from the parameters in English and Chinese.

Everything is a function of an integer seed, so the training set, the
held-out prompts and the quality tests agree.  tests/test-demo-quality.c
measures clips with the same colour, background and direction rules
(COLOURS, BACKGROUNDS, the foreground threshold): keep them in step.
"""
import math
import random

import numpy as np

SIZE = 64
FRAMES = 17  # 1 + 4k: what the causal VAE makes of 5 latent frames

# name, Chinese name, RGB.  Hues 60 degrees apart, so the dominant hue of a
# clip says which colour it shows.
COLOURS = [
    ("red", "红色", (230, 30, 30)),
    ("yellow", "黄色", (230, 220, 30)),
    ("green", "绿色", (30, 200, 40)),
    ("cyan", "青色", (30, 210, 220)),
    ("blue", "蓝色", (40, 60, 230)),
    ("magenta", "品红色", (220, 40, 220)),
]
SHAPES = [("circle", "圆"), ("square", "方块"), ("triangle", "三角形")]
BACKGROUNDS = [
    ("black", "黑色", (0, 0, 0)),
    ("gray", "灰色", (128, 128, 128)),
    ("white", "白色", (255, 255, 255)),
]
# name, Chinese phrase, per-frame velocity direction (dx, dy) or None
MOTIONS = [
    ("left", "向左移动", (-1, 0)),
    ("right", "向右移动", (1, 0)),
    ("up", "向上移动", (0, -1)),
    ("down", "向下移动", (0, 1)),
    ("bouncing", "上下弹跳", None),
    ("growing", "变大", None),
    ("shrinking", "变小", None),
]
DIRECTIONS = ("left", "right", "up", "down")

EN_SINGLE = [
    "a {c} {s} {m} on a {b} background",
    "a {c} {s} {m} across a {b} background",
    "{b} background, a {c} {s} {m}",
    "one {c} {s} {m} over a plain {b} background",
]
EN_PAIR = [
    "a {c} {s} and a {c2} {s2} {m} on a {b} background",
    "{b} background, a {c} {s} and a {c2} {s2} {m}",
]
ZH_SINGLE = [
    "{b}背景上一个{c}的{s}{m}",
    "一个{c}的{s}在{b}背景上{m}",
]
ZH_PAIR = [
    "{b}背景上一个{c}的{s}和一个{c2}的{s2}{m}",
]


def motion_phrase(motion, lang):
    if lang == "zh":
        return dict((m[0], m[1]) for m in MOTIONS)[motion]
    if motion in DIRECTIONS:
        return "moving " + motion
    return motion


def combo_held_out(colour, shape, background, motion):
    """About 1 in 7 of the single-object colour x shape x background x
    motion combinations never appear in training (nor in pairs); the quality
    tests prompt with them."""
    key = "%s|%s|%s|%s" % (colour, shape, background, motion)
    h = 2166136261
    for ch in key.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h % 7 == 0


def held_out_combos():
    return [(c[0], s[0], b[0], m[0]) for c in COLOURS for s in SHAPES
            for b in BACKGROUNDS for m in MOTIONS
            if combo_held_out(c[0], s[0], b[0], m[0])]


def caption(objects, background, motion, lang, template=0):
    """objects: [(colour, shape)] of one or two; names in English."""
    cz = dict((c[0], c[1]) for c in COLOURS)
    sz = dict(SHAPES)
    bz = dict((b[0], b[1]) for b in BACKGROUNDS)
    zh = lang == "zh"
    if len(objects) == 1:
        templates = ZH_SINGLE if zh else EN_SINGLE
    else:
        templates = ZH_PAIR if zh else EN_PAIR
    t = templates[template % len(templates)]
    (c, s) = objects[0]
    (c2, s2) = objects[-1]
    return t.format(
        c=cz[c] if zh else c, s=sz[s] if zh else s,
        c2=cz[c2] if zh else c2, s2=sz[s2] if zh else s2,
        b=bz[background] if zh else background,
        m=motion_phrase(motion, lang))


def _coverage(shape, cx, cy, r, xs, ys):
    """Fraction of each pixel (4x4 supersampled grid xs, ys) inside."""
    if shape == "circle":
        inside = (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r
    elif shape == "square":
        inside = (np.abs(xs - cx) <= r * 0.85) & (np.abs(ys - cy) <= r * 0.85)
    else:  # upward triangle
        top = cy - r
        bottom = cy + r * 0.8
        half = (ys - top) / (bottom - top) * r
        inside = (ys >= top) & (ys <= bottom) & (np.abs(xs - cx) <= half)
    ss = 4
    return inside.reshape(SIZE, ss, SIZE, ss).mean(axis=(1, 3))


_SS = (np.arange(SIZE * 4) + 0.5) / 4.0
_XS, _YS = np.meshgrid(_SS, _SS)


def trajectory(motion, rng, n_frames=FRAMES):
    """Per-frame (cx, cy, radius) for one object."""
    r0 = rng.uniform(7.0, 10.0)
    # the path of a longer clip spans the same distance, so it stays inside
    speed = rng.uniform(1.6, 2.4) * (FRAMES - 1) / (n_frames - 1)
    out = []
    if motion in DIRECTIONS:
        dx, dy = dict((m[0], m[2]) for m in MOTIONS)[motion]
        travel = speed * (n_frames - 1)
        # start so that the whole path stays inside the frame
        lo, hi = r0 + 1, SIZE - r0 - 1
        sx = rng.uniform(lo, hi) if dx == 0 else (
            rng.uniform(lo, max(lo, hi - travel)) if dx > 0 else
            rng.uniform(min(hi, lo + travel), hi))
        sy = rng.uniform(lo, hi) if dy == 0 else (
            rng.uniform(lo, max(lo, hi - travel)) if dy > 0 else
            rng.uniform(min(hi, lo + travel), hi))
        for f in range(n_frames):
            out.append((sx + dx * speed * f, sy + dy * speed * f, r0))
    elif motion == "bouncing":
        cx = rng.uniform(r0 + 2, SIZE - r0 - 2)
        floor = SIZE - r0 - 2
        height = rng.uniform(18, 30)
        phase = rng.uniform(0, math.pi)
        for f in range(n_frames):
            h = height * abs(math.sin(phase + f * math.pi / 8))
            out.append((cx, floor - h, r0))
    else:
        grow = motion == "growing"
        ra, rb = (5.0, 15.0) if grow else (15.0, 5.0)
        cx = rng.uniform(18, SIZE - 18)
        cy = rng.uniform(18, SIZE - 18)
        for f in range(n_frames):
            out.append((cx, cy, ra + (rb - ra) * f / (n_frames - 1)))
    return out


def render(objects, background, motion, seed, n_frames=FRAMES):
    """uint8 [n_frames, SIZE, SIZE, 3] for objects [(colour, shape)]."""
    rng = random.Random(seed)
    rgb = dict((c[0], c[2]) for c in COLOURS)
    bg = np.array(dict((b[0], b[2]) for b in BACKGROUNDS)[background],
                  dtype=np.float32)
    clip = np.empty((n_frames, SIZE, SIZE, 3), dtype=np.float32)
    clip[:] = bg
    paths = [trajectory(motion, rng, n_frames) for _ in objects]
    if len(objects) == 2:
        # side by side, across the direction of motion, so they never meet
        for i, path in enumerate(paths):
            off = -14 if i == 0 else 14
            shifted = []
            for (x, y, r) in path:
                r *= 0.75
                if motion in ("left", "right"):
                    y = SIZE / 2 + off
                else:
                    x = SIZE / 2 + off
                shifted.append((x, y, r))
            paths[i] = shifted
    for (colour, shape), path in zip(objects, paths):
        c = np.array(rgb[colour], dtype=np.float32)
        for f, (cx, cy, r) in enumerate(path):
            a = _coverage(shape, cx, cy, r, _XS, _YS)[..., None]
            clip[f] = clip[f] * (1 - a) + c * a
    return np.clip(clip + 0.5, 0, 255).astype(np.uint8)


def draw(rng, allow_held_out=False):
    """(objects [(colour, shape)], background, motion) of one example from
    random.Random @rng.  Held-out combinations are skipped unless asked."""
    while True:
        n = 2 if rng.random() < 0.2 else 1
        motion = rng.choice(MOTIONS)[0]
        background = rng.choice(BACKGROUNDS)[0]
        objects = []
        for _ in range(n):
            objects.append((rng.choice(COLOURS)[0], rng.choice(SHAPES)[0]))
        if n == 2 and objects[0][0] == objects[1][0]:
            continue
        if allow_held_out or not any(
                combo_held_out(c, s, background, motion) for c, s in objects):
            return objects, background, motion


def sample(seed, allow_held_out=False, n_frames=FRAMES):
    """One training example: (clip uint8 [n_frames, H, W, 3], English
    caption, Chinese caption, background name)."""
    rng = random.Random(seed * 7919 + 17)
    objects, background, motion = draw(rng, allow_held_out)
    t = rng.randrange(12)
    clip = render(objects, background, motion, rng.randrange(1 << 30),
                  n_frames)
    return (clip, caption(objects, background, motion, "en", t),
            caption(objects, background, motion, "zh", t), background)


def all_caption_corpus(n=20000, seed=1):
    """Captions for training the tokenizer: every combination, both
    languages, every template, plus random ones."""
    lines = []
    for c in COLOURS:
        for s in SHAPES:
            for b in BACKGROUNDS:
                for m in MOTIONS:
                    for t in range(4):
                        for lang in ("en", "zh"):
                            lines.append(caption([(c[0], s[0])], b[0], m[0],
                                                 lang, t))
    rng = random.Random(seed)
    for _ in range(n):
        o = [(rng.choice(COLOURS)[0], rng.choice(SHAPES)[0]) for _ in range(2)]
        lines.append(caption(o, rng.choice(BACKGROUNDS)[0],
                             rng.choice(MOTIONS)[0], rng.choice(["en", "zh"]),
                             rng.randrange(4)))
    return lines
