"""Why the VAE recipe uses an MSE-led loss and per-frame GroupNorm: memorisation probes.

Each probe trains an autoencoder to memorise the same 8 Shapes World images (32x32) and
reports PSNR every 100 steps. Small objects on flat backgrounds are the hard part. With L1,
the ~95% of pixels already right send +-1 sign gradients that drown the objects. The same
probe on Kinema's CausalVAE compares its normalisation options.

    python bench/vae_objective_probe.py [--steps 600]
"""

from __future__ import annotations

import argparse
import dataclasses

import torch
from einops import rearrange
from torch import nn

from kinema.config import VAEConfig
from kinema.eval.metrics import psnr
from kinema.models.vae import CausalVAE
from kinema.train.vae import shapes_clips, to_tensor


def plain_autoencoder() -> nn.Module:
    """Patchify 4 + one stride-2 conv: the same 8x compression as the VAE, nothing else."""

    class AE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            act = nn.SiLU
            self.enc = nn.Sequential(
                nn.Conv2d(48, 64, 3, padding=1), act(), nn.Conv2d(64, 128, 3, 2, 1), act(),
                nn.Conv2d(128, 128, 3, padding=1), act(), nn.Conv2d(128, 8, 3, padding=1),
            )  # fmt: skip
            self.dec = nn.Sequential(
                nn.Conv2d(8, 128, 3, padding=1), act(), nn.Conv2d(128, 128, 3, padding=1), act(),
                nn.Upsample(scale_factor=2), nn.Conv2d(128, 64, 3, padding=1), act(),
                nn.Conv2d(64, 48, 3, padding=1),
            )  # fmt: skip

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = rearrange(x[:, :, 0], "b c (h p1) (w p2) -> b (c p1 p2) h w", p1=4, p2=4)
            y = rearrange(self.dec(self.enc(h)), "b (c p1 p2) h w -> b c (h p1) (w p2)", p1=4, p2=4)
            return y[:, :, None]

    return AE()


class MeanAutoencoder(nn.Module):
    """Kinema's CausalVAE used deterministically (posterior mean), as in the probes."""

    def __init__(self, norm: str) -> None:
        super().__init__()
        self.vae = CausalVAE(dataclasses.replace(VAEConfig(), norm=norm))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.vae.decoder(self.vae.posterior(x)[0])


def probe(model: nn.Module, loss: str, steps: int, lr: float) -> list[float]:
    torch.manual_seed(0)
    x = to_tensor(shapes_clips(3, 0, 8, 1, 32, 32, 3))
    opt = torch.optim.AdamW(model.parameters(), lr)
    out = []
    for step in range(steps):
        y = model(x)
        err = y - x
        value = err.pow(2).mean() if loss == "mse" else err.abs().mean()
        opt.zero_grad()
        value.backward()
        opt.step()
        if (step + 1) % 100 == 0:
            out.append(float(psnr(y.detach(), x).mean()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=600)
    args = ap.parse_args()
    torch.set_num_threads(2)
    rows = []
    for name, make, loss, lr in (
        ("plain AE, L1, lr 3e-3", plain_autoencoder, "l1", 3e-3),
        ("plain AE, MSE, lr 1e-3", plain_autoencoder, "mse", 1e-3),
        ("CausalVAE norm=rms, MSE", lambda: MeanAutoencoder("rms"), "mse", 1e-3),
        ("CausalVAE norm=group, MSE", lambda: MeanAutoencoder("group"), "mse", 1e-3),
        ("CausalVAE norm=none, MSE", lambda: MeanAutoencoder("none"), "mse", 1e-3),
    ):
        torch.manual_seed(0)
        curve = probe(make(), loss, args.steps, lr)
        rows.append((name, curve))
        print(name, [round(c, 1) for c in curve], flush=True)
    head = " | ".join(str(100 * (i + 1)) for i in range(len(rows[0][1])))
    print(f"\n| probe (PSNR dB at step) | {head} |\n|---|" + "---|" * len(rows[0][1]))
    for name, curve in rows:
        print(f"| {name} | " + " | ".join(f"{c:.1f}" for c in curve) + " |")


if __name__ == "__main__":
    main()
