from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from kinema.config import _classifier_presets
from kinema.models.classifier import VideoClassifier, to_input
from kinema.safety.detector import GeneratedDetector, clips_for
from kinema.train.detector import roc


def test_roc_auc_and_rate_at_one_percent() -> None:
    labels = np.array([1] * 100 + [0] * 100, np.float32)
    perfect = np.concatenate([np.linspace(2, 3, 100), np.linspace(0, 1, 100)])
    r = roc(perfect, labels)
    assert r["auc"] == 1.0 and r["tpr_at_1fpr"] == 1.0
    assert roc(-perfect, labels)["auc"] == 0.0
    rng = np.random.default_rng(0)
    chance = roc(rng.normal(size=200), labels)
    assert 0.35 < chance["auc"] < 0.65 and chance["tpr_at_1fpr"] < 0.2
    neg = perfect[100:]
    assert np.mean(neg > r["threshold"]) <= 0.01


def test_clips_for_windows_and_sizes() -> None:
    assert clips_for(np.zeros((9, 32, 48, 3), np.uint8)).shape == (1, 17, 64, 64, 3)
    assert clips_for(np.zeros((81, 64, 64, 3), np.uint8)).shape == (4, 17, 64, 64, 3)


def test_detector_round_trip_and_verdict(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = VideoClassifier(_classifier_presets()["clf-test"]).eval()
    model.save_pretrained(tmp_path, "detector")
    (tmp_path / "detector_threshold.json").write_text('{"threshold": 0.25}')
    det = GeneratedDetector.from_pretrained(tmp_path)
    assert det.threshold == 0.25
    clip = np.random.default_rng(1).integers(0, 256, (17, 64, 64, 3), dtype=np.uint8)
    v = det(clip)
    with torch.no_grad():
        p = float(torch.sigmoid(model(to_input(clip[None]))["generated"][0, 0]))
    assert v.probability == pytest.approx(p, abs=2e-2)
    assert v.generated == (v.probability > 0.25)


def test_detector_training_can_start_from_a_saved_one(tmp_path: Path) -> None:
    import dataclasses

    from kinema.config import DetectorRecipe
    from kinema.errors import InvalidInputError
    from kinema.train.detector import new_detector

    recipe = DetectorRecipe()
    recipe.model = _classifier_presets()["clf-test"]
    torch.manual_seed(5)
    saved = VideoClassifier(recipe.model)
    saved.save_pretrained(tmp_path, "detector")  # fp16 on disk
    fresh, started = new_detector(recipe), new_detector(recipe, tmp_path)
    for (name, a), b in zip(started.state_dict().items(), saved.state_dict().values(), strict=True):
        if a.is_floating_point():
            torch.testing.assert_close(a, b.half().float(), rtol=0, atol=0, msg=name)
    pairs = zip(fresh.parameters(), started.parameters(), strict=True)
    assert any(not torch.equal(a, b) for a, b in pairs)
    other = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, dropout=0.3))
    with pytest.raises(InvalidInputError, match="configured unlike the recipe"):
        new_detector(other, tmp_path)
