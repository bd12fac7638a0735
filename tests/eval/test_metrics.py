from __future__ import annotations

import pytest
import torch

from kinema.eval.metrics import psnr, psnr_per_frame, ssim


def test_psnr_known_values() -> None:
    x = torch.zeros(1, 3, 2, 8, 8)
    assert float(psnr(x + 2 / 255, x)[0]) == pytest.approx(48.13, abs=0.01)  # 1 grey level off
    y = x.clone()
    y[:, :, 1] += 20 / 127.5  # second frame 20 levels off
    pf = psnr_per_frame(y, x)[0]
    assert float(pf[0]) > 100.0  # identical frame (MSE clamped at 1e-10)
    assert float(pf[1]) == pytest.approx(20 * torch.log10(torch.tensor(255 / 20)).item(), abs=0.01)


def test_ssim_is_one_for_identical_and_drops_with_noise() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 3, 32, 32, generator=g) * 2 - 1
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-5)
    noisy = x + 0.1 * torch.randn(x.shape, generator=g)
    s = ssim(noisy, x)
    assert torch.all(s < 0.99) and torch.all(s > 0.5)
    assert torch.all(ssim(x + 0.3 * torch.randn(x.shape, generator=g), x) < s)
