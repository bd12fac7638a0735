"""Shapes World: the built-in procedural world the default model trains and is scored on."""

from kinema.world.captions import (
    canonical_caption,
    caption,
    is_world_caption,
    parse_prompt,
    read_world_prompt,
    rewrite_prompt,
)
from kinema.world.parse import ParsedClip, parse_clip
from kinema.world.render import render
from kinema.world.scene import ObjectSpec, SceneGraph, SceneSpec, sample_scene, sample_spec

__all__ = [
    "ObjectSpec",
    "ParsedClip",
    "SceneGraph",
    "SceneSpec",
    "canonical_caption",
    "caption",
    "is_world_caption",
    "parse_clip",
    "parse_prompt",
    "read_world_prompt",
    "render",
    "rewrite_prompt",
    "sample_scene",
    "sample_spec",
]
