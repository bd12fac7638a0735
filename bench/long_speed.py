"""Wall time of a minute-long video per prompt, as `kinema generate --seconds` makes it.

    python bench/long_speed.py [--seconds 60] [--repeats 2] [--prompts "..." "..."]

The edit eval times its first prompt (one object); a prompt with several objects is made one
object at a time where the pipeline has a composer (``pipeline.json``'s ``composer``), each
object's first clip and windows a row of one batch, so it costs more. This times both kinds:
per prompt, one warm-up call, then the median of ``--repeats`` (first clip + extension, one
continuation per window). ``--without-anchor`` also times each repeat with the identity anchor
off (``pipeline.json``'s ``anchor``), ``--window-steps N ...`` with each of those sampler
steps per extension window (``window_steps``) and ``--window-layouts C+N ...`` with each of
those windows (C context frames + N new: ``window_context``, ``window_frames``), alternating
with the shipped run, so machine drift falls on all alike; ``--window-guidance-intervals LO:HI
...`` the same with each of those guidance intervals in the windows (``window_guidance_interval``),
``--window-decodes stream|window`` with each of those ways to decode them (``window_decode``).
``--pool A.json B.json ...`` times nothing and pools runs of other seeds (``--first-seed``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

import torch
from edit_eval import int8_dit, make_minute
from results_io import report

from kinema.pipelines import Pipeline
from kinema.pipelines.text_to_video import WINDOW_DECODES, Timings

PROMPTS = (
    "a large red circle bouncing on a black background",
    "a large red circle bouncing and a small blue square moving left on a black background",
)


def pooled(paths: list[str]) -> str:
    """A table of several long_speed runs' results pooled per prompt and variant (runs of
    other seeds: ``--first-seed``): median wall time, range, runs under 60 s, rows the identity
    guard made again, and the median per-seed ratio of each variant to the first."""
    rows: dict[str, dict[str, list]] = {}
    for path in paths:
        for r in json.loads(Path(path).read_text()):
            by = rows.setdefault(r["prompt"], {})
            for k, walls in r["walls"].items():
                got = by.setdefault(k, [[], []])
                got[0] += walls
                got[1] += r["retried"][k]
    lines = [f"# Minute wall times pooled (`python bench/long_speed.py --pool {' '.join(paths)}`)",
             "", "| prompt | variant | runs | median | range | under 60 s | rows made again "
             "| per run / first variant (median) |", "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for prompt, by in rows.items():
        first = next(iter(by.values()))[0]
        for k, (walls, retried) in by.items():
            ratio = statistics.median(w / f for w, f in zip(walls, first, strict=True))
            lines.append(f"| {prompt} | {k} | {len(walls)} | {statistics.median(walls):.1f} s | "
                         f"{min(walls):.1f}-{max(walls):.1f} s | {sum(w < 60 for w in walls)} | "
                         f"{sum(retried)} | {ratio:.3f}x |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--prompts", nargs="+", default=list(PROMPTS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="the warm-up's seed; repeat i takes first-seed + i (a minute's time "
                         "depends on its seed: the rows the identity guard makes again)")  # fmt: skip
    ap.add_argument("--without-anchor", action="store_true",
                    help="time each repeat with the identity anchor off as well, alternating")  # fmt: skip
    ap.add_argument("--window-steps", type=int, nargs="+", default=[],
                    help="time each repeat with each of these window_steps as well, alternating")  # fmt: skip
    ap.add_argument("--window-layouts", nargs="+", default=[], metavar="C+N",
                    help="time each repeat with each of these window layouts as well (C context "
                         "frames + N new: window_context, window_frames), alternating")  # fmt: skip
    ap.add_argument("--window-guidance-intervals", nargs="+", default=[], metavar="LO:HI",
                    help="time each repeat with each of these guidance intervals in the windows "
                         "as well (window_guidance_interval), alternating")  # fmt: skip
    ap.add_argument("--window-decodes", nargs="+", default=[], choices=WINDOW_DECODES,
                    help="time each repeat with each of these window_decode values as well "
                         "(one decoder stream, or each window after its kept context), "
                         "alternating")  # fmt: skip
    ap.add_argument("--int8-dit", action="store_true",
                    help="time each repeat with the DiT's block linears in dynamic int8 as well "
                         "(bench/edit_eval.py's int8_dit probe), alternating")  # fmt: skip
    ap.add_argument("--out", default="bench/results/long_speed")
    ap.add_argument("--pool", nargs="+", default=[], metavar="JSON",
                    help="time nothing: pool these runs' results (other seeds of the same "
                         "prompts and variants) and print each's median, range and rows made "
                         "again")  # fmt: skip
    args = ap.parse_args()
    if args.pool:
        print(pooled(args.pool))
        return
    torch.set_num_threads(args.threads)
    pipe = Pipeline.from_pretrained(args.weights)
    frames = 1 + 8 * args.seconds
    shipped = pipe.config
    # each variant: its label, the anchor, the config and the DiT it runs with; every repeat
    # runs all of them in turn, so machine drift falls on all alike
    dit = pipe.dit
    variants = {"as shipped": (pipe.anchor, shipped, dit)}
    if args.without_anchor:
        variants["without the anchor"] = (None, shipped, dit)
    for n in args.window_steps:  # validated as pipeline.json's is
        config = dataclasses.replace(shipped, window_steps=n)
        variants[f"window_steps {n}"] = (pipe.anchor, config, dit)
    for layout in args.window_layouts:
        c, _, n = layout.partition("+")
        if not (c.isdigit() and n.isdigit()):
            ap.error(f"--window-layouts takes C+N (e.g. 5+12), got {layout!r}")
        config = dataclasses.replace(shipped, window_context=int(c), window_frames=int(n))
        variants[f"windows {layout}"] = (pipe.anchor, config, dit)
    for interval in args.window_guidance_intervals:
        lo, _, hi = interval.partition(":")
        try:
            bounds = (float(lo), float(hi))
        except ValueError:
            ap.error(f"--window-guidance-intervals takes LO:HI (e.g. 0.28:1), got {interval!r}")
        config = dataclasses.replace(shipped, window_guidance_interval=bounds)
        variants[f"windows guided at t in [{interval.replace(':', ', ')}]"] = (
            pipe.anchor,
            config,
            dit,
        )
    for decode in args.window_decodes:
        config = dataclasses.replace(shipped, window_decode=decode)
        variants[f"windows decoded: {decode}"] = (pipe.anchor, config, dit)
    if args.int8_dit:
        variants["int8 DiT"] = (pipe.anchor, shipped, int8_dit(dit))

    def minute(prompt: str, seed: int) -> tuple[float, Timings]:
        timings = Timings()
        t0 = time.perf_counter()
        make_minute(pipe, prompt, frames, timings=timings, seed=seed)
        return time.perf_counter() - t0, timings

    rows = []
    for prompt in args.prompts:
        walls: dict[str, list[float]] = {k: [] for k in variants}
        sampling: dict[str, list[float]] = {k: [] for k in variants}
        retried: dict[str, list[int]] = {k: [] for k in variants}
        for i in range(args.repeats + 1):  # the first is a warm-up
            for key, (anchor, config, model) in variants.items():
                pipe.anchor, pipe.config, pipe.dit = anchor, config, model
                wall, timings = minute(prompt, args.first_seed + i)
                walls[key].append(wall)
                sampling[key].append(timings.sampling)
                retried[key].append(timings.retried)
        pipe.anchor, pipe.config, pipe.dit = variants["as shipped"]
        parts = len(pipe.parts_for([prompt])[0] or [prompt])
        row = {"prompt": prompt, "parts": parts,
               "walls": {k: w[1:] for k, w in walls.items()},
               "wall": {k: statistics.median(w[1:]) for k, w in walls.items()},
               "sampling": {k: w[1:] for k, w in sampling.items()},
               "retried": {k: w[1:] for k, w in retried.items()}}  # fmt: skip
        rows.append(row)
        print(rows[-1], flush=True)
    flags = f" --first-seed {args.first_seed}" if args.first_seed else ""
    flags += " --without-anchor" if args.without_anchor else ""
    flags += f" --window-steps {' '.join(map(str, args.window_steps))}" if args.window_steps else ""
    flags += f" --window-layouts {' '.join(args.window_layouts)}" if args.window_layouts else ""
    if args.window_guidance_intervals:
        flags += f" --window-guidance-intervals {' '.join(args.window_guidance_intervals)}"
    flags += f" --window-decodes {' '.join(args.window_decodes)}" if args.window_decodes else ""
    flags += " --int8-dit" if args.int8_dit else ""
    lines = [
        f"# Minute-long video wall time (`python bench/long_speed.py --seconds {args.seconds} "
        f"--repeats {args.repeats}{flags}`, {args.threads} threads)",
        "",
        f"{args.seconds} s at 8 fps ({frames} frames): the first 17-frame clip, then one "
        "continuation per extension window, as `kinema generate --seconds` makes it; several "
        f"objects one at a time (composer: {shipped.composer!r}); each window's context "
        f"anchored (anchor: {shipped.anchor!r}); {shipped.steps} sampler steps for the first "
        f"clip, {pipe.steps_for(window=True)} per window as shipped (guided at t in "
        f"{list(pipe.interval_for(window=True))}), each window "
        "{0} context frames + {1} new ones".format(*pipe.window_layout())
        + f", decoded as window_decode {shipped.window_decode!r} says"
        + (", and each repeat made again with each variant in turn." if len(variants) > 1 else "."),
        "",
        f"Runs: wall seconds (of which sampling seconds, rows the identity guard made again), "
        f"seeds {args.first_seed + 1}..{args.first_seed + args.repeats} after a warm-up on "
        f"seed {args.first_seed}.",
        "",
        "| prompt | clips laid together | "
        + " | ".join(f"{k}: wall time (median) | runs" for k in variants)
        + " |",
        "|---|---|" + "---|---|" * len(variants),
        *[
            f"| {r['prompt']} | {r['parts']} | "
            + " | ".join(
                f"{r['wall'][k]:.1f} s | "
                + ", ".join(
                    f"{w:.1f} ({s:.1f}, {n})"
                    for w, s, n in zip(
                        r["walls"][k], r["sampling"][k], r["retried"][k], strict=True
                    )
                )
                for k in variants
            )
            + " |"
            for r in rows
        ],
    ]
    text = "\n".join(lines)
    report(args.out, text, rows)


if __name__ == "__main__":
    main()
