"""Training the Shapes World recognizer on freshly rendered clips (labels from the scene graph)."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kinema.config import RecognizerRecipe
from kinema.models.classifier import run_batched, to_input
from kinema.train.detector import reencode
from kinema.train.trainer import ship_run_files
from kinema.understand.recognize import PREFIX, SLOT, SlotRecognizer, split_heads, targets
from kinema.world import spec as S
from kinema.world.render import morph_sprite, nearest_shape, render
from kinema.world.scene import SceneGraph, sample_scene


def morphed(graph: SceneGraph, rng: np.random.Generator, p: float) -> tuple[np.ndarray, SceneGraph]:
    """Render ``graph`` with each object, with probability ``p``, drawn part way (uniform
    amount) to another shape; the returned graph labels each such object with the shape the
    spec reads in its mask (``nearest_shape``), so a square rounded past the midpoint is a
    circle. Sizes, colours and motions are the graph's."""
    sprites: list[np.ndarray | None] = []
    objects = []
    for o in graph.objects:
        if rng.random() < p:
            toward = str(rng.choice([k for k in S.SHAPES if k != o.shape]))
            mask = morph_sprite(o.shape, toward, float(rng.random()), graph.size_px(o))
            sprites.append(mask)
            objects.append(dataclasses.replace(o, shape=nearest_shape(mask)))
        else:
            sprites.append(None)
            objects.append(o)
    return render(graph, sprites), dataclasses.replace(graph, objects=tuple(objects), _cache={})


def clips(
    seed: int | list[int], n: int, recipe: RecognizerRecipe, morph: float = 0.0
) -> tuple[np.ndarray, list[SceneGraph]]:
    """n rendered clips and their (label) graphs; ``morph``: ``morphed``'s p."""
    d = recipe.data
    rng = np.random.default_rng(seed)
    graphs = [sample_scene(rng, height=d.size, width=d.size, num_frames=d.frames,
                           max_objects=d.max_objects) for _ in range(n)]  # fmt: skip
    if morph <= 0:
        return np.stack([render(g) for g in graphs]), graphs
    drawn = [morphed(g, rng, morph) for g in graphs]
    return np.stack([x for x, _ in drawn]), [g for _, g in drawn]


def recognizer_loss(
    out: dict[str, torch.Tensor], y: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, dict[str, float]]:
    """Background CE + presence BCE + shape/size/motion CE on the colours that are present."""
    h = split_heads({k: v.float() for k, v in out.items()})
    loss = F.cross_entropy(h["background"], y["background"])
    loss = loss + F.binary_cross_entropy_with_logits(h["present"], y["present"])
    logs = {}
    for k in ("shape", "size", "motion"):
        mask = y[k] >= 0  # (B, 6)
        part = F.cross_entropy(h[k][mask], y[k][mask])
        loss = loss + part
        logs[f"acc_{k}"] = float((h[k][mask].argmax(-1) == y[k][mask]).float().mean())
    return loss, logs


class RecognizerTask:
    def __init__(self, recipe: RecognizerRecipe) -> None:
        self.recipe = recipe
        self.cfg = recipe.train
        self.val, self.val_graphs = clips(recipe.data.val_seed, recipe.data.val_clips, recipe)
        # with shape_morph_p: held-out clips with every object morphed, labelled as the spec reads
        self.val_morph = (clips(recipe.data.val_seed + 1, recipe.data.val_clips, recipe, 1.0)
                          if recipe.data.shape_morph_p > 0 else None)  # fmt: skip

    def batch(self, step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, graphs = clips([self.cfg.seed, step, 5], self.cfg.batch_size, self.recipe,
                          self.recipe.data.shape_morph_p)  # fmt: skip
        d = self.recipe.data
        rng = np.random.default_rng([self.cfg.seed, step, 6])
        recode = rng.random(len(x)) < d.codec_p
        crfs = rng.integers(d.crf[0], d.crf[1] + 1, len(x))
        if recode.any():
            with tempfile.TemporaryDirectory() as tmp:
                for i in np.flatnonzero(recode):
                    x[i] = reencode(x[i], int(crfs[i]), Path(tmp))
        return to_input(x), targets(graphs)

    def loss(self, model: nn.Module, batch, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        x, y = batch
        return recognizer_loss(model(x), y)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, step: int, out: Path) -> dict[str, float]:
        model.eval()
        y = targets(self.val_graphs)
        h = split_heads(run_batched(model, self.val, batch=64))
        present = (h["present"] > 0).float()
        res = {"val_background": float((h["background"].argmax(-1) == y["background"]).float().mean()),
               "val_count": float((present.sum(1) == y["present"].sum(1)).float().mean())}  # fmt: skip
        exact = (present == y["present"]).all(1)
        for k in ("shape", "size", "motion"):
            mask = y[k] >= 0
            right = (h[k].argmax(-1) == y[k]) | ~mask  # (B, 6)
            res[f"val_{k}"] = float(right[mask].float().mean()) if mask.any() else 0.0
            exact &= right.all(1)
        res["val_exact"] = float(exact.float().mean())
        if self.val_morph is not None:
            x, graphs = self.val_morph
            y = targets(graphs)
            h = split_heads(run_batched(model, x, batch=64))
            mask = y["shape"] >= 0
            res["val_morph_shape"] = float(
                (h["shape"].argmax(-1) == y["shape"])[mask].float().mean()
            )
        return res


def new_recognizer(recipe: RecognizerRecipe) -> SlotRecognizer:
    torch.manual_seed(recipe.train.seed)
    recipe.model = dataclasses.replace(recipe.model, in_channels=1, heads={"slot": SLOT})
    return SlotRecognizer(recipe.model)


def export(ema: SlotRecognizer, recipe_path: str | Path, run_dir: str | Path,
           weights_dir: str | Path, command: str) -> Path:  # fmt: skip
    """Write the EMA recognizer (fp16), recipe, log and command to ``weights_dir``."""
    weights_dir = Path(weights_dir)
    ema.save_pretrained(weights_dir, PREFIX)
    ship_run_files(PREFIX, recipe_path, run_dir, weights_dir, command)
    return weights_dir
