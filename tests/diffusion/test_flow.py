from __future__ import annotations

import pytest
import torch

from kinema.config import FlowConfig
from kinema.diffusion import (
    euler,
    flow_loss,
    guided,
    heun,
    interpolate,
    logit_normal,
    sample_timesteps,
    shift_for_tokens,
    shift_t,
)


def test_logit_normal_and_shift() -> None:
    t = logit_normal(20000, torch.Generator().manual_seed(0))
    assert t.min() > 0 and t.max() < 1
    assert t.median() == pytest.approx(0.5, abs=0.02)
    assert ((t > 0.25) & (t < 0.75)).float().mean() > 0.6  # weight on the middle
    grid = torch.linspace(0, 1, 11)
    assert torch.equal(shift_t(grid, 1.0), grid)
    s = shift_t(grid, 3.0)
    assert s[0] == 0 and s[-1] == 1 and torch.all(s[1:-1] > grid[1:-1]) and torch.all(s.diff() > 0)


def test_shift_grows_with_tokens() -> None:
    cfg = FlowConfig(base_tokens=80, base_shift=1.0, max_tokens=2560, max_shift=3.0)
    assert shift_for_tokens(80, cfg) == pytest.approx(1.0)
    assert shift_for_tokens(2560, cfg) == pytest.approx(3.0)
    assert shift_for_tokens(10, cfg) == pytest.approx(1.0)  # clamped
    assert shift_for_tokens(99999, cfg) == pytest.approx(3.0)
    assert 1.0 < shift_for_tokens(320, cfg) < shift_for_tokens(1280, cfg) < 3.0


def test_schedule() -> None:
    ts = sample_timesteps(10, 2.0)
    assert len(ts) == 11 and ts[0] == 1 and ts[-1] == 0 and torch.all(ts.diff() < 0)
    with pytest.raises(ValueError):
        sample_timesteps(0)


def test_samplers_follow_a_straight_path_exactly() -> None:
    g = torch.Generator().manual_seed(1)
    x0, noise = torch.randn(2, 3, 2, 4, 4, generator=g), torch.randn(2, 3, 2, 4, 4, generator=g)

    def oracle(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # v = (x_t - x0) / t
        return (x - x0) / t.view(-1, 1, 1, 1, 1)

    for integrate in (euler, heun):
        out = integrate(oracle, noise.clone(), sample_timesteps(4, 3.0))
        assert torch.allclose(out, x0, atol=1e-5)


def test_heun_is_second_order_and_euler_first() -> None:
    # dx/dt = x from t=1 to 0: exact x(0) = x(1) / e
    x1 = torch.ones(1, 1, 1, 1, 1)
    v = lambda x, t: x  # noqa: E731
    exact = float(x1) / torch.e
    err = {
        f.__name__: [abs(float(f(v, x1, sample_timesteps(n))) - exact) for n in (8, 16)]
        for f in (euler, heun)
    }
    assert err["euler"][0] / err["euler"][1] == pytest.approx(2.0, rel=0.15)
    assert err["heun"][1] < err["euler"][1] / 5


def test_flow_loss_zero_for_the_true_velocity_and_masks_frames() -> None:
    g = torch.Generator().manual_seed(2)
    x0, noise = torch.randn(2, 3, 4, 2, 2, generator=g), torch.randn(2, 3, 4, 2, 2, generator=g)
    t = torch.tensor([0.3, 0.8])
    xt = interpolate(x0, noise, t)
    assert torch.allclose(xt[1], 0.2 * x0[1] + 0.8 * noise[1])
    true_v = lambda x, tt: noise - x0  # noqa: E731
    assert float(flow_loss(true_v, x0, noise, t)) == pytest.approx(0.0, abs=1e-12)

    def wrong_first(x: torch.Tensor, tt: torch.Tensor) -> torch.Tensor:  # frame 0 wrong
        return torch.cat([torch.zeros_like(x[:, :, :1]), (noise - x0)[:, :, 1:]], 2)

    assert float(flow_loss(wrong_first, x0, noise, t)) > 0.1
    weight = torch.tensor([0.0, 1, 1, 1]).view(1, 1, 4, 1, 1)  # frame 0 given: no loss
    assert float(flow_loss(wrong_first, x0, noise, t, weight)) == pytest.approx(0.0, abs=1e-12)
    per_frame = torch.tensor([[0.0, 0.5, 0.5, 0.5]] * 2)
    xt2 = interpolate(x0, noise, per_frame)
    assert torch.equal(xt2[:, :, 0], x0[:, :, 0])


def test_guidance() -> None:
    cond = lambda x, t: torch.full_like(x, 2.0)  # noqa: E731
    uncond = lambda x, t: torch.full_like(x, 1.0)  # noqa: E731
    x, t = torch.zeros(1, 1, 1, 1, 1), torch.zeros(1)
    assert guided(cond, uncond, 1.0) is cond
    assert float(guided(cond, uncond, 4.0)(x, t)) == pytest.approx(5.0)


def test_euler_projection_corrects_each_data_estimate_but_the_last() -> None:
    g = torch.Generator().manual_seed(3)
    x0, noise = torch.randn(2, 3, 2, 4, 4, generator=g), torch.randn(2, 3, 2, 4, 4, generator=g)

    def oracle(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:  # always predicts x0
        return (x - x0) / t.view(-1, 1, 1, 1, 1)

    ts = sample_timesteps(5, 2.0)
    plain = euler(oracle, noise.clone(), ts)
    same = euler(oracle, noise.clone(), ts, project=lambda z: z)
    torch.testing.assert_close(same, plain, rtol=1e-6, atol=1e-6)
    seen: list[torch.Tensor] = []
    target = torch.zeros_like(x0)
    out = euler(oracle, noise.clone(), ts, project=lambda z: seen.append(z) or target)
    assert len(seen) == 4  # 5 steps: every data estimate but the last one's
    for z in seen:  # each is the model's estimate x - t v, here exactly x0
        torch.testing.assert_close(z, x0, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out, x0, rtol=1e-5, atol=1e-5)  # the last step: the model's x0
    # the path in between was pulled to the target: one step short of the end it is
    # (1 - t) target + t noise-estimate, not the unprojected (1 - t) x0 + t noise
    short = euler(oracle, noise.clone(), ts[:-1], project=lambda z: target)
    unprojected = euler(oracle, noise.clone(), ts[:-1])
    t = float(ts[-2])
    torch.testing.assert_close(unprojected, (1 - t) * x0 + t * noise, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(short, unprojected, atol=1e-3)
