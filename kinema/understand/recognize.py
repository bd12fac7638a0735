"""The Shapes World recognizer: names the objects and actions in a clip and writes a caption.

Objects in a clip have distinct palette colours, so a colour names an object. The model
(``SlotRecognizer``) turns a clip into soft palette masks (how close each pixel is to each of
the nine Shapes World colours), runs one shared ``VideoClassifier`` (kinema.models.classifier)
on each object colour's mask — is it present, its shape, size and motion — and reads the
background from the background masks. Sharing one network over the six colour slots is the
inductive bias that makes it learn in minutes on a CPU: a plain RGB classifier with global
pooling had to untangle which colour did what and was still near chance on motion after 200
steps. Trained on rendered clips (``kinema train recognizer``).

It says "unknown" instead of guessing when footage is unlike its world. Two checks, both
needed to pass: the palette fit (share of pixels near one of Shapes World's nine colours:
rendered clips sit near 1, photos, noise and gradients far below) and the model's own
confidence in what it names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kinema.models.classifier import (
    ClassifierConfig,
    VideoClassifier,
    fit_clip,
    load_classifier,
    run_batched,
    save_classifier,
)
from kinema.world import spec as S
from kinema.world.captions import canonical_caption
from kinema.world.scene import ObjectSpec, SceneGraph, SceneSpec

PREFIX = "recognizer"
COLORS = tuple(S.COLORS)
BACKGROUNDS = tuple(S.BACKGROUNDS)
N = len(COLORS)
HEADS = {
    "background": len(BACKGROUNDS),
    "present": N,
    "shape": N * len(S.SHAPES),
    "size": N * len(S.SIZES),
    "motion": N * len(S.MOTIONS),
}
CLIP_FRAMES, CLIP_SIZE = 17, 64
SLOT = len(S.SHAPES) + len(S.SIZES) + len(S.MOTIONS) + 1  # present + shape + size + motion
PALETTE_SIGMA = 24.0  # RGB distance scale of the soft palette masks


def palette_masks(x: torch.Tensor) -> torch.Tensor:
    """RGB in [-1, 1] (B, 3, T, H, W) -> soft nearest-palette-colour maps (B, 9, T, H, W)."""
    rgb = ((x + 1.0) * 127.5).movedim(1, -1)  # (B, T, H, W, 3)
    pal = torch.as_tensor(S.PALETTE_RGB, dtype=rgb.dtype, device=rgb.device)  # (9, 3)
    # |x - p|^2 = |x|^2 - 2 x.p + |p|^2; |x|^2 is the same for every p, so softmax drops it
    logits = (2 * rgb @ pal.T - (pal**2).sum(1)) / (2 * PALETTE_SIGMA**2)  # (B, T, H, W, 9)
    return torch.softmax(logits, dim=-1).movedim(-1, 1)  # (B, 9, T, H, W)


class SlotRecognizer(nn.Module):
    """RGB clip (B, 3, T, H, W) in [-1, 1] -> the ``HEADS`` logits, one shared net per colour."""

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.net = VideoClassifier(cfg)  # in_channels 1, heads {"slot": SLOT}
        self.background = nn.Linear(len(BACKGROUNDS), len(BACKGROUNDS))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        m = palette_masks(x.float())  # (B, 9, T, H, W)
        b, _, t, h, w = m.shape
        nb = len(BACKGROUNDS)
        slots = m[:, nb:].reshape(b * N, 1, t, h, w) * 2 - 1  # (B*6, 1, T, H, W)
        out = self.net(slots.to(x.dtype))["slot"].view(b, N, SLOT)  # (B, 6, 12)
        bg = self.background(m[:, :nb].mean(dim=(2, 3, 4)) * 4 - 2)  # (B, 3)
        ns, nz = len(S.SHAPES), len(S.SIZES)
        return {
            "background": bg,  # (B, 3)
            "present": out[..., 0],  # (B, 6)
            "shape": out[..., 1 : 1 + ns].reshape(b, -1),  # (B, 18)
            "size": out[..., 1 + ns : 1 + ns + nz].reshape(b, -1),  # (B, 12)
            "motion": out[..., 1 + ns + nz :].reshape(b, -1),  # (B, 36)
        }

    def save_pretrained(self, directory: str | Path, prefix: str = "recognizer") -> Path:
        return save_classifier(self, directory, prefix)

    @classmethod
    def from_pretrained(cls, directory: str | Path, prefix: str = "recognizer") -> SlotRecognizer:
        return load_classifier(cls, directory, prefix)


@dataclass(frozen=True)
class RecognizerConfig:
    """When the recognizer answers and when it says unknown."""

    palette_fit: float = 0.85  # min share of pixels within ``palette_distance`` of the palette
    palette_distance: float = 48.0  # RGB distance that still counts as a palette colour
    min_confidence: float = 0.5  # min confidence of every named attribute
    present: float = 0.5  # P(colour present) above which an object is named


@dataclass(frozen=True)
class RecognizedObject:
    color: str
    shape: str
    size: str
    motion: str
    confidence: float  # product of the presence and attribute probabilities

    def to_json(self) -> dict[str, object]:
        return {**self.__dict__, "confidence": round(self.confidence, 3)}


@dataclass(frozen=True)
class Recognition:
    known: bool  # False: footage unlike Shapes World (or too unsure): nothing is named
    reason: str  # why unknown, "" when known
    palette_fit: float
    confidence: float  # the least confident named attribute
    background: str = ""
    objects: list[RecognizedObject] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.objects)

    @property
    def caption(self) -> str:
        if not self.known:
            return "unknown"
        spec = SceneSpec(self.background, tuple(
            ObjectSpec(o.color, o.shape, o.motion, o.size) for o in self.objects))  # fmt: skip
        return canonical_caption(spec)

    def to_json(self) -> dict[str, object]:
        return {
            "known": self.known,
            "reason": self.reason,
            "palette_fit": round(self.palette_fit, 3),
            "confidence": round(self.confidence, 3),
            "background": self.background,
            "count": self.count,
            "objects": [o.to_json() for o in self.objects],
            "caption": self.caption,
        }


def palette_fit(frames: np.ndarray, distance: float = 48.0) -> float:
    """Share of pixels within ``distance`` (RGB) of one of Shapes World's nine colours."""
    step = max(1, len(frames) // 8)
    px = frames[::step].reshape(-1, 3).astype(np.int32)  # (n, 3)
    if len(px) > 40000:
        px = px[:: len(px) // 40000]
    d2 = ((px[:, None, :] - S.PALETTE_RGB[None]) ** 2).sum(-1).min(axis=1)  # (n,)
    return float(np.mean(d2 <= distance**2))


def targets(graphs: list[SceneGraph]) -> dict[str, torch.Tensor]:
    """Training labels: background [B], present [B, 6], shape/size/motion [B, 6] (-1 = absent)."""
    b = len(graphs)
    bg = torch.tensor([BACKGROUNDS.index(g.background) for g in graphs])
    present = torch.zeros(b, N)
    shape = torch.full((b, N), -1, dtype=torch.long)
    size = torch.full((b, N), -1, dtype=torch.long)
    motion = torch.full((b, N), -1, dtype=torch.long)
    for i, g in enumerate(graphs):
        for o in g.objects:
            c = COLORS.index(o.color)
            present[i, c] = 1.0
            shape[i, c] = S.SHAPES.index(o.shape)
            size[i, c] = S.SIZES.index(o.size)
            motion[i, c] = S.MOTIONS.index(o.motion)
    return {"background": bg, "present": present, "shape": shape, "size": size, "motion": motion}


def split_heads(out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Reshape the flat slot heads: shape [B, 6, 3], size [B, 6, 2], motion [B, 6, 6]."""
    b = out["present"].shape[0]
    return {
        "background": out["background"],  # (B, 3)
        "present": out["present"],  # (B, 6)
        "shape": out["shape"].view(b, N, len(S.SHAPES)),
        "size": out["size"].view(b, N, len(S.SIZES)),
        "motion": out["motion"].view(b, N, len(S.MOTIONS)),
    }


def prepare(frames: np.ndarray) -> np.ndarray:
    """Any uint8 clip (T, H, W, 3) -> (17, H', W', 3): its first 17 frames (the last repeated
    if fewer), the short side scaled to 64 pixels and the aspect kept.

    The recognizer pools globally, so it takes any aspect, and on rendered 64x96 clips it read
    92% of scenes right at their own size against 67% squeezed to 64x64: objects are drawn to
    scale with the canvas, so the scale has to match its training."""
    if frames.ndim == 4:  # only the frames it keeps are resized (fit_clip checks the rest)
        frames = frames[:CLIP_FRAMES]
    return fit_clip(frames, CLIP_FRAMES, CLIP_SIZE, "the recognizer", True)


class Recognizer:
    """``recognizer(frames) -> Recognition``; load once, call from many threads."""

    def __init__(self, model: nn.Module, config: RecognizerConfig = RecognizerConfig()):
        self.model = model.eval()
        self.config = config

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None) -> Recognizer:
        from kinema.models.vae import default_weights_dir

        directory = Path(directory) if directory is not None else default_weights_dir()
        return cls(SlotRecognizer.from_pretrained(directory, PREFIX))

    def predict(self, clips: np.ndarray) -> list[Recognition]:
        """Recognise a batch of prepared clips (B, 17, H, W, 3) (``prepare``)."""
        heads = split_heads(run_batched(self.model, clips))
        probs = {k: (torch.sigmoid(v) if k == "present" else v.softmax(-1)).numpy()
                 for k, v in heads.items()}  # fmt: skip
        return [self._read({k: v[j] for k, v in probs.items()},
                           palette_fit(clip, self.config.palette_distance))
                for j, clip in enumerate(clips)]  # fmt: skip

    def __call__(self, frames: np.ndarray) -> Recognition:
        return self.predict(prepare(frames)[None])[0]

    def _read(self, p: dict[str, np.ndarray], fit: float) -> Recognition:
        cfg = self.config
        bg = int(p["background"].argmax())
        conf = float(p["background"][bg])
        objects = []
        for c in np.flatnonzero(p["present"] > cfg.present):
            sh, sz, mo = (int(p[k][c].argmax()) for k in ("shape", "size", "motion"))
            parts = [float(p["present"][c]), float(p["shape"][c, sh]), float(p["size"][c, sz]),
                     float(p["motion"][c, mo])]  # fmt: skip
            conf = min(conf, *parts)
            objects.append(RecognizedObject(COLORS[c], S.SHAPES[sh], S.SIZES[sz], S.MOTIONS[mo],
                                            float(np.prod(parts))))  # fmt: skip
        reason = ""
        if fit < cfg.palette_fit:
            reason = f"colours unlike Shapes World (palette fit {fit:.2f} < {cfg.palette_fit})"
        elif not objects or len(objects) > 3:
            reason = f"{len(objects)} objects found; Shapes World clips hold 1 to 3"
        elif conf < cfg.min_confidence:
            reason = f"not confident (lowest attribute probability {conf:.2f})"
        if reason:
            return Recognition(False, reason, fit, conf)
        return Recognition(True, "", fit, conf, BACKGROUNDS[bg], objects)
