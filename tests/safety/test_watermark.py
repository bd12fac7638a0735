from __future__ import annotations

import cv2
import numpy as np
import pytest

from kinema.errors import InvalidInputError
from kinema.io.video import Video, read_video, write_video
from kinema.safety.watermark import (
    DEFAULT_KEY,
    WatermarkConfig,
    detect,
    embed,
    pattern,
    visible_mark,
)
from kinema.world.render import render
from kinema.world.scene import SceneSpec, sample_scene


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(np.float64) - b) ** 2)))


def _clip(background: str, seed: int = 3, size: tuple[int, int] = (64, 64)) -> np.ndarray:
    spec = sample_scene(seed).spec
    graph = sample_scene(seed, spec=SceneSpec(background, spec.objects), height=size[0],
                         width=size[1])  # fmt: skip
    return render(graph)


def test_pattern_is_keyed_zero_mean_unit_rms_and_band_limited() -> None:
    cfg = WatermarkConfig()
    a, b = pattern("key one"), pattern("key two")
    assert np.array_equal(a, pattern("key one"))  # the key fixes the pattern
    assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.3  # different keys: unrelated (~4 sd)
    assert a.shape == (cfg.tile, cfg.tile)
    assert abs(a.mean()) < 1e-9 and abs(a.std() - 1) < 1e-9
    f = np.fft.fftfreq(cfg.tile)
    radius = np.hypot(f[:, None], f[None, :])
    power = np.abs(np.fft.fft2(a)) ** 2
    outside = (radius < 1 / cfg.max_period) | (radius > 1 / cfg.min_period)
    assert power[outside].sum() < 1e-9 * power.sum()
    with pytest.raises(InvalidInputError):
        pattern("")


@pytest.mark.parametrize("background", ["black", "gray", "white"])
def test_embedding_costs_the_configured_psnr_and_is_detected(background: str) -> None:
    clean = _clip(background)
    marked = embed(clean)
    assert marked.dtype == np.uint8 and marked.shape == clean.shape
    assert _psnr(marked, clean) == pytest.approx(WatermarkConfig().psnr, abs=0.3)
    assert detect(marked).detected
    assert not detect(clean).detected
    assert not detect(marked, key="someone else's key").detected


def test_detection_survives_the_attacks_kinema_promises(tmp_path) -> None:
    marked = embed(_clip("black", seed=11))
    path = write_video(Video(marked), tmp_path / "m.mp4", quality=28)
    reencoded = read_video(path).frames
    assert detect(reencoded).detected
    t, h, w, _ = marked.shape
    up = np.stack([cv2.resize(f, (2 * w, 2 * h), interpolation=cv2.INTER_LINEAR) for f in marked])
    found = detect(up)
    assert found.detected and found.scale == 2.0
    crop = marked[:, 3 : 3 + 58, 5 : 5 + 57]  # 10% off, at an offset that breaks the tile grid
    assert detect(crop).detected
    assert detect(marked[: t // 2]).detected


def test_detect_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError):
        detect(np.zeros((4, 16, 16, 3), np.uint8))  # smaller than one tile
    with pytest.raises(InvalidInputError):
        embed(np.zeros((4, 64, 64, 3), np.float32))


def test_visible_mark_only_touches_the_corner() -> None:
    clean = _clip("gray")
    tagged = visible_mark(clean)
    diff = np.any(tagged != clean, axis=(0, 3))  # (H, W)
    ys, xs = np.nonzero(diff)
    assert len(ys) > 20  # something was drawn
    assert ys.min() >= 64 // 2 and xs.min() >= 64 // 2  # ... in the bottom-right quarter
    assert np.array_equal(tagged[:, :32], clean[:, :32])
    assert DEFAULT_KEY  # the default key is public and fixed
