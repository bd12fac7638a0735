"""Composed text to video: the shapes-world composer splits a multi-object prompt into one
prompt per object, lays the objects' clips over one background, and the pipeline makes a
split prompt's objects as it makes one-object prompts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kinema.errors import InvalidInputError
from kinema.io.video import Video
from kinema.pipelines import Pipeline, PipelineConfig
from kinema.pipelines.compose import MATTE_FLOOR, ShapesWorldComposer, over
from kinema.world import spec as S
from kinema.world.render import render
from kinema.world.scene import SceneGraph, SceneObject

# the pipelines here run without safety (no watermark) to compare frames exactly
pytestmark = pytest.mark.filterwarnings("ignore:Kinema safety checks are OFF")

TWO = "a small blue box heading left and a huge yellow wedge drifting up on white"


def test_split_reads_the_objects_large_ones_first() -> None:
    composer = ShapesWorldComposer()
    assert composer.split(TWO) == [
        "a large yellow triangle moving up on a white background",
        "a small blue square moving left on a white background",
    ]
    # no size said: between large and small; otherwise the prompt's order
    assert composer.split("a red circle bouncing and a small green square standing still "
                          "and a large cyan triangle moving down on black") == [
        "a large cyan triangle moving down on a black background",
        "a red circle bouncing on a black background",
        "a small green square standing still on a black background",
    ]  # fmt: skip
    # one object, or a prompt the world parser does not read: made in one pass
    assert composer.split("a large red circle bouncing on a black background") is None
    assert composer.split("a cat playing the piano") is None


def test_merging_rendered_objects_gives_the_rendered_scene() -> None:
    big = SceneObject("yellow", "triangle", "large", "up", 30.0, 40.0, vy=-1.5)
    small = SceneObject("blue", "square", "small", "left", 40.0, 36.0, vx=-1.5)  # crosses it
    whole = render(SceneGraph("white", (big, small), num_frames=9))
    alone = np.stack([render(SceneGraph("white", (o,), num_frames=9)) for o in (big, small)])
    merged = ShapesWorldComposer().merge(TWO, alone)
    assert np.array_equal(merged, whole)  # the small square above the triangle, as drawn
    # the order is the composer's, so the wrong layering is another clip
    assert not np.array_equal(ShapesWorldComposer().merge(TWO, alone[::-1]), whole)


def test_over_keeps_an_edges_blend_and_drops_background_noise() -> None:
    bg, red = np.array(S.BACKGROUNDS["black"]), np.array(S.COLORS["red"])
    below = np.zeros((1, 2, 3, 3), dtype=np.uint8)
    below[..., 2] = 200  # a blue object everywhere below
    above = np.zeros_like(below)
    above[0, 0, 0] = red  # the object
    above[0, 0, 1] = (red * 0.5).round()  # its anti-aliased edge: half covered
    above[0, 0, 2] = (red * (MATTE_FLOOR / 2)).round()  # a faint speck of decoder noise
    out = over(below, above, bg, red).astype(int)
    assert out[0, 0, 0].tolist() == red.tolist()
    assert out[0, 0, 1].tolist() == [115, 20, 120]  # half red (20 of its 40 blue), half below
    assert out[0, 0, 2].tolist() == below[0, 0, 2].tolist()  # under the floor: not the object
    assert np.array_equal(out[0, 1], below[0, 1])  # background above: below shows through
    with pytest.raises(InvalidInputError, match="one shape"):
        over(below, above[:, :1], bg, red)
    with pytest.raises(InvalidInputError, match="2 clips"):
        ShapesWorldComposer().merge(TWO, above[None])
    with pytest.raises(InvalidInputError, match="not a prompt"):
        ShapesWorldComposer().merge("a red circle bouncing on black", above[None])


def test_clashes_count_frames_where_laid_objects_hide_each_other() -> None:
    """An object hidden (over a tenth of it covered by a layer above) in more than an eighth of
    the frames clashes; objects apart, or crossing for a frame or two, do not. Every way to
    take one candidate of each object gets its count."""
    composer = ShapesWorldComposer()

    def clips(big_xy: tuple[float, float], small_xy: tuple[float, float],
              vx: float = 0.0) -> np.ndarray:  # fmt: skip
        big = SceneObject("yellow", "triangle", "large", "still", *big_xy)
        small = SceneObject("blue", "square", "small", "left", *small_xy, vx=vx)
        return np.stack([render(SceneGraph("white", (o,), num_frames=17)) for o in (big, small)])

    def clash(*scene: object, **kw: float) -> int:
        return int(composer.clashes(TWO, clips(*scene, **kw)[None])[0, 0])  # type: ignore[arg-type]

    assert clash((32, 32), (32, 34)) == 17 - 2  # on top of each other all clip: 15 beyond 2
    assert clash((16, 16), (48, 48)) == 0  # apart
    assert clash((20, 32), (56, 32), vx=-2.0) == 0  # the square reaches it in the last frames
    assert clash((20, 32), (60, 32), vx=-3.0) == 3  # it goes over it: 5 frames hidden, 3 beyond 2
    # two candidates of each: candidate 0 of both on top of each other, candidate 1 apart
    both = np.stack([clips((32, 32), (32, 34)), clips((16, 16), (48, 48))])  # [K, N, ...]
    table = composer.clashes(TWO, both)
    assert table.shape == (2, 2) and table[0, 0] == 15 and table[1, 1] == 0
    assert table[0, 1] == clash((32, 32), (48, 48)) and table[1, 0] == clash((16, 16), (32, 34))
    with pytest.raises(InvalidInputError, match="2 clips"):
        composer.clashes(TWO, np.zeros((1, 1, 5, 32, 32, 3), np.uint8))
    with pytest.raises(InvalidInputError, match="not a prompt"):
        composer.clashes("a red circle bouncing on black", np.zeros((1, 1, 5, 32, 32, 3), np.uint8))
    with pytest.raises(InvalidInputError, match="candidates must be"):
        composer.clashes(TWO, np.zeros((2, 5, 32, 32, 3), np.uint8))


class Lookup:
    """A composer whose clashes come from a table of the chosen candidates' ids (each
    candidate clip is one flat value: 10 k + n + 1 for candidate k of object n)."""

    name = "lookup"

    def __init__(self, table: dict[tuple[int, int], int]) -> None:
        self.table = table

    def clashes(self, prompt: str, candidates: np.ndarray) -> np.ndarray:
        K, N = candidates.shape[:2]
        out = np.zeros((K,) * N, dtype=np.int64)
        for pick in np.ndindex(*out.shape):
            out[pick] = self.table[tuple(int(candidates[k, n].flat[0]) for n, k in enumerate(pick))]
        return out

    def merge(self, prompt: str, clips: np.ndarray) -> np.ndarray:
        return clips.sum(0, dtype=np.uint8)  # the two ids added: which pair was laid


def test_laid_together_takes_the_pair_that_clashes_least_then_the_verifiers_best(
    tiny_pipeline: Pipeline,
) -> None:
    from kinema.pipelines.text_to_video import Timings

    clips = np.zeros((2, 2, 1, 2, 2, 3), dtype=np.uint8)  # [K, N, T, H, W, 3]
    for k in range(2):
        for n in range(2):
            clips[k, n] = 10 * k + n + 1
    scores = np.array([[5.0, 3.0], [1.0, 2.0]])  # [K, N]: candidate 0 best for both
    pipe, _ = composed_and_plain(tiny_pipeline)

    def laid(table: dict[tuple[int, int], int]) -> int:
        pipe.composer = Lookup(table)  # type: ignore[assignment]
        return int(pipe.laid_together(TWO, clips, scores, Timings()).flat[0])

    pairs = [(1, 2), (1, 12), (11, 2), (11, 12)]
    assert laid(dict.fromkeys(pairs, 0)) == 1 + 2  # no clash: each object's own best
    # the best pair clashes: of the rest, the best sum of scores (5 + 2 beats 1 + 3)
    assert laid({(1, 2): 3, (1, 12): 0, (11, 2): 0, (11, 12): 0}) == 1 + 12
    assert laid({(1, 2): 3, (1, 12): 1, (11, 2): 0, (11, 12): 2}) == 11 + 2  # fewest clashes
    # a long video's first clip (guarded): the fewest objects the identity guard reads wrong
    # first, then the fewest clashes, then the best scores
    read = np.array([[False, True], [True, True]])  # [K, N]: candidate 0 of object 0 misread
    pipe.composer = Lookup(dict.fromkeys(pairs, 0))  # type: ignore[assignment]
    assert int(pipe.laid_together(TWO, clips, scores, Timings(), read).flat[0]) == 11 + 2
    pipe.composer = Lookup({(1, 2): 0, (1, 12): 0, (11, 2): 2, (11, 12): 1})  # type: ignore[assignment]
    assert int(pipe.laid_together(TWO, clips, scores, Timings(), read).flat[0]) == 11 + 12
    all_read = np.ones((2, 2), dtype=bool)  # all read right: as without the guard
    assert int(pipe.laid_together(TWO, clips, scores, Timings(), all_read).flat[0]) == 1 + 2


def composed_and_plain(tiny: Pipeline) -> tuple[Pipeline, Pipeline]:
    """The tiny pipeline with the shapes-world composer, and without one (safety off)."""
    config = dataclasses.replace(tiny.config, composer="shapes-world")
    pipe = Pipeline(tiny.dit, tiny.vae, tiny.text_encoder, config, safety=False)
    return pipe, Pipeline(tiny.dit, tiny.vae, tiny.text_encoder, tiny.config, safety=False)


def test_the_pipeline_makes_a_split_prompt_one_object_at_a_time(tiny_pipeline: Pipeline) -> None:
    kw = dict(num_frames=5, height=32, width=32, seed=3, num_inference_steps=2)
    composer = ShapesWorldComposer()
    pipe, plain = composed_and_plain(tiny_pipeline)
    assert isinstance(pipe.composer, ShapesWorldComposer)
    one = "a large red circle bouncing on a black background"
    parts = composer.split(TWO)
    assert pipe.parts_for([TWO, one]) == [parts, None]
    assert pipe.parts_for([TWO], compose=False) == [None]
    # the objects are rows of one batch, in the composer's order, each the clip that prompt
    # alone gets from the same rows; the one-object prompt after them is its own row
    made = pipe([*parts, one], **kw)
    out = pipe([TWO, one], **kw)
    assert np.array_equal(
        out[0].frames, composer.merge(TWO, np.stack([v.frames for v in made[:2]]))
    )
    assert np.array_equal(out[1].frames, made[2].frames)
    # in one pass: as a pipeline without a composer makes it (compose=False, or the DiT reading
    # the prompt as written)
    assert plain.composer is None and plain.parts_for([TWO]) == [None]
    assert np.array_equal(pipe(TWO, compose=False, **kw).frames, plain(TWO, **kw).frames)
    assert np.array_equal(pipe(TWO, rewrite_prompt=False, **kw).frames,
                          plain(TWO, rewrite_prompt=False, **kw).frames)  # fmt: skip
    with pytest.raises(InvalidInputError, match="composer must be"):
        PipelineConfig(composer="collage")


def test_a_composed_prompts_objects_take_their_own_drafts_and_guidance_interval(
    tiny_pipeline: Pipeline, dit_batches: list[int]
) -> None:
    """compose_screen_drafts / compose_guidance_interval: text to video of a prompt the
    composer splits screens each object from its own number of drafts and runs the steps
    below its own interval's low end on the prompt alone; a one-object prompt, or a call
    that mixes the two, keeps screen_drafts and text_guidance_interval."""
    from kinema.models.vae import default_weights_dir
    from kinema.pipelines.verify import ShapesWorldVerifier

    batches = dit_batches
    base = dataclasses.replace(tiny_pipeline.config, composer="shapes-world", candidates=2,
                               verifier="shapes-world", screen_drafts=4, screen_step=1)  # fmt: skip
    config = dataclasses.replace(base, compose_screen_drafts=3,
                                 compose_guidance_interval=[0.6, 1.0])  # a JSON list  # fmt: skip
    assert config.compose_guidance_interval == (0.6, 1.0)
    verifier = ShapesWorldVerifier.from_pretrained(default_weights_dir())
    pipe, before = (Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, c,
                             safety=False, verifier=verifier) for c in (config, base))  # fmt: skip
    assert (
        pipe.drafts_for(2, composed=True),
        pipe.drafts_for(2),
        before.drafts_for(2, composed=True),
    ) == (3, 4, 4)
    assert pipe.interval_for(text=True, composed=True) == (0.6, 1.0)
    assert pipe.interval_for(text=True) == pipe.interval_for(composed=True) == (0.0, 1.0)
    kw = dict(num_frames=5, height=32, width=32, seed=3)
    ts = pipe.timesteps_for(pipe.latent_shape(5, 32, 32), config.steps)[:-1].tolist()
    guided = [2 if t >= 0.6 else 1 for t in ts]  # DiT rows per object a step
    assert len(ts) == 3 and 1 in guided and 2 in guided
    one = "a large red circle bouncing on a black background"
    # drafts to step 1 (two steps), then the best 2 finished; 2 objects a row each
    for name, p, prompt, more, want in (
        ("composed", pipe, TWO, {}, [3 * 2 * guided[0], 3 * 2 * guided[1], 2 * 2 * guided[2]]),
        ("before", before, TWO, {}, [4 * 2 * 2, 4 * 2 * 2, 2 * 2 * 2]),
        # a long video's first clip asks for the one-object way (kinema generate --seconds)
        ("one-object way", pipe, TWO, {"compose_recipe": False}, [4 * 2 * 2, 4 * 2 * 2, 2 * 2 * 2]),
        ("one object", pipe, one, {}, [4 * 2, 4 * 2, 2 * 2]),
        ("mixed", pipe, [TWO, one], {}, [4 * 3 * 2, 4 * 3 * 2, 2 * 3 * 2]),
    ):
        batches.clear()
        p(prompt, **kw, **more)
        assert batches == want, name
    with pytest.raises(InvalidInputError, match="compose_recipe must be True or False"):
        pipe(TWO, compose_recipe="no", **kw)  # type: ignore[arg-type]
    assert not np.array_equal(pipe(TWO, **kw).frames, before(TWO, **kw).frames)
    with pytest.raises(InvalidInputError, match="compose_guidance_interval"):
        dataclasses.replace(base, compose_guidance_interval=(0.8, 0.2))
    with pytest.raises(InvalidInputError, match="compose_screen_drafts needs a verifier"):
        dataclasses.replace(base, screen_drafts=0, compose_screen_drafts=3, verifier="")


def test_split_frames_takes_a_rendered_scene_apart_by_the_palette() -> None:
    big = SceneObject("yellow", "triangle", "large", "up", 16.0, 40.0, vy=-1.5)
    small = SceneObject("blue", "square", "small", "left", 52.0, 20.0, vx=-1.5)  # apart
    whole = render(SceneGraph("white", (big, small), num_frames=9))
    alone = np.stack([render(SceneGraph("white", (o,), num_frames=9)) for o in (big, small)])
    composer = ShapesWorldComposer()
    apart = composer.split_frames(TWO, whole)
    assert np.array_equal(apart, alone)  # the composer's order: the large triangle first
    assert np.array_equal(composer.merge(TWO, apart), whole)
    # where the square hides part of the triangle, the triangle's clip shows background there
    over_it = SceneObject("blue", "square", "small", "left", 16.0, 40.0)
    hidden = composer.split_frames(TWO, render(SceneGraph("white", (big, over_it), num_frames=9)))
    covered = (render(SceneGraph("white", (over_it,), num_frames=9)) != 255).any(-1)
    assert (hidden[0][covered] == 255).all() and not np.array_equal(hidden[0], alone[0])
    with pytest.raises(InvalidInputError, match="uint8"):
        composer.split_frames(TWO, whole[0])


def test_a_composed_extension_continues_each_object_by_its_own_prompt(
    tiny_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = SceneObject("yellow", "triangle", "large", "up", 12.0, 20.0, vy=-0.5)
    small = SceneObject("blue", "square", "small", "left", 24.0, 10.0, vx=-0.5)
    src = render(SceneGraph("white", (big, small), height=32, width=32, num_frames=9))
    video = Video(src, 8.0)
    kw = dict(video=video, mode="extend", num_frames=8, seed=3, num_inference_steps=2)
    pipe, plain = composed_and_plain(tiny_pipeline)
    # by default (and with compose=False) an extension is one pass, as without a composer
    one_pass = plain(TWO, **kw).frames
    assert np.array_equal(pipe(TWO, **kw).frames, one_pass)
    assert np.array_equal(pipe(TWO, compose=False, **kw).frames, one_pass)
    seen = {}
    real = pipe._extend

    def spy(rows, negative, srcs, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.update(rows=rows, srcs=srcs, mark=kwargs.get("mark"))
        seen["made"] = real(rows, negative, srcs, *args, **kwargs)
        return seen["made"]

    monkeypatch.setattr(pipe, "_extend", spy)
    out = pipe(TWO, compose=True, **kw).frames
    composer = ShapesWorldComposer()
    # one row per object, each holding that object's part of the given frames, unmarked
    assert seen["rows"] == composer.split(TWO) and seen["mark"] is False
    assert np.array_equal(seen["srcs"], composer.split_frames(TWO, src))
    # the given frames come back exactly; the new ones are the objects' new frames laid together
    assert out.shape == (17, 32, 32, 3) and np.array_equal(out[:9], src)
    assert np.array_equal(out[9:], composer.merge(TWO, seen["made"][:, 9:]))
    assert not np.array_equal(out, one_pass)


def test_composed_image_to_video_animates_each_objects_still_by_its_own_prompt(
    tiny_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = SceneObject("yellow", "triangle", "large", "up", 12.0, 20.0, vy=-0.5)
    small = SceneObject("blue", "square", "small", "left", 24.0, 10.0, vx=-0.5)
    still = render(SceneGraph("white", (big, small), height=32, width=32, num_frames=1))[0]
    kw = dict(image=still, num_frames=9, seed=3, num_inference_steps=2)
    pipe, plain = composed_and_plain(tiny_pipeline)
    # compose=False, and the DiT reading the prompt as written, are one pass as without one
    one_pass = plain(TWO, **kw).frames
    assert np.array_equal(pipe(TWO, compose=False, **kw).frames, one_pass)
    assert np.array_equal(pipe(TWO, rewrite_prompt=False, **kw).frames,
                          plain(TWO, rewrite_prompt=False, **kw).frames)  # fmt: skip
    seen: dict = {}
    real_complete, real_finish = pipe.complete_latents, pipe.finish

    def complete(rows, negative, canvas, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.update(rows=rows, canvas=canvas.copy())
        return real_complete(rows, negative, canvas, *args, **kwargs)

    def finish(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen["mark"] = kwargs.get("mark")
        seen["made"] = real_finish(*args, **kwargs)
        return seen["made"]

    monkeypatch.setattr(pipe, "complete_latents", complete)
    monkeypatch.setattr(pipe, "finish", finish)
    out = pipe(TWO, **kw).frames  # composed by default, as text to video is
    composer = ShapesWorldComposer()
    # one row per object, its frame 0 that object's pixels of the image alone, unmarked
    assert seen["rows"] == composer.split(TWO) and seen["mark"] is False
    assert np.array_equal(seen["canvas"][:, 0], composer.split_frames(TWO, still[None])[:, 0])
    # the image comes back exactly; the frames after it are the objects' clips laid together
    assert out.shape == (9, 32, 32, 3) and np.array_equal(out[0], still)
    assert np.array_equal(out[1:], composer.merge(TWO, seen["made"][:, 1:]))
    assert not np.array_equal(out, one_pass)
    # a one-object prompt is one row holding the image, as in one pass
    one = "a large red circle bouncing on a black background"
    assert np.array_equal(pipe(one, **kw).frames, plain(one, **kw).frames)
    assert seen["rows"] == [one]
