# SPDX-License-Identifier: LGPL-2.1-or-later
"""The rules that measure clips of the demo world (tools/demo_world.py):
per frame the object (the pixels away from the background), its dominant
hue, its shape and its centroid; per stream the counts the model cards
give.  tests/sora-test-demo.c ports them to C: keep them in step."""
import math

import numpy as np

import demo_world as world


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


def direction_of(d):
    if d is None or max(abs(d[0]), abs(d[1])) < 4:
        return None
    if abs(d[0]) >= abs(d[1]):
        return "right" if d[0] > 0 else "left"
    return "down" if d[1] > 0 else "up"
