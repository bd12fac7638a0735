"""Wall time of a minute-long video per prompt, as `kinema generate --seconds` makes it.

    python bench/long_speed.py [--seconds 60] [--repeats 2] [--prompts "..." "..."]

The edit eval times its first prompt (one object); a prompt with several objects is made one
object at a time where the pipeline has a composer (``pipeline.json``'s ``composer``), each
object's first clip and windows a row of one batch, so it costs more. This times both kinds:
per prompt, one warm-up call, then the median of ``--repeats`` (first clip + extension, one
continuation per window). ``--without-anchor`` also times each repeat with the identity anchor
off (``pipeline.json``'s ``anchor``), alternating with the anchored run, so machine drift falls
on both alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from kinema.pipelines import Pipeline

PROMPTS = (
    "a large red circle bouncing on a black background",
    "a large red circle bouncing and a small blue square moving left on a black background",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--prompts", nargs="+", default=list(PROMPTS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--without-anchor", action="store_true",
                    help="time each repeat with the identity anchor off as well, alternating")  # fmt: skip
    ap.add_argument("--out", default="bench/results/long_speed")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pipe = Pipeline.from_pretrained(args.weights)
    frames = 1 + 8 * args.seconds
    anchor = pipe.anchor
    kinds = {"walls": anchor} | ({"walls_without_anchor": None} if args.without_anchor else {})

    def minute(prompt: str, seed: int) -> float:
        t0 = time.perf_counter()
        v = pipe(prompt, num_frames=17, seed=seed, guarded=True)
        pipe(prompt, video=v, mode="extend", num_frames=frames - 17, seed=seed, candidates=1,
             compose=True)  # fmt: skip
        return time.perf_counter() - t0

    rows = []
    for prompt in args.prompts:
        walls: dict[str, list[float]] = {k: [] for k in kinds}
        for i in range(args.repeats + 1):  # the first is a warm-up
            for key, a in kinds.items():
                pipe.anchor = a
                walls[key].append(minute(prompt, i))
        pipe.anchor = anchor
        parts = len(pipe.parts_for([prompt])[0] or [prompt])
        row = {"prompt": prompt, "parts": parts}
        for key, w in walls.items():
            row[key] = w[1:]
            row[key.replace("walls", "wall")] = statistics.median(w[1:])
        rows.append(row)
        print(rows[-1], flush=True)
    lines = [
        f"# Minute-long video wall time (`python bench/long_speed.py --seconds {args.seconds} "
        f"--repeats {args.repeats}{' --without-anchor' if args.without_anchor else ''}`, "
        f"{args.threads} threads)",
        "",
        f"{args.seconds} s at 8 fps ({frames} frames): the first 17-frame clip, then one "
        "continuation per extension window, as `kinema generate --seconds` makes it; several "
        f"objects one object at a time (composer: {pipe.config.composer!r}); each window's "
        f"context anchored (anchor: {pipe.config.anchor!r})"
        + (
            ", and each repeat made again with no anchor, alternating."
            if args.without_anchor
            else "."
        ),
        "",
        "| prompt | clips laid together | wall time (median) | runs |"
        + (" without the anchor (median) | runs |" if args.without_anchor else ""),
        "|---|---|---|---|" + ("---|---|" if args.without_anchor else ""),
        *[
            f"| {r['prompt']} | {r['parts']} | {r['wall']:.1f} s | "
            f"{', '.join(f'{w:.1f}' for w in r['walls'])} |"
            + (
                f" {r['wall_without_anchor']:.1f} s | "
                f"{', '.join(f'{w:.1f}' for w in r['walls_without_anchor'])} |"
                if args.without_anchor
                else ""
            )
            for r in rows
        ],
    ]
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text(text + "\n")
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
