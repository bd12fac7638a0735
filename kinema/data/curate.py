"""``kinema data curate RAW_DIR --out DIR``: raw footage -> training clips + a manifest.

Every video is cut at its shots (kinema.understand.shots); shots that are too short, static
(optical-flow motion below a threshold) or too dark are dropped, each with the reason in the
report; the rest are written as mp4 clips with a ``manifest.jsonl`` that ``kinema train``
reads. Captions come from a sidecar beside the video when there is one: ``<stem>.txt`` (one
caption for every shot) or ``<stem>.json`` (``{"caption": ..., "shots": {"0": ...}}``).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kinema.data.manifest import MANIFEST_NAME, write_manifest
from kinema.errors import InvalidInputError, KinemaError, OutputExistsError
from kinema.io.video import Video, read_video, write_video
from kinema.understand.describe import DescribeConfig, brightness, flow_stats
from kinema.understand.shots import detect_shots

VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".gif", ".m4v")


@dataclass(frozen=True)
class CurateConfig:
    """What a clip must be to enter the dataset."""

    min_seconds: float = 1.0  # shorter shots teach little motion
    max_seconds: float = 20.0  # longer shots are cut into pieces of at most this
    min_motion: float = 0.01  # flow speed (share of side per second) below which a shot is static
    min_brightness: float = 20.0  # mean luma (0-255) below which a shot is too dark
    quality: int = 18  # H.264 crf of the written clips
    describe: DescribeConfig = field(default_factory=DescribeConfig)


def sidecar_captions(video: Path) -> tuple[str, dict[int, str]]:
    """(caption for every shot, {shot index: caption}) from ``<stem>.txt`` / ``<stem>.json``."""
    txt, js = video.with_suffix(".txt"), video.with_suffix(".json")
    if js.is_file():
        try:
            raw = json.loads(js.read_text())
        except json.JSONDecodeError as e:
            raise InvalidInputError(f"{js}: not valid JSON ({e.msg})") from e
        shots = {int(k): str(v) for k, v in (raw.get("shots") or {}).items()}
        return str(raw.get("caption", "")), shots
    if txt.is_file():
        return txt.read_text().strip(), {}
    return "", {}


def curate(
    raw_dir: str | Path, out: str | Path, config: CurateConfig = CurateConfig(),
    overwrite: bool = False, on_video=None,
) -> dict[str, Any]:  # fmt: skip
    """Cut, filter and write; returns a report with kept clips and every drop with its reason."""
    raw_dir, out = Path(raw_dir), Path(out)
    if not raw_dir.is_dir():
        raise InvalidInputError(f"{raw_dir}: not a folder of videos")
    videos = sorted(p for p in raw_dir.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    if not videos:
        raise InvalidInputError(f"{raw_dir}: no videos ({', '.join(VIDEO_SUFFIXES)}) inside")
    if (out / MANIFEST_NAME).exists() and not overwrite:
        raise OutputExistsError(out / MANIFEST_NAME, "already exists",
                                "pass overwrite=True (CLI: --force) to replace it")  # fmt: skip
    clips_dir = out / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    for video in videos:
        rel = video.relative_to(raw_dir)
        try:
            src = read_video(video)
        except KinemaError as e:
            dropped.append({"video": str(rel), "reason": f"unreadable: {e}"})
            continue
        caption, per_shot = sidecar_captions(video)
        fps = src.fps
        for shot in detect_shots(src.frames, fps, config.describe.shots):
            pieces = max(1, int(np.ceil(shot.frames / fps / config.max_seconds)))
            bounds = np.linspace(shot.start, shot.end, pieces + 1).astype(int)
            for p, (a, b) in enumerate(itertools.pairwise(bounds)):
                part = src.frames[a:b]
                where = {"video": str(rel), "shot": shot.index, "start": int(a), "end": int(b)}
                seconds = len(part) / fps
                if seconds < config.min_seconds:
                    dropped.append({**where, "reason": f"too short ({seconds:.2f} s)"})
                    continue
                luma = brightness(part)
                if luma < config.min_brightness:
                    dropped.append({**where, "reason": f"too dark (brightness {luma:.0f})"})
                    continue
                motion = flow_stats(part, fps, config.describe)["motion"]
                if motion < config.min_motion:
                    dropped.append({**where, "reason": f"static (motion {motion:.4f})"})
                    continue
                stem = "_".join(rel.with_suffix("").parts)
                name = f"{stem}_shot{shot.index:03d}" + (f"_{p}" if pieces > 1 else "") + ".mp4"
                write_video(Video(part, fps), clips_dir / name, overwrite=True,
                            quality=config.quality)  # fmt: skip
                entries.append({
                    "path": f"clips/{name}",
                    "caption": per_shot.get(shot.index, caption),
                    "num_frames": len(part), "height": part.shape[1], "width": part.shape[2],
                    "fps": fps, "source": str(rel), "start": int(a), "end": int(b),
                    "motion": round(motion, 4), "brightness": round(luma, 1),
                })  # fmt: skip
        if on_video:
            on_video(video)
    if entries:
        write_manifest(entries, out / MANIFEST_NAME)
    report = {"videos": len(videos), "kept": len(entries), "dropped": dropped,
              "manifest": str(out / MANIFEST_NAME) if entries else None}  # fmt: skip
    (out / "curate_report.json").write_text(json.dumps(report, indent=1))
    return report
