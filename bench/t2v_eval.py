"""Prompt fidelity of a text-to-video pipeline, scored by the Shapes World scorer.

    python bench/t2v_eval.py [--weights kinema/weights] [--prompts 300]

Prompts: ``--prompts`` scenes (half one-object, half two-object) from a seed stream training
never drew, phrased with held-out caption templates (at least one held-out piece each); the
scorer's target is the prompt read back by the prompt parser. The same scenes are also asked
in canonical phrasing (the gap between phrasings), and a subset at sizes/lengths outside the
training buckets (64x96, 33 frames).

Every row hands the DiT the prompt as written (``rewrite_prompt=False``) and samples one clip
per prompt: these rows measure the model, and how far it follows phrasings it never saw. The
"heldout, rewritten" rows hand it the pipeline's rewrite of the same held-out prompts
(``pipeline.json``'s ``prompt_rewrite``; the embedded model's is the canonical caption, so
these rows differ from the canonical ones only where a held-out prompt left a size out). The
"best of N" rows are what ``kinema generate`` does for one object: the rewrite, and N clips
per prompt of which the pipeline's verifier keeps one (``pipeline.json``'s ``candidates``;
candidate 0 is the one-clip row's clip, same seed). The "composed" rows are what it does for
two objects where the pipeline has a composer (``pipeline.json``'s ``composer``, or
``--composer``): each object made alone as a one-object prompt is, the clips laid into one.
Every other row passes ``compose=False``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from recipe_flags import add_recipe_flags, composed_recipe, cpu_note, numerics, with_recipe
from results_io import report

from kinema.eval.fidelity import score_clip, summarize
from kinema.pipelines import Pipeline
from kinema.world.captions import canonical_caption, caption, parse_prompt
from kinema.world.scene import sample_spec

EVAL_SEED = 424_242  # not the training scene seed, not the trainer's eval stream


def prompts(n: int, objects: int, seed: int, style: str) -> list[tuple[str, object]]:
    rng = np.random.default_rng([seed, objects])
    out = []
    for _ in range(n):
        spec = sample_spec(rng, num_objects=objects, max_objects=3)
        text = canonical_caption(spec) if style == "canonical" else caption(spec, rng, "heldout")
        out.append((text, parse_prompt(text)))
    return out


def clips_guarded(pipe: Pipeline, args: argparse.Namespace) -> bool:
    """Whether the best-of rows are guarded (``Pipeline(..., guarded=True)``): ``--guarded``,
    ``--unguarded``, else pipeline.json's ``guard_clips``."""
    if getattr(args, "guarded", False):
        return True
    if getattr(args, "unguarded", False):
        return False
    return bool(pipe.config.guard_clips)


def run(
    pipe: Pipeline,
    items: list,
    frames: int,
    h: int,
    w: int,
    args: argparse.Namespace,
    rewrite: bool = False,
    candidates: int = 1,
    compose: bool = False,
) -> dict:
    # the best-of rows are guarded as `kinema generate` guards clips (pipeline.json's
    # guard_clips), or as --guarded / --unguarded say; the one-clip rows measure the DiT and
    # stay unguarded
    guarded = clips_guarded(pipe, args) if candidates > 1 else False
    scores = []
    t0 = time.perf_counter()
    for s in range(0, len(items), args.batch):
        chunk = items[s : s + args.batch]
        videos = pipe(
            [p for p, _ in chunk],
            num_frames=frames,
            height=h,
            width=w,
            num_inference_steps=args.steps,
            guidance_scale=args.guidance,
            seed=args.seed + s,
            sampler=getattr(args, "sampler", None),
            rewrite_prompt=rewrite,
            candidates=candidates,
            compose=compose,
            guarded=guarded,
        )
        scores += [score_clip(v.frames, spec) for v, (_, spec) in zip(videos, chunk, strict=True)]
    summary = summarize(scores)
    summary["seconds"] = time.perf_counter() - t0
    return summary


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None)
    ap.add_argument("--prompts", type=int, default=300)
    ap.add_argument("--extra", type=int, default=100, help="prompts per off-training size")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--guidance", type=float, default=None)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--candidates", type=int, default=None, help="override pipeline.json")
    ap.add_argument(
        "--shipped-only",
        action="store_true",
        help="only the rows made as `kinema generate` makes clips (rewritten, best of N): what "
        "a change of verifier or screen can move; the one-clip rows read the DiT alone",
    )
    add_recipe_flags(ap)
    ap.add_argument(
        "--composed-only",
        action="store_true",
        help="only the composed rows (two-object prompts made one object at a time, as "
        "`kinema generate` makes them with a composer); one-object prompts are never split",
    )
    ap.add_argument(
        "--tune",
        action="store_true",
        help="the tuning stream (the sampling sweep's scenes, not the eval's), for deciding a "
        "setting; writes <out>_tune",
    )
    ap.add_argument(
        "--objects",
        type=int,
        choices=(1, 2),
        default=None,
        help="only the rows of prompts with this many objects (default: both)",
    )
    guard = ap.add_mutually_exclusive_group()
    guard.add_argument(
        "--guarded",
        action="store_true",
        help="the best-of rows guarded (Pipeline(..., guarded=True)): an object the identity "
        "guard reads as another shape in every candidate is made again with other noise "
        "(default: pipeline.json's guard_clips, as `kinema generate` does)",
    )
    guard.add_argument(
        "--unguarded", action="store_true", help="the best-of rows not guarded (guarded=False)"
    )
    ap.add_argument("--out", default="bench/results/t2v_eval")
    args = ap.parse_args()
    pipe = Pipeline.from_pretrained(args.weights)
    pipe = with_recipe(pipe, args, candidates=args.candidates)
    half = args.prompts // 2
    seed = EVAL_SEED + 7 if args.tune else EVAL_SEED  # t2v_screen_sweep's TUNE_SEED
    rows = []
    best = pipe.default_candidates
    drafts = pipe.drafts_for(best, args.steps)
    shipped = f", best of {best}" if best > 1 else ""
    shipped += f" of {drafts} drafts" if drafts > best else ""
    # (phrasing, rewrite, candidates, composed); the composed rows hold two-object prompts
    # only (a one-object prompt is never split, so its composed row is the best-of row)
    settings = [("heldout", False, 1, False)]
    if pipe.config.prompt_rewrite:
        settings += [("heldout", True, 1, False)]
        settings += [("heldout", True, best, False)] if best > 1 else []
        settings += [("heldout", True, best, True)] if pipe.composer is not None else []
    settings = [*settings, ("canonical", False, 1, False)]
    if args.shipped_only:
        settings = [x for x in settings if x[2] > 1 or x[3]]
    if args.composed_only:
        settings = [x for x in settings if x[3]]
    own = composed_recipe(pipe, best, args.steps)  # a composed prompt's objects' recipe
    each = own[0] if own else drafts
    each = f", best of {best}" + (f" of {each} drafts" if each > best else "")
    composed = ", composed" + (" (one object at a time" + (f", each{each}" if best > 1 else "")
                               + ")")  # fmt: skip

    def counts(compose: bool) -> list[int]:
        """The object counts a row setting runs: composed rows hold two-object prompts only."""
        return [n for n in ((2,) if compose else (1, 2)) if args.objects in (None, n)]

    def name_of(style: str, rewrite: bool, k: int, compose: bool) -> str:
        if compose:
            return style + ", rewritten" + composed
        return style + (", rewritten" if rewrite else "") + (shipped if k > 1 else "")

    for style, rewrite, k, compose in settings:
        for objects in counts(compose):
            items = prompts(half, objects, seed, style)
            rows.append(
                {"phrasing": name_of(style, rewrite, k, compose), "objects": objects,
                 "clip": "17x64x64", **run(pipe, items, 17, 64, 64, args, rewrite, k, compose)}
            )  # fmt: skip
            print(rows[-1], flush=True)
    extra = [("heldout", False, 1, False)]
    extra += [("heldout", True, best, False)] if best > 1 else []
    extra += [("heldout", True, best, True)] if pipe.composer is not None else []
    if args.shipped_only:
        extra = [x for x in extra if x[2] > 1 or x[3]]
    if args.composed_only:
        extra = [x for x in extra if x[3]]
    for frames, h, w in ((17, 64, 96), (33, 64, 64)) if args.extra else ():
        for style, rewrite, k, compose in extra:
            for objects in counts(compose):
                items = prompts(args.extra // 2, objects, seed + 1, style)
                rows.append(
                    {"phrasing": name_of(style, rewrite, k, compose), "objects": objects,
                     "clip": f"{frames}x{h}x{w}",
                     **run(pipe, items, frames, h, w, args, rewrite, k, compose)}
                )  # fmt: skip
                print(rows[-1], flush=True)
    cols = ["background", "color", "shape", "motion", "size", "no_extra", "all"]
    steps = args.steps or pipe.steps_for(text=True)
    guidance = args.guidance if args.guidance is not None else pipe.config.guidance
    interval = pipe.interval_for(text=True)  # text_guidance_interval (or guidance_interval)
    lines = [
        "# Text-to-video prompt fidelity (`python bench/t2v_eval.py --prompts "
        f"{args.prompts}{' --shipped-only' if args.shipped_only else ''}"
        f"{' --composed-only' if args.composed_only else ''}{' --tune' if args.tune else ''}"
        f"{f' --objects {args.objects}' if args.objects is not None else ''}"
        f"{f' --extra {args.extra}' if args.extra != 100 else ''}"
        f"{f' --composer {args.composer!r}' if args.composer is not None else ''}"
        f"{f' --steps {args.steps}' if args.steps is not None else ''}"
        f"{f' --screen-drafts {args.screen_drafts}' if args.screen_drafts is not None else ''}"
        f"{f' --screen-step {args.screen_step}' if args.screen_step is not None else ''}"
        f"{f' --candidates {args.candidates}' if args.candidates is not None else ''}"
        f"{' --guidance-interval {} {}'.format(*args.guidance_interval) if args.guidance_interval else ''}"
        f"{f' --compose-screen-drafts {args.compose_screen_drafts}' if args.compose_screen_drafts is not None else ''}"
        f"{' --compose-guidance-interval {} {}'.format(*args.compose_guidance_interval) if args.compose_guidance_interval else ''}"
        f"{' --guarded' if args.guarded else ''}{' --unguarded' if args.unguarded else ''}`)",
        "",
        # the DiT and VAE in bf16 where the CPU has it natively: another sample than fp32's
        f"Numerics: {numerics(pipe)} ({cpu_note()}). "
        f"Sampler: {pipe.config.sampler}, {steps} steps, guidance {guidance}"
        f"{' at t in [{}, {}]'.format(*interval) if interval != (0.0, 1.0) else ''}. "
        "Held-out phrasing = paraphrase templates never used in training; new scene seeds. "
        "The DiT reads each prompt as written, except in the rewritten rows, which read "
        f"the pipeline's {pipe.config.prompt_rewrite!r} rewrite of it, and samples one clip per "
        f"prompt, except in the best-of rows, which keep the one of {best} that the pipeline's "
        f"{pipe.config.verifier!r} verifier scores closest to the prompt (both as "
        "`kinema generate` does)."
        + (
            f" Those {best} are finished from {drafts} drafts: the {best} whose data estimates "
            f"at sampler step {pipe.config.screen_step} the verifier reads best (screened best "
            "of N)."
            if drafts > best
            else ""
        )
        + (
            f" The composed rows make each two-object prompt one object at a time, each object "
            f"as a one-object prompt is made, and lay the clips over one background (the "
            f"pipeline's {pipe.config.composer!r} composer, as `kinema generate` does; of each "
            f"object's finished candidates, the ones that hide each other least, then the "
            f"verifier's best: `Pipeline.laid_together`)"
            + (
                f", each object from {own[0]} drafts and guided at t in [{own[1][0]}, "
                f"{own[1][1]}] (pipeline.json's compose_screen_drafts / compose_guidance_interval)."
                if own
                else "."
            )
            if pipe.composer is not None
            else ""
        )
        + (
            f" Guarded: the best-of rows are made with `guarded=True`, the "
            f"pipeline's {pipe.config.guard!r} guard reading each object's candidates and "
            f"making an object none of them reads right again with other noise, up to "
            f"{pipe.config.guard_tries} times."
            if clips_guarded(pipe, args)
            else " The best-of rows are not guarded."
        ),
        "",
        "| phrasing | objects | frames x H x W | clips | " + " | ".join(cols) + " | seconds |",
        "|---|---|---|---|" + "---|" * len(cols) + "---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['phrasing']} | {r['objects']} | {r['clip']} | {int(r['clips'])} | "
            + " | ".join(f"{100 * r[c]:.1f}%" for c in cols)
            + f" | {r['seconds']:.0f} |"
        )
    text = "\n".join(lines)
    report(args.out + ("_tune" if args.tune else ""), text, rows)


if __name__ == "__main__":
    main()
