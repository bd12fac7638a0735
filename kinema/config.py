"""Configuration dataclasses. Every field says what it trades off; presets live in one registry.

Model configs (VAE, DiT, training, sampling) join this file with the issues that build them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kinema.world import spec as S


@dataclass
class SynthConfig:
    """A Shapes World dataset written to disk by ``kinema data synth``."""

    count: int = 1000  # clips; more gives a model more scenes, costs ~10 ms and ~3 KB each
    height: int = S.DEFAULT_SIZE  # canvas; multiple of 16 in 32..256, bigger costs quadratically
    width: int = S.DEFAULT_SIZE
    num_frames: int = S.DEFAULT_FRAMES  # 1 + 4k keeps clips aligned with the VAE's 4x time stride
    fps: float = S.DEFAULT_FPS  # playback rate written into the files; motion is per frame
    seed: int = 0  # clip i is drawn from (seed, i): any subset can be regenerated alone
    max_objects: int = 3  # 1..3; more objects make harder scenes and longer captions
    caption_style: str = "train"  # canonical | train (paraphrases, held-out ones excluded) | any
    quality: int = 18  # H.264 CRF; lower is closer to the render and larger on disk


@dataclass
class DataConfig:
    """How a ``VideoDataset`` turns manifest clips into training tensors."""

    manifest: str = (
        "data/shapes/manifest.jsonl"  # jsonl of {path, caption, ...}; paths relative to it
    )
    num_frames: int = S.DEFAULT_FRAMES  # frames per sample when no buckets are given
    height: int = S.DEFAULT_SIZE  # sample size when no buckets are given
    width: int = S.DEFAULT_SIZE
    # (frames, H, W) buckets; each clip goes to the one nearest its aspect ratio that its length
    # allows, and a batch never mixes buckets. Empty: one bucket of the fields above.
    buckets: list[tuple[int, int, int]] = field(default_factory=list)
    frame_stride: int = 1  # take every k-th frame: longer time span per sample, choppier motion
    random_start: bool = True  # random window per epoch (augments) vs always the first frames
    batch_size: int = 8  # clips per step; memory grows linearly
    seed: int = 0  # window choice and batch order are reproducible from (seed, epoch)


@dataclass
class VAEConfig:
    """The causal 3D video autoencoder: 8x8 spatial and 4x temporal compression."""

    patch: int = 4  # pixels folded into channels first (LTX-style); cheap downsampling on CPU
    channels: tuple[int, int] = (64, 128)  # widths at 1/4 and 1/8 resolution: quality vs speed
    blocks: tuple[int, int, int] = (1, 1, 2)  # res blocks at 1/4, 1/8 (1+2k frames), 1/8 (1+k)
    latent_channels: int = 8  # 4..16: more keeps detail, fewer is easier for the diffusion model
    # group (per-frame GroupNorm) | none | rms (channel RMS). Memorising 8 images with MSE,
    # 600 steps (bench/results/vae_objective_probe.md): group 31.0 dB, none 30.3 dB, rms stuck
    # at 18.9 dB; and without a norm the full run diverged at lr 1e-3.
    norm: str = "group"
    # Per-channel latent normalisation, latents = (z - shift) * scale, measured on data after
    # training so each channel is ~N(0, 1) for the diffusion model. Empty: identity.
    scale: tuple[float, ...] = ()
    shift: tuple[float, ...] = ()

    @property
    def spatial_factor(self) -> int:
        return self.patch * 2

    @property
    def temporal_factor(self) -> int:
        return 4


VAE_PRESETS: dict[str, VAEConfig] = {
    "vae-tiny": VAEConfig(channels=(16, 32), blocks=(1, 1, 1), latent_channels=4),  # tests
    "vae-s": VAEConfig(),  # the shipped Shapes World VAE
}


@dataclass
class TrainConfig:
    """The optimisation loop shared by every model Kinema trains."""

    steps: int = 6000  # optimizer steps; the recipe's quality/time dial
    batch_size: int = 8  # clips per step; larger is smoother but slower per step on CPU
    lr: float = 1e-3  # AdamW peak learning rate after warmup
    warmup: int = 200  # linear warmup steps; avoids early blow-ups with Adam
    min_lr_ratio: float = 0.1  # cosine decays to lr * this at the last step
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    betas: tuple[float, float] = (0.9, 0.99)  # Adam momenta; 0.99 reacts faster than 0.999
    grad_clip: float = 1.0  # max global grad norm; guards against rare spikes
    ema_decay: float = 0.999  # EMA of weights (the shipped weights); higher = smoother, slower
    bf16: bool = True  # bf16 autocast: ~4x faster convs on AMX CPUs, tiny precision cost; used only
    # where the CPU computes bf16 natively (kinema.hardware.native_bf16), fp32 elsewhere
    seed: int = 0  # data, noise and init all derive from (seed, step): runs and resumes repeat
    threads: int = 0  # torch CPU threads; 0 = all cores
    device: str = "cpu"  # "cpu", "cuda" (bf16 autocast there), "cuda:N", or "auto" (cuda if any)
    workers: int = 0  # processes preparing batches ahead (e.g. rendering clips); 0 = inline
    compile: bool = False  # torch.compile the model's forward (GPU runs; a one-off compile cost)
    log_every: int = 20  # steps between jsonl log lines
    eval_every: int = 500  # steps between held-out evaluations (and sample clips); 0 = none
    ckpt_every: int = 500  # steps between checkpoints (model, EMA, optimizer, state)


@dataclass
class VAEDataConfig:
    """Where VAE training clips come from."""

    # "shapes" renders fresh Shapes World clips every step (infinite data, no disk); anything
    # else is a manifest (or folder with manifest.jsonl) of the user's own clips.
    source: str = "shapes"
    # (frames, H, W, weight): each step draws one bucket by weight. Images (1 frame) and other
    # sizes teach the causal first frame and size independence.
    buckets: list[tuple[int, int, int, float]] = field(
        default_factory=lambda: [
            (17, 64, 64, 0.7),
            (9, 64, 64, 0.1),
            (1, 64, 64, 0.1),
            (17, 32, 32, 0.1),
        ]
    )
    max_objects: int = 3  # Shapes World scenes hold 1..this many objects
    val_clips: int = 16  # held-out 17x64x64 clips scored at every evaluation


@dataclass
class VAELossConfig:
    """Reconstruction = MSE + l1 * L1 + grad * MSE of spatial gradients (+ ssim * (1 - SSIM));
    plus kl * KL.

    MSE leads: with small objects on flat backgrounds, L1's sign gradients from the ~95% of
    pixels already right drown the objects (a plain conv AE memorising 8 images: MSE 34.6 dB,
    L1 27.7 dB after 600 steps), so L1 only sharpens at a small weight.
    """

    mse_weight: float = 1.0  # the PSNR objective itself
    l1_weight: float = 0.05  # sharpening; large values stall object learning (see above)
    grad_weight: float = 0.5  # squared error of x/y differences: sharp, well-placed edges
    kl_weight: float = 1e-6  # keeps the latent smooth/sampleable; higher blurs reconstructions
    # 1 - SSIM as bench/vae_eval.py scores it (11x11 Gaussian, per frame): local contrast and
    # structure at edges, which the squared errors average away; 0 = off (not computed)
    ssim_weight: float = 0.0


@dataclass
class VAERecipe:
    """Everything `kinema train vae --config` reads: model, optimisation, data, loss."""

    model: VAEConfig = field(default_factory=VAEConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: VAEDataConfig = field(default_factory=VAEDataConfig)
    loss: VAELossConfig = field(default_factory=VAELossConfig)
    # Train the decoder only, from ``--init`` weights: the encoder (and so the latent space and
    # its scale/shift) stays exactly as it was, so a diffusion model trained on those latents
    # stays valid while reconstructions improve.
    freeze_encoder: bool = False


def build_config(cls: type, raw: dict) -> object:
    """Build a (nested) config dataclass from a dict, turning lists into tuples where typed so;
    unknown keys raise so a typo in a recipe never passes silently."""
    import dataclasses
    import typing

    from kinema.errors import InvalidInputError

    if not isinstance(raw, dict):
        raise InvalidInputError(f"{cls.__name__} expects a mapping, got {type(raw).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(raw) - names
    if unknown:
        raise InvalidInputError(
            f"unknown {cls.__name__} keys {sorted(unknown)}; known: {sorted(names)}"
        )
    hints = typing.get_type_hints(cls)

    def convert(t: object, v: object) -> object:
        origin = typing.get_origin(t)
        if dataclasses.is_dataclass(t):
            return build_config(t, v)  # type: ignore[arg-type]
        if origin is tuple and isinstance(v, list):
            return tuple(v)
        if origin is list and isinstance(v, list):
            (inner,) = typing.get_args(t)
            return [convert(inner, x) for x in v]
        return v

    return cls(**{k: convert(hints[k], v) for k, v in raw.items()})


def load_yaml(text: str, source: str = "<yaml>") -> Any:
    """Parse YAML like ``yaml.safe_load`` but refuse a key given twice in one mapping.

    PyYAML keeps the last of two equal keys without a word, so a recipe or data file edited by
    hand can lose a whole list (a second ``data:`` line) and still load. Kinema's files are
    read through here, and such a file raises ``InvalidInputError`` naming the key and line.
    """
    import yaml

    from kinema.errors import InvalidInputError

    class StrictLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict:
        seen: dict = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node)  # type: ignore[no-untyped-call]
            if key in seen:
                raise InvalidInputError(
                    f"{source}: key {key!r} appears twice in one mapping (lines "
                    f"{seen[key] + 1} and {key_node.start_mark.line + 1}); YAML would keep "
                    "only the last"
                )
            seen[key] = key_node.start_mark.line
        return loader.construct_mapping(node)  # type: ignore[no-untyped-call]

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    try:
        return yaml.load(text, Loader=StrictLoader)
    except yaml.YAMLError as e:
        raise InvalidInputError(f"{source}: not valid YAML: {e}") from e


def load_recipe(path: str, recipe_cls: type, presets: dict, default: str, kind: str) -> object:
    """Read a YAML recipe into ``recipe_cls``. ``model`` may name a preset and override fields:
    ``model: {preset: vae-s, latent_channels: 16}``; unknown keys and presets raise."""
    import dataclasses

    from kinema.errors import InvalidInputError

    with open(path) as f:
        raw = load_yaml(f.read(), str(path)) or {}
    model = raw.pop("model", {})
    if isinstance(model, str):
        model = {"preset": model}
    preset = model.pop("preset", default)
    if preset not in presets:
        raise InvalidInputError(
            f"unknown {kind} preset {preset!r}; choose one of {sorted(presets)}"
        )
    recipe = build_config(recipe_cls, raw)
    base = dataclasses.asdict(presets[preset])
    recipe.model = build_config(type(presets[preset]), {**base, **model})  # type: ignore[attr-defined]
    return recipe


def load_vae_recipe(path: str) -> VAERecipe:
    """A VAE recipe (``configs/vae-shapes.yaml``); presets from ``VAE_PRESETS``."""
    return load_recipe(path, VAERecipe, VAE_PRESETS, "vae-s", "VAE")  # type: ignore[return-value]


# ---------------------------------------------------------------------- diffusion transformer
@dataclass
class DiTConfig:
    """Spacetime-patch diffusion transformer over VAE latents."""

    in_channels: int = 8  # the VAE's latent channels
    patch: tuple[int, int, int] = (
        1,
        2,
        2,
    )  # (t, h, w) latent cells per token; larger = fewer tokens
    width: int = 256  # token width D; cost grows ~D^2 per token
    depth: int = 8  # transformer blocks
    heads: int = 4  # attention heads; head_dim = width / heads (kept 64 in the presets)
    mlp_ratio: float = 4.0  # MLP hidden = width * this
    text_dim: int = 384  # the text encoder's token width (MiniLM-L6: 384)
    qk_norm: bool = True  # RMS-normalised queries/keys: stable attention logits in bf16
    rope_theta: float = 10000.0  # 3D rotary base per axis
    freq_dim: int = 256  # sinusoidal timestep features before the MLP

    @property
    def head_dim(self) -> int:
        return self.width // self.heads


DIT_PRESETS: dict[str, DiTConfig] = {
    "dit-test": DiTConfig(in_channels=4, width=64, depth=2, heads=2),  # tests only
    "dit-tiny": DiTConfig(width=256, depth=6, heads=4),
    "dit-mini": DiTConfig(width=320, depth=8, heads=5),  # ~2x dit-tiny per token
    "dit-s": DiTConfig(width=384, depth=12, heads=6),
    "dit-b": DiTConfig(width=768, depth=12, heads=12),
}


@dataclass
class FlowConfig:
    """Rectified flow: x_t = (1 - t) x0 + t noise, the model predicts v = noise - x0."""

    logit_mean: float = 0.0  # logit-normal timestep sampling (SD3): mean of logit(t)
    logit_std: float = 1.0  # ... and its spread; 1.0 favours the middle timesteps
    # timestep shift s(n) = exp(mu), mu linear in the token count n between the two anchors:
    # more tokens keep more signal at a given noise level, so sampling spends longer at high t
    base_tokens: int = 80  # 17x64x64 with the 8x VAE and 1x2x2 patches
    base_shift: float = 1.0
    max_tokens: int = 2560  # e.g. 33x256x256
    max_shift: float = 3.0
    text_drop: float = 0.1  # P(prompt replaced by "") in training: enables classifier-free guidance
    # Frame-mask conditioning (Open-Sora 1.2 style): per sample, some latent frames are given
    # clean (t = 0, no loss) and the rest generated, so one model also animates stills, extends,
    # interpolates and fills. Weights of: none (text-to-video), first frame (image-to-video),
    # first k frames (extend), last frame, first + last (interpolate), random frames (fill).
    mask_weights: tuple[float, float, float, float, float, float] = (
        0.5,
        0.15,
        0.15,
        0.05,
        0.05,
        0.1,
    )


@dataclass
class DiTDataConfig:
    """Latent cache for DiT training: Shapes World scenes (or a manifest), encoded once."""

    source: str = "shapes"  # "shapes" or a manifest path / folder with manifest.jsonl
    # (frames, H, W, clips): how many clips of each bucket the cache holds
    buckets: list[tuple[int, int, int, int]] = field(
        default_factory=lambda: [(17, 64, 64, 6000), (9, 64, 64, 1000), (1, 64, 64, 1000)]
    )
    captions_per_clip: int = 3  # paraphrases encoded per clip (train templates only)
    max_objects: int = 3  # Shapes World scenes hold 1..this many objects
    vae: str = ""  # VAE directory; "" = the shipped one
    text_model: str = ""  # text encoder; "" = the packaged all-MiniLM-L6-v2
    seed: int = 1234  # scenes are drawn from this seed (eval prompts use others)


@dataclass
class DiTEvalConfig:
    """Periodic samples + scorer fidelity during training."""

    prompts: int = 24  # held-out-template prompts sampled at each evaluation
    steps: int = 20  # sampler steps
    guidance: float = 4.0  # classifier-free guidance scale


@dataclass
class DiTRecipe:
    """Everything `kinema train dit --config` reads."""

    model: DiTConfig = field(default_factory=DiTConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    data: DiTDataConfig = field(default_factory=DiTDataConfig)
    eval: DiTEvalConfig = field(default_factory=DiTEvalConfig)


def load_dit_recipe(path: str) -> DiTRecipe:
    """A DiT recipe (``configs/dit-shapes.yaml``); presets from ``DIT_PRESETS``."""
    return load_recipe(path, DiTRecipe, DIT_PRESETS, "dit-tiny", "DiT")  # type: ignore[return-value]


# ---------------------------------------------------------------------- video classifiers
def _classifier_presets() -> dict:
    from kinema.models.classifier import ClassifierConfig

    return {
        "clf-s": ClassifierConfig(channels=(32, 64, 96), temporal_stride=(1, 2, 2)),
        "clf-test": ClassifierConfig(channels=(8, 16, 16), temporal_stride=(1, 2, 2)),
        "slot-s": ClassifierConfig(stem_stride=4, channels=(32, 48, 64), temporal_stride=(1, 2, 2)),
    }


@dataclass
class DetectorDataConfig:
    """Generated vs real clips for the generated-video detector."""

    generated: int = 1600  # clips made by the pipeline (safety off: no watermark to lean on)
    real: int = 1600  # rendered Shapes World clips, half of them round-tripped through the VAE
    weights: str = ""  # the generator (pipeline folder) to detect; "" = the shipped one
    frames: int = 17  # clip length (1 + 4k)
    size: int = 64  # H = W of the training clips
    codec_p: float = 0.5  # share of clips re-encoded with H.264 at a random crf, so the
    crf: tuple[int, int] = (18, 30)  # detector reads content, not one codec's traces
    seed: int = 4242  # scenes and prompts (the bench draws other seeds)


@dataclass
class DetectorRecipe:
    """Everything `kinema train detector --config` reads."""

    model: Any = None  # ClassifierConfig (preset + overrides), set by load_detector_recipe
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DetectorDataConfig = field(default_factory=DetectorDataConfig)
    val_fraction: float = 0.1  # held out of the cache to pick the 1%-false-positive threshold


def load_detector_recipe(path: str) -> DetectorRecipe:
    """A detector recipe (``configs/detector.yaml``); presets ``clf-s`` / ``clf-test``."""
    return load_recipe(path, DetectorRecipe, _classifier_presets(), "clf-s", "classifier")  # type: ignore[return-value]


@dataclass
class RecognizerDataConfig:
    """Rendered Shapes World clips, drawn fresh every step."""

    frames: int = 17  # clip length the recognizer reads
    size: int = 64  # H = W
    max_objects: int = 3  # clips hold 1..this many objects
    codec_p: float = 0.5  # share of training clips re-encoded with H.264 at a random crf: real
    crf: tuple[int, int] = (16, 28)  # files are 4:2:0 H.264, whose chroma blurs small objects
    # share of objects drawn part way to another shape (kinema.world.render.morph_sprite: a
    # rounded square, a bulging triangle), labelled with the shape whose spec fill ratio is
    # nearest: generated clips hold such in-between shapes, rendered clips never do
    shape_morph_p: float = 0.0
    val_clips: int = 512  # held-out clips (another seed) scored at each evaluation
    val_seed: int = 990_001  # the bench uses yet another seed


@dataclass
class RecognizerRecipe:
    """Everything `kinema train recognizer --config` reads."""

    model: Any = None  # ClassifierConfig (preset + overrides), heads set by the trainer
    train: TrainConfig = field(default_factory=TrainConfig)
    data: RecognizerDataConfig = field(default_factory=RecognizerDataConfig)


def load_recognizer_recipe(path: str) -> RecognizerRecipe:
    """A recognizer recipe (``configs/recognizer.yaml``); presets ``slot-s`` / ``clf-test``."""
    return load_recipe(path, RecognizerRecipe, _classifier_presets(), "slot-s", "classifier")  # type: ignore[return-value]


# ---------------------------------------------------------------------- moderation head
@dataclass
class ModerationRecipe:
    """Everything `kinema train moderation --config` reads (configs/moderation.yaml)."""

    # Labelled prompt files ({harmful: {category: [...]}, benign: [...]}); the policy's own
    # examples and benign_examples are always added. Paths are relative to the working folder;
    # "package:NAME" is a file in kinema/safety/data.
    data: list[str] = field(default_factory=lambda: ["package:moderation_train.yaml"])
    compose: str = "package:moderation_compose.yaml"  # slot templates; "" for none
    policy: str = ""  # "" = the shipped kinema/safety/policy.yaml
    evasions_per_prompt: int = 2  # evasive rewrites of each harmful prompt added to training
    # Each hand-written prompt (benign and harmful) is also added under this many random framings
    # ("make me a video of {}", "pov: {}", "{}, cinematic, 4k", ...) from ``framings``.
    framings_per_prompt: int = 0
    framings: str = "package:moderation_framings.yaml"
    # ... and this many casual-spelling copies ("a lil girl feedin her goldfish"; see casualise)
    casual_per_prompt: int = 0
    # ... and this many copies set next to a benign prompt of the same file, before or after
    # it ("a red kite over the beach. <prompt>"): harm in a harmless context stays harmful,
    # what the moderator's windows over long prompts rely on (see Moderator.windows)
    context_per_prompt: int = 0
    # ... and, for a benign prompt longer than this many words, its overlapping runs of this
    # many words (half a run apart), benign too: the moderator reads a long prompt in windows
    # and refuses when any one reads as harmful, so the head must know what pieces of harmless
    # long prose look like ("... men fall dramatically and the drummers keep time ..."); 0: none
    benign_windows: int = 0
    pooling: str = "mean+max"  # head features: "mean" (sentence vector) or "mean+max"
    # the head: 0 = linear; > 0 = one hidden layer of this width (see moderation_head.py)
    hidden: int = 0
    # 0: full-batch AdamW, one step per epoch (a linear head: seconds); > 0: minibatches of this
    # many rows, shuffled each epoch
    batch_size: int = 0
    epochs: int = 300
    lr: float = 1e-2
    weight_decay: float = 1e-2
    # > 0: retrain the text model's top this many layers with the head (a copy of them is
    # saved with it), at ``lr_layers``; needs batch_size (see moderation_head.EncoderLayer)
    tune_layers: int = 0
    lr_layers: float = 3e-4
    # out-of-fold groups: 0 = one per data file (a fit each); N = the files dealt into N
    # groups (N fits: for heads that retrain text-model layers, minutes per fit on a CPU)
    folds: int = 0
    # The refusal threshold is the lowest one whose out-of-fold false-refusal rate on benign
    # hand-written prompts (each data file predicted by a head trained without it) stays at or
    # under this.
    target_false_refusals: float = 0.02
    # What that rate is measured on: False, each prompt read whole (rounds up to 24); True, as
    # the moderator reads it at run time (``Moderator.reads``: a long prompt in windows and a
    # batch request in parts, refused when any reads as harmful), so a long benign prompt that
    # one window refuses counts as refused, and a harmful one counts as found if any window is
    reads_as_moderator: bool = False
    # a batch request's parts count only when the whole prompt's P(harmful) reaches this (the
    # head's segment_gate, see moderation.gated); 0: always (up to round 26)
    segment_gate: float = 0.0
    seed: int = 0


def load_moderation_recipe(path: str) -> ModerationRecipe:
    """A moderation head recipe (``configs/moderation.yaml``)."""
    from kinema.errors import InvalidInputError

    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"{p}: no such recipe file")
    recipe: ModerationRecipe = build_config(
        ModerationRecipe, load_yaml(p.read_text(), str(p)) or {}
    )  # type: ignore[assignment]
    if not 0.0 <= recipe.segment_gate <= 1.0:
        raise InvalidInputError(f"{p}: segment_gate must be in [0, 1], got {recipe.segment_gate}")
    return recipe
