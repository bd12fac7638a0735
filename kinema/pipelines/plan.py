"""Window plans for long video: the prompt each extension window reads, restated from the
frames made so far by the physics of the world the model was trained on.

A long video is made window by window (``Pipeline._extend``), each window continuing the last
frames of the one before. A prompt describes a clip of the default length, and held unchanged
for a minute, "a small yellow square drifting up" keeps asking the model to push the square
into the top wall, a thing its training clips never showed (the world keeps every default
path inside the frame). So the square sticks at the wall, and a stuck object's shape smears
from window to window. The world's physics says what happens there instead: left, right, up
and down reflect off the walls (Shapes World spec, "Motions"). A planner knows that: before a
window it reads the recent frames and, where an object would reach a wall within the window,
the window's prompt has it heading away. The scene is the prompt's throughout (background,
every object's colour, shape and size, and the kind of motion); only which way a linear motion
points changes. This is the long-video counterpart of the prompt rewrite (``prompt_rewrite``):
it restates the user's request in the terms the model follows, as multi-prompt long-video
methods (Gen-L-Video, FreeNoise) give each window its own prompt.

``Pipeline`` takes any object with this module's ``WindowPlanner`` interface;
``pipeline.json``'s ``planner`` names one in ``PLANNERS``; "" holds the prompt in every window.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from kinema.errors import InvalidInputError
from kinema.world import spec as S
from kinema.world.captions import canonical_caption, read_world_prompt
from kinema.world.parse import parse_clip
from kinema.world.scene import SceneSpec

# a linear motion's axis (0 = x, 1 = y) and sign in image coordinates (y grows downward)
AXIS = {"left": (0, -1.0), "right": (0, 1.0), "up": (1, -1.0), "down": (1, 1.0)}
TOWARD = {(0, -1.0): "left", (0, 1.0): "right", (1, -1.0): "up", (1, 1.0): "down"}


class WindowPlanner(Protocol):
    """What ``Pipeline`` needs of a planner."""

    name: str
    # how many of the latest frames ``window_prompt`` reads
    look: int

    def reads(self, prompt: str) -> bool:
        """Whether ``window_prompt`` may restate ``prompt`` (else it always returns it)."""
        ...

    def window_prompt(
        self, prompt: str, recent: np.ndarray, new_frames: int, before: str | None = None
    ) -> str:
        """The text the next window's DiT reads, for ``prompt`` and the video's latest frames
        ``recent`` (uint8 [T, H, W, 3], T <= ``look``), before it adds ``new_frames``;
        ``before``: what the window before read (None for the first window of a call)."""
        ...


@dataclass(frozen=True)
class Heading:
    """Where one object is and which way it goes along its motion's axis, in pixels."""

    position: float  # centre along the axis in the latest frame it was seen
    velocity: float  # pixels per frame along the axis, over the frames read
    half: float  # half its side
    length: int  # the frame's extent along the axis


def heading(centers: np.ndarray, axis: int, side: float, height: int, width: int) -> Heading | None:
    """An object's ``Heading`` from its track (float [T, 2] x, y centres, NaN where absent);
    None where it was seen in fewer than two frames."""
    seen = np.flatnonzero(~np.isnan(centers[:, axis]))  # [n] frame indices
    if len(seen) < 2:
        return None
    c = centers[seen, axis]  # [n]
    velocity = float((c[-1] - c[0]) / (seen[-1] - seen[0]))
    return Heading(float(c[-1]), velocity, side / 2, width if axis == 0 else height)


def slowest(length: int) -> float:
    """The world's slowest linear speed along an axis ``length`` pixels long, in pixels per
    frame: 0.3 of the frame per default clip."""
    return 0.3 * length / (S.DEFAULT_FRAMES - 1)


def seen_going(h: Heading, otherwise: float) -> float:
    """+1 / -1: the way the object is seen going, or ``otherwise`` where it is not seen moving
    (a quarter of the slowest speed or less: stuck at a wall, say)."""
    return float(np.sign(h.velocity)) if abs(h.velocity) >= 0.25 * slowest(h.length) else otherwise


def direction(h: Heading, going: float, new_frames: int, reach: float = 0.5) -> float:
    """+1 / -1: which way an object ``going`` that way should head in the next ``new_frames``
    frames: that way, unless at the speed it is seen going (at least the world's slowest, so a
    stuck object counts as moving) it would reach the wall ahead within ``reach`` of the
    window; then the other way. The world reflects it at the wall; one prompt holds for a whole
    window (and a window that turns halfway reads as neither direction), so with ``reach`` 0.5
    the turn falls on the window boundary nearest to the wall."""
    speed = max(abs(h.velocity), slowest(h.length))
    gap = (h.length - h.half - h.position) if going > 0 else (h.position - h.half)
    return -going if gap < speed * reach * new_frames else going


class ShapesWorldPlanner:
    """Linear motions reflect off the walls: each window's prompt says the way each object
    goes after the reflections the frames so far have reached.

    The way an object goes is the plan's own state, carried by the prompt the window before
    read (``before``), not re-read from the frames: a model told to turn round may slow down
    before it speeds up the other way, and a plan re-read from a slow object would turn it back
    and forth. The first window of a call takes the way the object is seen going in the frames
    it is given (the prompt's way where it is not seen moving). The frames give where each
    object is and its speed, so the turn comes where the wall does.

    It plans prompts the world parser reads unambiguously (``kinema.world.read_world_prompt``),
    and restates one only where a direction differs from the prompt's, as that canonical
    caption with the turned motions; every other prompt, and every window where each object
    goes the prompt's way, reads the prompt as given."""

    name = "shapes-world"
    look = 9  # two latent frames' worth and the one before: enough to read a velocity

    # 0.5: turn at the window boundary nearest to where the wall comes. 60 s from 10 tuning
    # prompts, identity / motion: 50.3% / 59.6% at 0.5, 49.1% / 59.3% at 1.0 (the prompt held:
    # 47.8% / 45.6%; bench/results/edit_eval_planner-*_long_tune.md)
    def __init__(self, reach: float = 0.5) -> None:
        if not 0.0 < reach <= 2.0:
            raise InvalidInputError(f"reach must be in (0, 2] windows, got {reach}")
        self.reach = reach

    @staticmethod
    def _scene(prompt: str) -> SceneSpec | None:
        """The scene of a prompt the world parser reads unambiguously, with a linear motion
        to plan; else None."""
        scene = read_world_prompt(prompt)
        if scene is None:
            return None
        return scene if any(o.motion in AXIS for o in scene.objects) else None

    def reads(self, prompt: str) -> bool:
        return self._scene(prompt) is not None

    def window_prompt(
        self, prompt: str, recent: np.ndarray, new_frames: int, before: str | None = None
    ) -> str:
        if not isinstance(recent, np.ndarray) or recent.ndim != 4 or recent.shape[-1] != 3:
            raise InvalidInputError(
                f"recent frames must be uint8 [T, H, W, 3], got {getattr(recent, 'shape', recent)}"
            )
        scene = self._scene(prompt)
        if scene is None or new_frames < 1 or len(recent) < 2:
            return prompt
        planned = read_world_prompt(before) if before is not None else None
        ways = {o.color: o.motion for o in planned.objects} if planned else {}
        read = parse_clip(recent)
        H, W = recent.shape[1:3]
        objects, turned = [], False
        for o in scene.objects:
            track = read.get(o.color)
            if o.motion not in AXIS:
                objects.append(o)
                continue
            axis, sign = AXIS[o.motion]
            # the way the window before was told (its axis is the prompt's), else as seen
            told = ways.get(o.color)
            h = None if track is None else heading(track.centers, axis, track.side_px, H, W)
            going = AXIS[told][1] if told in AXIS and AXIS[told][0] == axis else None
            if h is None:  # not in the frames: it goes on the way it went
                way = o.motion if going is None else TOWARD[(axis, going)]
            else:
                going = seen_going(h, sign) if going is None else going
                way = TOWARD[(axis, direction(h, going, new_frames, self.reach))]
            turned |= way != o.motion
            objects.append(dataclasses.replace(o, motion=way))
        if not turned:
            return prompt
        return canonical_caption(dataclasses.replace(scene, objects=tuple(objects)))


# pipeline.json's planner -> a planner (they read frames, not weights)
PLANNERS = {"shapes-world": ShapesWorldPlanner}
