"""Best of N in text and image to video: score candidate clips against their prompt.

Sampling several clips and keeping the one a separate model judges closest to the prompt is
how DALL-E (CLIP reranking) and the inference-time search of Ma et al. 2025 ("Inference-Time
Scaling for Diffusion Models beyond Scaling Denoising Steps") spend compute at sampling time
instead of training time. ``Pipeline`` takes any object with this module's ``Verifier``
interface; ``pipeline.json``'s ``verifier`` names one in ``VERIFIERS`` and ``candidates`` says
how many clips it chooses from.

``ShapesWorldVerifier`` is the embedded model's: the shipped Shapes World recognizer
(``kinema.understand.recognize``, trained on rendered clips with their scene labels) reads
each candidate, and a candidate's score is the log-probability the recognizer gives the
prompt's scene: the background, each named object present with its shape, motion and (where
the prompt names one) size, and every other object colour absent. It reads only prompts the
world parser reads unambiguously (``kinema.world.read_world_prompt``); for any other prompt it
answers None and the pipeline samples one clip. It is not the Shapes World scorer
(``kinema.world.parse_clip``, which reads pixels by the world's spec and is what the benches
measure with): a learned reader that agrees with it on rendered clips.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from kinema.errors import InvalidInputError
from kinema.models.classifier import run_batched
from kinema.understand.recognize import (
    BACKGROUNDS,
    CLIP_FRAMES,
    COLORS,
    PREFIX,
    Recognizer,
    SlotRecognizer,
    prepare,
    split_heads,
)
from kinema.world import spec as S
from kinema.world.captions import read_world_prompt
from kinema.world.scene import SceneSpec


class Verifier(Protocol):
    """What ``Pipeline`` needs of a verifier. One may also offer ``caption(frames) -> str |
    None``, the prompt it reads in frames given without one (``Pipeline.caption_for``; the
    Shapes World verifier does), and ``frames_read: int``, how many of a clip's first frames
    ``score`` reads for a target that is not ``continuing`` (the pipeline's screen then decodes
    only the latents those frames come from: the VAE is causal)."""

    def target(self, prompt: str, continuing: bool = False) -> object | None:
        """What ``score`` checks a clip against, read from ``prompt``; None where it cannot
        read the prompt (the pipeline then samples a single clip). ``continuing``: the clips
        are windows of a video that goes on (extension), not the whole video the prompt
        describes."""
        ...

    def score(self, clips: np.ndarray, target: object) -> np.ndarray:
        """float [K]: higher = closer to ``target``, for uint8 clips [K, T, H, W, 3]."""
        ...

    def save_pretrained(self, directory: str | Path) -> None: ...


def recognizer_view(clips: np.ndarray) -> np.ndarray:
    """uint8 [K, T, H, W, 3] -> what the recognizer reads of each (``recognize.prepare``): its
    first 17 frames, the short side scaled to 64 pixels with the aspect kept."""
    if clips.ndim != 5 or clips.shape[-1] != 3 or clips.dtype != np.uint8:
        raise InvalidInputError(f"clips must be uint8 [K, T, H, W, 3], got {clips.shape}")
    return np.stack([prepare(c) for c in clips])


# a linear motion turns round when the object reflects off a wall (the world spec), which the
# later windows of a long video show
REVERSED = {"left": "right", "right": "left", "up": "down", "down": "up"}


@dataclass(frozen=True)
class Continuing:
    """A window's target: the prompt's scene, each linear motion credited either way round."""

    scene: SceneSpec


class ShapesWorldVerifier:
    """The recognizer's log-probability of the prompt's scene, per candidate clip."""

    name = "shapes-world"
    frames_read = CLIP_FRAMES  # a whole clip's first 17 (``recognizer_view``)

    def __init__(self, recognizer: SlotRecognizer) -> None:
        self.recognizer = recognizer.eval()

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> ShapesWorldVerifier:
        return cls(SlotRecognizer.from_pretrained(directory, PREFIX))

    def save_pretrained(self, directory: str | Path) -> None:
        self.recognizer.save_pretrained(directory, PREFIX)

    def caption(self, frames: np.ndarray) -> str | None:
        """The canonical caption of what the recognizer reads in uint8 frames [T, H, W, 3] (their
        last 17: where a video stands now, for a continuation), None where it reads no Shapes
        World scene it is sure of."""
        read = Recognizer(self.recognizer)(frames[-CLIP_FRAMES:])
        return read.caption if read.known else None

    def target(self, prompt: str, continuing: bool = False) -> SceneSpec | Continuing | None:
        scene = read_world_prompt(prompt)
        if scene is None:
            return None
        return Continuing(scene) if continuing else scene

    @torch.no_grad()
    def score(self, clips: np.ndarray, target: object) -> np.ndarray:
        either_way = isinstance(target, Continuing)
        if either_way:
            target = target.scene  # type: ignore[union-attr]
        if not isinstance(target, SceneSpec):
            raise InvalidInputError(f"the shapes-world verifier scores a SceneSpec, got {target!r}")
        heads = split_heads(run_batched(self.recognizer, recognizer_view(clips)))
        present = torch.nn.functional.logsigmoid(heads["present"]).numpy()  # [K, 6]
        absent = torch.nn.functional.logsigmoid(-heads["present"]).numpy()  # [K, 6]
        lp = {
            k: heads[k].log_softmax(-1).numpy() for k in ("background", "shape", "size", "motion")
        }
        out = lp["background"][:, BACKGROUNDS.index(target.background)].astype(np.float64)  # [K]
        named = {o.color for o in target.objects}
        for c, color in enumerate(COLORS):
            if color not in named:
                out += absent[:, c]
        for o in target.objects:
            c = COLORS.index(o.color)
            out += present[:, c]
            out += lp["shape"][:, c, S.SHAPES.index(o.shape)]
            m, i = lp["motion"][:, c], S.MOTIONS.index(o.motion)  # [K, motions]
            if either_way and o.motion in REVERSED:  # p(motion) + p(reversed)
                out += np.logaddexp(m[:, i], m[:, S.MOTIONS.index(REVERSED[o.motion])])
            else:
                out += m[:, i]
            if o.size is not None:
                out += lp["size"][:, c, S.SIZES.index(o.size)]
        return out


# pipeline.json's verifier -> a loader taking the pipeline's weights folder
VERIFIERS = {"shapes-world": ShapesWorldVerifier.from_pretrained}
