"""Shapes World v1, fixed to the pixel by ``shared/specs/shapes-world.md``.

Everything another module needs to know about the world's look lives here: the palette,
shape and size names, motion names and the size rule. The renderer draws from it and the
scorer reads back by it, so the two can never disagree.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

BACKGROUNDS: Final[dict[str, tuple[int, int, int]]] = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "gray": (128, 128, 128),
}
COLORS: Final[dict[str, tuple[int, int, int]]] = {
    "red": (230, 40, 40),
    "green": (40, 190, 70),
    "blue": (40, 90, 230),
    "yellow": (240, 220, 40),
    "purple": (150, 60, 210),
    "cyan": (40, 210, 220),
}
SHAPES: Final[tuple[str, ...]] = ("circle", "square", "triangle")
SIZES: Final[tuple[str, ...]] = ("small", "large")
MOTIONS: Final[tuple[str, ...]] = ("left", "right", "up", "down", "bounce", "still")
LINEAR_MOTIONS: Final[tuple[str, ...]] = ("left", "right", "up", "down")

SIZE_FRACTION: Final[dict[str, float]] = {"small": 0.15, "large": 0.25}
MIN_SIZE_PX: Final[int] = 5
# Fill ratio of a shape's bounding box: what the scorer tells shapes apart by.
FILL_RATIO: Final[dict[str, float]] = {"circle": np.pi / 4, "square": 1.0, "triangle": 0.5}

DEFAULT_SIZE: Final[int] = 64
DEFAULT_FRAMES: Final[int] = 17  # 1 + 4k frames, about 2 s at 8 fps
DEFAULT_FPS: Final[float] = 8.0
MIN_SIDE: Final[int] = 32
MAX_SIDE: Final[int] = 256
SIDE_MULTIPLE: Final[int] = 16

# One palette for reading clips back: backgrounds first, then object colours.
PALETTE_NAMES: Final[tuple[str, ...]] = (*BACKGROUNDS, *COLORS)
PALETTE_RGB: Final[np.ndarray] = np.array(
    [*BACKGROUNDS.values(), *COLORS.values()], dtype=np.int32
)  # (9, 3)


def size_px(size: str, height: int, width: int) -> int:
    """Bounding-box side in pixels of a ``small``/``large`` object on an H x W canvas."""
    return max(MIN_SIZE_PX, math.floor(SIZE_FRACTION[size] * min(height, width) + 0.5))


def check_canvas(height: int, width: int) -> None:
    """Raise ``InvalidInputError`` unless H and W are multiples of 16 in 32..256."""
    from kinema.errors import InvalidInputError

    for name, side in (("height", height), ("width", width)):
        if not isinstance(side, int | np.integer) or not (
            MIN_SIDE <= side <= MAX_SIDE and side % SIDE_MULTIPLE == 0
        ):
            raise InvalidInputError(
                f"Shapes World {name} must be a multiple of {SIDE_MULTIPLE} between "
                f"{MIN_SIDE} and {MAX_SIDE}, got {side!r}; try 32, 48, 64, 96, 128 or 256."
            )
