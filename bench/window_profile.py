"""How an object's area runs through a long video's windows, per way of decoding them.

    python bench/window_profile.py --tune --cases 25 29 2 4 [--out bench/results/window_profile]

For each tuning (or eval) minute named, made as ``kinema generate --seconds 60`` makes it
(``bench/edit_eval.py``'s ``make_minute``) once per ``window_decode`` (``--decodes``), each
object's own row is read frame by frame (a one-object minute is its row; a composed minute's
rows are what the composer lays together) by the world's reader (``parse_clip``, one frame at a
time): its fill ratio, its soft area over its box, against the median over the row's windows.
Printed per position in a window (0 = the window's first new frame, right after its context
frame; a window adds 16), averaged over objects: a rigid object keeps its area, so 1.0 all
along is right, and a dip says the decoder draws that part of each window soft. Also: each
minute's identity per object per frame (``edit_eval``'s measure) per decode.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
from edit_eval import EVAL_SEED, cases, make_minute, objects_per_frame
from results_io import report

from kinema.pipelines import Pipeline
from kinema.pipelines.text_to_video import WINDOW_DECODES
from kinema.world.parse import parse_clip


def rows_of(pipe: Pipeline, prompt: str, seed: int) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(the minute's frames, each row's colour, its rows uint8 [N, T, H, W, 3])."""
    laid: list[np.ndarray] = []
    composer = pipe.composer
    merge = composer.merge if composer is not None else None
    if composer is not None:  # the composed minute's rows, as the composer is handed them
        composer.merge = lambda p, clips: laid.append(clips.copy()) or merge(p, clips)  # type: ignore[method-assign]
    try:
        frames = make_minute(pipe, prompt, 481, seed=seed).frames
    finally:
        if composer is not None:
            composer.merge = merge  # type: ignore[method-assign]
    parts = pipe.parts_for([prompt])[0]
    if parts is None:
        scene = parse_clip(frames[:17])
        colours = [max(scene.objects, key=lambda o: o.presence).color]
        return frames, colours, frames[None]
    rows = np.concatenate([laid[0], laid[-1]], axis=1)  # the first clip, then every window
    colours = [parse_clip(r[:17]).objects[0].color for r in rows]
    return frames, colours, rows


def profile(rows: np.ndarray, colours: list[str], first: int = 17, step: int = 16) -> np.ndarray:
    """float [N, step]: each row's mean fill ratio per position in a window over its median."""
    out = []
    for row, colour in zip(rows, colours, strict=True):
        fills = np.full(len(row), np.nan)
        for t in range(first, len(row)):
            seen = parse_clip(row[t : t + 1]).get(colour)
            fills[t] = seen.fill_ratio if seen is not None else np.nan
        rel = fills[first:] / np.nanmedian(fills[first:])
        pos = np.arange(len(rel)) % step
        out.append([np.nanmean(rel[pos == j]) for j in range(step)])
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tune", action="store_true", help="the tuning stream's scenes")
    ap.add_argument("--cases", type=int, nargs="+", default=[25, 29, 2, 4])
    ap.add_argument("--decodes", nargs="+", default=list(WINDOW_DECODES), choices=WINDOW_DECODES)
    ap.add_argument("--out", default="bench/results/window_profile")
    args = ap.parse_args()
    pipe = Pipeline.from_pretrained(None)
    shipped = pipe.config
    items = cases(max(args.cases) + 1, seed=EVAL_SEED + 7 * args.tune)
    res: dict = {"cases": args.cases, "tune": args.tune, "decodes": {}}
    for decode in args.decodes:
        pipe.config = dataclasses.replace(shipped, window_decode=decode)
        profiles, identity = [], []
        for i in args.cases:
            prompt, g = items[i]
            frames, colours, rows = rows_of(pipe, prompt, seed=1)
            profiles.append(profile(rows, colours))
            identity.append(objects_per_frame(frames, g.spec))
            print(decode, i, f"identity {100 * identity[-1]:.1f}%", prompt, flush=True)
        res["decodes"][decode] = {
            "profile": np.concatenate(profiles).mean(0).tolist(),
            "identity": identity,
        }
    pipe.config = shipped
    flag = " --tune" if args.tune else ""
    lines = [
        f"# An object's area through a window (`python bench/window_profile.py{flag} --cases "
        f"{' '.join(map(str, args.cases))}`)",
        "",
        "Each object's fill ratio (area over its box) per position in a long video's window "
        "(0: the first new frame after the context frame; 16 new frames a window), over the "
        "median of its row, averaged over the objects of the minutes; a rigid object reads "
        "1.0 all along. Minutes made as `kinema generate --seconds 60` makes them, once per "
        "`window_decode`.",
        "",
        "| window_decode | " + " | ".join(str(j) for j in range(16)) + " | identity per minute |",
        "|---|" + "---|" * 17,
    ]
    for decode, r in res["decodes"].items():
        lines.append(
            f"| {decode} | "
            + " | ".join(f"{v:.2f}" for v in r["profile"])
            + " | "
            + ", ".join(f"{100 * v:.1f}%" for v in r["identity"])
            + " |"
        )
    report(args.out, "\n".join(lines), res)


if __name__ == "__main__":
    main()
