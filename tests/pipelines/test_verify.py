"""Best of N: the verifier's pick in text and image to video and in extension windows, the
consensus of completions in fill and interpolate, paired seeds, and the shipped verifier."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from kinema.errors import InvalidInputError
from kinema.io.video import Video
from kinema.pipelines import Pipeline, PipelineConfig
from kinema.pipelines.text_to_video import Screen, Timings
from kinema.pipelines.verify import ShapesWorldVerifier, recognizer_view
from kinema.world.render import render
from kinema.world.scene import ObjectSpec, SceneSpec, sample_scene


class Brightest:
    """A verifier that prefers bright clips and cannot read prompts saying 'unreadable'."""

    def __init__(self) -> None:
        self.scored: list[int] = []  # candidates per score() call
        self.lengths: list[int] = []  # frames per clip in each call

    def target(self, prompt: str, continuing: bool = False) -> str | None:
        return None if "unreadable" in prompt else prompt

    def score(self, clips: np.ndarray, target: object) -> np.ndarray:
        self.scored.append(len(clips))
        self.lengths.append(clips.shape[1])
        return clips.reshape(len(clips), -1).mean(1)

    def save_pretrained(self, directory: object) -> None:
        pass


def alike(a: np.ndarray, b: np.ndarray) -> bool:
    """Frames of one draw made in a batch of several against the same draw made alone: equal up
    to float rounding, since matrix kernels block batches of other sizes otherwise on some CPUs
    (seen on a 2-core AVX2 CPU in fp32: 1 grey level on 0.004% of the pixels); a different draw
    differs on most of them."""
    d = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return a.shape == b.shape and int(d.max()) <= 2 and float((d > 0).mean()) < 1e-3


@pytest.fixture
def best_of(tiny_pipeline: Pipeline) -> Pipeline:
    config = dataclasses.replace(tiny_pipeline.config, candidates=3, verifier="shapes-world")
    p = tiny_pipeline
    return Pipeline(p.dit, p.vae, p.text_encoder, config, verifier=Brightest())  # type: ignore[arg-type]


def test_best_of_n_returns_the_candidate_the_verifier_prefers(best_of: Pipeline) -> None:
    prompts = ["a red circle", "a blue square"]
    shape = best_of.latent_shape(9, 32, 32)
    latents = best_of.sample(prompts, ["", ""], shape, 3, best_of.config.guidance, 7,
                             candidates=3)  # fmt: skip
    assert latents.shape == (6, *shape)  # candidate k of prompt b at k B + b
    clips = best_of.decode(latents).reshape(3, 2, 9, 32, 32, 3)
    bright = clips.reshape(3, 2, -1).mean(-1)  # [K, B]
    assert len(set(bright[:, 0].round(6))) == 3  # distinct candidates, or the test proves nothing
    timings = Timings()
    out = best_of(prompts, num_frames=9, height=32, width=32, seed=7, timings=timings)
    for b, video in enumerate(out):
        best = int(np.argmax(bright[:, b]))
        assert np.array_equal(video.frames, best_of.mark(clips[best, b][None])[0])
    assert best_of.verifier.scored == [3, 3] and timings.verify > 0  # type: ignore[union-attr]
    # candidate 0 is the clip one sample gives with the same seed
    one = best_of(prompts, num_frames=9, height=32, width=32, seed=7, candidates=1)
    for b, video in enumerate(one):
        assert np.array_equal(video.frames, best_of.mark(clips[0, b][None])[0])


def test_best_of_n_animates_a_still_too(best_of: Pipeline) -> None:
    still = render(sample_scene(3, height=32, width=32, num_frames=1))[0]
    kw = dict(image=still, num_frames=9, seed=5)
    picked = best_of("a red circle", **kw)
    assert np.array_equal(picked.frames[0], still)  # the given frame, exactly
    canvas = np.zeros((1, 9, 32, 32, 3), dtype=np.uint8)
    canvas[:, 0] = still
    known = np.zeros(9, dtype=bool)
    known[0] = True
    latents = best_of.complete_latents(["a red circle"], [""], canvas, known, 3,
                                       best_of.config.guidance, 5, candidates=3)  # fmt: skip
    clips = best_of.decode(latents)  # [3, 9, 32, 32, 3]
    best = int(np.argmax(clips.reshape(3, -1).mean(1)))
    assert np.array_equal(picked.frames[1:], best_of.mark(clips[best : best + 1, 1:])[0])
    one = best_of("a red circle", candidates=1, **kw)
    # candidate 0 is the clip one sample gives with the same seed, to float rounding: a batch
    # of three candidates and a batch of one round the DiT's matmuls differently (about 3e-7 in
    # the latents, with torch's GELU as with the sigmoid one), so a pixel may land a level off
    off = np.abs(one.frames[1:].astype(int) - best_of.mark(clips[:1, 1:])[0].astype(int))
    assert off.max() <= 1 and (off > 0).mean() < 1e-3
    other = np.abs(one.frames[1:].astype(int) - best_of.mark(clips[1:2, 1:])[0].astype(int))
    assert other.max() > 1  # while candidate 1 is another clip


def test_a_screen_finishes_the_drafts_its_score_ranks_best(best_of: Pipeline) -> None:
    prompts = ["a red circle", "a blue square"]
    shape = best_of.latent_shape(9, 32, 32)
    g = best_of.config.guidance
    full = best_of.sample(prompts, ["", ""], shape, 4, g, 3, candidates=4)  # [4 B, ...]
    # per prompt a ranking of the 4 drafts: prompt 0 prefers 3 then 1, prompt 1 prefers 0 then 2
    ranks = np.array([[0.0, 3.0], [2.0, 0.0], [1.0, 2.0], [3.0, 1.0]])  # [D, B]
    seen: list[tuple[int, ...]] = []

    def score(x0: torch.Tensor) -> np.ndarray:
        seen.append(tuple(x0.shape))
        return ranks

    steps: list[int] = []
    out = best_of.sample(prompts, ["", ""], shape, 4, g, 3, candidates=2,
                         screen=Screen(4, 1, score), callback=steps.append)  # fmt: skip
    assert seen == [(8, *shape)]  # all D B drafts' data estimates, read once
    assert steps == [0, 1, 2, 3]  # the progress goes on as if nothing happened
    assert out.shape == (4, *shape)  # K B, best first: row k B + b is prompt b's k-th best
    for k, (d0, d1) in enumerate([(3, 0), (1, 2)]):
        # the kept drafts go on exactly as they would have unscreened (same noise, same steps)
        torch.testing.assert_close(out[2 * k], full[2 * d0], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(out[2 * k + 1], full[2 * d1 + 1], atol=1e-4, rtol=1e-4)
    # no screen where it cannot apply: as many drafts as candidates, or no step left after it
    for screen in (Screen(2, 1, score), Screen(4, 3, score)):
        same = best_of.sample(prompts, ["", ""], shape, 4, g, 3, candidates=2, screen=screen)
        torch.testing.assert_close(same, full[:4], atol=1e-4, rtol=1e-4)
    assert len(seen) == 1


def test_a_screen_decodes_only_the_latents_of_the_frames_its_verifier_reads(
    best_of: Pipeline,
) -> None:
    best_of.config = dataclasses.replace(best_of.config, candidates=2, screen_drafts=4,
                                         screen_step=1)  # fmt: skip
    verifier = best_of.verifier
    kw = dict(num_frames=17, height=32, width=32, seed=4, num_inference_steps=4)
    plain = best_of("a red circle", **kw).frames
    assert verifier.lengths == [17, 17]  # type: ignore[union-attr]  # reads every frame
    verifier.frames_read = 9  # type: ignore[union-attr]  # now only a clip's first 9
    verifier.lengths.clear()  # type: ignore[union-attr]
    video = best_of("a red circle", **kw)
    # the drafts' first 3 latents decoded (9 frames), the finished clips whole
    assert verifier.lengths == [9, 17]  # type: ignore[union-attr]
    assert video.frames.shape == (17, 32, 32, 3)
    # the causal VAE: a clip's first frames decode from its first latents alone, so the screen
    # reads what it read before and keeps the same drafts
    assert alike(video.frames, plain)
    x = torch.randn(
        2, *best_of.latent_shape(17, 32, 32), generator=torch.Generator().manual_seed(0)
    )
    assert alike(best_of.decode(x[:, :, :3]), best_of.decode(x)[:, :9])
    # a window's screen reads its clips' last frames: decoded whole
    best_of.config = dataclasses.replace(best_of.config, window_screen_drafts=4,
                                         window_screen_step=1)  # fmt: skip
    screen = best_of.screen_for(["a red circle"], 1, Timings(), window=True)
    assert screen is not None and screen.score(x[:1].repeat(4, 1, 1, 1, 1)).shape == (4, 1)
    assert verifier.lengths[-1] == 17  # type: ignore[union-attr]


def test_the_shipped_verifier_reads_a_clips_first_17_frames() -> None:
    assert ShapesWorldVerifier.frames_read == 17
    clip = np.random.default_rng(0).integers(0, 255, (33, 64, 64, 3), dtype=np.uint8)
    assert np.array_equal(recognizer_view(clip[None])[0], clip[:17])
    short = recognizer_view(clip[None, :5])[0]  # fewer: the last repeated
    assert short.shape == (17, 64, 64, 3) and np.array_equal(short[5:], np.repeat(clip[4:5], 12, 0))


def test_screened_best_of_n_in_text_and_image_to_video(best_of: Pipeline) -> None:
    best_of.config = dataclasses.replace(best_of.config, candidates=2, screen_drafts=5,
                                         screen_step=1)  # fmt: skip
    verifier = best_of.verifier
    kw = dict(num_frames=9, height=32, width=32, seed=4, num_inference_steps=4)
    timings = Timings()
    video = best_of("a red circle", timings=timings, **kw)
    # the screen reads 5 drafts, then the verifier picks among the 2 finished
    assert verifier.scored == [5, 2] and timings.verify > 0  # type: ignore[union-attr]
    # the same by hand: the pipeline's screen, then its verifier's pick among the finished
    shape = best_of.latent_shape(9, 32, 32)
    latents = best_of.sample(["a red circle"], [""], shape, 4, best_of.config.guidance, 4,
                             candidates=2, screen=best_of.screen_for(["a red circle"], 2,
                                                                     Timings()))  # fmt: skip
    clips = best_of.decode(latents)  # [2, 9, 32, 32, 3]
    best = int(np.argmax(clips.reshape(2, -1).mean(1)))
    assert np.array_equal(video.frames, best_of.mark(clips[best : best + 1])[0])
    verifier.scored.clear()  # type: ignore[union-attr]
    still = render(sample_scene(3, height=32, width=32, num_frames=1))[0]
    animated = best_of("a red circle", image=still, **kw)
    assert np.array_equal(animated.frames[0], still)
    assert verifier.scored == [5, 2]  # type: ignore[union-attr]
    verifier.scored.clear()  # type: ignore[union-attr]
    best_of("a red circle", candidates=1, **kw)  # one clip: no drafts, no verifier
    best_of("unreadable scene", **kw)  # a prompt the verifier cannot read: one clip
    assert verifier.scored == []  # type: ignore[union-attr]
    assert best_of.screen_for(["a red circle"], 5, Timings()) is None  # D <= K: no screen
    assert best_of.screen_for(["a red circle"], 1, Timings()) is None  # one clip: no screen
    # image to video reads its drafts at its own step where one is set
    best_of.config = dataclasses.replace(best_of.config, image_screen_step=2)
    assert best_of.screen_for(["a red circle"], 2, Timings(), image=True).at == 2  # type: ignore[union-attr]
    assert best_of.screen_for(["a red circle"], 2, Timings()).at == 1  # type: ignore[union-attr]
    # 3 steps: text to video screens at step 1, image to video has no step after its 2
    assert (best_of.drafts_for(2, 3), best_of.drafts_for(2, 3, image=True)) == (5, 2)
    assert best_of.drafts_for(1, 4) == 1  # one clip: no drafts
    # and starts its own number of drafts where one is set
    best_of.config = dataclasses.replace(best_of.config, image_screen_drafts=7)
    assert best_of.screen_for(["a red circle"], 2, Timings(), image=True).drafts == 7  # type: ignore[union-attr]
    assert best_of.screen_for(["a red circle"], 2, Timings()).drafts == 5  # type: ignore[union-attr]
    assert (best_of.drafts_for(2, 4), best_of.drafts_for(2, 4, image=True)) == (5, 7)
    with pytest.raises(InvalidInputError, match="screen_drafts needs a verifier"):
        PipelineConfig(screen_drafts=6)
    with pytest.raises(InvalidInputError, match="image_screen_drafts needs a verifier"):
        PipelineConfig(image_screen_drafts=6)
    for bad in (0, 1.5, True):
        with pytest.raises(InvalidInputError, match="screen_step must be an int >= 1"):
            PipelineConfig(screen_step=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="image_screen_step must be an int >= 0"):
        PipelineConfig(image_screen_step=-1)
    with pytest.raises(InvalidInputError, match=r"candidates must be 1\.\.16"):
        PipelineConfig(screen_drafts=17, verifier="shapes-world")


def test_each_extension_window_keeps_the_verifiers_pick(
    best_of: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = render(sample_scene(4, height=32, width=32, num_frames=9))
    seen: list[tuple[np.ndarray, np.ndarray]] = []  # (candidate windows, pick) per window
    real = best_of.pick

    def record(
        clips: np.ndarray, prompts: list[str], timings: Timings, continuing: bool = False
    ) -> np.ndarray:
        assert continuing  # windows of a video that goes on
        pick = real(clips, prompts, timings, continuing)
        seen.append((clips.copy(), pick))
        return pick

    monkeypatch.setattr(best_of, "pick", record)
    kw = dict(video=Video(src, 8.0), mode="extend", num_frames=16, seed=2)
    assert best_of.config.extend_candidates == 1
    plain = best_of("a red circle", **kw)
    assert seen == []  # extend_candidates = 1: one continuation per window, no verifier run
    out = best_of("a red circle", candidates=3, **kw)
    ctx = best_of.config.extend_context
    assert [c.shape for c, _ in seen] == [(3, 1, ctx + 12, 32, 32, 3), (3, 1, ctx + 4, 32, 32, 3)]
    assert np.array_equal(out.frames[:9], src)  # the video itself, exactly
    made = out.frames[9:]
    raw = []  # the chosen windows' frames, before the watermark
    for w, (clips, pick) in enumerate(seen):
        bright = clips[:, 0].reshape(3, -1).mean(1)
        assert len(set(bright.round(6))) == 3  # distinct candidates, or this proves nothing
        assert pick.tolist() == [int(np.argmax(bright))]
        chosen = clips[pick[0], 0, ctx:]
        assert np.array_equal(made[12 * w : 12 * w + len(chosen)], best_of.mark(chosen[None])[0])
        raw.append(chosen)
    # the second window continues from the chosen first one: its context is that window's end
    assert np.array_equal(seen[1][0][:, 0, :ctx], np.repeat(raw[0][None, -ctx:], 3, axis=0))
    # a verifier that always keeps candidate 0 gives the one-continuation extension
    monkeypatch.setattr(best_of.verifier, "score", lambda clips, target: -np.arange(len(clips)))
    first = best_of("a red circle", candidates=3, **kw)
    assert alike(first.frames, plain.frames)
    # the default comes from the config
    best_of.config = dataclasses.replace(best_of.config, extend_candidates=2)
    seen.clear()
    best_of("a red circle", **kw)
    assert [c.shape[0] for c, _ in seen] == [2, 2]


def test_extension_windows_screen_their_drafts(
    best_of: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = render(sample_scene(4, height=32, width=32, num_frames=9))
    kw = dict(video=Video(src, 8.0), mode="extend", num_frames=16, seed=2,
              num_inference_steps=4)  # fmt: skip
    plain = best_of("a red circle", **kw)  # extend_candidates = 1, no screen: the model alone
    verifier = best_of.verifier
    assert verifier.scored == []  # type: ignore[union-attr]
    best_of.config = dataclasses.replace(best_of.config, window_screen_drafts=4,
                                         window_screen_step=1)  # fmt: skip
    read_as: list[bool] = []  # continuing, per target the pipeline asks for
    real_target = verifier.target

    def target(prompt: str, continuing: bool = False) -> object:
        read_as.append(continuing)
        return real_target(prompt, continuing)

    monkeypatch.setattr(verifier, "target", target)
    timings = Timings()
    screened = best_of("a red circle", timings=timings, **kw)
    # one screen per window (16 new frames: windows of 12 and 4), 4 drafts read as windows of a
    # video that goes on, one continuation finished each: no pick among finished ones after
    assert verifier.scored == [4, 4] and read_as and all(read_as) and timings.verify > 0  # type: ignore[union-attr]
    assert np.array_equal(screened.frames[:9], src)  # the video itself, exactly
    assert not np.array_equal(screened.frames, plain.frames)  # the brightest draft went on
    # a screen that ranks draft 0 first finishes the draft one continuation starts from
    monkeypatch.setattr(verifier, "score", lambda clips, target: -np.arange(len(clips)))
    assert alike(best_of("a red circle", **kw).frames, plain.frames)
    monkeypatch.undo()
    verifier.scored.clear()  # type: ignore[union-attr]
    best_of("a red circle", candidates=3, **kw)  # 4 drafts, the best 3 finished, one kept
    assert verifier.scored == [4, 3, 4, 3]  # type: ignore[union-attr]
    verifier.scored.clear()  # type: ignore[union-attr]
    best_of("a red circle", candidates=4, **kw)  # as many drafts as candidates: no screen
    assert verifier.scored == [4, 4]  # type: ignore[union-attr]
    verifier.scored.clear()  # type: ignore[union-attr]
    best_of("unreadable scene", **kw)  # a prompt the verifier cannot read: the model alone
    assert verifier.scored == []  # type: ignore[union-attr]
    # windows count their own drafts and step; text to video's screen is left as it was
    assert best_of.screen_for(["a red circle"], 1, Timings(), window=True).at == 1  # type: ignore[union-attr]
    assert best_of.screen_for(["a red circle"], 1, Timings()) is None
    assert (best_of.drafts_for(1, 4, window=True), best_of.drafts_for(1, 4)) == (4, 1)
    assert best_of.drafts_for(1, 2, window=True) == 1  # no step left after step 1 of 2
    best_of.config = dataclasses.replace(best_of.config, window_screen_step=0, screen_step=2)
    assert best_of.screen_step_for(window=True) == 2  # 0: text to video's screen_step
    with pytest.raises(InvalidInputError, match="window_screen_drafts needs a verifier"):
        PipelineConfig(window_screen_drafts=4)
    for bad in (-1, 1.5, True):
        with pytest.raises(InvalidInputError, match="window_screen_step must be an int >= 0"):
            PipelineConfig(window_screen_step=bad)  # type: ignore[arg-type]


def test_consensus_keeps_the_completion_closest_to_the_others() -> None:
    base = np.full((1, 3, 4, 4, 3), 100, dtype=np.uint8)  # [B, T, H, W, 3]
    clips = np.stack([base, base + 1, base + 50])  # [K, B, ...]: two agree, one is off
    made = np.array([False, True, True])
    timings = Timings()
    # squared distances 1, 2500, 2401: risks 2501, 2402, 4901
    assert np.array_equal(Pipeline.consensus(clips, made, timings), clips[1])
    assert timings.verify > 0
    clips[:, :, 0] = [0, 255, 0]  # frames that are not made do not count
    assert np.array_equal(Pipeline.consensus(clips, made, timings), clips[1])
    two = np.stack([base, base + 9])  # a tie keeps the first
    assert np.array_equal(Pipeline.consensus(two, made, timings), two[0])


def test_fill_and_interpolate_keep_the_consensus(tiny_pipeline: Pipeline) -> None:
    p = tiny_pipeline
    config = dataclasses.replace(p.config, fill_candidates=3)  # no verifier needed
    pipe = Pipeline(p.dit, p.vae, p.text_encoder, config)
    src = render(sample_scene(6, height=32, width=32, num_frames=9))
    missing = [5, 6, 7, 8]
    known = np.ones(9, dtype=bool)
    known[missing] = False
    out = pipe("x", video=Video(src, 8.0), missing=missing, seed=3)
    latents = pipe.complete_latents(["x"], [""], src[None], known, config.steps,
                                    config.guidance, 3, candidates=3)  # fmt: skip
    clips = pipe.decode(latents).reshape(3, 1, 9, 32, 32, 3)
    assert len({c.tobytes() for c in clips[:, 0, 5:]}) == 3  # distinct completions
    chosen = Pipeline.consensus(clips, ~known, Timings())[0]
    assert np.array_equal(out.frames[known], src[known])  # given frames exactly
    assert np.array_equal(out.frames[5:], pipe.mark(chosen[5:][None])[0])
    one = pipe("x", video=Video(src, 8.0), missing=missing, seed=3, candidates=1)
    assert alike(one.frames[5:], pipe.mark(clips[0, 0, 5:][None])[0])  # candidate 0
    # interpolate's projection runs on every candidate's given frames
    doubled = pipe.interpolate(Video(src[::2], 4.0), 2, seed=1)
    assert doubled.num_frames == 9 and np.array_equal(doubled.frames[::2], src[::2])
    single = pipe.interpolate(Video(src[::2], 4.0), 2, seed=1, candidates=1)
    assert not np.array_equal(doubled.frames, single.frames)


def test_prompts_the_verifier_cannot_read_get_one_clip(
    best_of: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[int] = []
    real = best_of.sample

    def record(prompts: list[str], *args: object, **kwargs: object) -> torch.Tensor:
        out = real(prompts, *args, **kwargs)  # type: ignore[arg-type]
        batches.append(out.shape[0])
        return out

    monkeypatch.setattr(best_of, "sample", record)
    assert best_of.candidates_for("unreadable scene") == 1
    assert best_of.candidates_for("a red circle") == 3
    assert best_of.candidates_for("a red circle", candidates=5) == 5
    kw = dict(num_frames=5, height=32, width=32, seed=3)
    alone = best_of("unreadable scene", **kw)
    assert batches == [1]  # no candidates sampled for nothing
    same = best_of("unreadable scene", candidates=1, **kw)
    assert np.array_equal(alone.frames, same.frames)
    # in a batch with a readable prompt, the unreadable one keeps candidate 0
    mixed = best_of(["unreadable scene", "a red circle"], **kw)
    first = best_of(["unreadable scene", "a red circle"], candidates=1, **kw)
    assert batches[-2:] == [6, 2]
    assert np.array_equal(mixed[0].frames, first[0].frames)


def test_best_of_n_input_errors(best_of: Pipeline, tiny_pipeline: Pipeline) -> None:
    for bad in (0, 17, True, 2.0):
        with pytest.raises(InvalidInputError, match=r"candidates must be 1\.\.16"):
            best_of("a red circle", num_frames=5, candidates=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="needs a verifier to choose among them"):
        tiny_pipeline("a red circle", num_frames=5, candidates=2)
    with pytest.raises(InvalidInputError, match="candidates = 2 needs a verifier"):
        PipelineConfig(candidates=2)
    with pytest.raises(InvalidInputError, match="verifier must be"):
        PipelineConfig(verifier="clip")
    # a config asking for best of N without the verifier loaded says so, and samples one clip
    config = dataclasses.replace(best_of.config)
    p = tiny_pipeline
    with pytest.warns(UserWarning, match="best of 3 clips"):
        plain = Pipeline(p.dit, p.vae, p.text_encoder, config)
    assert plain.candidates_for("a red circle") == 1
    assert (plain.default_candidates, best_of.default_candidates) == (1, 3)
    # completions are chosen by their consensus: no verifier, any prompt
    assert tiny_pipeline.candidates_for("unreadable", 4, "completions") == 4
    assert tiny_pipeline.candidates_for("unreadable", choice="completions") == 1  # the config's
    with pytest.raises(InvalidInputError, match=r"candidates must be 1\.\.16"):
        tiny_pipeline.candidates_for("x", 0, "completions")
    with pytest.raises(ValueError, match="choice must be clips, windows or completions"):
        best_of.candidates_for("a red circle", choice="frames")


@pytest.fixture(scope="module")
def shipped_verifier() -> ShapesWorldVerifier:
    from kinema.models.vae import default_weights_dir

    return ShapesWorldVerifier.from_pretrained(default_weights_dir())


def test_shapes_world_verifier_ranks_the_prompted_scene_first(
    shipped_verifier: ShapesWorldVerifier,
) -> None:
    prompt = "a large red circle moving left on a black background"
    target = shipped_verifier.target(prompt)
    assert target == SceneSpec("black", (ObjectSpec("red", "circle", "left", "large"),))
    right = ObjectSpec("red", "circle", "left", "large")
    wrong = [
        SceneSpec("black", (dataclasses.replace(right, shape="square"),)),
        SceneSpec("black", (dataclasses.replace(right, motion="right"),)),
        SceneSpec("black", (dataclasses.replace(right, color="blue"),)),
        SceneSpec("black", (dataclasses.replace(right, size="small"),)),
        SceneSpec("white", (right,)),
        SceneSpec("black", (right, ObjectSpec("green", "square", "still", "small"))),
    ]
    clips = np.stack([render(sample_scene(s, spec=spec)) for s, spec in
                      enumerate([SceneSpec("black", (right,)), *wrong])])  # fmt: skip
    scores = shipped_verifier.score(clips, target)
    assert scores.shape == (7,)
    assert int(np.argmax(scores)) == 0, scores
    # in an extension window the object may have reflected off a wall: moving right is as good
    # as moving left there, and the other mistakes stay mistakes
    window = shipped_verifier.score(clips, shipped_verifier.target(prompt, continuing=True))
    assert window[2] > scores[2] + 2.0, (window, scores)  # clip 2 moves right
    assert window[0] >= scores[0] and window[2] > window[[1, 3, 4, 5, 6]].max(), window
    # a prompt it cannot read unambiguously gets no target: no candidates sampled for it
    for prompt in ("a cat on a sofa", "a red circle and a red square on black",
                   "a red circle moving left"):  # fmt: skip
        assert shipped_verifier.target(prompt) is None, prompt


def test_the_verifier_captions_what_a_video_shows_now(
    shipped_verifier: ShapesWorldVerifier, tiny_pipeline: Pipeline
) -> None:
    spec = SceneSpec("gray", (ObjectSpec("blue", "square", "right", "large"),))
    clip = render(sample_scene(4, spec=spec))
    said = shipped_verifier.caption(clip)
    assert said is not None and shipped_verifier.target(said) == spec, said
    # it reads the last 17 frames: where the video stands now, not how it began
    held = np.concatenate([np.repeat(clip[:1], 20, axis=0), clip])
    assert shipped_verifier.caption(held) == said
    assert "still" in (shipped_verifier.caption(np.repeat(clip[:1], 17, axis=0)) or "")
    noise = np.random.default_rng(0).integers(0, 256, (17, 64, 64, 3), dtype=np.uint8)
    assert shipped_verifier.caption(noise) is None  # not Shapes World: no prompt made up
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder,
                    tiny_pipeline.config, verifier=shipped_verifier)  # fmt: skip
    assert pipe.caption_for(clip) == said
    assert tiny_pipeline.caption_for(clip) is None  # no verifier, nothing read


def test_recognizer_view_keeps_the_aspect_at_its_scale() -> None:
    def clips(t: int, h: int, w: int) -> np.ndarray:
        return np.zeros((2, t, h, w, 3), dtype=np.uint8)

    assert recognizer_view(clips(17, 64, 64)).shape == (2, 17, 64, 64, 3)
    assert recognizer_view(clips(33, 64, 96)).shape == (2, 17, 64, 96, 3)  # first 17 frames
    assert recognizer_view(clips(17, 128, 128)).shape == (2, 17, 64, 64, 3)
    assert recognizer_view(clips(17, 32, 48)).shape == (2, 17, 64, 96, 3)
    short = clips(5, 64, 64)
    short[:, -1] = 9
    view = recognizer_view(short)
    assert view.shape == (2, 17, 64, 64, 3) and (view[:, 4:] == 9).all()  # last frame repeated
    with pytest.raises(InvalidInputError, match="uint8"):
        recognizer_view(np.zeros((2, 5, 64, 64, 3), dtype=np.float32))


def test_a_saved_pipeline_keeps_its_verifier(tmp_path, tiny_pipeline: Pipeline) -> None:
    from kinema.models.classifier import ClassifierConfig
    from kinema.understand.recognize import SlotRecognizer

    torch.manual_seed(0)
    verifier = ShapesWorldVerifier(SlotRecognizer(ClassifierConfig(
        in_channels=1, channels=(8, 8, 8), heads={"slot": 12})))  # fmt: skip
    config = dataclasses.replace(tiny_pipeline.config, candidates=2, verifier="shapes-world")
    p = tiny_pipeline
    Pipeline(p.dit, p.vae, p.text_encoder, config, verifier=verifier).save_pretrained(tmp_path)
    assert (tmp_path / "recognizer.safetensors").is_file()
    loaded = Pipeline.from_pretrained(tmp_path)
    assert loaded.config.candidates == 2 and isinstance(loaded.verifier, ShapesWorldVerifier)
    clip = render(sample_scene(1, num_frames=9))[None]
    target = verifier.target("a large red circle moving left on a black background")
    assert np.allclose(loaded.verifier.score(clip, target), verifier.score(clip, target), atol=1e-2)


@pytest.mark.filterwarnings("ignore:Kinema safety checks are OFF")  # frames compared exactly
def test_a_composed_prompts_objects_are_chosen_together(
    best_of: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With candidates, a composed prompt's objects are laid together as ``laid_together``
    chooses: where no pair clashes, each object's own best, the clip its prompt alone gets."""
    from kinema.pipelines.compose import ShapesWorldComposer

    two = "a small blue box heading left and a huge yellow wedge drifting up on white"
    config = dataclasses.replace(best_of.config, candidates=2, composer="shapes-world")
    pipe = Pipeline(best_of.dit, best_of.vae, best_of.text_encoder, config, safety=False,
                    verifier=Brightest())  # fmt: skip
    kw = dict(num_frames=5, height=32, width=32, seed=3, num_inference_steps=2)
    parts = pipe.composer.split(two)  # type: ignore[union-attr]
    alone = np.stack([v.frames for v in pipe(parts, **kw)])  # each part's verifier best

    def table(candidates: np.ndarray) -> np.ndarray:  # [K] * N
        return np.zeros((len(candidates),) * candidates.shape[1], dtype=np.int64)

    monkeypatch.setattr(ShapesWorldComposer, "clashes", lambda self, prompt, c: table(c))
    assert np.array_equal(pipe(two, **kw).frames, pipe.composer.merge(two, alone))  # type: ignore[union-attr]
    # every pair but the one of the second candidates clashes: that one is laid
    seen: list[np.ndarray] = []

    def only_second(self: object, prompt: str, candidates: np.ndarray) -> np.ndarray:
        seen.append(candidates)
        out = table(candidates) + 1
        out[(1,) * candidates.shape[1]] = 0
        return out

    monkeypatch.setattr(ShapesWorldComposer, "clashes", only_second)
    out = pipe(two, **kw).frames
    laid = seen[0][[1, 1], [0, 1]]  # [N, T, H, W, 3]: candidate 1 of each object
    assert len(seen) == 1 and np.array_equal(out, pipe.composer.merge(two, laid))  # type: ignore[union-attr]
    assert not np.array_equal(laid, alone)
