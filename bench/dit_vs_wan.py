"""Kinema's DiT forward vs diffusers' WanTransformer3DModel at the same width, depth, heads,
patch and token count; fp32 and bf16 autocast; plus Kinema's training-step throughput and MFU
against this machine's measured matmul peak.

    pip install -e ".[bench]"      # diffusers, bench only
    python bench/dit_vs_wan.py [--preset dit-tiny] [--batch 8] [--threads 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from results_io import report

from kinema.config import DIT_PRESETS
from kinema.models.dit import DiT, dit_flops_per_token


def timed(fn, repeats: int = 5, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def matmul_peak(bf16: bool, n: int = 2048) -> float:
    """GFLOP/s of a square matmul, the machine's practical peak for the dtype."""
    dtype = torch.bfloat16 if bf16 else torch.float32
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n**3 / timed(lambda: a @ b) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="dit-tiny")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--train-batch", type=int, default=32)
    ap.add_argument("--grid", default="5x8x8", help="latent T x H x W (17x64x64 video: 5x8x8)")
    ap.add_argument("--text-tokens", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="bench/results/dit_vs_wan")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from diffusers import WanTransformer3DModel

    cfg = DIT_PRESETS[args.preset]
    T, H, W = (int(v) for v in args.grid.split("x"))
    B, L = args.batch, args.text_tokens
    ours = DiT(cfg).eval()
    wan = WanTransformer3DModel(
        patch_size=cfg.patch,
        num_attention_heads=cfg.heads,
        attention_head_dim=cfg.head_dim,
        in_channels=cfg.in_channels,
        out_channels=cfg.in_channels,
        text_dim=cfg.text_dim,
        freq_dim=cfg.freq_dim,
        ffn_dim=int(cfg.width * cfg.mlp_ratio),
        num_layers=cfg.depth,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
    ).eval()
    x = torch.randn(B, cfg.in_channels, T, H, W)
    t = torch.rand(B)
    text, mask = torch.randn(B, L, cfg.text_dim), torch.ones(B, L, dtype=torch.bool)
    tokens = T // cfg.patch[0] * (H // cfg.patch[1]) * (W // cfg.patch[2])
    rows = []
    for bf16 in (False, True):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            k = timed(lambda: ours(x, t, text, mask))
            w = timed(lambda: wan(x, t * 1000, text, return_dict=False)[0])
        rows.append(
            {
                "dtype": "bf16" if bf16 else "fp32",
                "kinema_ms": 1e3 * k,
                "wan_ms": 1e3 * w,
                "ratio": k / w,
            }
        )
    # training step: forward + backward + AdamW at the training batch, bf16 autocast
    tb = args.train_batch
    xb, tbt = torch.randn(tb, cfg.in_channels, T, H, W), torch.rand(tb)
    textb, maskb = torch.randn(tb, L, cfg.text_dim), torch.ones(tb, L, dtype=torch.bool)
    model = DiT(cfg).train()
    opt = torch.optim.AdamW(model.parameters(), 1e-4)
    train_rows = []
    for bf16 in (False, True):

        def step(bf16: bool = bf16) -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = (model(xb, tbt, textb, maskb).float() - xb).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

        sec = timed(step, repeats=3, warmup=1)
        flops = 3 * dit_flops_per_token(cfg, tokens, L)["total"] * tokens * tb  # fwd + 2x bwd
        peak = matmul_peak(bf16)
        train_rows.append(
            {
                "dtype": "bf16" if bf16 else "fp32",
                "sec_per_step": sec,
                "clips_per_sec": tb / sec,
                "tokens_per_sec": tb * tokens / sec,
                "achieved_gflops": flops / sec / 1e9,
                "peak_gflops": peak,
                "mfu": flops / sec / 1e9 / peak,
            }
        )
    p_ours = sum(p.numel() for p in ours.parameters())
    p_wan = sum(p.numel() for p in wan.parameters())
    lines = [
        f"# Kinema DiT vs diffusers WanTransformer3DModel (`python bench/dit_vs_wan.py --preset {args.preset}`)",
        "",
        f"{args.preset}: width {cfg.width}, depth {cfg.depth}, heads {cfg.heads}, patch {cfg.patch}; "
        f"batch {B} x {tokens} tokens (latents {T}x{H}x{W}), {L} text tokens; {args.threads} threads. "
        f"Params: Kinema {p_ours / 1e6:.2f}M, Wan {p_wan / 1e6:.2f}M.",
        "",
        "| dtype | Kinema forward (ms) | Wan forward (ms) | Kinema / Wan |",
        "|---|---|---|---|",
        *[
            f"| {r['dtype']} | {r['kinema_ms']:.1f} | {r['wan_ms']:.1f} | {r['ratio']:.2f} |"
            for r in rows
        ],
        "",
        f"Training step (forward + backward + AdamW), batch {tb}:",
        "",
        "| dtype | s/step | clips/s | tokens/s | achieved GFLOP/s | matmul peak GFLOP/s | MFU |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {r['dtype']} | {r['sec_per_step']:.3f} | {r['clips_per_sec']:.1f} | {r['tokens_per_sec']:.0f} | "
            f"{r['achieved_gflops']:.1f} | {r['peak_gflops']:.1f} | {100 * r['mfu']:.1f}% |"
            for r in train_rows
        ],
    ]
    text_out = "\n".join(lines)
    report(args.out, text_out, {"forward": rows, "train": train_rows})


if __name__ == "__main__":
    main()
