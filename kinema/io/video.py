"""Video values and files: read and write mp4 (H.264), webm (VP9), gif and PNG folders via PyAV.

A ``Video`` is uint8 frames (T, H, W, 3) plus an fps. Every write goes to a temporary name
beside the target and is renamed into place, so a crash or a bad input never leaves a
half-written file, and an existing output is only replaced when asked (``overwrite=True``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from kinema.errors import (
    EmptyVideoError,
    InvalidInputError,
    OutputExistsError,
    UnsupportedFormatError,
    VideoDecodeError,
    VideoNotFoundError,
)

# Container -> (codec, pixel format, default quality). Quality is the codec's CRF: lower is
# better and bigger; 18 is visually lossless for H.264, 32 is a good VP9 web default.
_CODECS: dict[str, tuple[str, str, int]] = {
    ".mp4": ("libx264", "yuv420p", 18),
    ".webm": ("libvpx-vp9", "yuv420p", 32),
    ".gif": ("gif", "pal8", 0),
}
WRITABLE = (*_CODECS, "png folder")
_PNG_META = "video.json"  # fps of a PNG folder, written beside the frames
DEFAULT_FPS = 8.0


@dataclass(frozen=True, eq=False)
class Video:
    """uint8 RGB frames (T, H, W, 3) and a frame rate. Cheap to pass around; never copied."""

    frames: np.ndarray
    fps: float = DEFAULT_FPS

    def __post_init__(self) -> None:
        f = self.frames
        if not isinstance(f, np.ndarray) or f.dtype != np.uint8 or f.ndim != 4 or f.shape[-1] != 3:
            got = f"{f.dtype} {f.shape}" if isinstance(f, np.ndarray) else type(f).__name__
            raise InvalidInputError(
                f"Video frames must be a uint8 array of shape (T, H, W, 3), got {got}; "
                "convert with np.asarray(frames, dtype=np.uint8)."
            )
        if f.shape[0] < 1 or f.shape[1] < 1 or f.shape[2] < 1:
            raise InvalidInputError(
                f"Video needs at least one non-empty frame, got shape {f.shape}"
            )
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise InvalidInputError(f"fps must be a positive number, got {self.fps!r}")

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def duration(self) -> float:
        """Seconds of playback."""
        return self.num_frames / self.fps

    def __len__(self) -> int:
        return self.num_frames

    def __repr__(self) -> str:
        return f"Video({self.num_frames}x{self.height}x{self.width}, fps={self.fps:g})"

    @classmethod
    def read(cls, path: str | Path, **kw: object) -> Video:
        return read_video(path, **kw)  # type: ignore[arg-type]

    def write(self, path: str | Path, **kw: object) -> Path:
        return write_video(self, path, **kw)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- resizing


def luma(frames: np.ndarray) -> np.ndarray:
    """Rec. 601 luma (float32, 0-255) of uint8 RGB frames: (..., 3) -> (...)."""
    return frames.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def resize_frames(frames: np.ndarray, size: tuple[int, int], crop: bool = True) -> np.ndarray:
    """Resize (T, H, W, 3) uint8 frames to ``size`` = (H, W) with PyAV's scaler.

    With ``crop`` the frames are first centre-cropped to the target aspect ratio, so nothing
    is stretched; area interpolation when shrinking, bicubic when growing.
    """
    th, tw = _check_size(size)
    t, h, w, _ = frames.shape
    if (h, w) == (th, tw):
        return frames
    if crop:
        if h * tw > w * th:  # too tall: crop rows
            ch = max(1, round(w * th / tw))
            top = (h - ch) // 2
            frames = frames[:, top : top + ch]
        else:
            cw = max(1, round(h * tw / th))
            left = (w - cw) // 2
            frames = frames[:, :, left : left + cw]
    h, w = frames.shape[1:3]
    interp = "AREA" if th * tw <= h * w else "BICUBIC"
    out = np.empty((t, th, tw, 3), dtype=np.uint8)  # (T, th, tw, 3)
    for i in range(t):
        src = av.VideoFrame.from_ndarray(np.ascontiguousarray(frames[i]), format="rgb24")
        out[i] = src.reformat(width=tw, height=th, interpolation=interp).to_ndarray()
    return out


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    if (
        not isinstance(size, tuple | list)
        or len(size) != 2
        or not all(isinstance(s, int | np.integer) and s > 0 for s in size)
    ):
        raise InvalidInputError(f"size must be (height, width) in positive pixels, got {size!r}")
    return int(size[0]), int(size[1])


# ----------------------------------------------------------------------------- reading


def read_video(
    path: str | Path,
    *,
    start: int = 0,
    end: int | None = None,
    size: tuple[int, int] | None = None,
    crop: bool = True,
) -> Video:
    """Read frames ``[start, end)`` of a video file or PNG folder, optionally resized to ``size``.

    Raises ``VideoNotFoundError`` (missing), ``VideoDecodeError`` (corrupt, truncated or not a
    video), ``EmptyVideoError`` (no frames in range); each names the file.
    """
    path = Path(path)
    if start < 0 or (end is not None and end <= start):
        raise InvalidInputError(
            f"frame range must satisfy 0 <= start < end, got start={start}, end={end}"
        )
    if not path.exists():
        raise VideoNotFoundError(path, "no such file or folder", "check the path")
    if path.is_dir():
        frames, fps = _read_png_folder(path, start, end)
    else:
        frames, fps = _read_container(path, start, end)
    if not frames:
        raise EmptyVideoError(
            path,
            "holds no video frames" if start == 0 else f"has no frames at or after frame {start}",
            "check the file or the frame range",
        )
    arr = np.stack(frames)  # (T, H, W, 3)
    if size is not None:
        arr = resize_frames(arr, size, crop=crop)
    return Video(arr, fps)


def probe(path: str | Path) -> dict[str, float | int]:
    """Frame count, height, width and fps of a video file (reads the header, decodes if needed)."""
    path = Path(path)
    if not path.exists():
        raise VideoNotFoundError(path, "no such file or folder", "check the path")
    if path.is_dir():
        v = read_video(path)
        return {"num_frames": v.num_frames, "height": v.height, "width": v.width, "fps": v.fps}
    with _open_input(path) as container:
        stream = _video_stream(path, container)
        n = int(stream.frames or 0)
        if n <= 0:
            n = sum(1 for _ in _decode(path, container, stream))
        fps = _stream_fps(stream)
        return {"num_frames": n, "height": stream.height, "width": stream.width, "fps": fps}


@contextlib.contextmanager
def _open_input(path: Path) -> Iterator[av.container.InputContainer]:
    if path.stat().st_size == 0:
        raise EmptyVideoError(path, "is empty (0 bytes)", "the file was never written or was cut")
    try:
        container = av.open(str(path), mode="r")
    except av.EOFError as e:
        raise VideoDecodeError(
            path, "ends before any video data (empty or cut short)", "re-export the video"
        ) from e
    except av.FFmpegError as e:
        raise VideoDecodeError(
            path, f"not a readable video ({_ff_reason(e)})", "is it a video file, and complete?"
        ) from e
    try:
        yield container
    finally:
        container.close()


def _video_stream(path: Path, container: av.container.InputContainer) -> av.VideoStream:
    if not container.streams.video:
        raise VideoDecodeError(path, "holds no video stream", "pass a video file")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return stream


def _stream_fps(stream: av.VideoStream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate and float(rate) > 0 else DEFAULT_FPS


def _decode(
    path: Path, container: av.container.InputContainer, stream: av.VideoStream
) -> Iterator[av.VideoFrame]:
    n = 0
    try:
        for frame in container.decode(stream):
            n += 1
            yield frame
    except av.FFmpegError as e:
        raise VideoDecodeError(
            path, f"corrupt or truncated after frame {n} ({_ff_reason(e)})", "re-export the video"
        ) from e


def _read_container(path: Path, start: int, end: int | None) -> tuple[list[np.ndarray], float]:
    frames: list[np.ndarray] = []
    with _open_input(path) as container:
        stream = _video_stream(path, container)
        declared = int(stream.frames or 0)
        fps = _stream_fps(stream)
        n = 0  # frames decoded so far
        for n, frame in enumerate(_decode(path, container, stream), start=1):
            if n > start:
                frames.append(frame.to_ndarray(format="rgb24"))
            if end is not None and n >= end:
                break
        else:
            # Decoded to the end: fewer frames than the header promises means lost data.
            if declared and n < declared:
                raise VideoDecodeError(
                    path,
                    f"truncated: the header lists {declared} frames but only {n} decode",
                    "the file was cut short; re-export or re-download it",
                )
    return frames, fps


def _read_png_folder(path: Path, start: int, end: int | None) -> tuple[list[np.ndarray], float]:
    files = sorted(path.glob("*.png"))
    if not files:
        raise EmptyVideoError(
            path, "is a folder with no .png frames", "point at a video or a PNG folder"
        )
    fps = DEFAULT_FPS
    meta = path / _PNG_META
    if meta.exists():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            fps = float(json.loads(meta.read_text())["fps"])
    frames: list[np.ndarray] = []
    for f in files[start:end]:
        with _open_input(f) as container:
            decoded = list(_decode(f, container, _video_stream(f, container)))
        if not decoded:
            raise VideoDecodeError(f, "PNG holds no image", "re-export the frame")
        frames.append(decoded[0].to_ndarray(format="rgb24"))
    shapes = {fr.shape for fr in frames}
    if len(shapes) > 1:
        raise VideoDecodeError(
            path, f"frames differ in size: {sorted(shapes)}", "resize them to one size"
        )
    return frames, fps


def _ff_reason(e: Exception) -> str:
    return getattr(e, "strerror", None) or str(e)


# ----------------------------------------------------------------------------- writing


def output_format(path: str | Path) -> str:
    """The container a path asks for: '.mp4', '.webm', '.gif', or 'png folder' (no suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in _CODECS:
        return suffix
    if suffix == "":
        return "png folder"
    raise UnsupportedFormatError(
        path, f"cannot write '{suffix}' files", "use .mp4, .webm, .gif, or a folder name for PNGs"
    )


def check_output(path: str | Path, overwrite: bool = False) -> Path:
    """Fail early, before any work, if ``path`` exists and may not be replaced."""
    path = Path(path)
    output_format(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(
            path, "already exists", "pass overwrite=True (CLI: --force) to replace it"
        )
    return path


def write_video(
    video: Video,
    path: str | Path,
    *,
    overwrite: bool = False,
    quality: int | None = None,
) -> Path:
    """Write ``video`` atomically; the format comes from the suffix (no suffix: a PNG folder).

    ``quality`` is the encoder's CRF for mp4/webm (lower is better; defaults 18 and 32).
    """
    if not isinstance(video, Video):
        raise InvalidInputError(f"write_video takes a Video, got {type(video).__name__}")
    path = check_output(path, overwrite)
    fmt = output_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}.partial{path.suffix}")
    try:
        if fmt == "png folder":
            _write_png_folder(video, tmp)
        else:
            _write_container(video, tmp, fmt, quality)
        replace_into(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
    return path


def replace_into(tmp: Path, path: Path) -> None:
    """Move a finished file or folder onto ``path`` (an existing one is replaced whole)."""
    if tmp.is_dir() and path.exists():
        old = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.old")
        os.replace(path, old)
        os.replace(tmp, path)
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink()
    else:
        os.replace(tmp, path)


def _write_container(video: Video, path: Path, fmt: str, quality: int | None) -> None:
    codec, pix_fmt, default_q = _CODECS[fmt]
    if pix_fmt == "yuv420p" and (video.height % 2 or video.width % 2):
        raise InvalidInputError(
            f"{fmt} (yuv420p) needs even height and width, got {video.height}x{video.width}; "
            "resize with kinema.io.resize_frames or write a PNG folder"
        )
    rate = Fraction(video.fps).limit_denominator(1001)
    opts: dict[str, str] = {}
    if codec == "libx264":
        opts = {"crf": str(quality if quality is not None else default_q), "preset": "medium"}
    elif codec == "libvpx-vp9":
        crf = quality if quality is not None else default_q
        opts = {"crf": str(crf), "b": "0", "deadline": "good", "cpu-used": "4", "row-mt": "1"}
    container_opts = {"movflags": "+faststart"} if fmt == ".mp4" else {}
    with av.open(str(path), mode="w", options=container_opts) as container:
        stream = container.add_stream(codec, rate=rate, options=opts)
        stream.width, stream.height, stream.pix_fmt = video.width, video.height, pix_fmt
        frames = _paletted(video, rate) if pix_fmt == "pal8" else _rgb_frames(video)
        for vf in frames:
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _rgb_frames(video: Video) -> Iterator[av.VideoFrame]:
    for frame in video.frames:
        yield av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")


def _paletted(video: Video, rate: Fraction) -> list[av.VideoFrame]:
    """One 256-colour palette fitted to the whole clip (ffmpeg's palettegen + paletteuse)."""
    graph = av.filter.Graph()
    src = graph.add_buffer(
        width=video.width, height=video.height, format="rgb24", time_base=1 / rate
    )
    split = graph.add("split")
    gen = graph.add("palettegen", "stats_mode=full:reserve_transparent=0")
    use = graph.add("paletteuse", "dither=none")
    sink = graph.add("buffersink")
    src.link_to(split)
    split.link_to(use, 0, 0)
    split.link_to(gen, 1, 0)
    gen.link_to(use, 0, 1)
    use.link_to(sink)
    graph.configure()
    for i, vf in enumerate(_rgb_frames(video)):
        vf.pts, vf.time_base = i, 1 / rate
        graph.push(vf)
    graph.push(None)
    out: list[av.VideoFrame] = []
    while True:
        try:
            out.append(graph.pull())
        except (av.BlockingIOError, av.EOFError):
            return out


def _write_png_folder(video: Video, folder: Path) -> None:
    folder.mkdir(parents=True)
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = video.width, video.height, "rgb24"
    digits = max(5, len(str(video.num_frames)))
    for i, frame in enumerate(video.frames):
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        data = b"".join(bytes(p) for p in codec.encode(vf))
        (folder / f"frame_{i:0{digits}d}.png").write_bytes(data)
    (folder / _PNG_META).write_text(json.dumps({"fps": video.fps, "num_frames": video.num_frames}))
