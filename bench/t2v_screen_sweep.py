"""Screened best of N, decided on the tuning stream: how early can the verifier tell the drafts
apart, and how many finished clips does it take?

    python bench/t2v_screen_sweep.py [--objects 1] [--prompts 100] [--start 0] [--drafts 8]
        [--marks 2 3 4 5 6 7 8] [--steps 20] [--image]
    python bench/t2v_screen_sweep.py --merge A.json B.json ...   # the table over several runs
    python bench/t2v_screen_sweep.py ... --save-clips DIR   # keep the drafts and previews
    python bench/t2v_screen_sweep.py --rescore A.json --clips DIR --weights W  # another verifier

Per tuning prompt (the t2v sampling sweep's stream, rewritten as ``kinema generate`` does), D
drafts are sampled to the end with the shipped sampler (20 Euler steps, guidance 4), one noise
draw each. At each step in ``--marks`` the data estimate x0 = x - t v (the velocity that step
computes anyway) is decoded and the verifier scores it; the finished clips are scored by the
verifier and by the Shapes World scorer. From the records any policy can be replayed without
sampling again: plain best of K (the verifier picks among the first K drafts finished), and
"screened at step s, D drafts, keep K" (the K drafts whose estimate at s the verifier reads best
are finished, then it picks among them), which is what ``Pipeline.sample`` does with a
``Screen``. Cost is in DiT batches of one clip: D (s + 1) + K (steps - s - 1), against 20 K
for plain best of K (the previews' decode and reading come on top, a few per cent).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from t2v_eval import EVAL_SEED, prompts

from kinema.diffusion.flow import shift_for_tokens
from kinema.diffusion.sample import sample_timesteps
from kinema.eval.fidelity import score_clip
from kinema.pipelines import Pipeline
from kinema.pipelines.text_to_video import crossfade

TUNE_SEED = EVAL_SEED + 7  # the sampling sweep's stream: not the eval's scenes
STEPS, GUIDANCE = 20, 4.0  # the shipped sampler; --steps for another count


def image_cases(n: int) -> list[tuple[str, object, np.ndarray]]:
    """The edit eval's tuning cases for image to video: (prompt, scene, its first frame)."""
    from edit_eval import EVAL_SEED as EDIT_SEED
    from edit_eval import cases

    from kinema.world.render import render

    return [(p, g.spec, render(g)[0]) for p, g in cases(n, seed=EDIT_SEED + 7)]


def sample_records(
    pipe: Pipeline,
    items: list,
    drafts: int,
    marks: list[int],
    steps: int = STEPS,
    save: Path | None = None,
) -> list[dict]:
    """Items (prompt, scene) for text to video, or (prompt, scene, first frame) for image to
    video, sampled as ``kinema animate`` does: the frame given, the prompt as written, context
    guidance ``pipeline.json``'s (its noise drawn after the drafts', as ``Pipeline.sample``
    does), frame 0 pasted back before the scorer reads a clip. With ``save`` each chunk's
    finished clips and previews go to ``save/chunk-{s}.npz`` ([D, B, 17, 64, 64, 3] each)."""
    shape = pipe.latent_shape(17, 64, 64)
    _, T, h, w = shape
    pt, ph, pw = pipe.dit.cfg.patch
    ts = sample_timesteps(steps, shift_for_tokens(T // pt * (h // ph) * (w // pw),
                                                  pipe.config.flow))  # fmt: skip
    records = []
    for s in range(0, len(items), 10):
        chunk = items[s : s + 10]
        B = len(chunk)
        image = len(chunk[0]) == 3
        gen = torch.Generator().manual_seed(1 + s)
        x = torch.cat([torch.randn((B, *shape), generator=gen) for _ in range(drafts)])
        if image:  # the first latent frame given: the still, encoded as the pipeline does
            said = [c[0] for c in chunk] * drafts  # as written where frames are given
            canvas = np.zeros((B, 17, 64, 64, 3), dtype=np.uint8)
            canvas[:, 0] = [c[2] for c in chunk]
            known = np.zeros(17, dtype=bool)
            known[0] = True
            given = pipe.latent_given(known)
            clean = pipe.encode(crossfade(canvas, known)).repeat(drafts, 1, 1, 1, 1)
            noise = torch.randn(x.shape, generator=gen)
            x = torch.where(given[None, None, :, None, None], clean, x)
            v = pipe.velocity_fn(said, [""] * len(said), GUIDANCE, None, given, clean, noise,
                                 pipe.config.context_guidance)  # fmt: skip
        else:
            said = [pipe.model_prompt(c[0]) for c in chunk] * drafts  # draft k of b: k B + b
            v = pipe.velocity_fn(said, [""] * len(said), GUIDANCE)
        seen = {}
        for i in range(steps):
            t, t_next = float(ts[i]), float(ts[i + 1])
            vel = v(x, torch.full((len(x),), t))  # [D B, C, T, h, w]
            if i in marks:
                seen[i] = pipe.decode(x - t * vel).reshape(drafts, B, 17, 64, 64, 3)
            x = x + (t_next - t) * vel
        clips = pipe.decode(x).reshape(drafts, B, 17, 64, 64, 3)
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            np.savez(save / f"chunk-{s}.npz", final=clips,
                     **{f"at_{i}": seen[i] for i in marks})  # fmt: skip
        for b, (p, spec, *still) in enumerate(chunk):
            target = pipe.verifier.target(p)
            shown = clips[:, b].copy()  # [D, 17, 64, 64, 3]
            if still:
                shown[:, 0] = still[0]  # the given frame back, as the output has it
            r = {
                "prompt": p,
                "verifier": pipe.verifier.score(clips[:, b], target).tolist(),
                "ok": [bool(score_clip(shown[k], spec).ok) for k in range(drafts)],
            }
            for i in marks:
                r[f"verifier_at_{i}"] = pipe.verifier.score(seen[i][:, b], target).tolist()
            records.append(r)
        print(f"{s + B} prompts", flush=True)
    return records


def rescore(pipe: Pipeline, records: list[dict], clips: Path) -> list[dict]:
    """The records with every verifier score read again by ``pipe``'s verifier from the clips
    ``--save-clips`` kept (the scorer's verdicts are kept as they are)."""
    out = []
    for s in range(0, len(records), 10):
        saved = np.load(clips / f"chunk-{s}.npz")
        for b, r in enumerate(records[s : s + 10]):
            target = pipe.verifier.target(r["prompt"])
            new = dict(r, verifier=pipe.verifier.score(saved["final"][:, b], target).tolist())
            for k in r:
                if k.startswith("verifier_at_"):
                    at = saved[f"at_{k.rsplit('_', 1)[1]}"][:, b]
                    new[k] = pipe.verifier.score(at, target).tolist()
            out.append(new)
    return out


def table(records: list[dict], steps: int = STEPS) -> list[str]:
    ok = np.array([r["ok"] for r in records])  # [n, D]
    final = np.array([r["verifier"] for r in records])  # [n, D]
    n, D = ok.shape
    marks = sorted(
        int(k.rsplit("_", 1)[1])
        for k in records[0]
        if k.startswith("verifier_at_") and all(k in r for r in records)
    )
    rows = [
        "| policy | all-right | DiT batches of one clip |",
        "|---|---|---|",
        f"| one clip | {100 * ok[:, 0].mean():.1f}% | {steps} |",
    ]
    for k in (2, 3, 4, 6, 8, 12, 16):
        if k <= D:
            pick = final[:, :k].argmax(1)
            rows.append(f"| best of {k} (oracle: {100 * ok[:, :k].any(1).mean():.1f}%) | "
                        f"{100 * ok[np.arange(n), pick].mean():.1f}% | {steps * k} |")  # fmt: skip
    for i in marks:
        early = np.array([r[f"verifier_at_{i}"] for r in records])  # [n, D]
        for d in sorted({6, 8, 12, D}):
            for keep in (1, 2, 3):
                if d > D or keep >= d:
                    continue
                kept = np.argsort(-early[:, :d], 1, kind="stable")[:, :keep]  # [n, keep]
                best = kept[np.arange(n), final[np.arange(n)[:, None], kept].argmax(1)]
                cost = d * (i + 1) + keep * (steps - i - 1)
                rows.append(f"| screened at step {i}: {d} drafts, best {keep} finished | "
                            f"{100 * ok[np.arange(n), best].mean():.1f}% | {cost} |")  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None)
    ap.add_argument("--objects", type=int, default=1, help="text to video: objects per prompt")
    ap.add_argument("--image", action="store_true", help="image to video: the edit eval's cases")
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--start", type=int, default=0, help="skip this many of the stream's prompts")
    ap.add_argument("--drafts", type=int, default=8)
    ap.add_argument("--marks", type=int, nargs="+", default=[2, 3, 4, 5, 6, 7, 8])
    ap.add_argument("--steps", type=int, default=STEPS, help="Euler steps of every draft")
    ap.add_argument("--merge", nargs="+", default=None, help="records of earlier runs: table only")
    ap.add_argument("--save-clips", default=None, help="keep the drafts here (npz per chunk)")
    ap.add_argument("--rescore", default=None, help="a run's json: its drafts scored again")
    ap.add_argument("--clips", default=None, help="--rescore: where that run kept its drafts")
    ap.add_argument("--out", default="bench/results/t2v_screen_tune")
    args = ap.parse_args()
    out = Path(args.out)
    image = args.image
    if args.rescore:
        if not args.clips:
            raise SystemExit("--rescore needs --clips, the folder its run's --save-clips wrote")
        run = json.loads(Path(args.rescore).read_text())
        image = "--image" in run["command"]
        steps = run.get("steps", STEPS)
        pipe = Pipeline.from_pretrained(args.weights)
        records = rescore(pipe, run["records"], Path(args.clips))
        how = f"`{run['command']}`, its drafts read by the verifier of `{args.weights}`"
        out = Path(args.rescore).with_name(Path(args.rescore).stem + "_" + out.name)
        out.with_suffix(".json").write_text(json.dumps(dict(run, records=records,
                                                            rescored_by=args.weights)))  # fmt: skip
    elif args.merge:
        runs = [json.loads(Path(f).read_text()) for f in args.merge]
        image = any("--image" in run["command"] for run in runs)
        records = [r for run in runs for r in run["records"]]
        how = " and ".join(f"`{run['command']}`" for run in runs)
        counts = {run.get("steps", STEPS) for run in runs}
        if len(counts) != 1:
            raise SystemExit(f"--merge: the runs sampled with different step counts {counts}")
        steps = counts.pop()
    else:
        t0 = time.perf_counter()
        pipe = Pipeline.from_pretrained(args.weights)
        if args.image:
            items = image_cases(args.start + args.prompts)
        else:
            items = prompts(args.start + args.prompts, args.objects, TUNE_SEED, "heldout")
        steps = args.steps
        save = Path(args.save_clips) if args.save_clips else None
        records = sample_records(pipe, items[args.start :], args.drafts, args.marks, steps, save)
        what = "--image" if args.image else f"--objects {args.objects}"
        what += f" --steps {steps}" if steps != STEPS else ""
        how = (f"`python bench/t2v_screen_sweep.py {what} --prompts "
               f"{args.prompts} --start {args.start} --drafts {args.drafts} --marks "
               + " ".join(map(str, args.marks)) + "`")  # fmt: skip
        name = f"{out.name}{'_i2v' if args.image else ''}"
        name += f"{f'_steps-{steps}' if steps != STEPS else ''}_{args.start}-{args.start + args.prompts}"
        out = out.with_name(name)
        out.parent.mkdir(parents=True, exist_ok=True)
        run = {"command": how.strip("`"), "records": records, "steps": steps,
               "seconds": time.perf_counter() - t0}  # fmt: skip
        out.with_suffix(".json").write_text(json.dumps(run))
    lines = [
        f"# Screened best of N on the tuning stream ({how})",
        "",
        (
            f"{len(records)} image-to-video tuning cases of the edit eval (one and two objects, "
            "the prompt as written, context guidance as shipped)"
            if image
            else f"{len(records)} held-out-phrased tuning prompts (rewritten, as `kinema generate` "
            "reads them)"
        )
        + f", 17x64x64, {steps} Euler steps, guidance {GUIDANCE}; all-right by the Shapes "
        "World scorer. Policies replayed from the same drafts, so they are paired.",
        "",
        *table(records, steps),
    ]
    text = "\n".join(lines)
    print(text)
    out.with_suffix(".md").write_text(text + "\n")


if __name__ == "__main__":
    main()
