"""Scene graphs: what a prompt says (``SceneSpec``) and the full physical scene (``SceneGraph``).

A ``SceneSpec`` is the content of a caption: background plus, per object, colour, shape,
motion and (optionally) size. A ``SceneGraph`` adds the canvas and the motion parameters
that make it renderable, and gives per-frame ground truth (centre and bounding box).
Positions are pixel centres on the graph's own canvas; y grows downward.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from kinema.errors import InvalidInputError
from kinema.world import spec as S

# Linear motions are specified by their net displacement over a default 17-frame clip.
_REF_STEPS = S.DEFAULT_FRAMES - 1
# How long the overlap check looks ahead: long clips beyond this may cross paths.
_OVERLAP_HORIZON = 129
_MIN_GAP_PX = 2.0


@dataclass(frozen=True)
class ObjectSpec:
    """One object as a caption describes it. ``size=None`` means the caption left it out."""

    color: str
    shape: str
    motion: str
    size: str | None = None

    def __post_init__(self) -> None:
        _check_choice("colour", self.color, tuple(S.COLORS))
        _check_choice("shape", self.shape, S.SHAPES)
        _check_choice("motion", self.motion, S.MOTIONS)
        if self.size is not None:
            _check_choice("size", self.size, S.SIZES)


@dataclass(frozen=True)
class SceneSpec:
    """The content of a caption: a background and 1-3 objects of distinct colours."""

    background: str
    objects: tuple[ObjectSpec, ...]

    def __post_init__(self) -> None:
        _check_choice("background", self.background, tuple(S.BACKGROUNDS))
        if not 1 <= len(self.objects) <= 3:
            raise InvalidInputError(f"a scene holds 1 to 3 objects, got {len(self.objects)}")
        colors = [o.color for o in self.objects]
        if len(set(colors)) != len(colors):
            raise InvalidInputError(f"objects in one scene need distinct colours, got {colors}")


@dataclass(frozen=True)
class SceneObject:
    """One object with its motion parameters (pixels and frames of the graph's canvas)."""

    color: str
    shape: str
    size: str
    motion: str
    x0: float  # centre at frame 0
    y0: float
    vx: float = 0.0  # pixels per frame
    vy: float = 0.0
    gravity: float = 0.0  # pixels per frame^2, bounce only
    restitution: float = 1.0  # speed kept at a floor contact, bounce only

    @property
    def spec(self) -> ObjectSpec:
        return ObjectSpec(self.color, self.shape, self.motion, self.size)


@dataclass(frozen=True)
class SceneGraph:
    """A renderable Shapes World scene on an H x W canvas, ``num_frames`` long."""

    background: str
    objects: tuple[SceneObject, ...]
    height: int = S.DEFAULT_SIZE
    width: int = S.DEFAULT_SIZE
    num_frames: int = S.DEFAULT_FRAMES
    fps: float = S.DEFAULT_FPS
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        S.check_canvas(self.height, self.width)
        if self.num_frames < 1:
            raise InvalidInputError(f"num_frames must be >= 1, got {self.num_frames}")
        self.spec  # noqa: B018 - validates colours, shapes and count

    @property
    def spec(self) -> SceneSpec:
        return SceneSpec(self.background, tuple(o.spec for o in self.objects))

    def size_px(self, obj: SceneObject) -> int:
        return S.size_px(obj.size, self.height, self.width)

    def centres(self) -> np.ndarray:
        """Per-frame bounding-box centres, (N, T, 2) as (x, y) in pixels."""
        if "centres" not in self._cache:
            self._cache["centres"] = np.stack(
                [
                    object_centres(o, self.size_px(o), self.height, self.width, self.num_frames)
                    for o in self.objects
                ]
            )
        return self._cache["centres"]

    def boxes(self) -> np.ndarray:
        """Drawn per-frame boxes (N, T, 4) int as (x0, y0, x1, y1), pixel edges, x1/y1 exclusive.

        The whole-pixel box nearest each physical centre: what the renderer paints.
        """
        if "boxes" not in self._cache:
            side = np.array([self.size_px(o) for o in self.objects])[:, None]  # (N, 1)
            c = self.centres()  # (N, T, 2)
            x0 = np.floor(c[..., 0] - side / 2 + 0.5).astype(np.int64)  # (N, T)
            y0 = np.floor(c[..., 1] - side / 2 + 0.5).astype(np.int64)
            x0 = np.clip(x0, 0, self.width - side)
            y0 = np.clip(y0, 0, self.height - side)
            self._cache["boxes"] = np.stack([x0, y0, x0 + side, y0 + side], axis=-1)
        return self._cache["boxes"]

    def with_length(self, num_frames: int) -> SceneGraph:
        """The same scene, rendered for another number of frames (motion continues)."""
        return replace(self, num_frames=num_frames, _cache={})

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict: canvas, objects with motion parameters and per-frame ground truth
        (``centers``: physical centre, ``bboxes``: the drawn whole-pixel box)."""
        centres, boxes = self.centres(), self.boxes()
        objects = []
        for i, o in enumerate(self.objects):
            d = asdict(o)
            d["size_px"] = self.size_px(o)
            d["centers"] = np.round(centres[i], 3).tolist()
            d["bboxes"] = boxes[i].tolist()
            objects.append(d)
        return {
            "version": 1,
            "background": self.background,
            "height": self.height,
            "width": self.width,
            "num_frames": self.num_frames,
            "fps": self.fps,
            "objects": objects,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> SceneGraph:
        keys = {f for f in SceneObject.__dataclass_fields__}
        try:
            objects = tuple(
                SceneObject(**{k: v for k, v in o.items() if k in keys}) for o in d["objects"]
            )
            return cls(
                background=d["background"],
                objects=objects,
                height=int(d["height"]),
                width=int(d["width"]),
                num_frames=int(d["num_frames"]),
                fps=float(d.get("fps", S.DEFAULT_FPS)),
            )
        except (KeyError, TypeError) as e:
            raise InvalidInputError(f"not a Shapes World scene graph: {e!r}") from e


def _check_choice(what: str, value: object, choices: Sequence[str]) -> None:
    if value not in choices:
        raise InvalidInputError(f"unknown {what} {value!r}; choose one of {', '.join(choices)}")


def _fold(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Elastic reflection between walls ``lo`` and ``hi`` (a triangle wave)."""
    span = hi - lo
    if span <= 0:
        return np.full_like(p, lo)
    q = np.mod(p - lo, 2 * span)
    return lo + np.where(q > span, 2 * span - q, q)


def _bounce_y(y0: float, vy0: float, g: float, e: float, floor: float, n: int) -> np.ndarray:
    """Height under gravity with floor contacts, sampled at frames 0..n-1 (exact, event-driven).

    Each contact keeps ``e`` of the speed; the rebound is topped up to at least 0.6 of the
    first impact speed so a long clip keeps bouncing (apex >= 0.36 of the first drop).
    """
    ys = np.empty(n)
    y, v, t = y0, vy0, 0.0
    v_first: float | None = None
    for k in range(n):
        while True:
            disc = v * v + 2 * g * (floor - y)
            tau = (-v + math.sqrt(max(disc, 0.0))) / g  # time to the next contact
            if t + tau > k:
                break
            t += tau
            v_in = v + g * tau
            v_first = v_in if v_first is None else v_first
            y, v = floor, -max(e * v_in, 0.6 * v_first)
        dt = k - t
        ys[k] = y + v * dt + 0.5 * g * dt * dt
    return ys


def object_centres(obj: SceneObject, side: int, height: int, width: int, n: int) -> np.ndarray:
    """Centres (n, 2) of one object over frames 0..n-1; walls reflect, the floor bounces."""
    t = np.arange(n, dtype=np.float64)
    half = side / 2
    x = _fold(obj.x0 + obj.vx * t, half, width - half)
    if obj.motion == "bounce":
        y = _bounce_y(obj.y0, obj.vy, obj.gravity, obj.restitution, height - half, n)
    else:
        y = _fold(obj.y0 + obj.vy * t, half, height - half)
    return np.stack([x, y], axis=-1)


def _place(o: ObjectSpec, size: str, h: int, w: int, rng: np.random.Generator) -> SceneObject:
    """Draw motion parameters for one object so it follows the spec's motion rules."""
    side = S.size_px(size, h, w)
    half = side / 2
    x0 = rng.uniform(half, w - half)
    y0 = rng.uniform(half, h - half)
    kw: dict[str, float] = {}
    if o.motion in S.LINEAR_MOTIONS:
        axis_len = w if o.motion in ("left", "right") else h
        disp = rng.uniform(0.3, 0.6) * axis_len  # net displacement over a default clip
        disp = min(disp, axis_len - side)
        sign = 1.0 if o.motion in ("right", "down") else -1.0
        start = rng.uniform(half, axis_len - half - disp)  # whole default path inside
        start = start if sign > 0 else axis_len - start
        v = sign * disp / _REF_STEPS
        if o.motion in ("left", "right"):
            x0, kw["vx"] = start, v
        else:
            y0, kw["vy"] = start, v
    elif o.motion == "bounce":
        y0 = rng.uniform(half, max(half, h / 2))  # drops from the upper half
        drop = (h - half) - y0
        contact = rng.uniform(5.0, 10.0)  # frame of the first floor contact
        kw["gravity"] = 2 * drop / contact**2
        kw["restitution"] = rng.uniform(0.7, 0.9)
        kw["vx"] = rng.uniform(-0.1, 0.1) * w / _REF_STEPS
    return SceneObject(o.color, o.shape, size, o.motion, float(x0), float(y0), **kw)


def _min_gap(graph: SceneGraph) -> float:
    """Smallest gap in pixels between any two objects' boxes over the checked frames."""
    if len(graph.objects) < 2:
        return math.inf
    b = graph.with_length(min(graph.num_frames, _OVERLAP_HORIZON)).boxes()  # (N, T, 4)
    best = math.inf
    for i in range(len(b)):
        for j in range(i + 1, len(b)):
            gx = np.maximum(b[i, :, 0] - b[j, :, 2], b[j, :, 0] - b[i, :, 2])  # (T,)
            gy = np.maximum(b[i, :, 1] - b[j, :, 3], b[j, :, 1] - b[i, :, 3])
            best = min(best, float(np.min(np.maximum(gx, gy))))
    return best


def sample_spec(
    rng: np.random.Generator,
    num_objects: int | None = None,
    max_objects: int = 3,
    with_size: bool = True,
) -> SceneSpec:
    """A random caption content: background, then objects with distinct colours."""
    if not 1 <= max_objects <= 3 or (num_objects is not None and not 1 <= num_objects <= 3):
        raise InvalidInputError(
            f"scenes hold 1 to 3 objects, got num_objects={num_objects}, max_objects={max_objects}"
        )
    if num_objects is None:
        weights = np.array([0.4, 0.4, 0.2][:max_objects])
        num_objects = int(rng.choice(np.arange(1, max_objects + 1), p=weights / weights.sum()))
    colors = rng.choice(list(S.COLORS), size=num_objects, replace=False)
    objects = tuple(
        ObjectSpec(
            color=str(c),
            shape=str(rng.choice(S.SHAPES)),
            motion=str(rng.choice(S.MOTIONS)),
            size=str(rng.choice(S.SIZES)) if with_size else None,
        )
        for c in colors
    )
    return SceneSpec(str(rng.choice(list(S.BACKGROUNDS))), objects)


def sample_scene(
    seed: int | np.random.Generator,
    *,
    spec: SceneSpec | None = None,
    height: int = S.DEFAULT_SIZE,
    width: int = S.DEFAULT_SIZE,
    num_frames: int = S.DEFAULT_FRAMES,
    fps: float = S.DEFAULT_FPS,
    num_objects: int | None = None,
    max_objects: int = 3,
    tries: int = 200,
) -> SceneGraph:
    """A seeded random scene; with ``spec``, one that realises that caption content.

    Objects are placed so their boxes stay at least 2 px apart (no occlusion) over the clip;
    after ``tries`` draws the best-separated placement is kept.
    """
    S.check_canvas(height, width)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    spec = spec or sample_spec(rng, num_objects=num_objects, max_objects=max_objects)
    sizes = [o.size or str(rng.choice(S.SIZES)) for o in spec.objects]
    best: tuple[float, SceneGraph] | None = None
    for _ in range(tries):
        objs = tuple(
            _place(o, s, height, width, rng) for o, s in zip(spec.objects, sizes, strict=True)
        )
        graph = SceneGraph(spec.background, objs, height, width, num_frames, fps)
        gap = _min_gap(graph)
        if gap >= _MIN_GAP_PX:
            return graph
        if best is None or gap > best[0]:
            best = (gap, graph)
    assert best is not None
    return best[1]
