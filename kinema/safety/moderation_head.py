"""The moderation head: a softmax over MiniLM features of the normalised prompt (linear, or with
one hidden layer), with one class per policy category plus "allowed".

Features (``HeadConfig.pooling``): "mean" is the sentence vector (mean of the token states,
unit length); "mean+max" also takes the element-wise max over the token states (unit length),
the two concatenated and scaled by 1/sqrt(2). The mean blurs one harmful phrase inside a long
harmless sentence; the max keeps the strongest reading of every feature, wherever in the prompt
it is. Measured out of fold on 2,509 hand-written prompts at 2% false refusals (rules included):
recall 76.6% (mean) vs 87.1% (mean+max); min pooling or windowed maxima added nothing.

Rules catch the phrasings someone wrote down; nearest-example similarity catches prompts close
to one example. The head learns the boundary from many labelled prompts instead, so it also
reads a prompt that is near no single example ("a cat being skinned alive") and it learns which
words do not make a prompt harmful (a teenager playing the violin). It refuses when
``1 - P(allowed) >= threshold``; the category is the likeliest harmful class. The threshold is
picked by ``kinema train moderation`` on out-of-fold predictions, at a target false-refusal
rate, and saved with the weights (``moderation_head.safetensors`` + ``moderation_head.json``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kinema.errors import InvalidInputError
from kinema.models.layers import load_module, save_weights

WEIGHTS_NAME = "moderation_head.safetensors"
CONFIG_NAME = "moderation_head.json"
POOLINGS = ("mean", "mean+max")


def features(encoder: Any, texts: list[str], pooling: str = "mean") -> torch.Tensor:
    """Head input [B, D] ("mean") or [B, 2D] ("mean+max") from ``encoder.encode`` token states."""
    if pooling not in POOLINGS:
        raise InvalidInputError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    mean = encoder.pooled(texts)  # [B, D], the sentence vector
    if pooling == "mean":
        return mean
    states, mask = encoder.encode(texts)  # [B, L, D], [B, L]; cached by the encoder
    top = states.masked_fill(~mask[..., None], float("-inf")).amax(1)  # [B, D]
    top = torch.nn.functional.normalize(top, dim=-1)
    return torch.cat([mean, top], dim=-1) / 2**0.5  # [B, 2D], unit length


@dataclass
class HeadConfig:
    categories: tuple[str, ...]  # policy category names, in class order after "allowed"
    dim: int = 384  # feature size: the sentence vector's (all-MiniLM-L6-v2: 384), x2 for mean+max
    pooling: str = "mean"  # "mean" | "mean+max" (see the module docstring)
    scale: float = 8.0  # unit vectors times this, so weight decay leaves useful logit sizes
    # 0: a linear softmax (up to round 16); > 0: one hidden GELU layer of this width first.
    # Out of fold on round 16's data at 2% false refusals: 89.9% recall linear, 91.3% with 512.
    hidden: int = 0
    dropout: float = 0.2  # on the hidden layer, in training only
    threshold: float = 0.5  # refuse when 1 - P(allowed) >= this
    text_model: str = ""  # the sentence encoder the head was trained on ("" = the default)
    stats: dict = field(default_factory=dict)  # out-of-fold recall / false refusals at threshold


class ModerationHead(nn.Module):
    """``harm(feats) -> (P(harmful) [B], category index [B])`` for ``features`` [B, dim]."""

    def __init__(self, cfg: HeadConfig) -> None:
        super().__init__()
        if cfg.pooling not in POOLINGS:
            raise InvalidInputError(f"pooling must be one of {POOLINGS}, got {cfg.pooling!r}")
        self.cfg = cfg
        if cfg.hidden < 0:
            raise InvalidInputError(f"hidden must be >= 0, got {cfg.hidden}")
        classes = 1 + len(cfg.categories)
        if cfg.hidden:
            self.mlp = nn.Sequential(
                nn.Linear(cfg.dim, cfg.hidden),
                nn.GELU(),
                nn.Dropout(cfg.dropout),
                nn.Linear(cfg.hidden, classes),
            )
        else:
            self.linear = nn.Linear(cfg.dim, classes)

    def features(self, encoder: Any, texts: list[str]) -> torch.Tensor:
        """This head's input [B, dim] for ``texts`` (already normalised)."""
        return features(encoder, texts, self.cfg.pooling)

    def forward(self, vecs: torch.Tensor) -> torch.Tensor:
        layers = self.mlp if self.cfg.hidden else self.linear
        return layers(vecs * self.cfg.scale)  # logits [B, 1 + K]

    @torch.no_grad()
    def harm(self, vecs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self(vecs.float()).softmax(-1)  # [B, 1 + K]
        return 1.0 - p[:, 0], p[:, 1:].argmax(-1)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``moderation_head.safetensors`` and ``moderation_head.json`` into ``directory``."""
        return save_weights(self, directory, WEIGHTS_NAME, CONFIG_NAME, torch.float32)

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None) -> ModerationHead:
        """Load a saved head (default: the one shipped in ``kinema/weights``), in eval mode."""
        from kinema.models.vae import default_weights_dir

        directory = Path(directory) if directory is not None else default_weights_dir()
        return load_module(cls, HeadConfig, directory, WEIGHTS_NAME, CONFIG_NAME,
                           "kinema train moderation --config configs/moderation.yaml")  # fmt: skip
