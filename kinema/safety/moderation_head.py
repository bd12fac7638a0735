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

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from kinema.errors import InvalidInputError

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
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.state_dict().items()},
                  str(directory / WEIGHTS_NAME))  # fmt: skip
        (directory / CONFIG_NAME).write_text(json.dumps(asdict(self.cfg), indent=1))
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None) -> ModerationHead:
        from safetensors.torch import load_file

        from kinema.models.vae import default_weights_dir

        directory = Path(directory) if directory is not None else default_weights_dir()
        cfg_path, w_path = directory / CONFIG_NAME, directory / WEIGHTS_NAME
        if not cfg_path.is_file() or not w_path.is_file():
            raise InvalidInputError(
                f"{directory}: no {CONFIG_NAME} + {WEIGHTS_NAME}; train one with "
                "`kinema train moderation --config configs/moderation.yaml`"
            )
        raw = json.loads(cfg_path.read_text())
        raw["categories"] = tuple(raw["categories"])
        head = cls(HeadConfig(**raw))
        head.load_state_dict(load_file(str(w_path)))
        return head.eval()
