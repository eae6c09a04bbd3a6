#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Makes tests/fixtures/demo-quality/: what tests/test-demo-quality.c asks
of models/sora-demo.

  prompts.json            held-out colour x shape x background x motion
                          combinations (never seen in training, see
                          demo_world.combo_held_out), in English and
                          Chinese, with a seed each
  contexts.safetensors    U8 [N, 9, 64, 64, 3]: the first 9 frames of clips
                          from the world generator with a direction of
                          motion, to extend; their captions and directions
                          are in prompts.json

Needs numpy and safetensors only.  Deterministic.

usage: python3 tools/make_demo_quality_fixtures.py [OUTDIR]
"""
import json
import os
import random
import sys

import numpy as np
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import demo_world as world  # noqa: E402

CONTEXT_FRAMES = 9
N_EXTEND = 50


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
        "demo-quality")
    os.makedirs(out, exist_ok=True)
    generate = []
    for i, (c, s, b, m) in enumerate(world.held_out_combos()):
        # two seeds for the directions: the motion rate needs >= 50 clips
        for seed in ((i, 1000 + i) if m in world.DIRECTIONS else (i,)):
            generate.append({
                "en": world.caption([(c, s)], b, m, "en"),
                "zh": world.caption([(c, s)], b, m, "zh"),
                "colour": c, "shape": s, "background": b, "motion": m,
                "seed": seed})
    rng = random.Random(4242)
    extend, clips = [], []
    for _ in range(N_EXTEND):
        c = rng.choice(world.COLOURS)[0]
        s = rng.choice(world.SHAPES)[0]
        b = rng.choice(world.BACKGROUNDS)[0]
        m = rng.choice(world.DIRECTIONS)
        # the world's paths stay in frame for 17 frames, so after these 9
        # the object has room to go on
        clip = world.render([(c, s)], b, m, rng.randrange(1 << 30))
        clips.append(clip[:CONTEXT_FRAMES])
        extend.append({"en": world.caption([(c, s)], b, m, "en"),
                       "colour": c, "background": b, "motion": m,
                       "seed": len(extend)})
    with open(os.path.join(out, "prompts.json"), "w", encoding="utf-8") as f:
        json.dump({"generate": generate, "extend": extend}, f,
                  ensure_ascii=False, indent=1)
        f.write("\n")
    save_file({"contexts": np.stack(clips)},
              os.path.join(out, "contexts.safetensors"))
    print("%d generate prompts, %d extend contexts" % (len(generate),
                                                       len(extend)))


if __name__ == "__main__":
    main()
