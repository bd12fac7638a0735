from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from kinema.config import VAE_PRESETS, VAEConfig
from kinema.errors import InvalidInputError
from kinema.models.layers import CausalConv3d, StreamCache, conv_flops, count_params
from kinema.models.vae import CausalVAE
from kinema.train.vae import calibrate


@pytest.fixture(scope="module")
def vae() -> CausalVAE:
    torch.manual_seed(0)
    return CausalVAE(VAE_PRESETS["vae-tiny"]).eval()


@pytest.mark.parametrize(("t", "h", "w"), [(1, 32, 32), (5, 32, 48), (17, 64, 64), (9, 16, 8)])
def test_shapes(vae: CausalVAE, t: int, h: int, w: int) -> None:
    x = torch.rand(2, 3, t, h, w) * 2 - 1
    with torch.no_grad():
        z = vae.encode(x)
        assert z.shape == (2, 4, 1 + (t - 1) // 4, h // 8, w // 8)
        assert vae.decode(z).shape == x.shape


def test_encoder_is_causal(vae: CausalVAE) -> None:
    x = torch.rand(1, 3, 17, 32, 32) * 2 - 1
    with torch.no_grad():
        z = vae.encode(x)
        for k in (0, 3, 8, 16):  # frame k lives in latent frame ceil(k / 4)
            x2 = x.clone()
            x2[:, :, k] = -x2[:, :, k]
            z2 = vae.encode(x2)
            j = (k + 3) // 4
            torch.testing.assert_close(z2[:, :, :j], z[:, :, :j], rtol=0, atol=0)
            assert (z2[:, :, j] - z[:, :, j]).abs().max() > 1e-4


def test_decoder_is_causal(vae: CausalVAE) -> None:
    z = torch.randn(1, 4, 5, 4, 4)
    with torch.no_grad():
        y = vae.decode(z)
        z2 = z.clone()
        z2[:, :, 3] += 1.0  # latent frame 3 covers frames 9..12
        y2 = vae.decode(z2)
    torch.testing.assert_close(y2[:, :, :9], y[:, :, :9], rtol=0, atol=0)
    assert (y2[:, :, 9:13] - y[:, :, 9:13]).abs().max() > 1e-4


def test_chunked_equals_full(vae: CausalVAE) -> None:
    x = torch.rand(1, 3, 65, 32, 32) * 2 - 1
    with torch.no_grad():
        z = vae.encode(x)
        torch.testing.assert_close(vae.encode(x, chunk_frames=8), z, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(vae.encode(x, chunk_frames=4), z, rtol=1e-4, atol=1e-5)
        y = vae.decode(z)
        torch.testing.assert_close(vae.decode(z, chunk_latents=1), y, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(vae.decode(z, chunk_latents=3), y, rtol=1e-4, atol=1e-5)


def test_decode_continues_a_stream_across_calls(vae: CausalVAE) -> None:
    z = torch.randn(1, 4, 9, 4, 4)  # 33 frames
    with torch.no_grad():
        y = vae.decode(z)
        cache = StreamCache()
        pieces = [
            vae.decode(z[:, :, a:b], cache=cache) for a, b in ((0, 3), (3, 5), (5, 6), (6, 9))
        ]
        assert [p.shape[2] for p in pieces] == [9, 8, 4, 12]  # first piece: 1 + 4 + 4 frames
        torch.testing.assert_close(torch.cat(pieces, dim=2), y, rtol=1e-4, atol=1e-5)
        # without the cache, a piece restarts: its first latent decodes as a lone first frame
        assert vae.decode(z[:, :, 3:5]).shape[2] == 5


def test_a_stream_branches_into_candidates_and_keeps_the_chosen_ones(vae: CausalVAE) -> None:
    """Best of N over extension windows: B streams become K B continuations, and the kept ones
    go on as if each had been decoded alone."""
    torch.manual_seed(4)
    B, K = 2, 3
    head = torch.randn(B, 4, 3, 4, 4)  # the shared start of each video
    branches = torch.randn(K * B, 4, 2, 4, 4)  # K continuations of each, k-major
    tail = torch.randn(B, 4, 2, 4, 4)
    with torch.no_grad():
        cache = StreamCache()
        vae.decode(head, cache=cache)
        flag = next(k for k, v in cache.items() if not isinstance(v, torch.Tensor))
        many = cache.repeat(K)
        assert many[flag] is True  # layer flags are carried as they are
        carried = [k for k, v in cache.items() if isinstance(v, torch.Tensor)]
        assert carried and all(many[k].shape[0] == K * B for k in carried)
        out = vae.decode(branches, cache=many)  # [K B, 3, 8, 32, 32]
        rows = torch.tensor([2 * B + 0, 1 * B + 1])  # prompt 0 keeps candidate 2, prompt 1 keeps 1
        kept = many.select(rows)
        last = vae.decode(tail, cache=kept)
        for b, row in enumerate(rows.tolist()):
            z = torch.cat([head[b : b + 1], branches[row : row + 1], tail[b : b + 1]], dim=2)
            whole = vae.decode(z)  # [1, 3, 1 + 4 * 6, 32, 32]
            torch.testing.assert_close(out[row], whole[0, :, 9:17], rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(last[b], whole[0, :, 17:], rtol=1e-4, atol=1e-5)
    assert all(v.shape[0] == B for v in cache.values() if isinstance(v, torch.Tensor))  # untouched


@pytest.mark.parametrize("norm", ["group", "rms"])
def test_every_norm_keeps_causality_and_chunking(norm: str) -> None:
    torch.manual_seed(2)
    v = CausalVAE(dataclasses.replace(VAE_PRESETS["vae-tiny"], norm=norm)).eval()
    x = torch.rand(1, 3, 17, 32, 32) * 2 - 1
    with torch.no_grad():
        z = v.encode(x)
        x2 = x.clone()
        x2[:, :, 9:] = 0  # change frames 9..16 (latent frames 3, 4)
        torch.testing.assert_close(v.encode(x2)[:, :, :3], z[:, :, :3], rtol=0, atol=0)
        torch.testing.assert_close(v.encode(x, chunk_frames=4), z, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(v.decode(z, chunk_latents=1), v.decode(z), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="unknown norm"):
        CausalVAE(dataclasses.replace(VAE_PRESETS["vae-tiny"], norm="batch"))


def test_causal_conv_stream_handles_any_chunking() -> None:
    torch.manual_seed(1)
    conv = CausalConv3d(2, 3, (3, 1, 1), stride=(2, 1, 1))
    x = torch.randn(1, 2, 9, 2, 2)
    with torch.no_grad():
        full = conv(x)
        cache = StreamCache()
        parts = [conv(x[:, :, s:e], cache) for s, e in ((0, 1), (1, 3), (3, 9))]
    torch.testing.assert_close(torch.cat(parts, dim=2), full)


def test_bad_input_is_refused(vae: CausalVAE) -> None:
    with pytest.raises(InvalidInputError, match="1 \\+ 4k"):
        vae.encode(torch.zeros(1, 3, 6, 32, 32))
    with pytest.raises(InvalidInputError, match="multiples of 8"):
        vae.encode(torch.zeros(1, 3, 5, 30, 32))
    with pytest.raises(InvalidInputError, match=r"\(B, 3, T, H, W\)"):
        vae.encode(torch.zeros(3, 5, 32, 32))
    with pytest.raises(InvalidInputError, match="latents must be"):
        vae.decode(torch.zeros(1, 7, 2, 4, 4))
    with pytest.raises(InvalidInputError, match="multiple of 4"):
        vae.encode(torch.zeros(1, 3, 17, 32, 32), chunk_frames=6)


def test_save_load_round_trip(vae: CausalVAE, tmp_path: Path) -> None:
    x = torch.rand(1, 3, 9, 32, 32) * 2 - 1
    with torch.no_grad():
        z, y = vae.encode(x), vae.decode(vae.encode(x))
        exact = CausalVAE.from_pretrained(
            vae.save_pretrained(tmp_path / "fp32", dtype=torch.float32)
        )
        torch.testing.assert_close(exact.encode(x), z, rtol=0, atol=0)
        half = CausalVAE.from_pretrained(vae.save_pretrained(tmp_path / "fp16"))
        torch.testing.assert_close(half.decode(half.encode(x)), y, rtol=0, atol=2e-2)
    assert half.cfg == vae.cfg
    with pytest.raises(InvalidInputError, match=r"no vae_config\.json"):
        CausalVAE.from_pretrained(tmp_path / "missing")


def test_latent_normalisation_is_owned_by_the_vae(vae: CausalVAE, tmp_path: Path) -> None:
    v = CausalVAE(VAE_PRESETS["vae-tiny"]).eval()
    v.load_state_dict(vae.state_dict())
    calibrate(v, clips=16)
    assert len(v.cfg.scale) == len(v.cfg.shift) == 4
    x = torch.rand(2, 3, 9, 32, 32) * 2 - 1
    with torch.no_grad():
        raw_mean, _ = v.posterior(x)
        z = v.encode(x)
        scale = torch.tensor(v.cfg.scale).view(1, 4, 1, 1, 1)
        shift = torch.tensor(v.cfg.shift).view(1, 4, 1, 1, 1)
        torch.testing.assert_close(z, (raw_mean - shift) * scale)
        torch.testing.assert_close(v.decode(z), vae.decode(vae.encode(x)), rtol=1e-4, atol=1e-4)
    reloaded = CausalVAE.from_pretrained(v.save_pretrained(tmp_path / "cal", dtype=torch.float32))
    assert reloaded.cfg.scale == v.cfg.scale


def test_params_and_flops_helpers() -> None:
    cfg = dataclasses.replace(VAEConfig(), channels=(8, 16), blocks=(1, 1, 1), latent_channels=4)
    v = CausalVAE(cfg)
    assert count_params(v) == sum(p.numel() for p in v.parameters()) > 0
    f1 = conv_flops(v.encoder, torch.zeros(1, 3, 9, 32, 32))
    f2 = conv_flops(v.encoder, torch.zeros(1, 3, 9, 64, 64))
    assert f2 == 4 * f1  # fully convolutional: cost grows with pixels
