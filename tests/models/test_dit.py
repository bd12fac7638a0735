from __future__ import annotations

import dataclasses

import pytest
import torch

from kinema.config import DIT_PRESETS, DiTConfig
from kinema.errors import InvalidInputError
from kinema.models.dit import DiT, TextContext, describe, dit_flops_per_token
from kinema.models.layers import TanhGELU, conv_flops
from kinema.models.rope import apply_rope, rope_3d

CFG = DIT_PRESETS["dit-test"]


def inputs(b: int, t: int, h: int, w: int, c: int = 4) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(b, c, t, h, w, generator=g),
        torch.rand(b, generator=g),
        torch.randn(b, 6, 384, generator=g),
        torch.tensor([[True] * 6, [True] * 3 + [False] * 3])[:b],
    )


def perturbed(cfg: DiTConfig = CFG) -> DiT:
    torch.manual_seed(0)
    model = DiT(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def test_zero_init_is_zero_velocity() -> None:
    x, t, text, mask = inputs(2, 3, 4, 4)
    assert torch.equal(DiT(CFG)(x, t, text, mask), torch.zeros_like(x))


@pytest.mark.parametrize("grid", [(1, 2, 2), (3, 4, 4), (5, 4, 6), (2, 8, 2)])
def test_any_size_and_length(grid: tuple[int, int, int]) -> None:
    x, t, text, mask = inputs(2, *grid)
    y = perturbed()(x, t, text, mask)
    assert y.shape == x.shape and torch.isfinite(y).all() and y.abs().sum() > 0


def test_conditioning_matters_and_masked_text_is_ignored() -> None:
    model = perturbed()
    x, t, text, mask = inputs(2, 3, 4, 4)
    y = model(x, t, text, mask)
    assert not torch.allclose(model(x, t.flip(0), text, mask), y)
    assert not torch.allclose(model(x, t, text.flip(0), mask.flip(0)), y)
    junk = text.clone()
    junk[1, 3:] = 100.0  # padding positions of sample 1
    assert torch.allclose(model(x, t, junk, mask), y, atol=1e-5)


def test_per_frame_timesteps() -> None:
    model = perturbed()
    x, t, text, mask = inputs(2, 3, 4, 4)
    same = model(x, t[:, None].expand(2, 3), text, mask)
    assert torch.allclose(same, model(x, t, text, mask), atol=1e-5)
    t2 = t[:, None].repeat(1, 3)
    t2[:, 0] = 0.0  # first latent frame given clean
    assert not torch.allclose(model(x, t2, text, mask), same)
    with pytest.raises(InvalidInputError, match="t must be"):
        model(x, torch.rand(2, 5), text, mask)


def test_rope_is_relative_and_norm_preserving() -> None:
    d = 16
    cos, sin = rope_3d((4, 5, 6), d, 10000.0)
    assert cos.shape == (4 * 5 * 6, d // 2)
    q = torch.randn(1, 1, 1, d).expand(1, 1, 120, d)
    k = torch.randn(1, 1, 1, d).expand(1, 1, 120, d)
    rq, rk = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    assert torch.allclose(rq.norm(dim=-1), q.norm(dim=-1), atol=1e-5)
    idx = lambda t, h, w: (t * 5 + h) * 6 + w  # noqa: E731
    a = (rq[0, 0, idx(0, 1, 2)] * rk[0, 0, idx(1, 2, 4)]).sum()
    b = (rq[0, 0, idx(2, 3, 1)] * rk[0, 0, idx(3, 4, 3)]).sum()  # same offset (1, 1, 2)
    c = (rq[0, 0, idx(2, 3, 1)] * rk[0, 0, idx(3, 2, 3)]).sum()  # another offset
    assert torch.allclose(a, b, atol=1e-4) and not torch.allclose(a, c, atol=1e-3)


def test_rope_rotates_each_channel_pair_by_its_angle() -> None:
    """apply_rope's complex multiply is the pair rotation written out: (x1 c - x2 s, x1 s +
    x2 c) for each channel pair, to the bit in fp32, and keeps the input's dtype."""
    d = 64
    cos, sin = rope_3d((5, 4, 4), d, 10000.0)  # [80, 32]
    x = torch.randn(2, 5, 80, d)
    x1, x2 = x.unflatten(-1, (-1, 2)).unbind(-1)  # [2, 5, 80, 32] each
    want = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)
    assert torch.equal(apply_rope(x, cos, sin), want)
    strided = x.transpose(1, 2).contiguous().transpose(1, 2)  # a permuted view, as q and k are
    assert torch.equal(apply_rope(strided, cos, sin), want)
    assert apply_rope(x.bfloat16(), cos, sin).dtype == torch.bfloat16
    assert not torch.equal(apply_rope(x, cos, sin), x)  # position 0 is the only one left alone
    assert torch.equal(apply_rope(x, cos, sin)[:, :, 0], x[:, :, 0])


def test_text_read_once_gives_the_same_velocity_to_the_bit() -> None:
    model = perturbed()
    x, t, text, mask = inputs(2, 3, 4, 4)  # sample 1's last three text tokens are padding
    prepared = model.prepare_text(text, mask)
    assert isinstance(prepared, TextContext) and len(prepared.kv) == CFG.depth
    k, v = prepared.kv[0]
    assert k.shape == v.shape == (2, CFG.heads, 6, CFG.width // CFG.heads)  # [B, h, L, d]
    y = model(x, t, text, mask)
    assert torch.equal(model(x, t, prepared), y)  # every step of a sampler reuses it
    assert torch.equal(model(x, t.flip(0), prepared), model(x, t.flip(0), text, mask))
    other = model.prepare_text(text.flip(0), mask.flip(0))
    assert not torch.allclose(model(x, t, other), y)  # what it holds is what the DiT reads
    with pytest.raises(InvalidInputError, match="text_mask"):
        model(x, t, text)


def test_sigmoid_gelu_is_the_tanh_gelu() -> None:
    import torch.nn.functional as F

    gelu = TanhGELU()
    x = torch.cat([torch.linspace(-30, 30, 6001), 3 * torch.randn(10_000)])
    before = x.clone()
    with torch.no_grad():
        y = gelu(x)  # inference in fp32: x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3))
    ref = F.gelu(x, approximate="tanh")
    assert (y - ref).abs().max() < 1e-6 and not torch.equal(y, ref)  # another computation
    assert torch.equal(x, before)  # its input left as it was
    assert y[0] == 0.0 and y[6000] == 30.0  # the tails: 0 and the identity
    # where autograd records and in bf16, torch's own kernel: the same values and gradients
    xg = x.clone().requires_grad_()
    gelu(xg).sum().backward()
    xr = x.clone().requires_grad_()
    F.gelu(xr, approximate="tanh").sum().backward()
    assert torch.equal(xg.grad, xr.grad)
    xb = x.bfloat16()
    assert torch.equal(gelu(xb), F.gelu(xb, approximate="tanh"))


def test_shape_errors() -> None:
    model = DiT(CFG)
    x, t, text, mask = inputs(2, 3, 4, 4)
    with pytest.raises(InvalidInputError, match="latents must be"):
        model(x[:, :3], t, text, mask)
    with pytest.raises(InvalidInputError, match="not divisible by the patch"):
        model(x[..., :3], t, text, mask)
    with pytest.raises(InvalidInputError, match="not divisible by heads"):
        DiT(dataclasses.replace(CFG, heads=3))


def test_save_load_round_trip(tmp_path) -> None:
    model = perturbed()
    model.save_pretrained(tmp_path, dtype=torch.float32)
    back = DiT.from_pretrained(tmp_path)
    assert back.cfg == model.cfg
    x, t, text, mask = inputs(2, 3, 4, 4)
    assert torch.equal(back(x, t, text, mask), model(x, t, text, mask))
    with pytest.raises(InvalidInputError, match=r"no dit_config\.json"):
        DiT.from_pretrained(tmp_path / "nothing")


def test_flops_helper_matches_measured_linear_flops() -> None:
    cfg = DIT_PRESETS["dit-tiny"]
    model = DiT(cfg)
    x = torch.randn(1, 8, 5, 8, 8)
    text, mask = torch.randn(1, 16, 384), torch.ones(1, 16, dtype=torch.bool)
    measured = conv_flops(model, x, torch.rand(1), text, mask) / 80  # per token, linear layers
    f = dit_flops_per_token(cfg, tokens=80, text_tokens=16)
    # the helper leaves out per-sample conditioning MLPs (adaLN, timestep, pooled text): < 2%
    assert measured == pytest.approx(f["linear"] + f["text_kv"], rel=0.02)
    assert "9.52M params" in describe(cfg) and "80 tokens" in describe(cfg)
