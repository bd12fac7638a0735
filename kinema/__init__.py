"""Kinema: text-to-video, video editing and understanding, with provenance on every output.

Public API only; names load lazily so ``import kinema`` stays cheap and side-effect free.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Video": "kinema.io.video",
    "read_video": "kinema.io.video",
    "write_video": "kinema.io.video",
    "SceneGraph": "kinema.world.scene",
    "SceneSpec": "kinema.world.scene",
    "ObjectSpec": "kinema.world.scene",
    "sample_scene": "kinema.world.scene",
    "render": "kinema.world.render",
    "caption": "kinema.world.captions",
    "parse_prompt": "kinema.world.captions",
    "parse_clip": "kinema.world.parse",
    "score_clip": "kinema.eval.fidelity",
    "VideoDataset": "kinema.data.dataset",
    "KinemaError": "kinema.errors",
    "Pipeline": "kinema.pipelines.text_to_video",
    "CausalVAE": "kinema.models.vae",
    "DiT": "kinema.models.dit",
    "TextEncoder": "kinema.models.text",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'kinema' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
