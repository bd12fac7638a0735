"""Pick the VAE's latent channels by measurement: same recipe and budget, 4 / 8 / 16 channels.

    python bench/vae_latent_sweep.py [--steps 300] [--channels 4 8 16]

Trains on small proxy clips (default 9x32x32: same architecture and compression, 1/8 of the
cost) and reports held-out PSNR (16 clips, 17x64x64) after the same number of steps. More channels keep
more detail but make the diffusion model's job harder, so the smallest setting within ~1 dB of
the best is the pick.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from kinema.config import load_vae_recipe
from kinema.train.trainer import train
from kinema.train.vae import VAETask, new_vae


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/vae-shapes.yaml")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument(
        "--bucket", type=int, nargs=3, default=[9, 32, 32], help="frames H W of the proxy clips"
    )
    ap.add_argument("--channels", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--out", type=Path, default=Path("bench/results/vae_latent_sweep.md"))
    args = ap.parse_args()
    rows = []
    for c in args.channels:
        recipe = load_vae_recipe(args.config)
        recipe.model = dataclasses.replace(recipe.model, latent_channels=c)
        recipe.data = dataclasses.replace(recipe.data, buckets=[(*args.bucket, 1.0)])
        recipe.train = dataclasses.replace(
            recipe.train,
            steps=args.steps,
            warmup=min(100, args.steps // 4),
            eval_every=args.steps,
            ckpt_every=10**9,
        )
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            train(
                new_vae(recipe.model, recipe.train.seed),
                VAETask(recipe),
                recipe.train,
                tmp,
                progress=False,
            )
            evals = [
                json.loads(line) for line in (Path(tmp) / "log.jsonl").read_text().splitlines()
            ]
        score = next(e["eval"] for e in reversed(evals) if "eval" in e)
        rows.append((c, score["val_psnr"], time.perf_counter() - t0))
        print(
            f"latent_channels={c}: val PSNR {score['val_psnr']:.2f} dB ({rows[-1][2]:.0f}s)",
            flush=True,
        )
    lines = [
        f"# VAE latent channels, {args.steps} steps each on {args.bucket} clips "
        f"(`python bench/vae_latent_sweep.py --steps {args.steps}`)",
        "",
        "| latent channels | held-out PSNR (dB) | seconds |",
        "|---|---|---|",
        *[f"| {c} | {p:.2f} | {s:.0f} |" for c, p, s in rows],
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
