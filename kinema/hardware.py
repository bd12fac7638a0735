"""What this machine's CPU computes natively, for choosing the fast path at run time."""

from __future__ import annotations

import functools
import os

import torch


def native_bf16() -> bool:
    """True where the CPU computes bf16 natively (AVX512-BF16 or AMX tiles).

    There bf16 autocast runs the DiT's matmuls and the VAE's convolutions about 2.5x faster than
    fp32. Elsewhere torch emulates bf16 and autocast is about 2x *slower* than fp32 (an AVX-512
    Xeon without BF16: a 17-frame clip in 1.6-1.9 s with bf16, 0.7-1.0 s in fp32), so there the
    pipeline runs in fp32. ``KINEMA_BF16=1`` or ``0`` overrides the check."""
    env = os.environ.get("KINEMA_BF16", "").strip()
    if env in ("0", "1"):
        return env == "1"
    return cpu_has_native_bf16()


@functools.cache
def cpu_has_native_bf16() -> bool:
    """The CPU check alone (AVX512-BF16 or AMX tiles), without the environment override."""
    cpu = torch.cpu
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def bf16_autocast(enabled: bool = True) -> torch.autocast:
    """CPU bf16 autocast where ``enabled`` asks for it and ``native_bf16()`` holds; an inactive
    context (fp32) otherwise. The one place the pipeline and the trainers get autocast from."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled and native_bf16())
