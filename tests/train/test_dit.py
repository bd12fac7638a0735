from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from kinema.config import DIT_PRESETS, VAE_PRESETS, DiTRecipe, build_config, load_dit_recipe
from kinema.errors import InvalidInputError
from kinema.models.text import TextEncoder
from kinema.models.vae import CausalVAE
from kinema.train.dit import DiTTask, build_cache, eval_specs, load_or_build_cache, new_dit
from kinema.train.trainer import train


def tiny_recipe(steps: int) -> DiTRecipe:
    recipe = build_config(
        DiTRecipe,
        {
            "train": {
                "steps": steps,
                "batch_size": 4,
                "warmup": 1,
                "bf16": False,
                "log_every": 1,
                "eval_every": 100,
                "ckpt_every": 2,
            },
            "data": {"buckets": [[5, 32, 32, 6], [1, 32, 32, 6]], "captions_per_clip": 2},
            "flow": {"text_drop": 0.5},
            "eval": {"prompts": 2, "steps": 2},
        },
    )
    recipe.model = DIT_PRESETS["dit-test"]  # type: ignore[attr-defined]
    return recipe  # type: ignore[return-value]


@pytest.fixture(scope="module")
def vae() -> CausalVAE:
    torch.manual_seed(0)
    return CausalVAE(VAE_PRESETS["vae-tiny"]).eval()


@pytest.fixture(scope="module")
def cache(vae: CausalVAE, text_encoder: TextEncoder) -> dict:
    return build_cache(tiny_recipe(1), vae, text_encoder, progress=False)


def test_cache_holds_latents_and_caption_states(cache: dict) -> None:
    b = cache["buckets"]
    assert set(b) == {"5x32x32", "1x32x32"}
    assert b["5x32x32"]["latents"].shape == (6, 4, 2, 4, 4)
    assert b["1x32x32"]["latents"].shape == (6, 4, 1, 4, 4)
    states, mask = b["5x32x32"]["states"], b["5x32x32"]["mask"]
    assert states.shape[:2] == (6, 2) and states.shape[3] == 384 and mask.shape == states.shape[:3]
    assert all(len(c) == 2 and c[0] != "" for c in b["5x32x32"]["captions"])
    assert cache["empty"][1].sum() == 2


def test_batches_repeat_by_step_and_drop_text(cache: dict, vae: CausalVAE, text_encoder) -> None:
    task = DiTTask(tiny_recipe(1), vae, text_encoder, cache)
    a, b, c = task.batch(3), task.batch(3), task.batch(4)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["noise"], c["noise"])
    assert float(a["t"].min()) > 0 and float(a["t"].max()) < 1
    dropped = [int((task.batch(s)["mask"].sum(1) == 2).sum()) for s in range(40)]
    assert 40 <= sum(dropped) <= 120  # p = 0.5 of 160 prompts (a caption is never 2 tokens)


def test_resume_gives_the_same_next_loss(tmp_path: Path, cache: dict, vae, text_encoder) -> None:
    def run(steps: int, out: Path, resume: bool = False, seed: int = 0) -> None:
        recipe = tiny_recipe(steps)
        torch.manual_seed(seed)
        model = new_dit(recipe, vae, text_encoder)
        info = {"recipe": {"train": {"steps": 3}}}
        task = DiTTask(recipe, vae, text_encoder, cache)
        train(model, task, recipe.train, out, resume=resume, run_info=info, progress=False)

    run(3, tmp_path / "a")
    run(2, tmp_path / "b")
    run(3, tmp_path / "b", resume=True, seed=99)
    loss = lambda p: {  # noqa: E731
        r["step"]: r["loss"]
        for r in map(json.loads, (p / "log.jsonl").read_text().splitlines())
        if "loss" in r
    }
    a, b = loss(tmp_path / "a"), loss(tmp_path / "b")
    assert a == b and len(a) == 3


def test_training_lowers_the_flow_loss(tmp_path: Path, cache: dict, vae, text_encoder) -> None:
    recipe = tiny_recipe(40)
    recipe.train.lr = 3e-3
    recipe.train.ckpt_every = 100
    task = DiTTask(recipe, vae, text_encoder, cache)
    model = new_dit(recipe, vae, text_encoder)
    ema = train(model, task, recipe.train, tmp_path, progress=False)

    def held_out_loss(m: torch.nn.Module) -> float:
        with torch.no_grad():
            return sum(float(task.loss(m, task.batch(10_000 + s), 0)[0]) for s in range(8))

    assert held_out_loss(model) < 0.8 * held_out_loss(new_dit(recipe, vae, text_encoder))
    scores = task.evaluate(ema, 40, tmp_path)
    assert set(scores) >= {"fidelity_all", "fidelity_color", "fidelity_motion"}
    assert (tmp_path / "samples" / "step_000040.mp4").is_file()


def test_cache_is_reused_only_for_the_same_data(tmp_path: Path, vae, text_encoder) -> None:
    recipe = tiny_recipe(1)
    recipe.data.buckets = [(1, 32, 32, 2)]
    first = load_or_build_cache(recipe, vae, text_encoder, tmp_path, progress=False)
    again = load_or_build_cache(recipe, vae, text_encoder, tmp_path, progress=False)
    assert torch.equal(
        first["buckets"]["1x32x32"]["latents"], again["buckets"]["1x32x32"]["latents"]
    )
    recipe.data.buckets = [(1, 32, 32, 3)]
    other = load_or_build_cache(recipe, vae, text_encoder, tmp_path, progress=False)
    assert len(other["buckets"]["1x32x32"]["latents"]) == 3


def test_eval_prompts_use_held_out_templates() -> None:
    specs = eval_specs(10)
    assert [len(s.objects) for _, s in specs] == [1, 2] * 5
    assert len({p for p, _ in specs}) == 10


def test_recipe_parsing(tmp_path: Path) -> None:
    recipe = load_dit_recipe("configs/dit-shapes.yaml")
    assert recipe.model.width == DIT_PRESETS["dit-tiny"].width and recipe.train.bf16
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"model": "dit-huge"}))
    with pytest.raises(InvalidInputError, match="unknown DiT preset"):
        load_dit_recipe(str(bad))
    bad.write_text(yaml.safe_dump({"flow": {"shfit": 2}}))
    with pytest.raises(InvalidInputError, match="unknown FlowConfig keys"):
        load_dit_recipe(str(bad))


def test_frame_masks() -> None:
    import numpy as np

    from kinema.train.dit import MASK_KINDS, frame_mask

    rng = np.random.default_rng(0)
    assert not frame_mask("none", 5, rng).any()
    assert frame_mask("first", 5, rng).tolist() == [True, False, False, False, False]
    assert frame_mask("last", 5, rng).tolist() == [False, False, False, False, True]
    assert frame_mask("ends", 5, rng).tolist() == [True, False, False, False, True]
    for _ in range(50):
        prefix = frame_mask("prefix", 5, rng)
        k = int(prefix.sum())
        assert 1 <= k <= 4 and prefix[:k].all() and not prefix[k:].any()
        for kind in MASK_KINDS:
            assert not frame_mask(kind, 5, rng).all()  # something is always generated
    assert not frame_mask("first", 1, rng).any()  # an image is always generated whole
    with pytest.raises(InvalidInputError, match="unknown mask kind"):
        frame_mask("middle", 5, rng)


def test_given_frames_are_clean_and_carry_no_loss(cache: dict, vae, text_encoder) -> None:
    recipe = tiny_recipe(1)
    recipe.flow.mask_weights = (0.0, 1.0, 0.0, 0.0, 0.0, 0.0)  # always image-to-video
    task = DiTTask(recipe, vae, text_encoder, cache)
    b = next(task.batch(s) for s in range(20) if task.batch(s)["x0"].shape[2] > 1)
    assert b["given"][:, 0].all() and not b["given"][:, 1:].any()
    assert torch.all(b["t"][:, 0] == 0) and torch.all(b["t"][:, 1:] > 0)
    model = new_dit(recipe, vae, text_encoder)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    b2 = dict(b)
    b2["noise"] = b["noise"].clone()
    b2["noise"][:, :, 0] += 5.0  # noise on a given frame is never used
    with torch.no_grad():
        base = float(task.loss(model, b, 0)[0])
        assert float(task.loss(model, b2, 0)[0]) == pytest.approx(base, rel=1e-6)


def test_export_keeps_tuned_sampling_settings(tmp_path: Path, vae: CausalVAE, text_encoder) -> None:
    """Re-exporting a longer run takes steps, guidance, text model and flow from the recipe but
    keeps the sampler, watermark key and extension windows already in ``pipeline.json``."""
    from kinema.pipelines.text_to_video import PipelineConfig
    from kinema.train.dit import export

    recipe = tiny_recipe(1)
    run, weights = tmp_path / "run", tmp_path / "weights"
    run.mkdir()
    weights.mkdir()
    (run / "log.jsonl").write_text('{"event": "start", "step": 0, "command": "kinema train dit"}\n')
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text("train: {steps: 1}\n")
    PipelineConfig(
        steps=99, sampler="heun", watermark_key="k2", extend_context=9, extend_window=8,
        candidates=3, extend_candidates=2, fill_candidates=4, verifier="shapes-world",
        planner="shapes-world", screen_drafts=6, screen_step=4, image_screen_drafts=9,
    ).save(weights)  # fmt: skip

    model = new_dit(recipe, vae, text_encoder)

    def exported() -> dict:
        export(model, vae, recipe, recipe_path, run, weights, "kinema train dit")
        return json.loads((weights / "pipeline.json").read_text())

    saved = exported()
    assert saved["steps"] == recipe.eval.steps == 2
    assert (saved["sampler"], saved["watermark_key"]) == ("heun", "k2")
    assert (saved["extend_context"], saved["extend_window"]) == (9, 8)
    assert saved["flow"]["text_drop"] == 0.5  # from the recipe
    assert saved["prompt_rewrite"] == "shapes-world"  # trained on Shapes World captions
    assert (saved["candidates"], saved["verifier"]) == (3, "shapes-world")  # as tuned
    assert (saved["extend_candidates"], saved["fill_candidates"]) == (2, 4)
    assert (saved["screen_drafts"], saved["screen_step"], saved["image_screen_drafts"]) == (6, 4, 9)
    assert saved["planner"] == "shapes-world"

    (weights / "pipeline.json").unlink()  # a first export writes the defaults
    saved = exported()
    assert (saved["sampler"], saved["extend_window"]) == ("euler", 12)
    PipelineConfig(candidates=3, extend_candidates=2, fill_candidates=4, screen_drafts=6,
                   image_screen_drafts=9,
                   verifier="shapes-world", planner="shapes-world").save(weights)  # fmt: skip
    recipe.data.source = str(tmp_path / "manifest.jsonl")  # its own captions: read as written
    saved = exported()
    assert saved["prompt_rewrite"] == ""
    # and no Shapes World verifier choosing among its clips
    assert (saved["candidates"], saved["extend_candidates"], saved["verifier"]) == (1, 1, "")
    assert (saved["screen_drafts"], saved["image_screen_drafts"]) == (0, 0)  # nor drafts for it
    assert saved["planner"] == ""  # nor the world's walls in its windows' prompts
    assert saved["fill_candidates"] == 4  # the consensus of its own completions needs no verifier


def test_cache_rendered_in_workers_equals_the_inline_cache(vae, text_encoder, cache) -> None:
    recipe = tiny_recipe(1)
    recipe.train.workers = 2
    again = build_cache(recipe, vae, text_encoder, progress=False)
    for key, b in cache["buckets"].items():
        assert torch.equal(b["latents"], again["buckets"][key]["latents"])
        assert b["captions"] == again["buckets"][key]["captions"]
        assert torch.equal(b["mask"], again["buckets"][key]["mask"])
        assert torch.allclose(b["states"].float(), again["buckets"][key]["states"].float())


def test_batched_caption_states_match_one_at_a_time(text_encoder) -> None:
    prompts = ["a red circle", "a tiny blue box sliding to the left on a grey background", ""]
    many = text_encoder.encode_many(prompts, batch_size=2)
    states, mask = text_encoder.encode(prompts)
    for i, s in enumerate(many):
        assert s.shape == (int(mask[i].sum()), 384)
        assert torch.allclose(s, states[i, : s.shape[0]], atol=1e-4)


def test_init_starts_from_saved_weights_of_the_same_shape(
    tmp_path: Path, vae: CausalVAE, text_encoder
) -> None:
    """``--init``: a further run starts from an exported DiT (fp16 on disk), and refuses one
    of another shape with a typed error instead of a half-loaded model."""
    import dataclasses

    from kinema.train.dit import start_from

    recipe = tiny_recipe(1)
    saved = new_dit(recipe, vae, text_encoder)
    with torch.no_grad():
        for p in saved.parameters():
            p.add_(0.01)  # not what a fresh init gives
    saved.save_pretrained(tmp_path / "w")
    fresh = new_dit(recipe, vae, text_encoder)
    start_from(fresh, recipe, tmp_path / "w")
    for (name, a), b in zip(fresh.state_dict().items(), saved.state_dict().values(), strict=True):
        assert a.dtype == torch.float32, name
        torch.testing.assert_close(a, b.half().float(), rtol=0, atol=0)
    other = dataclasses.replace(
        recipe, model=dataclasses.replace(recipe.model, depth=recipe.model.depth + 1)
    )
    with pytest.raises(InvalidInputError, match="another shape"):
        start_from(new_dit(other, vae, text_encoder), other, tmp_path / "w")
