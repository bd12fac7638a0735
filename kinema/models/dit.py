"""Diffusion transformer over spacetime latent patches (the Sora / Wan recipe, small).

Latents (B, C, T, H, W) from the VAE are cut into ``patch`` = (pt, ph, pw) cells; each cell is a
token. Position is 3D rotary embedding over (t, h, w), so one model takes any size and length.
Every block: adaLN-Zero modulated self-attention (QK-norm, RoPE) -> cross-attention to the text
tokens (QK-norm) -> adaLN-Zero modulated MLP. The conditioning vector is the timestep embedding
plus the pooled prompt. Timesteps are per sample ``[B]`` or per latent frame ``[B, T]`` (frames
given as context sit at t = 0 while the rest are generated).

Shapes: B batch, C latent channels, T/H/W latent frames/height/width, N = (T/pt)(H/ph)(W/pw)
tokens, D width, L text tokens, E text width, h heads, d head_dim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from kinema.config import DiTConfig
from kinema.errors import InvalidInputError
from kinema.models.layers import TanhGELU, load_module, save_weights
from kinema.models.rope import apply_rope, rope_3d, rope_split

WEIGHTS_NAME = "dit.safetensors"
CONFIG_NAME = "dit_config.json"


# ---------------------------------------------------------------------- embeddings
def timestep_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal features of t in [0, 1] (any shape S) -> S + (dim,)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)  # [dim/2]
    args = t.float()[..., None] * 1000.0 * freqs  # S + (dim/2,)
    return torch.cat([args.cos(), args.sin()], dim=-1)  # S + (dim,)


def per_group(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Tokens [B, N, D] (frame-major) as [B, G, N/G, D]: one group per conditioning row."""
    B, N, D = x.shape
    return x.view(B, groups, N // groups, D)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x [B, N, D] * (1 + scale) + shift, with shift/scale [B, G, D] per clip (G = 1) or per
    latent frame (G = T): broadcast over each frame's tokens, never copied to every token."""
    xg = per_group(x, shift.shape[1])  # [B, G, N/G, D]
    return (xg * (1 + scale[:, :, None]) + shift[:, :, None]).view(x.shape)  # [B, N, D]


def gated(gate: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """gate [B, G, D] times y [B, N, D], broadcast per group like ``modulate``."""
    return (gate[:, :, None] * per_group(y, gate.shape[1])).view(y.shape)  # [B, N, D]


@dataclass(frozen=True)
class TextContext:
    """What the DiT computes from the prompt alone, once per prompt batch instead of per step:
    the pooled prompt's conditioning row and every block's cross-attention keys and values
    (``DiT.prepare_text``). A sampler's steps share one; given to ``DiT.forward`` in place of
    the text tokens it gives the same velocity to the bit."""

    pooled: torch.Tensor  # [B, D]: text_pool of the mean text token
    kv: tuple[tuple[torch.Tensor, torch.Tensor], ...]  # per block: k, v [B, h, L, d]
    mask: torch.Tensor  # [B, L] bool


# ---------------------------------------------------------------------- blocks
class Attention(nn.Module):
    """Multi-head attention with optional QK RMS-norm and RoPE; self- or cross-attention."""

    def __init__(self, dim: int, heads: int, kv_dim: int | None = None, qk_norm: bool = True):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(kv_dim or dim, dim)
        self.v = nn.Linear(kv_dim or dim, dim)
        self.o = nn.Linear(dim, dim)
        self.q_norm = nn.RMSNorm(self.head_dim, eps=1e-6) if qk_norm else nn.Identity()
        self.k_norm = nn.RMSNorm(self.head_dim, eps=1e-6) if qk_norm else nn.Identity()

    def heads_of(self, y: torch.Tensor) -> torch.Tensor:
        """[B, N, h*d] as [B, N, h, d], a view: the QK norms read each head's channels where
        they lie instead of on the [B, h, N, d] transpose (the same values)."""
        return y.unflatten(-1, (self.heads, self.head_dim))  # [B, N, h, d]

    def keys_values(self, ctx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys (QK-normed in fp32, in the values' dtype) and values of ``ctx`` [B, M, Dk],
        each [B, h, M, d]: what cross-attention reads of the text, the same at every step."""
        k, v = self.heads_of(self.k(ctx)), self.heads_of(self.v(ctx))  # [B, M, h, d] each
        k = self.k_norm(k.float()).to(v.dtype)  # [B, M, h, d]
        return k.transpose(1, 2), v.transpose(1, 2)  # [B, h, M, d] each

    def forward(
        self,
        x: torch.Tensor,
        mask: torch.Tensor | None = None,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Self-attention over ``x`` [B, N, D] (with ``rope``), or cross-attention to the keys
        and values ``kv`` of another sequence, made by ``keys_values``."""
        q = self.q_norm(self.heads_of(self.q(x)).float()).transpose(1, 2)  # [B, h, N, d]
        if kv is None:  # norms in fp32 (autocast-safe)
            k = self.k_norm(self.heads_of(self.k(x)).float()).transpose(1, 2)  # [B, h, N, d]
            v = self.heads_of(self.v(x)).transpose(1, 2)  # [B, h, N, d]
        else:
            k, v = kv  # [B, h, M, d] each, k already normed
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)  # [B, h, N, d]
        q, k = q.to(v.dtype), k.to(v.dtype)  # [B, h, N, d], [B, h, M, d]
        attn_mask = None if mask is None else mask[:, None, None, :]  # [B, 1, 1, M]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # [B, h, N, d]
        return self.o(rearrange(out, "b h n d -> b n (h d)"))  # [B, N, D]


class DiTBlock(nn.Module):
    def __init__(self, cfg: DiTConfig) -> None:
        super().__init__()
        D = cfg.width
        self.norm1 = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(D, cfg.heads, qk_norm=cfg.qk_norm)
        self.norm2 = nn.LayerNorm(D, eps=1e-6)
        self.cross = Attention(D, cfg.heads, kv_dim=cfg.text_dim, qk_norm=cfg.qk_norm)
        self.norm3 = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        hidden = int(D * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(D, hidden), TanhGELU(), nn.Linear(hidden, D))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(D, 6 * D))  # adaLN-Zero: zero-initialised

    def forward(
        self,
        x: torch.Tensor,
        c: torch.Tensor,
        text_kv: tuple[torch.Tensor, torch.Tensor],
        text_mask: torch.Tensor,
        rope: tuple[torch.Tensor, torch.Tensor],
    ) -> torch.Tensor:
        # x [B, N, D]; c [B, G, D] (G = 1 or latent frames); text_kv: this block's text keys /
        # values [B, h, L, d] (DiT.prepare_text); text_mask [B, L]
        s1, sc1, g1, s2, sc2, g2 = self.ada(c).chunk(6, dim=-1)  # each [B, G, D]
        x = x + gated(g1, self.attn(modulate(self.norm1(x), s1, sc1), rope=rope))  # [B, N, D]
        x = x + self.cross(self.norm2(x), mask=text_mask, kv=text_kv)  # [B, N, D]
        x = x + gated(g2, self.mlp(modulate(self.norm3(x), s2, sc2)))  # [B, N, D]
        return x


class DiT(nn.Module):
    """``forward(latents [B,C,T,H,W], t [B] or [B,T], text [B,L,E], text_mask [B,L]) -> velocity``."""

    def __init__(self, cfg: DiTConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or DiTConfig()
        if cfg.width % cfg.heads:
            raise InvalidInputError(f"width {cfg.width} is not divisible by heads {cfg.heads}")
        if cfg.head_dim % 2 or min(rope_split(cfg.head_dim)) < 2:
            raise InvalidInputError(f"head_dim {cfg.head_dim} is too small for 3D RoPE")
        pt, ph, pw = cfg.patch
        D = cfg.width
        self.patch_dim = cfg.in_channels * pt * ph * pw
        self.embed = nn.Linear(self.patch_dim, D)
        self.t_embed = nn.Sequential(nn.Linear(cfg.freq_dim, D), nn.SiLU(), nn.Linear(D, D))
        self.text_pool = nn.Sequential(nn.Linear(cfg.text_dim, D), nn.SiLU(), nn.Linear(D, D))
        self.blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.depth))
        self.norm_out = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(D, 2 * D))
        self.out = nn.Linear(D, self.patch_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.t_embed[0].weight, std=0.02)
        nn.init.normal_(self.t_embed[2].weight, std=0.02)
        for block in self.blocks:  # adaLN-Zero: every block starts as the identity
            nn.init.zeros_(block.ada[-1].weight)
            nn.init.zeros_(block.ada[-1].bias)
        nn.init.zeros_(self.ada_out[-1].weight)
        nn.init.zeros_(self.ada_out[-1].bias)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    # ------------------------------------------------------------------ shapes
    def grid(self, latents: torch.Tensor) -> tuple[int, int, int]:
        """Token grid (T/pt, H/ph, W/pw) of latents [B, C, T, H, W]; checks divisibility."""
        if latents.ndim != 5 or latents.shape[1] != self.cfg.in_channels:
            raise InvalidInputError(
                f"latents must be (B, {self.cfg.in_channels}, T, H, W), got {tuple(latents.shape)}"
            )
        T, H, W = latents.shape[2:]
        pt, ph, pw = self.cfg.patch
        if T % pt or H % ph or W % pw:
            raise InvalidInputError(
                f"latent grid {T}x{H}x{W} is not divisible by the patch {pt}x{ph}x{pw}"
            )
        return T // pt, H // ph, W // pw

    def prepare_text(self, text: torch.Tensor, text_mask: torch.Tensor) -> TextContext:
        """What the DiT reads of text tokens [B, L, E] with mask [B, L], once: pass it to
        ``forward`` as ``text`` at every sampling step of the same prompts (and autocast)."""
        m = text_mask[..., None].to(text.dtype)  # [B, L, 1]
        pooled = (text * m).sum(1) / m.sum(1).clamp_min(1.0)  # [B, E]
        kv = tuple(block.cross.keys_values(text) for block in self.blocks)  # depth x 2 x [B,h,L,d]
        return TextContext(self.text_pool(pooled), kv, text_mask)  # pooled [B, D]

    def forward(
        self,
        latents: torch.Tensor,
        t: torch.Tensor,
        text: torch.Tensor | TextContext,
        text_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Velocity [B, C, T, H, W] of ``latents`` at ``t``, for text tokens [B, L, E] with
        ``text_mask`` [B, L], or for a ``TextContext`` from ``prepare_text`` (no mask then)."""
        if isinstance(text, TextContext):
            prepared = text
        elif text_mask is None:
            raise InvalidInputError("text tokens need their text_mask [B, L]")
        else:
            prepared = self.prepare_text(text, text_mask)
        T = latents.shape[2]
        gt, gh, gw = self.grid(latents)
        pt, ph, pw = self.cfg.patch
        x = rearrange(
            latents,
            "b c (t pt) (h ph) (w pw) -> b (t h w) (c pt ph pw)",
            pt=pt,
            ph=ph,
            pw=pw,
        )  # [B, N, C*pt*ph*pw]
        x = self.embed(x)  # [B, N, D]
        if t.ndim == 1:
            temb = self.t_embed(timestep_features(t, self.cfg.freq_dim))[:, None]  # [B, 1, D]
        elif t.ndim == 2 and t.shape[1] == T:
            tf = timestep_features(t[:, ::pt], self.cfg.freq_dim)  # [B, gt, F]
            temb = self.t_embed(tf)  # [B, gt, D]: one row per latent frame
        else:
            raise InvalidInputError(f"t must be [B] or [B, {T}], got {tuple(t.shape)}")
        c = temb + prepared.pooled[:, None]  # [B, G, D], G = 1 or gt
        rope = rope_3d((gt, gh, gw), self.cfg.head_dim, self.cfg.rope_theta, latents.device)
        for block, kv in zip(self.blocks, prepared.kv, strict=True):
            x = block(x, c, kv, prepared.mask, rope)  # [B, N, D]
        shift, scale = self.ada_out(c).chunk(2, dim=-1)  # [B, G, D] each
        x = self.out(modulate(self.norm_out(x), shift, scale))  # [B, N, C*pt*ph*pw]
        return rearrange(
            x,
            "b (t h w) (c pt ph pw) -> b c (t pt) (h ph) (w pw)",
            t=gt,
            h=gh,
            w=gw,
            pt=pt,
            ph=ph,
            pw=pw,
        )  # [B, C, T, H, W]

    # ------------------------------------------------------------------ files
    def save_pretrained(self, directory: str | Path, dtype: torch.dtype = torch.float16) -> Path:
        """Write ``dit.safetensors`` (in ``dtype``) and ``dit_config.json`` into ``directory``."""
        return save_weights(self, directory, WEIGHTS_NAME, CONFIG_NAME, dtype)

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> DiT:
        """Load a saved DiT in float32, eval mode."""
        return load_module(cls, DiTConfig, directory, WEIGHTS_NAME, CONFIG_NAME,
                           "kinema train dit --config configs/dit-shapes.yaml")  # fmt: skip


def check_parts(cfg: DiTConfig, latent_channels: int, text_dim: int) -> None:
    """Raise InvalidInputError unless the DiT fits the VAE's latents and the text encoder."""
    if cfg.in_channels != latent_channels:
        raise InvalidInputError(
            f"the DiT takes {cfg.in_channels} latent channels, the VAE makes {latent_channels}"
        )
    if cfg.text_dim != text_dim:
        raise InvalidInputError(
            f"the DiT takes text width {cfg.text_dim}, the text encoder gives {text_dim}"
        )


# ---------------------------------------------------------------------- accounting
def dit_flops_per_token(cfg: DiTConfig, tokens: int, text_tokens: int = 16) -> dict[str, float]:
    """Forward FLOPs per video token (2 x multiply-adds): linear layers, attention scores/values
    over ``tokens`` keys, and the text keys/values of cross-attention spread over the tokens."""
    D, E, r = cfg.width, cfg.text_dim, cfg.mlp_ratio
    per_block_linear = 4 * D * D + 2 * D * D + 2 * r * D * D  # self qkvo, cross q/o, MLP
    attn = 2 * tokens * D + 2 * text_tokens * D  # QK^T and AV for self + cross
    text_kv = 2 * E * D * text_tokens / tokens  # cross k/v projections per video token
    patch_dim = cfg.in_channels * math.prod(cfg.patch)
    io = 2 * patch_dim * D
    linear = 2 * (cfg.depth * per_block_linear + io)
    return {
        "linear": linear,
        "attention": 2 * cfg.depth * attn,
        "text_kv": 2 * cfg.depth * text_kv,
        "total": linear + 2 * cfg.depth * (attn + text_kv),
    }


def describe(cfg: DiTConfig, grid: tuple[int, int, int] = (5, 8, 8)) -> str:
    """One line per fact: params and forward FLOPs per token for a latent grid (T, H, W)."""
    model = DiT(cfg)
    params = sum(p.numel() for p in model.parameters())
    pt, ph, pw = cfg.patch
    tokens = (grid[0] // pt) * (grid[1] // ph) * (grid[2] // pw)
    f = dit_flops_per_token(cfg, tokens)
    return (
        f"width {cfg.width}, depth {cfg.depth}, heads {cfg.heads}, patch {cfg.patch}: "
        f"{params / 1e6:.2f}M params; {tokens} tokens for latents {grid}; "
        f"{f['total'] / 1e6:.1f} MFLOP/token forward ({f['attention'] / 1e6:.2f} in attention)"
    )


if __name__ == "__main__":  # python -m kinema.models.dit: the preset registry at a glance
    from kinema.config import DIT_PRESETS

    for name, preset in DIT_PRESETS.items():
        print(f"{name:9s} {describe(preset)}")
