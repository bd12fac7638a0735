"""Image to video, one clip per case, at several sampler step counts, on the edit eval's tuning
stream (its scenes, not the eval's): does the model alone follow the prompt better with more
Euler steps? The screened best of N is then tuned at the count this picks
(``t2v_screen_sweep.py --image --steps N``).

    python bench/i2v_steps_sweep.py [--cases 200] [--steps 20 30 40]
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from edit_eval import EVAL_SEED, _image_to_video, cases
from results_io import report

from kinema.pipelines import Pipeline


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--steps", type=int, nargs="+", default=[20, 30, 40])
    ap.add_argument("--out", default="bench/results/i2v_steps_sweep_tune")
    args = ap.parse_args()
    pipe = Pipeline.from_pretrained(args.weights)
    items = cases(args.cases, seed=EVAL_SEED + 7)  # the tuning stream, as edit_eval --tune
    base = pipe.config
    runs = {}
    for steps in args.steps:
        # image to video samples config.image_steps (Pipeline.steps_for), not config.steps
        pipe.config = dataclasses.replace(base, image_steps=steps)
        runs[steps] = _image_to_video(pipe, items, 10, 1)
    command = (f"python bench/i2v_steps_sweep.py --cases {args.cases} --steps "
               + " ".join(map(str, args.steps)))  # fmt: skip
    write(runs, command, args.cases, Path(args.out))


def write(runs: dict, command: str, n: int, out: Path) -> None:
    lines = [
        f"# Image to video, one clip, by sampler steps (`{command}`)",
        "",
        f"{n} tuning cases of the edit eval (one and two objects, the prompt as written, context "
        "guidance as shipped), 17x64x64, Euler, guidance 4, one clip each (no verifier), the "
        "same noise at every step count, so the rows are paired.",
        "",
        "| Euler steps | objects + prompted motion | colour / shape / motion per object |",
        "|---|---|---|",
    ]
    for steps, r in runs.items():
        lines.append(f"| {steps} | {100 * r['objects_and_motion']:.1f}% | "
                     f"{100 * r['color']:.1f}% / {100 * r['shape']:.1f}% / "
                     f"{100 * r['motion']:.1f}% |")  # fmt: skip
    report(out, "\n".join(lines), {"command": command, "runs": runs})


if __name__ == "__main__":
    main()
