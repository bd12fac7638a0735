"""Samplers for rectified flow: plain functions of a velocity function.

``v(x, t) -> velocity`` with t a float tensor [B]; integration runs from t = 1 (noise) to
t = 0 (data) along the schedule ``sample_timesteps`` gives (evenly spaced, then shifted with
``kinema.diffusion.flow.shift_t``). Classifier-free guidance wraps two velocity functions into
one (``guided``), so every sampler takes it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from kinema.diffusion.flow import Velocity, shift_t


def sample_timesteps(steps: int, shift: float = 1.0) -> torch.Tensor:
    """steps + 1 times from 1 down to 0, evenly spaced then shifted."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return shift_t(torch.linspace(1.0, 0.0, steps + 1), shift)


def guided(cond: Velocity, uncond: Velocity, scale: float) -> Velocity:
    """Classifier-free guidance: v_u + scale (v_c - v_u). Scale 1 is the plain conditional."""
    if scale == 1.0:
        return cond

    def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        vu = uncond(x, t)
        return vu + scale * (cond(x, t) - vu)

    return v


def euler(
    velocity: Velocity,
    x: torch.Tensor,
    timesteps: torch.Tensor,
    callback: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Integrate dx/dt = v from timesteps[0] (noise, 1) to timesteps[-1] (data, 0): one call per step."""
    for i in range(len(timesteps) - 1):
        t, t_next = float(timesteps[i]), float(timesteps[i + 1])
        tb = torch.full((x.shape[0],), t, dtype=torch.float32)
        x = x + (t_next - t) * velocity(x, tb).to(x.dtype)
        if callback is not None:
            callback(i)
    return x


def heun(
    velocity: Velocity,
    x: torch.Tensor,
    timesteps: torch.Tensor,
    callback: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Heun's second-order method (trapezoid with an Euler predictor); the last step, to t = 0,
    is plain Euler. Two velocity calls per step, second-order accurate."""
    n = len(timesteps) - 1
    for i in range(n):
        t, t_next = float(timesteps[i]), float(timesteps[i + 1])
        tb = torch.full((x.shape[0],), t, dtype=torch.float32)
        v1 = velocity(x, tb).to(x.dtype)
        x_pred = x + (t_next - t) * v1
        if t_next > 0:
            v2 = velocity(x_pred, torch.full_like(tb, t_next)).to(x.dtype)
            x = x + (t_next - t) * 0.5 * (v1 + v2)
        else:
            x = x_pred
        if callback is not None:
            callback(i)
    return x
