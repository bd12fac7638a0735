"""Wall time of `Pipeline` on this machine: text encoding, sampling and decoding broken out.

    python bench/t2v_speed.py [--weights kinema/weights] [--threads 2]

Each row is the median of ``--repeats`` calls after one warm-up call, for one prompt at the
model's default steps and guidance. Real time = frames / fps (17 frames at 8 fps = 2.1 s).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from recipe_flags import add_recipe_flags, composed_recipe, cpu_note, numerics, with_recipe
from results_io import report

from kinema.pipelines import Pipeline
from kinema.pipelines.text_to_video import Timings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--steps", type=int, default=None)
    add_recipe_flags(ap)
    ap.add_argument(
        "--only-two",
        action="store_true",
        help="only the two-object rows (a composer makes those one object at a time)",
    )
    ap.add_argument(
        "--unguarded",
        action="store_true",
        help="clips not read by the identity guard (guarded=False; default: pipeline.json's "
        "guard_clips, as `kinema generate` does)",
    )
    ap.add_argument("--out", default="bench/results/t2v_speed")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    pipe = Pipeline.from_pretrained(args.weights)
    load = time.perf_counter() - t0
    pipe = with_recipe(pipe, args)
    steps = args.steps or pipe.steps_for(text=True)
    rows = []
    one = "a large red circle bouncing on a black background"
    two = "a large red circle bouncing and a small blue square moving left on a black background"
    # one clip, and the shipped best of N (pipeline.json's candidates, chosen by its verifier),
    # of one object; and of two objects as shipped (one object at a time with a composer)
    cases = [(one, k) for k in sorted({1, pipe.default_candidates})] + [(two, None)]
    if args.only_two:
        cases = cases[-1:]
    for prompt, k in cases:
        parts = len(pipe.parts_for([prompt])[0] or [prompt])
        for frames in (17, 33):
            runs = []
            for i in range(args.repeats + 1):
                tm = Timings()
                # a fresh prompt each call: the text encoder's cache must not hide its cost
                pipe(f"{prompt} {frames} {i}", num_frames=frames, seed=i,
                     num_inference_steps=steps, timings=tm, candidates=k,
                     guarded=False if args.unguarded else None)  # fmt: skip
                runs.append(tm)
            runs = runs[1:]
            med = lambda f, runs=runs: statistics.median(f(r) for r in runs)  # noqa: E731
            real = frames / pipe.config.fps
            row = {
                "clip": f"{frames}x64x64",
                "objects": 1 if prompt == one else 2,
                "parts": parts,
                "candidates": pipe.default_candidates if k is None else k,
                "drafts": pipe.drafts_for(
                    pipe.default_candidates if k is None else k, steps, composed=parts > 1
                ),
                "seconds_of_video": real,
                "text": med(lambda r: r.text),
                "sampling": med(lambda r: r.sampling),
                "decode": med(lambda r: r.decode),
                "verify": med(lambda r: r.verify),
                "total": med(lambda r: r.total),
                # objects the guard made again, over the timed runs (guard_clips)
                "made_again": sum(r.retried for r in runs),
                # each timed run (seed 1, 2, ...): its total seconds and objects made again,
                # since a run the guard makes an object again in costs that object once more
                "runs": [
                    {"seed": i + 1, "total": r.total, "made_again": r.retried}
                    for i, r in enumerate(runs)
                ],
            }
            row["x_real_time"] = real / row["total"]
            rows.append(row)
    interval = pipe.interval_for(text=True)  # text_guidance_interval (or guidance_interval)
    lines = [
        f"# Generation speed (`python bench/t2v_speed.py`, {args.threads} threads, {steps} "
        f"{pipe.config.sampler} steps, guidance {pipe.config.guidance}"
        f"{' at t in [{}, {}]'.format(*interval) if interval != (0.0, 1.0) else ''}"
        f"{' (--guidance-interval)' if args.guidance_interval else ''}, "
        f"{numerics(pipe)}: bf16={pipe.config.bf16}, {cpu_note()})",
        "",
        f"Loading the pipeline (MiniLM + VAE + DiT): {load:.1f} s, once per process.",
        "",
        "Two-object rows are made as `kinema generate` makes them: with a composer, one "
        "object at a time (parts: the clips made and laid together), each as one object is"
        + (
            ", but from its own drafts and guided at t in [{}, {}] (compose_screen_drafts / "
            "compose_guidance_interval). ".format(*own[1])
            if (own := composed_recipe(pipe, pipe.default_candidates, steps))
            else ". "
        )
        + (
            "Not guarded (`--unguarded`)."
            if args.unguarded or not pipe.config.guard_clips
            else f"Guarded (pipeline.json's guard_clips): the {pipe.config.guard!r} guard reads "
            "each object's candidates and makes an object none of them shows again; 'made "
            f"again' counts those objects over the {args.repeats} timed runs of a row."
        ),
        "",
        "| clip | objects (parts) | clips finished (best of) | drafts screened | video seconds "
        "| text (s) | sampling (s) | decode (s) | verify (s) | total (s) | x real time "
        "| made again | each run: total s (made again) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *[
            f"| {r['clip']} | {r['objects']} ({r['parts']}) | {r['candidates']} | "
            f"{r['drafts'] if r['drafts'] > r['candidates'] else '-'} | {r['seconds_of_video']:.2f} | {r['text']:.3f} | "
            f"{r['sampling']:.3f} | {r['decode']:.3f} | {r['verify']:.3f} | {r['total']:.3f} | "
            f"{r['x_real_time']:.1f}x | {r['made_again']} | "
            + ", ".join(f"{x['total']:.2f} ({x['made_again']})" for x in r["runs"])
            + " |"
            for r in rows
        ],
    ]
    text = "\n".join(lines)
    report(args.out, text, {"load": load, "rows": rows})


if __name__ == "__main__":
    main()
