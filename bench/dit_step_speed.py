"""One sampling step of the shipped DiT on this CPU, three ways, timed in alternating turns:
the text read at every step with torch's tanh GELU, the text read once per sample
(``DiT.prepare_text``), and that with the GELU as a sigmoid (``TanhGELU``): the last is the
shipped DiT. Also one self-attention call with its QK norms on each head's channels where they
lie (``Attention.heads_of``, shipped) against the norms on the [B, h, N, d] transpose (before).

    python bench/dit_step_speed.py [--rounds 5] [--calls 30] [--frames 17] [--batch 4]

Batch 4 of 17x64x64 is a composed two-object window's step: each object's row with its
context frame at t = 0 and the rest at t = 0.7, then both again without context and with the
empty negative prompt (context guidance). Each round is a fresh child process timing
``--calls`` forwards each way, the ways in turn, so machine drift falls on all alike.
Reported: the median over rounds of each child's median ms per call; whether the text read
once and the norms' layout give the same output to the bit; and how far the sigmoid GELU's
velocity is from torch's (largest absolute difference)."""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from einops import rearrange
from results_io import report
from torch import nn

from kinema.models import dit as dit_module
from kinema.models.rope import apply_rope

WAYS = ("text each step, torch GELU", "text read once, torch GELU",
        "text read once, sigmoid GELU (shipped)")  # fmt: skip
NORMS = ("QK norms on the transpose (before)", "QK norms where heads lie (shipped)")


def attention_before(self, x, context=None, mask=None, rope=None, kv=None):
    """Attention.forward as it was: QK norms on the [B, h, N, d] transpose, no prepared kv."""
    ctx = x if context is None else context  # [B, M, Dk]
    q = rearrange(self.q(x), "b n (h d) -> b h n d", h=self.heads)  # [B, h, N, d]
    k = rearrange(self.k(ctx), "b m (h d) -> b h m d", h=self.heads)  # [B, h, M, d]
    v = rearrange(self.v(ctx), "b m (h d) -> b h m d", h=self.heads)  # [B, h, M, d]
    q, k = self.q_norm(q.float()), self.k_norm(k.float())  # [B, h, N, d], [B, h, M, d]
    if rope is not None:
        q, k = apply_rope(q, *rope), apply_rope(k, *rope)  # [B, h, N, d]
    q, k = q.to(v.dtype), k.to(v.dtype)
    attn_mask = None if mask is None else mask[:, None, None, :]  # [B, 1, 1, M]
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # [B, h, N, d]
    return self.o(rearrange(out, "b h n d -> b n (h d)"))  # [B, N, D]


def timed(fn, calls: int, order: tuple[str, ...]) -> dict[str, float]:
    """Median ms per call of fn(way) for each way, the ways in turn (reversed every other)."""
    times: dict[str, list[float]] = {k: [] for k in order}
    for i in range(calls):
        for way in order if i % 2 == 0 else order[::-1]:
            t0 = time.perf_counter()
            fn(way)
            times[way].append(time.perf_counter() - t0)
    return {k: 1e3 * statistics.median(v) for k, v in times.items()}


def child(args: argparse.Namespace) -> dict:
    """Time each way in this process; the result as a dict."""
    from kinema.models.layers import TanhGELU
    from kinema.pipelines import Pipeline

    torch.set_num_threads(args.threads)
    pipe = Pipeline.from_pretrained(args.weights)
    dit = pipe.dit
    C, T, h, w = pipe.latent_shape(args.frames, 64, 64)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, C, T, h, w, generator=g)  # [B, C, T, h, w]
    half = args.batch // 2
    t = torch.full((args.batch, T), 0.7)  # [B, T]: per-frame timesteps, as windows run
    t[:half, 0] = 0.0  # the rows with context: their first latent frame given
    prompts = ["a large red circle bouncing", "a small blue square moving left"]
    text, mask = pipe.text_encoder.encode((prompts * half)[:half] + [""] * half)  # [B, L, E]
    gelus = {"torch": nn.GELU(approximate="tanh"), "sigmoid": TanhGELU()}

    def forward(way: str) -> torch.Tensor:
        for block in dit.blocks:
            block.mlp[1] = gelus["sigmoid" if "sigmoid" in way else "torch"]
        return dit(x, t, text, mask) if "each step" in way else dit(x, t, prepared)

    # one self-attention call of the first block, as the DiT makes it
    attn = dit.blocks[0].attn
    gt, gh, gw = dit.grid(x)
    tokens = torch.randn(args.batch, gt * gh * gw, dit.cfg.width, generator=g)  # [B, N, D]
    rope = dit_module.rope_3d((gt, gh, gw), dit.cfg.head_dim, dit.cfg.rope_theta, x.device)
    shipped = type(attn).forward

    def attention(way: str) -> torch.Tensor:
        fn = attention_before if way == NORMS[0] else shipped
        return fn(attn, tokens, rope=rope)

    with torch.no_grad(), pipe.autocast():
        prepared = dit.prepare_text(text, mask)
        outs = {way: forward(way) for way in WAYS}  # also a warm-up
        attns = {way: attention(way) for way in NORMS}
        ms = timed(forward, args.calls, WAYS)
        ms |= timed(attention, 10 * args.calls, NORMS)
    return {
        "ms": ms,
        "text_once_same": bool(torch.equal(outs[WAYS[0]], outs[WAYS[1]])),
        "norms_same": bool(torch.equal(attns[NORMS[0]], attns[NORMS[1]])),
        "gelu_max_diff": float((outs[WAYS[2]] - outs[WAYS[1]]).abs().max()),
        "velocity_max": float(outs[WAYS[1]].abs().max()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=30, help="forwards per way and round")
    ap.add_argument("--frames", type=int, default=17)
    ap.add_argument("--batch", type=int, default=4, help="an even number of rows")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default="bench/results/dit_step_speed")
    args = ap.parse_args()
    if args.batch % 2:
        ap.error("--batch takes an even number of rows (prompts, then their negatives)")
    if args.child:
        print(json.dumps(child(args)))
        return
    cmd = [sys.executable, __file__, "--child", "--calls", str(args.calls), "--frames",
           str(args.frames), "--batch", str(args.batch), "--threads", str(args.threads)]  # fmt: skip
    if args.weights:
        cmd += ["--weights", args.weights]
    runs = []
    for _ in range(args.rounds):
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(runs[-1], flush=True)
    med = {k: statistics.median(r["ms"][k] for r in runs) for k in WAYS + NORMS}
    same = all(r["text_once_same"] for r in runs)
    norms_same = all(r["norms_same"] for r in runs)
    diff = max(r["gelu_max_diff"] for r in runs)

    def row(k: str, first: str) -> str:
        return (f"| {k} | {med[k]:.2f} | {med[k] / med[first]:.3f}x | "
                + ", ".join(f"{r['ms'][k]:.2f}" for r in runs) + " |")  # fmt: skip

    lines = [
        f"# A DiT sampling step on this CPU (`python bench/dit_step_speed.py --rounds {args.rounds}"
        f" --calls {args.calls} --frames {args.frames} --batch {args.batch}`, {args.threads} "
        "threads)",
        "",
        f"Shipped DiT, batch {args.batch} of {args.frames}x64x64 as a composed two-object window "
        "steps it, fp32 unless the CPU computes bf16 natively; the median over "
        f"{args.rounds} fresh processes of each one's median ms per call ({args.calls} forwards "
        f"each way, {10 * args.calls} attention calls, in turn). The text read once gives the "
        f"same velocity to the bit in every run: {same}; the norms where heads lie the same "
        f"attention output: {norms_same}. The sigmoid GELU's velocity is within {diff:.1e} of "
        f"torch's (velocities up to {runs[0]['velocity_max']:.1f}).",
        "",
        "| forward | ms per forward | against the first | runs |",
        "|---|---|---|---|",
        *[row(k, WAYS[0]) for k in WAYS],
        "",
        "| one self-attention call (block 0) | ms per call | against the first | runs |",
        "|---|---|---|---|",
        *[row(k, NORMS[0]) for k in NORMS],
    ]
    text = "\n".join(lines)
    report(args.out, text, runs)


if __name__ == "__main__":
    main()
