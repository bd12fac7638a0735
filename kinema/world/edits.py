"""Edited Shapes World videos with known transitions: ground truth for shot detection.

Shots are independent scenes joined by hard cuts or fades through black; each transition's
frame (the first frame of the new shot; for a fade, its black frame) is recorded.
"""

from __future__ import annotations

import numpy as np

from kinema.world.render import render
from kinema.world.scene import sample_scene


def edited_video(
    rng: np.random.Generator,
    shots: tuple[int, int] = (2, 5),
    length: tuple[int, int] = (12, 40),
    size: tuple[int, int] = (64, 64),
    fade_p: float = 0.4,
    fade_frames: int = 4,
) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """(frames uint8 [T, H, W, 3], [(frame where a shot starts, "cut" | "fade"), ...])."""
    n = int(rng.integers(shots[0], shots[1] + 1))
    parts: list[np.ndarray] = []
    cuts: list[tuple[int, str]] = []
    total = 0
    for i in range(n):
        t = int(rng.integers(length[0], length[1] + 1))
        clip = render(sample_scene(rng, height=size[0], width=size[1], num_frames=t))
        clip = clip.astype(np.float32)
        if i > 0:
            kind = "fade" if rng.random() < fade_p else "cut"
            if kind == "fade":  # previous shot fades out, this one fades in from black
                k = fade_frames
                ramp = np.arange(k, dtype=np.float32) / k  # 0, 1/k, ...: frame 0 is black
                clip[:k] *= ramp[:, None, None, None]
                parts[-1][-k:] *= ramp[::-1][:, None, None, None] + 1.0 / k
            cuts.append((total, kind))
        parts.append(clip)
        total += t
    frames = np.concatenate(parts)
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8), cuts
