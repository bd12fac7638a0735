"""Composed guidance for two-object prompts, probed on the tuning stream.

    python bench/t2v_compose_probe.py [--prompts 60] [--start 0] [--variants base parts joint+parts:1]

Two-object prompts fail on binding: each object's shape, motion and size read right about half
the time, so both objects all-right is rare. Composable diffusion (Liu et al. 2022) guides with
one conditional per part instead of (or beside) the whole prompt:

- ``base``: v_u + g (v_c - v_u), the shipped guidance (c the canonical caption);
- ``parts``: v_u + g sum_i (v_i - v_u), v_i the velocity under object i's caption alone;
- ``joint+parts:a``: v_u + g (v_c - v_u) + a sum_i (v_i - v_u).

One noise draw per prompt shared by every variant (paired), 20 Euler steps, 17x64x64, scored by
the Shapes World scorer. This decides whether the idea is worth a pipeline option; it is not one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from t2v_eval import EVAL_SEED, prompts

from kinema.diffusion.flow import shift_for_tokens
from kinema.diffusion.sample import euler, sample_timesteps
from kinema.eval.fidelity import score_clip, summarize
from kinema.pipelines import Pipeline
from kinema.world.captions import canonical_caption
from kinema.world.scene import ObjectSpec, SceneSpec

TUNE_SEED = EVAL_SEED + 7  # the sampling sweep's stream: not the eval's scenes


def parts_of(spec: SceneSpec) -> list[str]:
    return [canonical_caption(SceneSpec(spec.background, (o,))) for o in spec.objects]


def swapped(spec: SceneSpec) -> str:
    """The caption with every attribute but colour handed to the other object (two objects)."""
    a, b = spec.objects
    return canonical_caption(
        SceneSpec(
            spec.background,
            (
                ObjectSpec(a.color, b.shape, b.motion, b.size),
                ObjectSpec(b.color, a.shape, a.motion, a.size),
            ),
        )
    )


def velocity(pipe: Pipeline, variant: str, specs: list[SceneSpec], g: float):
    n = len(specs)
    name, _, arg = variant.partition(":")
    a = float(arg) if arg else 0.0
    whole = [canonical_caption(s) for s in specs]
    if name in ("parts", "joint+parts"):
        parts = [parts_of(s) for s in specs]
        extra = [p for i in range(len(parts[0])) for p in (ps[i] for ps in parts)]
    elif name in ("swapneg", "base+swap"):
        extra = [swapped(s) for s in specs]
    else:
        extra = []
    k = len(extra) // n
    rows = whole + extra + ([""] * n if name != "swapneg" else [])
    text, mask = pipe.text_encoder.encode(rows)  # [r n, L, E]
    r = len(rows) // n

    @torch.no_grad()
    def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        xs = torch.cat([x] * r)  # [r n, C, T, h, w]
        with pipe.autocast():
            out = pipe.dit(xs, torch.cat([t] * r), text, mask).float()
        vc, *rest = out.chunk(r)
        vp, vu = rest[:k], (rest[k] if len(rest) > k else None)
        if name == "base":
            return vu + g * (vc - vu)
        if name == "parts":
            return vu + g * sum(vi - vu for vi in vp)
        if name == "joint+parts":
            return vu + g * (vc - vu) + a * sum(vi - vu for vi in vp)
        if name == "swapneg":
            return vp[0] + g * (vc - vp[0])
        if name == "base+swap":
            return vu + g * (vc - vu) + a * (vc - vp[0])
        raise ValueError(variant)

    return v


def table(results: dict, prompts: str) -> str:
    """Markdown rows of the per-variant summaries (``results``: variant -> summarize + seconds)."""
    cols = ("color", "shape", "motion", "size", "no_extra", "all")
    lines = [
        f"Two-object tuning prompts {prompts}, 17x64x64, 20 Euler steps, guidance 4, one clip "
        "each from the same noise (paired); per-object attributes, all-right per clip.",
        "",
        "| guidance | " + " | ".join(cols) + " | seconds |",
        "|---|" + "---|" * (len(cols) + 1),
    ]
    for name, r in results.items():
        cells = " | ".join(f"{100 * r[c]:.1f}%" for c in cols)
        lines.append(f"| {name} | {cells} | {r['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="kinema/weights")
    ap.add_argument("--prompts", type=int, default=60)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--guidance", type=float, default=4.0)
    ap.add_argument("--variants", nargs="+", default=["base", "parts", "joint+parts:1"])
    ap.add_argument("--out", default="bench/results/t2v_compose_probe_tune")
    args = ap.parse_args()

    torch.set_num_threads(2)
    pipe = Pipeline.from_pretrained(args.weights)
    items = prompts(args.start + args.prompts, 2, TUNE_SEED, "heldout")[args.start :]
    shape = pipe.latent_shape(17, 64, 64)
    pt, ph, pw = pipe.dit.cfg.patch
    ts = sample_timesteps(
        args.steps,
        shift_for_tokens((shape[1] // pt) * (shape[2] // ph) * (shape[3] // pw), pipe.config.flow),
    )
    scores: dict[str, list] = {v: [] for v in args.variants}
    seconds = dict.fromkeys(args.variants, 0.0)
    for s in range(0, len(items), args.batch):
        chunk = items[s : s + args.batch]
        specs = [spec for _, spec in chunk]
        gen = torch.Generator().manual_seed(1000 + args.start + s)
        noise = torch.randn((len(chunk), *shape), generator=gen)  # [B, C, T, h, w]
        for var in args.variants:
            t0 = time.perf_counter()
            x = euler(velocity(pipe, var, specs, args.guidance), noise.clone(), ts)
            clips = pipe.decode(x)  # [B, T, H, W, 3]
            seconds[var] += time.perf_counter() - t0
            scores[var] += [score_clip(c, spec) for c, spec in zip(clips, specs, strict=True)]
        print(f"{s + len(chunk)}/{len(items)}", {v: summarize(scores[v])["all"] for v in scores})
    out = {v: {**summarize(scores[v]), "seconds": seconds[v]} for v in args.variants}
    out["per_prompt"] = {v: [bool(r.ok) for r in scores[v]] for v in args.variants}
    name = "_".join(args.variants).replace(":", "-").replace("+", "-")
    stem = f"{args.out}_{name}_{args.start}-{args.start + args.prompts}"
    Path(stem + ".json").write_text(json.dumps(out, indent=1, default=float))
    rows = {v: out[v] for v in args.variants}
    Path(stem + ".md").write_text(
        f"# Composed guidance probe (`python {' '.join(sys.argv)}`)\n\n"
        + table(rows, f"{args.start}-{args.start + args.prompts}")
    )
    print(json.dumps({v: out[v] for v in args.variants}, indent=1, default=float))


if __name__ == "__main__":
    main()
