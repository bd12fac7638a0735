"""Filling a long video whole or window by window (``pipeline.json``'s ``fill_window``), on
the tuning stream, so the eval's scenes never pick the setting.

    python bench/fill_window.py [--cases 16] [--frames 129] [--windows 0 33]
        [--out bench/results/fill_window_tune]

Each case is a ``--frames``-long Shapes World clip of ``bench/edit_eval.py --tune``'s stream
(linear motions reflect off the walls, bounces keep bouncing), filled two ways, as ``kinema
fill`` / ``kinema interpolate`` do it (the shipped sampler, consensus of ``fill_candidates``):

- fill: 4 frames from the middle of the clip removed (the edit eval's gap, moved to the middle);
- interpolate: every other frame of the clip removed and filled in (x2 of its even frames).

For each ``--windows`` value (0 = the whole video at once, the DiT reading every latent frame;
otherwise windows of that many frames, ``kinema.pipelines.text_to_video.fill_plan``) it reports
the PSNR of the error pooled over the cases on the regenerated frames (as ``edit_eval.py``
does), a cross-fade's, and the wall time per case. The DiT was trained on clips of at most 33
frames.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch
from edit_eval import EVAL_SEED, cases, render
from fill_candidates import pooled_db

from kinema.io.video import Video
from kinema.pipelines.text_to_video import Pipeline, crossfade, fill_plan


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None)
    ap.add_argument("--cases", type=int, default=16)
    ap.add_argument("--frames", type=int, default=129, help="clip length, 1 + 4k")
    ap.add_argument("--windows", type=int, nargs="+", default=[0, 33])
    ap.add_argument(
        "--prompt",
        choices=("given", "none"),
        default="given",
        help="given: each clip's caption, as edit_eval.py passes it; none: no prompt, as "
        "`kinema fill` has by default (a long clip's caption names the motion it starts with, "
        "which a reflected object no longer shows mid-way)",
    )
    ap.add_argument("--out", default="bench/results/fill_window_tune")
    args = ap.parse_args()
    torch.set_num_threads(2)
    base = Pipeline.from_pretrained(args.weights)
    T = args.frames
    mid = T // 2 - 2
    tasks = {
        "fill": [mid, mid + 1, mid + 2, mid + 3],
        "interpolate": list(range(1, T, 2)),
    }
    strength = {"fill": 1.0, "interpolate": 0.3}  # kinema fill / Pipeline.interpolate's
    items = cases(args.cases, frames=T, seed=EVAL_SEED + 7)
    res: dict = {"cases": args.cases, "frames": T, "fill_candidates": base.config.fill_candidates}
    for name, missing in tasks.items():
        known = np.ones(T, dtype=bool)
        known[missing] = False
        fade = [float(((crossfade(c[None], known)[0][~known].astype(np.float64)
                        - c[~known]) ** 2).mean()) for c in (render(g) for _, g in items)]  # fmt: skip
        res[name] = {"crossfade": pooled_db(fade)}
        for w in args.windows:
            pipe = copy.copy(base)  # a shallow copy: only its config differs
            pipe.config = dataclasses.replace(base.config, fill_window=w)
            errors, seconds = [], []
            for i, (p, g) in enumerate(items):
                clip = render(g)  # [T, 64, 64, 3]
                t0 = time.perf_counter()
                said = p if args.prompt == "given" else ""
                out = pipe(said, video=Video(clip, 8.0), missing=missing, seed=i,
                           strength=strength[name]).frames  # fmt: skip
                seconds.append(time.perf_counter() - t0)
                diff = out[~known].astype(np.float64) - clip[~known]
                errors.append(float((diff**2).mean()))
            res[name][w] = {"psnr": pooled_db(errors), "seconds": float(np.median(seconds)),
                            "windows": len(fill_plan(known, w))}  # fmt: skip
            print(name, w, res[name][w], flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.json").write_text(json.dumps(res, indent=1))
    lines = [
        f"# Filling a {T}-frame video whole or in windows, tuning stream "
        f"(`python bench/fill_window.py --cases {args.cases} --frames {T} --windows "
        + " ".join(map(str, args.windows))
        + (" --prompt none" if args.prompt == "none" else "")
        + "`)",
        "",
        f"{args.cases} Shapes World clips of {T} frames at 64x64; fill: frames {mid}-{mid + 3} "
        "removed; interpolate: every other frame removed; "
        + ("each clip's caption as the prompt" if args.prompt == "given" else "no prompt")
        + ". PSNR of the error pooled over the "
        f"cases on the regenerated frames; consensus of {base.config.fill_candidates} "
        "completions, as shipped; median wall time per case (2 threads).",
        "",
        "| task | fill_window | windows | PSNR (cross-fade) | s per case |",
        "|---|---|---|---|---|",
    ]
    for name in tasks:
        for w in args.windows:
            r = res[name][w]
            lines.append(f"| {name} | {w or 'whole video'} | {r['windows']} | {r['psnr']:.2f} dB "
                         f"({res[name]['crossfade']:.2f}) | {r['seconds']:.1f} |")  # fmt: skip
    Path(f"{out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
