from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from kinema.errors import InvalidInputError
from kinema.io.video import Video
from kinema.pipelines import Pipeline
from kinema.pipelines.text_to_video import PipelineConfig, Timings


def test_generates_a_video_of_the_requested_shape(tiny_pipeline: Pipeline) -> None:
    timings = Timings()
    steps_seen: list[tuple[int, int]] = []
    video = tiny_pipeline(
        "a red circle bouncing",
        num_frames=9,
        height=32,
        width=48,
        seed=1,
        callback=lambda i, n: steps_seen.append((i, n)),
        timings=timings,
    )
    assert isinstance(video, Video)
    assert video.frames.shape == (9, 32, 48, 3) and video.frames.dtype == np.uint8
    assert video.fps == 8.0
    assert steps_seen == [(1, 3), (2, 3), (3, 3)]
    assert timings.sampling > 0 and timings.decode > 0 and timings.total > timings.sampling
    images = tiny_pipeline(["a", "b"], num_frames=1, seed=2)
    assert isinstance(images, list) and [v.frames.shape for v in images] == [(1, 64, 64, 3)] * 2


STILL = np.full((32, 32, 3), 40, dtype=np.uint8)
SOURCE = Video(np.full((9, 32, 32, 3), 40, dtype=np.uint8), 8.0)


def step_totals(pipe: Pipeline, cases: dict[str, dict]) -> dict[str, set[int]]:
    """Per named call (keyword arguments beyond a 5 x 32 x 32 one-clip call), the step totals
    its sampler callback reported."""
    totals = {}
    for name, kw in cases.items():
        seen: list[int] = []
        pipe("a red circle", num_frames=5, height=32, width=32, seed=1, candidates=1,
             callback=lambda i, n, seen=seen: seen.append(n), **kw)  # fmt: skip
        totals[name] = set(seen)
    return totals


def test_image_to_video_takes_its_own_step_count_where_one_is_set(
    tiny_pipeline: Pipeline,
) -> None:
    import dataclasses

    config = dataclasses.replace(tiny_pipeline.config, image_steps=5)  # steps = 3
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config)
    totals = step_totals(pipe, {"t2v": {}, "i2v": {"image": STILL},
                                "i2v, asked": {"image": STILL, "num_inference_steps": 2},
                                "fill": {"video": SOURCE, "missing": [4]}})  # fmt: skip
    assert totals == {"t2v": {3}, "i2v": {5}, "i2v, asked": {2}, "fill": {3}}
    assert (pipe.steps_for(), pipe.steps_for(image=True)) == (3, 5)
    assert tiny_pipeline.steps_for(image=True) == 3  # 0: the pipeline's steps
    for bad in (-1, 2.5, True):
        with pytest.raises(InvalidInputError, match="image_steps must be an int >= 0"):
            PipelineConfig(image_steps=bad)  # type: ignore[arg-type]


def test_text_to_video_takes_its_own_step_count_where_one_is_set(
    tiny_pipeline: Pipeline,
) -> None:
    import dataclasses

    config = dataclasses.replace(tiny_pipeline.config, text_steps=2)  # steps = 3
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config)
    totals = step_totals(pipe, {"t2v": {}, "t2v, asked": {"num_inference_steps": 4},
                                "i2v": {"image": STILL},
                                "fill": {"video": SOURCE, "missing": [4]}})  # fmt: skip
    # extension and fill keep the pipeline's steps
    assert totals == {"t2v": {2}, "t2v, asked": {4}, "i2v": {3}, "fill": {3}}
    assert (pipe.steps_for(text=True), pipe.steps_for(), pipe.steps_for(window=True)) == (2, 3, 3)
    assert tiny_pipeline.steps_for(text=True) == 3  # 0: the pipeline's steps
    # fewer steps is another sample, not the same one relabelled
    a = pipe("a red circle", num_frames=5, height=32, width=32, seed=1, candidates=1).frames
    b = tiny_pipeline("a red circle", num_frames=5, height=32, width=32, seed=1,
                      candidates=1).frames  # fmt: skip
    assert not np.array_equal(a, b)
    for bad in (-1, 2.5, True):
        with pytest.raises(InvalidInputError, match="text_steps must be an int >= 0"):
            PipelineConfig(text_steps=bad)  # type: ignore[arg-type]


def test_long_video_windows_take_their_own_step_count_where_one_is_set(
    tiny_pipeline: Pipeline,
) -> None:
    import dataclasses

    from kinema.models.vae import default_weights_dir
    from kinema.pipelines.verify import ShapesWorldVerifier

    config = dataclasses.replace(tiny_pipeline.config, window_steps=2, verifier="shapes-world",
                                 extend_candidates=2)  # steps = 3  # fmt: skip
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config,
                    verifier=ShapesWorldVerifier.from_pretrained(default_weights_dir()))  # fmt: skip
    still = np.full((32, 32, 3), 40, dtype=np.uint8)
    src = Video(np.full((9, 32, 32, 3), 40, dtype=np.uint8), 8.0)
    ext = {"video": src, "mode": "extend", "num_frames": 8}
    said = "a red circle moving left on a black background"  # the verifier reads it
    totals = {}
    for name, kw in {
        "t2v": {"candidates": 1},
        "i2v": {"image": still, "candidates": 1},
        # a long video's windows: one continuation each
        "windows of one": ext | {"candidates": 1},
        "windows of one, asked": ext | {"candidates": 1, "num_inference_steps": 4},
        # kinema extend: the best of extend_candidates per window keeps the pipeline's steps
        "windows of two": ext,
        "fill": {"video": src, "missing": [4], "candidates": 1},
    }.items():
        seen: list[tuple[int, int]] = []
        kw = {"num_frames": 5} | kw
        pipe(said, height=32, width=32, seed=1,
             callback=lambda i, n, seen=seen: seen.append((i, n)), **kw)  # fmt: skip
        totals[name] = {n for _, n in seen}
    windows = -(-8 // pipe.config.extend_window)  # every window's steps in the total
    assert totals == {"t2v": {3}, "i2v": {3}, "windows of one": {2 * windows},
                      "windows of one, asked": {4 * windows}, "windows of two": {3 * windows},
                      "fill": {3}}  # fmt: skip
    assert (pipe.steps_for(), pipe.steps_for(window=True), pipe.steps_for(image=True)) == (3, 2, 3)
    assert tiny_pipeline.steps_for(window=True) == 3  # 0: the pipeline's steps
    assert pipe.steps_for(window=True, candidates=2) == 3  # the best of 2: the pipeline's steps
    # a window sampled in fewer steps is another sample, not the same one relabelled
    a = pipe(said, video=src, mode="extend", num_frames=8, seed=3, candidates=1)
    plain = dataclasses.replace(config, window_steps=0)
    b = Pipeline(pipe.dit, pipe.vae, pipe.text_encoder, plain, verifier=pipe.verifier)(
        said, video=src, mode="extend", num_frames=8, seed=3, candidates=1
    )
    assert np.array_equal(a.frames[:9], b.frames[:9]) and not np.array_equal(a.frames, b.frames)
    for bad in (-1, 2.5, True):
        with pytest.raises(InvalidInputError, match="window_steps must be an int >= 0"):
            PipelineConfig(window_steps=bad)  # type: ignore[arg-type]


def rows_per_step(pipe: Pipeline, frames: int, steps: int, lo: float) -> list[int]:
    """DiT rows per Euler step of one 32 x 32 row of ``frames`` guided where t >= ``lo``: 2
    guided, 1 not (the steps must hold both, or the test could not tell them apart)."""
    ts = pipe.timesteps_for(pipe.latent_shape(frames, 32, 32), steps)[:-1].tolist()
    want = [2 if t >= lo else 1 for t in ts]
    assert 1 in want and 2 in want
    return want


def test_long_video_windows_take_their_own_guidance_interval_where_one_is_set(
    tiny_pipeline: Pipeline, dit_batches: list[int]
) -> None:
    """window_guidance_interval: a long video's windows (one continuation each) run their
    steps below its low end on the prompt with its context alone, one DiT batch; the first
    clip, kinema extend's best of N and every other mode keep guidance_interval."""
    import dataclasses

    from kinema.models.vae import default_weights_dir
    from kinema.pipelines.verify import ShapesWorldVerifier

    batches = dit_batches
    base = tiny_pipeline.config  # context guidance = guidance: two rows a guided step, as shipped
    base = dataclasses.replace(base, context_guidance=base.guidance)
    config = dataclasses.replace(base, window_guidance_interval=[0.6, 1.0], verifier="shapes-world",
                                 extend_candidates=2)  # a JSON list, as pipeline.json has it  # fmt: skip
    assert config.window_guidance_interval == (0.6, 1.0)
    verifier = ShapesWorldVerifier.from_pretrained(default_weights_dir())
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config,
                    verifier=verifier)  # fmt: skip
    assert pipe.interval_for(window=True) == (0.6, 1.0)
    assert pipe.interval_for() == pipe.interval_for(window=True, candidates=2) == (0.0, 1.0)
    assert tiny_pipeline.interval_for(window=True) == tiny_pipeline.config.guidance_interval
    src = Video(np.full((9, 32, 32, 3), 40, dtype=np.uint8), 8.0)
    said = "a red circle moving left on a black background"  # the verifier reads it
    steps = config.steps
    context = min(9, pipe.window_layout()[0])  # a window: its context + the 4 new frames
    want = rows_per_step(pipe, context + 4, steps, 0.6)
    got = {}
    for name, p in {"window interval": pipe,
                    "every step": Pipeline(pipe.dit, pipe.vae, pipe.text_encoder, base)}.items():  # fmt: skip
        batches.clear()
        got[name] = p(said, video=src, mode="extend", num_frames=4, seed=3, candidates=1)
        windows = [batches[i : i + steps] for i in range(0, len(batches), steps)]
        expect = want if name == "window interval" else [2] * steps
        assert windows and all(w == expect for w in windows), (name, batches)
    assert not np.array_equal(got["window interval"].frames, got["every step"].frames)
    batches.clear()  # kinema extend's best of 2 per window: every step guided, 2 x 2 rows
    pipe(said, video=src, mode="extend", num_frames=4, seed=3, candidates=2)
    assert batches == [4] * steps
    batches.clear()  # text to video: guidance_interval, every step
    pipe(said, num_frames=5, height=32, width=32, seed=1, candidates=1)
    assert batches == [2] * steps
    for bad in ((0.8, 0.2), (0.1, 0.2, 0.3), (-0.1, 1.0), "ab", 0.5):
        with pytest.raises(InvalidInputError, match="window_guidance_interval"):
            PipelineConfig(window_guidance_interval=bad)  # type: ignore[arg-type]
    back = PipelineConfig.from_dict(json.loads(json.dumps(dataclasses.asdict(config))))
    assert back.window_guidance_interval == (0.6, 1.0)
    assert back == config  # the flow's mask weights come back a tuple, as written
    assert isinstance(back.flow.mask_weights, tuple)
    with pytest.raises(InvalidInputError, match="unknown FlowConfig keys"):
        PipelineConfig.from_dict({"flow": {"mask_weight": [1.0] * 6}})
    with pytest.raises(InvalidInputError, match="unknown PipelineConfig keys"):
        PipelineConfig.from_dict({"window_guidance": [0.4, 1.0]})


def test_text_to_video_takes_its_own_guidance_interval_where_one_is_set(
    tiny_pipeline: Pipeline, dit_batches: list[int]
) -> None:
    """text_guidance_interval: text to video (a clip from noise, its screened drafts and the
    guard's remakes alike) runs its steps below the low end on the prompt alone, one DiT batch
    a row; image to video and the rest keep guidance_interval."""
    import dataclasses

    batches = dit_batches
    base = tiny_pipeline.config  # context guidance = guidance: two rows a guided i2v step
    base = dataclasses.replace(base, context_guidance=base.guidance)
    config = dataclasses.replace(base, text_guidance_interval=[0.6, 1.0])  # a JSON list
    assert config.text_guidance_interval == (0.6, 1.0)
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config)
    assert pipe.interval_for(text=True) == (0.6, 1.0)
    assert pipe.interval_for() == pipe.interval_for(window=True, text=True) == (0.0, 1.0)
    assert tiny_pipeline.interval_for(text=True) == tiny_pipeline.config.guidance_interval
    want = rows_per_step(pipe, 5, config.steps, 0.6)
    got = {}
    for name, p in {"text interval": pipe,
                    "every step": Pipeline(pipe.dit, pipe.vae, pipe.text_encoder, base)}.items():  # fmt: skip
        batches.clear()
        got[name] = p("a red circle", num_frames=5, height=32, width=32, seed=1, candidates=1)
        assert batches == (want if name == "text interval" else [2] * config.steps), name
    assert not np.array_equal(got["text interval"].frames, got["every step"].frames)
    batches.clear()  # two prompts in one call: two rows a step, guided or not
    pipe(["a red circle", "a blue square"], num_frames=5, height=32, width=32, seed=1,
         candidates=1)  # fmt: skip
    assert batches == [2 * n for n in want]
    batches.clear()  # image to video: guidance_interval, every step
    pipe("a red circle", image=STILL, num_frames=5, seed=1, candidates=1)
    assert batches == [2] * pipe.steps_for(image=True)
    for bad in ((0.8, 0.2), (0.1, 0.2, 0.3), (-0.1, 1.0), "ab", 0.5):
        with pytest.raises(InvalidInputError, match="text_guidance_interval"):
            PipelineConfig(text_guidance_interval=bad)  # type: ignore[arg-type]
    back = PipelineConfig.from_dict(json.loads(json.dumps(dataclasses.asdict(config))))
    assert back.text_guidance_interval == (0.6, 1.0) and back == config


def test_a_sample_reads_its_text_once_per_text_batch(tiny_pipeline: Pipeline, monkeypatch) -> None:
    """The DiT's text keys / values are computed once per batch of prompts a sample runs, not
    at every step: every step's forward gets the same TextContext (DiT.prepare_text)."""
    import dataclasses

    from kinema.models.dit import DiT, TextContext

    dit = tiny_pipeline.dit
    prepared: list[TextContext] = []
    read: list[object] = []

    def prepare(text, mask):  # the spy keeps what it made
        prepared.append(DiT.prepare_text(dit, text, mask))
        return prepared[-1]

    def forward(latents, t, text, text_mask=None):
        read.append(text)
        return DiT.forward(dit, latents, t, text, text_mask)

    monkeypatch.setattr(dit, "prepare_text", prepare)
    monkeypatch.setattr(dit, "forward", forward)
    out = tiny_pipeline("a red circle", num_frames=5, height=32, width=32, seed=0, candidates=1)
    assert len(read) == 3 and len(prepared) == 1  # 3 steps, prompt + negative in one batch
    assert all(r is prepared[0] for r in read) and prepared[0].mask.shape[0] == 2
    # guidance only at high noise: the steps below read the prompt's batch alone, made once too
    half = dataclasses.replace(tiny_pipeline.config, steps=4, guidance_interval=(0.5, 1.0))
    pipe = Pipeline(dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, half)
    prepared.clear(), read.clear()
    pipe("a red circle", num_frames=5, height=32, width=32, seed=0, candidates=1)
    assert len(read) == 4 and len(prepared) == 2
    assert [p.mask.shape[0] for p in prepared] == [2, 1]
    assert {id(r) for r in read} == {id(p) for p in prepared}
    assert out.frames.shape == (5, 32, 32, 3)


def test_seed_decides_the_output(tiny_pipeline: Pipeline) -> None:
    a = tiny_pipeline("a blue star", num_frames=5, seed=7).frames
    b = tiny_pipeline("a blue star", num_frames=5, seed=7).frames
    c = tiny_pipeline("a blue star", num_frames=5, seed=8).frames
    d = tiny_pipeline("a blue star", num_frames=5, seed=7, guidance_scale=1.0).frames
    assert np.array_equal(a, b) and not np.array_equal(a, c) and not np.array_equal(a, d)
    heun = tiny_pipeline("a blue star", num_frames=5, seed=7, sampler="heun").frames
    assert heun.shape == a.shape and not np.array_equal(heun, a)


def test_bad_requests_fail_before_any_work(tiny_pipeline: Pipeline) -> None:
    cases = [
        (dict(num_frames=16), "num_frames must be 1 \\+ 4k"),
        (dict(num_frames=485), "over 481"),
        (dict(height=60), "height must be a multiple of 16"),
        (dict(width=1024), "width must be a multiple of 16"),
        (dict(num_inference_steps=0), "num_inference_steps"),
        (dict(guidance_scale=-1.0), "guidance_scale"),
        (dict(sampler="ddim"), "sampler must be"),
        (dict(negative_prompt=["x", "y"]), "2 negative prompts for 1 prompts"),
    ]
    for kwargs, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            tiny_pipeline("a red circle", **kwargs)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="prompt must be"):
        tiny_pipeline(None)  # type: ignore[arg-type]


def test_save_load_round_trip(tmp_path, tiny_pipeline: Pipeline) -> None:
    import torch

    tiny_pipeline.dit.save_pretrained(tmp_path, dtype=torch.float32)
    tiny_pipeline.vae.save_pretrained(tmp_path, dtype=torch.float32)
    (tmp_path / "pipeline.json").write_text('{"steps": 3, "guidance": 2.5}')
    back = Pipeline.from_pretrained(tmp_path)
    assert back.config.steps == 3 and back.config.guidance == 2.5
    a = tiny_pipeline("a green square", num_frames=5, seed=3, guidance_scale=2.5).frames
    b = back("a green square", num_frames=5, seed=3).frames
    assert np.array_equal(a, b)
    with pytest.raises(InvalidInputError, match=r"no dit_config\.json"):
        Pipeline.from_pretrained(tmp_path / "missing")


def test_reentrant_calls_do_not_interfere(tiny_pipeline: Pipeline) -> None:
    jobs = [("a red circle", 5, 1), ("two yellow stars", 9, 2), ("a white square", 1, 3)]
    alone = [tiny_pipeline(p, num_frames=n, seed=s).frames for p, n, s in jobs]
    together: list[np.ndarray | None] = [None] * 3

    def run(i: int) -> None:
        p, n, s = jobs[i]
        together[i] = tiny_pipeline(p, num_frames=n, seed=s).frames

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(a, b) for a, b in zip(alone, together, strict=True))


def test_mismatched_parts_are_refused(tiny_pipeline: Pipeline) -> None:
    import dataclasses

    from kinema.config import DIT_PRESETS
    from kinema.models.dit import DiT

    wrong = DiT(dataclasses.replace(DIT_PRESETS["dit-test"], in_channels=8))
    with pytest.raises(InvalidInputError, match="latent channels"):
        Pipeline(wrong, tiny_pipeline.vae, tiny_pipeline.text_encoder)


def test_prompts_are_moderated_before_any_compute(tiny_pipeline: Pipeline) -> None:
    import dataclasses

    from kinema.safety.moderation import PromptRefusedError

    calls = []
    timings = Timings()
    with pytest.raises(PromptRefusedError, match="self_harm"):
        tiny_pipeline(["a red circle", "a man hanging himself"], callback=lambda i, n: calls.append(i),
                      timings=timings)  # fmt: skip
    assert calls == [] and timings.total == 0.0  # refused before text encoding or sampling
    with pytest.warns(UserWarning, match="safety checks are OFF"):
        unsafe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder,
                          dataclasses.replace(tiny_pipeline.config), safety=False)  # fmt: skip
    assert unsafe.moderator is None
    assert unsafe("a man hanging himself", num_frames=1, seed=0).frames.shape == (1, 64, 64, 3)


def test_bf16_autocast_only_where_the_cpu_computes_bf16(
    tiny_pipeline: Pipeline, monkeypatch
) -> None:
    """bf16 is used where the CPU has it natively; where torch would emulate it (slower than
    fp32) the pipeline runs in fp32; config.bf16 = False always means fp32."""
    import dataclasses

    import torch

    from kinema.hardware import native_bf16

    for env, config_bf16, expected in [
        ("1", True, True),
        ("0", True, False),
        ("1", False, False),
    ]:
        monkeypatch.setenv("KINEMA_BF16", env)
        assert native_bf16() is (env == "1")
        p = Pipeline(
            tiny_pipeline.dit,
            tiny_pipeline.vae,
            tiny_pipeline.text_encoder,
            dataclasses.replace(tiny_pipeline.config, bf16=config_bf16),
        )
        with p.autocast():
            assert torch.is_autocast_enabled("cpu") is expected
            assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == (
                torch.bfloat16 if expected else torch.float32
            )
        out = p("a red circle", num_frames=5, height=32, width=32, num_inference_steps=2, seed=0)
        assert out.frames.shape == (5, 32, 32, 3)


def test_a_pasted_negative_field_is_a_negative_prompt(tiny_pipeline: Pipeline) -> None:
    args = dict(num_frames=1, seed=0, guidance_scale=4.0)
    pasted = tiny_pipeline("a red circle\nNegative prompt: a blue square", **args).frames
    given = tiny_pipeline("a red circle", negative_prompt="a blue square", **args).frames
    plain = tiny_pipeline("a red circle", **args).frames
    assert np.array_equal(pasted, given) and not np.array_equal(pasted, plain)
    # a whole JSON body: its prompt and negative prompt (its frame count is the caller's to give)
    body = '{"prompt": "a red circle", "negative_prompt": "a blue square", "num_frames": 33}'
    assert np.array_equal(tiny_pipeline(body, **args).frames, given)
    both = tiny_pipeline("a red circle | negative: a blue square", negative_prompt="a green star",
                         **args).frames  # fmt: skip
    joined = tiny_pipeline("a red circle", negative_prompt="a green star, a blue square",
                           **args).frames  # fmt: skip
    assert np.array_equal(both, joined)


def test_a_negative_prompt_is_moderated_for_what_it_takes_away(tiny_pipeline: Pipeline) -> None:
    from kinema.safety.moderation import PromptRefusedError

    with pytest.raises(PromptRefusedError, match="takes away 'clothes'"):
        tiny_pipeline("a nine-year-old girl on a bed", negative_prompt="clothes", num_frames=1)
    with pytest.raises(InvalidInputError, match="negative_prompt must be a string"):
        tiny_pipeline("a red circle", negative_prompt=[3], num_frames=1)  # type: ignore[list-item]


def test_the_dit_reads_the_configured_rewrite_and_the_moderator_the_prompt(
    tiny_pipeline: Pipeline,
) -> None:
    import dataclasses

    from kinema.safety.moderation import PromptRefusedError

    said, canonical = (
        "a tiny blue box sliding to the left on grey",
        "a small blue square moving left on a gray background",
    )
    assert tiny_pipeline.config.prompt_rewrite == ""  # the default: prompts go in as written
    assert tiny_pipeline.model_prompt(said) == said
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder,
                    dataclasses.replace(tiny_pipeline.config, prompt_rewrite="shapes-world"))  # fmt: skip
    assert pipe.model_prompt(said) == canonical
    assert pipe.model_prompt("a dog in a field") == "a dog in a field"  # nothing to rewrite
    args = dict(num_frames=1, seed=3)
    rewritten = pipe(said, **args).frames
    assert np.array_equal(rewritten, tiny_pipeline(canonical, **args).frames)
    as_written = pipe(said, rewrite_prompt=False, **args).frames
    assert np.array_equal(as_written, tiny_pipeline(said, **args).frames)
    assert not np.array_equal(rewritten, as_written)
    # with frames given the prompt goes in as written (the rewrite cost i2v and extension shape)
    still = (np.arange(64 * 64 * 3) % 251).astype(np.uint8).reshape(64, 64, 3)
    i2v = dict(image=still, num_frames=5, seed=3)
    assert np.array_equal(pipe(said, **i2v).frames, tiny_pipeline(said, **i2v).frames)
    assert not np.array_equal(pipe(said, **i2v).frames, tiny_pipeline(canonical, **i2v).frames)
    # the rewrite of this prompt is harmless ("a red circle moving left on a black background"),
    # so only reading the prompt itself refuses it
    harmful = "a red circle moving left on a black background, then a man hanging himself"
    assert pipe.model_prompt(harmful) == "a red circle moving left on a black background"
    with pytest.raises(PromptRefusedError, match="self_harm"):
        pipe(harmful, **args)
    with pytest.raises(InvalidInputError, match="prompt_rewrite must be one of"):
        PipelineConfig(prompt_rewrite="gpt")
