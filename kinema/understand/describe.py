"""``kinema describe``: a readable summary of any video, and the JSON behind it.

Per shot, real signals that mean something on any footage: motion magnitude and camera
motion from dense optical flow (OpenCV's Farneback, on a small grey copy), brightness,
dominant colours (k-means, named by the nearest basic colour) and a static/dynamic label;
then what the Shapes World recognizer names in it (or "unknown" on footage unlike its world),
and the shot's feature images.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kinema.io.video import luma
from kinema.understand.keyframes import Keyframe, pick_keyframes
from kinema.understand.shots import Shot, ShotConfig, detect_shots

# Basic colour names for dominant colours (sRGB); the nearest one names a cluster.
COLOUR_NAMES: dict[str, tuple[int, int, int]] = {
    "black": (0, 0, 0), "white": (255, 255, 255), "gray": (128, 128, 128),
    "dark gray": (64, 64, 64), "light gray": (192, 192, 192), "red": (220, 40, 40),
    "dark red": (128, 20, 20), "orange": (240, 140, 30), "yellow": (240, 220, 40),
    "brown": (130, 85, 45), "green": (40, 180, 70), "dark green": (20, 90, 40),
    "cyan": (40, 210, 220), "blue": (40, 90, 230), "navy": (20, 30, 110),
    "purple": (150, 60, 210), "pink": (240, 150, 190), "beige": (220, 200, 160),
}  # fmt: skip


@dataclass(frozen=True)
class DescribeConfig:
    """Thresholds of the per-shot signals."""

    flow_side: int = 128  # optical flow runs on frames resized to this longer side
    flow_pairs: int = 24  # at most this many frame pairs per shot (evenly spaced)
    static_motion: float = 0.01  # mean flow below this (share of the frame side per second)
    # is "static"
    camera_min: float = 0.02  # median flow above this (share of side per second) is a camera move
    camera_coherence: float = (
        0.45  # ... when more than this share of a 4x4 grid moves with the shift
    )
    colours: int = 3  # dominant colours reported per shot
    shots: ShotConfig = field(default_factory=ShotConfig)


def flow_stats(frames: np.ndarray, fps: float, cfg: DescribeConfig) -> dict[str, Any]:
    """Motion magnitude and camera motion of one shot from Farneback optical flow."""
    import cv2

    t, h, w = frames.shape[:3]
    if t < 2:
        return {"motion": 0.0, "camera": "none", "camera_speed": 0.0, "coherence": 0.0}
    scale = cfg.flow_side / max(h, w)
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    grey = [cv2.resize(cv2.cvtColor(f, cv2.COLOR_RGB2GRAY), size, interpolation=cv2.INTER_AREA)
            for f in frames]  # fmt: skip
    pairs = np.unique(np.linspace(0, t - 2, min(cfg.flow_pairs, t - 1)).astype(int))
    window = cv2.createHanningWindow(size, cv2.CV_32F)
    mags, moves, resp = [], [], []
    side = max(size)
    for i in pairs:
        flow = cv2.calcOpticalFlowFarneback(grey[i], grey[i + 1], None, 0.5, 3, 15, 3, 5, 1.2, 0)
        mags.append(float(np.linalg.norm(flow.reshape(-1, 2), axis=1).mean()))
        # the camera's share of the motion: the global shift by phase correlation, which
        # textureless regions (sky, walls) cannot drag towards zero as they do a median flow
        (dx, dy), r = cv2.phaseCorrelate(grey[i].astype(np.float32), grey[i + 1].astype(np.float32),
                                         window)  # fmt: skip
        moves.append((dx, dy))
        # a camera moves the whole picture: the shift must be what the optical flow shows in
        # most of a 4x4 grid of the frame, not in one region (one object on a flat background)
        shift = np.array([dx, dy], np.float32)
        agree = np.linalg.norm(flow - shift, axis=-1) < max(0.5, 0.5 * float(np.linalg.norm(shift)))
        agree &= np.linalg.norm(flow, axis=-1) > 0.25 * float(np.linalg.norm(shift))
        gh, gw = agree.shape[0] // 4 * 4, agree.shape[1] // 4 * 4
        cells = agree[:gh, :gw].reshape(4, gh // 4, 4, gw // 4).mean(axis=(1, 3))  # (4, 4)
        resp.append(float((cells > 0.2).mean()) if r > 0.05 else 0.0)
    per_second = fps / side  # px per frame -> share of the frame side per second
    motion = float(np.mean(mags)) * per_second
    move = np.median(np.array(moves), axis=0) * per_second  # (2,): content motion (x, y)
    coherence = float(np.median(resp))  # share of the frame that moves with the shift
    speed = float(np.linalg.norm(move))
    camera = "none"
    if speed > cfg.camera_min and coherence > cfg.camera_coherence:
        # content moving right means the camera pans left; image y grows downward
        if abs(move[0]) >= abs(move[1]):
            camera = "pan left" if move[0] > 0 else "pan right"
        else:
            camera = "tilt up" if move[1] > 0 else "tilt down"
    return {"motion": motion, "camera": camera, "camera_speed": speed, "coherence": coherence}


def brightness(frames: np.ndarray) -> float:
    """Mean luma (0-255) of up to 8 evenly spaced frames."""
    return float(luma(frames[:: max(1, len(frames) // 8)]).mean())


def dominant_colours(frames: np.ndarray, k: int = 3) -> list[dict[str, Any]]:
    """The k main colours (k-means on a pixel sample) with names and shares, largest first."""
    import cv2

    step = max(1, len(frames) // 6)
    px = frames[::step].reshape(-1, 3).astype(np.float32)
    if len(px) > 20000:
        px = px[np.random.default_rng(0).choice(len(px), 20000, replace=False)]
    k = min(k, len(np.unique(px, axis=0)))
    crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    cv2.setRNGSeed(0)
    _, labels, centres = cv2.kmeans(px, k, None, crit, 2, cv2.KMEANS_PP_CENTERS)
    share = np.bincount(labels.ravel(), minlength=k) / len(labels)
    names = list(COLOUR_NAMES)
    table = np.array(list(COLOUR_NAMES.values()), np.float32)
    out = []
    for c in np.argsort(-share):
        rgb = centres[c]
        name = names[int(((table - rgb) ** 2).sum(1).argmin())]
        out.append({"name": name, "rgb": [round(x) for x in rgb],
                    "share": round(float(share[c]), 3)})  # fmt: skip
    return out


@dataclass
class ShotSummary:
    shot: Shot
    motion: float  # mean optical-flow speed, share of the frame side per second
    label: str  # "static" | "dynamic"
    camera: str  # "none", "pan left/right", "tilt up/down"
    brightness: float  # mean luma 0..255
    colours: list[dict[str, Any]]
    recognition: dict[str, Any] | None = None  # the recognizer's reading (None: not loaded)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.shot.to_json(),
            "motion": round(self.motion, 4),
            "label": self.label,
            "camera": self.camera,
            "brightness": round(self.brightness, 1),
            "colours": self.colours,
            "recognition": self.recognition,
        }


@dataclass
class Description:
    source: str
    duration: float
    width: int
    height: int
    fps: float
    frames: int
    shots: list[ShotSummary]
    keyframes: list[Keyframe]
    caption: str
    seconds: float = 0.0  # how long describing took

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "duration": round(self.duration, 3),
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "frames": self.frames,
            "caption": self.caption,
            "shots": [s.to_json() for s in self.shots],
            "keyframes": [k.to_json() for k in self.keyframes],
            "seconds": round(self.seconds, 2),
        }

    def text(self) -> str:
        """The summary a person reads."""
        lines = [
            f"{Path(self.source).name or 'video'}: {self.duration:.1f} s, {self.width}x"
            f"{self.height}, {self.fps:g} fps, {self.frames} frames, {len(self.shots)} "
            f"shot{'s' if len(self.shots) != 1 else ''}",
            f"caption: {self.caption}",
        ]
        for s in self.shots:
            cols = ", ".join(f"{c['name']} {100 * c['share']:.0f}%" for c in s.colours)
            lines.append(
                f"  shot {s.shot.index + 1} ({s.shot.transition}) {s.shot.start_time:.2f}-"
                f"{s.shot.end_time:.2f} s: {s.label}, motion {s.motion:.3f}, camera {s.camera}, "
                f"brightness {s.brightness:.0f}, colours {cols}"
            )
            rec = s.recognition
            if rec is not None:
                lines.append(f"    sees: {rec['caption']}"
                             + (f" ({rec['reason']})" if not rec["known"] else ""))  # fmt: skip
        frames = ", ".join(f"{k.time:.2f} s" for k in self.keyframes)
        lines.append(f"feature images at: {frames}")
        return "\n".join(lines)


def describe(
    frames: np.ndarray,
    fps: float,
    source: str = "",
    recognizer: Any = None,
    max_keyframes: int = 8,
    config: DescribeConfig = DescribeConfig(),
) -> Description:
    """Describe uint8 frames (T, H, W, 3) at ``fps``; ``recognizer`` (a ``Recognizer``) is
    optional: without it, shots carry no object reading."""
    t0 = time.perf_counter()
    shots = detect_shots(frames, fps, config.shots)
    summaries = []
    for shot in shots:
        part = frames[shot.start : shot.end]
        flow = flow_stats(part, fps, config)
        luma = brightness(part)
        rec = None
        if recognizer is not None:
            rec = recognizer(part).to_json()
        summaries.append(ShotSummary(shot, flow["motion"],
                                     "static" if flow["motion"] < config.static_motion else "dynamic",
                                     flow["camera"], luma, dominant_colours(part, config.colours),
                                     rec))  # fmt: skip
    keyframes = pick_keyframes(frames, fps, shots, max_keyframes)
    known = [s.recognition["caption"] for s in summaries
             if s.recognition is not None and s.recognition["known"]]  # fmt: skip
    if known:
        caption = "; then ".join(dict.fromkeys(known))
    else:
        first = summaries[0]
        what = ", ".join(c["name"] for c in first.colours[:2])
        caption = (f"{len(shots)} shot{'s' if len(shots) != 1 else ''} of {first.label} footage"
                   f" in {what}" + (f", camera {first.camera}" if first.camera != "none" else ""))  # fmt: skip
    return Description(source, len(frames) / fps, frames.shape[2], frames.shape[1], fps,
                       len(frames), summaries, keyframes, caption,
                       time.perf_counter() - t0)  # fmt: skip


def write_description(desc: Description, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(desc.to_json(), indent=1))
    return path
