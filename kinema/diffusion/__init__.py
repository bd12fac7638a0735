"""Rectified flow: training objective, timestep schedules and samplers as plain functions."""

from kinema.diffusion.flow import (
    euler,
    flow_loss,
    guided,
    heun,
    interpolate,
    logit_normal,
    sample_timesteps,
    shift_for_tokens,
    shift_t,
)

__all__ = [
    "euler",
    "flow_loss",
    "guided",
    "heun",
    "interpolate",
    "logit_normal",
    "sample_timesteps",
    "shift_for_tokens",
    "shift_t",
]
