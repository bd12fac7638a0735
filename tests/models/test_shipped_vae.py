"""The VAE shipped in kinema/weights: loads by default and keeps what Shapes World shows."""

from __future__ import annotations

import numpy as np
import torch

from kinema.eval.fidelity import score_clip
from kinema.eval.metrics import psnr
from kinema.models.vae import CausalVAE, default_weights_dir
from kinema.train.vae import to_tensor, to_uint8
from kinema.world.render import render
from kinema.world.scene import sample_scene


def test_shipped_vae_reconstructs_held_out_clips() -> None:
    vae = CausalVAE.from_pretrained()  # default: kinema/weights
    assert (default_weights_dir() / "vae_recipe.yaml").is_file()
    assert (default_weights_dir() / "vae_train_log.jsonl").is_file()
    graphs = [sample_scene(np.random.default_rng([4242, i]), num_objects=2) for i in range(3)]
    x = to_tensor(np.stack([render(g) for g in graphs]))
    with torch.no_grad():
        z = vae.encode(x)
        y = vae.decode(z)
    assert z.shape == (3, vae.cfg.latent_channels, 5, 8, 8)
    assert 0.5 < float(z.std()) < 2.0 and abs(float(z.mean())) < 0.5  # the VAE's own normalisation
    # What the shipped VAE keeps (34.9 dB, SSIM 0.980, 100% scorer agreement on 500 held-out clips; see
    # bench/results/vae_eval.md): every object's colour, shape and motion, backgrounds too.
    assert float(psnr(y, x).min()) > 28.0
    for frames, g in zip(to_uint8(y), graphs, strict=True):
        score = score_clip(frames, g.spec)
        assert score.ok, score  # background, each object's colour/shape/motion, nothing extra
        assert len(score.objects) == len(g.objects) == 2
