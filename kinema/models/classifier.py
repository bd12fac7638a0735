"""A small video classifier over pixels: 3D conv stem, residual blocks, global pooling, heads.

Two Kinema models are this network with different heads: the generated-video detector
(``kinema.safety.detector``: one logit, "made by Kinema's generator") and the Shapes World
recognizer (``kinema.understand.recognize``: per colour slot presence, shape, size, motion).
It reads any size and length (global average pooling), sees motion through its temporal
convolutions, and is small enough to train on two CPU cores in minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kinema.errors import InvalidInputError
from kinema.io.video import resize_frames
from kinema.models.layers import load_module, save_weights

M = TypeVar("M", bound=nn.Module)


@dataclass
class ClassifierConfig:
    """Width, depth and outputs of a ``VideoClassifier``."""

    in_channels: int = 3  # RGB, or e.g. one palette-colour mask per slot (the recognizer)
    stem_stride: int = 2  # spatial stride of the first conv: 4 is 4x cheaper, a patch embedding
    channels: tuple[int, ...] = (32, 64, 96)  # per stage; each stage halves H and W
    temporal_stride: tuple[int, ...] = (1, 2, 2)  # per stage; 17 frames -> 5 at the end
    heads: dict[str, int] = field(default_factory=lambda: {"generated": 1})  # name -> logits
    dropout: float = 0.1  # before the heads; small data, small model


class _Block(nn.Module):
    """Two 3x3x3 convs with GroupNorm + SiLU and a residual path (strided when shrinking)."""

    def __init__(self, cin: int, cout: int, stride: tuple[int, int, int]) -> None:
        super().__init__()
        self.conv1 = nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.norm1 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv3d(cout, cout, 3, padding=1, bias=False)
        self.norm2 = nn.GroupNorm(8, cout)
        self.skip = nn.Conv3d(cin, cout, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.norm1(self.conv1(x)))  # (B, C', T', H', W')
        h = self.norm2(self.conv2(h))  # (B, C', T', H', W')
        return F.silu(h + self.skip(x))  # (B, C', T', H', W')


class VideoClassifier(nn.Module):
    """Video (B, in_channels, T, H, W), e.g. RGB in [-1, 1] -> {head: logits (B, n)}."""

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        self.cfg = cfg
        c0 = cfg.channels[0]
        self.stem = nn.Sequential(
            nn.Conv3d(
                cfg.in_channels,
                c0,
                (3, 4, 4),
                stride=(1, cfg.stem_stride, cfg.stem_stride),
                padding=(1, 1 if cfg.stem_stride == 2 else 0, 1 if cfg.stem_stride == 2 else 0),
            ),
            nn.GroupNorm(8, c0),
            nn.SiLU(),
        )
        blocks, cin = [], c0
        for c, ts in zip(cfg.channels, cfg.temporal_stride, strict=True):
            blocks.append(_Block(cin, c, (ts, 2, 2)))
            cin = c
        self.blocks = nn.Sequential(*blocks)
        self.drop = nn.Dropout(cfg.dropout)
        self.heads = nn.ModuleDict({k: nn.Linear(cin, n) for k, n in cfg.heads.items()})

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)  # (B, C0, T, H/s, W/s)
        h = self.blocks(h)  # (B, C, T', H/(8s), W/(8s))
        return h.mean(dim=(2, 3, 4))  # (B, C)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.drop(self.features(x))  # (B, C)
        return {k: head(f) for k, head in self.heads.items()}  # {name: (B, n)}

    def save_pretrained(self, directory: str | Path, prefix: str) -> Path:
        return save_classifier(self, directory, prefix)

    @classmethod
    def from_pretrained(cls, directory: str | Path, prefix: str) -> VideoClassifier:
        return load_classifier(cls, directory, prefix)


def save_classifier(model: nn.Module, directory: str | Path, prefix: str) -> Path:
    """``<prefix>.safetensors`` (fp16) + ``<prefix>_config.json`` (its ``cfg``) in ``directory``."""
    return save_weights(model, directory, f"{prefix}.safetensors", f"{prefix}_config.json",
                        torch.float16)  # fmt: skip


def load_classifier(cls: type[M], directory: str | Path, prefix: str) -> M:
    """A model built from a ``ClassifierConfig`` (``cls(cfg)``), as ``save_classifier`` left it."""
    return load_module(cls, ClassifierConfig, directory, f"{prefix}.safetensors",
                       f"{prefix}_config.json", f"kinema train {prefix}")  # fmt: skip


def fit_clip(
    frames: np.ndarray, length: int, size: int, who: str, keep_aspect: bool = False
) -> np.ndarray:
    """uint8 (T, H, W, 3) -> (max(T, length), size, size, 3): resized, and padded with its last
    frame up to ``length`` frames. ``keep_aspect``: the short side scaled to ``size`` and the
    long one with it (to a multiple of 4), for models that pool globally and so take any
    aspect."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InvalidInputError(f"{who} needs uint8 frames (T, H, W, 3), got {frames.shape}")
    h, w = frames.shape[1:3]
    to = (size, size)
    if keep_aspect:
        scale = size / min(h, w)
        to = (max(4, round(h * scale / 4) * 4), max(4, round(w * scale / 4) * 4))
    if (h, w) != to:
        frames = resize_frames(frames, to)
    if len(frames) < length:
        frames = np.concatenate([frames, np.repeat(frames[-1:], length - len(frames), axis=0)])
    return frames


@torch.no_grad()
def run_batched(model: nn.Module, clips: np.ndarray, batch: int = 32) -> dict[str, torch.Tensor]:
    """The model's heads on uint8 clips (N, T, H, W, 3), ``batch`` at a time: {head: (N, n)}."""
    outs = [model(to_input(clips[i : i + batch])) for i in range(0, len(clips), batch)]
    return {k: torch.cat([o[k] for o in outs]).float() for k in outs[0]}


def to_input(frames: torch.Tensor | object) -> torch.Tensor:
    """uint8 frames (B, T, H, W, 3) as numpy or torch -> float (B, 3, T, H, W) in [-1, 1]."""
    x = torch.as_tensor(frames)  # (B, T, H, W, 3)
    return x.permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0  # (B, 3, T, H, W)
