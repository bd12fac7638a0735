"""The moderation head: a linear softmax over MiniLM sentence vectors of the normalised prompt,
with one class per policy category plus "allowed".

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

import torch
from torch import nn

from kinema.models.layers import load_module, save_weights

WEIGHTS_NAME = "moderation_head.safetensors"
CONFIG_NAME = "moderation_head.json"


@dataclass
class HeadConfig:
    categories: tuple[str, ...]  # policy category names, in class order after "allowed"
    dim: int = 384  # sentence vector size (all-MiniLM-L6-v2)
    scale: float = 8.0  # unit vectors times this, so weight decay leaves useful logit sizes
    threshold: float = 0.5  # refuse when 1 - P(allowed) >= this
    text_model: str = ""  # the sentence encoder the head was trained on ("" = the default)
    stats: dict = field(default_factory=dict)  # out-of-fold recall / false refusals at threshold


class ModerationHead(nn.Module):
    """``harm(vecs) -> (P(harmful) [B], category index [B])`` for unit sentence vectors [B, D]."""

    def __init__(self, cfg: HeadConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.linear = nn.Linear(cfg.dim, 1 + len(cfg.categories))

    def forward(self, vecs: torch.Tensor) -> torch.Tensor:
        return self.linear(vecs * self.cfg.scale)  # logits [B, 1 + K]

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
