"""Evaluate a trained VAE on held-out Shapes World clips; prints and writes a markdown table.

    python bench/vae_eval.py [--weights kinema/weights] [--clips 500]

- reconstruction PSNR / SSIM on held-out 17x64x64 clips, and at 32x32
- the Shapes World scorer on reconstructions vs. the scenes drawn (colour, shape, motion kept?)
- a 481-frame clip decoded in chunks: per-frame PSNR at chunk seams vs. the rest, and drift
- peak memory of that decode, chunked vs. whole (each in a fresh process)
- encode + decode wall time for one 17x64x64 clip on this machine's cores, fp32 and bf16
- parameters, FLOPs and the weights file size
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from kinema.eval.fidelity import score_clip
from kinema.eval.metrics import psnr, psnr_per_frame, ssim
from kinema.models.layers import conv_flops, count_params
from kinema.models.vae import WEIGHTS_NAME, CausalVAE
from kinema.train.vae import to_tensor, to_uint8
from kinema.world.parse import parse_clip
from kinema.world.render import render
from kinema.world.scene import sample_scene

EVAL_SEED = 31_337  # disjoint from training (seed, step) draws and the trainer's VAL_SEED


def scenes(n: int, size: int, frames: int, tag: int) -> list:
    return [
        sample_scene(
            np.random.default_rng([EVAL_SEED, tag, i]), height=size, width=size, num_frames=frames
        )
        for i in range(n)
    ]


@torch.no_grad()
def reconstruct(vae: CausalVAE, graphs: list, batch: int = 10) -> dict[str, float]:
    ps, ss, follows, exact = [], [], [], []
    for s in range(0, len(graphs), batch):
        gs = graphs[s : s + batch]
        x = to_tensor(np.stack([render(g) for g in gs]))
        y = vae.decode(vae.encode(x))
        ps += psnr(y, x).tolist()
        ss += ssim(y, x).tolist()
        for g, frames in zip(gs, to_uint8(y), strict=True):
            follows.append(score_clip(frames, g.spec).ok)
            read = parse_clip(frames).spec()
            exact.append(read is not None and set(read.objects) == set(g.spec.objects))
    return {
        "psnr": statistics.mean(ps),
        "psnr_p5": float(np.percentile(ps, 5)),
        "ssim": statistics.mean(ss),
        "scorer_follows": float(np.mean(follows)),
        "scorer_exact": float(np.mean(exact)),
        "clips": len(graphs),
    }


@torch.no_grad()
def long_clip(
    vae: CausalVAE, n_clips: int = 3, frames: int = 481, chunk_latents: int = 8
) -> dict[str, float]:
    seam, rest, first, last = [], [], [], []
    for i in range(n_clips):
        x = to_tensor(render(scenes(1, 64, frames, 100 + i)[0])[None])
        y = vae.decode(vae.encode(x, chunk_frames=32), chunk_latents=chunk_latents)
        pf = psnr_per_frame(y, x)[0].numpy()
        # decoded chunk c (latents c*L .. c*L+L-1) starts at pixel frame 1 + 4(cL - 1) for c >= 1
        starts = {
            1 + 4 * (c * chunk_latents - 1)
            for c in range(1, (frames - 1) // 4 // chunk_latents + 1)
        }
        near = {f + d for f in starts for d in (-1, 0)}
        seam += [pf[f] for f in range(frames) if f in near]
        rest += [pf[f] for f in range(frames) if f not in near]
        first.append(pf[:60].mean())
        last.append(pf[-60:].mean())
    return {
        "psnr_all": float(np.mean(seam + rest)),
        "psnr_seams": float(np.mean(seam)),
        "psnr_rest": float(np.mean(rest)),
        "psnr_first60": float(np.mean(first)),
        "psnr_last60": float(np.mean(last)),
    }


def _high_water_kib() -> int:
    """Peak resident memory of this process image (VmHWM). Not ru_maxrss: Linux carries the
    parent's high-water mark into a forked child across exec, hiding anything smaller."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: best effort


def memory_probe(weights: str, mode: str, size: int) -> None:
    """Child process: peak RSS (MiB) of encoding + decoding one 481-frame clip of size x size;
    growth is measured from just after the model loads (the input clip is included)."""
    torch.set_num_threads(2)
    vae = CausalVAE.from_pretrained(weights)
    base = _high_water_kib()
    x = to_tensor(render(scenes(1, size, 481, 7)[0])[None])
    with torch.no_grad():
        if mode == "chunked":
            vae.decode(vae.encode(x, chunk_frames=32), chunk_latents=8)
        else:
            vae.decode(vae.encode(x))
    peak = _high_water_kib()
    print(json.dumps({"peak_mib": peak / 1024, "growth_mib": (peak - base) / 1024}))


def peak_memory(weights: str, mode: str, size: int) -> dict[str, float]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--weights",
            weights,
            "--memory-probe",
            mode,
            "--size",
            str(size),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@torch.no_grad()
def speed(vae: CausalVAE, bf16: bool, repeats: int = 5) -> float:
    x = to_tensor(render(scenes(1, 64, 17, 200)[0])[None])
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            vae.decode(vae.encode(x))
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="kinema/weights")
    ap.add_argument("--clips", type=int, default=500)
    ap.add_argument("--out", type=Path, default=Path("bench/results/vae_eval.md"))
    ap.add_argument("--memory-probe", choices=["chunked", "full"], default=None)
    ap.add_argument("--size", type=int, default=64, help="frame size for --memory-probe")
    args = ap.parse_args()
    if args.memory_probe:
        memory_probe(args.weights, args.memory_probe, args.size)
        return
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    vae = CausalVAE.from_pretrained(args.weights)
    t0 = time.perf_counter()
    r64 = reconstruct(vae, scenes(args.clips, 64, 17, 1))
    r32 = reconstruct(vae, scenes(max(100, args.clips // 5), 32, 17, 2))
    lc = long_clip(vae)
    mem_c, mem_f = peak_memory(args.weights, "chunked", 64), peak_memory(args.weights, "full", 64)
    big_c, big_f = peak_memory(args.weights, "chunked", 256), peak_memory(args.weights, "full", 256)
    t_fp32, t_bf16 = speed(vae, False), speed(vae, True)
    x = torch.zeros(1, 3, 17, 64, 64)
    enc_f = conv_flops(vae.encoder, x)
    dec_f = conv_flops(vae.decoder, torch.zeros(1, vae.cfg.latent_channels, 5, 8, 8))
    size_mb = (Path(args.weights) / WEIGHTS_NAME).stat().st_size / 1e6
    rows = [
        ("held-out clips (17x64x64)", f"{r64['clips']}"),
        ("PSNR 64x64 (mean / 5th pct)", f"{r64['psnr']:.2f} / {r64['psnr_p5']:.2f} dB"),
        ("SSIM 64x64", f"{r64['ssim']:.4f}"),
        (
            "scorer: reconstruction follows the drawn scene (colour, shape, motion)",
            f"{100 * r64['scorer_follows']:.1f}%",
        ),
        (
            "scorer: reconstruction reads exactly as drawn (size too)",
            f"{100 * r64['scorer_exact']:.1f}%",
        ),
        (f"PSNR / SSIM 32x32 ({r32['clips']} clips)", f"{r32['psnr']:.2f} dB / {r32['ssim']:.4f}"),
        ("scorer follows at 32x32", f"{100 * r32['scorer_follows']:.1f}%"),
        (
            "481-frame clip, chunked (32 frames in, 8 latents out): PSNR all frames",
            f"{lc['psnr_all']:.2f} dB",
        ),
        (
            "481-frame: PSNR at chunk seams vs. other frames",
            f"{lc['psnr_seams']:.2f} vs {lc['psnr_rest']:.2f} dB",
        ),
        (
            "481-frame: PSNR first 60 vs. last 60 frames (drift)",
            f"{lc['psnr_first60']:.2f} vs {lc['psnr_last60']:.2f} dB",
        ),
        (
            "481-frame encode+decode peak RSS: chunked vs. whole",
            f"{mem_c['peak_mib']:.0f} vs {mem_f['peak_mib']:.0f} MiB",
        ),
        (
            "  growth over the loaded model (input clip included): chunked vs. whole",
            f"{mem_c['growth_mib']:.0f} vs {mem_f['growth_mib']:.0f} MiB",
        ),
        (
            "481x256x256 encode+decode peak RSS (growth): chunked vs. whole",
            f"{big_c['peak_mib']:.0f} ({big_c['growth_mib']:.0f}) vs {big_f['peak_mib']:.0f} ({big_f['growth_mib']:.0f}) MiB",
        ),
        (
            f"encode+decode 17x64x64, {torch.get_num_threads()} threads, fp32 / bf16",
            f"{t_fp32 * 1000:.0f} / {t_bf16 * 1000:.0f} ms",
        ),
        ("parameters (encoder + decoder)", f"{count_params(vae) / 1e6:.2f} M"),
        (
            "FLOPs per 17x64x64 clip: encode / decode",
            f"{enc_f / 1e9:.2f} / {dec_f / 1e9:.2f} GFLOP",
        ),
        ("weights file (fp16 safetensors)", f"{size_mb:.1f} MB"),
        ("latent for 17x64x64", f"{vae.cfg.latent_channels}x5x8x8"),
    ]
    lines = [
        f"# VAE evaluation (`python bench/vae_eval.py --clips {args.clips}`, {time.perf_counter() - t0:.0f} s)",
        "",
        "| measure | value |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in rows],
    ]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    args.out.with_suffix(".json").write_text(
        json.dumps(
            {
                "64": r64,
                "32": r32,
                "long": lc,
                "mem_chunked": mem_c,
                "mem256_chunked": big_c,
                "mem256_full": big_f,
                "mem_full": mem_f,
                "ms_fp32": t_fp32 * 1000,
                "ms_bf16": t_bf16 * 1000,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
