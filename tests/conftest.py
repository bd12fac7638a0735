from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from kinema.io.video import Video
from kinema.world.render import render
from kinema.world.scene import sample_scene


@pytest.fixture(autouse=True, scope="session")
def _private_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Signing keys made by tests go to a temporary config dir, never the user's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("KINEMA_CONFIG_DIR", str(tmp_path_factory.mktemp("kinema-config")))
    yield
    mp.undo()


@pytest.fixture
def clip() -> Video:
    """A 17-frame 64x64 Shapes World clip with two objects (seeded)."""
    return Video(render(sample_scene(7, num_objects=2)), fps=8.0)


@pytest.fixture
def gradient() -> Video:
    """A smooth moving gradient: codec-friendly content for lossy round trips."""
    t, h, w = 9, 48, 64
    yy, xx = np.mgrid[0:h, 0:w]
    frames = np.stack(
        [
            np.stack([(xx * 4 + k * 8) % 256, (yy * 5) % 256, np.full_like(xx, 40 + k * 10)], -1)
            for k in range(t)
        ]
    ).astype(np.uint8)
    return Video(frames, fps=12.0)


@pytest.fixture(scope="session")
def text_encoder():
    from kinema.models.text import TextEncoder

    return TextEncoder()


@pytest.fixture(scope="session")
def tiny_pipeline(text_encoder):
    """A random-weight pipeline (tiny VAE + tiny DiT) sharing the real text encoder."""
    import dataclasses

    import torch

    from kinema.config import DIT_PRESETS, VAE_PRESETS
    from kinema.models.dit import DiT
    from kinema.models.vae import CausalVAE
    from kinema.pipelines import Pipeline, PipelineConfig

    torch.manual_seed(0)
    vae = CausalVAE(VAE_PRESETS["vae-tiny"])
    dit = DiT(DIT_PRESETS["dit-test"])
    with torch.no_grad():  # adaLN-Zero starts as the identity: give the test model some output
        for p in dit.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return Pipeline(dit, vae, text_encoder, dataclasses.replace(PipelineConfig(), steps=3))


@pytest.fixture
def dit_batches(tiny_pipeline, monkeypatch) -> list[int]:
    """The batch size of every forward of the tiny pipeline's DiT from here on (its forward
    wrapped for the test): one row per prompt and candidate, two where a step is guided."""
    batches: list[int] = []
    dit = tiny_pipeline.dit
    forward = dit.forward
    monkeypatch.setattr(
        dit, "forward", lambda x, *a, **k: batches.append(len(x)) or forward(x, *a, **k)
    )
    return batches
