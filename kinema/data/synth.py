"""Write a Shapes World dataset: mp4 clips plus ``manifest.jsonl`` (path, caption, scene graph)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from kinema.config import SynthConfig
from kinema.data.manifest import MANIFEST_NAME, write_manifest
from kinema.errors import InvalidInputError, OutputExistsError
from kinema.io.video import Video, write_video
from kinema.world.captions import canonical_caption, caption
from kinema.world.render import render
from kinema.world.scene import SceneGraph, sample_scene


def clip_rng(seed: int, index: int) -> np.random.Generator:
    """The generator for clip ``index`` of a dataset seeded ``seed`` (independent of order)."""
    return np.random.default_rng([seed, index])


def synth_clip(cfg: SynthConfig, index: int) -> tuple[SceneGraph, np.ndarray, str]:
    """Scene graph, frames (T, H, W, 3) and caption of clip ``index``."""
    rng = clip_rng(cfg.seed, index)
    graph = sample_scene(
        rng,
        height=cfg.height,
        width=cfg.width,
        num_frames=cfg.num_frames,
        fps=cfg.fps,
        max_objects=cfg.max_objects,
    )
    text = caption(graph.spec, rng, cfg.caption_style)  # type: ignore[arg-type]
    return graph, render(graph), text


def iter_synth(cfg: SynthConfig, out: Path) -> Iterator[dict[str, Any]]:
    """Render, encode and yield the manifest entry of each clip in turn."""
    digits = max(6, len(str(cfg.count - 1)))
    for i in range(cfg.count):
        graph, frames, text = synth_clip(cfg, i)
        name = f"clip_{i:0{digits}d}.mp4"
        write_video(Video(frames, cfg.fps), out / name, overwrite=True, quality=cfg.quality)
        yield {
            "path": name,
            "caption": text,
            "canonical": canonical_caption(graph.spec),
            "num_frames": cfg.num_frames,
            "height": cfg.height,
            "width": cfg.width,
            "fps": cfg.fps,
            "scene": graph.to_json(),
        }


def synth_dataset(
    cfg: SynthConfig,
    out: str | Path,
    overwrite: bool = False,
    on_clip: Callable[[int], None] | None = None,
) -> Path:
    """Write ``cfg.count`` clips and their manifest into ``out``; returns the manifest path.

    The manifest is written last, so a folder with a manifest is always complete.
    """
    if cfg.count < 1:
        raise InvalidInputError(f"count must be >= 1, got {cfg.count}")
    if cfg.caption_style not in ("canonical", "train", "any"):
        raise InvalidInputError(
            f"caption_style must be canonical, train or any, got {cfg.caption_style!r}"
        )
    sample_scene(0, height=cfg.height, width=cfg.width, num_frames=1)  # validates the canvas
    out = Path(out)
    manifest = out / MANIFEST_NAME
    if manifest.exists() and not overwrite:
        raise OutputExistsError(manifest, "a dataset is already here", "pass --force to replace it")
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for i, entry in enumerate(iter_synth(cfg, out)):
        entries.append(entry)
        if on_clip:
            on_clip(i)
    return write_manifest(entries, manifest)
