"""The identity guard: a long video's window whose object drifts from its given silhouette is
sampled again, and the better try kept."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from kinema.errors import InvalidInputError
from kinema.io.video import Video
from kinema.pipelines import Pipeline, PipelineConfig
from kinema.pipelines.guard import (
    GUARDS,
    Named,
    ShapesWorldAreaGuard,
    ShapesWorldGuard,
    ShapesWorldReadingGuard,
    centred_iou,
    fill_margin,
    soft_area,
)
from kinema.pipelines.text_to_video import GUARD_SEED_STRIDE, Timings
from kinema.world.parse import parse_clip
from kinema.world.render import morph_sprite, render
from kinema.world.scene import SceneGraph, SceneObject

pytestmark = pytest.mark.filterwarnings("ignore:Kinema safety checks are OFF")

SQUARE = "a large purple square standing still on a gray background"
SHIPPED = Path(__file__).resolve().parents[2] / "kinema" / "weights" / "pipeline.json"


def clip(shape: str, size: str = "large", x: float = 30.0, frames: int = 5) -> np.ndarray:
    o = SceneObject("purple", shape, size, "right", x, 30.0, vx=1.0)
    return render(SceneGraph("gray", (o,), num_frames=frames))


def test_centred_iou_aligns_centres() -> None:
    a = np.ones((4, 4), dtype=bool)
    assert centred_iou(a, a) == 1.0
    # a 4x4 square inside a 6x6 one, centred: 16 / 36, either way round
    b = np.ones((6, 6), dtype=bool)
    assert centred_iou(a, b) == pytest.approx(16 / 36) == centred_iou(b, a)
    # a 2-pixel bar against a 2x2 square: centres aligned, it covers half
    assert centred_iou(np.ones((1, 2), dtype=bool), np.ones((2, 2), dtype=bool)) == 0.5


def test_the_shapes_world_guard_scores_a_moved_object_whole_and_another_shape_low() -> None:
    guard = ShapesWorldGuard()
    ref = guard.reference(SQUARE, clip("square"))
    assert ref is not None and len(ref.masks) == 4
    # the same square anywhere else in the frame: itself
    assert guard.score(ref, clip("square", x=12.0)) == pytest.approx(1.0)
    # another shape, or the square swollen to another size, is not
    assert guard.score(ref, clip("circle")) < 0.9
    assert guard.score(ref, clip("triangle")) < 0.7
    assert guard.score(ref, clip("square", size="small")) < 0.5
    # gone from the frames: 0
    assert guard.score(ref, np.full_like(clip("square"), 128)) == 0.0
    # only one-object rows the world parser reads are guarded (test_anchor.py, for both)
    with pytest.raises(InvalidInputError, match="guard must be"):
        PipelineConfig(guard="sentinel")
    with pytest.raises(InvalidInputError, match="guard_tries"):
        PipelineConfig(guard_tries=-1)
    with pytest.raises(InvalidInputError, match="guard_threshold"):
        PipelineConfig(guard_threshold=1.5)


def test_the_area_guard_reads_a_rigid_objects_area_and_counts_edges_in_part() -> None:
    guard = ShapesWorldAreaGuard()
    assert GUARDS["shapes-world-area"] is ShapesWorldAreaGuard
    ref = guard.reference(SQUARE, clip("square"))
    assert ref is not None and ref.area == 16 * 16  # large at 64 px: a 16-pixel side
    # moved: the same area; other shapes and sizes: the ratio of the areas
    assert guard.score(ref, clip("square", x=12.0)) == 1.0
    circle = float(soft_area(clip("circle")[:1], ref.background, ref.color)[0])
    assert guard.score(ref, clip("circle")) == pytest.approx(circle / 256)
    assert 0.7 < circle / 256 < 0.9
    assert guard.score(ref, clip("triangle")) < 0.6
    assert guard.score(ref, clip("square", size="small")) == pytest.approx(100 / 256)
    assert guard.score(ref, np.full_like(clip("square"), 128)) == 0.0
    # a pixel half way between the background and the colour counts half; faint noise none
    frame = np.zeros((1, 8, 8, 3), dtype=np.float32) + ref.background
    frame[0, 0, 0] = (ref.background + ref.color) / 2
    frame[0, 0, 1] = ref.background + 0.1 * (ref.color - ref.background)
    assert soft_area(np.rint(frame).astype(np.uint8), ref.background, ref.color)[0] == (
        pytest.approx(0.5, abs=0.01))  # fmt: skip
    with pytest.raises(InvalidInputError, match="Silhouettes"):
        guard.score("ref", clip("square"))


def test_the_reading_guard_reads_the_prompted_shape_as_the_worlds_reader_does() -> None:
    guard = ShapesWorldReadingGuard()
    assert GUARDS["shapes-world-reading"] is ShapesWorldReadingGuard
    # its reference is the prompt's, not the given frames': a first clip drawn wrong is not kept
    ref = guard.reference(SQUARE, clip("circle"))
    assert ref == Named("purple", "square")
    assert guard.reference("a red circle and a blue square on white", clip("square")) is None
    # the world's own objects, read as the reader reads them: well inside their bands
    for shape in ("square", "circle", "triangle"):
        named = Named("purple", shape)
        assert guard.score(named, clip(shape)) > 0.7
        for other in {"square", "circle", "triangle"} - {shape}:
            assert guard.score(named, clip(other)) < 0.5
    # the score follows the reader's fill ratio: 0.5 + margin / 0.2, clipped
    bell = Named("purple", "circle")
    for amount in (0.3, 0.6, 0.9):
        o = SceneObject("purple", "square", "large", "right", 30.0, 30.0, vx=1.0)
        frames = render(SceneGraph("gray", (o,), num_frames=5),
                        [morph_sprite("square", "circle", amount, 16)])  # fmt: skip
        fill = parse_clip(frames).get("purple").fill_ratio
        want = float(np.clip(0.5 + fill_margin(fill, "circle") / 0.2, 0.0, 1.0))
        assert guard.score(bell, frames) == pytest.approx(want)
    assert fill_margin(0.785, "circle") == pytest.approx(0.1)
    assert fill_margin(0.95, "square") == pytest.approx(0.05)
    assert fill_margin(0.95, "triangle") == pytest.approx(-0.265)
    # gone, or in half the frames: 0, or half
    gray = np.full_like(clip("square"), 128)
    assert guard.score(Named("purple", "square"), gray) == 0.0
    half = np.concatenate([clip("square", frames=6)[:3], gray[:3]])
    full = guard.score(Named("purple", "square"), clip("square", frames=6)[:3])
    assert guard.score(Named("purple", "square"), half) == pytest.approx(0.5 * full)
    with pytest.raises(InvalidInputError, match="Named"):
        guard.score("ref", clip("square"))
    with pytest.raises(InvalidInputError, match="fill band"):
        fill_margin(0.5, "hexagon")


class Alternate:
    """A stand-in guard: each window's first try scores 0, the next 1."""

    name = "alternate"

    def __init__(self) -> None:
        self.calls = 0

    def reference(self, prompt: str, frames: np.ndarray) -> object:
        return "ref"

    def score(self, reference: object, frames: np.ndarray) -> float:
        self.calls += 1
        return float(self.calls % 2 == 0)


@pytest.mark.parametrize("decode", ["stream", "window"])
def test_a_window_under_the_threshold_is_made_again_and_the_better_try_kept(
    tiny_pipeline: Pipeline, decode: str
) -> None:
    """With the windows decoded as one stream or each alone (window_decode), a try that scores
    higher replaces the window, and the next window goes on from it."""
    video = Video(clip("square", frames=9)[:, ::2, ::2], 8.0)  # 9 x 32 x 32
    kw = dict(video=video, mode="extend", num_frames=8, num_inference_steps=2)
    config = dataclasses.replace(tiny_pipeline.config, extend_window=4, guard_threshold=0.5,
                                 guard_tries=1, window_decode=decode)  # fmt: skip
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config,
                    safety=False)  # fmt: skip
    plain = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder,
                     tiny_pipeline.config, safety=False)  # fmt: skip
    plain.config = dataclasses.replace(plain.config, extend_window=4, window_decode=decode)
    pipe.guard = Alternate()
    # every window's first try fails and its second passes, so each window is its second try,
    # and the video continues from it: the windows a plain call makes with the tries' seeds
    out = pipe(SQUARE, seed=5, **kw).frames
    assert pipe.guard.calls == 4  # two windows, two tries each
    assert np.array_equal(out, plain(SQUARE, seed=5 + GUARD_SEED_STRIDE, **kw).frames)
    assert not np.array_equal(out, plain(SQUARE, seed=5, **kw).frames)
    # no tries, or windows keeping the best of several continuations: not guarded
    pipe.config = dataclasses.replace(config, guard_tries=0)
    assert np.array_equal(pipe(SQUARE, seed=5, **kw).frames, plain(SQUARE, seed=5, **kw).frames)
    assert pipe.guard.calls == 4


class ByBrightness:
    """A stand-in guard that reads a clip right where it is brighter than ``cut``, counting the
    clips it reads."""

    name = "by-brightness"

    def __init__(self, cut: float) -> None:
        self.cut, self.reads = cut, 0

    def reference(self, prompt: str, frames: np.ndarray) -> object:
        return "ref"

    def score(self, reference: object, frames: np.ndarray) -> float:
        self.reads += 1
        return float(frames.mean() > self.cut)


def guarded_and_plain(
    tiny_pipeline: Pipeline, **config: object
) -> tuple[Pipeline, np.ndarray, np.ndarray, dict]:
    """A pipeline with a one-try guard (and ``config``), and the clips a plain one makes of
    ``SQUARE`` with seed 5 and with the guard's first try's seed, for the call arguments
    returned with them."""
    kw = dict(num_frames=5, height=32, width=32, num_inference_steps=2)
    settings = dataclasses.replace(tiny_pipeline.config, guard_threshold=0.5, guard_tries=1,
                                   **config)  # fmt: skip
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, settings,
                    safety=False)  # fmt: skip
    plain = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder,
                     tiny_pipeline.config, safety=False)  # fmt: skip
    first = plain(SQUARE, seed=5, **kw).frames
    second = plain(SQUARE, seed=5 + GUARD_SEED_STRIDE, **kw).frames
    assert not np.array_equal(first, second)  # or the tests prove nothing
    return pipe, first, second, kw


def test_a_guarded_first_clip_none_of_whose_candidates_reads_right_is_made_again(
    tiny_pipeline: Pipeline,
) -> None:
    """A long video's first clip (``guarded``, one candidate: no verifier): where the guard
    reads it wrong it is made again with the tries' noise, and the try kept where it reads
    better; a try that reads no better leaves the clip as it was."""
    pipe, first, second, kw = guarded_and_plain(tiny_pipeline)
    config = pipe.config
    # the first clip reads wrong, its try right: the try is the clip
    pipe.guard = Alternate()
    timings = Timings()
    out = pipe(SQUARE, seed=5, guarded=True, timings=timings, **kw).frames
    assert np.array_equal(out, second) and pipe.guard.calls == 2 and timings.retried == 1
    # read right at once: nothing made again, the clip text to video makes
    pipe.guard = ByBrightness(cut=-1.0)
    assert np.array_equal(pipe(SQUARE, seed=5, guarded=True, **kw).frames, first)
    assert pipe.guard.reads == 1
    # never read right: tried, and the first clip kept (the try reads no better)
    pipe.guard = ByBrightness(cut=256.0)
    assert np.array_equal(pipe(SQUARE, seed=5, guarded=True, **kw).frames, first)
    assert pipe.guard.reads == 2
    # not guarded (a clip with no windows after it), or no tries: never read
    pipe.guard = ByBrightness(cut=256.0)
    assert np.array_equal(pipe(SQUARE, seed=5, **kw).frames, first)
    pipe.config = dataclasses.replace(config, guard_tries=0)
    assert np.array_equal(pipe(SQUARE, seed=5, guarded=True, **kw).frames, first)
    assert pipe.guard.reads == 0
    # frames given: not a first clip, a typed error
    with pytest.raises(InvalidInputError, match="guarded= is for text to video"):
        pipe(SQUARE, video=Video(first, 8.0), mode="extend", num_frames=4, guarded=True)
    with pytest.raises(InvalidInputError, match="guarded= is for text to video"):
        pipe(SQUARE, image=first[0], guarded=True)


def test_guard_clips_guards_every_text_to_video_clip_by_default(tiny_pipeline: Pipeline) -> None:
    """``guard_clips`` (shipped on): a text-to-video call left to the default is guarded as a
    long video's first clip is, ``guarded=False`` asks for it unguarded, and image to video
    and extension, left to the default, are never read by it."""
    pipe, first, second, kw = guarded_and_plain(tiny_pipeline, guard_clips=True)
    pipe.guard = Alternate()  # the first clip reads wrong, its try right
    assert np.array_equal(pipe(SQUARE, seed=5, **kw).frames, second)
    assert pipe.guard.calls == 2
    pipe.guard = Alternate()
    assert np.array_equal(pipe(SQUARE, seed=5, guarded=False, **kw).frames, first)
    assert pipe.guard.calls == 0
    # an image given: the default does not guard it (guarded=True would be a typed error)
    pipe.guard = ByBrightness(cut=256.0)
    pipe(SQUARE, image=first[0], seed=5, **kw)
    assert pipe.guard.reads == 0
    with pytest.raises(InvalidInputError, match="guard_clips must be true or false"):
        dataclasses.replace(pipe.config, guard_clips="yes")
    # the shipped pipeline.json guards every clip
    assert PipelineConfig.from_dict(json.loads(SHIPPED.read_text())).guard_clips is True


class Brightest:
    """A verifier preferring bright clips (reads every prompt)."""

    def target(self, prompt: str, continuing: bool = False) -> str:
        return prompt

    def score(self, clips: np.ndarray, target: object) -> np.ndarray:
        return clips.reshape(len(clips), -1).mean(1)


def test_a_guarded_first_clip_takes_the_candidate_the_guard_reads_right_first(
    tiny_pipeline: Pipeline,
) -> None:
    """With candidates, those the guard reads right go first, the verifier's best of those; where
    the guard reads all of them right the verifier's best, as unguarded."""
    kw = dict(num_frames=5, height=32, width=32, num_inference_steps=2, seed=3)
    config = dataclasses.replace(tiny_pipeline.config, candidates=3, verifier="shapes-world",
                                 guard_threshold=0.5, guard_tries=1)  # fmt: skip
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config,
                    safety=False, verifier=Brightest())  # type: ignore[arg-type]  # fmt: skip
    shape = pipe.latent_shape(5, 32, 32)
    latents = pipe.sample([SQUARE], [""], shape, 2, pipe.config.guidance, 3, candidates=3)
    clips = pipe.decode(latents)  # [K, T, H, W, 3]: the candidates a call makes
    bright = clips.reshape(3, -1).mean(1)
    assert len(set(bright.round(6))) == 3  # distinct candidates, or the test proves nothing
    best = np.argmax(bright)
    pipe.guard = ByBrightness(cut=-1.0)  # every candidate reads right: the verifier's best
    assert np.array_equal(pipe(SQUARE, guarded=True, **kw).frames, clips[best])
    # the guard reads only the darkest right: it is kept over the verifier's best
    pipe.guard = ByBrightness(cut=0.0)
    pipe.guard.score = lambda ref, f: float(f.mean() <= bright.min() + 1e-3)  # type: ignore[method-assign]
    assert np.array_equal(pipe(SQUARE, guarded=True, **kw).frames, clips[np.argmin(bright)])
