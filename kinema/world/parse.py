"""Read a clip back into objects, as the spec's "Reading a clip back" section says.

Each pixel is classified by its nearest palette colour (backgrounds and objects together);
per object colour the largest connected component in each frame is that object. Shape comes
from the fill ratio of the component's bounding box, size from the box side, motion from the
track of its centre. The same reader scores ground truth, codec round trips and generated
clips, so its thresholds are set with margins for all three.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from kinema.errors import InvalidInputError
from kinema.world import spec as S
from kinema.world.scene import ObjectSpec, SceneSpec

_N_BG = len(S.BACKGROUNDS)
_EIGHT = np.ones((3, 3), dtype=bool)  # 8-connectivity for components
# Fill-ratio boundaries: triangle ~0.5-0.6 | circle ~0.76-0.81 | square 1.0
TRIANGLE_MAX_FILL = 0.685
CIRCLE_MAX_FILL = 0.9


@dataclass
class TrackedObject:
    """One object colour found in a clip, with what was read from its track."""

    color: str
    shape: str
    size: str
    motion: str
    presence: float  # fraction of frames where the object was found
    fill_ratio: float  # median area / bounding-box area (over the frames it is seen whole)
    side_px: float  # median bounding-box side (likewise)
    centers: np.ndarray = field(repr=False)  # (T, 2) x, y; NaN where absent
    whole: float = 1.0  # fraction of the frames it was found in where no other object touched it

    @property
    def spec(self) -> ObjectSpec:
        return ObjectSpec(self.color, self.shape, self.motion, self.size)


@dataclass
class ParsedClip:
    """What a reader sees in a clip: background and objects, most present first."""

    background: str
    objects: list[TrackedObject]
    num_frames: int
    height: int
    width: int

    def get(self, color: str) -> TrackedObject | None:
        return next((o for o in self.objects if o.color == color), None)

    def spec(self, min_presence: float = 0.5) -> SceneSpec | None:
        """The scene as read (objects present in at least ``min_presence`` of frames), or None."""
        objs = tuple(o.spec for o in self.objects if o.presence >= min_presence)[:3]
        return SceneSpec(self.background, objs) if objs else None


def classify_pixels(frames: np.ndarray, chunk: int = 16) -> np.ndarray:
    """Palette index (T, H, W) int8 of each pixel's nearest colour (0-2 background, 3-8 object).

    |f - p|^2 = |f|^2 - 2 f.p + |p|^2, and |f|^2 is the same for every palette colour p, so
    the nearest is the argmin of |p|^2 - 2 f.p: one small matmul instead of a (.., 9, 3)
    difference. Every term is an integer under 2^24, so float32 holds it exactly and the
    answer, ties included (the first palette index wins), is the plain distance's to the bit.
    """
    out = np.empty(frames.shape[:3], dtype=np.int8)  # (T, H, W)
    pal = S.PALETTE_RGB.astype(np.float32)  # (9, 3)
    pal2 = (pal * pal).sum(-1)  # (9,)
    for s in range(0, len(frames), chunk):
        f = frames[s : s + chunk].astype(np.float32)  # (t, H, W, 3)
        d = pal2 - 2.0 * (f @ pal.T)  # (t, H, W, 9)
        out[s : s + chunk] = d.argmin(-1)
    return out


def _min_area(height: int, width: int) -> int:
    """Components smaller than ~30% of the smallest possible object are noise (codec edges)."""
    small = S.size_px("small", height, width)
    return max(3, int(0.3 * 0.5 * small * small))


def _shape_from_fill(fill: float) -> str:
    if fill < TRIANGLE_MAX_FILL:
        return "triangle"
    return "circle" if fill < CIRCLE_MAX_FILL else "square"


def _size_from_side(side: float, height: int, width: int) -> str:
    small, large = S.size_px("small", height, width), S.size_px("large", height, width)
    return "small" if abs(side - small) <= abs(side - large) else "large"


def _floor_contacts(y: np.ndarray, rise: float) -> list[int]:
    """Frames where y has a clear local maximum: the highest within +-2 frames and at least
    ``rise`` above the lowest of the 3 frames on each side (pixel noise makes flat steps)."""
    out = []
    for k in range(1, len(y) - 1):
        window = y[max(0, k - 2) : k + 3]
        if y[k] < window.max():
            continue
        if y[k] - y[max(0, k - 3) : k].min() > rise and y[k] - y[k + 1 : k + 4].min() > rise:
            out.append(k)
    return out


def _curvature(t: np.ndarray, y: np.ndarray, rise: float) -> float:
    """Mean y'' (px/frame^2) from quadratic fits between floor contacts.

    Gravity makes it positive between contacts; constant-velocity motion (even reflecting
    off a wall) gives ~0 because pieces are split at the turning points.
    """
    cuts = [0, *_floor_contacts(y, rise), len(y)]
    num = den = 0.0
    for a, b in itertools.pairwise(cuts):
        lo = a + 1 if a > 0 else a  # drop the contact frame itself
        if b - lo >= 4:
            coef = np.polyfit(t[lo:b], y[lo:b], 2)[0]
            num += 2 * coef * (b - lo)
            den += b - lo
    if den == 0:  # too few frames between turns: second differences instead
        return float(np.median(np.diff(y, 2))) if len(y) >= 3 else 0.0
    return num / den


def classify_motion(centers: np.ndarray, height: int, width: int) -> str:
    """Motion class of a (T, 2) centre track (NaN rows where the object was not found)."""
    ok = ~np.isnan(centers).any(axis=1)
    t = np.nonzero(ok)[0].astype(np.float64)
    if len(t) < 3:
        return "still"
    x, y = centers[ok, 0], centers[ok, 1]
    scale = min(height, width)
    span_x, span_y = float(np.ptp(x)), float(np.ptp(y))
    if max(span_x, span_y) < 0.06 * scale:
        return "still"
    # Gravity: the slowest allowed bounce has y'' >= 0.0075 * H; linear motion has ~0.
    if span_y >= span_x and _curvature(t, y, rise=0.05 * height) > 0.003 * height:
        return "bounce"
    if span_x > span_y:
        d, neg, pos = x - x[0], "left", "right"
    else:
        d, neg, pos = y - y[0], "up", "down"
    moved = np.nonzero(np.abs(d) > 0.04 * scale)[0]  # first clear move (walls may reflect later)
    first = d[moved[0]] if len(moved) else d[-1]
    return pos if first > 0 else neg


def _measure(
    frame: np.ndarray,
    comp: np.ndarray,
    ci: int,
    bg: np.ndarray,
    others: np.ndarray,
    near: np.ndarray,
) -> tuple[float, float, float, float, bool]:
    """Soft area, box side and centre (x, y) of one object in one frame, and whether it is seen
    whole: no pixel of the other objects ``near`` (their components, bool (H, W)) within 2 px
    of it; one drawn over it would hide part of its silhouette and so of its fill ratio.

    Codecs blur colour (yuv420p halves chroma resolution, and some palette colours differ
    from some backgrounds almost only in chroma), so a hard per-pixel label loses edges. Blur
    moves colour around but keeps its total, so each pixel near the component counts by how
    far it sits from the background towards the object colour (alpha in [0, 1]): the sum is
    the object's area, the alpha-weighted mean its centre, alpha >= 0.5 its box.
    """
    grown = ndimage.binary_dilation(comp, structure=_EIGHT, iterations=2)  # (H, W)
    whole = not (grown & near).any()
    region = grown & ~others  # (H, W)
    ys, xs = np.nonzero(region)
    colour = S.PALETTE_RGB[ci].astype(np.float64)
    axis = colour - bg  # (3,)
    alpha = ((frame[ys, xs].astype(np.float64) - bg) @ axis) / (axis @ axis)  # (n,)
    alpha = np.clip(alpha, 0.0, 1.0)
    mass = float(alpha.sum())
    inside = alpha >= 0.5
    if mass <= 0 or not inside.any():
        return 0.0, 0.0, float("nan"), float("nan"), whole
    side = float(max(np.ptp(xs[inside]), np.ptp(ys[inside])) + 1)
    cx = float((alpha * (xs + 0.5)).sum() / mass)
    cy = float((alpha * (ys + 0.5)).sum() / mass)
    return mass, side, cx, cy, whole


def _reference_side(side: float, height: int, width: int) -> float:
    """The world's nearest allowed side when the measured box is within 25% of it (codec
    edges move a box by a pixel, which at 5-10 px would swamp the fill ratio)."""
    for name in S.SIZES:
        ref = S.size_px(name, height, width)
        if abs(side - ref) <= 0.25 * ref:
            return float(ref)
    return side


def parse_clip(frames: np.ndarray) -> ParsedClip:
    """Read uint8 frames (T, H, W, 3) into a background and tracked objects."""
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3:
        raise InvalidInputError(
            "parse_clip needs uint8 frames (T, H, W, 3), "
            f"got {getattr(frames, 'shape', type(frames))}"
        )
    T, H, W, _ = frames.shape
    labels = classify_pixels(frames)  # (T, H, W)
    n_colours = len(S.PALETTE_NAMES)
    per_frame = np.bincount(  # (T, 9) pixels of each palette colour in each frame
        (labels.astype(np.int64) + n_colours * np.arange(T)[:, None, None]).reshape(-1),
        minlength=n_colours * T,
    ).reshape(T, n_colours)
    counts = per_frame.sum(0)  # (9,)
    bg_index = int(np.argmax(counts[:_N_BG]))
    bg = S.PALETTE_RGB[bg_index].astype(np.float64)
    min_area = _min_area(H, W)
    present = [ci for ci in range(_N_BG, n_colours) if counts[ci] >= min_area]
    # per frame, which object colour owns each pixel: the colour's largest component, where
    # that is big enough to be an object (-1: none; stray pixels of a colour, which codec and
    # sampler edges leave around any object, own nothing)
    owner = np.full((T, H, W), -1, dtype=np.int8)  # (T, H, W)
    owns = np.zeros((n_colours, T), dtype=bool)  # (9, T) which colour owns pixels in which frame
    for ci in present:
        for k in np.nonzero(per_frame[:, ci] >= min_area)[0]:
            comp, _ = ndimage.label(labels[k] == ci, structure=_EIGHT)
            areas = np.bincount(comp.reshape(-1))[1:]  # (n,)
            best = int(np.argmax(areas)) + 1
            if areas[best - 1] >= min_area:
                owner[k][comp == best] = ci
                owns[ci, k] = True
    objects: list[TrackedObject] = []
    for ci in present:
        centers = np.full((T, 2), np.nan)
        fills, sides, wholes = [], [], []
        rest = [c for c in present if c != ci]
        for k in np.nonzero(owns[ci])[0]:
            blob = owner[k] == ci  # (H, W)
            others = np.isin(labels[k], rest)  # (H, W)
            near = (owner[k] >= 0) & ~blob  # (H, W) the other objects, that could hide it
            mass, side, cx, cy, whole = _measure(frames[k], blob, ci, bg, others, near)
            if side <= 0:
                continue
            ref = _reference_side(side, H, W)
            fills.append(mass / (ref * ref))
            sides.append(side)
            wholes.append(whole)
            centers[k] = (cx, cy)
        if not fills:
            continue
        # shape and size from the frames where it is seen whole, where there are any: where
        # objects cross, the one drawn over hides part of the other's silhouette
        seen = np.asarray(wholes) if any(wholes) else np.ones(len(wholes), dtype=bool)
        fill = float(np.median(np.asarray(fills)[seen]))
        side = float(np.median(np.asarray(sides)[seen]))
        objects.append(
            TrackedObject(
                color=S.PALETTE_NAMES[ci],
                shape=_shape_from_fill(fill),
                size=_size_from_side(side, H, W),
                motion=classify_motion(centers, H, W),
                presence=len(fills) / T,
                fill_ratio=fill,
                side_px=side,
                centers=centers,
                whole=float(np.mean(wholes)),
            )
        )
    objects.sort(key=lambda o: -o.presence)  # stable: palette order among equals
    return ParsedClip(S.PALETTE_NAMES[bg_index], objects, T, H, W)
