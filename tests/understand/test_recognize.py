from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from kinema.config import _classifier_presets
from kinema.errors import InvalidInputError
from kinema.models.classifier import to_input
from kinema.train.recognizer import recognizer_loss
from kinema.understand.recognize import (
    COLORS,
    HEADS,
    SLOT,
    Recognizer,
    SlotRecognizer,
    palette_fit,
    palette_masks,
    prepare,
    split_heads,
    targets,
)
from kinema.world import spec as S
from kinema.world.render import render
from kinema.world.scene import sample_scene


@pytest.fixture(scope="module")
def tiny() -> SlotRecognizer:
    import dataclasses

    torch.manual_seed(0)
    cfg = dataclasses.replace(
        _classifier_presets()["clf-test"], in_channels=1, heads={"slot": SLOT}
    )
    return SlotRecognizer(cfg).eval()


def test_palette_masks_pick_the_nearest_colour() -> None:
    rgb = np.array([S.COLORS["red"], S.BACKGROUNDS["gray"], S.COLORS["cyan"]], np.uint8)
    x = to_input(rgb.reshape(1, 1, 1, 3, 3))  # (1, 3, 1, 1, 3)
    m = palette_masks(x)  # (1, 9, 1, 1, 3)
    assert torch.allclose(m.sum(1), torch.ones(1, 1, 1, 3))
    names = [S.PALETTE_NAMES[i] for i in m[0, :, 0, 0].argmax(0)]
    assert names == ["red", "gray", "cyan"]
    assert float(m[0, :, 0, 0].max(0).values.min()) > 0.99


def test_heads_shapes_and_targets(tiny: SlotRecognizer) -> None:
    graphs = [sample_scene(s, num_objects=2) for s in range(3)]
    x = to_input(np.stack([render(g) for g in graphs]))
    out = tiny(x)
    assert {k: v.shape[1] for k, v in out.items()} == HEADS
    h = split_heads(out)
    assert h["motion"].shape == (3, len(COLORS), len(S.MOTIONS))
    y = targets(graphs)
    assert y["present"].sum(1).tolist() == [2.0, 2.0, 2.0]
    g = graphs[0]
    c = COLORS.index(g.objects[0].color)
    assert int(y["shape"][0, c]) == S.SHAPES.index(g.objects[0].shape)
    absent = [i for i in range(len(COLORS)) if y["present"][0, i] == 0]
    assert (y["motion"][0, absent] == -1).all()
    loss, logs = recognizer_loss(out, y)
    assert loss.ndim == 0 and torch.isfinite(loss) and 0 <= logs["acc_motion"] <= 1


def test_a_few_steps_learn(tiny: SlotRecognizer) -> None:
    import copy

    model = copy.deepcopy(tiny).train()
    graphs = [sample_scene(s) for s in range(8)]
    x, y = to_input(np.stack([render(g) for g in graphs])), targets(graphs)
    opt = torch.optim.AdamW(model.parameters(), 3e-3)
    first = None
    for _ in range(15):
        loss, _ = recognizer_loss(model(x), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.8 * first


def test_unknown_on_footage_unlike_the_world(tiny: SlotRecognizer) -> None:
    rec = Recognizer(tiny)
    noise = np.random.default_rng(0).integers(0, 256, (17, 64, 64, 3), dtype=np.uint8)
    r = rec(noise)
    assert not r.known and "palette fit" in r.reason and r.caption == "unknown"
    assert palette_fit(noise) < 0.3
    assert palette_fit(render(sample_scene(3))) > 0.97
    assert r.to_json()["objects"] == []


def test_save_load_round_trip(tiny: SlotRecognizer, tmp_path: Path) -> None:
    tiny.save_pretrained(tmp_path)
    back = SlotRecognizer.from_pretrained(tmp_path)
    x = to_input(render(sample_scene(1))[None])
    a, b = tiny(x), back(x)
    assert all(torch.allclose(a[k], b[k], atol=2e-2) for k in a)  # fp16 on disk
    with pytest.raises(InvalidInputError, match="kinema train recognizer"):
        SlotRecognizer.from_pretrained(tmp_path / "none")


def test_prepare_fits_any_clip() -> None:
    # the short side to 64, the aspect kept (to a multiple of 4): 96x128 -> 64x84
    assert prepare(np.zeros((5, 96, 128, 3), np.uint8)).shape == (17, 64, 84, 3)
    assert prepare(np.zeros((5, 256, 256, 3), np.uint8)).shape == (17, 64, 64, 3)
    assert prepare(np.zeros((40, 64, 64, 3), np.uint8)).shape == (17, 64, 64, 3)
    with pytest.raises(InvalidInputError):
        prepare(np.zeros((5, 64, 64), np.uint8))


def test_morphed_training_clips_are_labelled_as_the_spec_reads_them() -> None:
    from kinema.config import RecognizerRecipe
    from kinema.train.recognizer import clips
    from kinema.world.parse import parse_clip

    recipe = RecognizerRecipe()
    x0, g0 = clips(7, 6, recipe)
    x1, g1 = clips(7, 6, recipe, morph=1.0)  # every object morphed
    assert x1.shape == x0.shape and [g.background for g in g1] == [g.background for g in g0]
    changed = alone = 0
    for clip, before, after in zip(x1, g0, g1, strict=True):
        for a, b in zip(before.objects, after.objects, strict=True):
            assert (a.color, a.size, a.motion) == (b.color, b.size, b.motion)
            changed += a.shape != b.shape
        # the world's own reader agrees with the label wherever it reads the object alone
        read = {o.color: o.shape for o in parse_clip(clip).objects}
        for o in after.objects:
            if len(after.objects) == 1:
                assert read[o.color] == o.shape
                alone += 1
    assert (
        alone > 0 and changed > 0
    )  # some objects were morphed past the midpoint into another shape
