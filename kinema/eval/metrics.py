"""Pixel metrics on videos in [-1, 1], (B, 3, T, H, W): PSNR and SSIM on the 0..255 scale."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per clip (B,), after clamping ``a`` to [-1, 1]."""
    mse = ((a.float().clamp(-1, 1) - b.float()) * 127.5).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(255.0**2 / mse.clamp_min(1e-10))


def psnr_per_frame(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per clip and frame (B, T)."""
    mse = ((a.float().clamp(-1, 1) - b.float()) * 127.5).pow(2).mean(dim=(1, 3, 4))
    return 10 * torch.log10(255.0**2 / mse.clamp_min(1e-10))


def _gaussian(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """SSIM per clip (B,): Wang et al. 2004, 11x11 Gaussian (sigma 1.5), per frame and channel,
    valid region only, averaged. Frames smaller than 11 px use a smaller window."""
    x = (a.float().clamp(-1, 1) + 1) * 127.5  # (B, 3, T, H, W)
    y = (b.float() + 1) * 127.5
    B, C, T, H, W = x.shape
    size = min(11, H, W)
    g = _gaussian(size)
    win = (g[:, None] * g[None, :]).expand(C * T, 1, size, size).to(x.device)  # (C·T, 1, k, k)
    x, y = x.reshape(B, C * T, H, W), y.reshape(B, C * T, H, W)

    def blur(t: torch.Tensor) -> torch.Tensor:
        # fp32 whatever autocast says: variances are differences of squares on the 0..255 scale,
        # and in bf16 they cancel to noise (a training loss read SSIM 0.80 for 0.97)
        with torch.autocast(x.device.type, enabled=False):
            return F.conv2d(t, win, groups=C * T)

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))
    return s.flatten(1).mean(1)
