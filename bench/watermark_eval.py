"""Invisible watermark: embedding cost, detection under attacks, false detections.

    python bench/watermark_eval.py [--marked 500] [--clean 500] [--weights kinema/weights]

Videos, each written as Kinema writes them (H.264 crf 18) and read back before any attack:

- half are Kinema's own generations (the embedded model, held-out prompts, 64x64, 64x96 and
  128x128), half are rendered Shapes World clips (64x64 up to 256x256), so flat black, white
  and gray backgrounds (where half of the pattern clips) are well represented;
- the clean set is the same kinds unmarked, plus photos from scikit-image's bundled images
  panned across (real footage, real texture).

Attacks: re-encode with H.264 at crf 23 and 28; resize x2 (up) and x0.5 (down, videos of 128
px and more); crop 10% of each side's length at a random offset; keep the first half of the
frames. Detection rate = share of marked videos called marked; false detections = share of
clean videos called marked, under every attack. Writes bench/results/watermark_eval.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from results_io import report

from kinema.io.video import Video, read_video, write_video
from kinema.safety.watermark import WatermarkConfig, detect, embed
from kinema.world.captions import caption
from kinema.world.render import render
from kinema.world.scene import sample_scene

SEED = 717_171
ATTACKS = ("none", "crf23", "crf28", "resize x2", "resize x0.5", "crop 10%", "trim half")


def codec(frames: np.ndarray, crf: int, tmp: Path) -> np.ndarray:
    path = tmp / "v.mp4"
    write_video(Video(frames), path, overwrite=True, quality=crf)
    return read_video(path).frames


def attacked(frames: np.ndarray, rng: np.random.Generator, tmp: Path) -> dict[str, np.ndarray]:
    t, h, w, _ = frames.shape
    ch, cw = round(h * 0.9), round(w * 0.9)
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    out = {
        "none": frames,
        "crf23": codec(frames, 23, tmp),
        "crf28": codec(frames, 28, tmp),
        "resize x2": np.stack([cv2.resize(f, (2 * w, 2 * h), cv2.INTER_LINEAR) for f in frames]),
        "crop 10%": frames[:, y : y + ch, x : x + cw],
        "trim half": frames[: (t + 1) // 2],
    }
    if min(h, w) >= 128:
        out["resize x0.5"] = np.stack(
            [cv2.resize(f, (w // 2, h // 2), cv2.INTER_AREA) for f in frames]
        )
    return out


def generated(n: int, weights: Path | None, rng: np.random.Generator) -> list[np.ndarray]:
    """n unmarked generations of the embedded model (safety off = no watermark)."""
    import warnings

    from kinema.pipelines import Pipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = Pipeline.from_pretrained(weights, safety=False)
    sizes = [(64, 64), (64, 96), (128, 128)]
    out: list[np.ndarray] = []
    for i in range(0, n, 8):
        h, w = sizes[(i // 8) % len(sizes)]
        prompts = [
            caption(sample_scene(rng, max_objects=2).spec, rng, "heldout")
            for _ in range(min(8, n - i))
        ]
        videos = pipe(prompts, height=h, width=w, seed=SEED + i)
        out.extend(v.frames for v in videos)
    return out


def rendered(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    sizes = [(64, 64), (64, 64), (96, 64), (128, 128), (256, 256)]
    return [
        render(sample_scene(rng, height=sizes[i % 5][0], width=sizes[i % 5][1])) for i in range(n)
    ]


def photo_pans(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Real photos (scikit-image's bundled samples) panned across: 17 frames, 64 to 128 px."""
    from skimage import data

    names = ["astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon", "page"]
    images = []
    for name in names:
        img = getattr(data, name)()
        images.append(np.repeat(img[..., None], 3, -1) if img.ndim == 2 else img[..., :3])
    out = []
    for i in range(n):
        img = images[i % len(images)]
        side = [64, 96, 128][i % 3]
        crop = side * 2
        scale = crop / min(img.shape[:2]) * 1.3
        big = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        y0 = int(rng.integers(0, big.shape[0] - crop))
        x0 = int(rng.integers(0, big.shape[1] - crop - 32))
        step = int(rng.integers(1, 3))
        frames = [
            cv2.resize(
                big[y0 : y0 + crop, x0 + t * step : x0 + t * step + crop],
                (side, side),
                interpolation=cv2.INTER_AREA,
            )
            for t in range(17)
        ]
        out.append(np.stack(frames).astype(np.uint8))
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return 10 * np.log10(255.0**2 / mse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--marked", type=int, default=500)
    ap.add_argument("--clean", type=int, default=500)
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--config", default="{}", help="WatermarkConfig fields as JSON")
    ap.add_argument("--out", type=Path, default=Path("bench/results/watermark_eval"))
    args = ap.parse_args()
    cfg = WatermarkConfig(**json.loads(args.config))
    rng = np.random.default_rng(SEED)
    t0 = time.time()
    n_gen = args.marked // 2
    base = generated(n_gen, args.weights, rng) + rendered(args.marked - n_gen, rng)
    n_clean_gen = args.clean * 2 // 5
    n_pan = args.clean // 5
    clean = (
        generated(n_clean_gen, args.weights, rng)
        + rendered(args.clean - n_clean_gen - n_pan, rng)
        + photo_pans(n_pan, rng)
    )
    print(f"{len(base)} marked and {len(clean)} clean videos made in {time.time() - t0:.0f}s")
    scores: dict[str, dict[str, list[float]]] = {"marked": {}, "clean": {}}
    costs: list[float] = []
    t_embed = t_detect = 0.0
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for kind, videos in (("marked", base), ("clean", clean)):
            for frames in videos:
                if kind == "marked":
                    t1 = time.perf_counter()
                    marked = embed(frames, config=cfg)
                    t_embed += time.perf_counter() - t1
                    costs.append(psnr(marked, frames))
                    frames = marked
                written = codec(frames, 18, tmp)  # what `kinema generate` writes
                for name, v in attacked(written, rng, tmp).items():
                    t1 = time.perf_counter()
                    scores[kind].setdefault(name, []).append(detect(v, config=cfg).score)
                    t_detect += time.perf_counter() - t1
    rows = []
    for name in ATTACKS:
        m = np.array(scores["marked"].get(name, []))
        c = np.array(scores["clean"].get(name, []))
        rows.append(
            {
                "attack": name,
                "marked": len(m),
                "detected": float(np.mean(m > cfg.threshold)),
                "marked_min_score": float(m.min()),
                "marked_p1_score": float(np.percentile(m, 1)),
                "clean": len(c),
                "false": float(np.mean(c > cfg.threshold)),
                "clean_max_score": float(c.max()),
            }
        )
    costs_a = np.array(costs)
    n_det = sum(len(v) for v in scores["marked"].values()) + sum(
        len(v) for v in scores["clean"].values()
    )
    lines = [
        "# Invisible watermark (bench/watermark_eval.py)",
        "",
        f"Config: tile {cfg.tile}px, periods {cfg.min_period:g}-{cfg.max_period:g}px, "
        f"target PSNR {cfg.psnr:g} dB, threshold {cfg.threshold:g}, scales {cfg.scales}.",
        f"Embedding cost: PSNR mean {costs_a.mean():.2f} dB, min {costs_a.min():.2f} dB over "
        f"{len(costs_a)} videos. Embed {1000 * t_embed / len(base):.1f} ms/video, "
        f"detect {1000 * t_detect / n_det:.1f} ms/video (2 CPU cores).",
        "",
        "| attack | marked videos | detected | lowest score | 1st pct score | clean videos | "
        "false detections | highest clean score |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['attack']} | {r['marked']} | {100 * r['detected']:.1f}% | "
            f"{r['marked_min_score']:.2f} | {r['marked_p1_score']:.2f} | {r['clean']} | "
            f"{100 * r['false']:.2f}% | {r['clean_max_score']:.2f} |"
        )
    text = "\n".join(lines)
    report(args.out, text, {"rows": rows, "psnr_mean": costs_a.mean(), "psnr_min": costs_a.min()})


if __name__ == "__main__":
    main()
