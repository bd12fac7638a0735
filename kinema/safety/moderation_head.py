"""The moderation head: a softmax over MiniLM features of the normalised prompt (linear, or with
one hidden layer), with one class per policy category plus "allowed".

Features (``HeadConfig.pooling``): "mean" is the sentence vector (mean of the token states,
unit length); "mean+max" also takes the element-wise max over the token states (unit length),
the two concatenated and scaled by 1/sqrt(2). The mean blurs one harmful phrase inside a long
harmless sentence; the max keeps the strongest reading of every feature, wherever in the prompt
it is. Measured out of fold on 2,509 hand-written prompts at 2% false refusals (rules included):
recall 76.6% (mean) vs 87.1% (mean+max); min pooling or windowed maxima added nothing.

With ``tune_layers`` the head also holds copies of the text model's top layers
(``EncoderLayer``), retrained with it: it reads the states below them (``TextEncoder.hidden``)
and pools what its own layers make of them. The frozen model was never trained to weigh what a
prompt asks for over what it merely names ("instead of a kitten video, a puppy asleep in a
shoe" read as gore); one retrained layer can. On one fifth of round 18's files, held out, at 2%
false refusals (the head alone): 93.1% recall against 89.9% for the frozen model's features.

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
from torch.nn import functional as F

from kinema.errors import InvalidInputError
from kinema.models.layers import load_module, save_weights
from kinema.models.text import sentence_vector

WEIGHTS_NAME = "moderation_head.safetensors"
CONFIG_NAME = "moderation_head.json"
POOLINGS = ("mean", "mean+max")


def pool(states: torch.Tensor, mask: torch.Tensor, pooling: str = "mean") -> torch.Tensor:
    """Head input [B, D] ("mean") or [B, 2D] ("mean+max") from token states [B, L, D] and
    their mask [B, L] (True = token)."""
    if pooling not in POOLINGS:
        raise InvalidInputError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
    mean = sentence_vector(states, mask)  # [B, D]
    if pooling == "mean":
        return mean
    top = states.masked_fill(~mask[..., None], float("-inf")).amax(1)  # [B, D]
    top = torch.nn.functional.normalize(top, dim=-1)
    return torch.cat([mean, top], dim=-1) / 2**0.5  # [B, 2D], unit length


def features(encoder: Any, texts: list[str], pooling: str = "mean") -> torch.Tensor:
    """Head input [B, D] or [B, 2D] from ``encoder.encode`` token states (cached there)."""
    return pool(*encoder.encode(texts), pooling)


class EncoderLayer(nn.Module):
    """One BERT encoder layer (post-LayerNorm, as all-MiniLM-L6-v2's): ``(x [B, L, D], mask
    [B, L]) -> [B, L, D]``. A head with ``tune_layers`` holds copies of the text model's top
    layers (``from_bert``) and trains them with itself: the frozen model pools "instead of a
    kitten video, a puppy asleep in a shoe" into one vector where the retrained layer can
    weigh what is asked for over what is named."""

    def __init__(self, dim: int, heads: int, ffn: int, eps: float = 1e-12) -> None:
        super().__init__()
        if dim % heads:
            raise InvalidInputError(f"dim {dim} is not a multiple of heads {heads}")
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(dim, eps=eps), nn.LayerNorm(dim, eps=eps)
        self.up, self.down = nn.Linear(dim, ffn), nn.Linear(ffn, dim)

    @torch.no_grad()
    def from_bert(self, layer: nn.Module) -> EncoderLayer:
        """Copy the weights of a transformers ``BertLayer``; returns self."""
        a = layer.attention  # type: ignore[union-attr]
        pairs = [(self.q, a.self.query), (self.k, a.self.key), (self.v, a.self.value),
                 (self.o, a.output.dense), (self.ln1, a.output.LayerNorm),
                 (self.up, layer.intermediate.dense), (self.down, layer.output.dense),  # type: ignore[union-attr]
                 (self.ln2, layer.output.LayerNorm)]  # type: ignore[union-attr]  # fmt: skip
        for mine, theirs in pairs:
            mine.load_state_dict(theirs.state_dict())
        return self

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = (f(x).view(b, n, self.heads, d // self.heads).transpose(1, 2)
                   for f in (self.q, self.k, self.v))  # 3 x [B, H, L, D/H]  # fmt: skip
        a = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask[:, None, None, :]
        )  # [B, H, L, D/H]
        x = self.ln1(x + self.o(a.transpose(1, 2).reshape(b, n, d)))  # [B, L, D]
        return self.ln2(x + self.down(F.gelu(self.up(x))))  # [B, L, D]


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
    # > 0: the head holds copies of the text model's top ``tune_layers`` layers, trained with
    # it, and reads the states below them (``TextEncoder.hidden``); 0: the frozen model's output
    tune_layers: int = 0
    text_dim: int = 384  # the text model's width, heads and feed-forward width (MiniLM-L6)
    text_heads: int = 12
    text_ffn: int = 1536
    threshold: float = 0.5  # refuse when 1 - P(allowed) >= this
    # a batch request's parts (Moderator.segments) count only when the whole prompt's
    # P(harmful) reaches this; 0: always (up to round 26). A lone shot of a benign shot list
    # ("0:04-0:08 diagrams of the reproductive system") reads as harmful out of its scene.
    segment_gate: float = 0.0
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
        if cfg.tune_layers < 0:
            raise InvalidInputError(f"tune_layers must be >= 0, got {cfg.tune_layers}")
        self.top = nn.ModuleList(
            EncoderLayer(cfg.text_dim, cfg.text_heads, cfg.text_ffn) for _ in range(cfg.tune_layers)
        )

    def copy_top(self, encoder: Any) -> ModerationHead:
        """Start ``top`` from the text model's own top layers (before training); returns self."""
        layers = encoder.transformer.encoder.layer
        for mine, theirs in zip(self.top, layers[len(layers) - len(self.top) :], strict=True):
            mine.from_bert(theirs)
        return self

    def read(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Features [B, dim] from the states [B, L, D] the head reads (below ``top``)."""
        for layer in self.top:
            states = layer(states, mask)
        return pool(states, mask, self.cfg.pooling)

    def features(self, encoder: Any, texts: list[str]) -> torch.Tensor:
        """This head's input [B, dim] for ``texts`` (already normalised)."""
        if not self.cfg.tune_layers:
            return features(encoder, texts, self.cfg.pooling)
        with torch.no_grad():
            return self.read(*encoder.hidden(texts, -1 - self.cfg.tune_layers))

    def forward(self, vecs: torch.Tensor) -> torch.Tensor:
        layers = self.mlp if self.cfg.hidden else self.linear
        return layers(vecs * self.cfg.scale)  # logits [B, 1 + K]

    @torch.no_grad()
    def harm(self, vecs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self(vecs.float()).softmax(-1)  # [B, 1 + K]
        return 1.0 - p[:, 0], p[:, 1:].argmax(-1)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``moderation_head.safetensors`` and ``moderation_head.json`` into ``directory``."""
        # with text-model layers, float16 halves the file (7 MB a layer in float32); training
        # rounds the weights it returns the same way, so what loads is what was scored
        dtype = torch.float16 if self.cfg.tune_layers else torch.float32
        return save_weights(self, directory, WEIGHTS_NAME, CONFIG_NAME, dtype)

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None) -> ModerationHead:
        """Load a saved head (default: the one shipped in ``kinema/weights``), in eval mode."""
        from kinema.models.vae import default_weights_dir

        directory = Path(directory) if directory is not None else default_weights_dir()
        return load_module(cls, HeadConfig, directory, WEIGHTS_NAME, CONFIG_NAME,
                           "kinema train moderation --config configs/moderation.yaml")  # fmt: skip
