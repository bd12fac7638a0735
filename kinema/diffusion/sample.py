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
    project: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """Integrate dx/dt = v from timesteps[0] (noise, 1) to timesteps[-1] (data, 0): one call per step.

    ``project`` (optional) corrects the data estimate at every step: on the path
    x_t = (1 - t) x0 + t n with v = n - x0, one velocity gives both ends, x0 = x - t v and
    n = x + (1 - t) v, and the Euler step is exactly x' = (1 - t') x0 + t' n. With ``project``
    the step is taken with project(x0) in place of x0 (the noise estimate kept), so the
    trajectory is pulled onto whatever ``project`` enforces (e.g. known pixels, in
    ``Pipeline.complete_latents``) while the model fills in the rest. The last step (to t' = 0)
    returns the model's own x0: the caller owns corrections of the final answer (the pipeline
    pastes given pixels back after decoding). Without ``project`` this is plain Euler.
    """
    for i in range(len(timesteps) - 1):
        t, t_next = float(timesteps[i]), float(timesteps[i + 1])
        tb = torch.full((x.shape[0],), t, dtype=torch.float32)
        v = velocity(x, tb).to(x.dtype)
        if project is None or t_next == 0.0:
            x = x + (t_next - t) * v
        else:
            x0, noise = x - t * v, x + (1 - t) * v
            x = (1 - t_next) * project(x0) + t_next * noise
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
