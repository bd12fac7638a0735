"""Training checkpoints: model + EMA weights (safetensors), optimizer state, trainer state,
and the run's recipe as ``config.json``.

A checkpoint is a folder written under a temporary name and renamed into place, so a run
killed mid-save never leaves a broken checkpoint behind.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from kinema.errors import InvalidInputError


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    ema: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
) -> Path:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    tmp.mkdir(parents=True)
    try:
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
            str(tmp / "model.safetensors"),
        )
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in ema.state_dict().items()},
            str(tmp / "ema.safetensors"),
        )
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        (tmp / "trainer_state.json").write_text(json.dumps(state, indent=1))
        if "recipe" in state:  # the run's full configuration, readable on its own
            (tmp / "config.json").write_text(json.dumps(state["recipe"], indent=1))
        if path.exists():
            old = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.old")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return path


def load_checkpoint(
    path: str | Path, model: nn.Module, ema: nn.Module, optimizer: torch.optim.Optimizer
) -> dict[str, Any]:
    """Restore weights and optimizer in place; returns the trainer state (step, ...)."""
    path = Path(path)
    if not (path / "trainer_state.json").is_file():
        raise InvalidInputError(f"{path}: not a Kinema checkpoint (no trainer_state.json)")
    model.load_state_dict(load_file(str(path / "model.safetensors")))
    ema.load_state_dict(load_file(str(path / "ema.safetensors")))
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    return json.loads((path / "trainer_state.json").read_text())
