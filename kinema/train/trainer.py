"""The training loop every Kinema model shares: AdamW, warmup + cosine, bf16 autocast, grad
clipping, EMA, jsonl log, rich progress bar, periodic evaluation and resumable checkpoints.

A model-specific ``Task`` supplies batches and the loss. Batches and noise must depend only on
(seed, step), so a run resumed from a checkpoint computes exactly the losses the uninterrupted
run would have.
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import Any, Protocol

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from kinema.config import TrainConfig
from kinema.hardware import bf16_autocast
from kinema.train.checkpoint import load_checkpoint, save_checkpoint

CHECKPOINT_DIR = "checkpoint"
LOG_NAME = "log.jsonl"


class Task(Protocol):
    def batch(self, step: int) -> Any: ...

    def loss(
        self, model: nn.Module, batch: Any, step: int
    ) -> tuple[torch.Tensor, dict[str, float | torch.Tensor]]: ...  # metrics: scalars

    def evaluate(self, model: nn.Module, step: int, out: Path) -> dict[str, float]: ...


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup, then cosine from ``lr`` down to ``lr * min_lr_ratio``."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)


def resolve_device(name: str) -> torch.device:
    """The recipe's ``train.device``: "cpu", "cuda", "cuda:N", or "auto" (a GPU if torch sees one)."""
    from kinema.errors import InvalidInputError

    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise InvalidInputError(f"train.device {name!r}: {e}") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError(
            f"train.device {name!r}: torch sees no CUDA GPU here; use cpu or auto"
        )
    if device.type not in ("cpu", "cuda"):
        raise InvalidInputError(f"train.device {name!r}: one of cpu, cuda, cuda:N, auto")
    return device


def autocast(device: torch.device, enabled: bool = True) -> torch.autocast:
    """bf16 autocast: always on a GPU when ``enabled``; on a CPU only where it is native."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=enabled)
    return bf16_autocast(enabled)


def to_device(batch: Any, device: torch.device) -> Any:
    """Tensors of a batch (a tensor, or a dict / list / tuple of them) moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


class _StepBatches(torch.utils.data.Dataset):
    """``task.batch(step)`` as a dataset indexed by step, for worker processes: batches depend
    only on (seed, step), so preparing them ahead in parallel changes nothing they contain."""

    def __init__(self, task: Task) -> None:
        self.task = task

    def __getitem__(self, step: int) -> Any:
        return self.task.batch(step)


def batches(task: Task, start: int, stop: int, workers: int) -> Any:
    """Batches for steps ``start .. stop - 1`` in order: inline, or from ``workers`` processes."""
    if workers <= 0:
        return (task.batch(step) for step in range(start, stop))
    return iter(
        torch.utils.data.DataLoader(
            _StepBatches(task),
            batch_size=None,
            sampler=range(start, stop),
            num_workers=workers,
            prefetch_factor=4,
            pin_memory=torch.cuda.is_available(),
        )
    )


def make_ema(model: nn.Module) -> nn.Module:
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema <- decay * ema + (1 - decay) * model, all parameters in one foreach call (one kernel
    group on a GPU, not one launch per tensor); buffers are copied."""
    pe = list(ema.parameters())
    pm = [p.detach() for p in model.parameters()]
    if len(pe) != len(pm):
        raise ValueError(f"EMA has {len(pe)} parameters, the model {len(pm)}")
    if pe:
        torch._foreach_lerp_(pe, pm, 1.0 - decay)
    for be, b in zip(ema.buffers(), model.buffers(), strict=True):
        be.copy_(b)


def train(
    model: nn.Module,
    task: Task,
    cfg: TrainConfig,
    out: str | Path,
    resume: bool = False,
    run_info: dict[str, Any] | None = None,
    progress: bool = True,
    deadline: float | None = None,
) -> nn.Module:
    """Train ``model`` for ``cfg.steps`` steps on ``cfg.device``; returns the EMA model (on the
    CPU). Writes into ``out``: ``log.jsonl``, ``checkpoint/`` (latest) and whatever the task's
    evaluation writes. ``deadline`` (a ``time.time()``) ends the run early, checkpointed, at
    the first step past it (a machine lent for a fixed time); ``--resume`` goes on from there."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    model.to(device)
    ema = make_ema(model)
    decay, no_decay = [], []
    for p in (p for p in model.parameters() if p.requires_grad):  # frozen parts stay out
        (decay if p.ndim >= 2 else no_decay).append(p)
    opt = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.lr,
        betas=cfg.betas,
        fused=device.type == "cuda" or None,  # one kernel for the whole update on a GPU
    )
    start = 0
    ckpt = out / CHECKPOINT_DIR
    if resume and ckpt.exists():
        state = load_checkpoint(ckpt, model, ema, opt)
        start = int(state.pop("step"))
        run_info = run_info or state  # the run keeps describing itself across resumes
    log = (out / LOG_NAME).open("a")
    if start == 0:
        log.write(json.dumps({"event": "start", **(run_info or {})}) + "\n")
    elif start < cfg.steps:  # a continuation: say with which command (e.g. a longer --steps)
        command = (run_info or {}).get("command", "")
        log.write(json.dumps({"event": "resume", "step": start, "command": command}) + "\n")
    bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
        disable=not progress,
    )
    # train.compile: torch.compile the forward in place (parameter names unchanged, so
    # checkpoints and exports are the same); each bucket shape compiles once
    step_model = torch.compile(model) if cfg.compile else model
    model.train()
    t_last, n_since = time.perf_counter(), 0
    with bar:
        bar_task = bar.add_task("training", total=cfg.steps, completed=start, status="")
        feed = batches(task, start, cfg.steps, cfg.workers)
        for step in range(start, cfg.steps):
            lr = lr_at(step, cfg)
            for group in opt.param_groups:
                group["lr"] = lr
            batch = to_device(next(feed), device)
            with autocast(device, cfg.bf16):  # CPU: fp32 where it would emulate bf16
                loss, metrics = task.loss(step_model, batch, step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            # no host sync between logged steps: loss, norm and metrics stay tensors until then
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            # EMA warmup: early on the average would otherwise be mostly the random init
            update_ema(ema, model, min(cfg.ema_decay, (1 + step) / (10 + step)))
            n_since += 1
            done = step + 1
            if done % cfg.log_every == 0 or done == cfg.steps:
                loss_value = float(loss.detach())
                rec = {
                    "step": done,
                    "loss": loss_value,
                    "lr": lr,
                    "grad_norm": float(grad_norm),
                    **{k: float(v) for k, v in metrics.items()},
                }
                now = time.perf_counter()
                rec["sec_per_step"] = (now - t_last) / n_since
                t_last, n_since = now, 0
                log.write(json.dumps(rec) + "\n")
                log.flush()
                bar.update(bar_task, status=f"loss {loss_value:.4f}")
            if cfg.eval_every > 0 and (done % cfg.eval_every == 0 or done == cfg.steps):
                scores = task.evaluate(ema, done, out)
                log.write(json.dumps({"step": done, "eval": scores}) + "\n")
                log.flush()
                model.train()
            late = deadline is not None and time.time() > deadline
            if done % cfg.ckpt_every == 0 or done == cfg.steps or late:
                save_checkpoint(ckpt, model, ema, opt, {"step": done, **(run_info or {})})
            bar.update(bar_task, completed=done)
            if late and done < cfg.steps:
                log.write(json.dumps({"event": "deadline", "step": done}) + "\n")
                break
    log.close()
    return ema.cpu()  # exports and evaluations after training run on the CPU


def write_command_file(log: str | Path, command: str, path: str | Path) -> None:
    """Record how shipped weights were made: the run's training command (the start event of
    ``log``), every command that continued it (resume events, e.g. with a longer ``--steps``)
    and, when it differs from the last of those, the command that exported them."""
    events = [
        json.loads(line)
        for line in Path(log).read_text().splitlines()
        if line.startswith('{"event": ')
    ]
    lines, last = [], ""
    for e in events:
        cmd = e.get("command", "")
        if e["event"] == "start" and cmd and not lines:
            lines.append(f"# trained with\n{cmd}")
        elif e["event"] == "resume" and cmd and cmd != last:
            lines.append(f"# resumed at step {e['step']} with\n{cmd}")
        else:
            continue
        last = cmd
    if not lines:
        lines = [command]
    elif command != last:
        lines.append(f"# exported with\n{command}")
    Path(path).write_text("\n".join(lines) + "\n")


def ship_run_files(
    prefix: str, recipe_path: str | Path, run_dir: str | Path, weights_dir: str | Path, command: str
) -> None:
    """Next to shipped weights: ``<prefix>_recipe.yaml``, ``<prefix>_train_log.jsonl`` and
    ``<prefix>_command.txt``, so anyone can see and repeat how they were made."""
    import shutil

    weights_dir = Path(weights_dir)
    shutil.copy(recipe_path, weights_dir / f"{prefix}_recipe.yaml")
    log = Path(run_dir) / LOG_NAME
    shutil.copy(log, weights_dir / f"{prefix}_train_log.jsonl")
    write_command_file(log, command, weights_dir / f"{prefix}_command.txt")


def run_info(task: str, recipe: Any, command: str) -> dict[str, Any]:
    """What a run records about itself in its log's start event and checkpoints."""
    import dataclasses

    return {
        "task": task,
        "command": command,
        "recipe": json.loads(json.dumps(dataclasses.asdict(recipe))),
    }
