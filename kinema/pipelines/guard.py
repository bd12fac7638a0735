"""Identity guard for long videos: a window whose object no longer looks like itself is made again.

A minute is 39 sliding windows, each conditioned on the frames the one before it made, so a
small change of an object's outline in one window is the next window's truth, and over a
minute the changes add up: a still square swells a pixel a window and its corners round off
until it reads as another shape (README, long video). Choosing among a window's candidates by
how well they follow the prompt does not stop it (``window_screen_drafts``): every candidate
reads as the prompt's object long after it has started to drift. What a drifting window
differs in is its object's outline against the object's outline at the start of the video, so
that is what the guard checks: after each window of a long video it scores the new frames
against a reference (``reference``, taken once, before the first window, from the prompt and
the given frames), and where the score is under ``PipelineConfig.guard_threshold`` the window
is sampled again with other noise (up to ``guard_tries`` times) and the best-scoring try is
kept. Windows that keep their objects cost nothing more.

Remaking a window only helps where the window itself went wrong, not its context: without the
identity anchor (``kinema.pipelines.anchor``) each window starts from the drift of all the
windows before it, and the silhouette and area guards, measured that way, moved nothing. With
the anchor each window starts from the object as it was, so what is left is a window that goes
wrong within its own frames, and another draw of its noise usually does not: the reading guard
(shipped) takes that back (README, "The identity guard").

A long video's first clip is read the same way (``Pipeline(..., guarded=True)``, what ``kinema
generate --seconds`` asks for): of its candidates, those the guard reads right go first, and an
object none of whose candidates it reads right is made again with other noise.

``Pipeline`` takes any object with this module's ``Guard`` interface; ``pipeline.json``'s
``guard`` names one in ``GUARDS``; "" turns it off.

``ShapesWorldGuard`` is the embedded model's. Shapes World objects are rigid: colour, shape and
size never change within a clip and every object stays fully in frame (shapes-world.md,
"Motions"), so an object's silhouette in any frame is its silhouette at the start, moved. It
reads rows of one object only (a one-object prompt, or an object's own row in a composed
video, ``kinema.pipelines.compose``), whose pixels it takes apart by the nearest of the
background and the object's palette colour, and a frame's score is the overlap (IoU) of the
object's silhouette with the reference silhouettes, each aligned on its centre, the best over
the reference frames. ``ShapesWorldAreaGuard`` compares its area instead.
``ShapesWorldReadingGuard`` (shipped) reads the new frames as the world's reader does
(``kinema.world.parse.parse_clip``): the row's colour must be found with the shape its prompt
names, by the fill ratio's band, with a margin the threshold sets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from kinema.errors import InvalidInputError
from kinema.pipelines.compose import MATTE_FLOOR, matte, one_object_row
from kinema.world.parse import CIRCLE_MAX_FILL, TRIANGLE_MAX_FILL, parse_clip

# reference silhouettes kept from the given frames: spread over them, the last ones included
REFERENCE_FRAMES = 4


class Guard(Protocol):
    """What ``Pipeline`` needs of an identity guard."""

    name: str

    def reference(self, prompt: str, frames: np.ndarray) -> object | None:
        """What later windows of a video of ``prompt`` are checked against, read from its given
        frames (uint8 [T, H, W, 3]); None where the guard does not read the prompt (its windows
        are then never made again)."""
        ...

    def score(self, reference: object, frames: np.ndarray) -> float:
        """How well new frames (uint8 [T, H, W, 3]) keep the reference's objects: 1 = exactly,
        0 = not at all."""
        ...


@dataclass(frozen=True)
class Silhouettes:
    """One object's reference: its colour, the scene's background, and binary silhouettes
    cropped to their bounding boxes (bool [h, w] each)."""

    background: np.ndarray  # float32 [3]
    color: np.ndarray  # float32 [3]
    masks: tuple[np.ndarray, ...]
    area: float = 0.0  # the object's median soft area in the given frames, in pixels


def silhouettes(reference: object) -> Silhouettes:
    """``reference`` as the shapes-world guards' reference, or a typed error."""
    if not isinstance(reference, Silhouettes):
        raise InvalidInputError(f"the shapes-world guard scores Silhouettes, got {reference!r}")
    return reference


def object_masks(frames: np.ndarray, background: np.ndarray, color: np.ndarray) -> np.ndarray:
    """bool [T, H, W]: the pixels of uint8 frames [T, H, W, 3] nearer ``color`` than
    ``background`` (the world's reading rule with the palette cut to one object's scene)."""
    x = frames.astype(np.float32)  # [T, H, W, 3]
    return ((x - color) ** 2).sum(-1) < ((x - background) ** 2).sum(-1)


def soft_area(frames: np.ndarray, background: np.ndarray, color: np.ndarray) -> np.ndarray:
    """float [T]: each frame's object area in pixels, anti-aliased edges counted in part: the
    sum of its ``matte`` (as the composer lays an object over a scene), pixels under
    ``MATTE_FLOOR`` (decoder noise on the background) left out."""
    a = matte(frames, background, color)  # [T, H, W]
    return np.where(a >= MATTE_FLOOR, a, 0.0).sum(axis=(1, 2))  # [T]


def crop(mask: np.ndarray) -> np.ndarray | None:
    """bool [h, w]: ``mask`` [H, W] cut to its bounding box; None where it is empty."""
    ys, xs = np.nonzero(mask)
    if not len(ys):
        return None
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def centred_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two cropped silhouettes (bool [h, w], [h', w']) laid on one canvas with their
    centres of mass on the same pixel."""
    ca = np.argwhere(a).mean(0)  # [2] (y, x) in a's crop
    cb = np.argwhere(b).mean(0)
    # b moved by d = round(ca - cb) lands its centre on a's; both drawn on a canvas holding both
    d = np.rint(ca - cb).astype(int)  # [2]
    lo = np.minimum(0, d)  # [2] canvas origin, in a's coordinates
    hi = np.maximum(a.shape, np.array(b.shape) + d)  # [2]
    size = tuple(hi - lo)
    A = np.zeros(size, dtype=bool)
    B = np.zeros(size, dtype=bool)
    A[-lo[0] : -lo[0] + a.shape[0], -lo[1] : -lo[1] + a.shape[1]] = a
    oy, ox = d - lo
    B[oy : oy + b.shape[0], ox : ox + b.shape[1]] = b
    return float((A & B).sum() / (A | B).sum())


class ShapesWorldGuard:
    """A one-object row's silhouette against its silhouette in the given frames (module
    docstring)."""

    name = "shapes-world"

    def reference(self, prompt: str, frames: np.ndarray) -> Silhouettes | None:
        row = one_object_row(prompt, frames)
        if row is None:
            return None
        _, bg, color = row
        picks = np.unique(np.linspace(0, len(frames) - 1, REFERENCE_FRAMES).round().astype(int))
        masks = [crop(m) for m in object_masks(frames[picks], bg, color)]
        kept = tuple(m for m in masks if m is not None)
        area = float(np.median(soft_area(frames[picks], bg, color)))
        # no object in the given frames: nothing to keep
        return Silhouettes(bg, color, kept, area) if kept else None

    def score(self, reference: object, frames: np.ndarray) -> float:
        ref = silhouettes(reference)
        per_frame = []
        for m in object_masks(frames, ref.background, ref.color):
            c = crop(m)
            per_frame.append(0.0 if c is None
                             else max(centred_iou(r, c) for r in ref.masks))  # fmt: skip
        return float(np.mean(per_frame)) if per_frame else 1.0


class ShapesWorldAreaGuard(ShapesWorldGuard):
    """A one-object row's area against its area in the given frames: a frame scores the ratio
    of the smaller to the larger (``soft_area``), 0 where the object is gone. A rigid object
    keeps its area whatever way it moves, and the drift the silhouette guard's overlap reads
    least is the one a small object shows most: a pixel more or less on each side."""

    name = "shapes-world-area"

    def score(self, reference: object, frames: np.ndarray) -> float:
        ref = silhouettes(reference)
        area = soft_area(frames, ref.background, ref.color)  # [T]
        ratio = np.minimum(area, ref.area) / np.maximum(np.maximum(area, ref.area), 1e-6)
        return float(ratio.mean()) if len(ratio) else 1.0


# a reading guard's score moves from 0.5 (the fill ratio on a shape's boundary) to 1 (0 for the
# wrong shape) over this much fill ratio inside (outside) the shape's band
FILL_SPAN = 0.1


@dataclass(frozen=True)
class Named:
    """One object's reference for the reading guard: its colour and shape as the prompt names
    them."""

    color: str
    shape: str


def fill_margin(fill: float, shape: str) -> float:
    """How far a fill ratio lies inside ``shape``'s band of the world's reader (negative:
    outside it, by that much): triangle under 0.685, circle 0.685-0.9, square over 0.9."""
    if shape == "triangle":
        return TRIANGLE_MAX_FILL - fill
    if shape == "circle":
        return min(fill - TRIANGLE_MAX_FILL, CIRCLE_MAX_FILL - fill)
    if shape == "square":
        return fill - CIRCLE_MAX_FILL
    raise InvalidInputError(f"no fill band for shape {shape!r}")


class ShapesWorldReadingGuard:
    """A one-object row's new frames as the world's reader reads them (``parse_clip``, the
    scorer's rule): the object's colour found with the shape its prompt names. Where the
    silhouette and area guards compare a window with the given frames, and so keep what the
    given frames drew wrong, this one reads what a viewer of the video reads. A window scores
    0.5 + m / (2 ``FILL_SPAN``) for a fill-ratio margin m inside the prompted shape's band
    (``fill_margin``), clipped to [0, 1] and times the share of frames the object is found in:
    under 0.5 it reads as another shape (or is gone), and a threshold over 0.5 asks for a margin
    as well, since a window's frames are read again in other groupings later."""

    name = "shapes-world-reading"

    def reference(self, prompt: str, frames: np.ndarray) -> Named | None:
        row = one_object_row(prompt, frames)
        if row is None:
            return None
        o = row[0]
        return Named(o.color, o.shape)

    def score(self, reference: object, frames: np.ndarray) -> float:
        if not isinstance(reference, Named):
            raise InvalidInputError(f"the reading guard scores Named, got {reference!r}")
        if not len(frames):
            return 1.0
        seen = parse_clip(frames).get(reference.color)
        if seen is None:
            return 0.0
        band = 0.5 + fill_margin(seen.fill_ratio, reference.shape) / (2 * FILL_SPAN)
        return float(np.clip(band, 0.0, 1.0) * seen.presence)


# pipeline.json's guard -> a guard (it reads prompts and pixels, not weights)
GUARDS = {
    "shapes-world": ShapesWorldGuard,
    "shapes-world-area": ShapesWorldAreaGuard,
    "shapes-world-reading": ShapesWorldReadingGuard,
}
