"""The GPU-box helpers in tools/: the packed text encoder and the device run's pieces."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))

import device_train
import pack_text_encoder


def test_packed_text_encoder_reads_world_captions_like_the_original(tmp_path: Path) -> None:
    from kinema.models.text import TextEncoder, resolve_model_path

    texts = pack_text_encoder.world_captions(40)
    info = pack_text_encoder.pack(resolve_model_path(None), tmp_path / "pack", texts)
    assert 20 < info["kept_word_pieces"] < 400 and info["vocab"] == 30522
    size = sum(p.stat().st_size for p in (tmp_path / "pack").rglob("*") if p.is_file())
    assert size < 24 * 2**20  # a quarter of the 91 MB model
    with pytest.raises(ValueError, match="word pieces of the captions were not packed"):
        pack_text_encoder.unpack(tmp_path / "pack", tmp_path / "m", ["a zebra juggling"])
    folder = pack_text_encoder.unpack(tmp_path / "pack", tmp_path / "m", texts)
    some = texts[:12]
    a = TextEncoder().encode_many(some)
    b = TextEncoder(str(folder)).encode_many(some)
    diff = max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))
    assert diff < 0.02  # fp16 weight rounding; the states themselves are O(1)
    assert max(float(x.abs().max()) for x in a) > 0.5


def test_device_run_pieces_stay_small_and_join_back(tmp_path: Path) -> None:
    state = {f"w{i}": torch.randn(1000, 1000) for i in range(20)} | {"n": torch.arange(3)}
    names = device_train.save_pieces(state, tmp_path, "dit-ema")
    assert len(names) >= 3
    assert all((tmp_path / n).stat().st_size <= device_train.PIECE_BYTES + 2**16 for n in names)
    back = device_train.load_pieces(tmp_path, "dit-ema")
    assert set(back) == set(state) and torch.equal(back["n"], state["n"])
    assert torch.equal(back["w3"], state["w3"].half())


def test_steps_fit_the_time_left() -> None:
    from kinema.config import TrainConfig

    cfg = TrainConfig(warmup=100)
    assert device_train.fit_steps(cfg, 0.05, 500.0, 0.0) == 10_000
    assert device_train.fit_steps(cfg, 0.05, 500.0, 0.25) == 8_000
    assert device_train.fit_steps(cfg, 1.0, 10.0, 0.0) == 200  # never below warmup + 100


def test_device_run_fits_its_minutes_and_merges_into_loadable_weights(tmp_path: Path) -> None:
    import argparse
    import json

    import yaml

    from kinema.models.vae import CausalVAE

    recipe = {
        "model": {"preset": "vae-tiny"},
        "train": {
            "batch_size": 2,
            "warmup": 2,
            "bf16": False,
            "log_every": 5,
            "eval_every": 0,
            "ckpt_every": 1000,
            "workers": 0,
        },
        "data": {"buckets": [[5, 32, 32, 1.0]], "val_clips": 2},
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    args = argparse.Namespace(config=str(tmp_path / "r.yaml"), minutes=0.25, out=str(tmp_path / "out"),
                              run=str(tmp_path / "run"), reserve=3.0, overhead=0.05, device="cpu",
                              init=None, batch=3, lr=2e-3, compile=False)  # fmt: skip
    device_train.run("vae", args)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["steps"] >= 102 and report["pieces"] == ["vae-ema-00.safetensors"]
    assert report["train_budget_s"] < 15  # what the probe and set-up left of 15 s
    log = [json.loads(line) for line in (tmp_path / "out" / "log.jsonl").read_text().splitlines()]
    assert log[0]["recipe"]["train"]["steps"] == report["steps"]
    ran = log[0]["recipe"]["train"]  # the command-line overrides are what ran, and logged
    assert (ran["batch_size"], ran["lr"], ran["compile"]) == (3, 2e-3, False)
    # it ran the fitted schedule to its end, or stopped at the deadline, checkpointed
    assert log[-1].get("step") == report["steps"] or log[-1].get("event") == "deadline"
    device_train.merge(tmp_path / "out", tmp_path / "merged")
    vae = CausalVAE.from_pretrained(tmp_path / "merged")
    assert len(vae.cfg.scale) == 4  # calibrated on the box: latents ~ N(0, 1)
