from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kinema.errors import InvalidInputError, VideoNotFoundError
from kinema.eval.fidelity import collect_pairs, score_clip, score_pairs, summarize
from kinema.io import Video, write_video
from kinema.world import spec as S
from kinema.world.captions import canonical_caption
from kinema.world.render import render
from kinema.world.scene import ObjectSpec, SceneSpec, sample_scene

RED_LEFT = SceneSpec("black", (ObjectSpec("red", "circle", "left", "large"),))


def test_ground_truth_follows_its_prompt() -> None:
    frames = render(sample_scene(0, spec=RED_LEFT))
    s = score_clip(frames, RED_LEFT)
    assert s.ok and s.background and s.objects[0].size is True and s.extra == []


def test_each_wrong_attribute_is_caught() -> None:
    frames = render(sample_scene(0, spec=RED_LEFT))
    wrong = {
        "background": SceneSpec("white", RED_LEFT.objects),
        "shape": SceneSpec("black", (ObjectSpec("red", "square", "left", "large"),)),
        "motion": SceneSpec("black", (ObjectSpec("red", "circle", "right", "large"),)),
        "colour": SceneSpec("black", (ObjectSpec("blue", "circle", "left", "large"),)),
    }
    for what, spec in wrong.items():
        s = score_clip(frames, spec)
        assert not s.ok, what
    wrong_size = score_clip(
        frames, SceneSpec("black", (ObjectSpec("red", "circle", "left", "small"),))
    )
    assert wrong_size.ok and wrong_size.objects[0].size is False  # size is reported, not required


def test_unprompted_object_fails_only_above_ten_percent() -> None:
    two = SceneSpec("black", (*RED_LEFT.objects, ObjectSpec("green", "square", "still", "small")))
    frames = render(sample_scene(1, spec=two, num_frames=20))
    assert score_clip(frames, two).ok
    s = score_clip(frames, RED_LEFT)
    assert not s.ok and s.extra == ["green"]
    only_red = render(sample_scene(1, spec=RED_LEFT, num_frames=20))
    flicker = only_red.copy()
    flicker[:2] = frames[:2]  # green visible in 2 of 20 frames = 10%: allowed
    assert score_clip(flicker, RED_LEFT).ok
    flicker[:3] = frames[:3]  # 15%: not allowed
    assert score_clip(flicker, RED_LEFT).extra == ["green"]


def test_missing_object_and_summary() -> None:
    blank = np.zeros((17, 64, 64, 3), np.uint8)
    s = score_clip(blank, RED_LEFT)
    assert not s.ok and not s.objects[0].found and s.objects[0].read_as == "missing"
    good = score_clip(render(sample_scene(0, spec=RED_LEFT)), RED_LEFT)
    summary = summarize([s, good])
    assert summary["all"] == 0.5 and summary["color"] == 0.5 and summary["background"] == 1.0
    assert summary["clips"] == 2


def test_collect_and_score_pairs(tmp_path: Path) -> None:
    g = sample_scene(2, num_objects=2)
    clip = write_video(Video(render(g)), tmp_path / "a.mp4")
    (tmp_path / "a.txt").write_text(canonical_caption(g.spec))
    pairs = collect_pairs(tmp_path)
    assert pairs == [(clip, canonical_caption(g.spec))]
    results, summary = score_pairs(pairs)
    assert summary["all"] == 1.0 and results[0]["ok"]
    with pytest.raises(InvalidInputError, match="pass its prompt with --prompt"):
        collect_pairs(clip)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError, match="found no clips"):
        collect_pairs(tmp_path / "empty")
    with pytest.raises(VideoNotFoundError, match="no such file"):
        collect_pairs(tmp_path / "nothing-here")
    assert len(S.COLORS) == 6
