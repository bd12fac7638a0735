"""Rectified flow (Liu et al. 2022; the SD3 / Wan training recipe).

Convention: t = 0 is data, t = 1 is noise, and the path between them is straight:

    x_t = (1 - t) * x0 + t * noise,        v = dx_t/dt = noise - x0.

The model learns v by regression (velocity loss). Sampling integrates dx/dt = v(x, t) from
t = 1 down to t = 0. Training draws t from a logit-normal (more weight on the middle, where the
task is hardest); both training and sampling warp t with a shift s >= 1,

    t' = s t / (1 + (s - 1) t),

which spends more of the schedule at high noise. Larger videos (more tokens) keep more of
their signal at a given t, so s grows with the token count: log s is linear in it between two
anchors (``FlowConfig``).

The samplers live apart, in ``kinema.diffusion.sample``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from kinema.config import FlowConfig

Velocity = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _per_frame(t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """t [B] -> [B, 1, 1, 1, 1]; t [B, T] -> [B, 1, T, 1, 1], to broadcast against x [B, C, T, H, W]."""
    if t.ndim == 1:
        return t.view(-1, *[1] * (x.ndim - 1))
    return t[:, None, :, None, None]


def interpolate(x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 - t) x0 + t noise; t [B] or per latent frame [B, T]; x0 [B, C, T, H, W]."""
    tt = _per_frame(t, x0)  # [B, 1, 1|T, 1, 1]
    return (1 - tt) * x0 + tt * noise


def logit_normal(
    n: int, generator: torch.Generator | None = None, mean: float = 0.0, std: float = 1.0
) -> torch.Tensor:
    """n timesteps in (0, 1): sigmoid of N(mean, std)."""
    return torch.sigmoid(mean + std * torch.randn(n, generator=generator))


def shift_t(t: torch.Tensor, shift: float) -> torch.Tensor:
    """Warp t in [0, 1] toward 1 (noise) for shift > 1; fixes 0 and 1."""
    return shift * t / (1 + (shift - 1) * t)


def shift_for_tokens(tokens: int, cfg: FlowConfig) -> float:
    """exp(mu), mu linear in the token count between the (base, max) anchors, clamped."""
    lo, hi = math.log(cfg.base_shift), math.log(cfg.max_shift)
    frac = (tokens - cfg.base_tokens) / max(1, cfg.max_tokens - cfg.base_tokens)
    return math.exp(lo + (hi - lo) * min(1.0, max(0.0, frac)))


def flow_loss(
    velocity: Velocity,
    x0: torch.Tensor,
    noise: torch.Tensor,
    t: torch.Tensor,
    weight: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean squared error between v(x_t, t) and noise - x0.

    ``t`` is [B] or per latent frame [B, T]; ``weight`` (broadcastable to x0, e.g. [B, 1, T, 1, 1]
    with zeros on frames given as context) restricts the loss to the frames that count.
    """
    xt = interpolate(x0, noise, t)  # [B, C, T, H, W]
    err = (velocity(xt, t).float() - (noise - x0).float()).pow(2)  # [B, C, T, H, W]
    if weight is None:
        return err.mean()
    w = weight.expand_as(err)
    return (err * w).sum() / w.sum().clamp_min(1.0)
