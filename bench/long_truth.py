"""The ceiling of the minute-long measures: the world's own rendering of the scenes
``edit_eval.py``'s long section generates, read the same way.

    python bench/long_truth.py [--seconds 60] [--prompts 10]

For the eval stream and the tuning stream (``edit_eval.py --tune``), each scene the long
section makes a minute of (cases 0 .. prompts - 1; case 0 is also its timing prompt) is rendered
for the same length by Shapes World itself (linear motions reflecting off the walls, bounces
topped up) and scored by ``edit_eval``'s identity per object per frame and motion per object
per 2 s window. What the world's own clips read is as far as the measure lets any model go:
where objects overlap, or a window holds a reflection, the scorer reads less than 100%.
Writes ``bench/results/long_truth.{md,json}``.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from edit_eval import EVAL_SEED, cases, motion_per_window, objects_per_frame
from results_io import report

from kinema.world.render import render


def stream(seed: int, seconds: int, prompts: int) -> dict:
    rows = []
    for prompt, g in cases(max(200, prompts), seed=seed)[:prompts]:
        long = dataclasses.replace(g, num_frames=1 + 8 * seconds, _cache={})  # fresh caches
        frames = render(long)
        rows.append(
            {
                "prompt": prompt,
                "objects": len(g.spec.objects),
                "identity_frames": objects_per_frame(frames, g.spec),
                "motion_windows": float(np.mean(motion_per_window(frames, g.spec))),
            }
        )
    return {
        "identity_frames": float(np.mean([r["identity_frames"] for r in rows])),
        "motion_windows": float(np.mean([r["motion_windows"] for r in rows])),
        "per_prompt": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--prompts", type=int, default=10, help="as edit_eval.py's --long-prompts")
    ap.add_argument("--out", default="bench/results/long_truth")
    args = ap.parse_args()
    res = {
        "eval": stream(EVAL_SEED, args.seconds, args.prompts),
        "tune": stream(EVAL_SEED + 7, args.seconds, args.prompts),
    }
    lines = [
        f"# The world's own minutes (`python bench/long_truth.py --seconds {args.seconds} "
        f"--prompts {args.prompts}`)",
        "",
        "The scenes `bench/edit_eval.py`'s long section generates, rendered by Shapes World for "
        "the same length and read by the same measures: the ceiling of those measures.",
        "",
        "| stream | identity per object per frame | motion per object per 2 s window |",
        "|---|---|---|",
    ]
    for name, r in res.items():
        lines.append(
            f"| {name} ({len(r['per_prompt'])} scenes) | {100 * r['identity_frames']:.1f}% | "
            f"{100 * r['motion_windows']:.1f}% |"
        )
    lines += ["", "| stream | scene | identity | motion |", "|---|---|---|---|"]
    for name, r in res.items():
        for p in r["per_prompt"]:
            lines.append(
                f"| {name} | `{p['prompt']}` | {100 * p['identity_frames']:.1f}% | "
                f"{100 * p['motion_windows']:.1f}% |"
            )
    report(args.out, "\n".join(lines), res)


if __name__ == "__main__":
    main()
