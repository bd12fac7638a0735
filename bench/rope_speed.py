"""The shipped DiT's forward with `apply_rope` as it is (one complex multiply per channel
pair) against the real-arithmetic rotation it replaced, timed in alternating rounds.

    python bench/rope_speed.py [--rounds 8] [--frames 17] [--batch 4]

Batch 4 of 17x64x64 is a composed two-object window's step (2 rows x 2 guidance branches).
Both give the same velocity to the bit (printed); the time is the median ms per forward."""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from results_io import report

import kinema.models.dit as dit_module
from kinema.hardware import native_bf16
from kinema.models.rope import apply_rope
from kinema.pipelines import Pipeline


def real_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """The rotation before: four real multiplies, a subtraction, an addition and a stack."""
    x1, x2 = x.float().unflatten(-1, (-1, 2)).unbind(-1)  # [B, h, N, d/2] each
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)  # [B, h, N, d/2, 2]
    return out.flatten(-2).type_as(x)  # [B, h, N, d]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--calls", type=int, default=10, help="forwards per round and variant")
    ap.add_argument("--frames", type=int, default=17)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench/results/rope_speed")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pipe = Pipeline.from_pretrained(args.weights)
    C, T, h, w = pipe.latent_shape(args.frames, 64, 64)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, C, T, h, w, generator=g)  # [B, C, T, h, w]
    t = torch.rand(args.batch, T, generator=g)  # [B, T]: per-frame timesteps, as windows run
    text, mask = pipe.text_encoder.encode(["a large red circle bouncing"] * args.batch)
    variants = {"complex (shipped)": apply_rope, "real (before)": real_rope}
    times: dict[str, list[float]] = {k: [] for k in variants}
    outs = {}
    with torch.no_grad(), pipe.autocast():
        for name, fn in variants.items():
            dit_module.apply_rope = fn
            outs[name] = pipe.dit(x, t, text, mask)  # also a warm-up
        for _ in range(args.rounds):
            for name, fn in variants.items():
                dit_module.apply_rope = fn
                t0 = time.perf_counter()
                for _ in range(args.calls):
                    pipe.dit(x, t, text, mask)
                times[name].append((time.perf_counter() - t0) / args.calls * 1e3)
    dit_module.apply_rope = apply_rope
    same = torch.equal(*outs.values())
    med = {k: statistics.median(v) for k, v in times.items()}
    lines = [
        f"# DiT forward, RoPE as a complex multiply vs in real arithmetic (`python "
        f"bench/rope_speed.py --rounds {args.rounds} --frames {args.frames} --batch "
        f"{args.batch}`, {args.threads} threads, "
        f"{'bf16' if pipe.config.bf16 and native_bf16() else 'fp32'})",
        "",
        f"Latents {args.batch}x{C}x{T}x{h}x{w}; the same velocity to the bit: {same}.",
        "",
        "| rope | ms per forward (median) | rounds |",
        "|---|---|---|",
        *[f"| {k} | {med[k]:.1f} | {', '.join(f'{a:.1f}' for a in v)} |" for k, v in times.items()],
        "",
        f"complex / real: {med['complex (shipped)'] / med['real (before)']:.3f}",
    ]
    text_out = "\n".join(lines)
    report(args.out, text_out)


if __name__ == "__main__":
    main()
