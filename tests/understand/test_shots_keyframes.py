from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kinema.errors import InvalidInputError
from kinema.understand.keyframes import contact_sheet, pick_keyframes, write_keyframes
from kinema.understand.shots import detect_cuts, detect_shots
from kinema.world.edits import edited_video
from kinema.world.render import render
from kinema.world.scene import sample_scene


def test_edited_video_ground_truth_and_fades() -> None:
    frames, cuts = edited_video(np.random.default_rng(3), shots=(3, 3), fade_p=1.0)
    assert len(cuts) == 2 and all(kind == "fade" for _, kind in cuts)
    for f, _ in cuts:
        assert frames[f].max() == 0  # a fade's cut frame is black
        assert frames[f - 1].mean() < frames[f - 4].mean()  # ... after the last shot dimmed


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cuts_and_fades_are_found_within_a_frame(seed: int) -> None:
    frames, truth = edited_video(np.random.default_rng(seed), shots=(3, 4))
    found = detect_cuts(frames, 8.0)
    assert len(found) == len(truth)
    for (f, kind), (g, gkind) in zip(found, truth, strict=True):
        assert abs(f - g) <= 1 and kind == gkind


def test_one_shot_video_and_shot_times() -> None:
    frames = render(sample_scene(5, num_frames=24))
    shots = detect_shots(frames, 8.0)
    assert len(shots) == 1
    s = shots[0]
    assert (s.start, s.end, s.transition, s.start_time, s.end_time) == (0, 24, "start", 0.0, 3.0)
    with pytest.raises(InvalidInputError):
        detect_shots(frames.astype(np.float32), 8.0)


def test_keyframes_one_per_shot_not_black_and_diverse(tmp_path: Path) -> None:
    frames, _truth = edited_video(np.random.default_rng(4), shots=(3, 3), fade_p=1.0)
    shots = detect_shots(frames, 8.0)
    kfs = pick_keyframes(frames, 8.0, shots, max_frames=8)
    assert sorted({k.shot for k in kfs}) == [0, 1, 2]  # every shot shown
    assert all(frames[k.frame].max() > 0 for k in kfs)  # never a black fade frame
    assert [k.frame for k in kfs] == sorted(k.frame for k in kfs)
    assert len(pick_keyframes(frames, 8.0, shots, max_frames=2)) == 2
    index = write_keyframes(frames, 8.0, shots, tmp_path / "kf", max_frames=4, source="x.mp4")
    files = sorted(p.name for p in (tmp_path / "kf").iterdir())
    assert "contact_sheet.png" in files and "index.json" in files
    assert len([f for f in files if f.startswith("frame_")]) == len(index["keyframes"])
    saved = json.loads((tmp_path / "kf" / "index.json").read_text())
    assert saved["keyframes"][0]["time"] == pytest.approx(saved["keyframes"][0]["frame"] / 8.0)
    sheet = contact_sheet(frames, kfs, columns=4)
    assert sheet.shape[1] >= len(kfs) * 160 and sheet.dtype == np.uint8  # enlarged to read


def test_static_video_does_not_repeat_a_frame() -> None:
    still = np.repeat(render(sample_scene(2, num_frames=1)), 80, axis=0)
    shots = detect_shots(still, 8.0)
    kfs = pick_keyframes(still, 8.0, shots, max_frames=5)
    assert len(kfs) == 2  # 10 s shot: 1 + one extra per 8 s, not 5 copies
    assert abs(kfs[0].frame - kfs[1].frame) >= 8
