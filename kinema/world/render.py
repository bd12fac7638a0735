"""Rasterise a scene graph into uint8 frames, exactly as the spec draws them.

Each (shape, side) is one fixed sprite: a pixel belongs to the shape when its centre lies
inside the ideal shape in a side x side box. The sprite is pasted at the whole-pixel box
nearest the object's physical centre (``SceneGraph.boxes``), so an object looks the same in
every frame and at every position: a square is always exactly side x side pixels and a small
triangle never changes its fill ratio with sub-pixel phase. Colours are flat palette colours
with hard edges (no anti-aliasing).
"""

from __future__ import annotations

from functools import cache

import numpy as np

from kinema.errors import InvalidInputError
from kinema.world import spec as S
from kinema.world.scene import SceneGraph


def _distance(shape: str, side: int) -> np.ndarray:
    """(side, side) signed distance in pixels to ``shape``'s edge (< 0 inside) in a side x side
    box, at pixel centres; the square's and triangle's are the usual max-of-planes bound. A
    pixel belongs to the shape where it is <= 0 (``sprite``)."""
    c = np.arange(side) + 0.5  # pixel centres
    ys, xs = c[:, None], c[None, :]  # (side, 1), (1, side)
    half = side / 2
    if shape == "circle":
        d = np.hypot(xs - half, ys - half) - half
    elif shape == "square":
        d = np.maximum(np.abs(xs - half), np.abs(ys - half)) - half
    elif shape == "triangle":
        # apex at the top centre, base on the bottom row: the half-width at a row's centre y
        # is y / 2, at least half a pixel so the apex row is never empty (fill ~0.52)
        d = np.maximum((np.abs(xs - half) - np.maximum(ys / 2, 0.5)) / np.sqrt(1.25), ys - side)
    else:
        raise InvalidInputError(f"unknown shape {shape!r}; choose one of {', '.join(S.SHAPES)}")
    return np.broadcast_to(d, (side, side))


@cache
def sprite(shape: str, side: int) -> np.ndarray:
    """Boolean (side, side) mask of ``shape`` filling a side x side box (read-only)."""
    m = _distance(shape, side) <= 0
    m.setflags(write=False)
    return m


def morph_sprite(shape: str, toward: str, amount: float, side: int) -> np.ndarray:
    """Boolean (side, side) mask part way from ``shape`` (amount 0) to ``toward`` (amount 1):
    the zero set of the blend of their signed distances (a square with rounded corners, a
    bulging triangle, ...). Not a shape the world draws: the in-between shapes a generative
    model makes, for teaching a reader where one shape ends (``fill_ratio``, ``nearest_shape``)."""
    if not 0.0 <= amount <= 1.0:
        raise InvalidInputError(f"amount must be in [0, 1], got {amount}")
    d = (1 - amount) * _distance(shape, side) + amount * _distance(toward, side)
    m = d <= 0
    if not m.any():  # a blend can vanish at tiny sides: keep the centre pixel
        m[side // 2, side // 2] = True
    return m


def fill_ratio(mask: np.ndarray) -> float:
    """Area over the square on the longer side of the mask's bounding box: the spec's
    "fill ratio of the component's bounding box" (circle about 0.785, square 1.0, triangle 0.5)."""
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return 0.0
    side = max(np.ptp(ys), np.ptp(xs)) + 1
    return float(mask.sum() / side**2)


# the spec's fill ratios of each shape ("Reading a clip back")
SPEC_FILL = {"triangle": 0.5, "circle": 0.785, "square": 1.0}


def nearest_shape(mask: np.ndarray) -> str:
    """The shape whose spec fill ratio is nearest the mask's: what the spec reads it as."""
    f = fill_ratio(mask)
    return min(SPEC_FILL, key=lambda k: abs(SPEC_FILL[k] - f))


def render(graph: SceneGraph, sprites: list[np.ndarray | None] | None = None) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 of the whole scene graph; later objects draw over earlier ones.
    ``sprites`` (one per object, None = its own) draws another mask in an object's box."""
    t = graph.num_frames
    frames = np.empty((t, graph.height, graph.width, 3), dtype=np.uint8)  # (T, H, W, 3)
    frames[:] = np.array(S.BACKGROUNDS[graph.background], dtype=np.uint8)
    boxes = graph.boxes()  # (N, T, 4) whole-pixel x0, y0, x1, y1
    if sprites is not None and len(sprites) != len(graph.objects):
        raise InvalidInputError(f"{len(sprites)} sprites for {len(graph.objects)} objects")
    for i, obj in enumerate(graph.objects):
        colour = np.array(S.COLORS[obj.color], dtype=np.uint8)
        side = graph.size_px(obj)
        mask = sprite(obj.shape, side) if sprites is None or sprites[i] is None else sprites[i]
        if mask.shape != (side, side):
            raise InvalidInputError(f"object {i}'s sprite is {mask.shape}, its box {side} px")
        for k in range(t):
            x0, y0, x1, y1 = boxes[i, k]
            frames[k, y0:y1, x0:x1][mask] = colour
    return frames
