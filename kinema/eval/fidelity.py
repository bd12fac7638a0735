"""Prompt fidelity: does a clip show what its prompt says? Scored with the Shapes World reader.

A clip follows its prompt when the background, and for each prompted object its colour
(found in at least half the frames), shape and motion all match, and no unprompted object
colour is present in more than 10% of frames (the spec's rule). Size is reported too, but,
as the spec says, is not part of "follows".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kinema.data.manifest import MANIFEST_NAME, read_manifest
from kinema.errors import InvalidInputError, VideoNotFoundError
from kinema.io.video import read_video
from kinema.world.captions import parse_prompt
from kinema.world.parse import ParsedClip, parse_clip
from kinema.world.scene import SceneSpec

VIDEO_SUFFIXES = (".mp4", ".webm", ".gif", ".mkv", ".mov")

FOUND_PRESENCE = 0.5  # a prompted object must be seen in at least this share of frames
EXTRA_PRESENCE = 0.1  # an unprompted object seen in more than this share of frames fails the clip
ATTRIBUTES = ("background", "color", "shape", "motion", "size", "no_extra", "all")


@dataclass
class ObjectScore:
    color: str
    found: bool
    shape: bool
    motion: bool
    size: bool | None  # None when the prompt gave no size
    read_as: str = ""  # what the reader saw, for tables and debugging


@dataclass
class ClipScore:
    background: bool
    objects: list[ObjectScore]
    extra: list[str] = field(default_factory=list)  # unprompted colours present

    @property
    def ok(self) -> bool:
        """Follows the prompt: background, every object's colour/shape/motion, nothing extra."""
        return (
            self.background
            and not self.extra
            and all(o.found and o.shape and o.motion for o in self.objects)
        )


def score_parsed(parsed: ParsedClip, spec: SceneSpec) -> ClipScore:
    """Score an already-read clip against a prompt's scene content."""
    wanted = {o.color for o in spec.objects}
    objs = []
    for o in spec.objects:
        seen = parsed.get(o.color)
        found = seen is not None and seen.presence >= FOUND_PRESENCE
        objs.append(
            ObjectScore(
                color=o.color,
                found=found,
                shape=found and seen.shape == o.shape,  # type: ignore[union-attr]
                motion=found and seen.motion == o.motion,  # type: ignore[union-attr]
                size=None if o.size is None else (found and seen.size == o.size),  # type: ignore[union-attr]
                read_as=(
                    f"{seen.size} {seen.color} {seen.shape} {seen.motion} ({seen.presence:.0%})"
                    if seen
                    else "missing"
                ),
            )
        )
    extra = [
        o.color for o in parsed.objects if o.color not in wanted and o.presence > EXTRA_PRESENCE
    ]
    return ClipScore(parsed.background == spec.background, objs, extra)


def score_clip(frames: np.ndarray, spec: SceneSpec) -> ClipScore:
    """Read uint8 frames (T, H, W, 3) and score them against ``spec``."""
    return score_parsed(parse_clip(frames), spec)


def summarize(scores: Iterable[ClipScore]) -> dict[str, float]:
    """Accuracy per attribute over a set: objects for colour/shape/motion/size, clips otherwise."""
    scores = list(scores)
    objs = [o for s in scores for o in s.objects]
    sized = [o for o in objs if o.size is not None]

    def mean(xs: list[bool]) -> float:
        return float(np.mean(xs)) if xs else float("nan")

    return {
        "background": mean([s.background for s in scores]),
        "color": mean([o.found for o in objs]),
        "shape": mean([o.shape for o in objs]),
        "motion": mean([o.motion for o in objs]),
        "size": mean([bool(o.size) for o in sized]),
        "no_extra": mean([not s.extra for s in scores]),
        "all": mean([s.ok for s in scores]),
        "clips": float(len(scores)),
    }


def collect_pairs(target: str | Path, prompt: str | None = None) -> list[tuple[Path, str]]:
    """(clip, prompt) pairs from a manifest, a folder (manifest.jsonl, or clips with same-name
    .txt captions), or a single clip with ``prompt``."""
    target = Path(target)
    if not target.exists():
        raise VideoNotFoundError(target, "no such file or folder", "check the path")
    if target.is_file() and target.suffix.lower() in VIDEO_SUFFIXES:
        if prompt is None:
            raise InvalidInputError(f"{target} is one clip: pass its prompt with --prompt")
        return [(target, prompt)]
    if target.is_file() or (target / MANIFEST_NAME).is_file():
        return [(Path(e["path"]), e.get("caption", "")) for e in read_manifest(target)]
    if target.is_dir():
        pairs = [
            (p, p.with_suffix(".txt").read_text().strip())
            for p in sorted(target.iterdir())
            if p.suffix.lower() in VIDEO_SUFFIXES and p.with_suffix(".txt").is_file()
        ]
        if pairs:
            return pairs
    raise InvalidInputError(
        f"{target}: found no clips to score; give a manifest, a folder with {MANIFEST_NAME} "
        "or clip.mp4 + clip.txt pairs, or one clip with --prompt"
    )


def score_pairs(
    pairs: list[tuple[Path, str]], on_clip: Callable[[int], None] | None = None
) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """Score each clip against its prompt; per-clip records and the set summary."""
    results, scores = [], []
    for i, (path, text) in enumerate(pairs):
        score = score_clip(read_video(path).frames, parse_prompt(text))
        scores.append(score)
        results.append(
            {
                "path": str(path),
                "prompt": text,
                "ok": score.ok,
                "background": score.background,
                "extra": score.extra,
                "read_as": "; ".join(o.read_as for o in score.objects),
            }
        )
        if on_clip:
            on_clip(i)
    return results, summarize(scores)
