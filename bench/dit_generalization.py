"""Does the DiT memorise its latent cache? Flow loss on cached training clips vs fresh clips.

    python bench/dit_generalization.py [--run runs/dit-shapes] [--clips 384] [--batches 12]

Takes the run's checkpoint (raw and EMA weights) and its latent cache; encodes ``--clips``
fresh Shapes World clips (17x64x64, another scene seed, training caption templates) the same
way; and computes the masked flow loss on the first ``--clips`` cached clips and on the fresh
ones with the same batches of noise, timesteps and frame masks. A model that memorised its
clips has a clearly lower loss on them than on fresh ones.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch
from safetensors.torch import load_file

from kinema.config import load_dit_recipe
from kinema.models.dit import DiT
from kinema.models.text import TextEncoder
from kinema.models.vae import CausalVAE
from kinema.train.dit import CACHE_NAME, DiTTask, build_cache

FRESH_SEED = 98_765  # a scene stream the training cache (data.seed) never drew from


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="runs/dit-shapes")
    ap.add_argument("--config", default="configs/dit-shapes.yaml")
    ap.add_argument("--clips", type=int, default=384)
    ap.add_argument("--batches", type=int, default=12)
    args = ap.parse_args()
    torch.set_num_threads(2)
    recipe = load_dit_recipe(args.config)
    vae, text = CausalVAE.from_pretrained(), TextEncoder()
    cache = torch.load(f"{args.run}/{CACHE_NAME}", weights_only=False)
    n = args.clips
    bucket = cache["buckets"]["17x64x64"]
    train = {"buckets": {"17x64x64": {k: v[:n] for k, v in bucket.items()}},
             "empty": cache["empty"]}  # fmt: skip
    fresh_recipe = dataclasses.replace(
        recipe, data=dataclasses.replace(recipe.data, seed=FRESH_SEED, buckets=[[17, 64, 64, n]])
    )
    fresh = build_cache(fresh_recipe, vae, text, progress=False)
    fresh["empty"] = cache["empty"]
    model = DiT(recipe.model)
    print(f"| weights | {n} cached training clips | {n} fresh clips |\n|---|---|---|")
    for name in ("model", "ema"):
        model.load_state_dict(load_file(f"{args.run}/checkpoint/{name}.safetensors"))
        model.eval()
        losses = []
        for c in (train, fresh):
            task = DiTTask(fresh_recipe, vae, text, c)  # same batch draws for both caches
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
                batch_losses = [
                    float(task.loss(model, task.batch(s), s)[0]) for s in range(args.batches)
                ]
                losses.append(np.mean(batch_losses))
        print(f"| {name} | {losses[0]:.4f} | {losses[1]:.4f} |")


if __name__ == "__main__":
    main()
