"""The identity anchor: a long video's windows read their context with each object rescaled to its
first size, and the video keeps the frames the model made."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from kinema.errors import InvalidInputError
from kinema.io.video import Video
from kinema.pipelines import Pipeline, PipelineConfig
from kinema.pipelines.anchor import (
    ANCHORS,
    ShapesWorldAnchor,
    ShapesWorldDrawnAnchor,
    ShapesWorldHeldAnchor,
    ShapesWorldSizeAnchor,
    ShapesWorldSpriteAnchor,
    object_matte,
    place,
    rescale,
)
from kinema.pipelines.guard import ShapesWorldGuard
from kinema.world import spec as S
from kinema.world.parse import parse_clip
from kinema.world.render import render, sprite
from kinema.world.scene import SceneGraph, SceneObject

pytestmark = pytest.mark.filterwarnings("ignore:Kinema safety checks are OFF")

SQUARE = "a large purple square standing still on a gray background"
GRAY = np.array(S.BACKGROUNDS["gray"], dtype=np.float32)
PURPLE = np.array(S.COLORS["purple"], dtype=np.float32)


def clip(shape: str, size: str = "large", x: float = 30.0, frames: int = 5) -> np.ndarray:
    o = SceneObject("purple", shape, size, "right", x, 30.0, vx=1.0)
    return render(SceneGraph("gray", (o,), num_frames=frames))


def area(frames: np.ndarray) -> np.ndarray:
    return object_matte(frames, GRAY, PURPLE).sum(axis=(1, 2))  # [T]


def test_rescale_keeps_the_centre_and_scales_the_area() -> None:
    a = np.zeros((32, 32), dtype=np.float32)
    a[10:16, 12:18] = 1.0  # 6 x 6, centre (12.5, 14.5)
    big = rescale(a, 1.5)
    assert big.sum() == pytest.approx(36 * 2.25, rel=0.05)
    ys, xs = np.indices(a.shape)
    assert (big * ys).sum() / big.sum() == pytest.approx(12.5, abs=0.05)
    assert (big * xs).sum() / big.sum() == pytest.approx(14.5, abs=0.05)
    assert np.array_equal(rescale(a, 1.0), a)
    assert not rescale(np.zeros_like(a), 2.0).any()  # nothing to scale


@pytest.mark.parametrize("shape", ["square", "circle", "triangle"])
def test_a_swollen_object_is_put_back_to_its_given_size_and_keeps_its_shape(shape: str) -> None:
    anchor = ShapesWorldAnchor()
    ref = anchor.reference(SQUARE.replace("square", shape), clip(shape, "small"))
    # a clip of the same object grown to the large size: a minute's drift, much exaggerated
    grown = clip(shape, "large", x=40.0)
    fixed = anchor.correct(ref, grown)
    assert fixed.shape == grown.shape and fixed.dtype == np.uint8
    assert area(fixed) == pytest.approx(area(clip(shape, "small", x=40.0)), rel=0.08)
    read = parse_clip(fixed).get("purple")
    assert read is not None and read.shape == shape and read.size == "small"
    # it stays where the model put it
    assert np.allclose(read.centers, parse_clip(grown).get("purple").centers, atol=0.3)


def test_context_at_its_size_is_left_alone_and_only_one_object_rows_are_read() -> None:
    anchor = ShapesWorldAnchor()
    ref = anchor.reference(SQUARE, clip("square"))
    moved = clip("square", x=12.0)
    assert anchor.correct(ref, moved) is moved  # the same size, somewhere else: untouched
    empty = np.full_like(moved, 128)
    assert anchor.correct(ref, empty) is empty  # nothing to rescale
    with pytest.raises(InvalidInputError, match="uint8"):
        anchor.correct(ref, moved[0])
    with pytest.raises(InvalidInputError, match="ObjectArea"):
        anchor.correct("ref", moved)
    with pytest.raises(InvalidInputError, match="anchor must be"):
        PipelineConfig(anchor="sentinel")
    assert set(ANCHORS) == {"shapes-world", "shapes-world-size", "shapes-world-sprite",
                            "shapes-world-drawn", "shapes-world-held"}  # fmt: skip
    with pytest.raises(InvalidInputError, match="size must be"):
        ShapesWorldAnchor(size="median")


@pytest.mark.parametrize("reader", [ShapesWorldGuard(), ShapesWorldAnchor(),
                                    ShapesWorldSpriteAnchor(), ShapesWorldDrawnAnchor(),
                                    ShapesWorldHeldAnchor()], ids=lambda r: type(r).__name__)  # fmt: skip
def test_guards_and_anchors_read_only_one_object_rows_of_the_world(reader) -> None:
    assert reader.reference(SQUARE, clip("square")) is not None
    assert reader.reference("a cat on a sofa", clip("square")) is None
    assert reader.reference(SQUARE.replace("standing still", "and a red circle"),
                            clip("square")) is None  # fmt: skip
    assert reader.reference(SQUARE, np.full_like(clip("square"), 128)) is None  # no object
    with pytest.raises(InvalidInputError, match="uint8"):
        reader.reference(SQUARE, clip("square")[0])


def test_place_draws_a_sprite_at_a_point_and_keeps_it_whole_in_frame() -> None:
    sprite = np.ones((6, 6), dtype=np.float32)  # centre of mass (2.5, 2.5)
    a = place(sprite, (2.5, 2.5), (10.0, 20.0), (32, 32))
    assert np.array_equal(np.argwhere(a > 0.5).min(0), [8, 18])  # rows 8-13, columns 18-23
    assert a.sum() == pytest.approx(36.0)
    # asked to centre it on a corner pixel, it is moved in until it is whole
    corner = place(sprite, (2.5, 2.5), (0.0, 31.0), (32, 32))
    assert corner.sum() == pytest.approx(36.0)
    assert np.array_equal(np.argwhere(corner > 0.5).min(0), [0, 26])
    assert place(sprite, (2.5, 2.5), (10.0, 20.0), (32, 32), scale=2.0).sum() == pytest.approx(
        144.0, rel=0.1
    )


def test_the_size_anchor_keeps_the_size_the_prompt_names() -> None:
    # the first clip drew the small circle the prompt asks for at the large size
    small_circle = SQUARE.replace("large purple square", "small purple circle")
    ref = ShapesWorldSizeAnchor().reference(small_circle, clip("circle", "large"))
    fixed = ShapesWorldSizeAnchor().correct(ref, clip("circle", "large", x=40.0))
    assert area(fixed) == pytest.approx(area(clip("circle", "small", x=40.0)), rel=0.08)
    read = parse_clip(fixed).get("purple")
    assert read is not None and (read.shape, read.size) == ("circle", "small")
    # a prompt naming no size keeps the given frames' size
    no_size = SQUARE.replace("large ", "")
    assert ShapesWorldSizeAnchor().reference(no_size, clip("square", "small")).area == (
        pytest.approx(float(area(clip("square", "small"))[0]))
    )


def test_the_sprite_anchor_redraws_the_given_outline_where_the_context_has_its_object() -> None:
    anchor = ShapesWorldSpriteAnchor()
    ref = anchor.reference(SQUARE, clip("square"))
    # the context's object has rounded off into a circle a few pixels away
    drifted = clip("circle", x=40.0)
    fixed = anchor.correct(ref, drifted)
    read = parse_clip(fixed).get("purple")
    assert read is not None and (read.shape, read.size) == ("square", "large")
    assert np.allclose(read.centers, parse_clip(drifted).get("purple").centers, atol=0.3)
    # a square where it was drawn stays the square it was, to a grey level or two
    same = clip("square", x=40.0)
    assert np.abs(anchor.correct(ref, same).astype(int) - same).max() <= 2


def test_the_drawn_anchor_redraws_the_prompted_shape_as_the_world_draws_it() -> None:
    anchor = ANCHORS["shapes-world-drawn"]()
    assert isinstance(anchor, ShapesWorldDrawnAnchor)
    small_square = SQUARE.replace("large", "small")
    # the first clip drew a large circle: the reference is still the prompt's small square
    ref = anchor.reference(small_square, clip("circle"))
    assert ref is not None and ref.whole and ref.area == 100.0  # small at 64 px: 10 x 10
    assert np.array_equal(ref.sprite, sprite("square", 10))
    drifted = clip("circle", x=40.3)
    fixed = anchor.correct(ref, drifted)
    read = parse_clip(fixed).get("purple")
    assert read is not None and (read.shape, read.size) == ("square", "small")
    # on whole pixels, hard-edged, as the world draws: the background and the colour only
    assert {tuple(c) for c in fixed.reshape(-1, 3)} == {(128, 128, 128), (150, 60, 210)}
    assert area(fixed) == pytest.approx(np.full(5, 100.0))
    # where the context had it, to half a pixel
    assert np.allclose(read.centers, parse_clip(drifted).get("purple").centers, atol=0.5)
    # the world's own clip of the prompt is left exactly as it is
    right = clip("square", "small", x=22.0)
    assert np.array_equal(anchor.correct(ref, right), right)
    # a prompt naming no size takes the world's size nearest the given frames' area
    no_size = SQUARE.replace("large ", "")
    assert anchor.reference(no_size, clip("circle", "small")).area == 100.0
    assert anchor.reference(no_size, clip("circle", "large")).area == 256.0
    with pytest.raises(InvalidInputError, match="sprite must be"):
        ShapesWorldAnchor(sprite="drawn")  # type: ignore[arg-type]


def moving(motion: str, x: float, y: float, frames: int = 17) -> np.ndarray:
    v = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0),
         "still": (0.0, 0.0)}[motion]  # fmt: skip
    o = SceneObject("purple", "square", "large", motion, x, y, vx=v[0], vy=v[1])
    return render(SceneGraph("gray", (o,), num_frames=frames))


@pytest.mark.parametrize(("motion", "held"), [("right", (True, False)), ("up", (False, True)),
                                              ("still", (True, True))])  # fmt: skip
def test_the_held_anchor_puts_the_object_back_on_the_line_its_motion_keeps(
    motion: str, held: tuple[bool, bool]
) -> None:
    prompt = f"a large purple square moving {motion} on a gray background".replace(
        "moving still", "standing still"
    )
    anchor = ANCHORS["shapes-world-held"]()
    ref = anchor.reference(prompt, moving(motion, 30.0, 34.0))
    # held on the axes the motion never moves along, at the given frames' centre (y, x)
    assert [h is not None for h in ref.hold] == list(held)
    assert all(h is None or abs(h - c) <= 0.5 for h, c in zip(ref.hold, (34.0, 30.0), strict=True))
    # the same shape and size as the drawn anchor's
    drawn = ShapesWorldDrawnAnchor().reference(prompt, moving(motion, 30.0, 34.0))
    assert np.array_equal(ref.sprite, drawn.sprite) and ref.area == drawn.area
    # a context that drifted 6 px on both axes comes back on the held ones only
    drifted = moving(motion, 36.0, 40.0, frames=5)
    read = parse_clip(anchor.correct(ref, drifted)).get("purple")
    was = parse_clip(drifted).get("purple").centers  # [T, 2] as (x, y)
    want = np.where([held[1], held[0]], [30.0, 34.0], was)  # [T, 2]
    assert np.allclose(read.centers, want, atol=0.6)
    # the drawn anchor leaves where it is alone
    assert np.allclose(parse_clip(ShapesWorldDrawnAnchor().correct(drawn, drifted))
                       .get("purple").centers, was, atol=0.6)  # fmt: skip


class Blank:
    """A stand-in anchor: records the context it is given and hands back a blank one."""

    name = "blank"

    def __init__(self) -> None:
        self.seen: list[np.ndarray] = []

    def reference(self, prompt: str, frames: np.ndarray) -> object:
        return "ref"

    def correct(self, reference: object, frames: np.ndarray) -> np.ndarray:
        self.seen.append(frames.copy())
        return np.full_like(frames, 128)


def test_windows_read_the_anchored_context_and_the_video_keeps_the_models_frames(
    tiny_pipeline: Pipeline,
) -> None:
    given = clip("square", frames=9)[:, ::2, ::2]  # 9 x 32 x 32
    kw = dict(video=Video(given, 8.0), mode="extend", num_frames=8, num_inference_steps=2)
    config = dataclasses.replace(tiny_pipeline.config, extend_window=4)
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config,
                    safety=False)  # fmt: skip
    plain = pipe(SQUARE, seed=5, **kw).frames
    pipe.anchor = Blank()
    out = pipe(SQUARE, seed=5, **kw).frames
    # two windows, each reading its 5 context frames through the anchor: the given tail, then
    # the last frames the video holds (the model's own, not the anchor's blank ones)
    assert len(pipe.anchor.seen) == 2
    assert np.array_equal(pipe.anchor.seen[0], given[-5:])
    assert np.array_equal(pipe.anchor.seen[1], out[-9:-4])
    assert np.array_equal(out[:9], given)  # the given frames as given
    assert not np.array_equal(out, plain)  # the model read the blank context


def test_a_window_decoded_alone_goes_on_from_the_context_the_video_keeps(
    tiny_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """window_decode "window" with an anchor: the DiT reads the anchored context, and the new
    latents are decoded after the latents of the context frames the video keeps."""
    given = clip("square", frames=9)[:, ::2, ::2]  # 9 x 32 x 32
    kw = dict(video=Video(given, 8.0), mode="extend", num_frames=8, num_inference_steps=2)
    config = dataclasses.replace(tiny_pipeline.config, extend_window=4, window_decode="window")
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config,
                    safety=False)  # fmt: skip
    pipe.anchor = Blank()
    made: list[torch.Tensor] = []
    real = pipe.complete_latents
    monkeypatch.setattr(pipe, "complete_latents",
                        lambda *a, **k: made.append(real(*a, **k)) or made[-1])  # fmt: skip
    out = pipe(SQUARE, seed=5, **kw).frames
    assert [m.shape[2] for m in made] == [3, 3]  # 5 context frames (2 latents) + 4 new, twice
    for w, m in enumerate(made):
        kept = pipe.encode(pipe.anchor.seen[w][None])  # [1, C, 2, h, w]: the kept context
        want = pipe.decode(torch.cat([kept, m[:, :, -1:]], dim=2))[0, 5:]  # [4, H, W, 3]
        assert np.abs(out[9 + 4 * w : 13 + 4 * w].astype(int) - want).max() <= 1
        # not after the blank context the DiT read
        blank = pipe.decode(m)[0, 5:]
        assert np.abs(out[9 + 4 * w : 13 + 4 * w].astype(int) - blank).max() > 1
