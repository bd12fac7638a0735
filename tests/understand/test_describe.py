from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from kinema.understand.describe import describe, dominant_colours, write_description
from kinema.world.edits import edited_video
from kinema.world.render import render
from kinema.world.scene import sample_scene


def _pan(direction: str, frames: int = 17, side: int = 96, speed: int = 3) -> np.ndarray:
    """A camera moving ``direction`` over a textured random picture."""
    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.integers(0, 256, (300, 300, 3), dtype=np.uint8), (0, 0), 2)
    dx, dy = {"pan left": (-1, 0), "pan right": (1, 0), "tilt up": (0, -1), "tilt down": (0, 1)}[
        direction
    ]
    x0, y0 = 100, 100
    return np.stack([big[y0 + dy * speed * t : y0 + dy * speed * t + side,
                         x0 + dx * speed * t : x0 + dx * speed * t + side] for t in range(frames)])  # fmt: skip


@pytest.mark.parametrize("direction", ["pan left", "pan right", "tilt up", "tilt down"])
def test_camera_direction_of_a_pan(direction: str) -> None:
    shot = describe(_pan(direction), 8.0).shots[0]
    assert shot.camera == direction and shot.label == "dynamic"


def test_objects_moving_on_a_still_background_are_not_a_camera_move() -> None:
    for seed in range(4):
        shot = describe(render(sample_scene(seed, height=96, width=96)), 8.0).shots[0]
        assert shot.camera == "none"


def test_static_dark_and_colours() -> None:
    still = np.repeat(render(sample_scene(1, num_frames=1)), 17, axis=0)
    shot = describe(still, 8.0).shots[0]
    assert shot.label == "static" and shot.motion < 1e-3
    red = np.zeros((5, 32, 32, 3), np.uint8)
    red[..., 0] = 220
    red[:, :8] = 255
    cols = dominant_colours(red, k=2)
    assert [c["name"] for c in cols] == ["red", "white"]
    assert cols[0]["share"] == pytest.approx(0.75, abs=0.01)


def test_summary_text_and_json(tmp_path: Path) -> None:
    frames, cuts = edited_video(np.random.default_rng(1), shots=(2, 2), fade_p=0.0)
    desc = describe(frames, 8.0, "clip.mp4")
    assert len(desc.shots) == 2 and desc.shots[1].shot.start == cuts[0][0]
    text = desc.text()
    assert "2 shots" in text and "shot 2 (cut)" in text and "feature images at" in text
    path = write_description(desc, tmp_path / "d.json")
    data = json.loads(path.read_text())
    assert data["frames"] == len(frames) and len(data["shots"]) == 2 and data["keyframes"]
    assert data["shots"][0]["recognition"] is None  # no recognizer passed
