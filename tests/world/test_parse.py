from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kinema.errors import InvalidInputError
from kinema.io import Video, read_video, write_video
from kinema.world.parse import classify_motion, classify_pixels, parse_clip
from kinema.world.render import render
from kinema.world.scene import ObjectSpec, SceneSpec, sample_scene


def test_classify_pixels_uses_nearest_palette_colour() -> None:
    f = np.array(
        [[[[0, 0, 0], [250, 250, 250], [120, 130, 125], [225, 50, 45], [45, 200, 215]]]], np.uint8
    )
    assert classify_pixels(f).tolist() == [[[0, 1, 2, 3, 8]]]


def test_reads_ground_truth_exactly() -> None:
    for seed in range(30):
        g = sample_scene(seed, height=48, width=64)
        parsed = parse_clip(render(g))
        assert parsed.background == g.background
        assert set(parsed.spec().objects) == set(g.spec.objects)
        for o in g.objects:
            seen = parsed.get(o.color)
            assert seen is not None and seen.presence == 1.0


def test_reads_through_h264_at_32px(tmp_path: Path) -> None:
    for seed in range(15):
        g = sample_scene(100 + seed, height=32, width=32)
        back = read_video(write_video(Video(render(g)), tmp_path / f"{seed}.mp4")).frames
        read = parse_clip(back).spec()
        assert read.background == g.background
        assert set(read.objects) == set(g.spec.objects), seed


@pytest.mark.parametrize("motion", ["left", "right", "up", "down", "bounce", "still"])
def test_motion_classes_on_long_clip_windows(motion: str) -> None:
    spec = SceneSpec("gray", (ObjectSpec("green", "circle", motion, "small"),))
    g = sample_scene(4, spec=spec, num_frames=200)
    centres = g.centres()[0]
    assert classify_motion(centres[:17], 64, 64) == motion
    if motion in ("bounce", "still"):  # same class in every later window too
        assert all(
            classify_motion(centres[s : s + 17], 64, 64) == motion for s in range(17, 180, 16)
        )


def test_missing_frames_and_bad_input() -> None:
    t = np.arange(17, dtype=float)
    c = np.stack([10 + 2 * t, np.full(17, 30.0)], -1)
    c[3:6] = np.nan  # the object was not found in a few frames
    assert classify_motion(c, 64, 64) == "right"
    assert classify_motion(c[:2], 64, 64) == "still"
    with pytest.raises(InvalidInputError, match=r"\(T, H, W, 3\)"):
        parse_clip(np.zeros((4, 4, 3), np.uint8))
