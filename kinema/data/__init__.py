"""Datasets: manifests, Shapes World synthesis, bucketed video datasets."""

from kinema.data.dataset import BucketBatchSampler, VideoDataset, choose_bucket, collate_videos
from kinema.data.manifest import read_manifest, resolve_manifest, write_manifest
from kinema.data.synth import synth_clip, synth_dataset

__all__ = [
    "BucketBatchSampler",
    "VideoDataset",
    "choose_bucket",
    "collate_videos",
    "read_manifest",
    "resolve_manifest",
    "synth_clip",
    "synth_dataset",
    "write_manifest",
]
