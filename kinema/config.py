"""Configuration dataclasses. Every field says what it trades off; presets live in one registry.

Model configs (VAE, DiT, training, sampling) join this file with the issues that build them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kinema.world import spec as S


@dataclass
class SynthConfig:
    """A Shapes World dataset written to disk by ``kinema data synth``."""

    count: int = 1000  # clips; more gives a model more scenes, costs ~10 ms and ~3 KB each
    height: int = S.DEFAULT_SIZE  # canvas; multiple of 16 in 32..256, bigger costs quadratically
    width: int = S.DEFAULT_SIZE
    num_frames: int = S.DEFAULT_FRAMES  # 1 + 4k keeps clips aligned with the VAE's 4x time stride
    fps: float = S.DEFAULT_FPS  # playback rate written into the files; motion is per frame
    seed: int = 0  # clip i is drawn from (seed, i): any subset can be regenerated alone
    max_objects: int = 3  # 1..3; more objects make harder scenes and longer captions
    caption_style: str = "train"  # canonical | train (paraphrases, held-out ones excluded) | any
    quality: int = 18  # H.264 CRF; lower is closer to the render and larger on disk


@dataclass
class DataConfig:
    """How a ``VideoDataset`` turns manifest clips into training tensors."""

    manifest: str = (
        "data/shapes/manifest.jsonl"  # jsonl of {path, caption, ...}; paths relative to it
    )
    num_frames: int = S.DEFAULT_FRAMES  # frames per sample when no buckets are given
    height: int = S.DEFAULT_SIZE  # sample size when no buckets are given
    width: int = S.DEFAULT_SIZE
    # (frames, H, W) buckets; each clip goes to the one nearest its aspect ratio that its length
    # allows, and a batch never mixes buckets. Empty: one bucket of the fields above.
    buckets: list[tuple[int, int, int]] = field(default_factory=list)
    frame_stride: int = 1  # take every k-th frame: longer time span per sample, choppier motion
    random_start: bool = True  # random window per epoch (augments) vs always the first frames
    batch_size: int = 8  # clips per step; memory grows linearly
    seed: int = 0  # window choice and batch order are reproducible from (seed, epoch)
