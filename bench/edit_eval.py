"""Every mode of one model: image-to-video, extension, fill / interpolation, minute-long video.

    python bench/edit_eval.py [--weights kinema/weights] [--cases 200] [--long 60]
        [--long-prompts 10] [--long-start 0] [--repeats 3]

Held-out Shapes World scenes (a seed stream training never drew), prompts in held-out
paraphrase templates. Reported:

- i2v: PSNR of frame 0 to the input image, as decoded by the model (before the input is pasted
  back; after, it is exact) and the scorer on the whole clip (objects of the image, prompted
  motion), for the pipeline's best of N (``pipeline.json``'s candidates, as ``kinema animate``
  samples) and for one clip (the model alone);
- extend: the first 9 frames given, 8 new ones generated: per object, colour + shape found in
  the new frames (per frame), and the direction of motion over the whole clip;
- fill: frames 5-8 removed from 17; interpolate: every other frame removed from 17 (the 9
  given at 2x); PSNR of the regenerated frames vs ground truth, against a linear cross-fade
  and nearest-frame copy;
- long video: ``--long`` seconds from each of ``--long-prompts`` prompts (held-out scenes,
  one- and two-object): identity per object per frame, motion per object per 2 s window and
  the PSNR drop across window seams, pooled over the videos and listed per prompt (against all
  other steps, and like for like against the latent-frame boundaries inside windows: every 4th
  step crosses one, and a seam is one of them); wall time
  for 4, 16 and ``--long`` seconds from the first prompt, each the median of ``--repeats``
  runs (with the spread).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from kinema.eval.fidelity import score_clip, summarize
from kinema.eval.metrics import psnr
from kinema.io.video import Video
from kinema.pipelines import Pipeline
from kinema.pipelines.plan import PLANNERS
from kinema.pipelines.text_to_video import PROMPT_REWRITES, WINDOW_DECODES, Timings, crossfade
from kinema.train.vae import to_tensor
from kinema.world.captions import caption, rewrite_prompt
from kinema.world.parse import parse_clip
from kinema.world.render import render
from kinema.world.scene import sample_scene

EVAL_SEED = 515_151
SECTIONS = ("i2v", "extend", "fill", "long")
# a long video's window_decode, as its table names it
DECODED = {"stream": "as one causal stream", "window": "each with its own context latents"}
REFLECTED = {"left": "right", "right": "left", "up": "down", "down": "up"}


def int8_dit(dit: torch.nn.Module) -> torch.nn.Module:
    """A copy of the DiT whose blocks' linear layers (attention, cross-attention, MLP; not
    the adaLN, embedding or output layers) run dynamic int8 (weights per output channel,
    activations per call) through torch.ao's fbgemm / oneDNN kernels: a bench-only probe of
    what int8 would buy on a CPU without native bf16 (torch.ao's quantized tensors are
    deprecated, so the pipeline itself never takes this path)."""
    import copy
    import warnings

    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    names = {n: per_channel_dynamic_qconfig for n, m in dit.named_modules()
             if isinstance(m, torch.nn.Linear) and n.startswith("blocks.") and ".ada." not in n}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the deprecation of quantized tensors
        return quantize_dynamic(copy.deepcopy(dit), names, dtype=torch.qint8)


def cases(n: int, frames: int = 17, seed: int = EVAL_SEED) -> list[tuple[str, object]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        g = sample_scene(rng, num_frames=frames, num_objects=1 + i % 2, max_objects=2)
        out.append((caption(g.spec, rng, "heldout"), g))
    return out


def frame_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Mean PSNR over frames of uint8 [T, H, W, 3]."""
    return float(psnr(to_tensor(a[None]), to_tensor(b[None])).mean())


def make_minute(pipe: Pipeline, prompt: str, frames: int, candidates: int = 1,
                timings: Timings | None = None, seed: int = 1, compose: bool = True) -> Video:  # fmt: skip
    """A long video of ``prompt`` as `kinema generate --seconds` makes it: the first clip
    guarded, then ``candidates`` continuations per window, several objects one at a time
    (``compose`` False: the windows in one pass)."""
    tm = Timings() if timings is None else timings
    # a long video's first clip: guarded, its objects made the one-object way (as the CLI)
    v = pipe(prompt, num_frames=17, seed=seed, guarded=True if frames > 17 else None, timings=tm,
             compose_recipe=frames <= 17)  # fmt: skip
    if frames > 17:
        v = pipe(prompt, video=v, mode="extend", num_frames=frames - 17, seed=seed,
                 candidates=candidates, compose=compose, timings=tm)  # fmt: skip
    return v


def tuning_minutes(pipe: Pipeline, start: int, stop: int, seconds: int = 60) -> Iterator[tuple]:
    """Minutes START..STOP-1 of the long section's tuning stream (``--tune``), each made by
    ``make_minute``: yields (index, prompt, scene, video, wall seconds)."""
    items = cases(stop, seed=EVAL_SEED + 7)
    for i in range(start, stop):
        prompt, g = items[i]
        t0 = time.perf_counter()
        v = make_minute(pipe, prompt, 1 + seconds * 8)
        yield i, prompt, g, v, time.perf_counter() - t0


def objects_per_frame(frames: np.ndarray, spec) -> float:
    """Share of (object, frame) pairs where the object's colour is found with the right shape,
    read on windows of up to 17 frames."""
    hits, total = 0.0, 0
    for s in range(0, len(frames), 16):
        window = frames[s : s + 17]
        if len(window) < 5:
            break
        parsed = parse_clip(window)
        for o in spec.objects:
            t = parsed.get(o.color)
            ok = t is not None and t.shape == o.shape
            hits += (t.presence if ok else 0.0) * len(window)
            total += len(window)
    return hits / max(total, 1)


def motion_per_window(frames: np.ndarray, spec) -> list[bool]:
    """Per object per 2 s window (17 frames every 16) of a long video: is its motion read
    right? Past the first window the reflected direction counts too."""
    ok = []
    for s in range(0, len(frames) - 16, 16):
        parsed = parse_clip(frames[s : s + 17])
        for o in spec.objects:
            # past the first window, an object may have reflected off a wall (the world
            # spec: left/right/up/down reflect elastically in long clips), so the opposite
            # direction is right too
            right = {o.motion} if s == 0 else {o.motion, REFLECTED.get(o.motion, o.motion)}
            t = parsed.get(o.color)
            ok.append(t is not None and t.motion in right)
    return ok


def direction(track: np.ndarray) -> np.ndarray:
    d = np.nanmean(np.diff(track, axis=0), axis=0)
    return d / (np.linalg.norm(d) + 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None)
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--long", type=int, default=60)
    ap.add_argument("--long-prompts", type=int, default=10)
    ap.add_argument(
        "--long-start", type=int, default=0, help="the minutes' prompts start at this case"
    )
    ap.add_argument("--long-only", action="store_true", help="only the minute-long section")
    ap.add_argument("--only", nargs="+", choices=SECTIONS, default=None, help="these sections")
    ap.add_argument("--repeats", type=int, default=3, help="timings: median of this many runs")
    ap.add_argument("--extend-context", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--extend-window", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--context-guidance", type=float, default=None, help="override pipeline.json")
    ap.add_argument(
        "--fill-context-guidance", type=float, default=None, help="override pipeline.json"
    )
    ap.add_argument(
        "--prompt-rewrite",
        default=None,
        choices=sorted(PROMPT_REWRITES),
        help="override pipeline.json: what the DiT reads ('' = every prompt as written)",
    )
    ap.add_argument(
        "--rewrite-given",
        action="store_true",
        help="every case's prompt replaced by its Shapes World rewrite, so the DiT reads the "
        "canonical caption where frames are given too (the pipeline reads it as written there)",
    )
    ap.add_argument("--candidates", type=int, default=None, help="override pipeline.json")
    ap.add_argument(
        "--planner",
        default=None,
        choices=["", *sorted(PLANNERS)],
        help="override pipeline.json: what each extension window reads ('' = the prompt held)",
    )
    ap.add_argument(
        "--planner-reach", type=float, default=None, help="the shapes-world planner's reach"
    )
    ap.add_argument("--extend-candidates", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--screen-drafts", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--screen-step", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--image-screen-step", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--image-screen-drafts", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--fill-candidates", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--window-screen-drafts", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--window-screen-step", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--window-steps", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--window-context", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--window-frames", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--window-decode", default=None, choices=WINDOW_DECODES,
                    help="override pipeline.json: a long video's windows decoded as one "
                    "stream or each with its own context latents")  # fmt: skip
    ap.add_argument("--guidance-interval", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                    help="override pipeline.json: guided only at noise levels t in [LO, HI]")  # fmt: skip
    ap.add_argument("--window-guidance-interval", type=float, nargs=2, default=None,
                    metavar=("LO", "HI"), help="override pipeline.json: the same in a long "
                    "video's windows")  # fmt: skip
    ap.add_argument(
        "--window-candidates",
        type=int,
        default=1,
        help="continuations per window of the long videos (kinema generate --seconds: 1)",
    )
    ap.add_argument(
        "--extend-prompt",
        default="given",
        choices=["given", "none", "read"],
        help="extension: each case's prompt, none, or what the verifier reads in the frames",
    )
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--fill-strength", type=float, default=1.0, help="noise on the fill draft")
    ap.add_argument(
        "--interpolate-strength", type=float, default=None, help="default: Pipeline.interpolate's"
    )
    ap.add_argument(
        "--tune", action="store_true", help="another stream of cases, for picking settings"
    )
    ap.add_argument("--composer", default=None, help="override pipeline.json ('' for none)")
    ap.add_argument("--guard", default=None, help="override pipeline.json ('' for none)")
    ap.add_argument("--guard-threshold", type=float, default=None, help="override pipeline.json")
    ap.add_argument("--guard-tries", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--anchor", default=None, help="override pipeline.json ('' for none)")
    ap.add_argument("--int8-dit", action="store_true",
                    help="probe: the DiT's block linears in dynamic int8 (int8_dit)")  # fmt: skip
    ap.add_argument("--out", default="bench/results/edit_eval")
    args = ap.parse_args()
    pipe = Pipeline.from_pretrained(args.weights)
    if args.int8_dit:
        pipe.dit = int8_dit(pipe.dit)
    overrides = ("extend_context", "extend_window", "context_guidance", "fill_context_guidance",
                 "prompt_rewrite",
                 "candidates", "extend_candidates", "fill_candidates", "planner",
                 "screen_drafts", "screen_step", "image_screen_step",
                 "image_screen_drafts", "window_screen_drafts",
                 "window_screen_step", "window_steps", "window_context", "window_frames",
                 "window_decode", "guidance_interval", "window_guidance_interval",
                 "composer", "guard", "guard_threshold",
                 "guard_tries", "anchor")  # fmt: skip
    given = {k: getattr(args, k) for k in overrides}
    # validated again by PipelineConfig.__post_init__; the pipeline builds its planner,
    # composer, guard and anchor from the config, as from pipeline.json
    config = dataclasses.replace(pipe.config, **{k: v for k, v in given.items() if v is not None})
    pipe = Pipeline(pipe.dit, pipe.vae, pipe.text_encoder, config, model_id=pipe.model_id,
                    verifier=pipe.verifier)  # fmt: skip
    if args.planner_reach is not None and pipe.config.planner:  # the one setting not in config
        pipe.planner = PLANNERS[pipe.config.planner](reach=args.planner_reach)
    # --tune draws other scenes, so settings picked on them leave the eval's numbers unbiased
    items = cases(max(args.cases, args.long_start + args.long_prompts),
                  seed=EVAL_SEED + 7 * args.tune)  # fmt: skip
    if args.rewrite_given:
        items = [(rewrite_prompt(p) or p, g) for p, g in items]
    B = args.batch
    res: dict[str, object] = {
        "prompt_rewrite": pipe.config.prompt_rewrite,
        # samples per output as the pipeline runs: chosen by the verifier (text / image to
        # video, extension windows; 1 without one) and by consensus (fill, interpolate)
        "extend_candidates": pipe.config.extend_candidates if pipe.verifier else 1,
        "long_window_candidates": args.window_candidates,
        # a long video's windows screened from this many drafts (the window's K when none)
        "long_window_drafts": pipe.drafts_for(args.window_candidates, window=True),
        "long_window_screen_step": pipe.screen_step_for(window=True),
        # sampler steps per extension window (pipeline.json's window_steps; 0: steps)
        "window_steps": pipe.steps_for(window=True, candidates=args.window_candidates),
        "guidance_interval": list(pipe.config.guidance_interval),
        "window_guidance_interval": list(pipe.interval_for(True, args.window_candidates)),
        "window_decode": pipe.window_decode_for(args.window_candidates),
        "fill_candidates": pipe.config.fill_candidates,
        "planner": pipe.config.planner,
        "composer": pipe.config.composer,
        # a long video's windows made again where their objects drift (off: 0 tries)
        "guard": pipe.config.guard if pipe.config.guard_tries else "",
        "guard_threshold": pipe.config.guard_threshold,
        "guard_tries": pipe.config.guard_tries,
        # a long video's windows read their context with its objects put back ("": off)
        "anchor": pipe.config.anchor,
        "context_guidance": pipe.config.context_guidance,
        "fill_context_guidance": pipe.config.fill_context_guidance,
        "rewrite_given": args.rewrite_given,
    }
    if args.long_only:
        args.only = ["long"]
    only = set(args.only or SECTIONS)
    if only != set(SECTIONS):
        args.out += "_" + "_".join(s for s in SECTIONS if s in only)
    args.out += f"_prompt-{args.extend_prompt}" if args.extend_prompt != "given" else ""
    args.out += "_tune" if args.tune else ""
    if "i2v" in only:
        res["i2v"] = image_to_video(pipe, items, B)
    if "extend" in only:
        res["extend"] = extend(pipe, items, B, args.extend_prompt)
    if "fill" in only:
        strengths = {"fill": args.fill_strength, "interpolate": args.interpolate_strength}
        res["fill_interpolate"] = fill_interpolate(pipe, items, args.cases // 2, strengths)
    if "long" in only:
        res["long"] = long_video(pipe, items[args.long_start :], args)
        print("long", res["long"], flush=True)
    write(res, args, Path(args.out))


def image_to_video(pipe: Pipeline, items: list, batch: int) -> dict:
    """The scorer on i2v clips sampled as ``kinema animate`` does: the best of
    ``pipeline.json``'s candidates where the pipeline has a verifier (candidate 0 is the one-clip
    sample, same seed), and one clip per case, the model alone ("one_clip")."""
    best = pipe.default_candidates
    res, scores = _image_to_video(pipe, items, batch, best)
    res["steps"] = pipe.steps_for(image=True)
    if best > 1:
        res["candidates"] = best
        res["drafts"] = pipe.drafts_for(best, image=True)
        res["screen_step"] = pipe.screen_step_for(image=True)
        res["one_clip"] = _image_to_video(pipe, items, batch, 1)[0]
    if pipe.composer is not None:
        res["composed"] = _composed_image_to_video(pipe, items, scores)
    return res


def _composed_image_to_video(pipe: Pipeline, items: list, scores: list) -> dict:
    """The cases the pipeline's composer splits (several objects) made as ``kinema animate``
    makes them, one object at a time (``pipe(prompt, image=...)``, one call per case, seed =
    the case's index): the figures with those cases' one-pass ``scores`` replaced, and on those
    cases alone, one pass against composed (the same cases, other noise)."""
    t0 = time.perf_counter()
    split = [i for i, (p, _) in enumerate(items) if pipe.composer.split(p) is not None]
    composed = list(scores)
    for i in split:
        prompt, g = items[i]
        clip = render(g)
        v = pipe(prompt, image=clip[0], num_frames=17, seed=i, compose=True)
        assert np.array_equal(v.frames[0], clip[0])  # the image comes back exactly
        composed[i] = score_clip(v.frames, g.spec)
    whole = summarize(composed)
    one_pass = summarize([scores[i] for i in split])
    alone = summarize([composed[i] for i in split])
    res = {
        "objects_and_motion": whole["all"],
        **{k: whole[k] for k in ("color", "shape", "motion")},
        "split_cases": len(split),
        "split_one_pass": {k: one_pass[k] for k in ("all", "color", "shape", "motion")},
        "split_composed": {k: alone[k] for k in ("all", "color", "shape", "motion")},
        "seconds": time.perf_counter() - t0,
    }
    print("i2v composed", res, flush=True)
    return res


def _image_to_video(pipe: Pipeline, items: list, batch: int, candidates: int) -> tuple[dict, list]:
    """In one pass (batches of ``batch`` cases through ``pipe.sample``): (figures, the
    scorer's reading per case)."""
    t0 = time.perf_counter()
    scores, first_raw = [], []
    timings = Timings()
    for s in range(0, len(items), batch):
        chunk = items[s : s + batch]
        clips = [render(g) for _, g in chunk]
        canvas = np.zeros((len(chunk), 17, 64, 64, 3), dtype=np.uint8)
        canvas[:, 0] = [c[0] for c in clips]
        known = np.zeros(17, dtype=bool)
        known[0] = True
        draft = crossfade(canvas, known)
        # the model's own frame 0, before the input is pasted back
        clean = pipe.encode(draft)
        given = pipe.latent_given(known)
        # prompts as written, as the pipeline's call reads them when frames are given
        prompts = [p for p, _ in chunk]
        lat = pipe.sample(prompts, [""] * len(chunk), pipe.latent_shape(17, 64, 64),
                          pipe.steps_for(image=True), pipe.config.guidance, s, given=given,
                          clean=clean,
                          candidates=candidates,
                          context_guidance=pipe.config.context_guidance,
                          screen=pipe.screen_for(prompts, candidates, timings, image=True))  # fmt: skip
        raw = pipe.decode(lat)  # [K B, 17, 64, 64, 3]
        if candidates > 1:  # the verifier's pick per case, as the pipeline's finish() makes it
            raw = pipe.best_of(raw.reshape(candidates, len(chunk), *raw.shape[1:]), prompts,
                               timings)  # fmt: skip
        for r, c, (_, g) in zip(raw, clips, chunk, strict=True):
            first_raw.append(frame_psnr(r[:1], c[:1]))
            out = r.copy()
            out[0] = c[0]
            scores.append(score_clip(out, g.spec))
    summary = summarize(scores)
    res = {
        "first_frame_psnr_decoded": float(np.mean(first_raw)),
        "first_frame_psnr_output": float("inf"),
        "objects_and_motion": summary["all"],
        **{k: summary[k] for k in ("color", "shape", "motion")},
        "seconds": time.perf_counter() - t0,
    }
    print("i2v", res, flush=True)
    return res, scores


def extend(pipe: Pipeline, items: list, batch: int, prompt: str = "given") -> dict:
    """``prompt``: "given" (each case's), "none" ("") or "read" (what the pipeline's verifier
    reads in the 9 given frames, as `kinema extend` without --prompt does; "" where it reads
    nothing)."""
    t0 = time.perf_counter()
    keep, dirs, read = [], [], []
    for s in range(0, len(items), batch):
        chunk = items[s : s + batch]
        clips = [render(g) for _, g in chunk]
        for (p, g), c in zip(chunk, clips, strict=True):
            if prompt != "given":
                p = (pipe.caption_for(c[:9]) or "") if prompt == "read" else ""
                read.append(bool(p))
            v = pipe(p, video=Video(c[:9], 8.0), mode="extend", num_frames=8, seed=s)
            keep.append(objects_per_frame(v.frames[8:], g.spec))
            parsed = parse_clip(v.frames)
            for o, truth in zip(g.spec.objects, range(len(g.objects)), strict=True):
                t = parsed.get(o.color)
                if o.motion == "still" or t is None:
                    dirs.append(t is not None and t.motion == o.motion)
                    continue
                want = direction(g.centres()[truth][:17])
                got = direction(t.centers[8:])
                dirs.append(bool(np.dot(want, got) > 0.5) if np.isfinite(got).all() else False)
    res = {
        "colour_shape_frames": float(np.mean(keep)),
        "direction_kept": float(np.mean(dirs)),
        "seconds": time.perf_counter() - t0,
        "prompt": prompt,
    }
    if prompt == "read":
        res["prompt_read"] = float(np.mean(read))
    print("extend", res, flush=True)
    return res


def fill_interpolate(pipe: Pipeline, items: list, n: int, strengths: dict) -> dict:
    """PSNR of the regenerated frames three ways. The mean of per-case PSNR (the first figure
    this bench reported) is ruled by the cases where nothing moves in the gap: there a
    cross-fade or a copy is exact, its PSNR is the 148 dB clamp of ``psnr``, and one such case
    outweighs dozens of real ones. So also: PSNR of the MSE pooled over every case (each pixel
    error counts once), and the mean PSNR over the cases where something moves."""
    t0 = time.perf_counter()
    preds = ("model", "crossfade", "nearest", "vae_round_trip")
    mse: dict[str, dict[str, list[float]]] = {
        name: {k: [] for k in preds} for name in ("fill", "interpolate")
    }
    moving: dict[str, list[bool]] = {"fill": [], "interpolate": []}
    for i, (p, g) in enumerate(items[:n]):
        c = render(g)
        # the ceiling of anything decoded by this VAE: the true clip's own round trip
        oracle = pipe.decode(pipe.encode(c[None]))[0]
        for name, missing in (("fill", [5, 6, 7, 8]), ("interpolate", list(range(1, 17, 2)))):
            known = np.ones(17, dtype=bool)
            known[missing] = False
            if name == "fill":
                out = pipe(p, video=Video(c, 8.0), missing=missing, seed=i,
                           strength=strengths["fill"]).frames  # fmt: skip
            else:  # the 9 known frames at 4 fps, doubled
                s = (
                    {}
                    if strengths["interpolate"] is None
                    else {"strength": strengths["interpolate"]}
                )
                out = pipe.interpolate(Video(c[::2], 4.0), 2, p, seed=i, **s).frames
            fade = crossfade(c[None], known)[0]
            idx = np.flatnonzero(known)
            nearest = c[[idx[np.argmin(np.abs(idx - t))] for t in range(17)]]
            m = np.array(missing)
            truth = c[m].astype(np.float64)
            for k, pred in zip(preds, (out, fade, nearest, oracle), strict=True):
                mse[name][k].append(float(np.mean((pred[m] - truth) ** 2)))
            moving[name].append(mse[name]["crossfade"][-1] > 0)

    def db(e: np.ndarray) -> np.ndarray:
        return 10 * np.log10(255.0**2 / np.maximum(e, 1e-10))  # psnr's clamp: 148 dB

    res: dict = {}
    for name, per in mse.items():
        mv = np.array(moving[name])
        res[name] = {k: float(db(np.array(v)).mean()) for k, v in per.items()}
        res[name]["pooled"] = {k: float(db(np.mean(v))) for k, v in per.items()}
        res[name]["moving"] = {k: float(db(np.array(v)[mv]).mean()) for k, v in per.items()}
        res[name]["cases"], res[name]["moving_cases"] = len(mv), int(mv.sum())
    res["seconds"] = time.perf_counter() - t0
    print("fill", res, flush=True)
    return res


def write(res: dict, args: argparse.Namespace, out: Path) -> None:
    """``out``.json and ``out``.md, and the table on stdout."""
    out.parent.mkdir(parents=True, exist_ok=True)
    # appended, not with_suffix: a name like tune_0.3 has no suffix to replace
    Path(f"{out}.json").write_text(json.dumps(res, indent=1, default=float))
    Path(f"{out}.md").write_text(markdown(res, args) + "\n")
    print(markdown(res, args))


def long_video(pipe: Pipeline, items: list, args: argparse.Namespace) -> dict:
    """Timings for 4, 16 and ``--long`` s from the first prompt; identity, motion per 2 s window
    and seams over ``--long-prompts`` minute-long videos."""
    long_rows = []
    prompt, g = items[0]
    videos = []
    pipe(prompt, num_frames=17, seed=0)  # warm-up: the first call pays one-off set-up costs
    for seconds in (4, 16, args.long):
        frames = 1 + seconds * 8
        walls = []
        # wall time on a shared 2-core machine swings by tens of percent from run to run, so
        # each length is timed --repeats times and the median is the figure reported
        for _ in range(max(1, args.repeats)):
            t1 = time.perf_counter()
            tm = Timings()  # its count of rows the identity guard made again
            v = make_minute(pipe, prompt, frames, args.window_candidates, tm)
            walls.append(time.perf_counter() - t1)
        wall = float(np.median(walls))
        long_rows.append(
            {
                "seconds": seconds,
                "frames": frames,
                "wall": wall,
                "walls": walls,
                "per_second": wall / seconds,
            }
        )
        print(long_rows[-1], flush=True)
    videos.append((prompt, g, v.frames, tm.retried))
    frames = 1 + args.long * 8
    for prompt, g in items[1 : max(1, args.long_prompts)]:
        tm = Timings()
        v = make_minute(pipe, prompt, frames, args.window_candidates, tm)
        videos.append((prompt, g, v.frames, tm.retried))
    per_prompt, ident, motion_ok, seam_steps, other_steps = [], [], [], [], []
    boundary_steps: list[float] = []
    # the windows' layout (window_context / window_frames where the windows keep one each)
    context, window = pipe.window_layout(args.window_candidates)
    for prompt, g, f, retried in videos:
        idf = objects_per_frame(f, g.spec)
        mo = motion_per_window(f, g.spec)
        # seams: window k adds frames 17 + wk .. 16 + w(k + 1) (w: the new frames of the
        # windows' layout); compare the step into a window's first frame with the steps elsewhere
        steps = np.array([frame_psnr(f[t - 1 : t], f[t : t + 1]) for t in range(1, len(f))])
        seam = np.zeros(len(steps), dtype=bool)
        seam[[t - 1 for t in range(17, len(f), window)]] = True
        # the causal VAE decodes 4 frames per latent (frames 4j-3 .. 4j), so every 4th step
        # crosses a latent-frame boundary; a seam is one of those, so the like-for-like
        # comparison is a seam against the boundaries inside windows
        boundary = (np.arange(1, len(f)) - 1) % 4 == 0
        ident.append(idf)
        motion_ok += mo
        seam_steps += list(steps[seam])
        other_steps += list(steps[~seam])
        boundary_steps += list(steps[boundary & ~seam])
        per_prompt.append(
            {
                "prompt": prompt,
                "objects": len(g.spec.objects),
                "identity_frames": idf,
                "motion_windows": float(np.mean(mo)),
                "seam_drop_db": float(steps[~seam].mean() - steps[seam].mean()),
                "guard_retried": retried,
            }
        )
        print(per_prompt[-1], flush=True)
    return {
        "extend_context": context,
        "extend_window": window,
        "timings": long_rows,
        "identity_frames": float(np.mean(ident)),
        "motion_windows": float(np.mean(motion_ok)),
        "frame_to_frame_psnr_at_seams": float(np.mean(seam_steps)),
        "frame_to_frame_psnr_elsewhere": float(np.mean(other_steps)),
        "frame_to_frame_psnr_other_latent_boundaries": float(np.mean(boundary_steps)),
        "ratio_per_second_long_vs_4s": long_rows[-1]["per_second"] / long_rows[0]["per_second"],
        "per_prompt": per_prompt,
    }


def short_rows(res: dict) -> list[str]:
    lines = []
    if "i2v" in res:
        i = res["i2v"]
        best = f", best of {i['candidates']} (shipped)" if "candidates" in i else ""
        lines += [
            f"| i2v: frame 0 PSNR to the input, as the model decodes it | {i['first_frame_psnr_decoded']:.2f} dB |",
            "| i2v: frame 0 PSNR to the input, in the output (pasted back) | exact (inf) |",
            f"| i2v{best}: scorer finds the image's objects + prompted motion | {100 * i['objects_and_motion']:.1f}% |",
            f"| i2v{best}: colour / shape / motion per object | {100 * i['color']:.1f}% / {100 * i['shape']:.1f}% / {100 * i['motion']:.1f}% |",
        ]
        if "one_clip" in i:
            o = i["one_clip"]
            lines += [
                f"| i2v, one clip (the model alone): objects + prompted motion | {100 * o['objects_and_motion']:.1f}% |",
                f"| i2v, one clip: colour / shape / motion per object | {100 * o['color']:.1f}% / {100 * o['shape']:.1f}% / {100 * o['motion']:.1f}% |",
            ]
        if "composed" in i:
            c, one, alone = (
                i["composed"],
                i["composed"]["split_one_pass"],
                i["composed"]["split_composed"],
            )
            lines += [
                f"| i2v{best}, several objects made one at a time (the composer): objects + prompted motion | {100 * c['objects_and_motion']:.1f}% |",
                f"| i2v, composed: colour / shape / motion per object | {100 * c['color']:.1f}% / {100 * c['shape']:.1f}% / {100 * c['motion']:.1f}% |",
                f"| i2v, the {c['split_cases']} cases the composer splits: all right, one pass vs composed | {100 * one['all']:.1f}% vs {100 * alone['all']:.1f}% |",
                f"| i2v, those cases: shape / motion per object, one pass vs composed | {100 * one['shape']:.1f}% / {100 * one['motion']:.1f}% vs {100 * alone['shape']:.1f}% / {100 * alone['motion']:.1f}% |",
            ]
    if "extend" in res:
        e = res["extend"]
        said = {"none": "no prompt", "read": "the prompt the verifier reads in the frames"}
        if e.get("prompt", "given") != "given":
            lines.append(f"| extend: what the DiT reads | {said[e['prompt']]} |")
        if "prompt_read" in e:
            lines.append(
                f"| extend: cases where the verifier read a prompt | {100 * e['prompt_read']:.1f}% |"
            )
        lines += [
            f"| extend: colour + shape right per object per new frame | {100 * e['colour_shape_frames']:.1f}% |",
            f"| extend: direction of motion kept | {100 * e['direction_kept']:.1f}% |",
        ]
    fi = res.get("fill_interpolate", {})
    for name in [k for k in ("fill", "interpolate") if k in fi]:
        r = fi[name]
        lines.append(
            f"| {name}: PSNR of regenerated frames, model / cross-fade / nearest copy | "
            f"{r['model']:.2f} / {r['crossfade']:.2f} / {r['nearest']:.2f} dB |"
        )
        if "pooled" in r:  # results written before these rows existed lack them
            for key, what in (
                ("pooled", f"PSNR of the MSE pooled over all {r['cases']} cases"),
                ("moving", f"mean PSNR over the {r['moving_cases']} cases where something moves"),
            ):
                x = r[key]
                lines.append(
                    f"| {name}, {what}: model / cross-fade / nearest copy | "
                    f"{x['model']:.2f} / {x['crossfade']:.2f} / {x['nearest']:.2f} dB |"
                )
            lines.append(
                f"| {name}: the true clip's own VAE round trip, the ceiling of any model decoded "
                f"by this VAE (mean / pooled / moving) | {r['vae_round_trip']:.2f} / "
                f"{r['pooled']['vae_round_trip']:.2f} / {r['moving']['vae_round_trip']:.2f} dB |"
            )
    return lines


def context_sentence(res: dict) -> str:
    """The context guidance the run sampled with, as the table's prose says it."""
    if "context_guidance" not in res:
        return ""
    if "fill_context_guidance" not in res:  # runs from before fill had its own setting
        return (f" Given frames are guided on with context guidance c = {res['context_guidance']:g}"
                " in every mode (`context_guidance`).")  # fmt: skip
    return (f" Given frames are guided on with context guidance c = {res['context_guidance']:g} "
            "in image to video and extension windows and c = "
            f"{res['fill_context_guidance']:g} in fill and interpolation "
            "(`context_guidance`, `fill_context_guidance`).")  # fmt: skip


def markdown(res: dict, args: argparse.Namespace) -> str:
    lo = res.get("long")
    flag = f" --only {' '.join(args.only)}" if args.only and set(args.only) != set(SECTIONS) else ""
    for name in ("extend_context", "extend_window", "window_context", "window_frames",
                 "interpolate_strength", "context_guidance",
                 "fill_context_guidance", "candidates", "extend_candidates",
                 "fill_candidates"):  # fmt: skip
        if getattr(args, name) is not None:
            flag += f" --{name.replace('_', '-')} {getattr(args, name)}"
    if args.window_candidates != 1:
        flag += f" --window-candidates {args.window_candidates}"
    if args.int8_dit:
        flag += " --int8-dit"
    if args.prompt_rewrite is not None:
        flag += f" --prompt-rewrite '{args.prompt_rewrite}'"
    if args.planner is not None:
        flag += f" --planner '{args.planner}'"
    if args.planner_reach is not None:
        flag += f" --planner-reach {args.planner_reach}"
    flag += f" --fill-strength {args.fill_strength}" if args.fill_strength != 1.0 else ""
    flag += f" --long-start {args.long_start}" if args.long_start else ""
    flag += " --rewrite-given" if args.rewrite_given else ""
    flag += f" --extend-prompt {args.extend_prompt}" if args.extend_prompt != "given" else ""
    flag += f" --window-decode {args.window_decode}" if args.window_decode else ""
    flag += " --tune" if args.tune else ""
    lines = [
        f"# Every mode of one model (`python bench/edit_eval.py --cases {args.cases} --long {args.long} --long-prompts {args.long_prompts} --repeats {args.repeats}{flag}`)",
        "",
        "The DiT reads "
        + (f"the pipeline's {res['prompt_rewrite']!r} rewrite of each prompt in text to video "
           "(the first clip of a long video), and the prompt as written where frames are "
           "given, as `kinema generate` does." if res.get("prompt_rewrite")
           else "each prompt as written.")
        + (f" Image to video samples {res['i2v'].get('steps', 20)} Euler steps and keeps the "
           f"best of {res['i2v']['candidates']} clips by the pipeline's verifier"
           + (f" (those {res['i2v']['candidates']} the best of {res['i2v']['drafts']} drafts "
              f"read at step {res['i2v']['screen_step']} of {res['i2v'].get('steps', 20)})"
              if res["i2v"].get("drafts", 0) > res["i2v"]["candidates"] else "")
           + ", as `kinema animate` does (a long video's first clip is screened as text to "
           "video is)."
           if "candidates" in res.get("i2v", {}) else "")
        + (f" Each window of an extension keeps the best of {res['extend_candidates']} "
           "continuations by the verifier, as `kinema extend` does"
           if res.get("extend_candidates", 1) > 1
           else " Each window of an extension makes one continuation")
        + (f"; a long video's windows keep the best of {res['long_window_candidates']}"
           if res.get("long_window_candidates", 1) > 1
           else "; a long video's windows make one each")
        + (f", screened from {res['long_window_drafts']} drafts read at step "
           f"{res['long_window_screen_step']}"
           if res.get("long_window_drafts", 1) > res.get("long_window_candidates", 1) else "")
        + (", as `kinema generate --seconds` does." if res.get("long_window_candidates", 1) == 1
           else ".")
        + (f" Fill and interpolation keep the consensus of {res['fill_candidates']} completions "
           "(the one closest to the others)." if res.get("fill_candidates", 1) > 1
           else " Fill and interpolation make one completion.")
        + (f" Extension windows read the {res['planner']!r} planner's prompt (linear motions "
           "turned round at the walls)." if res.get("planner")
           else " Extension windows read the prompt as given, held throughout.")
        + (f" A long video of several objects is made one object at a time (the "
           f"{res['composer']!r} composer): each object's first clip and windows alone, the "
           "frames laid together, as `kinema generate --seconds` does."
           if res.get("composer") and "long" in res else "")
        + (f" The {res['guard']!r} identity guard samples a long video's window again (up to "
           f"{res['guard_tries']} times, the best-scoring try kept) where an object scores under "
           f"{res['guard_threshold']:g} (`kinema.pipelines.guard.GUARDS`), and reads the first "
           "clip's candidates too: those it reads right first, an object read right in none "
           "made again, as `kinema generate --seconds` does."
           if res.get("guard") and "long" in res else "")
        + (f" The {res['anchor']!r} identity anchor puts each object back in the context frames "
           "a long video's window reads (the frames kept are the model's; "
           "`kinema.pipelines.anchor.ANCHORS`)."
           if res.get("anchor") and "long" in res else "")
        + context_sentence(res)
        + (" Every case's prompt was replaced by its rewrite first (`--rewrite-given`), so the "
           "DiT read the canonical caption where frames are given too." if res.get("rewrite_given")
           else ""),
        "",
        "| measure | value |",
        "|---|---|",
    ]  # fmt: skip
    lines += short_rows(res)
    if lo is None:
        return "\n".join(lines)
    lines += [
        f"| long: each window {lo['extend_context']} context frames + {lo['extend_window']} new ones, "
        f"guided at t in {res.get('window_guidance_interval', res['guidance_interval'])}, "
        f"decoded {DECODED[res.get('window_decode', 'stream')]} | |",
        f"| long ({args.long} s, {len(lo['per_prompt'])} prompts): colour + shape right per object per frame | {100 * lo['identity_frames']:.1f}% |",
        f"| long: motion class right per 2 s window | {100 * lo['motion_windows']:.1f}% |",
        f"| long: frame-to-frame PSNR at window seams vs elsewhere | {lo['frame_to_frame_psnr_at_seams']:.2f} vs {lo['frame_to_frame_psnr_elsewhere']:.2f} dB |",
        f"| long: the same at seams vs at the latent-frame boundaries inside windows | {lo['frame_to_frame_psnr_at_seams']:.2f} vs {lo['frame_to_frame_psnr_other_latent_boundaries']:.2f} dB |",
    ]
    for r in lo["per_prompt"]:
        lines.append(
            f"| long, `{r['prompt']}` ({r['objects']} obj.): identity / motion / seam drop"
            + (" / rows made again (first clip + windows)" if res.get("guard") else "")
            + " | "
            f"{100 * r['identity_frames']:.1f}% / {100 * r['motion_windows']:.1f}% / {r['seam_drop_db']:.2f} dB"
            + (f" / {r.get('guard_retried', 0)}" if res.get("guard") else "")
            + " |"
        )
    for r in lo["timings"]:
        lines.append(
            f"| wall time for {r['seconds']} s ({r['frames']} frames), median of {len(r['walls'])} "
            f"(min-max {min(r['walls']):.1f}-{max(r['walls']):.1f} s) | "
            f"{r['wall']:.1f} s ({r['per_second']:.2f} s per second) |"
        )
    lines.append(
        f"| time per generated second, {args.long} s vs 4 s | {lo['ratio_per_second_long_vs_4s']:.2f}x |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
