"""What the world's reader costs a minute-long video, and what its palette step saves.

    python bench/reader_speed.py [--seconds 60] [--calls 200]

A long video's windows are read by the world's reader (``kinema.world.parse.parse_clip``) as
they are made: the identity guard reads each object's row of each window (and each try), the
planner the frames made so far. This makes one minute of the two-object timing prompt
(``bench/long_speed.py``'s, seed 1) as ``kinema generate --seconds`` does, counting those
calls and the seconds inside them. Then, on the frames that minute's reader calls were given,
it times the reader's palette step (``classify_pixels``, each pixel's nearest palette colour)
as shipped (one matmul) against the plain distance it replaced (a (.., 9, 3) difference,
``plain_classify`` here), fresh calls in turn, and checks the two agree on every pixel. The
saving on a minute is the calls times the difference per call.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from edit_eval import make_minute
from long_speed import PROMPTS
from results_io import report

import kinema.pipelines.guard as guard_mod
import kinema.pipelines.plan as plan_mod
from kinema.pipelines import Pipeline
from kinema.world import spec as S
from kinema.world.parse import classify_pixels, parse_clip


def plain_classify(frames: np.ndarray, chunk: int = 16) -> np.ndarray:
    """The palette step before: |f - p|^2 per palette colour, argmin (the reference)."""
    out = np.empty(frames.shape[:3], dtype=np.int8)  # (T, H, W)
    pal = S.PALETTE_RGB.astype(np.int32)  # (9, 3)
    for s in range(0, len(frames), chunk):
        f = frames[s : s + chunk].astype(np.int32)  # (t, H, W, 3)
        out[s : s + chunk] = ((f[..., None, :] - pal) ** 2).sum(-1).argmin(-1)  # (t, H, W)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--calls", type=int, default=200, help="reader inputs timed each way")
    ap.add_argument("--out", default="bench/results/reader_speed")
    args = ap.parse_args()
    pipe = Pipeline.from_pretrained()
    prompt = PROMPTS[1]
    pipe(prompt, num_frames=17, seed=0)  # warm-up
    seen: list[np.ndarray] = []
    spent = {"guard": 0.0, "planner": 0.0}
    calls = {"guard": 0, "planner": 0}

    def counted(name: str):
        def read(frames: np.ndarray):
            t0 = time.perf_counter()
            out = parse_clip(frames)
            spent[name] += time.perf_counter() - t0
            calls[name] += 1
            seen.append(frames)
            return out

        return read

    guard_mod.parse_clip, plan_mod.parse_clip = counted("guard"), counted("planner")
    t0 = time.perf_counter()
    v = make_minute(pipe, prompt, 1 + 8 * args.seconds)
    wall = time.perf_counter() - t0
    guard_mod.parse_clip, plan_mod.parse_clip = parse_clip, parse_clip
    sample = [
        seen[i] for i in np.linspace(0, len(seen) - 1, min(args.calls, len(seen))).astype(int)
    ]
    same = all(np.array_equal(classify_pixels(f), plain_classify(f)) for f in sample)
    times = {"shipped (matmul)": [], "plain distance (before)": []}
    for _ in range(3):  # rounds, the two in turn, so drift falls on both
        for name, fn in (("shipped (matmul)", classify_pixels), ("plain distance (before)",
                                                                  plain_classify)):  # fmt: skip
            t1 = time.perf_counter()
            for f in sample:
                fn(f)
            times[name].append((time.perf_counter() - t1) / len(sample))
    per = {k: statistics.median(v) for k, v in times.items()}
    n = sum(calls.values())
    saved = n * (per["plain distance (before)"] - per["shipped (matmul)"])
    lines = [
        f"# The world's reader in a minute (`python bench/reader_speed.py --seconds "
        f"{args.seconds}`)",
        "",
        f"Prompt: `{prompt}`, seed 1, as `kinema generate --seconds {args.seconds}` makes it; "
        f"{len(v.frames)} frames in {wall:.1f} s.",
        "",
        "| reader calls | count | seconds inside | mean frames per call |",
        "|---|---|---|---|",
    ]
    mean_frames = statistics.mean(len(f) for f in seen) if seen else 0.0
    for k in calls:
        lines.append(f"| {k} | {calls[k]} | {spent[k]:.2f} s | |")
    lines.append(f"| all | {n} | {sum(spent.values()):.2f} s | {mean_frames:.1f} |")
    lines += [
        "",
        f"The palette step on {len(sample)} of those calls' frames (median of 3 rounds, in turn); "
        f"the two agree on every pixel: {same}.",
        "",
        "| palette step | ms per call | rounds (ms) |",
        "|---|---|---|",
    ]
    for k, v in times.items():
        lines.append(f"| {k} | {1e3 * per[k]:.2f} | {', '.join(f'{1e3 * x:.2f}' for x in v)} |")
    lines += ["", f"Saved on this minute: {n} calls x "
              f"{1e3 * (per['plain distance (before)'] - per['shipped (matmul)']):.2f} ms = "
              f"{saved:.2f} s of {wall:.1f} s ({100 * saved / wall:.1f}%)."]  # fmt: skip
    report(args.out, "\n".join(lines), {"wall": wall, "calls": calls, "spent": spent,
           "classify_s": times, "same": same, "saved_s": saved})  # fmt: skip


if __name__ == "__main__":
    main()
