"""Is fill's gap to its goal in the sampler or in the model? Sampling settings on the tuning
stream, and the given latents' causal context.

    python bench/fill_sweep.py [--cases 40] [--out bench/results/fill_sweep]

Fill removes frames 5-8 of 17 (one whole latent frame; ``bench/edit_eval.py``'s fill case) and
regenerates them through ``Pipeline.__call__(video=..., missing=...)``. Each row changes one
setting from ``pipeline.json`` (20 Euler steps, guidance 4, from pure noise) and reports the
PSNR of the error pooled over every case, as ``edit_eval.py`` does. Cases come from the tuning
stream (``edit_eval.py --tune``), so nothing here is picked on the eval's scenes.

The last rows take the pipeline apart. The VAE is causal, so the given latents after the gap
(frames 9-16) are encoded from pixels that include the gap, which the pipeline drafts by
cross-fade. "true context" encodes the real clip instead (an oracle: it sees the missing
frames), the ceiling of any better draft; "two passes" samples once, pastes the given frames
into the decoded result, encodes that as the next draft and samples again. These rows decode
the sampled latents directly (no watermark), so they read above the pipeline's rows by what
the watermark costs; compare them with "one pass" beside them.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from edit_eval import EVAL_SEED, cases, render

from kinema.io.video import Video
from kinema.pipelines.text_to_video import Pipeline, crossfade

MISSING = [5, 6, 7, 8]
SETTINGS = (
    ("shipped (20 Euler steps, guidance 4, from noise)", {}),
    ("guidance 1", {"guidance_scale": 1.0}),
    ("guidance 2", {"guidance_scale": 2.0}),
    ("guidance 3", {"guidance_scale": 3.0}),
    ("Heun, 20 steps", {"sampler": "heun"}),
    ("40 Euler steps", {"num_inference_steps": 40}),
    ("from the cross-fade draft noised to 0.7", {"strength": 0.7}),
    ("from the cross-fade draft noised to 0.5", {"strength": 0.5}),
)


def pooled_db(errors: list[float]) -> float:
    return float(10 * np.log10(255.0**2 / max(float(np.mean(errors)), 1e-10)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=40)
    ap.add_argument("--out", default="bench/results/fill_sweep")
    args = ap.parse_args()
    pipe = Pipeline.from_pretrained(None)
    items = cases(args.cases, seed=EVAL_SEED + 7)  # edit_eval.py --tune's stream
    clips = [render(g) for _, g in items]
    m = np.array(MISSING)
    rows = []
    for name, kw in SETTINGS:
        t0 = time.perf_counter()
        errors = []
        for i, ((prompt, _), c) in enumerate(zip(items, clips, strict=True)):
            out = pipe(prompt, video=Video(c, 8.0), missing=MISSING, seed=i, **kw).frames
            errors.append(float(np.mean((out[m].astype(np.float64) - c[m]) ** 2)))
        rows.append({"setting": name, "pooled_db": pooled_db(errors),
                     "seconds": time.perf_counter() - t0})  # fmt: skip
        print(rows[-1], flush=True)

    # the causal context of the given latents: drafted, true, or redrafted from a first pass
    known = np.ones(17, dtype=bool)
    known[m] = False
    given = pipe.latent_given(known)
    shape = pipe.latent_shape(17, *clips[0].shape[1:3])
    cfg = pipe.config
    parts: dict[str, list[float]] = {"one pass": [], "true context": [], "two passes": []}
    t0 = time.perf_counter()
    for i, ((prompt, _), c) in enumerate(zip(items, clips, strict=True)):

        def fill(clean, prompt=prompt, seed=i):  # decoded [T, H, W, 3], given latents = clean
            lat = pipe.sample([prompt], [""], shape, cfg.steps, cfg.guidance, seed,
                              given=given, clean=clean)  # fmt: skip
            return pipe.decode(lat)[0]

        first = fill(pipe.encode(crossfade(c[None], known)))
        redraft = first[None].copy()
        redraft[:, known] = c[known]
        for name, out in (("one pass", first), ("true context", fill(pipe.encode(c[None]))),
                          ("two passes", fill(pipe.encode(redraft)))):  # fmt: skip
            parts[name].append(float(np.mean((out[m].astype(np.float64) - c[m]) ** 2)))
    for name, errors in parts.items():
        rows.append({"setting": f"{name} (decoded, no watermark)", "pooled_db": pooled_db(errors),
                     "seconds": (time.perf_counter() - t0) / 3})  # fmt: skip
        print(rows[-1], flush=True)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.json").write_text(json.dumps(rows, indent=1))
    lines = [
        f"# Fill settings on the tuning stream (`python bench/fill_sweep.py --cases {args.cases}`)",
        "",
        "Frames 5-8 of 17 regenerated; PSNR of the error pooled over "
        f"{args.cases} cases (higher is better).",
        "",
        "| setting | pooled PSNR | seconds |",
        "|---|---|---|",
        *(f"| {r['setting']} | {r['pooled_db']:.2f} dB | {r['seconds']:.0f} |" for r in rows),
    ]
    Path(f"{out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
