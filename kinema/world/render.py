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


@cache
def sprite(shape: str, side: int) -> np.ndarray:
    """Boolean (side, side) mask of ``shape`` filling a side x side box (read-only)."""
    c = np.arange(side) + 0.5  # pixel centres
    ys, xs = c[:, None], c[None, :]  # (side, 1), (1, side)
    half = side / 2
    if shape == "circle":
        m = (xs - half) ** 2 + (ys - half) ** 2 <= half * half
    elif shape == "square":
        m = np.ones((side, side), dtype=bool)
    elif shape == "triangle":
        # apex at the top centre, base on the bottom row: the half-width at a row's centre y
        # is y / 2, at least half a pixel so the apex row is never empty (fill ~0.52)
        m = np.abs(xs - half) <= np.maximum(ys / 2, 0.5)
    else:
        raise InvalidInputError(f"unknown shape {shape!r}; choose one of {', '.join(S.SHAPES)}")
    m = np.broadcast_to(m, (side, side)).copy()
    m.setflags(write=False)
    return m


def render(graph: SceneGraph) -> np.ndarray:
    """Frames (T, H, W, 3) uint8 of the whole scene graph; later objects draw over earlier ones."""
    t = graph.num_frames
    frames = np.empty((t, graph.height, graph.width, 3), dtype=np.uint8)  # (T, H, W, 3)
    frames[:] = np.array(S.BACKGROUNDS[graph.background], dtype=np.uint8)
    boxes = graph.boxes()  # (N, T, 4) whole-pixel x0, y0, x1, y1
    for i, obj in enumerate(graph.objects):
        colour = np.array(S.COLORS[obj.color], dtype=np.uint8)
        mask = sprite(obj.shape, graph.size_px(obj))  # (s, s)
        for k in range(t):
            x0, y0, x1, y1 = boxes[i, k]
            frames[k, y0:y1, x0:x1][mask] = colour
    return frames
