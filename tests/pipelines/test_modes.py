"""Image-to-video, extension, filling and interpolation: one masked-sampling code path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kinema.errors import InvalidInputError
from kinema.io.video import Video
from kinema.pipelines import Pipeline
from kinema.pipelines.text_to_video import crossfade
from kinema.world.render import render
from kinema.world.scene import sample_scene


@pytest.fixture(scope="module")
def clip() -> Video:
    return Video(render(sample_scene(3, num_frames=9, height=32, width=32)), 8.0)


def test_given_latent_frames_never_move(tiny_pipeline: Pipeline) -> None:
    shape = tiny_pipeline.latent_shape(9, 32, 32)  # (4, 3, 4, 4)
    clean = torch.randn(1, *shape)
    given = torch.tensor([True, False, True])
    out = tiny_pipeline.sample(["a red circle"], [""], shape, 3, 3.0, 0, given=given, clean=clean)
    assert torch.equal(out[:, :, given], clean[:, :, given])
    assert not torch.allclose(out[:, :, 1], clean[:, :, 1])


@pytest.mark.parametrize("ctx", [2.5, 4.0])
def test_context_guidance_is_the_instructpix2pix_sum(tiny_pipeline: Pipeline, ctx: float) -> None:
    """v = v(-,-) + c [v(ctx,-) - v(-,-)] + g [v(ctx,text) - v(ctx,-)], checked against three
    plain DiT calls (c = g runs it as two batches, c = 2.5 as three)."""
    import copy
    import dataclasses

    pipe = copy.copy(tiny_pipeline)  # a shallow copy: only its config changes
    # fp32 like the reference calls below: on a CPU with native bf16 the pipeline would
    # otherwise run the DiT under bf16 autocast, and 1e-5 is a test of the guidance sum
    pipe.config = dataclasses.replace(pipe.config, bf16=False)
    g, shape = 4.0, pipe.latent_shape(9, 32, 32)  # (4, 3, 4, 4)
    gen = torch.Generator().manual_seed(0)
    clean, noise, x = (torch.randn((1, *shape), generator=gen) for _ in range(3))
    given = torch.tensor([True, False, False])
    v = pipe.velocity_fn(["a red circle"], [""], g, given=given, clean=clean, context_noise=noise,
                         context_guidance=ctx)  # fmt: skip
    t = torch.tensor([0.6])
    out = v(x, t)

    text, mask = pipe.text_encoder.encode(["a red circle", ""])
    held = torch.where(given[None, None, :, None, None], clean, x)
    t_held = torch.tensor([[0.0, 0.6, 0.6]])
    free = torch.where(given[None, None, :, None, None], 0.4 * clean + 0.6 * noise, x)
    with torch.no_grad():
        vc = pipe.dit(held, t_held, text[:1], mask[:1])
        vi = pipe.dit(held, t_held, text[1:], mask[1:])
        vf = pipe.dit(free, torch.full((1, 3), 0.6), text[1:], mask[1:])
    want = vf + ctx * (vi - vf) + g * (vc - vi)
    assert torch.allclose(out[:, :, 1:], want[:, :, 1:], atol=1e-5)
    assert torch.all(out[:, :, 0] == 0)  # the given frame still never moves
    # c = 1 is the plain text guidance, with the context in both branches
    assert not torch.allclose(want, vi + g * (vc - vi), atol=1e-4)


def test_context_guidance_is_validated(tiny_pipeline: Pipeline) -> None:
    from kinema.pipelines import PipelineConfig

    with pytest.raises(InvalidInputError, match="context_guidance"):
        PipelineConfig(context_guidance=-1.0)
    with pytest.raises(InvalidInputError, match="fill_context_guidance"):
        PipelineConfig(fill_context_guidance=51.0)
    shape = tiny_pipeline.latent_shape(9, 32, 32)
    given = torch.tensor([True, False, False])
    with pytest.raises(InvalidInputError, match="context_guidance"):
        tiny_pipeline.velocity_fn(["x"], [""], 4.0, given=given, clean=torch.zeros(1, *shape),
                                  context_guidance=-2.0)  # fmt: skip


def test_each_mode_samples_with_its_context_guidance(
    tiny_pipeline: Pipeline, clip: Video, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Continuations (image to video, extension windows) guide on their context with
    ``context_guidance``; fill and interpolation with ``fill_context_guidance``; text to video
    has no context to guide on."""
    import copy
    import dataclasses

    pipe = copy.copy(tiny_pipeline)  # a shallow copy: only its config changes
    pipe.config = dataclasses.replace(pipe.config, context_guidance=3.0,
                                      fill_context_guidance=2.0, extend_window=4)  # fmt: skip
    import inspect

    seen: list[tuple[bool, float]] = []
    sample = pipe.sample
    signature = inspect.signature(sample)

    def spy(*a, **k):
        bound = signature.bind(*a, **k)
        bound.apply_defaults()
        seen.append((bound.arguments["given"] is not None, bound.arguments["context_guidance"]))
        return sample(*a, **k)

    monkeypatch.setattr(pipe, "sample", spy)
    pipe("a red circle", image=clip.frames[0], num_frames=5, seed=0, num_inference_steps=1)
    pipe("a red circle", video=clip, mode="extend", num_frames=8, seed=0, num_inference_steps=1)
    pipe("a red circle", video=clip, missing=[5, 6, 7, 8], seed=0, num_inference_steps=1)
    pipe.interpolate(clip, prompt="a red circle", num_inference_steps=1)
    pipe("a red circle", num_frames=5, seed=0, num_inference_steps=1)
    # i2v, two extension windows, fill, interpolation, text to video (1.0: the default, unused)
    assert seen == [(True, 3.0), (True, 3.0), (True, 3.0), (True, 2.0), (True, 2.0),
                    (False, 1.0)]  # fmt: skip


def test_latent_groups_follow_the_causal_vae(tiny_pipeline: Pipeline) -> None:
    known = np.ones(9, dtype=bool)
    known[6] = False  # pixel 6 lies in latent 2 (pixels 5..8)
    assert tiny_pipeline.latent_given(known).tolist() == [True, True, False]
    known[:] = True
    known[0] = False
    assert tiny_pipeline.latent_given(known).tolist() == [False, True, True]


def test_latent_index_matches_what_the_vae_encodes(tiny_pipeline: Pipeline) -> None:
    assert tiny_pipeline.latent_index(9).tolist() == [0, 1, 1, 1, 1, 2, 2, 2, 2]
    for t in (1, 5, 13):
        frames = np.zeros((1, t, 16, 16, 3), dtype=np.uint8)
        n = tiny_pipeline.encode(frames).shape[2]
        assert n == tiny_pipeline.latent_index(t)[-1] + 1
        assert tiny_pipeline.pixel_frames(n) == t


def test_image_to_video_keeps_the_image(tiny_pipeline: Pipeline, clip: Video) -> None:
    image = clip.frames[0]
    out = tiny_pipeline("a red circle bouncing", image=image, num_frames=9, seed=1)
    assert out.frames.shape == (9, 32, 32, 3)
    assert np.array_equal(out.frames[0], image)
    big = np.repeat(np.repeat(image, 2, 0), 3, 1)  # 64 x 96: resized + centre-cropped to 32 x 32
    out = tiny_pipeline("x", image=big, num_frames=5, height=32, width=32, seed=1)
    assert out.frames.shape == (5, 32, 32, 3)
    with pytest.raises(InvalidInputError, match=r"image must be uint8 \(H, W, 3\)"):
        tiny_pipeline("x", image=image.astype(np.float32))
    with pytest.raises(InvalidInputError, match="not both"):
        tiny_pipeline("x", image=image, video=clip)


def test_extend_appends_and_keeps_the_original(tiny_pipeline: Pipeline, clip: Video) -> None:
    seen: list[tuple[int, int]] = []
    out = tiny_pipeline(
        "x",
        video=clip,
        mode="extend",
        num_frames=16,
        seed=2,
        callback=lambda i, n: seen.append((i, n)),
    )
    assert out.frames.shape == (25, 32, 32, 3) and out.fps == clip.fps
    assert np.array_equal(out.frames[:9], clip.frames)
    assert seen[-1] == (6, 6)  # two windows (12 + 4 new frames) of 3 steps
    for n in (0, 6, True, 8.0):
        with pytest.raises(InvalidInputError, match="multiple of 4"):
            tiny_pipeline("x", video=clip, mode="extend", num_frames=n)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="extend adds at most 480 frames per call"):
        tiny_pipeline("x", video=clip, mode="extend", num_frames=484)
    with pytest.raises(InvalidInputError, match="mode='extend' or missing"):
        tiny_pipeline("x", video=clip)


def window_latents(pipe: Pipeline, monkeypatch: pytest.MonkeyPatch) -> list[torch.Tensor]:
    """Every latent tensor ``pipe.complete_latents`` returns from here on (one per extension
    window), with the watermark off so frames compare with plain decodes."""
    made: list[torch.Tensor] = []
    real = pipe.complete_latents

    def record(*args: object, **kwargs: object) -> torch.Tensor:
        out = real(*args, **kwargs)  # type: ignore[arg-type]
        made.append(out)
        return out

    monkeypatch.setattr(pipe, "complete_latents", record)
    monkeypatch.setattr(pipe, "watermark_key", None)
    return made


def test_extension_windows_decode_as_one_causal_stream(
    tiny_pipeline: Pipeline, clip: Video, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new frames of every window continue the decoder state of the windows before: they
    equal one decode of [first window's context latents, every window's new latents]."""
    made = window_latents(tiny_pipeline, monkeypatch)
    out = tiny_pipeline("x", video=clip, mode="extend", num_frames=16, seed=2)
    assert tiny_pipeline.config.extend_context == 5
    assert [m.shape[2] for m in made] == [5, 3]  # 5 context frames + 12 new, then 5 + 4 new
    stream = torch.cat([made[0], made[1][:, :, -1:]], dim=2)  # latents of 5 + 12 + 4 frames
    whole = tiny_pipeline.decode(stream)[0]  # [21, H, W, 3]: clip frames 4.. 8, then new ones
    assert np.abs(out.frames[9:].astype(int) - whole[5:]).max() <= 1  # bf16 rounding at most
    assert np.array_equal(out.frames[:9], clip.frames)


def test_a_long_videos_windows_decode_each_with_its_own_context_where_window_decode_says(
    tiny_pipeline: Pipeline, clip: Video, monkeypatch: pytest.MonkeyPatch
) -> None:
    """window_decode "window": each window's new frames are the decode of that window's own
    latents, context latents first, from a fresh decoder state; a bad value is a typed
    error."""
    import dataclasses

    made = window_latents(tiny_pipeline, monkeypatch)
    stream = tiny_pipeline("x", video=clip, mode="extend", num_frames=16, seed=2).frames
    cfg = dataclasses.replace(tiny_pipeline.config, window_decode="window")
    monkeypatch.setattr(tiny_pipeline, "config", cfg)
    made.clear()
    out = tiny_pipeline("x", video=clip, mode="extend", num_frames=16, seed=2).frames
    assert [m.shape[2] for m in made] == [5, 3]  # 5 context frames + 12 new, then 5 + 4 new
    first = tiny_pipeline.decode(made[0])[0]  # [17, H, W, 3]: 5 context frames, 12 new
    second = tiny_pipeline.decode(made[1])[0]  # [9, H, W, 3]: 5 context frames, 4 new
    assert np.abs(out[9:21].astype(int) - first[5:]).max() <= 1  # bf16 rounding at most
    assert np.abs(out[21:].astype(int) - second[5:]).max() <= 1
    assert np.array_equal(out[:9], clip.frames)
    # the first window is the stream's too (its state primed with the same context); the
    # second is not, which the stream decodes after the first window's last latent
    assert np.abs(out[9:21].astype(int) - stream[9:21]).max() <= 1
    assert np.abs(out[21:].astype(int) - stream[21:]).max() > 1
    with pytest.raises(InvalidInputError, match="window_decode must be one of"):
        dataclasses.replace(cfg, window_decode="fresh")


def test_extension_window_sizes_come_from_the_config(
    tiny_pipeline: Pipeline, clip: Video, monkeypatch: pytest.MonkeyPatch
) -> None:
    """extend_context / extend_window in pipeline.json set how much each window sees and adds."""
    import dataclasses

    made: list[int] = []
    real = tiny_pipeline.complete_latents

    def record(*args: object, **kwargs: object) -> torch.Tensor:
        out = real(*args, **kwargs)  # type: ignore[arg-type]
        made.append(out.shape[2])
        return out

    monkeypatch.setattr(tiny_pipeline, "complete_latents", record)
    cfg = dataclasses.replace(tiny_pipeline.config, extend_context=9, extend_window=8)
    monkeypatch.setattr(tiny_pipeline, "config", cfg)
    out = tiny_pipeline("x", video=clip, mode="extend", num_frames=12, seed=2)
    assert out.frames.shape == (21, 32, 32, 3)
    assert np.array_equal(out.frames[:9], clip.frames)
    assert made == [5, 4]  # 9 context frames + 8 new (3 + 2 latents), then 9 + 4 (3 + 1)
    for bad in ({"extend_context": 4}, {"extend_context": 0}, {"extend_window": 6},
                {"extend_window": 0}):  # fmt: skip
        with pytest.raises(InvalidInputError, match="extend_"):
            dataclasses.replace(cfg, **bad)


def test_long_video_windows_take_their_own_layout_where_one_is_set(
    tiny_pipeline: Pipeline, clip: Video, monkeypatch: pytest.MonkeyPatch
) -> None:
    """window_context / window_frames set the windows that keep one continuation each (a long
    video's); the best of N per window (kinema extend) keeps extend_context / extend_window."""
    import dataclasses

    from kinema.models.vae import default_weights_dir
    from kinema.pipelines.verify import ShapesWorldVerifier

    cfg = dataclasses.replace(tiny_pipeline.config, extend_context=9, extend_window=8,
                              window_context=1, window_frames=4, verifier="shapes-world")  # fmt: skip
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, cfg,
                    verifier=ShapesWorldVerifier.from_pretrained(default_weights_dir()))  # fmt: skip
    made: list[tuple[int, int]] = []  # per window: latent frames sampled, rows
    real = pipe.complete_latents

    def record(*args: object, **kwargs: object) -> torch.Tensor:
        out = real(*args, **kwargs)  # type: ignore[arg-type]
        made.append((out.shape[2], out.shape[0]))
        return out

    monkeypatch.setattr(pipe, "complete_latents", record)
    said = "a red circle moving left on a black background"  # the verifier reads it
    one = pipe(said, video=clip, mode="extend", num_frames=12, seed=2, candidates=1)
    # 1 context frame (1 latent) + 4 new (1 latent), three times
    assert made == [(2, 1)] * 3 and one.frames.shape == (21, 32, 32, 3)
    assert np.array_equal(one.frames[:9], clip.frames)
    made.clear()
    two = pipe(said, video=clip, mode="extend", num_frames=12, seed=2, candidates=2)
    assert made == [(5, 2), (4, 2)]  # 9 + 8 (3 + 2 latents), then 9 + 4 (3 + 1): extend's
    assert np.array_equal(two.frames[:9], clip.frames)
    assert (pipe.window_layout(), pipe.window_layout(2)) == ((1, 4), (9, 8))
    assert tiny_pipeline.window_layout() == (5, 12)  # 0: extend_context / extend_window
    # another layout is another sample, not the same one relabelled
    plain = Pipeline(pipe.dit, pipe.vae, pipe.text_encoder,
                     dataclasses.replace(cfg, window_context=0, window_frames=0),
                     verifier=pipe.verifier)  # fmt: skip
    other = plain(said, video=clip, mode="extend", num_frames=12, seed=2, candidates=1)
    assert np.array_equal(other.frames[:9], clip.frames)
    assert not np.array_equal(other.frames, one.frames)
    for bad, message in (({"window_context": 4}, "window_context"),
                         ({"window_context": -1}, "window_context"),
                         ({"window_context": True}, "window_context"),
                         ({"window_frames": 6}, "window_frames"),
                         ({"window_frames": 2.0}, "window_frames")):  # fmt: skip
        with pytest.raises(InvalidInputError, match=message):
            dataclasses.replace(cfg, **bad)


def test_fill_regenerates_only_the_missing_frames(tiny_pipeline: Pipeline, clip: Video) -> None:
    out = tiny_pipeline("x", video=clip, missing=[3, 4, 5], seed=3)
    keep = [0, 1, 2, 6, 7, 8]
    assert np.array_equal(out.frames[keep], clip.frames[keep])
    assert not np.array_equal(out.frames[4], clip.frames[4])
    # NumPy's integers are indices too, and fill the same frames
    same = tiny_pipeline("x", video=clip, missing=list(np.arange(3, 6)), seed=3)
    assert np.array_equal(same.frames, out.frames)
    for bad in ([9], [-1], [], [True], [4, True], [3.0], ["3"], [np.int64(9)]):
        with pytest.raises(InvalidInputError, match="missing frames must be indices"):
            tiny_pipeline("x", video=clip, missing=bad)
    with pytest.raises(InvalidInputError, match="trim it to 5 first"):
        tiny_pipeline("x", video=Video(clip.frames[:8], 8.0), missing=[2])
    long = Video(np.repeat(clip.frames[:1], 485, axis=0), 8.0)
    with pytest.raises(InvalidInputError, match="at most 481 frames at once"):
        tiny_pipeline("x", video=long, missing=[2])


def test_interpolate_doubles_the_frame_rate(tiny_pipeline: Pipeline, clip: Video) -> None:
    out = tiny_pipeline.interpolate(clip, factor=2, seed=4)
    assert out.frames.shape == (17, 32, 32, 3) and out.fps == 16.0
    assert np.array_equal(out.frames[::2], clip.frames)
    with pytest.raises(InvalidInputError, match="factor must be an integer >= 2"):
        tiny_pipeline.interpolate(clip, factor=1)
    with pytest.raises(InvalidInputError, match="gives 22"):
        tiny_pipeline.interpolate(Video(clip.frames[:8], 8.0), factor=3)
    with pytest.raises(InvalidInputError, match="9 frames x 61 gives 489, over 481"):
        tiny_pipeline.interpolate(clip, factor=61)
    with pytest.raises(InvalidInputError, match="factor must be an integer >= 2, got True"):
        tiny_pipeline.interpolate(clip, factor=True)


def test_fps_must_be_a_positive_number(tiny_pipeline: Pipeline, clip: Video) -> None:
    """fps=0 once fell back to the default (``fps or ...``) and a negative one failed only
    after sampling; both are refused before any work."""
    calls: list[int] = []
    for bad in (0, 0.0, -8.0, float("nan"), float("inf"), True, "8"):
        with pytest.raises(InvalidInputError, match="fps must be a positive number"):
            tiny_pipeline("x", num_frames=5, fps=bad, callback=lambda i, n: calls.append(i))  # type: ignore[arg-type]
        with pytest.raises(InvalidInputError, match="fps must be a positive number"):
            tiny_pipeline("x", video=clip, missing=[2], fps=bad)  # type: ignore[arg-type]
    assert calls == []  # refused before a single sampler step
    out = tiny_pipeline("x", num_frames=5, fps=24, num_inference_steps=1, seed=0)
    assert out.fps == 24.0


def test_crossfade_is_linear_between_known_frames() -> None:
    canvas = np.zeros((1, 5, 1, 1, 3), dtype=np.uint8)
    canvas[0, 0], canvas[0, 4] = 0, 200
    known = np.array([True, False, False, False, True])
    out = crossfade(canvas, known)
    assert out[0, :, 0, 0, 0].tolist() == [0, 50, 100, 150, 200]
    known = np.array([False, True, False, False, False])
    canvas[0, 1] = 77
    assert crossfade(canvas, known)[0, :, 0, 0, 0].tolist() == [77] * 5


def test_generated_frames_carry_the_watermark_given_frames_stay_exact(
    tiny_pipeline: Pipeline,
) -> None:
    from kinema.safety.watermark import detect

    video = tiny_pipeline("a red circle", num_frames=9, seed=1, num_inference_steps=1)
    assert detect(video.frames, tiny_pipeline.watermark_key).detected
    # 64x64: the random test model's output is noise-like, so the mark needs a few tiles
    still = render(sample_scene(4, num_frames=1))[0]
    out = tiny_pipeline("a red circle", image=still, num_frames=9, seed=1, num_inference_steps=1)
    assert np.array_equal(out.frames[0], still)  # the given frame is not marked
    assert detect(out.frames[1:], tiny_pipeline.watermark_key).detected


def test_safety_off_means_no_mark_and_a_warning(tiny_pipeline: Pipeline) -> None:
    import pytest

    from kinema.safety.watermark import detect

    with pytest.warns(UserWarning, match="not watermarked"):
        bare = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder,
                 tiny_pipeline.config, safety=False)  # fmt: skip
    assert bare.watermark_key is None and bare.moderator is None
    video = bare("a red circle", num_frames=9, seed=1, num_inference_steps=1)
    assert not detect(video.frames).detected


def test_a_given_prefix_is_encoded_alone_with_the_same_result(
    tiny_pipeline: Pipeline, clip: Video, monkeypatch: pytest.MonkeyPatch
) -> None:
    """i2v / extension encode only the known prefix (the VAE is causal), and sample exactly as
    if the whole draft had been encoded; a prefix that is not at the start encodes it all."""
    canvas = clip.frames[None].copy()  # [1, 9, 32, 32, 3]
    known = np.zeros(9, dtype=bool)
    known[:5] = True  # latents 0 and 1 given
    lengths: list[int] = []
    encode = tiny_pipeline.encode
    monkeypatch.setattr(tiny_pipeline, "encode", lambda f: lengths.append(f.shape[1]) or encode(f))
    got = tiny_pipeline.complete_latents(["x"], [""], canvas, known, 3, 3.0, 7)
    assert lengths == [5]
    full = encode(crossfade(canvas, known))  # [1, C, 3, h, w]
    given = tiny_pipeline.latent_given(known)
    want = tiny_pipeline.sample(["x"], [""], tuple(full.shape[1:]), 3, 3.0, 7, given=given,
                                clean=full)  # fmt: skip
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    known[:] = True
    known[1:5] = False  # latent 1 missing, latent 2 given: not a prefix
    tiny_pipeline.complete_latents(["x"], [""], canvas, known, 3, 3.0, 7)
    assert lengths == [5, 9]


def test_guidance_interval_skips_the_unconditional_pass_outside_it(
    tiny_pipeline: Pipeline, dit_batches: list[int]
) -> None:
    import dataclasses

    from kinema.diffusion import sample_timesteps, shift_for_tokens

    batches = dit_batches
    shape = tiny_pipeline.latent_shape(5, 32, 32)
    base = tiny_pipeline.config
    try:
        tiny_pipeline.config = dataclasses.replace(base, guidance_interval=(0.0, 1.0))
        full = tiny_pipeline.sample(["x"], [""], shape, 4, 3.0, 0)
        assert batches == [2, 2, 2, 2]
        batches.clear()
        tiny_pipeline.config = dataclasses.replace(base, guidance_interval=(0.0, 0.6))
        part = tiny_pipeline.sample(["x"], [""], shape, 4, 3.0, 0)
        pt, ph, pw = tiny_pipeline.dit.cfg.patch  # the schedule worked out here, not asked for
        ts = sample_timesteps(
            4, shift_for_tokens(shape[1] // pt * (shape[2] // ph) * (shape[3] // pw), base.flow)
        )
        want = [1 if t > 0.6 else 2 for t in ts[:-1].tolist()]  # Euler: one call per step
        assert batches == want and want[0] == 1 and 2 in want  # t = 1 is outside [0, 0.6]
        assert not torch.allclose(full, part)
        with pytest.raises(InvalidInputError, match="guidance_interval"):
            dataclasses.replace(base, guidance_interval=(0.8, 0.2))
        with pytest.raises(InvalidInputError, match="guidance_interval"):
            dataclasses.replace(base, guidance_interval=(0.1, 0.2, 0.3))
    finally:
        tiny_pipeline.config = base


def test_known_frames_inside_generated_latents_are_enforced_each_step(
    tiny_pipeline: Pipeline, clip: Video, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interpolation leaves known pixels inside latents that are generated: every step but the
    last then round-trips its estimate through the VAE with them pasted in. A fill of a whole
    latent has nothing to enforce there and pays for no round trip."""
    calls: list[int] = []
    encode = tiny_pipeline.encode
    monkeypatch.setattr(tiny_pipeline, "encode", lambda f: calls.append(f.shape[1]) or encode(f))
    out = tiny_pipeline.interpolate(Video(clip.frames[::2], 4.0), 2, "x", strength=1.0,
                                    num_inference_steps=4, seed=0)  # fmt: skip
    assert np.array_equal(out.frames[::2], clip.frames[::2])
    # frame 0 alone (the given prefix, latent 0), then 3 projections (4 steps, not the last)
    assert calls == [1, 9, 9, 9]
    calls.clear()
    out = tiny_pipeline("x", video=clip, missing=[1, 2, 3, 4], num_inference_steps=4, seed=0)
    assert calls == [9]  # latent 1 is pixels 1-4: nothing known inside it
    assert np.array_equal(out.frames[5:], clip.frames[5:])


@pytest.mark.parametrize("window", [9, 17, 33])
def test_fill_plan_owns_every_missing_frame_once_with_context(window: int) -> None:
    from kinema.pipelines.text_to_video import fill_plan

    rng = np.random.default_rng(window)
    reach = (window - 1) // 4
    for T in (5, window, window + 4, 65, 129):
        for p in (0.05, 0.5, 0.95):
            known = rng.random(T) >= p
            plan = fill_plan(known, window)
            if known.all():
                assert plan == []
                continue
            owned = np.stack([o for _, _, o in plan])  # [windows, T]
            np.testing.assert_array_equal(owned.sum(0), (~known).astype(int))  # once each
            for a, b, o in plan:
                assert b - a == min(window, T) and a >= 0 and b <= T
                idx = np.flatnonzero(o)
                assert len(idx) and a <= idx[0] and idx[-1] < b
                assert b == T or idx[-1] < b - reach  # context after what it fills
                assert a == 0 or idx[0] >= a + reach  # and before
                # unless clamped at an end, the first frame it fills opens a latent frame
                assert a in (0, T - window) or (idx[0] - a) % 4 == 1
            # windows run left to right: each starts at the first frame not filled yet
            firsts = [int(np.flatnonzero(o)[0]) for _, _, o in plan]
            assert firsts == sorted(firsts)
    assert [(a, b) for a, b, _ in fill_plan(np.ones(65, dtype=bool), 9)] == []
    only = fill_plan(np.array([True] * 8 + [False] + [True] * 8), 0)  # 0: the whole video
    assert [(a, b) for a, b, _ in only] == [(0, 17)]


def test_long_fill_goes_window_by_window(tiny_pipeline: Pipeline) -> None:
    """A video longer than ``fill_window`` is filled in windows of that many frames, each
    seeing the frames earlier windows filled as given; the given frames come back exactly."""
    import copy
    import dataclasses

    from kinema.pipelines.text_to_video import fill_plan

    pipe = copy.copy(tiny_pipeline)  # a shallow copy: only its config changes
    pipe.config = dataclasses.replace(pipe.config, fill_window=9)
    src = Video(render(sample_scene(4, num_frames=33, height=32, width=32)), 8.0)
    missing = [3, 4, 12, 13, 14, 30]
    seen: list[tuple[int, list[int]]] = []
    complete = pipe.complete_latents

    def spy(prompts, negative, canvas, known, *a, **k):
        seen.append((canvas.shape[1], np.flatnonzero(~known).tolist()))
        return complete(prompts, negative, canvas, known, *a, **k)

    pipe.complete_latents = spy  # type: ignore[method-assign]
    steps: list[tuple[int, int]] = []
    out = pipe("x", video=src, missing=missing, seed=5, callback=lambda i, n: steps.append((i, n)))
    known = np.ones(33, dtype=bool)
    known[missing] = False
    plan = fill_plan(known, 9)
    assert len(plan) >= 3 and all(length == 9 for length, _ in seen)
    assert len(seen) == len(plan)
    # window j leaves unknown only what it or later windows fill (earlier ones' frames given)
    earlier: set[int] = set()
    for (a, _, owned), (_, unknown) in zip(plan, seen, strict=True):
        unknown_here = {a + i for i in unknown}
        assert not unknown_here & earlier and set(np.flatnonzero(owned)) <= unknown_here
        earlier |= set(np.flatnonzero(owned).tolist())
    n = pipe.config.steps * len(plan)
    assert steps[-1] == (n, n) and len(steps) == n
    np.testing.assert_array_equal(out.frames[known], src.frames[known])
    assert all(not np.array_equal(out.frames[m], src.frames[m]) for m in missing)
    # a video no longer than the window is one window, as with fill_window 0
    short = Video(src.frames[:9], 8.0)
    same = pipe("x", video=short, missing=[3, 4], seed=5)
    whole = tiny_pipeline("x", video=short, missing=[3, 4], seed=5)
    np.testing.assert_array_equal(same.frames, whole.frames)
    from kinema.pipelines import PipelineConfig

    for bad in (5, 10, -9):
        with pytest.raises(InvalidInputError, match="fill_window"):
            PipelineConfig(fill_window=bad)
