"""Shots: where a video cuts, with PySceneDetect's detectors fed frames Kinema already decoded.

Hard cuts come from PySceneDetect's ``AdaptiveDetector`` (a frame's HSV change against the
average of its neighbours, so steady motion does not fire but a jump does). Fades to black
come from its ``ThresholdDetector`` (the cut sits in the middle of the dark run). Both run on
the same uint8 frames in one pass; the union, with cuts closer than ``min_shot`` merged, gives
the shots.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np

from kinema.errors import InvalidInputError


@dataclass(frozen=True)
class ShotConfig:
    """Detector settings; the defaults are tuned on a dev split in bench/shots_eval.py."""

    adaptive_threshold: float = 3.0  # a cut is a frame change this many times its neighbours'
    min_content: float = 2.0  # ... and at least this HSV change (0-255): small objects on flat
    # backgrounds change few pixels, so PySceneDetect's default (15) misses their cuts
    window: int = 2  # neighbours on each side the adaptive detector averages
    fade_threshold: float = 1.0  # mean brightness (0-255) of a "black" frame in a fade; the
    # library's default 12 calls any dark scene (a black background) a fade
    min_shot: int = 4  # frames: cuts closer than this are one transition


@dataclass(frozen=True)
class Shot:
    """Frames ``start`` (inclusive) to ``end`` (exclusive), and how the shot began."""

    index: int
    start: int
    end: int
    start_time: float
    end_time: float
    transition: str  # "start" (first shot), "cut" or "fade"

    @property
    def frames(self) -> int:
        return self.end - self.start

    def to_json(self) -> dict[str, object]:
        out = asdict(self)
        out["start_time"], out["end_time"] = round(self.start_time, 3), round(self.end_time, 3)
        return out


def detect_cuts(
    frames: np.ndarray, fps: float, config: ShotConfig = ShotConfig()
) -> list[tuple[int, str]]:
    """Frame indices where a new shot starts, each with its kind ("cut" or "fade")."""
    from scenedetect import AdaptiveDetector, FrameTimecode, ThresholdDetector

    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InvalidInputError(f"shots need uint8 frames (T, H, W, 3), got {frames.shape}")
    cutter = AdaptiveDetector(
        adaptive_threshold=config.adaptive_threshold,
        min_scene_len=config.min_shot,
        window_width=config.window,
        min_content_val=config.min_content,
    )
    fader = ThresholdDetector(threshold=config.fade_threshold, min_scene_len=config.min_shot,
                              fade_bias=0.0)  # fmt: skip
    found: dict[int, str] = {}
    last = FrameTimecode(0, fps)
    for i, frame in enumerate(frames):
        tc = FrameTimecode(i, fps)
        bgr = np.ascontiguousarray(frame[..., ::-1])  # PySceneDetect reads OpenCV's BGR
        for c in cutter.process_frame(tc, bgr):
            found.setdefault(c.frame_num, "cut")
        for c in fader.process_frame(tc, bgr):
            found[c.frame_num] = "fade"
        last = tc
    for c in cutter.post_process(last):
        found.setdefault(c.frame_num, "cut")
    for c in fader.post_process(last):
        found[c.frame_num] = "fade"
    for f, kind in list(found.items()):  # a fade's cut is its darkest frame, not the middle of
        if kind == "fade":  # the dark run (a dark next shot makes the run lopsided)
            lo = max(0, f - config.min_shot)
            dark = frames[lo : f + config.min_shot].mean(axis=(1, 2, 3))  # (w,)
            best = lo + int(np.argmin(dark))
            del found[f]
            found[best] = "fade"
    merged: list[tuple[int, str]] = []
    for f in sorted(k for k in found if 0 < k < len(frames)):
        if merged and f - merged[-1][0] < config.min_shot:
            if found[f] == "fade":  # a fade's own frame changes are not separate cuts
                merged[-1] = (merged[-1][0], "fade")
            continue
        merged.append((f, found[f]))
    return merged


def detect_shots(frames: np.ndarray, fps: float, config: ShotConfig = ShotConfig()) -> list[Shot]:
    """The shots of a video (at least one), with frame ranges and times."""
    cuts = detect_cuts(frames, fps, config)
    bounds = [(0, "start"), *cuts, (len(frames), "")]
    return [
        Shot(i, a, b, a / fps, b / fps, kind)
        for i, ((a, kind), (b, _)) in enumerate(itertools.pairwise(bounds))
    ]
