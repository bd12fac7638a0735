from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kinema.data.curate import CurateConfig, curate
from kinema.data.manifest import read_manifest
from kinema.errors import InvalidInputError, OutputExistsError
from kinema.io.video import Video, read_video, write_video
from kinema.world.edits import edited_video
from kinema.world.render import render
from kinema.world.scene import ObjectSpec, SceneSpec, sample_scene


def _moving(seed: int, bg: str = "gray") -> np.ndarray:
    spec = SceneSpec(bg, (ObjectSpec("red", "square", "right", "large"),))
    return render(sample_scene(seed, spec=spec, num_frames=24))


def test_cuts_filters_and_captions(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    a, b = _moving(1), _moving(2, "white")
    cut = np.concatenate([a, b])  # two 3 s shots, one hard cut
    write_video(Video(cut, 8.0), raw / "edit.mp4")
    (raw / "edit.json").write_text(json.dumps({"caption": "shapes", "shots": {"1": "on white"}}))
    still = np.repeat(render(sample_scene(3, num_frames=1)), 24, axis=0)
    still[...] = np.maximum(still, 60)  # bright, but nothing moves
    write_video(Video(still, 8.0), raw / "still.mp4")
    dark = (_moving(4) * 0.05).astype(np.uint8)
    write_video(Video(dark, 8.0), raw / "dark.mp4")
    (raw / "dark.txt").write_text("too dark to keep")
    write_video(Video(_moving(5)[:5], 8.0), raw / "short.mp4")
    (raw / "broken.mp4").write_bytes(b"not a video")

    report = curate(raw, tmp_path / "out", CurateConfig())
    assert report["videos"] == 5 and report["kept"] == 2
    reasons = sorted(d["reason"].split(" (")[0].split(":")[0] for d in report["dropped"])
    assert reasons == ["static", "too dark", "too short", "unreadable"]
    entries = read_manifest(tmp_path / "out")
    assert [e["caption"] for e in entries] == ["shapes", "on white"]
    assert [e["num_frames"] for e in entries] == [24, 24]
    assert read_video(entries[1]["path"]).frames.mean() > 150  # the white shot
    with pytest.raises(OutputExistsError):
        curate(raw, tmp_path / "out")
    with pytest.raises(InvalidInputError):
        curate(tmp_path / "missing", tmp_path / "o2")


def test_long_shots_are_split(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    frames, _ = edited_video(np.random.default_rng(0), shots=(1, 1), length=(40, 40))
    write_video(Video(frames, 8.0), raw / "long.mp4")
    report = curate(raw, tmp_path / "out", CurateConfig(max_seconds=2.0))
    entries = read_manifest(tmp_path / "out")
    assert report["kept"] == 3 and sum(e["num_frames"] for e in entries) == 40
