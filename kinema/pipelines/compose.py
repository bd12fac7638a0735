"""Composed text to video: a prompt with several objects made one object at a time.

The embedded DiT follows one object well and binds the attributes of two badly: in a two-object
clip each object's shape and motion read right about half the time, so both objects right is
rare (README, text to video). Guidance does not fix the binding (``bench/t2v_compose_probe.py``:
one conditional per object draws the objects away, a negative prompt with the attributes
swapped moves nothing). What the model does well can be used instead, as divide-and-compose
methods for multi-object generation do (e.g. LLM-grounded and layout-guided diffusion, which
generate or guide each object in its own region and merge the results): each object is
generated alone, by the same DiT and verifier as any one-object prompt, on the prompt's
background, and the clips are laid over each other.

``Pipeline`` takes any object with this module's ``Composer`` interface; ``pipeline.json``'s
``composer`` names one in ``COMPOSERS``; "" makes every prompt in one pass.

``ShapesWorldComposer`` is the embedded model's. In Shapes World the objects do not interact
(each moves by its own rule; shapes-world.md, "Motions") and the background is one flat colour,
so a clip of the whole scene is its objects' clips laid over one background. It splits only
prompts the world parser reads unambiguously (``kinema.world.read_world_prompt``) with two or
more objects, into each object's canonical caption on the prompt's background; it lays them
over each other with a matte read from each clip's own colours: a pixel's opacity is how far it
lies from the background towards the object's palette colour (so anti-aliased edges keep their
blend), and a small object goes above a large one. Objects made one at a time do not know of
each other and may sit on top of each other for the whole clip, which hides the one below from
any reader of the scene; where the pipeline has several candidates of each object it lays
together the ones that hide each other least (``clashes``), the verifier's best among those.
"""

from __future__ import annotations

import itertools
from typing import Protocol

import numpy as np

from kinema.errors import InvalidInputError
from kinema.world import spec as S
from kinema.world.captions import canonical_caption, read_world_prompt
from kinema.world.scene import ObjectSpec, SceneSpec

# matte values below this are the part clip's own background noise, not its object
MATTE_FLOOR = 0.15
# an object is hidden in a frame where layers above it cover more than this share of it
HIDDEN_SHARE = 0.1


class Composer(Protocol):
    """What ``Pipeline`` needs of a composer."""

    name: str

    def split(self, prompt: str) -> list[str] | None:
        """The prompts to make one clip each for, bottom layer first; None where ``prompt``
        is made in one pass (one object, or a prompt the composer cannot read)."""
        ...

    def merge(self, prompt: str, clips: np.ndarray) -> np.ndarray:
        """uint8 [T, H, W, 3]: the clips ``split(prompt)`` asked for (uint8 [N, T, H, W, 3], in
        its order) laid into one."""
        ...

    def split_frames(self, prompt: str, frames: np.ndarray) -> np.ndarray:
        """uint8 [N, T, H, W, 3]: given frames (uint8 [T, H, W, 3]) of the whole scene taken
        apart into one clip per prompt of ``split(prompt)`` (in its order), each continued by
        that prompt alone when the video is extended."""
        ...

    def clashes(self, prompt: str, candidates: np.ndarray) -> np.ndarray:
        """int [K] * N: for K candidate clips of each prompt of ``split(prompt)`` (uint8
        [K, N, T, H, W, 3]), how badly each of the K^N ways to take one of each (index
        [k_1, ..., k_N]) hide each other once laid into one: 0 where they can be laid together
        as they are; the pipeline takes the fewest clashes first, then the verifier's best."""
        ...


def matte(frames: np.ndarray, background: np.ndarray, color: np.ndarray) -> np.ndarray:
    """float32 [T, H, W]: how much of each pixel of a clip of one object alone on
    ``background`` (uint8 [T, H, W, 3]) is the object: its projection on the line from the
    background to the object's ``color``, clipped to [0, 1]."""
    bg = background.astype(np.float32)  # [3]
    d = color.astype(np.float32) - bg  # [3]
    return np.clip((frames.astype(np.float32) - bg) @ d / float(d @ d), 0.0, 1.0)


def over(
    below: np.ndarray, above: np.ndarray, background: np.ndarray, color: np.ndarray
) -> np.ndarray:
    """uint8 [T, H, W, 3]: the object of ``above`` (a clip of it alone on ``background``) laid
    over ``below`` (a clip on the same background). With the matte a [T, H, W] (``matte``),
    out = above + (1 - a) (below - background), which is ``above`` where it shows the object
    and the blend of the two on the object's edge, and ``below`` itself where a is under
    ``MATTE_FLOOR`` (the above clip's background, and its decoder's faint noise there)."""
    if below.shape != above.shape or below.ndim != 4 or below.shape[-1] != 3:
        raise InvalidInputError(
            f"clips to lay over each other must be uint8 [T, H, W, 3] of one shape, got "
            f"{below.shape} and {above.shape}"
        )
    bg = background.astype(np.float32)  # [3]
    hi = above.astype(np.float32)  # [T, H, W, 3]
    a = matte(above, background, color)  # [T, H, W]
    lo = below.astype(np.float32)  # [T, H, W, 3]
    out = hi + (1.0 - a[..., None]) * (lo - bg)  # [T, H, W, 3]
    out = np.where((a >= MATTE_FLOOR)[..., None], out, lo)  # [T, H, W, 3]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def check_clip(frames: np.ndarray) -> None:
    """A typed error unless ``frames`` is a clip, uint8 [T, H, W, 3]."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InvalidInputError(f"frames must be uint8 [T, H, W, 3], got {frames.shape}")


def one_object_row(
    prompt: str, frames: np.ndarray
) -> tuple[ObjectSpec, np.ndarray, np.ndarray] | None:
    """The object of a row of one object (a one-object prompt the world parser reads, or an
    object's own row in a composed video), with its background and colour (float32 [3] each),
    for what reads such rows' frames (uint8 [T, H, W, 3]); None for any other prompt."""
    check_clip(frames)
    scene = read_world_prompt(prompt)
    if scene is None or len(scene.objects) != 1:
        return None
    o = scene.objects[0]
    bg = np.array(S.BACKGROUNDS[scene.background], dtype=np.float32)  # [3]
    return o, bg, np.array(S.COLORS[o.color], dtype=np.float32)


class ShapesWorldComposer:
    """Splits a multi-object Shapes World prompt into one prompt per object and lays the
    objects' clips over the background (module docstring)."""

    name = "shapes-world"

    @staticmethod
    def _layers(prompt: str) -> SceneSpec | None:
        """The prompt's scene with its objects bottom layer first (large before small, else
        the prompt's order), if it has two or more objects the world parser reads."""
        scene = read_world_prompt(prompt)
        if scene is None or len(scene.objects) < 2:
            return None
        rank = {"large": 0, None: 1, "small": 2}
        objects = sorted(scene.objects, key=lambda o: rank[o.size])  # stable: prompt order
        return SceneSpec(scene.background, tuple(objects))

    def split(self, prompt: str) -> list[str] | None:
        scene = self._layers(prompt)
        if scene is None:
            return None
        return [canonical_caption(SceneSpec(scene.background, (o,))) for o in scene.objects]

    def _clips_of(self, prompt: str, clips: np.ndarray) -> SceneSpec:
        """The prompt's layered scene, checking ``clips`` is one clip per object of it."""
        scene = self._layers(prompt)
        if scene is None:
            raise InvalidInputError(f"not a prompt this composer splits: {prompt!r}")
        if clips.ndim != 5 or len(clips) != len(scene.objects):
            raise InvalidInputError(
                f"{len(scene.objects)} clips [N, T, H, W, 3] to lay together, got {clips.shape}"
            )
        return scene

    def merge(self, prompt: str, clips: np.ndarray) -> np.ndarray:
        scene = self._clips_of(prompt, clips)
        bg = np.array(S.BACKGROUNDS[scene.background])  # [3]
        out = clips[0]  # [T, H, W, 3]
        for clip, o in zip(clips[1:], scene.objects[1:], strict=True):
            out = over(out, clip, bg, np.array(S.COLORS[o.color]))
        return out

    def clashes(self, prompt: str, candidates: np.ndarray) -> np.ndarray:
        """Per way to take one candidate of each object, the frames where some object is hidden
        (layers above cover more than ``HIDDEN_SHARE`` of its matte >= 0.5), beyond an eighth
        of the frames. The world's reader (``kinema.world.parse_clip``) takes an object's shape
        from the median of its per-frame fill ratios, so a few hidden frames leave it right and
        many make it wrong; objects made one at a time do not know of each other and may sit on
        top of each other all clip. Each candidate's matte is read once."""
        if candidates.ndim != 6:
            raise InvalidInputError(
                f"candidates must be uint8 [K, N, T, H, W, 3], got {candidates.shape}"
            )
        K, N = candidates.shape[:2]
        scene = self._clips_of(prompt, candidates[0])
        bg = np.array(S.BACKGROUNDS[scene.background])  # [3]
        mattes = np.stack([matte(candidates[:, n], bg, np.array(S.COLORS[o.color])) >= 0.5
                           for n, o in enumerate(scene.objects)], axis=1)  # fmt: skip  # [K, N, T, H, W]
        T = mattes.shape[2]
        out = np.zeros((K,) * N, dtype=np.int64)
        for pick in itertools.product(range(K), repeat=N):
            above = np.zeros(mattes.shape[2:], dtype=bool)  # [T, H, W]: the layers above
            hidden = np.zeros(T, dtype=bool)  # [T]
            for n in reversed(range(N)):  # top layer first
                m = mattes[pick[n], n]  # [T, H, W]
                covered = (m & above).sum((1, 2))  # [T]
                hidden |= covered > HIDDEN_SHARE * np.maximum(m.sum((1, 2)), 1)
                above |= m
            out[pick] = max(0, int(hidden.sum()) - T // 8)
        return out

    def split_frames(self, prompt: str, frames: np.ndarray) -> np.ndarray:
        """Each object's pixels on the background: every pixel goes to the colour nearest it
        among the background and the prompt's objects only (the world's reading rule,
        shapes-world.md, with the palette cut to this scene; ``kinema.world.parse.classify_pixels``
        reads against the whole palette, which would drop a pixel nearer an unprompted colour
        from every clip), and object k's clip keeps the pixels that went to its colour, with
        the background everywhere else. Where one object hides another, the hidden part is
        background in the hidden object's clip (one window's context, the model draws it on)."""
        scene = self._layers(prompt)
        if scene is None:
            raise InvalidInputError(f"not a prompt this composer splits: {prompt!r}")
        check_clip(frames)
        bg = np.array(S.BACKGROUNDS[scene.background], dtype=np.float32)  # [3]
        palette = np.stack([bg] + [np.array(S.COLORS[o.color], np.float32)
                                   for o in scene.objects])  # fmt: skip  # [1 + N, 3]
        dist = ((frames[..., None, :].astype(np.float32) - palette) ** 2).sum(
            -1
        )  # [T, H, W, 1 + N]
        nearest = dist.argmin(-1)  # [T, H, W]
        out = np.empty((len(scene.objects), *frames.shape), dtype=np.uint8)  # [N, T, H, W, 3]
        out[:] = bg.astype(np.uint8)
        for k in range(len(scene.objects)):
            mine = nearest == k + 1  # [T, H, W]
            out[k][mine] = frames[mine]
        return out


# pipeline.json's composer -> a composer (they read prompts and pixels, not weights)
COMPOSERS = {"shapes-world": ShapesWorldComposer}
