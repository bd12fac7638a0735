from __future__ import annotations

import numpy as np
import pytest

from kinema.io.video import Video
from kinema.world.render import render
from kinema.world.scene import sample_scene


@pytest.fixture
def clip() -> Video:
    """A 17-frame 64x64 Shapes World clip with two objects (seeded)."""
    return Video(render(sample_scene(7, num_objects=2)), fps=8.0)


@pytest.fixture
def gradient() -> Video:
    """A smooth moving gradient: codec-friendly content for lossy round trips."""
    t, h, w = 9, 48, 64
    yy, xx = np.mgrid[0:h, 0:w]
    frames = np.stack(
        [
            np.stack([(xx * 4 + k * 8) % 256, (yy * 5) % 256, np.full_like(xx, 40 + k * 10)], -1)
            for k in range(t)
        ]
    ).astype(np.uint8)
    return Video(frames, fps=12.0)
