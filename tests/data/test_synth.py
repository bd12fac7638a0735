from __future__ import annotations

import json
from pathlib import Path

import pytest

from kinema.config import SynthConfig
from kinema.data import read_manifest, synth_clip, synth_dataset
from kinema.errors import InvalidInputError, ManifestError, OutputExistsError
from kinema.io import probe, read_video
from kinema.world.captions import parse_prompt
from kinema.world.scene import SceneGraph


def test_synth_writes_clips_and_manifest(tmp_path: Path) -> None:
    cfg = SynthConfig(count=6, height=32, width=48, num_frames=9, seed=3)
    manifest = synth_dataset(cfg, tmp_path / "ds")
    entries = read_manifest(manifest)
    assert len(entries) == 6
    for e in entries:
        assert probe(e["path"]) == {"num_frames": 9, "height": 32, "width": 48, "fps": 8.0}
        graph = SceneGraph.from_json(e["scene"])
        said = parse_prompt(e["caption"])  # a paraphrase: same content, size may be left out
        assert said.background == graph.background
        assert [(o.color, o.shape, o.motion) for o in said.objects] == [
            (o.color, o.shape, o.motion) for o in graph.objects
        ]
        assert parse_prompt(e["canonical"]).objects == graph.spec.objects
        assert len(e["scene"]["objects"][0]["centers"]) == 9
    # clip i depends only on (seed, i)
    _, frames2, text2 = synth_clip(cfg, 2)
    assert entries[2]["caption"] == text2
    assert read_video(entries[2]["path"]).num_frames == frames2.shape[0]


def test_synth_refuses_to_overwrite_and_validates(tmp_path: Path) -> None:
    cfg = SynthConfig(count=2)
    synth_dataset(cfg, tmp_path)
    before = (tmp_path / "manifest.jsonl").read_text()
    with pytest.raises(OutputExistsError, match="already here"):
        synth_dataset(SynthConfig(count=3), tmp_path)
    assert (tmp_path / "manifest.jsonl").read_text() == before
    synth_dataset(SynthConfig(count=3), tmp_path, overwrite=True)
    assert len(read_manifest(tmp_path)) == 3
    with pytest.raises(InvalidInputError, match="count"):
        synth_dataset(SynthConfig(count=0), tmp_path / "x")
    with pytest.raises(InvalidInputError, match="multiple of 16"):
        synth_dataset(SynthConfig(count=1, height=50), tmp_path / "y")
    assert not (tmp_path / "y").exists()


def test_manifest_errors_name_the_line(tmp_path: Path) -> None:
    m = tmp_path / "manifest.jsonl"
    m.write_text(json.dumps({"path": "a.mp4", "caption": "x"}) + "\n{broken\n")
    with pytest.raises(ManifestError, match=r"manifest.jsonl:2: not valid JSON"):
        read_manifest(m)
    m.write_text(json.dumps({"caption": "no path"}) + "\n")
    with pytest.raises(ManifestError, match=r":1: each line needs a \"path\""):
        read_manifest(m)
    m.write_text("\n")
    with pytest.raises(ManifestError, match="no entries"):
        read_manifest(m)
    with pytest.raises(ManifestError, match="no manifest here"):
        read_manifest(tmp_path / "elsewhere")
