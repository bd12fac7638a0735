"""Rectified flow: training objective, timestep schedules and samplers as plain functions."""

from kinema.diffusion.flow import flow_loss, interpolate, logit_normal, shift_for_tokens, shift_t
from kinema.diffusion.sample import euler, guided, heun, sample_timesteps

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
