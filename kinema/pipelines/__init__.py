"""Pipelines: everything between a prompt and a video, loaded from one weights directory."""

from kinema.pipelines.text_to_video import Pipeline, PipelineConfig

__all__ = ["Pipeline", "PipelineConfig"]
