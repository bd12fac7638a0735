"""A ``VideoDataset`` over any manifest, with size/length buckets so one batch holds one size.

Each clip is assigned to one bucket (frames, H, W): among the buckets its length allows, the
one whose aspect ratio is nearest the clip's (larger area breaks ties). The clip is centre-
cropped to that aspect and resized, and a window of ``frames`` frames (every ``frame_stride``-th)
is taken at a random start that depends only on (seed, epoch, index), so runs reproduce.
``BucketBatchSampler`` yields batches of one bucket each for ``torch.utils.data.DataLoader``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from kinema.config import DataConfig
from kinema.data.manifest import read_manifest
from kinema.errors import InvalidInputError
from kinema.io.video import probe, read_video

Bucket = tuple[int, int, int]  # (frames, height, width)


def _meta(entry: dict[str, Any]) -> tuple[int, int, int]:
    """(frames, H, W) of an entry, from the manifest when it says, else from the file's header."""
    if all(k in entry for k in ("num_frames", "height", "width")):
        return int(entry["num_frames"]), int(entry["height"]), int(entry["width"])
    info = probe(entry["path"])
    return int(info["num_frames"]), int(info["height"]), int(info["width"])


def choose_bucket(
    frames: int, height: int, width: int, buckets: Sequence[Bucket], stride: int = 1
) -> Bucket | None:
    """The bucket for a clip: length fits, aspect nearest (in log ratio), then largest area."""
    fits = [b for b in buckets if (b[0] - 1) * stride + 1 <= frames]
    if not fits:
        return None
    aspect = math.log(width / height)
    return min(
        fits, key=lambda b: (round(abs(math.log(b[2] / b[1]) - aspect), 6), -b[1] * b[2], -b[0])
    )


class VideoDataset(Dataset):
    """Clips of a manifest as float tensors (3, T, H, W) in [-1, 1] with their captions.

    Index with an int (the clip's own bucket) or with ``(index, bucket)`` as the bucket
    sampler does. Clips too short for every bucket are left out and counted in ``dropped``.
    """

    def __init__(self, cfg: DataConfig, manifest: str | Path | None = None) -> None:
        self.cfg = cfg
        buckets: list[Bucket] = [tuple(b) for b in cfg.buckets] or [  # type: ignore[misc]
            (cfg.num_frames, cfg.height, cfg.width)
        ]
        for b in buckets:
            if len(b) != 3 or min(b) < 1:
                raise InvalidInputError(f"a bucket is (frames, height, width) >= 1, got {b}")
        if cfg.frame_stride < 1:
            raise InvalidInputError(f"frame_stride must be >= 1, got {cfg.frame_stride}")
        self.buckets = buckets
        self.entries: list[dict[str, Any]] = []
        self.assigned: list[Bucket] = []
        self.lengths: list[int] = []
        self.dropped = 0
        for entry in read_manifest(manifest or cfg.manifest):
            n, h, w = _meta(entry)
            b = choose_bucket(n, h, w, buckets, cfg.frame_stride)
            if b is None:
                self.dropped += 1
                continue
            self.entries.append(entry)
            self.assigned.append(b)
            self.lengths.append(n)
        self.by_bucket: dict[Bucket, list[int]] = {}  # bucket -> indices of its clips
        for i, b in enumerate(self.assigned):
            self.by_bucket.setdefault(b, []).append(i)
        if not self.entries:
            raise InvalidInputError(
                f"no clip in the manifest is long enough for any bucket {buckets} "
                f"(stride {cfg.frame_stride}); use shorter buckets"
            )
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Changes the random windows; call once per epoch (the sampler does it too)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.entries)

    def window(self, index: int, bucket: Bucket) -> tuple[int, int]:
        """[start, end) source frames of the sample for ``index`` in this epoch."""
        span = (bucket[0] - 1) * self.cfg.frame_stride + 1
        room = self.lengths[index] - span
        if room < 0:
            raise InvalidInputError(
                f"clip {self.entries[index]['path']} has {self.lengths[index]} frames, "
                f"bucket {bucket} needs {span}"
            )
        start = 0
        if self.cfg.random_start and room > 0:
            rng = np.random.default_rng([self.cfg.seed, self.epoch, index])
            start = int(rng.integers(0, room + 1))
        return start, start + span

    def __getitem__(self, key: int | tuple[int, Bucket]) -> dict[str, Any]:
        index, bucket = key if isinstance(key, tuple) else (key, self.assigned[key])
        entry = self.entries[index]
        start, end = self.window(index, bucket)
        video = read_video(entry["path"], start=start, end=end, size=(bucket[1], bucket[2]))
        frames = video.frames[:: self.cfg.frame_stride]  # (T, H, W, 3)
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2)  # (3, T, H, W)
        return {
            "video": x.float().div_(127.5).sub_(1.0),
            "caption": entry.get("caption", ""),
            "index": index,
            "bucket": bucket,
        }


def collate_videos(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack one bucket's items: video (B, 3, T, H, W), captions and indices as lists."""
    buckets = {it["bucket"] for it in items}
    if len(buckets) != 1:
        raise InvalidInputError(f"a batch mixes buckets {sorted(buckets)}; use BucketBatchSampler")
    return {
        "video": torch.stack([it["video"] for it in items]),
        "caption": [it["caption"] for it in items],
        "index": [it["index"] for it in items],
        "bucket": buckets.pop(),
    }


class BucketBatchSampler(Sampler[list[tuple[int, Bucket]]]):
    """Batches of ``(index, bucket)`` keys, each batch from a single bucket.

    Shuffled within buckets and in batch order, reproducibly from (seed, epoch); every call of
    ``__iter__`` advances the epoch so a fresh DataLoader loop sees new windows and order.
    """

    def __init__(
        self,
        dataset: VideoDataset,
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise InvalidInputError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset, self.batch_size, self.shuffle, self.seed = dataset, batch_size, shuffle, seed
        self.drop_last = drop_last
        self.epoch = 0

    def __len__(self) -> int:
        n = 0
        for idx in self.dataset.by_bucket.values():
            n += (
                len(idx) // self.batch_size
                if self.drop_last
                else math.ceil(len(idx) / self.batch_size)
            )
        return n

    def __iter__(self) -> Iterator[list[tuple[int, Bucket]]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.dataset.set_epoch(self.epoch)
        self.epoch += 1
        batches: list[list[tuple[int, Bucket]]] = []
        for bucket, idx in sorted(self.dataset.by_bucket.items()):
            order = rng.permutation(idx) if self.shuffle else np.array(idx)
            for s in range(0, len(order), self.batch_size):
                chunk = order[s : s + self.batch_size]
                if len(chunk) < self.batch_size and self.drop_last:
                    continue
                batches.append([(int(i), bucket) for i in chunk])
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        yield from batches
