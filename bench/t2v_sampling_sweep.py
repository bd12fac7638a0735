"""Guidance and step count for the shipped sampler, picked on a tuning stream of prompts that
neither training nor bench/t2v_eval.py draws (so the eval's numbers stay unbiased).

    python bench/t2v_sampling_sweep.py [--prompts 80] [--guidance 2 4 6 8] [--steps 20 40]
        [--sampler euler heun] [--interval 0:1 0:0.8]

``--interval lo:hi`` limits guidance to noise levels lo <= t <= hi (the DiT runs once instead
of twice per step outside it).

Heun makes two DiT calls per step (one on the last), so compare it with Euler at twice the steps
for the same cost.
"""

from __future__ import annotations

import argparse
import dataclasses

from results_io import report
from t2v_eval import EVAL_SEED, prompts, run

from kinema.pipelines import Pipeline

TUNE_SEED = EVAL_SEED + 7  # another stream: not the eval's scenes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None)
    ap.add_argument("--prompts", type=int, default=80, help="per object count")
    ap.add_argument("--guidance", type=float, nargs="+", default=[2.0, 4.0, 6.0, 8.0])
    ap.add_argument("--steps", type=int, nargs="+", default=[20])
    ap.add_argument("--sampler", nargs="+", default=["euler"], choices=["euler", "heun"])
    ap.add_argument("--interval", nargs="+", default=["0:1"], help="guidance intervals lo:hi")
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default="bench/results/t2v_sampling_sweep")
    args = ap.parse_args()
    pipe = Pipeline.from_pretrained(args.weights)
    rows = []
    grid = [
        (sampler, steps, g, tuple(float(x) for x in iv.split(":")))
        for sampler in args.sampler
        for steps in args.steps
        for g in args.guidance
        for iv in args.interval
    ]
    for sampler, steps, g, interval in grid:
        # PipelineConfig checks the interval (0 <= lo <= hi <= 1)
        pipe.config = dataclasses.replace(pipe.config, guidance_interval=interval)
        row = {"sampler": sampler, "steps": steps, "guidance": g, "interval": list(interval)}
        for objects in (1, 2):
            items = prompts(args.prompts, objects, TUNE_SEED, "heldout")
            ns = argparse.Namespace(
                batch=args.batch, steps=steps, guidance=g, seed=args.seed, sampler=sampler
            )
            r = run(pipe, items, 17, 64, 64, ns)
            row.update({f"{k}_{objects}": v for k, v in r.items()})
        rows.append(row)
        print(row, flush=True)
    cmd = (
        f"python bench/t2v_sampling_sweep.py --prompts {args.prompts} --guidance "
        + " ".join(f"{g:g}" for g in args.guidance)
        + " --steps "
        + " ".join(str(n) for n in args.steps)
        + " --sampler "
        + " ".join(args.sampler)
        + " --interval "
        + " ".join(args.interval)
    )
    lines = [
        f"# Sampler sweep on tuning prompts (`{cmd}`)",
        "",
        "Held-out phrasing, 17x64x64, a prompt stream the eval never uses.",
        "",
        "| sampler | steps | guidance | guided at t in | 1 object: colour / shape / motion / all | 2 objects: colour / shape / motion / all | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [
            " / ".join(f"{100 * r[f'{c}_{o}']:.1f}%" for c in ("color", "shape", "motion", "all"))
            for o in (1, 2)
        ]
        secs = r["seconds_1"] + r["seconds_2"]
        lines.append(
            f"| {r['sampler']} | {r['steps']} | {r['guidance']} | "
            f"[{r['interval'][0]:g}, {r['interval'][1]:g}] | {cells[0]} | {cells[1]} | {secs:.0f} |"
        )
    text = "\n".join(lines)
    report(args.out, text, rows)


if __name__ == "__main__":
    main()
