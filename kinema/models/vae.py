"""A causal 3D convolutional VAE: 1 + 4k frames of H x W -> 1 + k latent frames of H/8 x W/8.

In the style of the open video VAEs (Wan, HunyuanVideo, LTX-Video): frames are patchified 4x4
into channels, then causal 3D convolutions work at 1/4 and 1/8 resolution; two causal
stride-2 convolutions halve time twice. The first frame is encoded on its own, so an image is
a 1-frame video, and no latent frame sees the future. The decoder mirrors it with causal
temporal upsampling. Because every layer is causal, a long video can be encoded and decoded
chunk by chunk with a ``StreamCache`` and the result equals the full pass: memory is bounded
by the chunk and there are no seams.

The VAE owns its latent normalisation: ``encode`` returns ``(z - shift) * scale`` and
``decode`` undoes it, with scale/shift measured on data and stored in ``config.json``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from kinema.config import VAEConfig
from kinema.errors import InvalidInputError
from kinema.models.layers import (
    CausalConv3d,
    CausalResBlock,
    CausalTimeUpsample,
    StreamCache,
    load_module,
    make_norm,
    save_weights,
)

WEIGHTS_NAME = "vae.safetensors"


def _noise_like(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Standard normal noise shaped like ``x``, drawn on the generator's device (a seeded CPU
    generator gives the same noise whether the model runs on the CPU or a GPU)."""
    device = generator.device if generator is not None else x.device
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=device).to(x.device)


CONFIG_NAME = "vae_config.json"


class Encoder(nn.Module):
    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        c1, c2 = cfg.channels
        n1, n2, n3 = cfg.blocks
        self.patch = cfg.patch
        self.conv_in = CausalConv3d(3 * cfg.patch**2, c1)
        self.stage1 = nn.ModuleList(CausalResBlock(c1, norm=cfg.norm) for _ in range(n1))
        self.down1 = CausalConv3d(c1, c2, (3, 3, 3), stride=(2, 2, 2))  # time and space / 2
        self.stage2 = nn.ModuleList(CausalResBlock(c2, norm=cfg.norm) for _ in range(n2))
        self.down2 = CausalConv3d(c2, c2, (3, 3, 3), stride=(2, 1, 1))  # time / 2
        self.stage3 = nn.ModuleList(CausalResBlock(c2, norm=cfg.norm) for _ in range(n3))
        self.norm_out = make_norm(cfg.norm, c2)
        self.conv_out = CausalConv3d(c2, 2 * cfg.latent_channels)

    def forward(self, x: torch.Tensor, cache: StreamCache | None = None) -> torch.Tensor:
        p = self.patch
        h = rearrange(
            x, "b c t (h p1) (w p2) -> b (c p1 p2) t h w", p1=p, p2=p
        )  # (B, 3p², T, H/p, W/p)
        h = self.conv_in(h, cache)  # (B, c1, T, H/4, W/4)
        for blk in self.stage1:
            h = blk(h, cache)
        h = self.down1(h, cache)  # (B, c2, 1 + 2k, H/8, W/8)
        for blk in self.stage2:
            h = blk(h, cache)
        h = self.down2(h, cache)  # (B, c2, 1 + k, H/8, W/8)
        for blk in self.stage3:
            h = blk(h, cache)
        return self.conv_out(F.silu(self.norm_out(h)), cache)  # (B, 2z, 1 + k, H/8, W/8)


class Decoder(nn.Module):
    def __init__(self, cfg: VAEConfig) -> None:
        super().__init__()
        c1, c2 = cfg.channels
        n1, n2, n3 = cfg.blocks
        self.patch = cfg.patch
        self.conv_in = CausalConv3d(cfg.latent_channels, c2)
        self.stage3 = nn.ModuleList(CausalResBlock(c2, norm=cfg.norm) for _ in range(n3))
        self.up2 = CausalTimeUpsample(c2)  # 1 + k -> 1 + 2k
        self.stage2 = nn.ModuleList(CausalResBlock(c2, norm=cfg.norm) for _ in range(n2))
        self.up1 = CausalTimeUpsample(c2)  # 1 + 2k -> 1 + 4k
        self.conv_up = CausalConv3d(c2, c1)  # after nearest 2x in space
        self.stage1 = nn.ModuleList(CausalResBlock(c1, norm=cfg.norm) for _ in range(n1))
        self.norm_out = make_norm(cfg.norm, c1)
        self.conv_out = CausalConv3d(c1, 3 * cfg.patch**2)

    def forward(self, z: torch.Tensor, cache: StreamCache | None = None) -> torch.Tensor:
        h = self.conv_in(z, cache)  # (B, c2, 1 + k, H/8, W/8)
        for blk in self.stage3:
            h = blk(h, cache)
        h = self.up2(h, cache)  # (B, c2, 1 + 2k, H/8, W/8)
        for blk in self.stage2:
            h = blk(h, cache)
        h = self.up1(h, cache)  # (B, c2, 1 + 4k, H/8, W/8)
        B, C, T = h.shape[:3]
        h = F.interpolate(h.flatten(1, 2), scale_factor=2, mode="nearest")  # (B, C·T, H/4, W/4)
        h = self.conv_up(h.view(B, C, T, *h.shape[-2:]), cache)  # (B, c1, T, H/4, W/4)
        for blk in self.stage1:
            h = blk(h, cache)
        h = self.conv_out(F.silu(self.norm_out(h)), cache)  # (B, 3p², T, H/4, W/4)
        p = self.patch
        return rearrange(
            h, "b (c p1 p2) t h w -> b c t (h p1) (w p2)", p1=p, p2=p
        )  # (B, 3, T, H, W)


class CausalVAE(nn.Module):
    """Video autoencoder; pixels in [-1, 1] as (B, 3, T, H, W), T = 1 + 4k, H and W multiples of 8."""

    def __init__(self, cfg: VAEConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or VAEConfig()
        self.encoder = Encoder(self.cfg)
        self.decoder = Decoder(self.cfg)

    # ------------------------------------------------------------------ checks
    def check_video(self, x: torch.Tensor) -> None:
        s = self.cfg.spatial_factor
        if x.ndim != 5 or x.shape[1] != 3:
            raise InvalidInputError(f"video must be (B, 3, T, H, W), got {tuple(x.shape)}")
        T, H, W = x.shape[2:]
        if (T - 1) % 4 or H % s or W % s:
            raise InvalidInputError(
                f"video is {T}x{H}x{W}: frames must be 1 + 4k (1, 5, 9, 17, 33, ...) and height/width "
                f"multiples of {s}; trim or resize it first"
            )

    def _norm(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel scale and shift shaped (1, z, 1, 1, 1) like ``like``."""
        n = self.cfg.latent_channels
        scale = torch.tensor(self.cfg.scale or [1.0] * n, dtype=like.dtype, device=like.device)
        shift = torch.tensor(self.cfg.shift or [0.0] * n, dtype=like.dtype, device=like.device)
        return scale.view(1, n, 1, 1, 1), shift.view(1, n, 1, 1, 1)

    # ------------------------------------------------------------------ raw posterior
    def posterior(
        self, x: torch.Tensor, chunk_frames: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance (B, z, 1 + k, H/8, W/8) of the unnormalised latent.

        ``chunk_frames`` (a multiple of 4) streams the video through the encoder in chunks: the
        first frame, then ``chunk_frames`` at a time; the result equals the full pass.
        """
        self.check_video(x)
        if chunk_frames is None or x.shape[2] <= 1 + chunk_frames:
            out = self.encoder(x)  # (B, 2z, 1 + k, h, w)
        else:
            if chunk_frames % 4:
                raise InvalidInputError(f"chunk_frames must be a multiple of 4, got {chunk_frames}")
            cache = StreamCache()
            parts = [self.encoder(x[:, :, :1], cache)]
            for s in range(1, x.shape[2], chunk_frames):
                parts.append(self.encoder(x[:, :, s : s + chunk_frames], cache))
            out = torch.cat(parts, dim=2)
        mean, logvar = out.chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    # ------------------------------------------------------------------ public
    def encode(
        self,
        x: torch.Tensor,
        sample: bool = False,
        generator: torch.Generator | None = None,
        chunk_frames: int | None = None,
    ) -> torch.Tensor:
        """Normalised latents (B, z, 1 + k, H/8, W/8): the posterior mean, or a sample."""
        mean, logvar = self.posterior(x, chunk_frames)
        z = mean
        if sample:
            z = mean + (0.5 * logvar).exp() * _noise_like(mean, generator)
        scale, shift = self._norm(z)
        return (z - shift) * scale

    def decode(
        self,
        latents: torch.Tensor,
        chunk_latents: int | None = None,
        cache: StreamCache | None = None,
    ) -> torch.Tensor:
        """Pixels (B, 3, 1 + 4k, H, W) in about [-1, 1] from normalised latents.

        ``chunk_latents`` decodes that many latent frames at a time (streaming, bounded memory).
        ``cache`` continues a stream: latents decoded by earlier calls with the same cache are
        this call's causal past, so a video decoded piece by piece (the first piece starting at
        latent 0, each later one giving 4 frames per latent) equals the video decoded at once.
        """
        if latents.ndim != 5 or latents.shape[1] != self.cfg.latent_channels:
            raise InvalidInputError(
                f"latents must be (B, {self.cfg.latent_channels}, T, h, w), got {tuple(latents.shape)}"
            )
        scale, shift = self._norm(latents)
        z = latents / scale + shift
        if cache is None and (chunk_latents is None or z.shape[2] <= chunk_latents):
            return self.decoder(z)
        cache = StreamCache() if cache is None else cache
        step = chunk_latents or z.shape[2]
        parts = [self.decoder(z[:, :, s : s + step], cache) for s in range(0, z.shape[2], step)]
        return torch.cat(parts, dim=2)

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training pass: reconstruction, posterior mean and log-variance."""
        mean, logvar = self.posterior(x)
        z = mean + (0.5 * logvar).exp() * _noise_like(mean, generator)  # (B, z, 1 + k, h, w)
        return self.decoder(z), mean, logvar

    # ------------------------------------------------------------------ files
    def save_pretrained(self, directory: str | Path, dtype: torch.dtype = torch.float16) -> Path:
        """Write ``vae.safetensors`` (in ``dtype``) and ``vae_config.json`` into ``directory``."""
        return save_weights(self, directory, WEIGHTS_NAME, CONFIG_NAME, dtype)

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None) -> CausalVAE:
        """Load a saved VAE (default: the one shipped in ``kinema/weights``), in float32, eval mode."""
        directory = Path(directory) if directory is not None else default_weights_dir()
        return load_module(cls, VAEConfig, directory, WEIGHTS_NAME, CONFIG_NAME,
                           "kinema train vae --config configs/vae-shapes.yaml")  # fmt: skip


def default_weights_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "weights"
