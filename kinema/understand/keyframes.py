"""Feature images: the frames that show a video best at a glance, and a contact sheet of them.

Per shot, every frame gets a quality score: sharpness (variance of the Laplacian, ranked
within the shot), exposure (mean brightness near the middle, few clipped pixels) and
typicality (cosine similarity of a small colour thumbnail to the shot's average thumbnail:
the frame that looks most like the shot, not a transition or a flash). Picks are then made
greedily across the whole video by score minus similarity to frames already picked (maximal
marginal relevance), so a static video does not return five copies of one frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kinema.io.video import luma
from kinema.understand.shots import Shot


@dataclass(frozen=True)
class KeyframeConfig:
    """How frames are scored and picked."""

    sharpness: float = 0.3  # weight of the in-shot sharpness rank
    exposure: float = 0.3  # weight of good exposure
    typicality: float = 0.4  # weight of looking like the rest of the shot
    diversity: float = 0.7  # penalty per unit of similarity to an earlier pick
    per_shot_seconds: float = 8.0  # one extra pick per this many seconds of a long shot
    thumb: int = 16  # side of the thumbnail used for similarity


@dataclass(frozen=True)
class Keyframe:
    frame: int
    time: float
    shot: int
    score: float  # quality score in [0, 1]
    sharpness: float
    exposure: float
    typicality: float

    def to_json(self) -> dict[str, object]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def _thumbs(frames: np.ndarray, side: int) -> np.ndarray:
    """Unit-norm, mean-removed colour thumbnails (T, side*side*3) for similarity."""
    import cv2

    th = np.stack([cv2.resize(f, (side, side), interpolation=cv2.INTER_AREA) for f in frames])
    v = th.reshape(len(frames), -1).astype(np.float32) / 255.0
    v = v - v.mean(axis=1, keepdims=True)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-6)


def frame_scores(
    frames: np.ndarray, config: KeyframeConfig = KeyframeConfig()
) -> dict[str, np.ndarray]:
    """Per-frame sharpness (rank in [0, 1]), exposure and typicality in one shot's frames."""
    import cv2

    gray = luma(frames)  # (T, H, W)
    lap = np.array([cv2.Laplacian(g, cv2.CV_32F).var() for g in gray])  # (T,)
    n = len(frames)
    sharp = (np.argsort(np.argsort(lap)) / max(n - 1, 1)) if n > 1 else np.ones(1)
    mean = gray.mean(axis=(1, 2)) / 255.0  # (T,)
    clipped = ((gray < 4) | (gray > 251)).mean(axis=(1, 2))  # (T,)
    exposure = np.clip(1.0 - 2.0 * np.abs(mean - 0.5), 0, 1) * 0.5 + (1 - clipped) * 0.5
    contrast = gray.std(axis=(1, 2))  # (T,): a black frame in a fade has none
    exposure = exposure * np.clip(contrast / 8.0, 0, 1)
    thumbs = _thumbs(frames, config.thumb)  # (T, D)
    centre = thumbs.mean(axis=0)
    centre /= max(float(np.linalg.norm(centre)), 1e-6)
    typical = (thumbs @ centre + 1) / 2  # (T,) in [0, 1]
    return {"sharpness": sharp, "exposure": exposure, "typicality": typical, "thumbs": thumbs}


def pick_keyframes(
    frames: np.ndarray,
    fps: float,
    shots: list[Shot],
    max_frames: int = 8,
    config: KeyframeConfig = KeyframeConfig(),
) -> list[Keyframe]:
    """The feature images of a video, in time order: at least one per shot while ``max_frames``
    allows (longest shots first), more for long shots, never near-duplicates."""
    cands: list[tuple[int, int, float, float, float, float]] = []  # frame, shot, score, s, e, t
    thumbs: dict[int, np.ndarray] = {}
    for shot in shots:
        step = max(1, shot.frames // 64)  # at most ~64 candidates per shot
        idx = np.arange(shot.start, shot.end, step)
        s = frame_scores(frames[idx], config)
        score = (config.sharpness * s["sharpness"] + config.exposure * s["exposure"]
                 + config.typicality * s["typicality"])  # fmt: skip
        for j, f in enumerate(idx):
            cands.append((int(f), shot.index, float(score[j]), float(s["sharpness"][j]),
                          float(s["exposure"][j]), float(s["typicality"][j])))  # fmt: skip
            thumbs[int(f)] = s["thumbs"][j]
    quota = {sh.index: 1 + int(sh.frames / fps // config.per_shot_seconds) for sh in shots}
    by_len = sorted(shots, key=lambda sh: -sh.frames)
    picked: list[tuple[int, int, float, float, float, float]] = []

    def best(pool: list[tuple[int, int, float, float, float, float]]):
        def value(c: tuple[int, int, float, float, float, float]) -> float:
            sim = max((float(thumbs[c[0]] @ thumbs[p[0]]) for p in picked), default=0.0)
            return c[2] - config.diversity * max(sim, 0.0)

        return max(pool, key=value) if pool else None

    for sh in by_len:  # one per shot first, longest shots first
        if len(picked) >= max_frames:
            break
        c = best([c for c in cands if c[1] == sh.index])
        if c is not None:
            picked.append(c)
    while len(picked) < max_frames:  # then long shots' extra picks
        have = {p[0] for p in picked}
        counts = {i: sum(p[1] == i for p in picked) for i in quota}
        pool = [c for c in cands if c[0] not in have and counts[c[1]] < quota[c[1]]
                and all(abs(c[0] - p[0]) >= fps for p in picked)]  # fmt: skip
        c = best(pool)
        if c is None:
            break
        picked.append(c)
    return [Keyframe(c[0], c[0] / fps, c[1], c[2], c[3], c[4], c[5]) for c in sorted(picked)]


def contact_sheet(frames: np.ndarray, keyframes: list[Keyframe], columns: int = 4) -> np.ndarray:
    """A grid of the feature images, each with its time and shot underneath (uint8 RGB)."""
    import cv2

    h, w = frames.shape[1:3]
    scale = max(1, int(np.ceil(160 / w)))  # small videos are enlarged (nearest) to read
    tw, th = w * scale, h * scale
    label = 18
    cols = max(1, min(columns, len(keyframes)))
    rows = max(1, -(-len(keyframes) // cols))
    pad = 6
    sheet = np.full((rows * (th + label + pad) + pad, cols * (tw + pad) + pad, 3), 24, np.uint8)
    for k, kf in enumerate(keyframes):
        r, c = divmod(k, cols)
        y, x = pad + r * (th + label + pad), pad + c * (tw + pad)
        img = cv2.resize(frames[kf.frame], (tw, th), interpolation=cv2.INTER_NEAREST)
        sheet[y : y + th, x : x + tw] = img
        minutes, seconds = divmod(kf.time, 60)
        text = f"{int(minutes):02d}:{seconds:05.2f}  shot {kf.shot + 1}"
        cv2.putText(sheet, text, (x + 2, y + th + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    (235, 235, 235), 1, cv2.LINE_AA)  # fmt: skip
    return sheet


def write_keyframes(
    frames: np.ndarray,
    fps: float,
    shots: list[Shot],
    out: str | Path,
    max_frames: int = 8,
    source: str = "",
    keyframes: list[Keyframe] | None = None,
) -> dict[str, object]:
    """Write ``frame_<n>.png`` per feature image, ``contact_sheet.png`` and ``index.json``;
    ``keyframes`` already picked (e.g. by ``describe``) are written as they are."""
    import cv2

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    kfs = keyframes if keyframes is not None else pick_keyframes(frames, fps, shots, max_frames)
    digits = max(5, len(str(len(frames))))
    entries = []
    for kf in kfs:
        name = f"frame_{kf.frame:0{digits}d}.png"
        cv2.imwrite(str(out / name), frames[kf.frame][..., ::-1])
        entries.append({"file": name, **kf.to_json()})
    cv2.imwrite(str(out / "contact_sheet.png"), contact_sheet(frames, kfs)[..., ::-1])
    index = {
        "source": source,
        "fps": fps,
        "frames": len(frames),
        "shots": [s.to_json() for s in shots],
        "keyframes": entries,
        "contact_sheet": "contact_sheet.png",
    }
    (out / "index.json").write_text(json.dumps(index, indent=1))
    return index
