"""How the identity guard's score reads the windows of minute-long videos (picking its threshold).

    python bench/long_guard_probe.py [--tune] [--prompts 10] [--out bench/results/long_guard_probe]

Makes each prompt's minute as ``kinema generate --seconds 60`` does with the guard off (the
same prompts and seeds as ``bench/edit_eval.py --only long``), then, per object and per
extension window, puts the guard's score of the window's new frames against the first clip
(``kinema.pipelines.guard``; a two-object minute taken apart by the composer's
``split_frames``) beside the Shapes World scorer's reading of that window: is the object's
shape right? A threshold is useful where windows read wrong score under it and windows read
right score over it; the table gives, per threshold, the share of wrong windows caught and of
right windows it would make again, and where in the minute the first wrong window comes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from edit_eval import EVAL_SEED, cases

from kinema.pipelines import Pipeline
from kinema.pipelines.compose import ShapesWorldComposer
from kinema.pipelines.guard import ShapesWorldGuard
from kinema.world.captions import read_world_prompt
from kinema.world.parse import parse_clip

THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=10)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--tune", action="store_true")
    ap.add_argument("--out", default="bench/results/long_guard_probe")
    args = ap.parse_args()
    pipe = Pipeline.from_pretrained(None)
    pipe.config = dataclasses.replace(pipe.config, guard_tries=0)
    pipe.guard = None
    guard, composer = ShapesWorldGuard(), ShapesWorldComposer()
    items = cases(args.prompts, seed=EVAL_SEED + 7 * args.tune)
    first, step = 17, pipe.config.extend_window
    rows = []  # (minute, object, window index, score, read right)
    for m, (prompt, g) in enumerate(items):
        v = pipe(prompt, num_frames=first, seed=1)
        v = pipe(prompt, video=v, mode="extend", num_frames=args.seconds * 8 + 1 - first,
                 seed=1, compose=True)  # fmt: skip
        f = v.frames
        objects = g.spec.objects
        parts = composer.split(prompt) or [prompt]
        apart = f[None] if len(parts) == 1 else composer.split_frames(prompt, f)
        for k, o in enumerate(objects):
            # the object's own row, as the pipeline guards it: its part of the composed prompt
            at = next(i for i, p in enumerate(parts)
                      if any(x.color == o.color for x in read_world_prompt(p).objects))  # fmt: skip
            alone, part = parts[at], apart[at]
            ref = guard.reference(alone, part[:first])
            if ref is None:  # not guarded in the pipeline either
                print(f"  not guarded: {alone!r}", flush=True)
                continue
            for w, s in enumerate(range(first, len(f), step)):
                score = guard.score(ref, part[s : s + step])
                t = parse_clip(f[s : s + step]).get(o.color)
                rows.append((m, k, w, score, bool(t is not None and t.shape == o.shape)))
        print(prompt, [round(r[3], 2) for r in rows if r[0] == m][:40], flush=True)
    scores = np.array([r[3] for r in rows])
    right = np.array([r[4] for r in rows])
    lines = [f"# The identity guard's score against the scorer, per object per window "
             f"(`python bench/long_guard_probe.py{' --tune' if args.tune else ''} "
             f"--prompts {args.prompts}`)", "",
             f"{len(rows)} windows of {args.prompts} minutes (guard off); {int((~right).sum())} "
             f"read with the wrong shape. Score quartiles, right windows: "
             f"{np.round(np.percentile(scores[right], [25, 50, 75]), 3).tolist()}; wrong: "
             f"{np.round(np.percentile(scores[~right], [25, 50, 75]), 3).tolist() if (~right).any() else '-'}.",
             "", "| threshold | wrong windows under it | right windows under it (made again for nothing) |",
             "|---|---|---|"]  # fmt: skip
    for th in THRESHOLDS:
        under = scores < th
        lines.append(f"| {th:g} | {100 * under[~right].mean() if (~right).any() else 0:.1f}% | "
                     f"{100 * under[right].mean():.1f}% |")  # fmt: skip
    text = "\n".join(lines)
    Path(f"{args.out}{'_tune' if args.tune else ''}.md").write_text(text + "\n")
    Path(f"{args.out}{'_tune' if args.tune else ''}.json").write_text(json.dumps(rows))
    print(text)


if __name__ == "__main__":
    main()
