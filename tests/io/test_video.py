from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from kinema.errors import (
    EmptyVideoError,
    InvalidInputError,
    KinemaError,
    OutputExistsError,
    UnsupportedFormatError,
    VideoDecodeError,
    VideoNotFoundError,
)
from kinema.io import Video, probe, read_video, resize_frames, write_video


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255**2 / max(mse, 1e-12)))


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".partial" in p.name or p.name.endswith(".old")]


# ------------------------------------------------------------------ the Video value


def test_video_properties(clip: Video) -> None:
    assert (clip.num_frames, clip.height, clip.width) == (17, 64, 64)
    assert clip.duration == pytest.approx(17 / 8)
    assert len(clip) == 17


@pytest.mark.parametrize(
    "frames",
    [
        np.zeros((4, 8, 8, 3), dtype=np.float32),  # wrong dtype
        np.zeros((8, 8, 3), dtype=np.uint8),  # missing time axis
        np.zeros((4, 8, 8, 4), dtype=np.uint8),  # RGBA
        np.zeros((0, 8, 8, 3), dtype=np.uint8),  # no frames
    ],
)
def test_video_rejects_bad_arrays(frames: np.ndarray) -> None:
    with pytest.raises(InvalidInputError, match=r"uint8|at least one"):
        Video(frames)


def test_video_rejects_bad_fps(clip: Video) -> None:
    with pytest.raises(InvalidInputError, match="fps"):
        Video(clip.frames, fps=0)


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("name", ["clip.gif", "frames"])
def test_lossless_round_trip(tmp_path: Path, clip: Video, name: str) -> None:
    out = write_video(clip, tmp_path / name)
    back = read_video(out)
    assert back.frames.shape == clip.frames.shape
    np.testing.assert_array_equal(back.frames, clip.frames)
    if name == "frames":
        assert back.fps == clip.fps
        assert len(list(out.glob("*.png"))) == clip.num_frames


@pytest.mark.parametrize(
    ("name", "codec", "min_psnr"), [("a.mp4", "h264", 38.0), ("a.webm", "vp9", 30.0)]
)
def test_lossy_round_trip(
    tmp_path: Path, gradient: Video, name: str, codec: str, min_psnr: float
) -> None:
    out = write_video(gradient, tmp_path / name)
    back = read_video(out)
    assert back.frames.shape == gradient.frames.shape
    assert back.fps == pytest.approx(gradient.fps)
    assert psnr(back.frames, gradient.frames) > min_psnr
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == codec
        assert s.codec_context.pix_fmt == "yuv420p"


def test_mp4_quality_setting_trades_size(tmp_path: Path, gradient: Video) -> None:
    hi = write_video(gradient, tmp_path / "hi.mp4", quality=12)
    lo = write_video(gradient, tmp_path / "lo.mp4", quality=40)
    assert hi.stat().st_size > lo.stat().st_size
    assert psnr(read_video(hi).frames, gradient.frames) > psnr(
        read_video(lo).frames, gradient.frames
    )


def test_read_range_and_size(tmp_path: Path, clip: Video) -> None:
    out = write_video(clip, tmp_path / "f")
    part = read_video(out, start=3, end=8)
    np.testing.assert_array_equal(part.frames, clip.frames[3:8])
    small = read_video(out, start=0, end=2, size=(32, 48))
    assert small.frames.shape == (2, 32, 48, 3)
    mp4 = write_video(clip, tmp_path / "c.mp4")
    tail = read_video(mp4, start=10)
    assert tail.num_frames == 7


def test_resize_crops_to_aspect_instead_of_stretching() -> None:
    frames = np.zeros((1, 32, 64, 3), dtype=np.uint8)
    frames[:, :, 16:48] = 255  # a white centre square of 32x32
    out = resize_frames(frames, (16, 16))  # square target: centre crop keeps only white
    assert out.shape == (1, 16, 16, 3)
    assert out.min() > 240
    with pytest.raises(InvalidInputError, match="size"):
        resize_frames(frames, (0, 16))


def test_probe(tmp_path: Path, clip: Video) -> None:
    out = write_video(clip, tmp_path / "c.mp4")
    assert probe(out) == {"num_frames": 17, "height": 64, "width": 64, "fps": 8.0}


# ------------------------------------------------------------------ writing safety


def test_refuses_to_overwrite(tmp_path: Path, clip: Video) -> None:
    target = tmp_path / "c.mp4"
    target.write_bytes(b"precious")
    with pytest.raises(OutputExistsError, match=r"c\.mp4.*already exists.*overwrite"):
        write_video(clip, target)
    assert target.read_bytes() == b"precious"
    write_video(clip, target, overwrite=True)
    assert read_video(target).num_frames == 17


def test_overwrite_png_folder_replaces_it_whole(tmp_path: Path, clip: Video) -> None:
    write_video(clip, tmp_path / "f")
    short = Video(clip.frames[:3], fps=4)
    with pytest.raises(OutputExistsError):
        write_video(short, tmp_path / "f")
    write_video(short, tmp_path / "f", overwrite=True)
    assert read_video(tmp_path / "f").num_frames == 3
    assert leftovers(tmp_path) == []


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    odd = Video(np.zeros((2, 33, 33, 3), dtype=np.uint8))
    with pytest.raises(InvalidInputError, match="even height and width"):
        write_video(odd, tmp_path / "odd.mp4")
    assert list(tmp_path.iterdir()) == []


def test_unsupported_output_format(tmp_path: Path, clip: Video) -> None:
    with pytest.raises(UnsupportedFormatError, match=r"\.avi"):
        write_video(clip, tmp_path / "c.avi")
    with pytest.raises(InvalidInputError, match="takes a Video"):
        write_video(clip.frames, tmp_path / "c.mp4")  # type: ignore[arg-type]


# ------------------------------------------------------------------ bad input files


@pytest.fixture
def good_mp4(tmp_path: Path, clip: Video) -> Path:
    return write_video(Video(np.concatenate([clip.frames, clip.frames])), tmp_path / "good.mp4")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(VideoNotFoundError, match=r"nope\.mp4: no such file") as e:
        read_video(tmp_path / "nope.mp4")
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, KinemaError)
    assert e.value.path == tmp_path / "nope.mp4"


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(EmptyVideoError, match=r"empty\.mp4: is empty \(0 bytes\)"):
        read_video(tmp_path / "empty.mp4")


def test_not_a_video(tmp_path: Path) -> None:
    (tmp_path / "notes.mp4").write_text("shopping list\n" * 20)
    with pytest.raises(VideoDecodeError, match=r"notes\.mp4: not a readable video"):
        read_video(tmp_path / "notes.mp4")


def test_audio_only_file(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    with av.open(str(path), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono"
        )
        frame.sample_rate = 8000
        for p in [*s.encode(frame), *s.encode()]:
            c.mux(p)
    with pytest.raises(VideoDecodeError, match=r"tone\.wav: holds no video stream"):
        read_video(path)


def test_truncated_file(tmp_path: Path, good_mp4: Path) -> None:
    data = good_mp4.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.85)])
    with pytest.raises(
        VideoDecodeError,
        match=r"cut\.mp4: truncated: the header lists 34 frames but only \d+ decode",
    ):
        read_video(cut)
    # a range that ends before the damage still reads
    assert read_video(cut, end=4).num_frames == 4


def test_corrupt_file(tmp_path: Path, good_mp4: Path) -> None:
    data = bytearray(good_mp4.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 400] = bytes(b ^ 0xFF for b in data[mid : mid + 400])
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    with pytest.raises(VideoDecodeError, match=r"bad\.mp4: (corrupt or truncated|truncated)"):
        read_video(bad)


def test_empty_png_folder_and_range_past_end(tmp_path: Path, good_mp4: Path) -> None:
    (tmp_path / "nothing").mkdir()
    with pytest.raises(EmptyVideoError, match=r"no \.png frames"):
        read_video(tmp_path / "nothing")
    with pytest.raises(EmptyVideoError, match="no frames at or after frame 100"):
        read_video(good_mp4, start=100)
    with pytest.raises(InvalidInputError, match="start < end"):
        read_video(good_mp4, start=5, end=5)
