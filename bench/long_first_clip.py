"""A long video's first clip, guarded or not: identity over its 17 frames, the minute's first 2 s.

    python bench/long_first_clip.py [--tune] [--count 40] [--out bench/results/long_first_clip]

``kinema generate --seconds`` makes a minute's first clip as text to video makes any clip (the
best of the screened candidates, each object alone and laid together), then reads each
object's candidates with the identity guard its windows keep (``Pipeline(..., guarded=True)``):
those the guard reads as their prompt names them go first, and an object none of whose
candidates it reads so is made again (``config.guard_tries``). The first clip is the first of a
minute's 30 two-second windows the edit eval reads, and every later window's context starts
from it, so its misreadings count in the minute directly. Per prompt of the edit eval's long
section (``bench/edit_eval.py``: the same scenes and seed), this makes the clip both ways and
reads identity per object per frame (``edit_eval.objects_per_frame``), so the guard's effect
is read without the noise of the rest of the minute.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from edit_eval import EVAL_SEED, cases, objects_per_frame

from kinema.pipelines import Pipeline
from kinema.pipelines.text_to_video import Timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--tune", action="store_true", help="the tuning stream's prompts")
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench/results/long_first_clip")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pipe = Pipeline.from_pretrained(args.weights)
    items = cases(args.count, seed=EVAL_SEED + 7 * args.tune)
    rows = []
    for i, (prompt, g) in enumerate(items):
        row: dict = {"prompt": prompt, "objects": len(g.spec.objects)}
        for key, guarded in (("plain", False), ("guarded", True)):
            tm = Timings()
            t0 = time.perf_counter()
            # made as a long video's first clip is: composed objects the one-object way
            v = pipe(
                prompt, num_frames=17, seed=1, guarded=guarded, timings=tm, compose_recipe=False
            )
            row[key] = objects_per_frame(v.frames, g.spec)
            row[f"{key}_seconds"] = time.perf_counter() - t0
            row[f"{key}_retried"] = tm.retried
        rows.append(row)
        print(i, row, flush=True)
    res = {
        "stream": "tune" if args.tune else "eval",
        "guard": pipe.config.guard,
        "guard_threshold": pipe.config.guard_threshold,
        "guard_tries": pipe.config.guard_tries,
        "rows": rows,
    }
    for key in ("plain", "guarded"):
        res[key] = float(np.mean([r[key] for r in rows]))
        res[f"{key}_seconds"] = float(np.mean([r[f"{key}_seconds"] for r in rows]))
        res[f"{key}_retried"] = int(sum(r[f"{key}_retried"] for r in rows))
        res[f"{key}_wrong"] = int(sum(r[key] < 0.99 for r in rows))
    Path(f"{args.out}.json").write_text(json.dumps(res, indent=1))
    lines = [
        f"# A long video's first clip, guarded or not (`python bench/long_first_clip.py"
        f"{' --tune' if args.tune else ''} --count {args.count}`, {args.threads} threads)",
        "",
        f"{len(rows)} scenes of the edit eval's long section ({res['stream']} stream), seed 1; "
        f"guard {res['guard']!r} under {res['guard_threshold']:g}, {res['guard_tries']} tries.",
        "",
        "| first clip | identity per object per frame | clips with an object misread "
        "| rows made again | seconds per clip |",
        "|---|---|---|---|---|",
    ]
    for key, name in (("plain", "as text to video makes it"), ("guarded", "guarded (shipped)")):
        lines.append(f"| {name} | {100 * res[key]:.1f}% | {res[f'{key}_wrong']} "
                     f"| {res[f'{key}_retried']} | {res[f'{key}_seconds']:.1f} |")  # fmt: skip
    Path(f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
