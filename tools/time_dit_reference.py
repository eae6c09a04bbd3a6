#!/usr/bin/env python3
"""Times diffusers' WanTransformer3DModel on the CPU for the forward that
`sora-tool run-dit` times: the wide fixture model (1.3B widths, 2 blocks,
weights from tests/fixtures/reference/wide-recipe.json) on the inputs saved
in wide-dit.safetensors, in float32 with 2 threads.

    .venv/bin/python tools/time_dit_reference.py [--runs N]   (the venv of make_fixtures.py)
"""
import argparse
import os
import sys
import time

import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The same model and weight generator as the fixtures.
from make_fixtures import REF, fill_from_recipe, wide_transformer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3,
                        help="timed forwards after one untimed (default 3)")
    args = parser.parse_args()
    torch.set_num_threads(2)

    transformer = wide_transformer()
    fill_from_recipe(transformer)
    ref = load_file(os.path.join(REF, "wide-dit.safetensors"))
    inputs = (ref["hidden_states"], ref["timestep"],
              ref["encoder_hidden_states"])

    out = transformer(*inputs, return_dict=False)[0]
    err = ((out - ref["output"]).norm() / ref["output"].norm()).item()
    print("torch %s, %d threads; output vs the fixture: relative L2 %.3g"
          % (torch.__version__, torch.get_num_threads(), err))
    walls, cpus = [], []
    for _ in range(args.runs):
        w, c = time.perf_counter(), time.process_time()
        transformer(*inputs, return_dict=False)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    print("forward: best %.3f s wall, %.3f s process CPU (of %d runs)"
          % (min(walls), min(cpus), args.runs))


if __name__ == "__main__":
    main()
