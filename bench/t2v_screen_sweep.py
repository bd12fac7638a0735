"""Screened best of N, decided on the tuning stream: how early can the verifier tell the drafts
apart, and how many finished clips does it take?

    python bench/t2v_screen_sweep.py [--objects 1] [--prompts 100] [--start 0] [--drafts 8]
        [--marks 2 3 4 5 6 7 8]
    python bench/t2v_screen_sweep.py --merge A.json B.json ...   # the table over several runs

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

TUNE_SEED = EVAL_SEED + 7  # the sampling sweep's stream: not the eval's scenes
STEPS, GUIDANCE = 20, 4.0


def sample_records(pipe: Pipeline, items: list, drafts: int, marks: list[int]) -> list[dict]:
    shape = pipe.latent_shape(17, 64, 64)
    _, T, h, w = shape
    pt, ph, pw = pipe.dit.cfg.patch
    ts = sample_timesteps(STEPS, shift_for_tokens(T // pt * (h // ph) * (w // pw),
                                                  pipe.config.flow))  # fmt: skip
    records = []
    for s in range(0, len(items), 10):
        chunk = items[s : s + 10]
        B = len(chunk)
        said = [pipe.model_prompt(p) for p, _ in chunk] * drafts  # draft k of prompt b: k B + b
        gen = torch.Generator().manual_seed(1 + s)
        x = torch.cat([torch.randn((B, *shape), generator=gen) for _ in range(drafts)])
        v = pipe.velocity_fn(said, [""] * len(said), GUIDANCE)
        seen = {}
        for i in range(STEPS):
            t, t_next = float(ts[i]), float(ts[i + 1])
            vel = v(x, torch.full((len(x),), t))  # [D B, C, T, h, w]
            if i in marks:
                seen[i] = pipe.decode(x - t * vel).reshape(drafts, B, 17, 64, 64, 3)
            x = x + (t_next - t) * vel
        clips = pipe.decode(x).reshape(drafts, B, 17, 64, 64, 3)
        for b, (p, spec) in enumerate(chunk):
            target = pipe.verifier.target(p)
            r = {
                "prompt": p,
                "verifier": pipe.verifier.score(clips[:, b], target).tolist(),
                "ok": [bool(score_clip(clips[k, b], spec).ok) for k in range(drafts)],
            }
            for i in marks:
                r[f"verifier_at_{i}"] = pipe.verifier.score(seen[i][:, b], target).tolist()
            records.append(r)
        print(f"{s + B} prompts", flush=True)
    return records


def table(records: list[dict]) -> list[str]:
    ok = np.array([r["ok"] for r in records])  # [n, D]
    final = np.array([r["verifier"] for r in records])  # [n, D]
    n, D = ok.shape
    marks = sorted(
        int(k.rsplit("_", 1)[1])
        for k in records[0]
        if k.startswith("verifier_at_") and all(k in r for r in records)
    )
    rows = [
        "| policy | all-right, 1 object | DiT batches of one clip |",
        "|---|---|---|",
        f"| one clip | {100 * ok[:, 0].mean():.1f}% | {STEPS} |",
    ]
    for k in (2, 3, 4, 6, 8):
        if k <= D:
            pick = final[:, :k].argmax(1)
            rows.append(f"| best of {k} (oracle: {100 * ok[:, :k].any(1).mean():.1f}%) | "
                        f"{100 * ok[np.arange(n), pick].mean():.1f}% | {STEPS * k} |")  # fmt: skip
    for i in marks:
        early = np.array([r[f"verifier_at_{i}"] for r in records])  # [n, D]
        for d in sorted({6, D}):
            for keep in (1, 2, 3):
                if d > D or keep >= d:
                    continue
                kept = np.argsort(-early[:, :d], 1, kind="stable")[:, :keep]  # [n, keep]
                best = kept[np.arange(n), final[np.arange(n)[:, None], kept].argmax(1)]
                cost = d * (i + 1) + keep * (STEPS - i - 1)
                rows.append(f"| screened at step {i}: {d} drafts, best {keep} finished | "
                            f"{100 * ok[np.arange(n), best].mean():.1f}% | {cost} |")  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default=None)
    ap.add_argument("--objects", type=int, default=1)
    ap.add_argument("--prompts", type=int, default=100)
    ap.add_argument("--start", type=int, default=0, help="skip this many of the stream's prompts")
    ap.add_argument("--drafts", type=int, default=8)
    ap.add_argument("--marks", type=int, nargs="+", default=[2, 3, 4, 5, 6, 7, 8])
    ap.add_argument("--merge", nargs="+", default=None, help="records of earlier runs: table only")
    ap.add_argument("--out", default="bench/results/t2v_screen_tune")
    args = ap.parse_args()
    out = Path(args.out)
    if args.merge:
        runs = [json.loads(Path(f).read_text()) for f in args.merge]
        records = [r for run in runs for r in run["records"]]
        how = " and ".join(f"`{run['command']}`" for run in runs)
    else:
        t0 = time.perf_counter()
        pipe = Pipeline.from_pretrained(args.weights)
        items = prompts(args.start + args.prompts, args.objects, TUNE_SEED, "heldout")
        records = sample_records(pipe, items[args.start :], args.drafts, args.marks)
        how = (f"`python bench/t2v_screen_sweep.py --objects {args.objects} --prompts "
               f"{args.prompts} --start {args.start} --drafts {args.drafts} --marks "
               + " ".join(map(str, args.marks)) + "`")  # fmt: skip
        out = out.with_name(f"{out.name}_{args.start}-{args.start + args.prompts}")
        out.parent.mkdir(parents=True, exist_ok=True)
        run = {"command": how.strip("`"), "records": records,
               "seconds": time.perf_counter() - t0}  # fmt: skip
        out.with_suffix(".json").write_text(json.dumps(run))
    lines = [
        f"# Screened best of N on the tuning stream ({how})",
        "",
        f"{len(records)} held-out-phrased tuning prompts (rewritten, as `kinema generate` "
        f"reads them), 17x64x64, {STEPS} Euler steps, guidance {GUIDANCE}; all-right by the "
        "Shapes World scorer. Policies replayed from the same drafts, so they are paired.",
        "",
        *table(records),
    ]
    text = "\n".join(lines)
    print(text)
    out.with_suffix(".md").write_text(text + "\n")


if __name__ == "__main__":
    main()
