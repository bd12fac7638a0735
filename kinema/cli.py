"""The ``kinema`` command: one thin command per user task; the work is done in the package."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from kinema.errors import InvalidInputError, KinemaError

if TYPE_CHECKING:
    import numpy as np

app = typer.Typer(
    name="kinema",
    help="Kinema: text-to-video with a diffusion transformer, video editing and understanding.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(
    help="Datasets: synthesise Shapes World clips, curate footage.", no_args_is_help=True
)
world_app = typer.Typer(
    help="Shapes World: render and read the built-in world.", no_args_is_help=True
)
eval_app = typer.Typer(help="Evaluate clips: prompt fidelity and more.", no_args_is_help=True)
train_app = typer.Typer(help="Train Kinema's models from a recipe.", no_args_is_help=True)
vae_app = typer.Typer(
    help="The video autoencoder: see what the latent keeps.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
app.add_typer(train_app, name="train")
app.add_typer(vae_app, name="vae")
app.add_typer(world_app, name="world")
app.add_typer(eval_app, name="eval")

RENDERER_ID = "kinema/shapes-world-v1"  # what signs rendered (not generated) clips
console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # an error stays one greppable line

SizeOpt = Annotated[str, typer.Option("--size", help="Frame size: 64 (square) or WxH, e.g. 96x64.")]
ForceOpt = Annotated[bool, typer.Option("--force", help="Replace outputs that already exist.")]


@contextlib.contextmanager
def _user_errors() -> Iterator[None]:
    """Kinema's typed errors become one red line and exit code 2; no traceback."""
    try:
        yield
    except KinemaError as e:
        err_console.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(2) from None


def parse_size(text: str) -> tuple[int, int]:
    """'64' -> (64, 64); '96x64' (W x H) -> (64, 96) as (height, width)."""
    try:
        if "x" in text.lower():
            w, h = (int(p) for p in text.lower().split("x"))
        else:
            w = h = int(text)
    except ValueError:
        raise InvalidInputError(
            f"--size must be N or WxH (e.g. 64 or 96x64), got {text!r}"
        ) from None
    return h, w


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=False,
    )


@data_app.command("synth")
def data_synth(
    out: Annotated[Path, typer.Option("--out", help="Folder for clips and manifest.jsonl.")],
    count: Annotated[int, typer.Option(help="Number of clips.")] = 1000,
    size: SizeOpt = "64",
    frames: Annotated[int, typer.Option(help="Frames per clip (1 + 4k).")] = 17,
    fps: Annotated[float, typer.Option(help="Frames per second written to the files.")] = 8.0,
    seed: Annotated[int, typer.Option(help="Dataset seed; clip i depends only on (seed, i).")] = 0,
    max_objects: Annotated[int, typer.Option(help="At most this many objects per clip (1-3).")] = 3,
    captions: Annotated[str, typer.Option(help="canonical, train (paraphrases) or any.")] = "train",
    force: ForceOpt = False,
) -> None:
    """Write Shapes World mp4 clips and a manifest (path, caption, scene graph)."""
    from kinema.config import SynthConfig
    from kinema.data.synth import synth_dataset

    with _user_errors():
        h, w = parse_size(size)
        cfg = SynthConfig(count, h, w, frames, fps, seed, max_objects, captions)
        with _progress() as bar:
            task = bar.add_task("rendering clips", total=count)
            manifest = synth_dataset(cfg, out, overwrite=force, on_clip=lambda _: bar.advance(task))
    console.print(f"wrote {count} clips and [bold]{manifest}[/]")


@world_app.command("render")
def world_render(
    caption: Annotated[
        str, typer.Argument(help="A Shapes World caption, canonical or paraphrased.")
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Video file (.mp4/.webm/.gif) or PNG folder.")
    ],
    size: SizeOpt = "64",
    frames: Annotated[int, typer.Option(help="Number of frames (any length).")] = 17,
    fps: Annotated[float, typer.Option(help="Frames per second.")] = 8.0,
    seed: Annotated[int, typer.Option(help="Seed for positions and speeds.")] = 0,
    scene: Annotated[
        Path | None, typer.Option(help="Also write the scene graph JSON here.")
    ] = None,
    force: ForceOpt = False,
) -> None:
    """Render the ground truth of a caption: what a perfect model would generate."""
    from kinema.io.video import Video, check_output
    from kinema.safety.provenance import ALGORITHMIC_MEDIA, GenerationInfo, write_signed
    from kinema.world.captions import canonical_caption, parse_prompt
    from kinema.world.render import render
    from kinema.world.scene import sample_scene

    with _user_errors():
        check_output(output, force)
        h, w = parse_size(size)
        spec = parse_prompt(caption)
        graph = sample_scene(seed, spec=spec, height=h, width=w, num_frames=frames, fps=fps)
        info = GenerationInfo(RENDERER_ID, caption, parameters={"seed": seed, "frames": frames},
                              watermarked=False, source_type=ALGORITHMIC_MEDIA)  # fmt: skip
        path, _ = write_signed(Video(render(graph), fps), output, info, overwrite=force)
        if scene is not None:
            scene.write_text(json.dumps(graph.to_json()))
    console.print(f"rendered [bold]{canonical_caption(graph.spec)}[/] -> {path}")


@world_app.command("read")
def world_read(
    video: Annotated[Path, typer.Argument(help="A Shapes World clip.")],
) -> None:
    """Show what the scorer reads in a clip: background and each object's attributes."""
    from kinema.io.video import read_video
    from kinema.world.parse import parse_clip

    with _user_errors():
        parsed = parse_clip(read_video(video).frames)
    table = Table(title=f"{video} - {parsed.background} background")
    for col in ("colour", "shape", "size", "motion", "present", "fill ratio", "side px"):
        table.add_column(col)
    for o in parsed.objects:
        table.add_row(
            o.color,
            o.shape,
            o.size,
            o.motion,
            f"{o.presence:.0%}",
            f"{o.fill_ratio:.2f}",
            f"{o.side_px:.0f}",
        )
    console.print(table)


@eval_app.command("fidelity")
def eval_fidelity(
    target: Annotated[
        Path,
        typer.Argument(
            help="A manifest, a folder with manifest.jsonl or clip+.txt pairs, or one clip."
        ),
    ],
    prompt: Annotated[
        str | None, typer.Option(help="The prompt, when TARGET is a single clip.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Score at most this many clips.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write per-clip results here.")
    ] = None,
    show_failures: Annotated[int, typer.Option(help="List this many failing clips.")] = 5,
) -> None:
    """Score clips against their prompts with the Shapes World reader; print a table."""
    from kinema.eval.fidelity import collect_pairs, score_pairs

    with _user_errors():
        pairs = collect_pairs(target, prompt)[:limit]
        with _progress() as bar:
            task = bar.add_task("scoring clips", total=len(pairs))
            results, summary = score_pairs(pairs, on_clip=lambda _: bar.advance(task))
    table = Table(title=f"prompt fidelity on {len(results)} clips")
    table.add_column("attribute")
    table.add_column("accuracy", justify="right")
    for key in ("background", "color", "shape", "motion", "size", "no_extra", "all"):
        table.add_row(
            "all attributes (follows prompt)" if key == "all" else key, f"{summary[key]:.1%}"
        )
    console.print(table)
    fails = [r for r in results if not r["ok"]]
    for r in fails[:show_failures]:
        console.print(f"[red]x[/] {r['path']}: {r['prompt']!r} read as {r['read_as']}")
    if json_out:
        json_out.write_text(json.dumps({"summary": summary, "clips": results}, indent=1))


def _train_run(
    kind: str,
    config: Path,
    out: Path,
    resume: bool,
    steps: int | None,
    export: Path | None,
    load,
    init: Path | None = None,
):
    """Checks shared by `kinema train <kind>`; returns (recipe, the command line as typed)."""
    import shlex

    from kinema.train.trainer import CHECKPOINT_DIR

    if not config.is_file():
        raise InvalidInputError(f"{config}: no such recipe file")
    if (out / CHECKPOINT_DIR).exists() and not resume:
        raise InvalidInputError(
            f"{out} already holds a run; pass --resume to continue it or pick another --out"
        )
    recipe = load(str(config))
    if steps is not None:
        recipe.train = dataclasses.replace(recipe.train, steps=steps)
    parts = ["kinema", "train", kind, "--config", str(config), "--out", str(out)]
    parts += ["--resume"] if resume else []
    parts += ["--steps", str(steps)] if steps is not None else []
    parts += ["--export", str(export)] if export is not None else []
    parts += ["--init", str(init)] if init is not None else []
    return recipe, " ".join(shlex.quote(p) for p in parts)


ResumeOpt = Annotated[bool, typer.Option(help="Continue from OUT/checkpoint if it exists.")]
TrainStepsOpt = Annotated[int | None, typer.Option(help="Override the recipe's step count.")]


def _fit(kind: str, recipe, command: str, out: Path, resume: bool, model, task,
         export: Path | None, ship) -> None:  # fmt: skip
    """Run the shared training loop; with ``export``, ``ship(ema)`` writes the weights there."""
    from kinema.train.trainer import run_info, train

    if recipe.train.threads:
        import torch

        torch.set_num_threads(recipe.train.threads)
    ema = train(model, task, recipe.train, out, resume, run_info(kind, recipe, command))
    if export is not None:
        ship(ema)
        console.print(f"exported the {kind} to [bold]{export}[/]")
    console.print(
        f"run in [bold]{out}[/] (log.jsonl, checkpoint/, samples/ where the task writes them)"
    )


@train_app.command("vae")
def train_vae(
    config: Annotated[Path, typer.Option(help="YAML recipe, e.g. configs/vae-shapes.yaml.")],
    out: Annotated[Path, typer.Option(help="Run folder: log.jsonl, checkpoint/, samples/.")] = Path(
        "runs/vae"
    ),
    resume: ResumeOpt = False,
    steps: TrainStepsOpt = None,
    export: Annotated[
        Path | None, typer.Option(help="Write calibrated fp16 weights + recipe + log here.")
    ] = None,
    init: Annotated[
        Path | None, typer.Option(help="Start from saved VAE weights (fresh optimizer).")
    ] = None,
) -> None:
    """Train the causal video VAE (bf16 autocast, EMA, checkpoints with --resume)."""

    from kinema.config import load_vae_recipe
    from kinema.train.vae import VAETask, new_vae, start_from
    from kinema.train.vae import export as export_vae

    with _user_errors():
        recipe, command = _train_run(
            "vae", config, out, resume, steps, export, load_vae_recipe, init
        )
        if recipe.freeze_encoder and init is None:
            raise InvalidInputError(
                "freeze_encoder: true trains the decoder of existing weights; give --init DIR"
            )
        model = new_vae(recipe.model, recipe.train.seed)
        if init is not None:
            start_from(model, recipe, init)
        _fit("VAE", recipe, command, out, resume, model, VAETask(recipe), export,
             lambda ema: export_vae(ema, config, out, export, command,
                                    calibrate_latents=not recipe.freeze_encoder))  # fmt: skip


@train_app.command("dit")
def train_dit(
    config: Annotated[Path, typer.Option(help="YAML recipe, e.g. configs/dit-shapes.yaml.")],
    out: Annotated[
        Path, typer.Option(help="Run folder: latent cache, log.jsonl, checkpoint/, samples/.")
    ] = Path("runs/dit"),
    resume: ResumeOpt = False,
    steps: TrainStepsOpt = None,
    export: Annotated[
        Path | None,
        typer.Option(
            help="Write fp16 DiT + pipeline.json + recipe + log here (e.g. kinema/weights)."
        ),
    ] = None,
    init: Annotated[
        Path | None,
        typer.Option(help="Start from saved DiT weights, e.g. kinema/weights (fresh optimizer)."),
    ] = None,
) -> None:
    """Train the diffusion transformer on cached VAE latents (rectified flow, EMA, bf16)."""

    from kinema.config import load_dit_recipe
    from kinema.train.dit import export as export_dit
    from kinema.train.dit import prepare

    with _user_errors():
        recipe, command = _train_run(
            "dit", config, out, resume, steps, export, load_dit_recipe, init
        )
        if recipe.train.threads:
            import torch

            torch.set_num_threads(recipe.train.threads)
        # on --resume the checkpoint overwrites the start anyway
        model, task, vae = prepare(recipe, out, init=None if resume else init)
        _fit("DiT", recipe, command, out, resume, model, task, export,
             lambda ema: export_dit(ema, vae, recipe, config, out, export, command))  # fmt: skip


@train_app.command("detector")
def train_detector(
    config: Annotated[Path, typer.Option(help="YAML recipe, e.g. configs/detector.yaml.")],
    out: Annotated[
        Path, typer.Option(help="Run folder: clip cache, log.jsonl, checkpoint/.")
    ] = Path("runs/detector"),
    resume: ResumeOpt = False,
    steps: TrainStepsOpt = None,
    export: Annotated[
        Path | None,
        typer.Option(help="Write the detector + threshold + recipe + log here (kinema/weights)."),
    ] = None,
    init: Annotated[
        Path | None,
        typer.Option(help="Start from a saved detector, e.g. kinema/weights (fresh optimizer)."),
    ] = None,
) -> None:
    """Train the generated-video detector (Kinema's clips vs rendered and VAE round-trip ones)."""
    from kinema.config import load_detector_recipe
    from kinema.train.detector import DetectorTask, load_or_build, new_detector
    from kinema.train.detector import export as export_detector

    with _user_errors():
        recipe, command = _train_run(
            "detector", config, out, resume, steps, export, load_detector_recipe, init
        )
        model = new_detector(recipe, None if resume else init)  # a bad --init fails before clips
        total = recipe.data.generated + recipe.data.real
        with _progress() as bar:
            task_id = bar.add_task("clips", total=total)
            data = load_or_build(recipe, out, on_clip=lambda n: bar.advance(task_id, n))
        task = DetectorTask(recipe, data)
        _fit("detector", recipe, command, out, resume, model, task, export,
             lambda ema: export_detector(ema, task, config, out, export, command))  # fmt: skip


@train_app.command("recognizer")
def train_recognizer(
    config: Annotated[Path, typer.Option(help="YAML recipe, e.g. configs/recognizer.yaml.")],
    out: Annotated[Path, typer.Option(help="Run folder: log.jsonl, checkpoint/.")] = Path(
        "runs/recognizer"
    ),
    resume: ResumeOpt = False,
    steps: TrainStepsOpt = None,
    export: Annotated[
        Path | None, typer.Option(help="Write the recognizer + recipe + log here (kinema/weights).")
    ] = None,
) -> None:
    """Train the Shapes World recognizer (objects, sizes, motions) on rendered clips."""
    from kinema.config import load_recognizer_recipe
    from kinema.train.recognizer import RecognizerTask, new_recognizer
    from kinema.train.recognizer import export as export_recognizer

    with _user_errors():
        recipe, command = _train_run(
            "recognizer", config, out, resume, steps, export, load_recognizer_recipe
        )
        model = new_recognizer(recipe)
        _fit("recognizer", recipe, command, out, resume, model, RecognizerTask(recipe), export,
             lambda ema: export_recognizer(ema, config, out, export, command))  # fmt: skip


@train_app.command("moderation")
def train_moderation(
    config: Annotated[Path, typer.Option(help="YAML recipe, e.g. configs/moderation.yaml.")],
    out: Annotated[Path, typer.Option(help="Run folder: log.jsonl, the head.")] = Path(
        "runs/moderation"
    ),
    export: Annotated[
        Path | None, typer.Option(help="Write the head + recipe + log here (kinema/weights).")
    ] = None,
) -> None:
    """Train the moderation head on labelled prompts (MiniLM vectors; a minute or two on CPU)."""
    import json

    from kinema.config import load_moderation_recipe
    from kinema.models.text import TextEncoder
    from kinema.train.moderation import train_head
    from kinema.train.trainer import LOG_NAME, run_info, ship_run_files

    with _user_errors():
        recipe, command = _train_run("moderation", config, out, False, None, export,
                                     load_moderation_recipe)  # fmt: skip
        log = out / LOG_NAME
        if log.exists():
            raise InvalidInputError(f"{out} already holds a run; pick another --out")
        out.mkdir(parents=True, exist_ok=True)
        log.write_text(
            json.dumps({"event": "start", **run_info("moderation", recipe, command)}) + "\n"
        )
        with console.status("embedding prompts and fitting the head"):
            head = train_head(recipe, TextEncoder(), log)
        head.save_pretrained(out)
        s = head.cfg.stats
        console.print(
            f"threshold {s['threshold']:.3f}: out-of-fold recall {100 * s['recall']:.1f}%, "
            f"false refusals {100 * s['false_refusals']:.1f}% "
            f"({s['harmful']} harmful, {s['benign']} benign hand-written prompts)"
        )
        if export is not None:
            head.save_pretrained(export)
            ship_run_files("moderation", config, out, export, command)
            console.print(f"exported the moderation head to [bold]{export}[/]")


RewriteOpt = Annotated[
    bool,
    typer.Option(
        "--rewrite/--as-written",
        help="Hand the model its own phrasing of a prompt it can read (the embedded model: the "
        "canonical Shapes World caption), or the prompt exactly as written. Text to video "
        "only: modes that continue given frames read the prompt as written.",
    ),
]


CandidatesOpt = Annotated[
    int | None,
    typer.Option(
        help="Sample this many clips and keep the one the model's verifier scores closest to the "
        "prompt (default: the model's; 1 = one clip, fastest). Time grows with it."
    ),
]
WindowCandidatesOpt = Annotated[
    int | None,
    typer.Option(
        help="Sample this many continuations per window and keep the one the model's verifier "
        "scores closest to the prompt (default: the model's; 1 = one, fastest). Time grows "
        "with it."
    ),
]
PlanOpt = Annotated[
    bool,
    typer.Option(
        "--plan/--hold-prompt",
        help="Let each extension window read the model's planner's restatement of the prompt "
        "for the frames so far (the embedded model: objects turn round at the walls, as its "
        "world's physics has them), or the prompt as given in every window.",
    ),
]
ComposeOpt = Annotated[
    bool,
    typer.Option(
        "--compose/--one-pass",
        help="Make a prompt with several objects one object at a time and lay the clips over "
        "one background, where the model has a composer that reads the prompt (the embedded "
        "model: Shapes World prompts), or the whole prompt in one pass.",
    ),
]
FillCandidatesOpt = Annotated[
    int | None,
    typer.Option(
        help="Sample this many completions and keep the one closest to the others (default: "
        "the model's; 1 = one, fastest). Time grows with it."
    ),
]


@app.command("generate")
def generate(
    prompt: Annotated[str, typer.Argument(help="What to show, e.g. 'a red circle bouncing'.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Video file: .mp4, .webm, .gif or a PNG folder.")
    ] = Path("outputs/generated.mp4"),
    frames: Annotated[int, typer.Option(help="Frames, 1 + 4k (17 = 2 s at 8 fps).")] = 17,
    seconds: Annotated[
        float | None,
        typer.Option(
            help="Length in seconds instead of --frames; long videos (e.g. 60) grow by sliding windows."
        ),
    ] = None,
    size: SizeOpt = "64",
    steps: Annotated[int | None, typer.Option(help="Sampler steps (default: the model's).")] = None,
    guidance: Annotated[
        float | None, typer.Option(help="Classifier-free guidance scale (1 = off).")
    ] = None,
    negative: Annotated[str | None, typer.Option(help="Negative prompt.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: a fresh one).")] = None,
    fps: Annotated[float | None, typer.Option(help="Frame rate of the file (default 8).")] = None,
    sampler: Annotated[str | None, typer.Option(help="euler or heun.")] = None,
    weights: Annotated[
        Path | None, typer.Option(help="Pipeline folder (default: the embedded model).")
    ] = None,
    safety: Annotated[
        bool,
        typer.Option(
            "--safety/--no-safety",
            help="Prompt moderation + invisible watermark (on by default; off prints a warning).",
        ),
    ] = True,
    visible_mark: Annotated[
        bool, typer.Option("--visible-mark", help="Add a small 'AI' tag in the corner.")
    ] = False,
    sign_prompt: Annotated[
        bool,
        typer.Option(
            "--sign-prompt", help="Put the prompt's text in the C2PA manifest (default: its hash)."
        ),
    ] = False,
    rewrite: RewriteOpt = True,
    candidates: CandidatesOpt = None,
    plan: PlanOpt = True,
    compose: ComposeOpt = True,
    force: ForceOpt = False,
) -> None:
    """Generate a video from a text prompt with the embedded default model."""

    from kinema.io.video import check_output
    from kinema.pipelines.text_to_video import (
        MAX_FRAMES,
        Timings,
        check_candidates,
        check_fps,
        check_request,
    )

    with _user_errors():
        check_output(output, force)
        height, width = parse_size(size)
        check_fps(fps)
        if seconds is not None:  # long-video mode: 17 frames, then sliding-window extension
            rate = 8.0 if fps is None else fps
            frames = 1 + max(4, _frames_for(seconds, rate))
            if frames > MAX_FRAMES:
                raise InvalidInputError(
                    f"--seconds {seconds:g} at {rate:g} fps is {frames} frames; a video holds at "
                    f"most {MAX_FRAMES} (60 s at 8 fps)"
                )
            first = min(frames, 17)
        else:  # one window: every frame attends to every other
            first = frames
        check_request(frames, height, width, steps or 1, 1.0 if guidance is None else guidance)
        if candidates is not None:
            check_candidates(candidates)
        pipe, load = _load_pipeline(weights, safety)
        seed = _seed(seed)
        _say_pasted_negative(prompt)
        rewritten = _say_model_prompt(pipe, prompt, rewrite, windows=frames > first)
        composed = _say_composed(pipe, prompt, compose and rewrite, frames > first)
        # a long video's first clip makes a composed prompt's objects the one-object way: the
        # whole minute carries them (the composed recipe cost a minute's identity 99.5% -> 98.6%)
        recipe = bool(composed) and frames <= first
        screened: dict = {}
        best_of = _say_best_of(pipe, prompt, candidates,
                               " (the first clip)" if frames > first else "", steps=steps,
                               params=screened, composed=recipe)  # fmt: skip
        if composed and best_of > 1:  # Pipeline.laid_together
            err_console.print(f"[dim]of each object's {best_of}, the ones that hide each other "
                              "least are laid together, then the verifier's best[/]")  # fmt: skip
        # the windows of a long video make one continuation each unless --candidates asks for
        # more: pipeline.json's extend_candidates (for `kinema extend`) would take the minute
        # past its 60 s budget, and best of 3 per window bought no identity on the tuning stream
        window_k = 1 if candidates is None else candidates
        window_screen: dict = {}
        per_window = (
            _say_best_of(pipe, prompt, window_k, choice="windows", steps=steps,
                         params=window_screen) if frames > first else None
        )  # fmt: skip
        planned = _say_planner(pipe, prompt, plan) if frames > first else ""
        guarded = (
            _say_guard(pipe, window_k)
            if frames > first
            else _say_clip_guard(pipe, prompt, compose and rewrite)
        )
        args = dict(negative_prompt=negative, num_inference_steps=steps, guidance_scale=guidance,
                    seed=seed, fps=fps, sampler=sampler, rewrite_prompt=rewrite)  # fmt: skip
        timings = Timings()
        total = steps or pipe.steps_for(text=True)
        per = steps or pipe.steps_for(window=True, candidates=window_k)  # each window's
        context, step = pipe.window_layout(window_k)  # each window's frames: read, added
        windows = -(-(frames - first) // step)
        with _progress() as bar:
            task = bar.add_task("sampling", total=total + per * windows)
            # a long video's first clip: what the windows' identity guard reads, read the same
            # way, its candidates the guard reads right first (Pipeline's guarded)
            video = pipe(prompt, num_frames=first, height=height, width=width, timings=timings,
                         callback=lambda i, n: bar.update(task, completed=i),
                         candidates=candidates, compose=compose, compose_recipe=recipe,
                         guarded=True if guarded else None, **args)  # fmt: skip
            if frames > first:
                video = pipe(prompt, video=video, mode="extend", num_frames=frames - first,
                             timings=timings, candidates=window_k, plan_windows=plan,
                             compose=compose and rewrite, **args,
                             callback=lambda i, n: bar.update(task, completed=total + i))  # fmt: skip
        params = {"seed": seed, "steps": total, "guidance": guidance or pipe.config.guidance,
                  "frames": frames, "size": f"{width}x{height}", "prompt_rewritten": rewritten,
                  "candidates": best_of, **screened}  # fmt: skip
        # the noise levels where the clip's steps run guided (text_guidance_interval, or a
        # composed prompt's compose_guidance_interval); a mapping: c2pa reads a list of numbers
        # back as bytes
        lo, hi = pipe.interval_for(text=True, composed=recipe)
        params["guidance_interval"] = {"lo": lo, "hi": hi}
        if composed:
            params["composed_of"] = composed
        if guarded and per_window is None:  # a clip read by the guard (guard_clips)
            params["guarded"] = guarded
        if per_window is not None:
            params["window_candidates"] = per_window
            if window_screen:
                params["window_drafts"] = window_screen["drafts"]
            params["window_planner"] = planned
            # each window's context read with its objects put back (pipeline.json's anchor)
            params["window_anchor"] = (
                pipe.anchor.name if pipe.anchor and pipe.long_windows(window_k) else ""
            )
            # windows made again where an object drifts (pipeline.json's guard)
            params["window_guard"] = guarded  # the first clip's objects too (guarded)
            if guarded:
                params["window_guard_threshold"] = pipe.config.guard_threshold
                params["window_guard_tries"] = pipe.config.guard_tries
            params["window_context_guidance"] = _context_guidance(pipe, "extend")
            params["window_steps"] = per
            params["window_context"], params["window_frames"] = context, step
            # one decoder stream, or each window with its own context latents (window_decode)
            params["window_decode"] = pipe.window_decode_for(window_k)
            # the noise levels where each window's steps run guided (window_guidance_interval);
            # a mapping: c2pa reads a list of numbers back as bytes
            lo, hi = pipe.interval_for(True, window_k)
            params["window_guidance_interval"] = {"lo": lo, "hi": hi}
        _save(video, output, force, pipe, _Out(prompt, "generate", visible_mark, sign_prompt),
              params)  # fmt: skip
    _report(output, video, seed, timings, load)  # type: ignore[arg-type]


def _load_pipeline(weights: Path | None, safety: bool = True) -> tuple:  # type: ignore[type-arg]
    import time
    import warnings

    from kinema.pipelines import Pipeline

    if not safety:
        err_console.print(
            "[bold yellow]warning:[/] safety checks are OFF (--no-safety): prompts are not "
            "moderated and frames are not watermarked (files are still signed, saying so). "
            "You remain bound by USAGE_POLICY.md."
        )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the CLI printed its own warning above
        pipe = Pipeline.from_pretrained(weights, safety=safety)
    return pipe, time.perf_counter() - t0


def _say_model_prompt(pipe, prompt: str, rewrite: bool, windows: bool = False) -> bool:  # type: ignore[no-untyped-def]
    """Say what the model reads when the pipeline rewrites the prompt; True when it does.
    ``windows``: a long video, whose extension windows read the prompt as written."""
    from kinema.safety.request import read_request

    text = read_request(prompt).prompt
    model = pipe.model_prompt(text) if rewrite else text
    if model != text:
        where = " for the first clip" if windows else ""
        then = "; its extension windows read the prompt as written" if windows else ""
        err_console.print(f"[dim]the model reads{where}: {escape(model)}{then} (--as-written to "
                          "send the prompt unchanged)[/]")  # fmt: skip
    return model != text


def _say_composed(pipe, prompt: str, compose: bool, windows: bool = False) -> int:  # type: ignore[no-untyped-def]
    """Say so when the composer makes the prompt one object at a time; how many clips it lays
    together (0: one pass, as without a composer, with --one-pass or --as-written, or for a
    prompt it does not split). ``windows``: a long video, whose extension windows then continue
    each object's clip by its own prompt too."""
    from kinema.safety.request import read_request

    parts = pipe.parts_for([read_request(prompt).prompt], compose)[0]
    if not parts:
        return 0
    then = ", each object's windows continuing its own clip" if windows else ""
    err_console.print(f"[dim]made one object at a time{then} ({pipe.composer.name} composer; "
                      f"--one-pass for one): {escape('; '.join(parts))}[/]")  # fmt: skip
    return len(parts)


def _say_planner(pipe, prompt: str, plan: bool) -> str:  # type: ignore[no-untyped-def]
    """Say so when extension windows read the planner's prompts; the planner's name, or ""
    where the prompt is held (no planner, --hold-prompt, or a prompt it does not read)."""
    from kinema.safety.request import read_request

    planner = pipe.planner if plan else None
    if planner is None or not planner.reads(read_request(prompt).prompt):
        return ""
    err_console.print(f"[dim]each window's prompt follows the frames so far ({planner.name} "
                      "planner: objects turn round at the walls; --hold-prompt to hold it)[/]")  # fmt: skip
    return planner.name


def _say_guard(pipe, window_k: int) -> str:  # type: ignore[no-untyped-def]
    """Say so when a long video's windows are made again where an object drifts (one
    continuation per window and ``guard_tries`` set); the guard's name, or "" where none."""
    if pipe.guard is None or not pipe.config.guard_tries or not pipe.long_windows(window_k):
        return ""
    err_console.print(f"[dim]a window whose object the {pipe.guard.name} guard scores under "
                      f"{pipe.config.guard_threshold:g} is made again (up to "
                      f"{pipe.config.guard_tries} more tries); in the first clip, candidates it "
                      "reads right go first, and an object none of them shows is made "
                      "again[/]")  # fmt: skip
    return pipe.guard.name


def _say_clip_guard(pipe, prompt: str, compose: bool) -> str:  # type: ignore[no-untyped-def]
    """Say so when a clip's objects are read by the identity guard (``guard_clips``, a guard
    and ``guard_tries`` set in pipeline.json, and a prompt whose rows, each object's where it
    is composed, the guard reads); the guard's name, or "" where none."""
    import numpy as np

    from kinema.safety.request import read_request

    if not pipe.config.guard_clips:
        return ""
    said = read_request(prompt).prompt
    rows = pipe.parts_for([said], compose)[0] or [said]
    # what _guard_clip reads (no guard, no tries, or no row it reads: None); a blank frame
    # per row, as the guard reads the prompt here, not pixels
    if pipe.guard_references(rows, np.zeros((len(rows), 1, 16, 16, 3), np.uint8)) is None:
        return ""
    err_console.print(f"[dim]the {pipe.guard.name} guard reads each object's candidates: those "
                      "it reads as the prompt names them go first, and an object none of them "
                      f"shows is made again (up to {pipe.config.guard_tries} more tries)[/]")  # fmt: skip
    return pipe.guard.name


def _say_best_of(pipe, prompt: str, candidates: int | None, where: str = "",  # type: ignore[no-untyped-def]
                 choice: str = "clips", steps: int | None = None,
                 params: dict | None = None, image: bool = False,
                 composed: bool = False) -> int:  # fmt: skip
    """Say so when the pipeline keeps the best of several samples; how many it samples.
    ``choice``: "clips" (text or image to video) and "windows" (extension) are chosen by the
    verifier, "completions" (fill, interpolate) by their consensus. Clips screened from more
    drafts (``Pipeline.drafts_for``; ``image``: image to video's screen; ``composed``: a
    composed prompt's objects in text to video) say so too, and ``params`` (the credentials')
    gets the drafts as "drafts"."""
    n = pipe.candidates_for(prompt, candidates, choice)
    window = choice == "windows"
    drafts = pipe.drafts_for(n, steps, image, window, composed) if choice != "completions" else n
    if n > 1 and choice == "completions":
        err_console.print(f"[dim]{n} completions, keeping the one closest to the others "
                          "(--candidates 1: one)[/]")  # fmt: skip
    elif window and n == 1 and drafts > 1:  # one continuation a window, from screened drafts
        err_console.print(f"[dim]each window continues from the best of {drafts} drafts the "
                          f"{pipe.config.verifier} verifier reads at step "
                          f"{pipe.screen_step_for(window=True)} of "
                          f"{steps or pipe.steps_for(window=True)}, "
                          "finished (pipeline.json's window_screen_drafts)[/]")  # fmt: skip
    elif n > 1:
        what = "continuations per window" if choice == "windows" else "clips"
        screened = (f" (the {n} of {drafts} drafts the verifier reads best at step "
                    f"{pipe.screen_step_for(image, window)} of "
                    f"{steps or pipe.steps_for(image, window, n, text=True)}, "
                    "finished)" if drafts > n else "")  # fmt: skip
        err_console.print(f"[dim]best of {n} {what}{where}{screened}, chosen by the "
                          f"{pipe.config.verifier} verifier (--candidates 1: one)[/]")  # fmt: skip
    if params is not None and drafts > n:
        params["drafts"] = drafts
    return n


def _say_pasted_negative(prompt: str) -> None:
    """Say so when the prompt holds a pasted negative field (it is used as a negative prompt) or
    is a whole JSON request body (only its prompt is read)."""
    from kinema.safety.request import read_request

    req = read_request(prompt)
    if req.negative:
        err_console.print(f"[dim]read as a negative prompt (pasted in the prompt): "
                          f"{escape(req.negative)}; prompt: {escape(req.prompt)}[/]")  # fmt: skip
    elif req.prompt != prompt.strip():  # a JSON body: only its prompt is read
        err_console.print(f"[dim]read from the pasted request body: prompt: {escape(req.prompt)} "
                          f"(its other fields are not read; give them as options)[/]")  # fmt: skip


def _seed(seed: int | None) -> int:
    if seed is not None:
        return seed
    import random

    return random.SystemRandom().randrange(2**31)


def _report(output: Path, video, seed: int, timings, load: float) -> None:
    console.print(
        f"{output}: {video.num_frames} frames {video.width}x{video.height} at {video.fps:g} fps, "
        f"seed {seed}; text {timings.text:.2f}s, sampling {timings.sampling:.2f}s, "
        f"decode {timings.decode:.2f}s"
        + (f", verify {timings.verify:.2f}s" if timings.verify else "")
        + f" (+ {load:.1f}s loading)"
    )


SeedOpt = Annotated[int | None, typer.Option(help="Random seed (default: a fresh one).")]
SafetyOpt = Annotated[
    bool,
    typer.Option(
        "--safety/--no-safety",
        help="Prompt moderation + invisible watermark (on by default; off prints a warning).",
    ),
]
VisibleOpt = Annotated[
    bool, typer.Option("--visible-mark", help="Add a small 'AI' tag in the corner.")
]
SignPromptOpt = Annotated[
    bool,
    typer.Option(
        "--sign-prompt", help="Put the prompt's text in the C2PA manifest (default: its hash)."
    ),
]
WeightsOpt = Annotated[
    Path | None, typer.Option(help="Pipeline folder (default: the embedded model).")
]
StepsOpt = Annotated[int | None, typer.Option(help="Sampler steps (default: the model's).")]


def _edit(
    call,
    output: Path,
    force: bool,
    weights: Path | None,
    safety: bool,
    seed: int | None,
    steps: int | None,
    out: _Out,
    candidates: int | None = None,
    choice: str = "clips",
    plan: bool | None = None,
    read_from: np.ndarray | None = None,
    known: np.ndarray | None = None,
    compose: bool | None = None,
) -> None:
    """Load the pipeline, run one edit with a progress bar, write the video and report. The
    edit samples ``candidates`` (None: the model's number for the mode) and keeps one, chosen
    as ``choice`` says (``_say_best_of``). ``plan``: an extension, whose windows read the
    pipeline's planner's prompts (True) or the prompt held (False); the credentials say which.
    ``read_from``: frames given without a prompt, whose reading by the pipeline's verifier
    (``Pipeline.caption_for``) becomes the prompt (``call`` gets it as ``prompt=``), said and
    recorded as such. ``known``: fill / interpolate's given frames (bool [T]); a video longer
    than the pipeline's ``fill_window`` is filled window by window, said and recorded.
    ``compose``: image to video, whose prompt the pipeline's composer may make one object at a
    time (True) or not (False); said and recorded where it does."""
    from kinema.pipelines.text_to_video import Timings, check_candidates, fill_plan

    if candidates is not None:
        check_candidates(candidates)  # before the model loads
    pipe, load = _load_pipeline(weights, safety)
    seed = _seed(seed)
    read = pipe.caption_for(read_from) if read_from is not None else None
    if read is not None:
        err_console.print(f"[dim]no prompt: the verifier reads {read!r} in the video's last "
                          "frames, and that is what is continued (--prompt to say otherwise, "
                          "--prompt '' for none)[/]")  # fmt: skip
        out = dataclasses.replace(out, prompt=read)
        call = functools.partial(call, prompt=read)
    _say_pasted_negative(out.prompt)
    image = choice == "clips"  # animate: image to video, which may take its own step count
    params = {"seed": seed, "context_guidance": _context_guidance(pipe, out.mode)}
    params["candidates"] = _say_best_of(pipe, out.prompt, candidates, choice=choice,
                                        steps=steps, params=params, image=image)  # fmt: skip
    total = steps or pipe.steps_for(image, choice == "windows", params["candidates"])
    params["steps"] = total
    if plan is not None:
        params["window_planner"] = _say_planner(pipe, out.prompt, plan)
    if compose is not None and (composed := _say_composed(pipe, out.prompt, compose)):
        params["composed_of"] = composed
    if read is not None:
        params["prompt_read_from_video"] = True
    window = pipe.config.fill_window
    if known is not None and window and len(known) > window:  # the DiT sees windows, not all
        windows = len(fill_plan(known, window))
        err_console.print(f"[dim]{len(known)} frames: filled in {windows} "
                          f"window{'s' if windows > 1 else ''} of {window} around what is "
                          "missing, left to right[/]")  # fmt: skip
        params["fill_window"] = window
        total *= windows
    timings = Timings()
    with _progress() as bar:
        task = bar.add_task("sampling", total=total)
        video = call(
            pipe,
            timings=timings,
            seed=seed,
            callback=lambda i, n: bar.update(task, completed=i, total=n),
            candidates=candidates,
        )
    _save(video, output, force, pipe, out, params)
    _report(output, video, seed, timings, load)


def _context_guidance(pipe, mode: str) -> float:  # type: ignore[no-untyped-def]
    """The guidance on the given frames a mode samples with (``PipelineConfig``): fill and
    interpolation take ``fill_context_guidance``, continuations (animate, extend, a long
    video's windows) ``context_guidance``."""
    config = pipe.config
    fill = mode in ("fill", "interpolate")
    return float(config.fill_context_guidance if fill else config.context_guidance)


@dataclass(frozen=True)
class _Out:
    """What goes into a written file besides the frames: the credentials' story and marks."""

    prompt: str
    mode: str  # generate | animate | extend | fill | interpolate
    visible_mark: bool = False
    sign_prompt: bool = False


def _save(video, output: Path, force: bool, pipe, out: _Out, params: dict) -> None:  # type: ignore[type-arg]
    """Write a generated video with its content credentials (C2PA), and the visible mark if
    asked; the invisible watermark is already in the frames (the pipeline put it there)."""
    from kinema.io.video import Video
    from kinema.safety.provenance import GenerationInfo, write_signed
    from kinema.safety.watermark import visible_mark

    if out.visible_mark:
        video = Video(visible_mark(video.frames), video.fps)
    info = GenerationInfo(
        model_id=pipe.model_id,
        prompt=out.prompt,
        include_prompt=out.sign_prompt,
        parameters={"mode": out.mode, **params},
        watermarked=pipe.watermark_key is not None,
    )
    _, signed = write_signed(video, output, info, overwrite=force)
    if not signed:
        err_console.print(
            f"note: {output.suffix} files cannot carry C2PA content credentials; "
            "write .mp4, .gif or a PNG folder for signed output"
        )


@app.command("animate")
def animate(
    image: Annotated[Path, typer.Argument(help="A still image (PNG, JPEG, ...): frame 0.")],
    prompt: Annotated[str, typer.Argument(help="What happens next.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Video file to write.")] = Path(
        "outputs/animated.mp4"
    ),
    frames: Annotated[int, typer.Option(help="Frames, 1 + 4k, the image included.")] = 17,
    size: Annotated[
        str | None, typer.Option("--size", help="WxH (default: the image's, rounded to 16).")
    ] = None,
    steps: StepsOpt = None,
    seed: SeedOpt = None,
    weights: WeightsOpt = None,
    safety: SafetyOpt = True,
    visible_mark: VisibleOpt = False,
    sign_prompt: SignPromptOpt = False,
    candidates: CandidatesOpt = None,
    compose: ComposeOpt = True,
    force: ForceOpt = False,
) -> None:
    """Animate a still image: it becomes frame 0 of a video that follows the prompt. A
    prompt with several objects is made one object at a time where the model's composer reads
    it: the image taken apart per object, each object's still animated by its own prompt, the
    clips laid together (--one-pass for the whole prompt at once)."""
    from kinema.io.video import check_output, read_video
    from kinema.pipelines.text_to_video import check_request

    with _user_errors():
        check_output(output, force)
        still = read_video(image, end=1).frames[0]
        h, w = still.shape[:2]
        height, width = parse_size(size) if size else (max(16, h // 16 * 16), max(16, w // 16 * 16))
        check_request(frames, height, width, steps or 1, 1.0)
        if (height, width) != (h, w):
            err_console.print(f"note: {image} is {w}x{h}; resized/cropped to {width}x{height}")
        call = lambda pipe, **kw: pipe(prompt, image=still, num_frames=frames, height=height,  # noqa: E731
                                       width=width, num_inference_steps=steps,
                                       compose=compose, **kw)  # fmt: skip
        _edit(
            call,
            output,
            force,
            weights,
            safety,
            seed,
            steps,
            _Out(prompt, "animate", visible_mark, sign_prompt),
            candidates,
            compose=compose,
        )


@app.command("extend")
def extend(
    video: Annotated[Path, typer.Argument(help="The video to continue.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Video file to write.")] = Path(
        "outputs/extended.mp4"
    ),
    seconds: Annotated[float, typer.Option(help="Seconds to add (rounded to 4 frames).")] = 4.0,
    prompt: Annotated[
        str | None,
        typer.Option(
            help="What should happen (default: what the model's verifier reads in the video's "
            "last frames, where it reads a scene; --prompt '' for none)."
        ),
    ] = None,
    steps: StepsOpt = None,
    seed: SeedOpt = None,
    weights: WeightsOpt = None,
    safety: SafetyOpt = True,
    visible_mark: VisibleOpt = False,
    sign_prompt: SignPromptOpt = False,
    candidates: WindowCandidatesOpt = None,
    plan: PlanOpt = True,
    force: ForceOpt = False,
) -> None:
    """Continue a video: new frames after its end, the original kept exactly."""
    from kinema.io.video import check_output, read_video
    from kinema.pipelines.text_to_video import MAX_FRAMES, check_extension

    with _user_errors():
        check_output(output, force)
        src = read_video(video)
        new = max(4, _frames_for(seconds, src.fps))
        if new > MAX_FRAMES - 1:
            raise InvalidInputError(
                f"--seconds {seconds:g} at the video's {src.fps:g} fps is {new} new frames; "
                f"extend adds at most {MAX_FRAMES - 1} per call"
            )
        check_extension(new)

        def call(pipe, prompt: str = prompt or "", **kw):
            _check_fps(src.fps, pipe.config.fps)
            return pipe(prompt, video=src, mode="extend", num_frames=new,
                        num_inference_steps=steps, plan_windows=plan, **kw)  # fmt: skip

        _edit(
            call,
            output,
            force,
            weights,
            safety,
            seed,
            steps,
            _Out(prompt or "", "extend", visible_mark, sign_prompt),
            candidates,
            "windows",
            plan,
            read_from=src.frames if prompt is None else None,
        )


def _frames_for(seconds: float, fps: float) -> int:
    """``--seconds`` at ``fps`` as frames, rounded to a multiple of 4 (0.5 s at 8 fps)."""
    if not math.isfinite(seconds) or not 0 < seconds <= 60.0:
        raise InvalidInputError(f"--seconds must be in (0, 60], got {seconds}")
    return round(seconds * fps / 4) * 4


def _check_fps(fps: float, model_fps: float) -> None:
    if abs(fps - model_fps) > 0.01 * model_fps:
        err_console.print(
            f"note: the video runs at {fps:g} fps, the model was trained at {model_fps:g} fps; "
            "motion speed will differ"
        )


def parse_frames(text: str, total: int) -> list[int]:
    """'5-9' or '3,7,10-12' -> frame indices (inclusive ranges), each checked against ``total``."""
    out: list[int] = []
    try:
        for part in text.split(","):
            a, _, b = part.strip().partition("-")
            lo, hi = int(a), int(b or a)
            if hi < lo:
                raise ValueError
            out.extend(range(lo, hi + 1))
    except ValueError:
        raise InvalidInputError(f"--frames must look like 5-9 or 3,7,10-12, got {text!r}") from None
    bad = [i for i in out if not 0 <= i < total]
    if bad:
        raise InvalidInputError(
            f"frames {bad} are out of range: the video has frames 0..{total - 1}"
        )
    return sorted(set(out))


@app.command("fill")
def fill(
    video: Annotated[Path, typer.Argument(help="A video of 1 + 4k frames.")],
    frames: Annotated[str, typer.Option(help="Frames to regenerate, e.g. 5-9 or 3,7,10-12.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Video file to write.")] = Path(
        "outputs/filled.mp4"
    ),
    prompt: Annotated[str, typer.Option(help="What the video shows (default: no prompt).")] = "",
    steps: StepsOpt = None,
    seed: SeedOpt = None,
    weights: WeightsOpt = None,
    safety: SafetyOpt = True,
    visible_mark: VisibleOpt = False,
    sign_prompt: SignPromptOpt = False,
    candidates: FillCandidatesOpt = None,
    force: ForceOpt = False,
) -> None:
    """Regenerate missing or damaged frames; every other frame is kept exactly."""
    import numpy as np

    from kinema.io.video import check_output, read_video
    from kinema.pipelines.text_to_video import check_fill_length

    with _user_errors():
        check_output(output, force)
        src = read_video(video)
        check_fill_length(src.num_frames)
        missing = parse_frames(frames, src.num_frames)
        call = lambda pipe, **kw: pipe(prompt, video=src, missing=missing,  # noqa: E731
                                       num_inference_steps=steps, **kw)  # fmt: skip
        known = np.ones(src.num_frames, dtype=bool)
        known[missing] = False
        _edit(
            call,
            output,
            force,
            weights,
            safety,
            seed,
            steps,
            _Out(prompt, "fill", visible_mark, sign_prompt),
            candidates,
            "completions",
            known=known,
        )


@app.command("interpolate")
def interpolate(
    video: Annotated[Path, typer.Argument(help="A video; frames x factor must be 1 + 4k.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Video file to write.")] = Path(
        "outputs/interpolated.mp4"
    ),
    factor: Annotated[int, typer.Option(help="Frame-rate multiplier.")] = 2,
    prompt: Annotated[str, typer.Option(help="What the video shows (default: no prompt).")] = "",
    steps: StepsOpt = None,
    seed: SeedOpt = None,
    weights: WeightsOpt = None,
    safety: SafetyOpt = True,
    visible_mark: VisibleOpt = False,
    sign_prompt: SignPromptOpt = False,
    candidates: FillCandidatesOpt = None,
    force: ForceOpt = False,
) -> None:
    """Raise the frame rate: new frames between each pair, originals kept exactly."""
    from kinema.io.video import check_output, read_video
    from kinema.pipelines.text_to_video import interpolated_known

    with _user_errors():
        check_output(output, force)
        src = read_video(video)
        known = interpolated_known(src.num_frames, factor)  # checks the factor and length
        call = lambda pipe, **kw: pipe.interpolate(src, factor=factor, prompt=prompt,  # noqa: E731
                                                   num_inference_steps=steps, **kw)  # fmt: skip
        _edit(
            call,
            output,
            force,
            weights,
            safety,
            seed,
            steps,
            _Out(prompt, "interpolate", visible_mark, sign_prompt),
            candidates,
            "completions",
            known=known,
        )


@vae_app.command("roundtrip")
def vae_roundtrip(
    video: Annotated[Path, typer.Argument(help="Any video file or PNG folder.")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write the reconstruction.")
    ],
    weights: Annotated[
        Path | None, typer.Option(help="VAE folder (default: the shipped one).")
    ] = None,
    side_by_side: Annotated[
        bool, typer.Option(help="Write input | reconstruction next to each other.")
    ] = False,
    force: ForceOpt = False,
) -> None:
    """Encode and decode a video with the VAE; print PSNR and the latent's shape."""
    from kinema.eval.metrics import psnr
    from kinema.io.video import Video, check_output, read_video, write_video
    from kinema.models.vae import CausalVAE
    from kinema.train.vae import to_tensor, to_uint8

    with _user_errors():
        check_output(output, force)
        vae = CausalVAE.from_pretrained(weights)
        src = read_video(video)
        s = vae.cfg.spatial_factor
        t = 1 + (src.num_frames - 1) // 4 * 4
        h, w = src.height // s * s, src.width // s * s
        if h == 0 or w == 0:
            raise InvalidInputError(
                f"{video} is {src.height}x{src.width}; the VAE needs at least {s}x{s}"
            )
        if (t, h, w) != (src.num_frames, src.height, src.width):
            err_console.print(
                f"note: using {t} frames of {h}x{w} (1 + 4k frames, multiples of {s})"
            )
        frames = src.frames[:t, :h, :w]
        import numpy as np
        import torch

        with torch.no_grad():
            x = to_tensor(frames[None])
            z = vae.encode(x, chunk_frames=32)
            y = vae.decode(z, chunk_latents=8)
        out = to_uint8(y)[0]
        if side_by_side:
            out = np.concatenate([frames, out], axis=2)
        write_video(Video(out, src.fps), output, overwrite=force)
    console.print(
        f"latent {tuple(z.shape[1:])} for {t}x{h}x{w}; PSNR {float(psnr(y, x).mean()):.2f} dB -> {output}"
    )


@app.command("keyframes")
def keyframes_cmd(
    video: Annotated[Path, typer.Argument(help="Any video file.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the PNGs.")] = Path(
        "outputs/keyframes"
    ),
    max_frames: Annotated[int, typer.Option("--max", help="Most feature images to pick.")] = 8,
    force: ForceOpt = False,
) -> None:
    """Feature images: the frames that show a video best, a contact sheet and a JSON index."""
    from kinema.io.video import read_video
    from kinema.understand.keyframes import write_keyframes
    from kinema.understand.shots import detect_shots

    with _user_errors():
        if max_frames < 1:
            raise InvalidInputError(f"--max must be at least 1, got {max_frames}")
        if (output / "index.json").exists() and not force:
            raise InvalidInputError(f"{output} already holds keyframes; pass --force to replace")
        src = read_video(video)
        shots = detect_shots(src.frames, src.fps)
        index = write_keyframes(src.frames, src.fps, shots, output, max_frames, str(video))
    times = ", ".join(f"{k['time']:.2f}s" for k in index["keyframes"])  # type: ignore[union-attr]
    console.print(f"{len(shots)} shots; feature images at {times}")
    console.print(f"wrote [bold]{output}[/] (frame_*.png, contact_sheet.png, index.json)")


@app.command("describe")
def describe_cmd(
    video: Annotated[Path, typer.Argument(help="Any video file.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the JSON instead of text.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Also write the JSON here.")
    ] = None,
    keyframes: Annotated[
        Path | None, typer.Option(help="Also write the feature images into this folder.")
    ] = None,
    max_frames: Annotated[int, typer.Option("--max", help="Most feature images.")] = 8,
    weights: WeightsOpt = None,
) -> None:
    """Summarise a video: shots, motion, camera, colours, recognised objects, a caption."""
    from kinema.io.video import read_video
    from kinema.understand.describe import describe, write_description
    from kinema.understand.keyframes import write_keyframes
    from kinema.understand.recognize import Recognizer

    with _user_errors():
        src = read_video(video)
        try:
            recognizer = Recognizer.from_pretrained(weights)
        except InvalidInputError as e:
            err_console.print(f"note: no recognizer ({e}); objects are not named")
            recognizer = None
        desc = describe(src.frames, src.fps, str(video), recognizer, max_frames)
        if output is not None:
            write_description(desc, output)
        if keyframes is not None:
            write_keyframes(src.frames, src.fps, [s.shot for s in desc.shots], keyframes,
                            max_frames, str(video), desc.keyframes)  # fmt: skip
    if as_json:
        print(json.dumps(desc.to_json(), indent=1))
    else:
        console.print(desc.text(), highlight=False)


@data_app.command("curate")
def data_curate(
    raw_dir: Annotated[Path, typer.Argument(help="Folder of raw videos (+ .txt/.json captions).")],
    out: Annotated[Path, typer.Option(help="Dataset folder: clips/ + manifest.jsonl.")] = Path(
        "data/curated"
    ),
    min_seconds: Annotated[float, typer.Option(help="Drop shots shorter than this.")] = 1.0,
    min_motion: Annotated[
        float, typer.Option(help="Drop shots slower than this (share of side per second).")
    ] = 0.01,
    min_brightness: Annotated[float, typer.Option(help="Drop shots darker (0-255).")] = 20.0,
    force: ForceOpt = False,
) -> None:
    """Cut raw videos at shots, drop short/static/dark ones, write clips and a manifest."""
    from kinema.data.curate import CurateConfig, curate

    with _user_errors():
        cfg = CurateConfig(min_seconds=min_seconds, min_motion=min_motion,
                           min_brightness=min_brightness)  # fmt: skip
        report = curate(raw_dir, out, cfg, overwrite=force)
    reasons: dict[str, int] = {}
    for d in report["dropped"]:
        key = d["reason"].split(" (")[0]
        reasons[key] = reasons.get(key, 0) + 1
    console.print(f"{report['videos']} videos -> {report['kept']} clips kept; dropped: "
                  + (", ".join(f"{n} {r}" for r, n in reasons.items()) or "none"))  # fmt: skip
    if report["manifest"]:
        console.print(f"manifest: [bold]{report['manifest']}[/] (train with data.source)")


@app.command("verify")
def verify_cmd(
    file: Annotated[Path, typer.Argument(help="A video or image (.mp4, .png, .gif, ...).")],
    anchors: Annotated[
        Path | None,
        typer.Option(help="PEM file of trusted CA certificates (default: your local Kinema CA)."),
    ] = None,
    key: Annotated[str | None, typer.Option(help="Watermark key (default: Kinema's).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check content credentials (C2PA) and the invisible watermark.

    Exit code 0: credentials valid (or trusted); 1: invalid (changed after signing);
    2: no credentials.
    """
    from kinema.safety.verify import verify
    from kinema.safety.watermark import DEFAULT_KEY

    with _user_errors():
        if anchors is not None and not anchors.is_file():
            raise InvalidInputError(f"--anchors {anchors}: no such file")
        report = verify(file, anchors.read_bytes() if anchors else None, key or DEFAULT_KEY)
    if as_json:
        print(json.dumps(report.to_json(), indent=1))
        raise typer.Exit(report.exit_code)
    cred = report.credential
    colour = {"trusted": "green", "valid": "green", "invalid": "red", "unsigned": "yellow"}
    console.print(f"{file}: C2PA [bold {colour[cred.state]}]{cred.state}[/]"
                  + (f" (signed by {cred.signer})" if cred.signer else ""))  # fmt: skip
    if cred.state == "valid":
        console.print("  signature and content hashes hold; the signer is not among the anchors")
    for reason in cred.reasons:
        console.print(f"  [red]-[/] {reason}")
    if cred.manifest:
        table = Table(show_header=False, box=None, padding=(0, 2))
        for k, v in cred.claims().items():
            table.add_row(f"  {k}", json.dumps(v) if isinstance(v, dict | list) else str(v))
        console.print(table)
    mark = report.watermark
    if mark is None:
        console.print("  watermark: frames too small to check")
    else:
        found = "[green]found[/]" if mark.detected else "not found"
        console.print(
            f"  watermark: {found} (score {mark.score:.1f}, threshold {mark.threshold:g})"
        )
    raise typer.Exit(report.exit_code)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
