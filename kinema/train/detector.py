"""Training the generated-video detector: build the clip cache once, then a binary classifier.

Positives are the generator's own clips (safety off, so no watermark to lean on); negatives
are rendered Shapes World clips, half of them round-tripped through the same VAE, so both
classes carry VAE texture. A share of both is re-encoded with H.264 at a random crf.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from kinema.config import DetectorRecipe
from kinema.errors import InvalidInputError
from kinema.io.video import Video, read_video, write_video
from kinema.models.classifier import VideoClassifier, run_batched, to_input
from kinema.safety.detector import PREFIX, THRESHOLD_NAME
from kinema.train.trainer import ship_run_files
from kinema.world.captions import caption
from kinema.world.render import render
from kinema.world.scene import sample_scene

CACHE_NAME = "detector_data.npz"


def reencode(frames: np.ndarray, crf: int, folder: Path) -> np.ndarray:
    path = write_video(Video(frames), folder / "c.mp4", overwrite=True, quality=crf)
    return read_video(path).frames


def make_clips(
    n_generated: int,
    n_real: int,
    seed: int,
    weights: str | Path | None = None,
    frames: int = 17,
    size: int = 64,
    codec_p: float = 0.5,
    crf: tuple[int, int] = (18, 30),
    style: str = "train",
    on_clip=None,
    candidates: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """(clips uint8 [N, T, H, W, 3], labels float [N]: 1 = generated), in a seeded order.
    ``candidates``: the generated clips are the pipeline's best of that many (1: the DiT's own
    samples, what the shipped detector was trained on). Every prompt is made in one pass
    (``compose=False``): the recipe's clips stay what they were before the pipeline had a
    composer, and a composed clip is the DiT's one-object clips laid together."""
    from kinema.pipelines import Pipeline

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # safety off on purpose: the detector must not see marks
        pipe = Pipeline.from_pretrained(weights or None, safety=False)
    rng = np.random.default_rng(seed)
    clips, labels = [], []
    for i in range(0, n_generated, 8):
        prompts = [caption(sample_scene(rng, max_objects=2).spec, rng, style)  # type: ignore[arg-type]
                   for _ in range(min(8, n_generated - i))]  # fmt: skip
        videos = pipe(prompts, num_frames=frames, height=size, width=size, seed=seed * 7919 + i,
                      candidates=candidates, compose=False)  # fmt: skip
        clips.extend(v.frames for v in videos)
        labels.extend([1.0] * len(videos))
        if on_clip:
            on_clip(len(videos))
    for i in range(n_real):
        g = sample_scene(rng, height=size, width=size, num_frames=frames)
        clip = render(g)
        if i % 2:  # a VAE round trip: real content, the generator's decoder texture
            clip = pipe.decode(pipe.encode(clip[None]))[0]
        clips.append(clip)
        labels.append(0.0)
        if on_clip:
            on_clip(1)
    with tempfile.TemporaryDirectory() as d:
        for i in range(len(clips)):
            if rng.random() < codec_p:
                clips[i] = reencode(clips[i], int(rng.integers(crf[0], crf[1] + 1)), Path(d))
    return np.stack(clips), np.array(labels, dtype=np.float32)


def load_or_build(recipe: DetectorRecipe, out: Path, on_clip=None) -> dict[str, np.ndarray]:
    path = out / CACHE_NAME
    if path.is_file():
        data = np.load(path)
        return {k: data[k] for k in data.files}
    d = recipe.data
    clips, labels = make_clips(d.generated, d.real, d.seed, d.weights, d.frames, d.size,
                               d.codec_p, d.crf, on_clip=on_clip)  # fmt: skip
    order = np.random.default_rng(d.seed + 1).permutation(len(clips))
    n_val = round(len(clips) * recipe.val_fraction)
    split = np.zeros(len(clips), dtype=bool)
    split[order[:n_val]] = True  # True = validation
    out.mkdir(parents=True, exist_ok=True)
    np.savez(path, clips=clips, labels=labels, val=split)
    return {"clips": clips, "labels": labels, "val": split}


def roc(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """ROC AUC (rank formula, ties averaged) and the true-positive rate at 1% false positives,
    with the threshold that gives it."""
    from scipy.stats import rankdata

    pos, neg = scores[labels > 0.5], scores[labels <= 0.5]
    if len(pos) == 0 or len(neg) == 0:
        raise InvalidInputError("ROC needs both generated and real clips")
    ranks = rankdata(np.concatenate([pos, neg]))
    auc = (ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))
    thr = float(np.quantile(neg, 0.99, method="higher"))  # at most 1% of real clips above
    return {"auc": float(auc), "tpr_at_1fpr": float(np.mean(pos > thr)), "threshold": thr}


class DetectorTask:
    """Batches, loss and evaluation for ``kinema.train.trainer.train``."""

    def __init__(self, recipe: DetectorRecipe, data: dict[str, np.ndarray]) -> None:
        self.recipe = recipe
        self.cfg = recipe.train
        self.clips, self.labels = data["clips"], data["labels"]
        self.train_idx = np.flatnonzero(~data["val"])
        self.val_idx = np.flatnonzero(data["val"])

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.cfg.seed, step, 3])
        idx = rng.choice(self.train_idx, size=self.cfg.batch_size)
        x = self.clips[idx]  # (B, T, H, W, 3)
        flip = rng.random(len(idx)) < 0.5
        x = np.where(flip[:, None, None, None, None], x[:, :, :, ::-1], x)  # mirror left-right
        return to_input(np.ascontiguousarray(x)), torch.from_numpy(self.labels[idx])

    def loss(
        self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], step: int
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y = batch
        logits = model(x)["generated"][:, 0]  # (B,)
        loss = F.binary_cross_entropy_with_logits(logits.float(), y)
        acc = ((logits > 0).float() == y).float().mean().detach()  # read at logged steps
        return loss, {"acc": acc}

    def scores(self, model: nn.Module, idx: np.ndarray) -> np.ndarray:
        """Logits of clips ``idx`` (the model is put in eval mode; the trainer restores it)."""
        model.eval()
        return run_batched(model, self.clips[idx], batch=64)["generated"][:, 0].numpy()

    def evaluate(self, model: nn.Module, step: int, out: Path) -> dict[str, float]:
        r = roc(self.scores(model, self.val_idx), self.labels[self.val_idx])
        return {"val_auc": r["auc"], "val_tpr_at_1fpr": r["tpr_at_1fpr"]}


def new_detector(recipe: DetectorRecipe, init: str | Path | None = None) -> VideoClassifier:
    """A fresh detector, or (``--init``) one holding a saved detector's weights, to train on
    a newer generator's clips from where the last one left off; same shape as the recipe's."""
    torch.manual_seed(recipe.train.seed)
    model = VideoClassifier(recipe.model)
    if init is not None:
        start = VideoClassifier.from_pretrained(init, PREFIX)
        if start.cfg != recipe.model:
            raise InvalidInputError(f"{init}: its detector is configured unlike the recipe's model")
        model.load_state_dict(start.state_dict())
    return model


def export(
    ema: VideoClassifier,
    task: DetectorTask,
    recipe_path: str | Path,
    run_dir: str | Path,
    weights_dir: str | Path,
    command: str,
) -> Path:
    """Write the EMA detector (fp16), its validation threshold, recipe, log and command."""
    weights_dir = Path(weights_dir)
    ema.save_pretrained(weights_dir, PREFIX)
    logits = task.scores(ema, task.val_idx)
    r = roc(logits, task.labels[task.val_idx])
    prob_thr = float(1 / (1 + np.exp(-r["threshold"])))
    summary = {"threshold": prob_thr, "val_auc": r["auc"], "val_tpr_at_1fpr": r["tpr_at_1fpr"],
               "val_clips": len(task.val_idx)}  # fmt: skip
    (weights_dir / THRESHOLD_NAME).write_text(json.dumps(summary, indent=1))
    ship_run_files(PREFIX, recipe_path, run_dir, weights_dir, command)
    return weights_dir
