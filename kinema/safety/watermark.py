"""Invisible watermark: a keyed spread-spectrum pattern over space, constant over time.

Why written here: off-the-shelf image watermarks (``invisible-watermark``'s DWT-DCT) need
frames of about 256x256 or more, and Kinema's outputs start at 64x64. A video also gives
something an image does not: many frames that carry the same mark, so the detector can
average them.

The maths
---------
Embedding. A key (any string) seeds a pseudo-random tile ``w`` of P x P pixels: random phases
with equal magnitude, band-passed in the 2D Fourier domain to periods between ``min_period``
and ``max_period`` pixels (low enough to survive H.264's quantiser and a x2 resize, high
enough to stay invisible and apart from the flat content of a frame) and scaled to unit RMS.
Because it is made in the periodic Fourier domain the tile repeats seamlessly. Every frame
``x_t`` (uint8 RGB) becomes

    y_t(i, j, c) = clip(x_t(i, j, c) + a * w(i mod P, j mod P), 0, 255)

the same value added to R, G and B, so only luma changes (chroma is subsampled by yuv420p
anyway). The amplitude a is chosen per video so the marked frames sit at ``psnr`` dB
(about 20 log10(255 / a)); where black or white backgrounds clip half the pattern away, the
unspent budget goes back into a.

Detection. Let Y_t be a frame's luma. Everything that is constant in time survives the
average m = mean_t Y_t, while moving content and codec noise shrink. Subtract a Gaussian blur
of m (the content's smooth part) and clip the residual r to +-``clip`` x a. Object edges are
content, not mark, so each pixel is weighted by 1 / (1 + (|grad blur(m)| / (e * clip * a))^2)
(e = ``edge_weight``; this alone lifted the worst H.264 crf 28 score from 6.0 to 9.1 in the
bench). Fold the weighted residual onto the tile grid: F(u, v) = weighted mean of r(i, j)
over all i = u (mod P), j = v (mod P). A crop moves the grid by an unknown offset (dy, dx),
which is a cyclic shift of F, so correlate F with w at every shift at once through the FFT,
phase-only on F's side (its spectrum divided by its magnitude, so flat content cannot drown
the peak):

    C(dy, dx) = IFFT( FFT(F) / |FFT(F)| * conj(FFT(w)) )     (P x P values)

and take the peak-to-sidelobe ratio z = (max C - mean C) / std C. Without the mark, C is
correlated noise and z stays near the maximum of P^2 roughly normal values (about 3.5 to 5);
with it, one shift stands out. A resize by s changes the period to s x P, so the detector also
tries the frame resized by 1/s for each s in ``scales`` and keeps the largest z. The threshold
is set from clean videos, with margin, in bench/watermark_eval.py. Trimming frames only lowers
the number averaged.

The pattern's spectrum is flat (random phase, equal magnitude) in its band: tilting it or the
detector towards low frequencies was measured and lost (content lives there).

What it does not resist: a pattern that is the same in every video of one key can be
estimated by averaging many marked videos and subtracted (a collusion attack); rotations
and non-uniform rescaling; heavy blurring. It is a provenance signal next to C2PA, not DRM.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from kinema.errors import InvalidInputError
from kinema.io.video import luma

DEFAULT_KEY = "kinema-public-watermark-v1"  # the key every Kinema install marks with


@dataclass(frozen=True)
class WatermarkConfig:
    """The pattern and the detector; the defaults are measured in bench/watermark_eval.py."""

    tile: int = 32  # period P of the pattern in pixels: small = more repeats averaged in a 64x64 frame; large = fewer false peaks per shift
    psnr: float = 40.5  # embedding cost: the amplitude a is set per video so the marked frames sit at this PSNR (>= 40 dB asked)
    min_period: float = (
        3.0  # shortest wavelength kept (px): shorter is less visible but H.264 drops it
    )
    max_period: float = 16.0  # longest wavelength kept (px): longer survives more but meets the content's own low frequencies
    blur_sigma: float = 2.0  # detector's content estimate (px): the residual after subtracting this blur carries the mark
    clip: float = (
        2.0  # residual clip, in units of a: limits what object edges add to the correlation
    )
    edge_weight: float = (
        0.25  # >0: down-weight pixels whose smooth content gradient exceeds this x the clip
    )
    scales: tuple[float, ...] = (
        1.0,
        2.0,
        0.5,
    )  # resizes the detector undoes (1/s); each adds false-alarm chances
    threshold: float = 6.5  # peak-to-sidelobe ratio above which a video is called marked


@dataclass(frozen=True)
class Detection:
    """What the detector found: ``detected`` when ``score`` > ``threshold``."""

    detected: bool
    score: float  # best peak-to-sidelobe ratio over shifts and scales
    threshold: float
    scale: float  # the resize the peak was found at
    shift: tuple[int, int]  # the tile offset (dy, dx) the peak was found at
    frames: int = field(default=0)  # frames averaged

    def to_json(self) -> dict[str, object]:
        return {
            "detected": self.detected,
            "score": round(self.score, 2),
            "threshold": self.threshold,
            "scale": self.scale,
            "shift": list(self.shift),
            "frames": self.frames,
        }


def pattern(key: str, config: WatermarkConfig = WatermarkConfig()) -> np.ndarray:
    """The keyed tile w: (P, P) float64, zero mean, unit RMS, band-limited, seamlessly periodic."""
    if not isinstance(key, str) or not key:
        raise InvalidInputError("a watermark key must be a non-empty string")
    p = config.tile
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    noise = np.random.default_rng(seed).standard_normal((p, p))  # (P, P)
    spec = np.fft.fft2(noise)  # (P, P) complex, Hermitian
    spec = spec / np.maximum(
        np.abs(spec), 1e-12
    )  # flat magnitude, random phase: every bin counts the same
    f = np.fft.fftfreq(p)  # cycles per pixel
    radius = np.hypot(f[:, None], f[None, :])  # (P, P)
    band = (radius >= 1.0 / config.max_period) & (radius <= 1.0 / config.min_period)
    w = np.real(np.fft.ifft2(spec * band))  # (P, P)
    w -= w.mean()
    return w / w.std()


def embed(
    frames: np.ndarray, key: str = DEFAULT_KEY, config: WatermarkConfig = WatermarkConfig()
) -> np.ndarray:
    """Return marked copies of uint8 frames (T, H, W, 3); the input is not changed."""
    _check_frames(frames)
    h, w_ = frames.shape[1:3]
    tile = pattern(key, config)  # (P, P)
    reps = (-(-h // config.tile), -(-w_ // config.tile))
    unit = np.tile(tile, reps)[:h, :w_][None, :, :, None].astype(np.float32)  # (1, H, W, 1)
    x = frames.astype(np.float32)  # (T, H, W, 3)
    target = 255.0**2 / 10 ** (config.psnr / 10)  # the MSE the mark may cost
    a = np.sqrt(target)
    for _ in range(3):  # clipping at black/white drops part of the mark: spend that budget again
        mse = float(np.mean((np.clip(x + a * unit, 0, 255) - x) ** 2))
        a *= min(np.sqrt(target / max(mse, 1e-12)), 4.0)
    out = np.clip(np.rint(x + a * unit), 0, 255)  # (T, H, W, 3)
    return out.astype(np.uint8)


def detect(
    frames: np.ndarray, key: str = DEFAULT_KEY, config: WatermarkConfig = WatermarkConfig()
) -> Detection:
    """Look for the key's mark in uint8 frames (T, H, W, 3) of any size and length."""
    import cv2

    _check_frames(frames)
    if min(frames.shape[1:3]) < config.tile:
        raise InvalidInputError(
            f"frames of {frames.shape[2]}x{frames.shape[1]} are too small to hold the "
            f"watermark (needs at least {config.tile}x{config.tile})"
        )
    tile = pattern(key, config)  # (P, P)
    tile_f = np.conj(np.fft.fft2(tile))  # (P, P)
    mean = luma(frames).mean(axis=0)  # (H, W)
    best = (-np.inf, 1.0, (0, 0))
    for s in config.scales:
        h, w = round(mean.shape[0] / s), round(mean.shape[1] / s)
        if min(h, w) < config.tile:
            continue
        interp = cv2.INTER_AREA if s > 1 else cv2.INTER_LINEAR
        m = cv2.resize(mean, (w, h), interpolation=interp) if s != 1 else mean  # (h, w)
        smooth = cv2.GaussianBlur(m, (0, 0), config.blur_sigma, borderType=cv2.BORDER_REFLECT)
        lim = config.clip * _amplitude(config.psnr)
        r = np.clip(m - smooth, -lim, lim)  # (h, w)
        if config.edge_weight > 0:  # object edges are content, not mark: count them less
            gy, gx = np.gradient(smooth)  # (h, w) each
            wgt = 1.0 / (1.0 + (np.hypot(gy, gx) / (config.edge_weight * lim)) ** 2)  # (h, w)
            folded = _fold(r * wgt, config.tile) / np.maximum(_fold(wgt, config.tile), 1e-6)
        else:
            folded = _fold(r, config.tile)  # (P, P)
        spec = np.fft.fft2(folded)  # (P, P)
        spec = spec / np.maximum(np.abs(spec), 1e-9) * tile_f
        corr = np.real(np.fft.ifft2(spec))  # (P, P): one value per shift
        sd = corr.std()
        z = float((corr.max() - corr.mean()) / sd) if sd > 0 else 0.0
        if z > best[0]:
            dy, dx = np.unravel_index(int(corr.argmax()), corr.shape)
            best = (z, s, (int(dy), int(dx)))
    z, s, shift = best
    return Detection(z > config.threshold, z, config.threshold, s, shift, int(frames.shape[0]))


def _amplitude(psnr: float) -> float:
    """The RMS amplitude a (8-bit levels) that costs ``psnr`` dB without clipping."""
    return 255.0 / 10 ** (psnr / 20)


def _fold(r: np.ndarray, p: int) -> np.ndarray:
    """Mean of r over pixels with the same (i mod p, j mod p): (h, w) -> (p, p)."""
    h, w = r.shape
    hp, wp = -(-h // p) * p, -(-w // p) * p
    pad = np.zeros((hp, wp), np.float64)
    cnt = np.zeros((hp, wp), np.float64)
    pad[:h, :w], cnt[:h, :w] = r, 1.0
    sums = pad.reshape(hp // p, p, wp // p, p).sum(axis=(0, 2))  # (p, p)
    counts = cnt.reshape(hp // p, p, wp // p, p).sum(axis=(0, 2))  # (p, p)
    return sums / np.maximum(counts, 1.0)


def _check_frames(frames: np.ndarray) -> None:
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4:
        got = f"{frames.dtype} {frames.shape}" if isinstance(frames, np.ndarray) else type(frames)
        raise InvalidInputError(f"watermark needs uint8 frames (T, H, W, 3), got {got}")


def visible_mark(frames: np.ndarray, label: str = "AI") -> np.ndarray:
    """A small corner tag (``label`` in white on a dark box, bottom right) on every frame.

    Off by default (``--visible-mark`` in the CLI). It says "made by a model" to a viewer at a
    glance; unlike the invisible mark it can be cropped away, so it is a courtesy, not proof.
    """
    import cv2

    _check_frames(frames)
    out = frames.copy()
    h, w = out.shape[1:3]
    scale = max(0.25, min(h, w) / 256)
    thick = 1 if min(h, w) < 192 else 2
    (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(1, round(2 * scale))
    x1, y1 = w - pad, h - pad
    x0, y0 = max(0, x1 - tw - 2 * pad), max(0, y1 - th - base - 2 * pad)
    box = out[:, y0:y1, x0:x1].astype(np.float32)  # (T, bh, bw, 3)
    out[:, y0:y1, x0:x1] = (box * 0.4).astype(np.uint8)  # darken behind the text
    for f in out:
        cv2.putText(f, label, (x0 + pad, y1 - pad - base // 2), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 255, 255), thick, cv2.LINE_AA)  # fmt: skip
    return out
