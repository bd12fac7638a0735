from __future__ import annotations

import numpy as np
import pytest

from kinema.world import spec as S
from kinema.world.render import render, sprite
from kinema.world.scene import ObjectSpec, SceneSpec, sample_scene


def test_spec_palette_is_exact() -> None:
    assert S.COLORS["red"] == (230, 40, 40)
    assert S.COLORS["cyan"] == (40, 210, 220)
    assert S.BACKGROUNDS["gray"] == (128, 128, 128)


@pytest.mark.parametrize("side", [5, 8, 10, 16, 38, 64])
def test_sprites_fill_their_box_with_the_spec_fill_ratio(side: int) -> None:
    for shape, target, tol in (
        ("square", 1.0, 0.0),
        ("circle", np.pi / 4, 0.06),
        ("triangle", 0.5, 0.04),
    ):
        m = sprite(shape, side)
        ys, xs = np.nonzero(m)
        assert (np.ptp(xs) + 1, np.ptp(ys) + 1) == (side, side), shape  # box is side x side
        assert abs(m.mean() - target) <= tol, (shape, m.mean())
    tri = sprite("triangle", side)
    widths = tri.sum(1)
    assert np.all(np.diff(widths) >= 0) and widths[0] <= 2  # points up, base at the bottom
    np.testing.assert_array_equal(tri, tri[:, ::-1])  # symmetric


def test_render_uses_only_palette_colours_and_exact_boxes() -> None:
    g = sample_scene(11, num_objects=3, height=48, width=96, num_frames=5)
    f = render(g)
    assert f.shape == (5, 48, 96, 3) and f.dtype == np.uint8
    colours = {tuple(c) for c in f.reshape(-1, 3)}
    assert colours == {S.BACKGROUNDS[g.background], *(S.COLORS[o.color] for o in g.objects)}
    for o, boxes in zip(g.objects, g.boxes(), strict=True):
        for k in range(5):
            x0, y0, x1, y1 = boxes[k]
            m = np.all(f[k] == S.COLORS[o.color], axis=-1)
            ys, xs = np.nonzero(m)
            assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == (x0, y0, x1, y1)
            np.testing.assert_array_equal(m[y0:y1, x0:x1], sprite(o.shape, g.size_px(o)))


def test_render_background_and_any_length() -> None:
    spec = SceneSpec("white", (ObjectSpec("blue", "circle", "right", "small"),))
    g = sample_scene(0, spec=spec, height=32, width=32, num_frames=3)
    f = render(g)
    assert f.shape == (3, 32, 32, 3)
    assert tuple(f[0, 0, 0]) == (255, 255, 255)
    assert render(g.with_length(1)).shape == (1, 32, 32, 3)
