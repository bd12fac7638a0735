"""Wall time of the edits as the CLI runs them, one completion / continuation against the
shipped choice among several (``pipeline.json``'s fill_candidates and extend_candidates).

    python bench/edit_speed.py

Median of 3 (min-max) per row, on one 17x64x64 clip the pipeline generates first; the threads
torch picks (2 on the reference machine).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from kinema.io.video import Video
from kinema.pipelines import Pipeline


def timed(f: Callable[[], object], n: int = 3) -> tuple[float, float, float]:
    walls = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        walls.append(time.perf_counter() - t0)
    return float(np.median(walls)), min(walls), max(walls)


def main() -> None:
    pipe = Pipeline.from_pretrained(None)
    c = pipe.config
    p = "a large red circle moving right on a black background"
    clip = pipe(p, seed=0)
    half = Video(clip.frames[::2], 4.0)
    pipe(p, video=clip, missing=[5, 6, 7, 8], seed=1, candidates=1)  # warm-up
    rows = [
        ("fill 5-8 of 17, one completion",
         lambda: pipe(p, video=clip, missing=[5, 6, 7, 8], seed=1, candidates=1)),
        (f"fill 5-8 of 17, consensus of {c.fill_candidates}",
         lambda: pipe(p, video=clip, missing=[5, 6, 7, 8], seed=1)),
        ("interpolate 9 -> 17, one completion",
         lambda: pipe.interpolate(half, 2, p, seed=1, candidates=1)),
        (f"interpolate 9 -> 17, consensus of {c.fill_candidates}",
         lambda: pipe.interpolate(half, 2, p, seed=1)),
        ("extend 17 by 32 frames (4 s), one per window",
         lambda: pipe(p, video=clip, mode="extend", num_frames=32, seed=1, candidates=1)),
        (f"extend 17 by 32 frames (4 s), best of {c.extend_candidates} per window",
         lambda: pipe(p, video=clip, mode="extend", num_frames=32, seed=1)),
    ]  # fmt: skip
    print("| edit | wall time, median of 3 (min-max) |\n|---|---|")
    for name, f in rows:
        m, lo, hi = timed(f)
        print(f"| {name} | {m:.2f} s ({lo:.2f}-{hi:.2f}) |", flush=True)


if __name__ == "__main__":
    main()
