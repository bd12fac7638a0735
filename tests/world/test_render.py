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


@pytest.mark.parametrize("side", [5, 10, 16, 38])
def test_morph_sprite_runs_from_one_shape_to_the_other(side: int) -> None:
    from kinema.world.render import fill_ratio, morph_sprite, nearest_shape

    for a in S.SHAPES:
        for b in S.SHAPES:
            np.testing.assert_array_equal(morph_sprite(a, b, 0.0, side), sprite(a, side))
            np.testing.assert_array_equal(morph_sprite(a, b, 1.0, side), sprite(b, side))
    # a square rounded towards a circle loses fill monotonically, from 1.0 to the circle's, and
    # the spec reads it as a square until its fill ratio is nearer the circle's 0.785
    fills = [fill_ratio(morph_sprite("square", "circle", x, side)) for x in np.linspace(0, 1, 11)]
    assert fills[0] == 1.0 and all(np.diff(fills) <= 1e-9)
    assert fills[-1] == pytest.approx(sprite("circle", side).mean())
    for x in np.linspace(0, 1, 11):
        m = morph_sprite("square", "circle", x, side)
        assert nearest_shape(m) == ("square" if fill_ratio(m) > (1.0 + 0.785) / 2 else "circle")
    for shape in S.SHAPES:  # the world's own sprites read as themselves
        assert nearest_shape(sprite(shape, side)) == shape


def test_morph_and_render_reject_bad_input() -> None:
    from kinema.errors import InvalidInputError
    from kinema.world.render import morph_sprite

    with pytest.raises(InvalidInputError, match="amount"):
        morph_sprite("square", "circle", 1.5, 10)
    with pytest.raises(InvalidInputError, match="unknown shape"):
        morph_sprite("square", "star", 0.5, 10)
    g = sample_scene(3, num_objects=2, height=32, width=32, num_frames=2)
    with pytest.raises(InvalidInputError, match="2 objects"):
        render(g, [None])
    with pytest.raises(InvalidInputError, match="sprite"):
        render(g, [np.ones((3, 3), dtype=bool), None])


def test_render_draws_given_sprites_in_the_objects_boxes() -> None:
    from kinema.world.render import morph_sprite

    g = sample_scene(5, num_objects=2, height=64, width=64, num_frames=3)
    o = g.objects[0]
    m = morph_sprite(o.shape, "circle" if o.shape != "circle" else "square", 0.5, g.size_px(o))
    f = render(g, [m, None])
    x0, y0, x1, y1 = g.boxes()[0, 1]
    drawn = np.all(f[1, y0:y1, x0:x1] == S.COLORS[o.color], axis=-1)
    np.testing.assert_array_equal(drawn | ~m, np.ones_like(m))  # the mask drawn (may be overdrawn)
    np.testing.assert_array_equal(render(g, [None, None]), render(g))
