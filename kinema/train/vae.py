"""Training the causal VAE: data, loss, evaluation and export of shippable weights."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kinema.config import VAEConfig, VAELossConfig, VAERecipe
from kinema.data.dataset import VideoDataset
from kinema.errors import InvalidInputError
from kinema.eval.metrics import psnr, ssim
from kinema.io.video import Video, write_video
from kinema.models.vae import CausalVAE
from kinema.train.trainer import ship_run_files
from kinema.world.render import render
from kinema.world.scene import sample_scene

VAL_SEED = 900_001  # held-out clips: never drawn by training steps (which use (seed, step))


def to_tensor(frames: np.ndarray, device: torch.device | str | None = None) -> torch.Tensor:
    """uint8 (B, T, H, W, 3) -> float (B, 3, T, H, W) in [-1, 1], on ``device`` (the uint8
    frames travel there first: a quarter of the bytes)."""
    x = torch.from_numpy(frames).to(device)
    return x.permute(0, 4, 1, 2, 3).float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (B, 3, T, H, W) in [-1, 1] -> uint8 (B, T, H, W, 3)."""
    y = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)  # (B, 3, T, H, W)
    return y.permute(0, 2, 3, 4, 1).numpy()


def shapes_clips(
    seed: int, index: int, n: int, frames: int, h: int, w: int, max_objects: int
) -> np.ndarray:
    """``n`` rendered Shapes World clips (n, T, H, W, 3) drawn from (seed, index)."""
    rng = np.random.default_rng([seed, index])
    return np.stack(
        [
            render(sample_scene(rng, height=h, width=w, num_frames=frames, max_objects=max_objects))
            for _ in range(n)
        ]
    )


def spatial_grad_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared error of horizontal and vertical finite differences: sharp, well-placed edges."""
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    return (dx(a) - dx(b)).pow(2).mean() + (dy(a) - dy(b)).pow(2).mean()


def vae_loss(
    recon: torch.Tensor, x: torch.Tensor, mean: torch.Tensor, logvar: torch.Tensor, w: VAELossConfig
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    recon, mean, logvar = recon.float(), mean.float(), logvar.float()
    err = recon - x
    mse, l1 = err.pow(2).mean(), err.abs().mean()
    grad = spatial_grad_mse(recon, x)
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()
    total = w.mse_weight * mse + w.l1_weight * l1 + w.grad_weight * grad + w.kl_weight * kl
    parts = {"mse": mse.detach(), "l1": l1.detach(), "grad": grad.detach(), "kl": kl.detach()}
    if w.ssim_weight:
        dissim = 1.0 - ssim(recon, x).mean()  # scored on the 0..255 scale, as the bench does
        total = total + w.ssim_weight * dissim
        parts["ssim"] = 1.0 - dissim.detach()
    with torch.no_grad():  # tensors, read only at logged steps (no host sync on a GPU)
        parts["psnr"] = psnr(recon, x).mean()
        return total, parts


class VAETask:
    """Batches, loss and evaluation for ``kinema.train.trainer.train``."""

    def __init__(self, recipe: VAERecipe) -> None:
        self.recipe = recipe
        self.cfg = recipe.train
        d = recipe.data
        if not d.buckets:
            raise InvalidInputError(
                "data.buckets is empty; give at least one (frames, H, W, weight)"
            )
        for t, h, w, _ in d.buckets:
            if (t - 1) % 4 or h % 8 or w % 8:
                raise InvalidInputError(
                    f"bucket {t}x{h}x{w}: frames must be 1 + 4k, sizes multiples of 8"
                )
        self.weights = np.array([b[3] for b in d.buckets], dtype=np.float64)
        self.weights /= self.weights.sum()
        self.dataset: VideoDataset | None = None
        if d.source != "shapes":
            from kinema.config import DataConfig

            self.dataset = VideoDataset(
                DataConfig(buckets=[tuple(b[:3]) for b in d.buckets]), manifest=d.source
            )
        self.val = to_tensor(shapes_clips(VAL_SEED, 0, d.val_clips, 17, 64, 64, d.max_objects))

    def batch(self, step: int) -> torch.Tensor:
        """One bucket's clips (B, 3, T, H, W), chosen by (seed, step) only."""
        rng = np.random.default_rng([self.cfg.seed, step, 1])
        t, h, w, _ = self.recipe.data.buckets[int(rng.choice(len(self.weights), p=self.weights))]
        if self.dataset is None:
            return to_tensor(
                shapes_clips(
                    self.cfg.seed, step, self.cfg.batch_size, t, h, w, self.recipe.data.max_objects
                )
            )
        bucket = (t, h, w)
        pool = self.dataset.by_bucket.get(bucket) or list(range(len(self.dataset)))
        idx = rng.choice(pool, size=self.cfg.batch_size)
        return torch.stack([self.dataset[(int(i), bucket)]["video"] for i in idx])

    def loss(
        self, model: nn.Module, batch: torch.Tensor, step: int
    ) -> tuple[torch.Tensor, dict[str, float]]:
        gen = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + step)
        recon, mean, logvar = model(batch, generator=gen)
        return vae_loss(recon, batch, mean, logvar, self.recipe.loss)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, step: int, out: Path) -> dict[str, float]:
        model.eval()
        device = next(model.parameters()).device
        recon = torch.cat(
            [
                model.decode(model.encode(self.val[i : i + 4].to(device))).float().cpu()
                for i in range(0, len(self.val), 4)
            ]
        )
        p = psnr(recon, self.val)
        samples = out / "samples"
        samples.mkdir(exist_ok=True)
        side = torch.cat([self.val[:4], recon[:4]], dim=-1)  # originals | reconstructions
        grid = torch.cat(list(side), dim=-2)  # (3, T, 4H, 2W)
        write_video(
            Video(to_uint8(grid[None])[0], 8.0), samples / f"step_{step:06d}.mp4", overwrite=True
        )
        s = ssim(recon, self.val)
        return {
            "val_psnr": float(p.mean()),
            "val_psnr_min": float(p.min()),
            "val_ssim": float(s.mean()),
        }


@torch.no_grad()
def calibrate(vae: CausalVAE, seed: int = 777, clips: int = 64, max_objects: int = 3) -> CausalVAE:
    """Set the VAE's per-channel latent scale/shift so encoded Shapes World clips are ~N(0, 1)."""
    vae.cfg = dataclasses.replace(vae.cfg, scale=(), shift=())
    x = to_tensor(shapes_clips(seed, 0, clips, 17, 64, 64, max_objects))
    z = torch.cat([vae.encode(x[i : i + 8]) for i in range(0, clips, 8)])  # (N, z, 5, 8, 8)
    mean = z.mean(dim=(0, 2, 3, 4))
    std = z.std(dim=(0, 2, 3, 4)).clamp_min(1e-4)
    vae.cfg = dataclasses.replace(
        vae.cfg,
        shift=tuple(round(float(v), 6) for v in mean),
        scale=tuple(round(float(1 / v), 6) for v in std),
    )
    return vae


def export(
    ema: nn.Module,
    recipe_path: str | Path,
    run_dir: str | Path,
    weights_dir: str | Path,
    command: str,
    calibrate_latents: bool = True,
) -> Path:
    """Calibrate the EMA VAE and write it (fp16) into ``weights_dir`` with its recipe and log.
    ``calibrate_latents=False`` keeps the scale/shift it has (a decoder-only fine-tune)."""
    vae = calibrate(ema) if calibrate_latents else ema  # type: ignore[arg-type]
    weights_dir = Path(weights_dir)
    vae.save_pretrained(weights_dir)
    ship_run_files("vae", recipe_path, run_dir, weights_dir, command)
    return weights_dir


def new_vae(cfg: VAEConfig, seed: int) -> CausalVAE:
    torch.manual_seed(seed)
    return CausalVAE(cfg)


def start_from(model: CausalVAE, recipe: VAERecipe, init: str | Path) -> CausalVAE:
    """``--init``: load saved VAE weights into ``model`` (which must have their shape); with
    ``freeze_encoder`` keep their latent space (scale/shift too) and train the decoder only."""
    start = CausalVAE.from_pretrained(init)
    if dataclasses.replace(start.cfg, scale=(), shift=()) != recipe.model:
        raise InvalidInputError(f"{init}: its VAE has another shape than the recipe's model")
    model.load_state_dict(start.state_dict())
    if recipe.freeze_encoder:
        model.cfg = start.cfg  # the latent space, scale/shift included, is kept as is
        model.encoder.requires_grad_(False)
    return model
