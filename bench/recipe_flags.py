"""The sampling-recipe flags the text-to-video benches share (`t2v_eval.py`, `t2v_speed.py`):
each overrides one field of the pipeline's `pipeline.json` for the run."""

from __future__ import annotations

import argparse
import dataclasses
import os

from kinema.hardware import cpu_has_native_bf16, native_bf16
from kinema.pipelines import Pipeline

# flag -> the PipelineConfig field it overrides (argparse's dest is the flag's name)
FIELDS = {
    "screen_drafts": "screen_drafts",
    "screen_step": "screen_step",
    "composer": "composer",
    "guidance_interval": "text_guidance_interval",
    "compose_screen_drafts": "compose_screen_drafts",
    "compose_guidance_interval": "compose_guidance_interval",
}


def add_recipe_flags(ap: argparse.ArgumentParser) -> None:
    """--screen-drafts, --screen-step, --composer, --guidance-interval,
    --compose-screen-drafts and --compose-guidance-interval; None (not given) keeps
    pipeline.json's value."""
    ap.add_argument("--screen-drafts", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--screen-step", type=int, default=None, help="override pipeline.json")
    ap.add_argument("--composer", default=None, help="override pipeline.json ('' for none)")
    interval = dict(type=float, nargs=2, metavar=("LO", "HI"), default=None)
    ap.add_argument(
        "--guidance-interval",
        **interval,
        help="override pipeline.json's text_guidance_interval: the noise levels t where text "
        "to video's steps run guided (below LO the prompt alone, one DiT batch)",
    )
    ap.add_argument(
        "--compose-screen-drafts",
        type=int,
        default=None,
        help="override pipeline.json's compose_screen_drafts: drafts per object of a composed "
        "prompt (0: screen_drafts)",
    )
    ap.add_argument(
        "--compose-guidance-interval",
        **interval,
        help="override pipeline.json's compose_guidance_interval (a composed prompt's objects)",
    )


def with_recipe(pipe: Pipeline, args: argparse.Namespace, **more: object) -> Pipeline:
    """``pipe`` with the recipe flags given in ``args`` (and ``more`` fields, where not None)
    over its config; the same weights, verifier and model id."""
    given = {field: getattr(args, flag) for flag, field in FIELDS.items()}
    given.update(more)
    config = dataclasses.replace(pipe.config, **{k: v for k, v in given.items() if v is not None})
    return Pipeline(pipe.dit, pipe.vae, pipe.text_encoder, config, model_id=pipe.model_id,
                    verifier=pipe.verifier)  # fmt: skip


def numerics(pipe: Pipeline) -> str:
    """What the pipeline's DiT and VAE compute in here: "bf16" where its config asks for bf16
    and the CPU has it natively (or KINEMA_BF16=1 says so), else "fp32"; another sample."""
    return "bf16" if pipe.config.bf16 and native_bf16() else "fp32"


def cpu_note() -> str:
    """Whether this CPU has native bf16, and KINEMA_BF16 where it is set, for a header."""
    env = os.environ.get("KINEMA_BF16")
    return f"native bf16 on this CPU: {cpu_has_native_bf16()}" + (
        f", KINEMA_BF16={env}" if env is not None else ""
    )


def composed_recipe(
    pipe: Pipeline, candidates: int, steps: int | None
) -> tuple[int, tuple[float, float]] | None:
    """(drafts, guidance interval) a composed prompt's objects are sampled with in text to
    video (compose_screen_drafts / compose_guidance_interval), or None where those are a
    one-object prompt's, for K = ``candidates`` clips in ``steps`` sampler steps."""
    drafts = pipe.drafts_for(candidates, steps, composed=True)
    interval = pipe.interval_for(text=True, composed=True)
    if (drafts, interval) == (pipe.drafts_for(candidates, steps), pipe.interval_for(text=True)):
        return None
    return drafts, interval
