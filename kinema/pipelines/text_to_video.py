"""Text-to-video: prompt -> MiniLM tokens -> rectified-flow sampling of VAE latents by the DiT
(classifier-free guidance) -> VAE decode -> ``Video``.

``Pipeline.from_pretrained(dir)`` reads ``dit.safetensors``/``dit_config.json``,
``vae.safetensors``/``vae_config.json`` and ``pipeline.json`` (sampling defaults) from one
directory, by default the embedded ``kinema/weights``. A call keeps no state on ``self``, so one
pipeline may serve concurrent calls.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from kinema.config import FlowConfig
from kinema.diffusion import euler, heun, sample_timesteps, shift_for_tokens
from kinema.errors import InvalidInputError
from kinema.io.video import Video
from kinema.models.dit import DiT
from kinema.models.text import TextEncoder
from kinema.models.vae import CausalVAE, default_weights_dir

PIPELINE_NAME = "pipeline.json"
MAX_FRAMES = 481  # a minute at 8 fps
MIN_SIDE, MAX_SIDE = 16, 512


@dataclass
class PipelineConfig:
    """Sampling defaults stored next to the weights (``pipeline.json``)."""

    steps: int = 20  # sampler steps (Euler: one DiT call per step, x2 with guidance)
    guidance: float = 4.0  # classifier-free guidance scale; 1 = off
    sampler: str = "euler"  # euler | heun
    fps: float = 8.0  # Shapes World runs at 8 fps
    text_model: str = ""  # "" = the packaged all-MiniLM-L6-v2; or a local path
    bf16: bool = True  # bf16 autocast for the DiT and VAE on CPU (~2.5x faster)
    flow: FlowConfig = field(default_factory=FlowConfig)

    @classmethod
    def from_dict(cls, raw: dict) -> PipelineConfig:
        raw = dict(raw)
        flow = FlowConfig(**raw.pop("flow", {}))
        return cls(**raw, flow=flow)


@dataclass
class Timings:
    """Seconds spent per stage of the last call (returned, never stored on the pipeline)."""

    text: float = 0.0
    sampling: float = 0.0
    decode: float = 0.0

    @property
    def total(self) -> float:
        return self.text + self.sampling + self.decode


def check_request(num_frames: int, height: int, width: int, steps: int, guidance: float) -> None:
    """Raise InvalidInputError on a size, length or sampler setting the models cannot take."""
    if not isinstance(num_frames, int) or num_frames < 1 or (num_frames - 1) % 4:
        raise InvalidInputError(
            f"num_frames must be 1 + 4k (1, 5, 9, 17, 33, ...), got {num_frames}"
        )
    if num_frames > MAX_FRAMES:
        raise InvalidInputError(
            f"num_frames {num_frames} is over {MAX_FRAMES}; longer videos go through "
            "`kinema generate --seconds` (sliding windows)"
        )
    for name, v in (("height", height), ("width", width)):
        if not isinstance(v, int) or v % 16 or not MIN_SIDE <= v <= MAX_SIDE:
            raise InvalidInputError(
                f"{name} must be a multiple of 16 between {MIN_SIDE} and {MAX_SIDE}, got {v}"
            )
    if not isinstance(steps, int) or steps < 1 or steps > 1000:
        raise InvalidInputError(f"num_inference_steps must be 1..1000, got {steps}")
    if not 0.0 <= guidance <= 50.0:
        raise InvalidInputError(f"guidance_scale must be in [0, 50], got {guidance}")


class Pipeline:
    """``pipe(prompt, negative_prompt=None, num_frames=17, height=64, width=64, ...) -> Video``."""

    def __init__(
        self,
        dit: DiT,
        vae: CausalVAE,
        text_encoder: TextEncoder,
        config: PipelineConfig | None = None,
    ) -> None:
        if dit.cfg.in_channels != vae.cfg.latent_channels:
            raise InvalidInputError(
                f"the DiT takes {dit.cfg.in_channels} latent channels, the VAE makes "
                f"{vae.cfg.latent_channels}"
            )
        if dit.cfg.text_dim != text_encoder.dim:
            raise InvalidInputError(
                f"the DiT takes text width {dit.cfg.text_dim}, the text encoder gives {text_encoder.dim}"
            )
        self.dit = dit.eval()
        self.vae = vae.eval()
        self.text_encoder = text_encoder
        self.config = config or PipelineConfig()

    # ------------------------------------------------------------------ files
    @classmethod
    def from_pretrained(
        cls, directory: str | Path | None = None, text_model: str | Path | None = None
    ) -> Pipeline:
        directory = Path(directory) if directory is not None else default_weights_dir()
        cfg_path = directory / PIPELINE_NAME
        config = (
            PipelineConfig.from_dict(json.loads(cfg_path.read_text()))
            if cfg_path.is_file()
            else PipelineConfig()
        )
        dit = DiT.from_pretrained(directory)
        vae = CausalVAE.from_pretrained(directory)
        text = TextEncoder(text_model or config.text_model or None)
        return cls(dit, vae, text, config)

    def save_pretrained(self, directory: str | Path) -> Path:
        directory = Path(directory)
        self.dit.save_pretrained(directory)
        self.vae.save_pretrained(directory)
        (directory / PIPELINE_NAME).write_text(json.dumps(asdict(self.config), indent=1))
        return directory

    # ------------------------------------------------------------------ sampling
    def latent_shape(self, num_frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        s = self.vae.cfg.spatial_factor
        return (
            self.vae.cfg.latent_channels,
            1 + (num_frames - 1) // self.vae.cfg.temporal_factor,
            height // s,
            width // s,
        )

    def velocity_fn(
        self,
        prompts: list[str],
        negative: list[str],
        guidance: float,
        timings: Timings | None = None,
    ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """v(x [B,C,T,H,W], t [B] or [B,T]) with guidance, cond and uncond in one batch."""
        t0 = time.perf_counter()
        both = prompts + negative if guidance != 1.0 else prompts
        text, mask = self.text_encoder.encode(both)  # [2B or B, L, E], [2B or B, L]
        if timings is not None:
            timings.text += time.perf_counter() - t0
        bf16 = self.config.bf16

        @torch.no_grad()
        def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            if guidance == 1.0:
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    return self.dit(x, t, text, mask).float()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = self.dit(torch.cat([x, x]), torch.cat([t, t]), text, mask).float()
            vc, vu = out.chunk(2)  # [B, C, T, H, W] each
            return vu + guidance * (vc - vu)

        return v

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """uint8 frames [B, T, H, W, 3] from normalised latents [B, C, T', h, w]."""
        chunk = 8 if latents.shape[2] > 16 else None  # stream long videos: bounded memory
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.config.bf16):
            x = self.vae.decode(latents, chunk_latents=chunk).float()  # [B, 3, T, H, W]
        y = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return y.permute(0, 2, 3, 4, 1).numpy()

    def __call__(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        num_frames: int = 17,
        height: int = 64,
        width: int = 64,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        seed: int | None = None,
        fps: float | None = None,
        sampler: str | None = None,
        callback: Callable[[int, int], None] | None = None,
        timings: Timings | None = None,
    ) -> Video | list[Video]:
        """Generate one video per prompt (a list in, a list out).

        ``callback(step, total)`` is called after each sampler step; pass a ``Timings`` to get
        the text / sampling / decode seconds of this call.
        """
        steps = self.config.steps if num_inference_steps is None else num_inference_steps
        guidance = self.config.guidance if guidance_scale is None else float(guidance_scale)
        sampler = sampler or self.config.sampler
        single = isinstance(prompt, str)
        prompts = [prompt] if single else list(prompt) if isinstance(prompt, list | tuple) else []
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise InvalidInputError("prompt must be a string or a non-empty list of strings")
        if negative_prompt is None:
            negative = [""] * len(prompts)
        elif isinstance(negative_prompt, str):
            negative = [negative_prompt] * len(prompts)
        else:
            negative = list(negative_prompt)
            if len(negative) != len(prompts):
                raise InvalidInputError(
                    f"{len(negative)} negative prompts for {len(prompts)} prompts"
                )
        if sampler not in ("euler", "heun"):
            raise InvalidInputError(f"sampler must be 'euler' or 'heun', got {sampler!r}")
        check_request(num_frames, height, width, steps, guidance)
        timings = timings if timings is not None else Timings()

        v = self.velocity_fn(prompts, negative, guidance, timings)
        shape = self.latent_shape(num_frames, height, width)
        pt, ph, pw = self.dit.cfg.patch
        tokens = (shape[1] // pt) * (shape[2] // ph) * (shape[3] // pw)
        ts = sample_timesteps(steps, shift_for_tokens(tokens, self.config.flow))
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        gen = torch.Generator().manual_seed(int(seed))
        x = torch.randn((len(prompts), *shape), generator=gen)  # [B, C, T, h, w]
        done = callback and (lambda i: callback(i + 1, steps))
        t0 = time.perf_counter()
        integrate = euler if sampler == "euler" else heun
        latents = integrate(v, x, ts, callback=done)  # [B, C, T, h, w]
        t1 = time.perf_counter()
        frames = self.decode(latents)  # [B, T, H, W, 3]
        timings.sampling += t1 - t0
        timings.decode += time.perf_counter() - t1
        rate = float(fps or self.config.fps)
        videos = [Video(f, rate) for f in frames]
        return videos[0] if single else videos
