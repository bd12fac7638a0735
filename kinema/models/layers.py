"""Building blocks shared by Kinema's models: causal 3D convolutions with a streaming cache.

A causal convolution pads ``kt - 1`` frames in front and none behind, so output frame t sees
input frames <= t only; the first frame is encoded on its own (an image is a 1-frame video).
For long videos the same layers run chunk by chunk: each keeps the input frames the next
chunk's first window still needs in a ``StreamCache``, so chunked output equals the full pass
exactly (no seams), with memory bounded by the chunk, not the video.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import TypeVar

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from kinema.errors import InvalidInputError

M = TypeVar("M", bound=nn.Module)


class StreamCache(dict):
    """Per-layer carried frames for chunked (streaming) causal inference; one per video."""

    def repeat(self, k: int) -> StreamCache:
        """The state of a batch of B streams as K B (k-major: stream b is at k B + b for each
        k), to decode K continuations of each; the flags layers keep stay as they are."""
        out = StreamCache(self)
        for key, v in self.items():
            if isinstance(v, torch.Tensor):
                out[key] = v.repeat(k, *([1] * (v.dim() - 1)))  # (K B, ...)
        return out

    def select(self, index: torch.Tensor) -> StreamCache:
        """The streams at ``index`` (long [B']) of the batch: the continuations kept."""
        out = StreamCache(self)
        for key, v in self.items():
            if isinstance(v, torch.Tensor):
                out[key] = v[index]  # (B', ...)
        return out


GELU_C = 2.0 * math.sqrt(2.0 / math.pi)  # (1 + tanh z) / 2 = sigmoid(2 z)


class TanhGELU(nn.Module):
    """GELU, tanh approximation: what ``nn.GELU(approximate="tanh")`` computes (no parameters,
    so a checkpoint of either loads into the other).

    Inference in fp32 on a CPU computes it as x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)),
    the same function since (1 + tanh z) / 2 = sigmoid(2 z), within 5e-7 of torch's kernel:
    that kernel's tanh is about 4x slower than its sigmoid on the AVX2 CPU, which made the GELU
    about 7% of a dit-mini forward (``bench/dit_step_speed.py``). Where autograd records, in
    bf16 or on a GPU it is torch's own kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            x.dtype != torch.float32
            or x.device.type != "cpu"
            or (torch.is_grad_enabled() and x.requires_grad)
        ):
            return F.gelu(x, approximate="tanh")
        z = x * x  # a new buffer: x is left as it was
        z.mul_(0.044715 * GELU_C).add_(GELU_C).mul_(x)  # 2 sqrt(2/pi) (x + 0.044715 x^3)
        return z.sigmoid_().mul_(x)


class CausalConv3d(nn.Module):
    """Conv3d over (T, H, W), causal in time, 'same' padding in space."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel: tuple[int, int, int] = (3, 3, 3),
        stride: tuple[int, int, int] = (1, 1, 1),
    ) -> None:
        super().__init__()
        kt, kh, kw = kernel
        self.kt, self.st = kt, stride[0]
        self.conv = nn.Conv3d(cin, cout, kernel, stride, padding=(0, kh // 2, kw // 2))

    def forward(self, x: torch.Tensor, cache: StreamCache | None = None) -> torch.Tensor:
        # x: (B, C, T, H, W)
        key = id(self)
        if cache is not None and key in cache:
            x = torch.cat([cache[key], x], dim=2)  # (B, C, keep + T, H, W)
        else:
            x = F.pad(x, (0, 0, 0, 0, self.kt - 1, 0))  # (B, C, kt - 1 + T, H, W)
        n_out = (x.shape[2] - self.kt) // self.st + 1
        if cache is not None:
            cache[key] = x[:, :, n_out * self.st :].detach()  # frames the next window starts on
        return self.conv(x)  # (B, C', n_out, H', W')


class ChannelRMSNorm(nn.Module):
    """RMS norm over channels at each (t, h, w): causal, unlike GroupNorm over time."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (B, C, T, H, W)
        rms = x.float().pow(2).mean(dim=1, keepdim=True).add(self.eps).rsqrt()  # (B, 1, T, H, W)
        return (x.float() * rms).to(x.dtype) * self.weight[:, None, None, None].to(x.dtype)


class FrameGroupNorm(nn.GroupNorm):
    """GroupNorm with statistics per frame (over channel groups and space, never time): causal,
    and a frame normalises the same whether the video is processed whole or in chunks."""

    def __init__(self, channels: int, groups: int = 16) -> None:
        super().__init__(min(groups, channels), channels, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, T, H, W = x.shape
        y = x.transpose(1, 2).reshape(B * T, C, H, W)  # (B·T, C, H, W)
        y = super().forward(y)
        return y.view(B, T, C, H, W).transpose(1, 2)  # (B, C, T, H, W)


def make_norm(kind: str, channels: int) -> nn.Module:
    """``group`` (per-frame GroupNorm), ``rms`` (channel RMS) or ``none``."""
    if kind == "group":
        return FrameGroupNorm(channels)
    if kind == "rms":
        return ChannelRMSNorm(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}: group, rms or none")


class CausalResBlock(nn.Module):
    """Pre-norm residual block of two causal 3x3x3 convolutions."""

    def __init__(self, cin: int, cout: int | None = None, norm: str = "none") -> None:
        super().__init__()
        cout = cout or cin
        self.norm1, self.conv1 = make_norm(norm, cin), CausalConv3d(cin, cout)
        self.norm2, self.conv2 = make_norm(norm, cout), CausalConv3d(cout, cout)
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, cache: StreamCache | None = None) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)), cache)  # (B, C', T, H, W)
        h = self.conv2(F.silu(self.norm2(h)), cache)  # (B, C', T, H, W)
        return self.skip(x) + h


class CausalTimeUpsample(nn.Module):
    """1 + k frames -> 1 + 2k: each frame becomes two, except the very first (causal, like the
    encoder's stride-2 convolutions in reverse)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = CausalConv3d(channels, 2 * channels, (3, 1, 1))

    def forward(self, x: torch.Tensor, cache: StreamCache | None = None) -> torch.Tensor:
        first = cache is None or id(self) not in cache  # the video's first chunk
        if cache is not None:
            cache[id(self)] = True
        B, C, T, H, W = x.shape
        y = self.conv(x, cache).view(B, 2, C, T, H, W)  # (B, 2, C, T, H, W)
        y = y.permute(0, 2, 3, 1, 4, 5).reshape(B, C, 2 * T, H, W)  # (B, C, 2T, H, W)
        return y[:, :, 1:] if first else y  # (B, C, 2T - 1 | 2T, H, W)


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def conv_flops(module: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-add FLOPs (x2) of every Conv3d/Linear in one forward pass on ``inputs``."""
    total = 0

    def hook(m: nn.Module, _inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.Conv3d):
            k = m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1] * m.kernel_size[2]
            total += 2 * out.numel() * k
        elif isinstance(m, nn.Linear):
            total += 2 * out.numel() * m.in_features

    handles = [
        m.register_forward_hook(hook)
        for m in module.modules()
        if isinstance(m, nn.Conv3d | nn.Linear)
    ]
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total


def save_weights(
    module: nn.Module, directory: str | Path, weights: str, config: str, dtype: torch.dtype
) -> Path:
    """Write ``module``'s state (in ``dtype``) to ``directory/weights`` (safetensors) and its
    ``cfg`` dataclass to ``directory/config`` (JSON)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(dtype).contiguous() for k, v in module.state_dict().items()}
    save_file(state, str(directory / weights))
    (directory / config).write_text(json.dumps(asdict(module.cfg), indent=1))  # type: ignore[call-overload]
    return directory


def load_weights(
    directory: str | Path, weights: str, config: str, how_to_train: str
) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config dict, float32 state) saved by ``save_weights``; a clear error if missing."""
    directory = Path(directory)
    cfg_path, w_path = directory / config, directory / weights
    if not cfg_path.is_file() or not w_path.is_file():
        raise InvalidInputError(
            f"{directory}: no {config} + {weights} here; train one with `{how_to_train}`"
        )
    state = {k: v.float() for k, v in load_file(str(w_path)).items()}
    return json.loads(cfg_path.read_text()), state


def load_module(
    cls: type[M], config_cls: type, directory: str | Path, weights: str, config: str,
    how_to_train: str,
) -> M:  # fmt: skip
    """``cls(config)`` with the state ``save_weights`` left, float32, eval mode. The config is
    rebuilt by ``build_config``, so list fields come back as the tuples the dataclass types."""
    from kinema.config import build_config

    raw, state = load_weights(directory, weights, config, how_to_train)
    model = cls(build_config(config_cls, raw))  # type: ignore[call-arg]
    model.load_state_dict(state)
    return model.eval()
