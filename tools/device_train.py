"""Train the VAE or the DiT on a GPU box for a fixed wall-clock budget, and leave shippable
files in ``--out``.

For a lent GPU machine reached with a size-capped copy of the repository (no PyAV, no packaged
MiniLM there, a hard time limit per command, files back at most 16 MB each). It runs the same
code as ``kinema train`` with ``train.device: cuda``; what it adds is the fitting to the box:

- steps are chosen from a measured step time so the run ends inside ``--minutes`` (the cosine
  schedule then ends where it should, not cut off halfway);
- the text encoder comes from ``tools/pack_text_encoder.py``'s pack (``--text``);
- the EMA weights come back in fp16 pieces under 16 MB (``merge`` joins them here), with the
  run's log.jsonl and the recipe as run.

    python tools/device_train.py vae --config configs/vae-shapes-gpu.yaml --minutes 8 --out $OUT
    python tools/device_train.py dit --config configs/dit-shapes-gpu.yaml --minutes 8 \\
        --text .carry/minilm --vae kinema/weights --out $OUT
    python tools/device_train.py merge OUT_DIR runs/dit-gpu   # here: pieces -> one checkpoint
    python tools/device_train.py export runs/dit-gpu --config configs/dit-shapes-gpu.yaml
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
import types
from pathlib import Path

import torch

PIECE_BYTES = 15 * 2**20


def _without_pyav() -> bool:
    """Training needs no video files; stand in for PyAV where it is not installed (True then)."""
    try:
        import av  # noqa: F401
    except ImportError:
        sys.modules["av"] = types.ModuleType("av")
        return True
    return False


def save_pieces(state: dict[str, torch.Tensor], out: Path, prefix: str) -> list[str]:
    """fp16 safetensors files of at most ``PIECE_BYTES`` each: ``prefix-00.safetensors``..."""
    from safetensors.torch import save_file

    pieces: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for k, v in state.items():
        v = v.detach().cpu().half().contiguous() if v.is_floating_point() else v.cpu()
        n = v.numel() * v.element_size()
        if size + n > PIECE_BYTES and pieces[-1]:
            pieces.append({})
            size = 0
        pieces[-1][k] = v
        size += n
    names = []
    for i, part in enumerate(pieces):
        names.append(f"{prefix}-{i:02d}.safetensors")
        save_file(part, str(out / names[-1]))
    return names


def load_pieces(folder: Path, prefix: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    state: dict[str, torch.Tensor] = {}
    for p in sorted(folder.glob(f"{prefix}-*.safetensors")):
        state.update(load_file(str(p)))
    return state


def measure_step(model: torch.nn.Module, task, cfg, n: int = 60) -> float:
    """Seconds per step of the real training loop (EMA, batch workers, logging included) on a
    throwaway copy of the model: the median of its log's paces after the first window."""
    import copy
    import tempfile

    from kinema.train.trainer import train

    probe = dataclasses.replace(cfg, steps=n, log_every=10, eval_every=0, ckpt_every=10**9)
    with tempfile.TemporaryDirectory() as tmp:
        train(copy.deepcopy(model), task, probe, tmp, progress=False)
        recs = [json.loads(line) for line in (Path(tmp) / "log.jsonl").read_text().splitlines()]
    paces = sorted(r["sec_per_step"] for r in recs if "sec_per_step" in r)[1:]
    torch.cuda.empty_cache() if torch.cuda.is_available() else None
    return paces[len(paces) // 2]


def fit_steps(cfg, sec_per_step: float, seconds: float, overhead: float) -> int:
    """Steps that fit ``seconds`` at the measured pace, with ``overhead`` (the loop's own costs:
    EMA, logging, evaluation) as a fraction."""
    return max(cfg.warmup + 100, int(seconds / (sec_per_step * (1 + overhead))))


def override(train_cfg, a: argparse.Namespace) -> None:
    """``--batch`` / ``--lr`` / ``--compile``: try a setting on the box without editing the
    recipe (the log's recipe records what ran)."""
    if getattr(a, "batch", None):
        train_cfg.batch_size = a.batch
    if getattr(a, "lr", None):
        train_cfg.lr = a.lr
    if getattr(a, "compile", False):
        train_cfg.compile = True


def run(kind: str, a: argparse.Namespace) -> None:
    t0 = time.perf_counter()
    no_pyav = _without_pyav()
    from kinema.train import dit as dit_mod
    from kinema.train import vae as vae_mod
    from kinema.train.trainer import run_info, train

    if no_pyav:  # no sample videos then (this process only)
        for mod in (dit_mod, vae_mod):
            mod.write_video = lambda *args, **kw: None  # type: ignore[attr-defined]
    out = Path(a.out)
    run_dir = Path(a.run)
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    command = f"python tools/device_train.py {' '.join(sys.argv[1:])}"
    gpu = torch.cuda.get_device_name(0) if a.device.startswith("cuda") else "none"
    report: dict = {"kind": kind, "device": a.device, "gpu": gpu}
    if kind == "vae":
        from kinema.config import load_vae_recipe

        recipe = load_vae_recipe(a.config)
        recipe.train.device = a.device
        override(recipe.train, a)
        model = vae_mod.new_vae(recipe.model, recipe.train.seed)
        if a.init:  # as `kinema train vae --init`
            vae_mod.start_from(model, recipe, a.init)
        task = vae_mod.VAETask(recipe)
    else:
        from kinema.config import load_dit_recipe

        sys.path.insert(0, str(Path(__file__).parent))
        from pack_text_encoder import unpack, world_captions

        recipe = load_dit_recipe(a.config)
        recipe.train.device = a.device
        override(recipe.train, a)
        recipe.data.vae = a.vae  # the log records what was used
        recipe.data.text_model = str(
            unpack(Path(a.text), Path("/tmp/kinema_text"), world_captions(3000))
        )
        t = time.perf_counter()
        # the cache stays in memory; --init continues a shipped DiT (its optimizer state is
        # not shipped: a fresh AdamW and schedule)
        model, task, _ = dit_mod.prepare(recipe, progress=False, init=a.init)
        report["prepare_seconds"] = round(time.perf_counter() - t, 1)
        report["cache_clips"] = {k: len(b["latents"]) for k, b in task.buckets}
    report["params"] = sum(p.numel() for p in model.parameters())
    sec = measure_step(model, task, recipe.train)
    left = a.minutes * 60 - (time.perf_counter() - t0) - a.reserve
    recipe.train.steps = fit_steps(recipe.train, sec, left, a.overhead)
    report.update(sec_per_step_probe=sec, steps=recipe.train.steps, train_budget_s=round(left))
    print(json.dumps(report), flush=True)
    t = time.perf_counter()
    ema = train(model, task, recipe.train, run_dir, False, run_info(kind, recipe, command),
                progress=False, deadline=time.time() + left + 20)  # fmt: skip
    report["train_seconds"] = round(time.perf_counter() - t, 1)
    out.mkdir(parents=True, exist_ok=True)
    if kind == "vae":
        if not recipe.freeze_encoder:
            vae_mod.calibrate(ema)  # latents ~ N(0, 1); scale/shift go into the config
        cfg = ema.cfg  # type: ignore[attr-defined]
        (out / "vae_config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1))
    else:
        (out / "dit_config.json").write_text(json.dumps(dataclasses.asdict(recipe.model), indent=1))
    report["pieces"] = save_pieces(ema.state_dict(), out, f"{kind}-ema")
    shutil.copy(run_dir / "log.jsonl", out / "log.jsonl")
    (out / "recipe.json").write_text(json.dumps(dataclasses.asdict(recipe), indent=1))
    report["total_seconds"] = round(time.perf_counter() - t0, 1)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report), flush=True)


def merge(src: Path, run_dir: Path) -> None:
    """Join the pieces of a device run into ``run_dir``: the EMA weights as ``vae.safetensors``
    or ``dit.safetensors`` next to their config (``from_pretrained(run_dir)`` loads them), the
    log, the recipe as run and the report."""
    run_dir.mkdir(parents=True, exist_ok=True)
    report = json.loads((src / "report.json").read_text())
    from safetensors.torch import save_file

    state = load_pieces(src, f"{report['kind']}-ema")
    save_file(state, str(run_dir / f"{report['kind']}.safetensors"))  # + its config: loadable
    for name in ("log.jsonl", "recipe.json", "report.json", "vae_config.json", "dit_config.json"):
        if (src / name).is_file():
            shutil.copy(src / name, run_dir / name)
    print(f"{run_dir}: {len(state)} tensors")


def export(run_dir: Path, config: str, weights: Path, prefix: str) -> None:
    """Ship a merged device run into ``weights`` as ``kinema train ... --export`` would: the
    weights (fp16), and ``<prefix>_recipe.yaml`` / ``_train_log.jsonl`` / ``_command.txt``."""
    command = f"python tools/device_train.py {' '.join(sys.argv[1:])}"
    report = json.loads((run_dir / "report.json").read_text())
    if report["kind"] == "dit":
        from kinema.config import load_dit_recipe
        from kinema.models.dit import DiT
        from kinema.models.vae import CausalVAE
        from kinema.train.dit import export as export_dit

        recipe = load_dit_recipe(config)
        ema = DiT.from_pretrained(run_dir)
        export_dit(ema, CausalVAE.from_pretrained(weights), recipe, config, run_dir, weights,
                   command)  # fmt: skip
    else:
        from kinema.models.vae import CausalVAE
        from kinema.train.trainer import ship_run_files

        # latents calibrated on the device (or kept, by a decoder fine-tune): saved as they are
        CausalVAE.from_pretrained(run_dir).save_pretrained(weights)
        ship_run_files(prefix, config, run_dir, weights, command)
    print(f"exported {run_dir} to {weights}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for kind in ("vae", "dit"):
        p = sub.add_parser(kind)
        p.add_argument("--config", required=True)
        p.add_argument("--minutes", type=float, required=True, help="wall-clock budget, all in")
        p.add_argument("--out", required=True, help="where the pieces, log and report go")
        p.add_argument("--run", default="/tmp/kinema_run", help="the run folder (checkpoints)")
        p.add_argument("--reserve", type=float, default=45.0, help="seconds kept for the end")
        p.add_argument("--overhead", type=float, default=0.05, help="loop costs beyond a step")
        p.add_argument("--device", default="cuda", help="cuda (cpu only to try the script)")
        p.add_argument("--init", default=None, help=f"start from these {kind.upper()} weights")
        p.add_argument("--batch", type=int, default=None, help="override train.batch_size")
        p.add_argument("--lr", type=float, default=None, help="override train.lr")
        p.add_argument("--compile", action="store_true", help="train.compile: torch.compile")
        if kind == "dit":
            p.add_argument("--text", required=True, help="a pack from pack_text_encoder.py")
            p.add_argument("--vae", default="kinema/weights", help="the VAE the latents use")
    m = sub.add_parser("merge")
    m.add_argument("src")
    m.add_argument("run_dir")
    e = sub.add_parser("export")
    e.add_argument("run_dir")
    e.add_argument("--config", required=True, help="the recipe the run used")
    e.add_argument("--weights", default="kinema/weights")
    e.add_argument("--prefix", default=None, help="file prefix (default: vae or dit)")
    a = ap.parse_args()
    if a.cmd == "merge":
        merge(Path(a.src), Path(a.run_dir))
    elif a.cmd == "export":
        kind = json.loads((Path(a.run_dir) / "report.json").read_text())["kind"]
        export(Path(a.run_dir), a.config, Path(a.weights), a.prefix or kind)
    else:
        run(a.cmd, a)


if __name__ == "__main__":
    main()
