from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from kinema.config import DataConfig, SynthConfig
from kinema.data import (
    BucketBatchSampler,
    VideoDataset,
    choose_bucket,
    collate_videos,
    synth_dataset,
)
from kinema.errors import InvalidInputError
from kinema.io import Video, write_video


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A manifest mixing square 17-frame clips and wide 9-frame clips, one without metadata."""
    root = tmp_path_factory.mktemp("mixed")
    synth_dataset(SynthConfig(count=5, seed=1), root / "sq")
    synth_dataset(SynthConfig(count=4, height=32, width=64, num_frames=9, seed=2), root / "wide")
    lines = []
    for sub in ("sq", "wide"):
        for line in (root / sub / "manifest.jsonl").read_text().splitlines():
            e = json.loads(line)
            e["path"] = f"{sub}/{e['path']}"
            lines.append(e)
    # user footage with no metadata in the manifest: probed from the file
    write_video(Video(np.full((12, 48, 96, 3), 90, np.uint8)), root / "own.mp4")
    lines.append({"path": "own.mp4", "caption": "my own clip"})
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(e) for e in lines))
    return root


def test_choose_bucket() -> None:
    buckets = [(17, 64, 64), (9, 32, 64), (9, 64, 64)]
    assert choose_bucket(17, 64, 64, buckets) == (17, 64, 64)
    assert choose_bucket(9, 64, 64, buckets) == (9, 64, 64)  # too short for 17
    assert choose_bucket(30, 48, 96, buckets) == (9, 32, 64)  # aspect 2:1
    assert choose_bucket(5, 64, 64, buckets) is None
    assert choose_bucket(17, 64, 64, [(9, 64, 64)], stride=2) == (9, 64, 64)
    assert choose_bucket(16, 64, 64, [(9, 64, 64)], stride=2) is None


def test_buckets_and_batches(mixed: Path) -> None:
    cfg = DataConfig(
        manifest=str(mixed), buckets=[(17, 64, 64), (9, 32, 64), (9, 64, 64)], batch_size=3
    )
    ds = VideoDataset(cfg)
    assert len(ds) == 10 and ds.dropped == 0
    assert ds.assigned.count((17, 64, 64)) == 5 and ds.assigned.count((9, 32, 64)) == 5
    item = ds[9]
    assert item["video"].shape == (3, 9, 32, 64) and item["caption"] == "my own clip"
    assert item["video"].min() >= -1 and item["video"].max() <= 1
    sampler = BucketBatchSampler(ds, batch_size=3, seed=0)
    loader = DataLoader(ds, batch_sampler=sampler, collate_fn=collate_videos)
    seen = []
    for batch in loader:
        t, h, w = batch["bucket"]
        assert batch["video"].shape[1:] == (3, t, h, w)
        seen += batch["index"]
    assert sorted(seen) == list(range(10)) and len(loader) == 4


def test_windows_are_reproducible_and_change_per_epoch(mixed: Path) -> None:
    cfg = DataConfig(manifest=str(mixed), buckets=[(5, 32, 32)], seed=4)
    a, b = VideoDataset(cfg), VideoDataset(cfg)
    starts = [a.window(i, (5, 32, 32))[0] for i in range(len(a))]
    assert starts == [b.window(i, (5, 32, 32))[0] for i in range(len(b))]
    torch.testing.assert_close(a[0]["video"], b[0]["video"])
    a.set_epoch(1)
    assert [a.window(i, (5, 32, 32))[0] for i in range(len(a))] != starts
    fixed = VideoDataset(DataConfig(manifest=str(mixed), buckets=[(5, 32, 32)], random_start=False))
    assert {fixed.window(i, (5, 32, 32))[0] for i in range(len(fixed))} == {0}


def test_frame_stride_and_short_clips_dropped(mixed: Path) -> None:
    ds = VideoDataset(DataConfig(manifest=str(mixed), buckets=[(9, 64, 64)], frame_stride=2))
    assert len(ds) == 5 and ds.dropped == 5  # only the 17-frame clips span 17 frames
    assert ds[0]["video"].shape == (3, 9, 64, 64)
    with pytest.raises(InvalidInputError, match="no clip in the manifest is long enough"):
        VideoDataset(DataConfig(manifest=str(mixed), buckets=[(33, 64, 64)]))


def test_collate_refuses_mixed_buckets(mixed: Path) -> None:
    ds = VideoDataset(DataConfig(manifest=str(mixed), buckets=[(17, 64, 64), (9, 32, 64)]))
    with pytest.raises(InvalidInputError, match="mixes buckets"):
        collate_videos([ds[0], ds[9]])
