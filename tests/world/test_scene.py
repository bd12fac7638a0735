from __future__ import annotations

import json

import numpy as np
import pytest

from kinema.errors import InvalidInputError
from kinema.world import spec as S
from kinema.world.scene import ObjectSpec, SceneGraph, SceneSpec, sample_scene


def one(
    motion: str, seed: int = 0, h: int = 64, w: int = 64, n: int = 17, size: str = "large"
) -> SceneGraph:
    spec = SceneSpec("black", (ObjectSpec("red", "square", motion, size),))
    return sample_scene(seed, spec=spec, height=h, width=w, num_frames=n)


def test_size_rule() -> None:
    assert S.size_px("small", 64, 64) == 10  # 0.15 * 64 = 9.6
    assert S.size_px("large", 64, 64) == 16
    assert S.size_px("small", 32, 32) == 5
    assert S.size_px("large", 64, 256) == 16  # min(H, W) rules
    assert S.size_px("small", 256, 256) == 38


@pytest.mark.parametrize(("h", "w"), [(24, 64), (64, 40), (272, 64), (64, 0)])
def test_canvas_must_be_multiple_of_16_in_range(h: int, w: int) -> None:
    with pytest.raises(InvalidInputError, match="multiple of 16"):
        sample_scene(0, height=h, width=w)


def test_sampler_is_deterministic_and_varied() -> None:
    a, b = sample_scene(123), sample_scene(123)
    assert a == b
    assert json.dumps(a.to_json()) == json.dumps(b.to_json())
    specs = {sample_scene(s).spec for s in range(60)}
    assert len(specs) > 50
    counts = {len(sample_scene(s).objects) for s in range(60)}
    assert counts == {1, 2, 3}


def test_distinct_colours_and_no_overlap() -> None:
    for seed in range(40):
        g = sample_scene(seed, num_objects=3, height=32, width=32)
        assert len({o.color for o in g.objects}) == 3
        b = g.boxes()
        for i in range(3):
            for j in range(i + 1, 3):
                gap_x = np.maximum(b[i, :, 0] - b[j, :, 2], b[j, :, 0] - b[i, :, 2])
                gap_y = np.maximum(b[i, :, 1] - b[j, :, 3], b[j, :, 1] - b[i, :, 3])
                assert np.all(np.maximum(gap_x, gap_y) >= 1), f"seed {seed} objects touch"


@pytest.mark.parametrize("motion", ["left", "right", "up", "down"])
@pytest.mark.parametrize(("h", "w"), [(64, 64), (32, 32), (48, 96)])
def test_linear_motion_displacement_and_containment(motion: str, h: int, w: int) -> None:
    for seed in range(10):
        g = one(motion, seed, h, w)
        c = g.centres()[0]
        axis, side_len = (0, w) if motion in ("left", "right") else (1, h)
        disp = c[-1, axis] - c[0, axis]
        assert 0.3 * side_len - 1e-9 <= abs(disp) <= 0.6 * side_len + 1e-9
        assert np.sign(disp) == (1 if motion in ("right", "down") else -1)
        other = c[:, 1 - axis]
        assert np.ptp(other) == 0  # straight line
        b = g.boxes()[0]
        assert (
            b[:, 0].min() >= 0 and b[:, 2].max() <= w and b[:, 1].min() >= 0 and b[:, 3].max() <= h
        )


def test_bounce_physics() -> None:
    for seed in range(20):
        g = one("bounce", seed, size="small" if seed % 2 else "large")
        o, c = g.objects[0], g.centres()[0]
        side = g.size_px(o)
        floor = g.height - side / 2
        assert c[0, 1] <= g.height / 2  # drops from the upper half
        assert 0.7 <= o.restitution <= 0.9
        assert o.gravity > 0
        # at least one floor contact in a default clip: the first falls in frames 5..10 and
        # the object is rising again right after it
        first = np.sqrt(2 * (floor - o.y0) / o.gravity)
        assert 5 <= first <= 10
        k = int(np.ceil(first))
        assert c[k + 1, 1] < c[k, 1] < floor
        assert c[:, 1].max() <= floor + 1e-9
        assert np.ptp(c[:, 0]) <= 0.1 * g.width + 1e-9  # horizontal drift


def test_long_bounce_never_rises_above_its_drop_nor_settles() -> None:
    g = one("bounce", 3, n=200)
    y = g.centres()[0, :, 1]
    floor = g.height - g.size_px(g.objects[0]) / 2
    drop = floor - y[0]
    assert y.min() >= y[0] - 1e-9
    assert np.ptp(y[150:]) >= 0.3 * drop  # topped up: apex >= 0.36 of the first drop


def test_still_does_not_move() -> None:
    c = one("still").centres()[0]
    assert np.ptp(c, axis=0).max() == 0


@pytest.mark.parametrize("motion", ["left", "right", "up", "down", "bounce"])
def test_long_clips_reflect_and_stay_in_frame(motion: str) -> None:
    g = one(motion, 1, 64, 96, n=481)
    b = g.boxes()[0]
    assert b[:, 0].min() >= 0 and b[:, 2].max() <= 96 and b[:, 1].min() >= 0 and b[:, 3].max() <= 64
    c = g.centres()[0]
    if motion in ("left", "right"):
        assert np.any(np.diff(c[:, 0]) > 0) and np.any(np.diff(c[:, 0]) < 0)  # reflected


def test_json_has_per_frame_ground_truth_and_round_trips() -> None:
    g = sample_scene(5, num_objects=2, num_frames=9)
    d = json.loads(json.dumps(g.to_json()))
    assert d["height"] == 64 and d["num_frames"] == 9
    for o in d["objects"]:
        assert len(o["centers"]) == 9 and len(o["bboxes"]) == 9
        x0, y0, x1, y1 = o["bboxes"][0]
        assert x1 - x0 == o["size_px"] == y1 - y0
    assert SceneGraph.from_json(d) == g


def test_object_count_validation() -> None:
    with pytest.raises(InvalidInputError, match="1 to 3 objects"):
        sample_scene(0, max_objects=4)
    with pytest.raises(InvalidInputError, match="1 to 3 objects"):
        sample_scene(0, num_objects=0)
    assert {len(sample_scene(s, max_objects=1).objects) for s in range(10)} == {1}


def test_spec_validation() -> None:
    with pytest.raises(InvalidInputError, match="unknown colour 'pink'"):
        ObjectSpec("pink", "circle", "left")
    with pytest.raises(InvalidInputError, match="distinct colours"):
        SceneSpec("black", (ObjectSpec("red", "circle", "left"), ObjectSpec("red", "square", "up")))
    with pytest.raises(InvalidInputError, match="1 to 3 objects"):
        SceneSpec("black", ())
    with pytest.raises(InvalidInputError, match="not a Shapes World scene graph"):
        SceneGraph.from_json({"background": "black"})
