"""Generated-video detector: tells video made by Kinema's generator from real footage.

For when the watermark was stripped (or never added): a small ``VideoClassifier`` trained on
the generator's own outputs (unwatermarked) against rendered Shapes World clips and VAE round
trips of them, so it cannot tell the classes apart by codec or VAE texture alone. Shipped as
``kinema/weights/detector.safetensors`` with its recipe, log and the threshold that gave 1%
false positives on its validation split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from kinema.models.classifier import VideoClassifier, fit_clip, run_batched

PREFIX = "detector"
THRESHOLD_NAME = "detector_threshold.json"
CLIP_FRAMES = 17
CLIP_SIZE = 64


@dataclass(frozen=True)
class DetectorVerdict:
    generated: bool
    probability: float  # the detector's P(generated), averaged over 17-frame windows
    threshold: float

    def to_json(self) -> dict[str, object]:
        return {"generated": self.generated, "probability": round(self.probability, 4),
                "threshold": self.threshold}  # fmt: skip


def clips_for(frames: np.ndarray, max_windows: int = 4) -> np.ndarray:
    """uint8 (T, H, W, 3) -> (n, 17, 64, 64, 3): centre-cropped/resized, up to ``max_windows``
    evenly spaced 17-frame windows (short videos repeat their last frame)."""
    frames = fit_clip(frames, CLIP_FRAMES, CLIP_SIZE, "the detector")
    t = len(frames)
    starts = np.unique(np.linspace(0, t - CLIP_FRAMES, min(max_windows, t - CLIP_FRAMES + 1)))
    return np.stack([frames[int(s) : int(s) + CLIP_FRAMES] for s in starts])


class GeneratedDetector:
    """``detector(frames) -> DetectorVerdict``; load once, call from many threads."""

    def __init__(self, model: VideoClassifier, threshold: float = 0.5) -> None:
        self.model = model.eval()
        self.threshold = threshold

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None) -> GeneratedDetector:
        from kinema.models.vae import default_weights_dir

        directory = Path(directory) if directory is not None else default_weights_dir()
        model = VideoClassifier.from_pretrained(directory, PREFIX)
        thr = directory / THRESHOLD_NAME
        threshold = json.loads(thr.read_text())["threshold"] if thr.is_file() else 0.5
        return cls(model, threshold)

    def probabilities(self, clips: np.ndarray) -> np.ndarray:
        """P(generated) for uint8 clips (B, 17, 64, 64, 3)."""
        return torch.sigmoid(run_batched(self.model, clips)["generated"][:, 0]).numpy()

    def __call__(self, frames: np.ndarray) -> DetectorVerdict:
        p = float(self.probabilities(clips_for(frames)).mean())
        return DetectorVerdict(p > self.threshold, p, self.threshold)
