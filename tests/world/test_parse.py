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


def test_classify_pixels_is_the_plain_nearest_colour_ties_included() -> None:
    from kinema.world import spec as S

    def plain(frames: np.ndarray) -> np.ndarray:
        d = ((frames.astype(np.int32)[..., None, :] - S.PALETTE_RGB.astype(np.int32)) ** 2).sum(-1)
        return d.argmin(-1)

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    p = S.PALETTE_RGB.astype(np.int64)
    # midpoints of every pair of palette colours: pixels as near to one as to the other
    mids = ((p[:, None] + p[None]) // 2).reshape(1, 9, 9, 3).astype(np.uint8)
    for frames in (noise, mids, render(sample_scene(3))):
        assert np.array_equal(classify_pixels(frames), plain(frames))


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


def _squares_crossing(hidden: range, speckle: bool = False) -> np.ndarray:
    """17 frames on black: a large blue square sliding right, half hidden in frames ``hidden``
    under a large red square drawn over it (the world draws later objects over earlier ones)."""
    from kinema.world import spec as S

    side = S.size_px("large", 64, 64)
    blue, red = (S.PALETTE_RGB[S.PALETTE_NAMES.index(c)] for c in ("blue", "red"))
    frames = np.zeros((17, 64, 64, 3), np.uint8)
    for k in range(17):
        x = 4 + 2 * k
        frames[k, 20 : 20 + side, x : x + side] = blue
        if k in hidden:  # the red square covers the blue one's right half
            frames[k, 16 : 16 + side, x + side // 2 : x + side // 2 + side] = red
        else:  # elsewhere it sits clear of it, lower down
            frames[k, 46 : 46 + side, 40 : 40 + side] = red
        if speckle:  # a few stray pixels of a third colour beside the blue one, as edges leave
            frames[k, 20, x + side + 1] = S.PALETTE_RGB[S.PALETTE_NAMES.index("cyan")]
    return frames


def test_a_partly_hidden_object_is_read_from_the_frames_it_is_seen_whole() -> None:
    frames = _squares_crossing(hidden=range(2, 14), speckle=True)  # hidden in 12 of 17 frames
    read = parse_clip(frames)
    blue = read.get("blue")
    assert blue is not None and blue.presence == 1.0
    assert blue.whole == pytest.approx(5 / 17)  # stray pixels are not an object over it
    assert (blue.shape, blue.size) == ("square", "large")
    assert blue.fill_ratio == pytest.approx(1.0, abs=0.05)
    # read over every frame, the hidden half would have made it a triangle
    hidden = parse_clip(frames[2:14]).get("blue")
    assert hidden is not None and hidden.whole == 0.0  # no whole frame: every frame counts
    assert hidden.shape == "triangle" and 0.45 < hidden.fill_ratio < 0.685
    red = read.get("red")
    assert red is not None and red.shape == "square"  # drawn over: whole where it is on top
