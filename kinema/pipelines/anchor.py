"""Identity anchor for long videos: each window reads its context with its object as it was.

A minute is 39 sliding windows, each conditioned on the last frames of the one before it, so a
small change in one window is the next window's truth and the changes add up. What drifts in
the embedded model's minutes is above all an object's size: a small square swells by half a
pixel or so a window until, around 13 px, it sits between the world's two sizes, where the
scorer's fill ratio reads it as no shape at all; less often its outline itself wanders (a
square rounding into a bell). Making a drifting window again does not help
(``kinema.pipelines.guard``): its context already carries the drift. So the anchor takes the
drift out of the context instead. Before a window is sampled, each row's context frames (what
the DiT reads, not the frames the video keeps) get their object put back as it was; the window
the model then makes starts from the object as it was. Nothing the model outputs is changed: a
window can still drift, but only by what one window adds, never by the sum.

``Pipeline`` takes any object with this module's ``Anchor`` interface; ``pipeline.json``'s
``anchor`` names one in ``ANCHORS``; "" turns it off.

The shapes-world anchors are the embedded model's. Shapes World objects are rigid: colour, shape
and size never change within a clip, and they stay whole in frame (shapes-world.md, "Motions").
They read rows of one object only (a one-object prompt, or an object's own row in a composed
video, ``kinema.pipelines.compose``) on the flat background the prompt names, take the object
out by its matte (how far each pixel lies from the background towards the object's colour, as
the composer lays objects) and draw the corrected matte back in the object's colour, where the
context has its centre of mass:

- ``shapes-world``: the context's own outline, rescaled to the object's area in the given frames;
- ``shapes-world-size``: the same, to the world's area for the size the prompt names (the given
  frames' where it names none), which also takes out a size the first clip drew wrong;
- ``shapes-world-sprite``: the outline the given frames drew (the matte of their median-area
  frame), at the size the prompt names, so a wandering outline is put back too;
- ``shapes-world-drawn``: the world's own sprite of the prompt's shape and size, on whole pixels;
- ``shapes-world-held`` (shipped): drawn, and its centre put back on each axis the prompted
  motion never moves it along (``HELD_AXES``), so sideways drift does not add up either.

Measured on tuning minutes (README, "The identity anchor" and "The held anchor").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import ndimage

from kinema.errors import InvalidInputError
from kinema.pipelines.compose import check_clip, matte, one_object_row
from kinema.world import spec as S
from kinema.world.render import sprite as world_sprite

_EIGHT = np.ones((3, 3), dtype=bool)  # 8-connectivity

# context within this share of the reference area is left as it is (a resample blurs edges a
# little, and a tenth of a pixel of size is nothing the scorer or the model reads)
AREA_TOLERANCE = 0.04


class Anchor(Protocol):
    """What ``Pipeline`` needs of an identity anchor."""

    name: str

    def reference(self, prompt: str, frames: np.ndarray) -> object | None:
        """What a video of ``prompt`` keeps, read from its given frames (uint8 [T, H, W, 3]);
        None where the anchor does not read the prompt (its context is then left as it is)."""
        ...

    def correct(self, reference: object, frames: np.ndarray) -> np.ndarray:
        """uint8 [T, H, W, 3]: context frames (the same shape) with what drifted from the
        reference put back."""
        ...


@dataclass(frozen=True)
class ObjectArea:
    """One object's reference: its colour, the scene's background, the area it is kept at in
    pixels and, for the sprite anchor, its outline in the given frames (a matte cropped to its
    box, float32 [h, w], with its centre of mass (y, x) in the crop)."""

    background: np.ndarray  # float32 [3]
    color: np.ndarray  # float32 [3]
    area: float
    sprite: np.ndarray | None = None
    centre: tuple[float, float] = (0.0, 0.0)
    whole: bool = False  # drawn on whole pixels (the world's own sprite, as the world draws it)
    # where the object's motion keeps it: (y, x) in the frame, None on an axis it moves along
    hold: tuple[float | None, float | None] = (None, None)


def object_matte(frames: np.ndarray, background: np.ndarray, color: np.ndarray) -> np.ndarray:
    """float32 [T, H, W]: the object alone, as much of it as the frames hold: its ``matte`` on
    the pixels within 2 of its core (matte >= 0.5), 0 elsewhere. A decoder blurs an edge but
    keeps its mass, so the sum is the object's area with its soft edge counted whole (as the
    world's reader counts it), and the background's faint noise away from it is left out."""
    a = matte(frames, background, color)  # [T, H, W]
    near = np.stack([ndimage.binary_dilation(core, structure=_EIGHT, iterations=2)
                     for core in a >= 0.5])  # fmt: skip  # [T, H, W]
    return np.where(near, a, 0.0).astype(np.float32)


def centre_of_mass(alpha: np.ndarray) -> tuple[float, float]:
    """(y, x) of a matte [H, W] with some mass."""
    ys, xs = np.indices(alpha.shape, dtype=np.float64)  # [H, W] each
    mass = float(alpha.sum())
    return float((alpha * ys).sum() / mass), float((alpha * xs).sum() / mass)


def rescale(alpha: np.ndarray, scale: float) -> np.ndarray:
    """float32 [H, W]: a matte [H, W] scaled by ``scale`` about its centre of mass (``place``
    with the frame as the sprite; what falls outside the frame is lost, as the world's walls
    would cut it)."""
    if float(alpha.sum()) <= 0.0:
        return alpha
    c = centre_of_mass(alpha)
    return place(alpha, c, c, alpha.shape, scale)


def place(sprite: np.ndarray, centre: tuple[float, float], at: tuple[float, float],
          shape: tuple[int, int], scale: float = 1.0) -> np.ndarray:  # fmt: skip
    """float32 [H, W] (``shape``): a sprite matte [h, w] whose centre of mass is ``centre`` in
    it, scaled by ``scale`` and drawn with that centre at ``at`` (y, x), moved inwards where it
    would cross the frame's edge (a world object stays whole in frame); bilinear."""
    h, w = sprite.shape
    H, W = shape
    # the output pixel p reads the sprite at centre + (p - at) / scale
    # how far the scaled sprite reaches from its centre, each way, kept inside the frame
    top, left = centre[0] * scale + 0.5, centre[1] * scale + 0.5
    bottom, right = (h - centre[0]) * scale - 0.5, (w - centre[1]) * scale - 0.5
    y = min(max(at[0], top - 0.5), H - 0.5 - bottom) if top + bottom < H else at[0]
    x = min(max(at[1], left - 0.5), W - 0.5 - right) if left + right < W else at[1]
    ys, xs = np.indices(shape, dtype=np.float64)  # [H, W] each
    src = np.stack([centre[0] + (ys - y) / scale, centre[1] + (xs - x) / scale])  # [2, H, W]
    out = ndimage.map_coordinates(sprite, src, order=1, mode="grid-constant", cval=0.0)  # [H, W]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def redraw(frame: np.ndarray, alpha: np.ndarray, new: np.ndarray, ref: ObjectArea) -> np.ndarray:
    """float32 [H, W, 3]: a frame [H, W, 3] with its object (matte ``alpha`` [H, W]) taken out to
    the background and the matte ``new`` [H, W] drawn in the object's colour."""
    plate = np.where((alpha > 0.0)[..., None], ref.background, frame.astype(np.float32))
    return plate * (1.0 - new[..., None]) + ref.color * new[..., None]


def prompted_area(size: str | None, shape: str, height: int, width: int) -> float | None:
    """The world's own area in pixels of a ``shape`` of ``size`` on an H x W canvas (None
    where the prompt names no size)."""
    if size is None:
        return None
    return float(world_sprite(shape, S.size_px(size, height, width)).sum())


class ShapesWorldAnchor:
    """A one-object row's context rescaled to the object's area in the given frames (module
    docstring). ``size="prompted"``: to the world's area for the size the prompt names (the
    given frames' where it names none), which also takes out a size the first clip drew wrong.
    ``sprite``: the object redrawn as the given frames drew it (their median-area frame's
    matte), where the context has it, so a drifting outline is put back too, not only its size."""

    name = "shapes-world"

    def __init__(self, size: str = "given", sprite: bool = False) -> None:
        if size not in ("given", "prompted"):
            raise InvalidInputError(f"size must be 'given' or 'prompted', got {size!r}")
        if not isinstance(sprite, bool):
            raise InvalidInputError(f"sprite must be True or False, got {sprite!r}")
        self.size, self.sprite = size, sprite

    @staticmethod
    def given(prompt: str, frames: np.ndarray) -> tuple | None:
        """A one-object row's (object, background, colour, matte [T, H, W], its areas [T], their
        median) in its given frames; None for another prompt or no object there."""
        row = one_object_row(prompt, frames)
        if row is None:
            return None
        o, bg, color = row
        alpha = object_matte(frames, bg, color)  # [T, H, W]
        areas = alpha.sum(axis=(1, 2))  # [T]
        median = float(np.median(areas))
        # no object in the given frames: nothing to keep
        return (o, bg, color, alpha, areas, median) if median >= 1.0 else None

    def reference(self, prompt: str, frames: np.ndarray) -> ObjectArea | None:
        read = self.given(prompt, frames)
        if read is None:
            return None
        o, bg, color, alpha, areas, given = read
        area = given
        if self.size == "prompted":
            area = prompted_area(o.size, o.shape, *frames.shape[1:3]) or given
        if not self.sprite:
            return ObjectArea(bg, color, area)
        a = alpha[int(np.argmin(np.abs(areas - given)))]  # [H, W]
        ys, xs = np.nonzero(a)
        crop = a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]  # [h, w]
        return ObjectArea(bg, color, area, crop, centre_of_mass(crop))

    def correct(self, reference: object, frames: np.ndarray) -> np.ndarray:
        if not isinstance(reference, ObjectArea):
            raise InvalidInputError(
                f"the shapes-world anchor keeps an ObjectArea, got {reference!r}"
            )
        check_clip(frames)
        ref = reference
        alpha = object_matte(frames, ref.background, ref.color)  # [T, H, W]
        areas = alpha.sum(axis=(1, 2))  # [T]
        area = float(np.median(areas))  # one scale for the whole context
        if area < 1.0:
            return frames  # the object is gone: nothing to put back
        if ref.sprite is None and abs(area / ref.area - 1.0) <= AREA_TOLERANCE:
            return frames  # still its size
        # the context's own outline scaled to the reference area, or the reference's sprite
        scale = float(np.sqrt(ref.area / (area if ref.sprite is None else ref.sprite.sum())))
        out = np.empty(frames.shape, dtype=np.float32)  # [T, H, W, 3]
        for t in range(len(frames)):
            if areas[t] < 1.0:  # not in this frame: as it is
                out[t] = frames[t]
                continue
            at = centre_of_mass(alpha[t])
            at = tuple(a if h is None else h for a, h in zip(at, ref.hold, strict=True))
            if ref.whole:  # the sprite's pixels on the frame's: its centre moved by whole pixels
                at = (round(at[0] - ref.centre[0]) + ref.centre[0],
                      round(at[1] - ref.centre[1]) + ref.centre[1])  # fmt: skip
            new = (rescale(alpha[t], scale) if ref.sprite is None
                   else place(ref.sprite, ref.centre, at, alpha[t].shape, scale))  # fmt: skip
            out[t] = redraw(frames[t], alpha[t], new, ref)
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)


class ShapesWorldSizeAnchor(ShapesWorldAnchor):
    """The context's object rescaled to the area of the size the prompt names."""

    name = "shapes-world-size"

    def __init__(self) -> None:
        super().__init__(size="prompted")


class ShapesWorldSpriteAnchor(ShapesWorldAnchor):
    """The context's object redrawn as the given frames drew it, at the size the prompt names."""

    name = "shapes-world-sprite"

    def __init__(self) -> None:
        super().__init__(size="prompted", sprite=True)


class ShapesWorldDrawnAnchor(ShapesWorldAnchor):
    """The context's object redrawn as the world draws the shape and size the prompt names
    (its own sprite, hard-edged, on whole pixels), where the context has it: a shape the first
    clip drew wrong, or at the edge of its class, is not kept."""

    name = "shapes-world-drawn"

    def __init__(self) -> None:
        super().__init__(size="prompted", sprite=True)

    def reference(self, prompt: str, frames: np.ndarray) -> ObjectArea | None:
        read = self.given(prompt, frames)
        return None if read is None else self.drawn(read, *frames.shape[1:3])

    @staticmethod
    def drawn(read: tuple, height: int, width: int) -> ObjectArea:
        """The reference of a row read by ``given`` on a canvas of this height and width."""
        o, bg, color, _, _, given = read
        H, W = height, width
        # the prompt's size, or where it names none the world's size nearest the given area
        size = o.size or min(S.SIZES, key=lambda n: abs(prompted_area(n, o.shape, H, W) - given))  # type: ignore[operator]
        drawn = world_sprite(o.shape, S.size_px(size, H, W)).astype(np.float32)  # [side, side]
        return ObjectArea(bg, color, float(drawn.sum()), drawn, centre_of_mass(drawn), True)


# the axes (y, x) a motion never moves an object along (shapes-world.md, "Motions"): a linear
# motion keeps the other axis (reflecting off walls too), still keeps both, and bounce falls and
# rises in place (the spec lets it drift sideways by at most a tenth of the width a clip; held,
# it drifts by none)
HELD_AXES = {"left": (True, False), "right": (True, False), "up": (False, True),
             "down": (False, True), "bounce": (False, True), "still": (True, True)}  # fmt: skip


class ShapesWorldHeldAnchor(ShapesWorldDrawnAnchor):
    """The drawn anchor, with the object also put back on the line its motion keeps it on: its
    centre on each axis the prompted motion never moves it along is the given frames' (the
    median of their centres of mass). A window's sideways drift is then not the next window's
    start, so it does not add up over a minute into objects that wander into each other."""

    name = "shapes-world-held"

    def reference(self, prompt: str, frames: np.ndarray) -> ObjectArea | None:
        read = self.given(prompt, frames)
        if read is None:
            return None
        o, _, _, alpha, areas, _ = read  # alpha [T, H, W], areas [T]
        seen = [centre_of_mass(a) for a, n in zip(alpha, areas, strict=True) if n >= 1.0]
        centre = np.median(np.array(seen), axis=0)  # [2]
        hold = tuple(float(c) if held else None
                     for c, held in zip(centre, HELD_AXES[o.motion], strict=True))  # fmt: skip
        return dataclasses.replace(self.drawn(read, *frames.shape[1:3]), hold=hold)


# pipeline.json's anchor -> an anchor (it reads prompts and pixels, not weights)
ANCHORS = {
    "shapes-world": ShapesWorldAnchor,
    "shapes-world-size": ShapesWorldSizeAnchor,
    "shapes-world-sprite": ShapesWorldSpriteAnchor,
    "shapes-world-drawn": ShapesWorldDrawnAnchor,
    "shapes-world-held": ShapesWorldHeldAnchor,
}
