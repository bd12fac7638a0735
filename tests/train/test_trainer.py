from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml

from kinema.config import TrainConfig, VAELossConfig, VAERecipe, build_config, load_vae_recipe
from kinema.errors import InvalidInputError
from kinema.eval.metrics import psnr
from kinema.train.trainer import lr_at, make_ema, train, update_ema, write_command_file
from kinema.train.vae import VAETask, new_vae, vae_loss


def tiny_recipe(steps: int, buckets: list | None = None, **train_kw: object) -> VAERecipe:
    raw = {
        "train": {
            "steps": steps,
            "batch_size": 2,
            "warmup": 2,
            "bf16": False,
            "log_every": 1,
            "eval_every": 100,
            "ckpt_every": 2,
            **train_kw,
        },
        "data": {"buckets": buckets or [[5, 32, 32, 1.0], [1, 32, 32, 1.0]], "val_clips": 2},
    }
    recipe = build_config(VAERecipe, raw)
    recipe.model = build_config(
        type(recipe.model), {"channels": [8, 16], "blocks": [1, 1, 1], "latent_channels": 4}
    )
    return recipe  # type: ignore[return-value]


def losses(run: Path) -> dict[int, float]:
    return {
        r["step"]: r["loss"]
        for r in map(json.loads, (run / "log.jsonl").read_text().splitlines())
        if "loss" in r
    }


def test_resume_gives_the_same_next_loss(tmp_path: Path) -> None:
    full = tiny_recipe(3)
    train(new_vae(full.model, 0), VAETask(full), full.train, tmp_path / "a", progress=False)
    part = tiny_recipe(2)
    info = {"recipe": {"train": {"steps": 3}}}
    train(
        new_vae(part.model, 0),
        VAETask(part),
        part.train,
        tmp_path / "b",
        run_info=info,
        progress=False,
    )
    # a fresh process would build a new model from scratch: resume must restore everything
    resumed = new_vae(full.model, 123)
    train(resumed, VAETask(full), full.train, tmp_path / "b", resume=True, progress=False)
    a, b = losses(tmp_path / "a"), losses(tmp_path / "b")
    assert a[1] == b[1] and a[2] == b[2]
    assert a[3] == b[3]  # the step after the checkpoint
    ckpt = tmp_path / "b" / "checkpoint"
    assert {p.name for p in ckpt.iterdir()} == {
        "model.safetensors",
        "ema.safetensors",
        "optimizer.pt",
        "trainer_state.json",
        "config.json",
    }
    assert json.loads((ckpt / "config.json").read_text())["train"]["steps"] == 3
    assert any((tmp_path / "a" / "samples").glob("step_*.mp4"))


def test_command_file_lists_start_resumes_and_export(tmp_path: Path) -> None:
    short, longer = tiny_recipe(2), tiny_recipe(3)
    run = tmp_path / "run"
    train(new_vae(short.model, 0), VAETask(short), short.train, run,
          run_info={"command": "kinema train vae --config c.yaml"}, progress=False)  # fmt: skip
    train(new_vae(longer.model, 0), VAETask(longer), longer.train, run, resume=True,
          run_info={"command": "kinema train vae --config c.yaml --resume --steps 3"},
          progress=False)  # fmt: skip
    # exporting from the finished run trains nothing and writes no resume event
    train(new_vae(longer.model, 0), VAETask(longer), longer.train, run, resume=True,
          run_info={"command": "x --export w"}, progress=False)  # fmt: skip
    events = [
        r for r in map(json.loads, (run / "log.jsonl").read_text().splitlines()) if "event" in r
    ]
    assert [(e["event"], e.get("step")) for e in events] == [("start", None), ("resume", 2)]
    out = tmp_path / "cmd.txt"
    write_command_file(
        run / "log.jsonl", "kinema train vae --config c.yaml --resume --export w", out
    )
    assert out.read_text().splitlines() == [
        "# trained with",
        "kinema train vae --config c.yaml",
        "# resumed at step 2 with",
        "kinema train vae --config c.yaml --resume --steps 3",
        "# exported with",
        "kinema train vae --config c.yaml --resume --export w",
    ]
    # the command that resumed is also the one that exported: no separate export line
    write_command_file(
        run / "log.jsonl", "kinema train vae --config c.yaml --resume --steps 3", out
    )
    assert out.read_text().splitlines()[-2:] == [
        "# resumed at step 2 with",
        "kinema train vae --config c.yaml --resume --steps 3",
    ]


def test_training_improves_held_out_psnr(tmp_path: Path) -> None:
    recipe = tiny_recipe(60, buckets=[[5, 32, 32, 1.0]], lr=3e-3, ckpt_every=100)
    recipe.data.val_clips = 4
    task = VAETask(recipe)
    model = new_vae(recipe.model, 0)
    before = task.evaluate(model, 0, tmp_path)["val_psnr"]
    ema = train(model, task, recipe.train, tmp_path, progress=False)
    after = task.evaluate(model, 60, tmp_path)["val_psnr"]
    assert after > before + 2.0, (before, after)
    assert task.evaluate(ema, 60, tmp_path)["val_psnr"] != after  # EMA is its own copy


def test_lr_schedule() -> None:
    cfg = TrainConfig(steps=100, lr=1.0, warmup=10, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(10, cfg) == pytest.approx(1.0)
    assert lr_at(99, cfg) == pytest.approx(0.1, abs=1e-3)
    assert lr_at(55, cfg) == pytest.approx(0.55)


def test_vae_loss_and_psnr_values() -> None:
    x = torch.rand(2, 3, 5, 16, 16) * 2 - 1
    zero = torch.zeros(2, 4, 2, 2, 2)
    weights = VAELossConfig(mse_weight=1.0, l1_weight=0.5, grad_weight=0.5, kl_weight=1.0)
    total, parts = vae_loss(x, x, zero, zero, weights)
    assert float(total) == 0.0 and float(parts["kl"]) == 0.0
    off = x + 0.1
    total, parts = vae_loss(off, x, zero, zero, weights)  # constant shift: no gradient error
    assert float(parts["mse"]) == pytest.approx(0.01) and float(parts["l1"]) == pytest.approx(0.1)
    assert float(parts["grad"]) == pytest.approx(0.0, abs=1e-10)
    assert float(total) == pytest.approx(0.01 + 0.05)
    noisy = x + 2 / 255  # every pixel off by one grey level on the 0..255 scale
    assert float(psnr(noisy.clamp(-1, 1), x).mean()) == pytest.approx(48.13, abs=0.3)


def test_vae_loss_ssim_term() -> None:
    """ssim_weight adds w * (1 - SSIM), the bench's SSIM, and trains on it alone if asked."""
    from kinema.eval.metrics import ssim

    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 5, 16, 16, generator=g) * 2 - 1
    zero = torch.zeros(2, 4, 2, 2, 2)
    base = VAELossConfig(mse_weight=1.0, l1_weight=0.05, grad_weight=0.5, kl_weight=0.0)
    _, parts = vae_loss(x, x, zero, zero, base)
    assert "ssim" not in parts  # off by default: not computed
    total, parts = vae_loss(x, x, zero, zero, VAELossConfig(ssim_weight=0.3, kl_weight=0.0))
    assert float(parts["ssim"]) == pytest.approx(1.0) and float(total) == pytest.approx(
        0.0, abs=1e-6
    )
    blurred = (x + x.roll(1, dims=-1)) / 2
    b_total, _ = vae_loss(blurred, x, zero, zero, base)
    w = VAELossConfig(
        mse_weight=1.0, l1_weight=0.05, grad_weight=0.5, kl_weight=0.0, ssim_weight=0.3
    )
    total, parts = vae_loss(blurred, x, zero, zero, w)
    s = float(ssim(blurred, x).mean())
    assert 0.0 < s < 0.9 and float(parts["ssim"]) == pytest.approx(s)
    assert float(total) == pytest.approx(float(b_total) + 0.3 * (1 - s), rel=1e-5)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as the trainer calls it: SSIM in fp32
        _, parts = vae_loss(blurred, x, zero, zero, w)
    assert float(parts["ssim"]) == pytest.approx(s, abs=1e-5)
    recon = blurred.clone().requires_grad_(True)  # SSIM alone still gives a gradient
    only = VAELossConfig(
        mse_weight=0.0, l1_weight=0.0, grad_weight=0.0, kl_weight=0.0, ssim_weight=1.0
    )
    vae_loss(recon, x, zero, zero, only)[0].backward()
    assert recon.grad is not None and float(recon.grad.abs().sum()) > 0


def test_recipes_parse_and_reject_typos(tmp_path: Path) -> None:
    recipe = load_vae_recipe("configs/vae-shapes.yaml")
    assert recipe.model.latent_channels in (4, 8, 16) and recipe.train.bf16
    assert recipe.data.buckets[0] == (17, 64, 64, 0.7)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"train": {"stepz": 3}}))
    with pytest.raises(InvalidInputError, match=r"unknown TrainConfig keys \['stepz'\]"):
        load_vae_recipe(str(bad))
    bad.write_text(yaml.safe_dump({"model": "vae-huge"}))
    with pytest.raises(InvalidInputError, match="unknown VAE preset"):
        load_vae_recipe(str(bad))
    # a key given twice would silently keep only the last; it is refused with both lines
    bad.write_text("train:\n  steps: 3\nmodel: vae-s\ntrain:\n  steps: 5\n")
    with pytest.raises(InvalidInputError, match=r"'train' appears twice .*lines 1 and 4"):
        load_vae_recipe(str(bad))
    bad.write_text("train: [unclosed\n")
    with pytest.raises(InvalidInputError, match="not valid YAML"):
        load_vae_recipe(str(bad))


def test_shipped_yaml_files_have_no_duplicate_keys() -> None:
    from kinema.config import load_yaml

    files = sorted(
        [
            *Path("configs").glob("*.yaml"),
            *Path("bench/data").glob("*.yaml"),
            *Path("kinema").rglob("*.yaml"),
        ]
    )
    assert len(files) >= 30
    for f in files:
        assert load_yaml(f.read_text(), str(f)) is not None, f


@pytest.mark.parametrize(
    ("env", "bf16", "expected"), [("1", True, True), ("0", True, False), ("1", False, False)]
)
def test_bf16_autocast_only_where_the_cpu_computes_bf16(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: str, bf16: bool, expected: bool
) -> None:
    """The recipe's bf16 is used where the CPU has native bf16 (KINEMA_BF16 stands in for the
    CPU check here); where torch would emulate it, slower than fp32, training runs in fp32."""
    monkeypatch.setenv("KINEMA_BF16", env)
    seen: list[bool] = []

    class Recording(VAETask):
        def loss(self, model, batch, step):  # type: ignore[no-untyped-def]
            seen.append(torch.is_autocast_enabled("cpu"))
            return super().loss(model, batch, step)

    recipe = tiny_recipe(2, bf16=bf16)
    train(new_vae(recipe.model, 0), Recording(recipe), recipe.train, tmp_path, progress=False)
    assert seen == [expected, expected]


def test_batch_workers_give_the_inline_batches_and_losses(tmp_path: Path) -> None:
    from kinema.train.trainer import batches

    recipe = tiny_recipe(4)
    task = VAETask(recipe)
    inline = list(batches(task, 1, 4, workers=0))
    ahead = list(batches(task, 1, 4, workers=2))
    assert len(ahead) == 3 and all(torch.equal(a, b) for a, b in zip(inline, ahead, strict=True))
    train(new_vae(recipe.model, 0), task, recipe.train, tmp_path / "a", progress=False)
    recipe.train.workers = 2
    train(new_vae(recipe.model, 0), VAETask(recipe), recipe.train, tmp_path / "b", progress=False)
    assert losses(tmp_path / "a") == losses(tmp_path / "b")


def test_deadline_stops_checkpointed_and_resume_finishes(tmp_path: Path) -> None:
    import time

    recipe = tiny_recipe(5)
    recipe.train.ckpt_every = 100
    train(new_vae(recipe.model, 0), VAETask(recipe), recipe.train, tmp_path, progress=False,
          deadline=time.time() - 1)  # fmt: skip
    events = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert events[-1] == {"event": "deadline", "step": 1}
    state = json.loads((tmp_path / "checkpoint" / "trainer_state.json").read_text())
    assert state["step"] == 1
    train(new_vae(recipe.model, 7), VAETask(recipe), recipe.train, tmp_path, resume=True,
          progress=False)  # fmt: skip
    assert sorted(losses(tmp_path)) == [1, 2, 3, 4, 5]


def test_devices_are_checked_and_batches_moved() -> None:
    from kinema.train.trainer import resolve_device, to_device

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(InvalidInputError, match=r"train\.device 'gpu0'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InvalidInputError, match="sees no CUDA GPU"):
            resolve_device("cuda")
    batch = {"x": torch.ones(2), "pair": (torch.zeros(1), 3), "name": "a"}
    moved = to_device(batch, torch.device("cpu"))
    assert torch.equal(moved["x"], batch["x"]) and moved["pair"][1] == 3 and moved["name"] == "a"
    assert isinstance(moved["pair"], tuple)


def test_eval_every_zero_never_evaluates(tmp_path: Path) -> None:
    recipe = tiny_recipe(2, eval_every=0)
    train(new_vae(recipe.model, 0), VAETask(recipe), recipe.train, tmp_path, progress=False)
    log = (tmp_path / "log.jsonl").read_text()
    assert '"eval"' not in log and not (tmp_path / "samples").exists()


def test_ema_update_is_the_per_tensor_rule() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    ema = make_ema(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p))
        model[1].running_mean.fill_(0.5)
    pairs = zip(ema.parameters(), model.parameters(), strict=True)
    want = [e + (1 - 0.9) * (m - e) for e, m in pairs]
    update_ema(ema, model, 0.9)
    for got, w in zip(ema.parameters(), want, strict=True):
        torch.testing.assert_close(got, w)
    assert torch.equal(ema[1].running_mean, model[1].running_mean)
    assert not any(p.requires_grad for p in ema.parameters())
    with pytest.raises(ValueError, match="EMA has 2 parameters"):
        update_ema(torch.nn.Linear(3, 4), model, 0.9)


@pytest.mark.slow
def test_compiled_training_matches_eager(tmp_path: Path) -> None:
    """train.compile (for GPU runs) changes speed, not the numbers: same losses to fp32 noise,
    same parameter names in the checkpoint. Minutes of inductor compiling on a CPU."""
    runs = {}
    for flag in (False, True):
        r = tiny_recipe(3, eval_every=0, compile=flag)
        train(new_vae(r.model, 0), VAETask(r), r.train, tmp_path / str(flag), progress=False)
        runs[flag] = losses(tmp_path / str(flag))
    assert runs[True].keys() == runs[False].keys() == {1, 2, 3}
    for s in runs[False]:
        assert runs[True][s] == pytest.approx(runs[False][s], rel=1e-4)
    from safetensors import safe_open

    keys = []
    for flag in ("False", "True"):
        with safe_open(str(tmp_path / flag / "checkpoint" / "ema.safetensors"), "pt") as f:
            keys.append(sorted(f.keys()))
    assert keys[0] == keys[1] and not any("_orig_mod" in k for k in keys[1])
