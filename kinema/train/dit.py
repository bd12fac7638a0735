"""Training the diffusion transformer: a latent cache, rectified-flow batches, fidelity evals.

The VAE and the text encoder are frozen, so their outputs are computed once into a cache
(``<out>/latent_cache.pt``): per bucket (frames, H, W), the clips' normalised VAE latents (the
posterior mean) and ``captions_per_clip`` paraphrases each, as MiniLM token states. Shapes World
clips come from the ``data.seed`` scene stream with training caption templates only; a manifest
source encodes the user's clips with their captions. Every step then costs only the DiT.

A batch is drawn by (seed, step) alone: bucket, clips, caption choice, text dropout (prompt
replaced by "" with p = ``flow.text_drop``, for classifier-free guidance), timesteps
(logit-normal, shifted for the bucket's token count), noise, and a frame mask per clip: latent
frames given as clean context (timestep 0, no loss) for image-to-video, extension,
interpolation and filling (``flow.mask_weights``); the rest are generated. So a resumed run repeats the
uninterrupted one exactly.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import Progress
from torch import nn

from kinema.config import DiTRecipe
from kinema.diffusion import flow_loss, logit_normal, shift_for_tokens, shift_t
from kinema.errors import InvalidInputError
from kinema.eval.fidelity import score_clip, summarize
from kinema.hardware import bf16_autocast
from kinema.io.video import Video, write_video
from kinema.models.dit import DiT, check_parts
from kinema.models.text import TextEncoder
from kinema.models.vae import CausalVAE
from kinema.pipelines.text_to_video import Pipeline, PipelineConfig
from kinema.train.trainer import ship_run_files
from kinema.train.vae import to_tensor
from kinema.world.captions import caption, parse_prompt
from kinema.world.render import render
from kinema.world.scene import sample_scene, sample_spec

CACHE_NAME = "latent_cache.pt"
EVAL_SEED = 700_001  # evaluation prompts/scenes: a stream training never draws from


def _pad(seqs: list[torch.Tensor], dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token-state sequences [L_i, E] to [N, L, E] (fp16) with a bool mask [N, L]."""
    length = max(s.shape[0] for s in seqs)
    states = torch.zeros(len(seqs), length, dim, dtype=torch.float16)  # [N, L, E]
    mask = torch.zeros(len(seqs), length, dtype=torch.bool)  # [N, L]
    for i, s in enumerate(seqs):
        states[i, : s.shape[0]] = s.half()
        mask[i, : s.shape[0]] = True
    return states, mask


def _shapes_chunk(
    args: tuple[int, int, int, int, int, int, int, int, int],
) -> tuple[np.ndarray, list[list[str]]]:
    """One cache chunk of Shapes World clips [n, T, H, W, 3] and ``k`` training captions each,
    drawn from (seed, bucket, start) alone, so chunks can be rendered in any process."""
    seed, bi, start, n, frames, h, w, max_objects, k = args
    rng = np.random.default_rng([seed, bi, start])
    graphs = [
        sample_scene(rng, height=h, width=w, num_frames=frames, max_objects=max_objects)
        for _ in range(n)
    ]
    clips = np.stack([render(g) for g in graphs])  # [n, T, H, W, 3]
    return clips, [[caption(g.spec, rng, "train") for _ in range(k)] for g in graphs]


CHUNK = 16  # clips per cache chunk (the unit of rendering and VAE encoding)


@torch.no_grad()
def build_cache(
    recipe: DiTRecipe, vae: CausalVAE, text: TextEncoder, progress: bool = True
) -> dict[str, Any]:
    """Encode the recipe's clips and captions once: {bucket key: {latents, states, mask}}.

    The VAE and the text encoder run on whatever device they were moved to (the cache itself
    stays on the CPU); with ``train.workers`` > 0 Shapes World clips render in that many
    processes. The cache is the same either way (up to float rounding on another device)."""
    d = recipe.data
    k = d.captions_per_clip
    device = next(vae.parameters()).device
    buckets: dict[str, Any] = {}
    manifest = None
    if d.source != "shapes":
        from kinema.data.manifest import read_manifest

        manifest = read_manifest(d.source)
    total = sum(b[3] for b in d.buckets)
    pool = None
    if manifest is None and recipe.train.workers > 0:
        import multiprocessing

        pool = multiprocessing.get_context("fork").Pool(recipe.train.workers)
    try:
        with Progress(disable=not progress) as bar:
            task = bar.add_task("encoding latents + captions", total=total)
            for bi, (frames, h, w, count) in enumerate(d.buckets):
                lat, captions = [], []
                starts = range(0, count, CHUNK)
                if manifest is None:
                    jobs = [
                        (d.seed, bi, s, min(CHUNK, count - s), frames, h, w, d.max_objects, k)
                        for s in starts
                    ]
                    chunks = pool.imap(_shapes_chunk, jobs) if pool else map(_shapes_chunk, jobs)
                else:
                    chunks = (_manifest_chunk(manifest, s, min(CHUNK, count - s), frames, h, w, k)
                              for s in starts)  # fmt: skip
                for clips, caps in chunks:
                    captions += caps
                    with bf16_autocast():  # CPU only; a GPU encodes in fp32
                        z = vae.encode(to_tensor(clips, device)).float()  # [n, C, T', h, w]
                    lat.append(z.half().cpu())
                    bar.advance(task, len(clips))
                flat = [c for cs in captions for c in cs]
                states, mask = _pad(text.encode_many(flat, batch_size=256), text.dim)
                buckets[f"{frames}x{h}x{w}"] = {
                    "latents": torch.cat(lat),  # [N, C, T', h, w] fp16
                    "states": states.view(count, k, *states.shape[1:]),  # [N, k, L, E] fp16
                    "mask": mask.view(count, k, -1),  # [N, k, L]
                    "captions": captions,
                }
    finally:
        if pool is not None:
            pool.close()
    empty = text.encode_many([""])[0]  # [2, E]: [CLS] [SEP]
    return {"buckets": buckets, "empty": (empty.half(), torch.ones(len(empty), dtype=torch.bool))}


def _manifest_chunk(
    manifest: list[Any], start: int, n: int, frames: int, h: int, w: int, k: int
) -> tuple[np.ndarray, list[list[str]]]:
    """Clips ``start .. start + n`` of a manifest (cycling), each with its caption ``k`` times."""
    from kinema.io.video import read_video

    rows = [manifest[(start + j) % len(manifest)] for j in range(n)]
    clips = np.stack([read_video(r.path, end=frames, size=(h, w)).frames for r in rows])
    return clips, [[r.caption] * k for r in rows]


def eval_specs(n: int, seed: int = EVAL_SEED, max_objects: int = 2) -> list[tuple[str, Any]]:
    """``n`` (prompt, spec) pairs: 1- and 2-object scenes, held-out caption templates, the spec
    read back from the prompt (what a user's prompt asks for)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        spec = sample_spec(rng, num_objects=1 + i % max_objects, max_objects=max_objects)
        prompt = caption(spec, rng, "heldout")
        out.append((prompt, parse_prompt(prompt)))
    return out


def sample_grid(clips: list[np.ndarray], cols: int = 4) -> np.ndarray:
    """Clips [T, H, W, 3] of one size tiled in rows of ``cols`` (black where the grid is short)."""
    cols = min(cols, len(clips))
    rows = -(-len(clips) // cols)
    blank = np.zeros_like(clips[0])
    cells = clips + [blank] * (rows * cols - len(clips))
    return np.concatenate(
        [np.concatenate(cells[r * cols : (r + 1) * cols], axis=2) for r in range(rows)], axis=1
    )  # [T, rows*H, cols*W, 3]


MASK_KINDS = ("none", "first", "prefix", "last", "ends", "random")


def frame_mask(kind: str, frames: int, rng: np.random.Generator) -> np.ndarray:
    """bool [frames]: True where the latent frame is given (clean context), False where generated.
    At least one frame is always generated."""
    given = np.zeros(frames, dtype=bool)
    if frames < 2 or kind == "none":
        return given
    if kind == "first":
        given[0] = True
    elif kind == "prefix":
        given[: int(rng.integers(1, frames))] = True
    elif kind == "last":
        given[-1] = True
    elif kind == "ends":
        given[[0, -1]] = True
    elif kind == "random":
        given = rng.random(frames) < rng.uniform(0.2, 0.7)
        if given.all():
            given[int(rng.integers(frames))] = False
    else:
        raise InvalidInputError(f"unknown mask kind {kind!r}; one of {MASK_KINDS}")
    return given


class DiTTask:
    """Batches, loss and evaluation for ``kinema.train.trainer.train``."""

    def __init__(
        self,
        recipe: DiTRecipe,
        vae: CausalVAE,
        text: TextEncoder,
        cache: dict[str, Any],
    ) -> None:
        self.recipe, self.vae, self.text = recipe, vae, text
        self.cfg = recipe.train
        self.buckets = list(cache["buckets"].items())
        if not self.buckets:
            raise InvalidInputError("the latent cache holds no buckets")
        sizes = np.array([len(b["latents"]) for _, b in self.buckets], dtype=np.float64)
        self.weights = sizes / sizes.sum()
        self.empty_states, self.empty_mask = cache["empty"]
        self.eval_prompts = eval_specs(recipe.eval.prompts)

    def batch(self, step: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.cfg.seed, step, 2])
        _, b = self.buckets[int(rng.choice(len(self.buckets), p=self.weights))]
        B = self.cfg.batch_size
        idx = torch.from_numpy(rng.integers(0, len(b["latents"]), B))
        cap = torch.from_numpy(rng.integers(0, b["states"].shape[1], B))
        states = b["states"][idx, cap].float()  # [B, L, E]
        mask = b["mask"][idx, cap].clone()  # [B, L]
        drop = torch.from_numpy(rng.random(B) < self.recipe.flow.text_drop)  # [B]
        n_empty = self.empty_states.shape[0]
        states[drop] = 0.0
        states[drop, :n_empty] = self.empty_states.float()
        mask[drop] = False
        mask[drop, :n_empty] = self.empty_mask
        x0 = b["latents"][idx].float()  # [B, C, T, h, w]
        gen = torch.Generator().manual_seed(self.cfg.seed * 1_000_003 + step)
        pt, ph, pw = self.recipe.model.patch
        tokens = (x0.shape[2] // pt) * (x0.shape[3] // ph) * (x0.shape[4] // pw)
        f = self.recipe.flow
        t = shift_t(logit_normal(B, gen, f.logit_mean, f.logit_std), shift_for_tokens(tokens, f))
        noise = torch.randn(x0.shape, generator=gen)  # [B, C, T, h, w]
        T = x0.shape[2]
        p = np.asarray(f.mask_weights, dtype=np.float64)
        kinds = rng.choice(len(MASK_KINDS), size=B, p=p / p.sum())
        given = torch.from_numpy(
            np.stack([frame_mask(MASK_KINDS[k], T, rng) for k in kinds])
        )  # [B, T] bool
        t_frames = t[:, None].expand(B, T).masked_fill(given, 0.0)  # [B, T]; given frames clean
        return {
            "x0": x0,
            "noise": noise,
            "t": t_frames,
            "given": given,
            "text": states,
            "mask": mask,
        }

    def loss(
        self, model: nn.Module, batch: dict[str, torch.Tensor], step: int
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        text, mask = batch["text"], batch["mask"]
        weight = (~batch["given"]).float()[:, None, :, None, None]  # [B, 1, T, 1, 1]
        loss = flow_loss(
            lambda x, t: model(x, t, text, mask), batch["x0"], batch["noise"], batch["t"], weight
        )
        return loss, {"given_frames": batch["given"].float().mean()}  # read at logged steps

    @torch.no_grad()
    def evaluate(self, model: nn.Module, step: int, out: Path) -> dict[str, float]:
        """Generate the held-out prompts with the EMA model and score them."""
        e = self.recipe.eval
        if next(model.parameters()).device.type != "cpu":  # the pipeline samples on the CPU
            model = copy.deepcopy(model).cpu()
        pipe = Pipeline(
            model,  # type: ignore[arg-type]
            self.vae,
            self.text,
            PipelineConfig(steps=e.steps, guidance=e.guidance, flow=self.recipe.flow),
        )
        prompts = [p for p, _ in self.eval_prompts]
        videos = []
        for s in range(0, len(prompts), 8):
            videos += pipe(prompts[s : s + 8], seed=step + s)  # type: ignore[operator]
        scores = [
            score_clip(v.frames, spec)
            for v, (_, spec) in zip(videos, self.eval_prompts, strict=True)
        ]
        summary = summarize(scores)
        samples = out / "samples"
        samples.mkdir(exist_ok=True)
        write_video(Video(sample_grid([v.frames for v in videos[:16]]), 8.0),
                    samples / f"step_{step:06d}.mp4", overwrite=True)  # fmt: skip
        model.train()
        return {f"fidelity_{k}": v for k, v in summary.items() if k != "clips"}


def load_or_build_cache(
    recipe: DiTRecipe, vae: CausalVAE, text: TextEncoder, out: Path, progress: bool = True
) -> dict[str, Any]:
    """The run's cache: reused when its data recipe matches, rebuilt otherwise."""
    path = out / CACHE_NAME
    key = json.dumps(dataclasses.asdict(recipe.data), sort_keys=True)
    if path.is_file():
        cache = torch.load(path, weights_only=False)
        if cache.get("key") == key:
            return cache
    cache = build_cache(recipe, vae, text, progress)
    cache["key"] = key
    out.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(cache, tmp)
    tmp.replace(path)
    return cache


def new_dit(recipe: DiTRecipe, vae: CausalVAE, text: TextEncoder) -> DiT:
    check_parts(recipe.model, vae.cfg.latent_channels, text.dim)
    torch.manual_seed(recipe.train.seed)
    return DiT(recipe.model)


def start_from(model: DiT, recipe: DiTRecipe, init: str | Path) -> DiT:
    """``--init``: load a saved DiT (e.g. the shipped one in kinema/weights, or another run's
    export) into ``model`` to train it further with a fresh optimizer and schedule; it must
    have the recipe's shape, and the recipe's VAE must be the one its latents came from."""
    start = DiT.from_pretrained(init)
    if start.cfg != recipe.model:
        raise InvalidInputError(
            f"{init}: its DiT has another shape than the recipe's model "
            f"({start.cfg.width}x{start.cfg.depth} vs {recipe.model.width}x{recipe.model.depth})"
        )
    model.load_state_dict(start.state_dict())
    return model


def prepare(
    recipe: DiTRecipe,
    out: Path | None = None,
    progress: bool = True,
    init: str | Path | None = None,
) -> tuple[DiT, DiTTask, CausalVAE]:
    """What a DiT run needs: the recipe's frozen VAE and text encoder, the latent cache
    (encoded on ``train.device``; kept in and reused from ``out`` when given), the DiT (fresh,
    or ``init``'s weights) and its task. The frozen parts end on the CPU, where samples during
    training are made."""
    from kinema.train.trainer import resolve_device

    device = resolve_device(recipe.train.device)
    vae = CausalVAE.from_pretrained(recipe.data.vae or None).to(device)
    text = TextEncoder(recipe.data.text_model or None).to(device)
    if out is None:
        cache = build_cache(recipe, vae, text, progress)
    else:
        cache = load_or_build_cache(recipe, vae, text, out, progress)
    vae, text = vae.cpu(), text.cpu()
    model = new_dit(recipe, vae, text)
    if init is not None:
        start_from(model, recipe, init)
    return model, DiTTask(recipe, vae, text, cache), vae


def export(
    ema: DiT,
    vae: CausalVAE,
    recipe: DiTRecipe,
    recipe_path: str | Path,
    run_dir: str | Path,
    weights_dir: str | Path,
    command: str,
) -> Path:
    """Write the EMA DiT (fp16), its pipeline defaults, recipe, log and command to ``weights_dir``.

    The recipe owns the fields that must match training (steps and guidance of its eval, the
    text encoder, the flow schedule, and the prompt rewrite: a model trained on Shapes World
    captions reads prompts rewritten into them, one trained on a manifest's captions reads
    prompts as written); the rest of an existing ``pipeline.json`` in
    ``weights_dir`` (sampler, fps, bf16, watermark key, extension windows, best of N, tuned by
    benchmarks after training) is kept, so re-exporting a longer run does not reset them to
    defaults; a manifest-trained model gets no Shapes World verifier.
    """
    weights_dir = Path(weights_dir)
    ema.save_pretrained(weights_dir)
    if not (weights_dir / "vae.safetensors").is_file():
        vae.save_pretrained(weights_dir)
    config = PipelineConfig.load(weights_dir)
    shapes = recipe.data.source == "shapes"
    config = dataclasses.replace(
        config,
        steps=recipe.eval.steps,
        guidance=recipe.eval.guidance,
        text_model=recipe.data.text_model,
        prompt_rewrite="shapes-world" if shapes else "",
        # best of N by the Shapes World recognizer reads world prompts only: kept (as tuned)
        # for a Shapes World model, off for one trained on a manifest's captions
        candidates=config.candidates if shapes else 1,
        extend_candidates=config.extend_candidates if shapes else 1,
        screen_drafts=config.screen_drafts if shapes else 0,
        image_screen_drafts=config.image_screen_drafts if shapes else 0,
        verifier=config.verifier if shapes else "",
        # so does the planner that turns Shapes World objects round at the walls
        planner=config.planner if shapes else "",
        flow=recipe.flow,
    )
    config.save(weights_dir)
    ship_run_files("dit", recipe_path, run_dir, weights_dir, command)
    return weights_dir
