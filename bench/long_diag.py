"""Where a minute loses its prompt: per 2 s window (17 frames every 16), what the scorer's parser
reads of every object in minute-long videos: with --compose as `kinema generate --seconds 60`
makes them (several objects one at a time), without it in one pass.

    python bench/long_diag.py --tune --count 10 --window-candidates 6 > bench/results/x.log
    python bench/long_diag.py --tune --start 10 --count 10 --compose > bench/results/y.log

Prints, per minute, the prompt, the scene it reads as, identity per object per frame and motion
per 2 s window (bench/edit_eval.py's measures), then one line per 2 s window: each object found
as colour:shape/size/motion, with the share of frames it is found in and its fill ratio (the
shape's measure: about 1 square, 0.79 circle, 0.5 triangle). A shape that drifts shows as a fill
ratio that wanders; a scene that falls apart, as colours the prompt never named."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
from edit_eval import EVAL_SEED, cases, make_minute, motion_per_window, objects_per_frame

from kinema.pipelines import Pipeline
from kinema.pipelines.anchor import ANCHORS
from kinema.world.parse import parse_clip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None)
    ap.add_argument("--tune", action="store_true", help="the tuning stream's prompts")
    ap.add_argument("--start", type=int, default=0, help="the first case")
    ap.add_argument("--count", type=int, default=10, help="minutes")
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--window-candidates", type=int, default=1, help="continuations per window")
    ap.add_argument("--save-frames", default=None, help="a folder for each minute's frames (.npy)")
    ap.add_argument("--compose", action="store_true",
                    help="several objects one at a time, as `kinema generate --seconds` makes them")  # fmt: skip
    ap.add_argument("--anchor", default=None, help="override pipeline.json's ('' for none)")
    ap.add_argument("--subpixel", action="store_true",
                    help="the drawn anchor's sprite placed between pixels (bilinear), not on them")  # fmt: skip
    ap.add_argument("--window-steps", type=int, default=None, help="override pipeline.json's")
    args = ap.parse_args()
    pipe = Pipeline.from_pretrained(args.weights)
    if args.window_steps is not None:  # validated as pipeline.json's is
        pipe.config = dataclasses.replace(pipe.config, window_steps=args.window_steps)
    if args.anchor is not None:
        pipe.anchor = ANCHORS[args.anchor]() if args.anchor else None
    if args.subpixel and pipe.anchor is not None:
        reference = pipe.anchor.reference
        pipe.anchor.reference = lambda p, f: (  # type: ignore[method-assign]
            None if (r := reference(p, f)) is None else dataclasses.replace(r, whole=False)
        )
    items = cases(args.start + args.count, seed=EVAL_SEED + 7 * args.tune)
    frames = 1 + 8 * args.seconds
    for i in range(args.start, args.start + args.count):
        prompt, g = items[i]
        t0 = time.perf_counter()
        v = make_minute(pipe, prompt, frames, args.window_candidates, compose=args.compose)
        f = v.frames
        if args.save_frames:
            Path(args.save_frames).mkdir(parents=True, exist_ok=True)
            np.save(Path(args.save_frames) / f"minute_{i}.npy", f)
        scene = [(o.color, o.shape, o.size, o.motion) for o in g.spec.objects]
        print(f"## {i} {prompt!r} scene={scene} bg={g.spec.background} "
              f"identity={objects_per_frame(f, g.spec):.3f} "
              f"motion={np.mean(motion_per_window(f, g.spec)):.3f} "
              f"{time.perf_counter() - t0:.1f}s", flush=True)  # fmt: skip
        for s in range(0, len(f) - 16, 16):
            read = parse_clip(f[s : s + 17])
            found = [f"{o.color}:{o.shape}/{o.size}/{o.motion} pr={o.presence:.2f} "
                     f"fill={o.fill_ratio:.2f}" for o in read.objects]  # fmt: skip
            print(f"  {s:3d} bg={read.background} " + " | ".join(found), flush=True)


if __name__ == "__main__":
    main()
