"""How fill should choose among several completions, and how many to sample: on the tuning
stream, so the eval's scenes never pick the setting.

    python bench/fill_candidates.py [--cases 200] [--candidates 8]
        [--out bench/results/fill_candidates_tune]

Each case regenerates frames 5-8 of 17 (``bench/edit_eval.py``'s fill case) with ``--candidates``
completions in one batch (``Pipeline.complete_latents``), decodes them all and reports, for the
first K of them (candidate 0 is the one-completion sample), the PSNR of the error pooled over
the cases (as ``edit_eval.py`` does) of the completion each rule keeps:

- ``consensus``: closest to the other K - 1 in mean squared error over the regenerated frames
  (``Pipeline.consensus``: the medoid, the minimum-Bayes-risk pick under squared error);
- ``given frames``: whose decoded given frames are closest to the given pixels (the VAE is
  causal, so the frames after the gap are decoded through the regenerated latent);
- ``both``: the lower sum of its ranks by the two;
- ``oracle``: the one closest to the truth (not a rule: what choosing could reach).

The cases are split into halves (the first and the second ``--cases / 2``) to show how much a
figure moves between samples of the same stream. Frames are decoded without the watermark,
so the figures read slightly above ``edit_eval.py``'s, which marks what the model made.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from edit_eval import EVAL_SEED, cases, render

from kinema.pipelines.text_to_video import Pipeline, crossfade

MISSING = [5, 6, 7, 8]
RULES = ("consensus", "given frames", "both", "oracle")


def pooled_db(errors: list[float]) -> float:
    return float(10 * np.log10(255.0**2 / max(float(np.mean(errors)), 1e-10)))


def choose(rule: str, truth_err: np.ndarray, given_err: np.ndarray, apart: np.ndarray) -> int:
    """Index kept among K completions: truth_err, given_err [K]; apart [K, K] pairwise MSE."""
    risk = apart.sum(1)  # [K]
    if rule == "consensus":
        return int(np.argmin(risk))
    if rule == "given frames":
        return int(np.argmin(given_err))
    if rule == "both":
        return int(np.argmin(risk.argsort().argsort() + given_err.argsort().argsort()))
    return int(np.argmin(truth_err))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--out", default="bench/results/fill_candidates_tune")
    args = ap.parse_args()
    pipe = Pipeline.from_pretrained(None)
    items = cases(args.cases, seed=EVAL_SEED + 7)  # edit_eval.py --tune's stream
    m = np.array(MISSING)
    known = np.ones(17, dtype=bool)
    known[m] = False
    K = args.candidates
    per_case = []  # (truth_err [K], given_err [K], apart [K, K], cross-fade error)
    t0 = time.perf_counter()
    for i, (p, g) in enumerate(items):
        clip = render(g)  # [17, 64, 64, 3]
        with torch.no_grad():
            latents = pipe.complete_latents([p], [""], clip[None], known, pipe.config.steps,
                                            pipe.config.guidance, i, candidates=K)  # fmt: skip
        made = pipe.decode(latents).astype(np.float64)  # [K, 17, 64, 64, 3]
        truth = clip.astype(np.float64)
        truth_err = ((made[:, m] - truth[m]) ** 2).mean(axis=(1, 2, 3, 4))  # [K]
        given_err = ((made[:, known] - truth[known]) ** 2).mean(axis=(1, 2, 3, 4))  # [K]
        gap = made[:, m]
        apart = ((gap[:, None] - gap[None]) ** 2).mean(axis=(2, 3, 4, 5))  # [K, K]
        fade = crossfade(clip[None], known)[0][m].astype(np.float64)
        per_case.append((truth_err, given_err, apart, float(((fade - truth[m]) ** 2).mean())))
        if (i + 1) % 20 == 0:
            print(f"{i + 1}/{len(items)} cases, {time.perf_counter() - t0:.0f}s", flush=True)
    half = len(per_case) // 2
    parts = {"all": per_case, "first half": per_case[:half], "second half": per_case[half:]}
    res: dict = {"cases": len(per_case), "candidates": K, "seconds": time.perf_counter() - t0}
    for name, part in parts.items():
        res[name] = {"crossfade": pooled_db([c[3] for c in part])}
        for k in range(1, K + 1):
            res[name][k] = {
                rule: pooled_db(
                    [c[0][choose(rule, c[0][:k], c[1][:k], c[2][:k, :k])] for c in part]
                )
                for rule in RULES
            }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.json").write_text(json.dumps(res, indent=1))
    lines = [
        "# Choosing among fill completions, tuning stream "
        f"(`python bench/fill_candidates.py --cases {args.cases} --candidates {K}`)",
        "",
        "Frames 5-8 of 17 regenerated; pooled PSNR of the kept completion (higher is better), "
        "decoded without the watermark. Candidate 0 alone is K = 1.",
        "",
    ]
    for name in parts:
        lines += [f"## {name} ({len(parts[name])} cases, cross-fade "
                  f"{res[name]['crossfade']:.2f} dB)", "",
                  "| K | " + " | ".join(RULES) + " |", "|---|" + "---|" * len(RULES)]  # fmt: skip
        for k in range(1, K + 1):
            row = res[name][k]
            lines.append(f"| {k} | " + " | ".join(f"{row[r]:.2f}" for r in RULES) + " |")
        lines.append("")
    Path(f"{out}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
