"""Text-to-video: prompt -> MiniLM tokens -> rectified-flow sampling of VAE latents by the DiT
(classifier-free guidance) -> VAE decode -> ``Video``.

``Pipeline.from_pretrained(dir)`` reads ``dit.safetensors``/``dit_config.json``,
``vae.safetensors``/``vae_config.json`` and ``pipeline.json`` (sampling defaults) from one
directory, by default the embedded ``kinema/weights``. A call keeps no state on ``self``, so one
pipeline may serve concurrent calls.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from kinema.config import FlowConfig, build_config
from kinema.diffusion import euler, heun, sample_timesteps, shift_for_tokens
from kinema.errors import InvalidInputError
from kinema.hardware import bf16_autocast
from kinema.io.video import Video, resize_frames
from kinema.models.dit import DiT, TextContext, check_parts
from kinema.models.layers import StreamCache
from kinema.models.text import TextEncoder
from kinema.models.vae import CausalVAE, default_weights_dir
from kinema.pipelines.anchor import ANCHORS, Anchor
from kinema.pipelines.compose import COMPOSERS, Composer
from kinema.pipelines.guard import GUARDS, Guard
from kinema.pipelines.plan import PLANNERS, WindowPlanner
from kinema.pipelines.verify import VERIFIERS, Verifier
from kinema.safety.moderation import Moderator
from kinema.safety.request import read_request
from kinema.safety.watermark import DEFAULT_KEY, embed
from kinema.world.captions import rewrite_prompt as shapes_world_rewrite

PIPELINE_NAME = "pipeline.json"
# pipeline.json's prompt_rewrite -> prompt -> the text the DiT reads, or None to keep the prompt
PROMPT_REWRITES: dict[str, Callable[[str], str | None]] = {
    "": lambda prompt: None,
    "shapes-world": shapes_world_rewrite,
}
MAX_FRAMES = 481  # a minute at 8 fps
MAX_CANDIDATES = 16
MIN_SIDE, MAX_SIDE = 16, 512
# pipeline.json's window_decode: how a long video's windows are decoded (PipelineConfig)
WINDOW_DECODES = ("stream", "window")


# a guard's k-th try of window w samples with seed + w + k * GUARD_SEED_STRIDE: no other
# window's noise
GUARD_SEED_STRIDE = 1_000_003


@dataclass
class PipelineConfig:
    """Sampling defaults stored next to the weights (``pipeline.json``)."""

    steps: int = 20  # sampler steps (Euler: one DiT call per step, x2 with guidance)
    guidance: float = 4.0  # classifier-free guidance scale; 1 = off
    # noise levels t (1 = pure noise) where guidance applies; outside it the DiT runs on the
    # prompt alone, one batch instead of two (Kynkaanniemi et al. 2024, "Applying guidance in
    # a limited interval"). [0, 1] = every step.
    guidance_interval: tuple[float, float] = (0.0, 1.0)
    # guidance on the given frames of a continuation (image to video, extension and a long
    # video's windows), as InstructPix2Pix guides on its input image:
    # v = v(-, -) + c [v(ctx, -) - v(-, -)] + g [v(ctx, text) - v(ctx, -)], with "-" the empty
    # prompt or the context frames noised like the rest (the model's t2v case). c = 1 is the
    # plain text guidance with the context in both branches; c = guidance drops text and
    # context together (still two DiT batches, no extra cost); other values take three.
    # Tuning stream (bench/results/edit_eval_i2v-*_cg-*_i2v_tune.md, edit_eval_cg-4_*_tune.md):
    # image to video, 200 cases, all right with the best of 3 / one clip: 62.5% / 55.0% with
    # c = 1, 71.5% / 63.0% with c = 4 (one clip: c = 2.5 57.5%, c = 8 57.0%); extension, 100
    # cases, best of 6, colour + shape / direction 93.8% / 90.7% -> 97.0% / 90.0%
    context_guidance: float = 1.0
    # the same for fill (frames given on both sides of the gap). 40 tuning cases, pooled PSNR:
    # 25.90 dB with c = 1 against 25.33 with c = 4 (bench/results/edit_eval_cg-{1,4}_fill_tune.md);
    # interpolation 29.25 / 29.26 dB (it runs with this value too)
    fill_context_guidance: float = 1.0
    sampler: str = "euler"  # euler | heun
    fps: float = 8.0  # Shapes World runs at 8 fps
    text_model: str = ""  # "" = the packaged all-MiniLM-L6-v2; or a local path
    # bf16 autocast for the DiT and VAE on CPUs with native bf16 (AVX512-BF16 / AMX: ~2.5x
    # faster); on other CPUs torch emulates bf16, slower than fp32, so it runs in fp32 there
    # (kinema.hardware.native_bf16)
    bf16: bool = True
    watermark_key: str = DEFAULT_KEY  # key of the invisible watermark on every generated frame
    # extension / long video: each sliding window conditions on the last `extend_context` pixel
    # frames (1 + 4k) and adds up to `extend_window` new ones (a multiple of 4); the two
    # together should stay at the latent length the model was trained on (5 latents = 17 frames).
    # 5 + 12 (2 + 3 latents) against 9 + 8 (3 + 2), 60 s from 10 prompts (bench/edit_eval.py):
    # identity 34% vs 37%, motion 44% vs 31%, seams 0.70 vs 0.66 dB, and 1.5x fewer windows
    extend_context: int = 5
    extend_window: int = 12
    # what the DiT reads in text to video: "" = the prompt as written; "shapes-world" = the
    # canonical caption of a prompt that reads unambiguously as a Shapes World scene
    # (kinema.world.rewrite_prompt), the phrasing the shipped model follows best (60 tuning
    # prompts, one object, held-out phrasing: all-right 56.7% as written vs 66.7% rewritten); a
    # model trained on other captions leaves it empty. With frames given (i2v, extend, fill, a
    # long video's windows) the DiT reads the prompt as written: with the frames in context the
    # rewrite cost shape (80 tuning cases: i2v 53.8% vs 50.0%, extend 90.6% vs 88.4%)
    prompt_rewrite: str = ""
    # best of N in text and image to video (a long video's first clip too, not its extension
    # windows, whose cost per second must stay flat): sample `candidates` clips per prompt in
    # one batch and keep the one `verifier` (kinema.pipelines.verify.VERIFIERS, loaded from the
    # weights folder) scores closest to the prompt; 1 = one clip, no verifier run. Candidate 0
    # is the clip a single sample gives with the same seed. Prompts the verifier cannot read get
    # one clip. The cost is N x the sampling and decoding.
    candidates: int = 1
    # screened best of N (text and image to video, where `candidates` > 1): sample
    # `screen_drafts` noise draws per prompt instead, run them to sampler step `screen_step`,
    # decode each one's data estimate there (x0 = x - t v, from the velocity that step computes
    # anyway) for the verifier to read, and finish only the best `candidates` of them, which the
    # verifier then chooses among as before. Shape and layout are settled early in a flow
    # sample, so a cheap look at many starts buys what finishing them all would, at a fraction
    # of the cost: D (s + 1) + K (steps - s - 1) DiT batches for D drafts, K finished, step s.
    # 0 = off (the `candidates` draws are all finished). 160 tuning prompts, one object
    # (bench/results/t2v_screen_tune.md): best of 3 85.6% (60 batches), best of 8 93.8% (160),
    # 8 drafts screened at step 5 with the best 2 finished 93.1% (76), at step 3 88.1% (64).
    screen_drafts: int = 0
    screen_step: int = 3
    # the same in image to video, where the given frame settles shape and layout and what is
    # left to tell apart (the motion, two objects' above all) shows later: 100 tuning cases
    # (bench/results/t2v_screen_tune_i2v.md), 20 steps, 8 drafts with the best 2 finished:
    # 85% read at step 5, 89% at 7, 91% at 9, against 80% for the best of 3. Counted in
    # `image_steps`: with 30, 12 drafts, 92% read at step 13 (t = 0.57, where step 9 of 20
    # is), 91% at 10 and 14 (t2v_screen_tune_i2v_steps-30_0-100.md). 0 = screen_step
    image_screen_step: int = 0
    # and with more drafts there (image to video has no speed goal; a draft costs what one
    # does in text to video): 50 more tuning cases (t2v_screen_tune_i2v_0-50.md), read at step
    # 9 with the best 2 finished: 90% from 8 drafts, 96% from 12 or 16. 0 = screen_drafts
    image_screen_drafts: int = 0
    # sampler steps in image to video where the call names none (0 = `steps`): it has no speed
    # goal, and the model alone follows the prompt a little better with more (200 tuning cases,
    # one clip each: 66.0% with 20 Euler steps, 69.0% with 30, 68.0% with 40,
    # bench/results/i2v_steps_sweep_tune.md; screened from 12 drafts, 100 cases: 91% with 20,
    # 92% with 30). `image_screen_step` counts in these steps
    image_steps: int = 0
    # sampler steps in text to video where the call names none (0 = `steps`; extension, fill
    # and, with `window_steps` 0, a long video's windows keep `steps`). `screen_step` counts
    # in these steps. Shipped: 12, with 4 drafts read at step 3 and every clip guarded
    # (`guard_clips`): 32 DiT batches a clip against 76 for 8 drafts read at step 5 of 20. 150
    # one-object tuning prompts, 96.7% all-right in 267 s against 98.0% in 562 s; 60 two-object
    # ones composed, 88.3% (bench/results/t2v_eval_*cheap-4d-12s_guarded_tune.md; README,
    # "With the guard, a cheaper recipe")
    text_steps: int = 0
    # sampler steps in a long video's windows where the call names none (0 = `steps`): windows
    # of an extension that keep one continuation each, as `kinema generate --seconds` makes
    # them (`kinema extend`'s best of `extend_candidates` keeps `steps`). A minute's time is
    # almost all its windows' sampling (29 windows of 2 x 5 latents per step)
    window_steps: int = 0
    # the same windows' layout (0 = `extend_context` / `extend_window`): pixel frames of
    # context each reads (1 + 4k) and new frames each adds (a multiple of 4). 1 + 16 is 5
    # latents, the trained length, each window an image to video call on the last frame
    # made, the planner's prompt saying which way things go: 39 windows of 2 + 3 latents a
    # minute become 29 of 1 + 4, 26% fewer latents sampled. 20 tuning minutes paired with 5 +
    # 12 (bench/results/long_compare_window-1+16_tune.md): identity -0.6 +- 0.7, motion +3.2
    # +- 2.6, seams -0.2 dB; 5 + 28 (33 frames): identity -2.1 +- 1.3, seams +0.7 dB. README,
    # "Windows of one frame and sixteen"
    window_context: int = 0
    window_frames: int = 0
    # how the same windows' latents become pixels: "stream" = every window's new latents
    # continue one causal decoder stream (``StreamCache``; no restart at a seam, each latent
    # decoded once); "window" = each window's new latents decoded from a fresh decoder state
    # after the latents of its context frames as the video keeps them (with an anchor, not
    # the redrawn ones the DiT read), the context's frames dropped. The DiT makes a window's
    # first new latent to follow its context latent, an image's first latent; the stream
    # decodes it after the window before's last latent, so the first 4 frames of every window
    # came out soft (an object's area 14-17% under the rest of the window's) and, where
    # another object hid an object in the window's other frames, it read as another shape
    # (README, "Each window decoded after its own context"). One frame more encoded and one
    # latent more decoded a window
    window_decode: str = "stream"
    # guidance_interval in a long video's windows (None = `guidance_interval`): the noise
    # levels t where those windows' steps run guided (two DiT batches, the prompt and context
    # dropped together); below the interval's low end a step runs the prompt with its context
    # alone, one batch. A minute's time is almost all its windows' sampling: [0.38, 1] (the
    # last 7 of 20 steps unguided) is 17.5% fewer DiT rows, and 20 tuning minutes paired with
    # [0, 1] read identity +0.6 +- 0.8, motion +2.1 +- 2.1 points ([0.28, 1], 5 steps: +0.6 +-
    # 0.7, +2.3 +- 2.5; bench/results/long_compare_window-guidance-*_tune.md; README,
    # "Guidance on a window's last steps")
    window_guidance_interval: tuple[float, float] | None = None
    # guidance_interval in text to video (None = `guidance_interval`; image to video, extension
    # and fill keep that): below the interval's low end a step runs the prompt alone, one DiT
    # batch instead of two. One object's clips keep every step guided: 150 held-out one-object
    # prompts read 89.3% all-right with [0.7, 1] and 3 drafts against 95.3% (bf16; bench/results/
    # t2v_compose_recipe/one-object_3-drafts_guided-0.7_eval.md); a composed prompt's objects take
    # `compose_guidance_interval`
    text_guidance_interval: tuple[float, float] | None = None
    # best of N per extension window: each window samples `extend_candidates` continuations
    # and keeps the one the verifier reads closest to the prompt, over the window's context and
    # new frames (a linear motion counted either way round: objects reflect off walls); 1 = one
    # per window. 100 tuning cases, colour + shape / direction: 87.4 / 88.0% with 1, 88.9 /
    # 91.3% with 3, 93.8 / 90.7% with 6. `kinema generate --seconds` keeps one per window in a
    # long video (best of 3 there: no identity gained, 2.4x the time)
    extend_candidates: int = 1
    # screened windows: where an extension keeps fewer continuations per window than this
    # (a long video's windows keep one each, for its time budget), each window starts
    # `window_screen_drafts` drafts instead, runs them to step `window_screen_step` (0 =
    # `screen_step`), the verifier reads their data estimates there as it reads a window
    # (context and new frames, a linear motion either way round) and the best go on, one
    # continuation finished per window as before. 0 = off. A minute drifts away from its prompt
    # window by window (a shape rounds off, the scene falls apart, and every later window
    # continues it); the screen looks for that drift at D (s + 1) + (steps - s - 1) DiT batches
    # a window instead of N x steps. Off as shipped: on 30 tuning minutes (paired, per minute)
    # 3 drafts read at step 3 moved identity / motion by +1.4 +- 3.6 / +1.8 +- 1.8 points for
    # 1.2x the minute's time, 6 read at step 5 by +2.3 +- 4.0 / +4.9 +- 2.7 for 1.6x, past
    # the minute's 60 s (bench/results/edit_eval_window-screen-*_tune.md)
    window_screen_drafts: int = 0
    window_screen_step: int = 0
    # fill and interpolate: sample `fill_candidates` completions in one batch and keep the one
    # closest to the others (mean squared pixel error over the regenerated frames): the
    # minimum-Bayes-risk choice under squared error, a real sample near the centre of what the
    # model believes, with no verifier. 200 tuning cases, frames 5-8 of 17, pooled PSNR over
    # one completion: +0.50 / +0.59 dB with 4, +0.98 / +0.63 dB with 8
    # (bench/results/fill_candidates_tune.md). The cost is N x the sampling and decoding.
    fill_candidates: int = 1
    # fill and interpolate in windows of this many frames (1 + 4k; 0 = the whole video at
    # once): a video longer than the window is filled window by window, left to right, each
    # window seeing (fill_window - 1) // 4 frames past the missing ones it fills and taking
    # the frames earlier windows filled as given (``fill_plan``). The DiT then only ever
    # reads clips as long as it was trained on (at most 33 frames), and a frame missing in
    # a minute costs one window, not the minute
    fill_window: int = 0
    verifier: str = ""
    # what each extension window's DiT reads (kinema.pipelines.plan.PLANNERS): "" = the prompt,
    # held in every window; "shapes-world" = the prompt with each linear motion turned the
    # way the world's wall reflections have it by then (read from the frames made so far),
    # restated only where one turns. 60 s videos from 31 tuning prompts, identity per frame /
    # motion per 2 s window: 52.1% / 55.1% held, 56.1% / 72.1% planned (identity +4.0 +- 4.4,
    # motion +17.0 +- 4.8 points; bench/results/edit_eval_planner-*_long*_tune.md); on 31 eval
    # minutes identity -10.7 +- 4.5, motion +17.7 +- 5.8 (an object stuck at a wall keeps its
    # shape; moving and turning it loses some): --hold-prompt keeps that side of the trade
    planner: str = ""
    # how text and image to video make a prompt with several objects
    # (kinema.pipelines.compose.COMPOSERS): "" = in one pass; "shapes-world" = each object
    # alone (same sampler, screen and verifier as a one-object prompt; in image to video from
    # its part of the image), laid over the prompt's background; and, asked for with
    # compose=True (a long video's windows), each object's clip extended alone. 60 two-object
    # tuning prompts: 71.7% all-right against 21.7% in one pass
    # (bench/results/t2v_eval_composed_tune.md); image to video, 100 two-object tuning cases:
    # 94.0% against 80.0% (edit_eval_composed_i2v_tune.md); compose=False / --one-pass skip it
    composer: str = ""
    # text to video of a prompt the composer splits: each object's clip is sampled as a
    # one-object prompt's is, but from `compose_screen_drafts` drafts (0 = `screen_drafts`) and
    # guided at `compose_guidance_interval` (None = `text_guidance_interval`), so that N objects
    # do not cost N one-object clips. Shipped: 3 drafts, guided at t >= 0.7 (12 steps: the 8
    # after the drafts are read run the prompt alone), 40 DiT rows an object against 64. 60
    # two-object tuning prompts 93.3% all-right against 86.7% (bench/results/
    # t2v_compose_recipe/NOTE.md); the eval's 150, 82.7% against 85.3%, both bf16
    # (t2v_eval_composed_{compose-recipe,bf16_recipe-before}.md). A call whose prompts are not all composed samples
    # every row the one-object way
    compose_screen_drafts: int = 0
    compose_guidance_interval: tuple[float, float] | None = None
    # identity guard on a long video's windows (kinema.pipelines.guard.GUARDS; where an
    # extension keeps one continuation per window, as `kinema generate --seconds` does): after
    # each window the guard scores each one-object row's new frames (shapes-world: the
    # silhouette against the given frames', IoU aligned on centres; shapes-world-area: the
    # area; shapes-world-reading: the prompted shape as the world's reader reads it), and a
    # window scoring under `guard_threshold` is sampled again with other noise, up to
    # `guard_tries` times, the best-scoring try kept. "" or 0 tries = off. Before the anchor,
    # on 10 tuning minutes, IoU < 0.8 / area < 0.9 with 2 tries read identity -7.0 +- 5.5 /
    # +0.4 +- 6.7 points for 2.6x / 2.9x the minute's time (their context carried the drift);
    # with the anchor, the reading guard under 0.5 with 2 tries took identity 95.5% -> 99.3%
    # (shipped; under 0.6: 98.1%, more windows made again; README, "The identity guard").
    # A long video's first clip (Pipeline(..., guarded=True), as `kinema generate --seconds`
    # asks) is read the same way: candidates read right first, an object read in none made
    # again (README, "The first clip, guarded")
    guard: str = ""
    guard_threshold: float = 0.0
    guard_tries: int = 0
    # every text-to-video clip guarded as a long video's first clip is (the default of
    # Pipeline(..., guarded=None)): the guard reads each object's candidates, those it reads
    # as their prompt names them go first, an object none of them shows is made again. 150
    # one-object tuning prompts: 90.7% -> 98.0% all-right, 9% more time
    # (bench/results/t2v_eval_one-object_{unguarded,guarded}_tune.md; README, "Every clip
    # guarded"). False: only a long video's first clip (guarded=True) is
    guard_clips: bool = False
    # identity anchor on a long video's windows (kinema.pipelines.anchor.ANCHORS; where an
    # extension keeps one continuation per window, as `kinema generate --seconds` does): before
    # each window, the context frames the DiT reads (not the frames the video keeps) get each
    # one-object row's object put back as it was, so a minute's drift does not add up window by
    # window. 10 tuning minutes, identity / motion per 2 s against 68.5% / 82.0% without one:
    # "shapes-world" (rescaled to its given area) 83.1% / 87.1%; "shapes-world-size" (to the
    # prompt's size) 89.3% / 87.1%; "shapes-world-sprite" (redrawn as the given frames drew
    # it, at the prompt's size) 92.5% / 86.0%, and 95.5% / 86.7% with an object's area
    # counted with its soft rim (bench/results/edit_eval_anchor*_long_tune.md). With the
    # reading guard on, 10 other tuning minutes: "shapes-world-sprite" 93.1% / 81.7%,
    # "shapes-world-drawn" (the prompt's shape and size as the world draws them, whole pixels)
    # 97.9% / 78.3%, the same between pixels 97.8% / 71.8% (motion: noise of 10 minutes;
    # bench/results/long_diag_guard-reading*_tune-10-19.log). "shapes-world-held" (shipped):
    # drawn, and put back on the line its motion keeps it on (a bouncing object's x, a
    # sliding one's y); 20 tuning minutes paired with drawn, identity +0.6 +- 0.5, motion
    # +0.7 +- 0.9 (long_compare_held_tune.md), 30 with ten more +0.0 +- 0.6 / +0.6 +- 0.7
    # (long_compare_held_tune-30.md); the eval's ten, 97.9% -> 99.4% (README, "The held
    # anchor"). "" = off
    anchor: str = ""
    flow: FlowConfig = field(default_factory=FlowConfig)

    def __post_init__(self) -> None:
        if self.extend_context < 1 or (self.extend_context - 1) % 4:
            raise InvalidInputError(
                f"extend_context must be 1 + 4k pixel frames (1, 5, 9, ...), got {self.extend_context}"
            )
        self.guidance_interval = check_interval(self.guidance_interval, "guidance_interval")
        for name in ("window_guidance_interval", "text_guidance_interval",
                     "compose_guidance_interval"):  # fmt: skip
            if getattr(self, name) is not None:
                setattr(self, name, check_interval(getattr(self, name), name))
        for name in ("context_guidance", "fill_context_guidance"):
            check_context_guidance(getattr(self, name), name)
        if self.prompt_rewrite not in PROMPT_REWRITES:
            raise InvalidInputError(
                f"prompt_rewrite must be one of {sorted(PROMPT_REWRITES)}, got {self.prompt_rewrite!r}"
            )
        if self.planner and self.planner not in PLANNERS:
            raise InvalidInputError(
                f"planner must be '' or one of {sorted(PLANNERS)}, got {self.planner!r}"
            )
        if self.composer and self.composer not in COMPOSERS:
            raise InvalidInputError(
                f"composer must be '' or one of {sorted(COMPOSERS)}, got {self.composer!r}"
            )
        if self.guard and self.guard not in GUARDS:
            raise InvalidInputError(
                f"guard must be '' or one of {sorted(GUARDS)}, got {self.guard!r}"
            )
        if self.anchor and self.anchor not in ANCHORS:
            raise InvalidInputError(
                f"anchor must be '' or one of {sorted(ANCHORS)}, got {self.anchor!r}"
            )
        if not 0.0 <= self.guard_threshold <= 1.0:
            raise InvalidInputError(
                f"guard_threshold must be in [0, 1], got {self.guard_threshold!r}"
            )
        if (
            isinstance(self.guard_tries, bool)
            or not isinstance(self.guard_tries, int)
            or not (0 <= self.guard_tries <= MAX_CANDIDATES)
        ):
            raise InvalidInputError(
                f"guard_tries must be an int in 0..{MAX_CANDIDATES}, got {self.guard_tries!r}"
            )
        if not isinstance(self.guard_clips, bool):
            raise InvalidInputError(f"guard_clips must be true or false, got {self.guard_clips!r}")
        if self.verifier and self.verifier not in VERIFIERS:
            raise InvalidInputError(
                f"verifier must be '' or one of {sorted(VERIFIERS)}, got {self.verifier!r}"
            )
        check_candidates(self.fill_candidates)
        for name in ("screen_drafts", "image_screen_drafts", "window_screen_drafts",
                     "compose_screen_drafts"):  # fmt: skip
            if getattr(self, name):
                check_candidates(getattr(self, name))
                if not self.verifier:
                    raise InvalidInputError(f"{name} needs a verifier to read the drafts")
        for name, least in (("screen_step", 1), ("image_screen_step", 0),
                            ("window_screen_step", 0), ("image_steps", 0),
                            ("window_steps", 0), ("text_steps", 0)):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise InvalidInputError(f"{name} must be an int >= {least}, got {value!r}")
        for name in ("candidates", "extend_candidates"):
            n = getattr(self, name)
            check_candidates(n)
            if n > 1 and not self.verifier:
                raise InvalidInputError(f"{name} = {n} needs a verifier to choose among them")
        if self.fill_window and (self.fill_window < 9 or (self.fill_window - 1) % 4):
            raise InvalidInputError(
                f"fill_window must be 0 (the whole video) or 1 + 4k frames >= 9, got "
                f"{self.fill_window}"
            )
        if self.extend_window < 4 or self.extend_window % 4:
            raise InvalidInputError(
                f"extend_window must be a positive multiple of 4 frames, got {self.extend_window}"
            )
        wc, wf = self.window_context, self.window_frames
        if isinstance(wc, bool) or not isinstance(wc, int) or wc < 0 or (wc and (wc - 1) % 4):
            raise InvalidInputError(
                f"window_context must be 0 (extend_context) or 1 + 4k pixel frames, got {wc!r}"
            )
        if isinstance(wf, bool) or not isinstance(wf, int) or wf < 0 or wf % 4:
            raise InvalidInputError(
                f"window_frames must be 0 (extend_window) or a positive multiple of 4 frames, "
                f"got {wf!r}"
            )
        if self.window_decode not in WINDOW_DECODES:
            raise InvalidInputError(
                f"window_decode must be one of {WINDOW_DECODES}, got {self.window_decode!r}"
            )

    @classmethod
    def from_dict(cls, raw: dict) -> PipelineConfig:
        # as recipes are read: JSON's lists back to the typed tuples (the flow's mask weights),
        # an unknown key (a typo in pipeline.json) a typed error naming the known ones
        return build_config(cls, raw)  # type: ignore[return-value]

    @classmethod
    def load(cls, directory: str | Path) -> PipelineConfig:
        """``pipeline.json`` of ``directory``, or the defaults where it has none."""
        path = Path(directory) / PIPELINE_NAME
        return cls.from_dict(json.loads(path.read_text())) if path.is_file() else cls()

    def save(self, directory: str | Path) -> Path:
        """Write ``pipeline.json`` into ``directory``; ``from_dict`` reads it back."""
        path = Path(directory) / PIPELINE_NAME
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")
        return path


@dataclass
class Timings:
    """Seconds spent per stage of the last call (returned, never stored on the pipeline)."""

    text: float = 0.0
    sampling: float = 0.0
    decode: float = 0.0
    verify: float = 0.0  # scoring best-of-N candidates
    plan: float = 0.0  # reading frames for extension windows' prompts (the planner)
    retried: int = 0  # a count, not seconds: rows the guard made again (first clip, windows)

    @property
    def total(self) -> float:
        return self.text + self.sampling + self.decode + self.verify + self.plan


def check_request(num_frames: int, height: int, width: int, steps: int, guidance: float) -> None:
    """Raise InvalidInputError on a size, length or sampler setting the models cannot take."""
    if not isinstance(num_frames, int) or num_frames < 1 or (num_frames - 1) % 4:
        raise InvalidInputError(
            f"num_frames must be 1 + 4k (1, 5, 9, 17, 33, ...), got {num_frames}"
        )
    if num_frames > MAX_FRAMES:
        raise InvalidInputError(
            f"num_frames {num_frames} is over {MAX_FRAMES} (a minute at 8 fps), the most one "
            "video holds"
        )
    for name, v in (("height", height), ("width", width)):
        if not isinstance(v, int) or v % 16 or not MIN_SIDE <= v <= MAX_SIDE:
            raise InvalidInputError(
                f"{name} must be a multiple of 16 between {MIN_SIDE} and {MAX_SIDE}, got {v}"
            )
    if not isinstance(steps, int) or steps < 1 or steps > 1000:
        raise InvalidInputError(f"num_inference_steps must be 1..1000, got {steps}")
    if not 0.0 <= guidance <= 50.0:
        raise InvalidInputError(f"guidance_scale must be in [0, 50], got {guidance}")


def check_interval(bounds: object, name: str) -> tuple[float, float]:
    """(lo, hi) of a guidance interval given as a pair (a JSON list on disk), checked:
    0 <= lo <= hi <= 1; else InvalidInputError naming ``name``."""
    try:
        lo, hi = (float(x) for x in bounds)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be [lo, hi], got {bounds!r}") from None
    if not 0.0 <= lo <= hi <= 1.0:
        raise InvalidInputError(f"{name} must be [lo, hi] with 0 <= lo <= hi <= 1, got {bounds!r}")
    return lo, hi


def check_context_guidance(value: float, name: str = "context_guidance") -> None:
    """Raise InvalidInputError unless the context guidance ``value`` lies in [0, 50]."""
    if not 0.0 <= value <= 50.0:
        raise InvalidInputError(f"{name} must be in [0, 50], got {value}")


def check_candidates(candidates: int) -> None:
    """Raise InvalidInputError unless ``candidates`` is an int in 1..MAX_CANDIDATES."""
    if (
        isinstance(candidates, bool)
        or not isinstance(candidates, int)
        or not 1 <= candidates <= MAX_CANDIDATES
    ):
        raise InvalidInputError(f"candidates must be 1..{MAX_CANDIDATES}, got {candidates!r}")


def check_fps(fps: float | None) -> None:
    """Raise InvalidInputError unless ``fps`` is None (the default) or a positive number."""
    if fps is not None and (
        isinstance(fps, bool)
        or not isinstance(fps, int | float)
        or not math.isfinite(fps)
        or fps <= 0
    ):
        raise InvalidInputError(f"fps must be a positive number, got {fps!r}")


def check_extension(num_frames: int) -> None:
    """Raise InvalidInputError unless ``num_frames`` new frames can extend a video in one call."""
    if (
        isinstance(num_frames, bool)
        or not isinstance(num_frames, int)
        or num_frames < 4
        or num_frames % 4
    ):
        raise InvalidInputError(
            f"extend adds a multiple of 4 frames (4 = 0.5 s at 8 fps), got {num_frames}"
        )
    if num_frames > MAX_FRAMES - 1:
        raise InvalidInputError(
            f"extend adds at most {MAX_FRAMES - 1} frames per call (a minute at 8 fps), "
            f"got {num_frames}"
        )


def check_fill_length(num_frames: int) -> None:
    """Raise InvalidInputError unless a video of ``num_frames`` frames can be filled in."""
    if (num_frames - 1) % 4:
        raise InvalidInputError(
            f"filling needs a video of 1 + 4k frames (5, 9, 17, 33, ...), this one has "
            f"{num_frames}; trim it to {1 + (num_frames - 1) // 4 * 4} first"
        )
    if num_frames > MAX_FRAMES:
        raise InvalidInputError(
            f"filling takes at most {MAX_FRAMES} frames at once (a minute at 8 fps), this video "
            f"has {num_frames}; fill a part of it"
        )


def fill_plan(known: np.ndarray, window: int) -> list[tuple[int, int, np.ndarray]]:
    """The windows a video with unknown frames (known: bool [T]) is filled in: (a, b, owned)
    per window, left to right, where frames a..b-1 are that window's canvas and owned (bool
    [T]) the unknown frames it fills. Each window reaches ``(window - 1) // 4`` frames past the
    last frame it owns (unless it ends the video), so what it fills has context on both sides;
    frames owned by earlier windows are given to later ones. Every unknown frame is owned by
    exactly one window. ``window`` 0, or a video no longer than it: one window, the video
    (none where nothing is unknown).

    A window starts up to 3 frames earlier than that reach needs, so that its first unknown
    frame opens a latent frame of the causal VAE (local index 1 + 4k): a gap of 4 frames is then
    one whole latent the DiT generates, not parts of two whose given pixels must be enforced
    step by step (``complete_latents``' pixel consistency)."""
    T = len(known)
    if known.all():
        return []
    if not window or window >= T:
        return [(0, T, ~known)]
    reach = (window - 1) // 4
    todo = ~known
    plan = []
    while todo.any():
        first = int(np.flatnonzero(todo)[0])
        a = first - reach
        a -= (1 - (first - a)) % 4  # first - a = 1 + 4k: the gap opens a latent frame
        a = max(0, min(a, T - window))
        b = a + window
        owned = np.zeros(T, dtype=bool)
        owned[a:b] = todo[a:b]
        if b < T:
            owned[b - reach :] = False  # the next window fills these, seeing what follows
        plan.append((a, b, owned))
        todo = todo & ~owned
    return plan


def interpolated_length(num_frames: int, factor: int) -> int:
    """Frames after ``factor`` x interpolation of ``num_frames``; InvalidInputError where the
    model cannot make them (factor under 2, a length that is not 1 + 4k, over MAX_FRAMES)."""
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 2:
        raise InvalidInputError(f"factor must be an integer >= 2, got {factor}")
    T = (num_frames - 1) * factor + 1
    if (T - 1) % 4:
        raise InvalidInputError(
            f"{num_frames} frames x {factor} gives {T}; use 1 + 4k/{factor} frames "
            "(e.g. 9 or 17 with factor 2)"
        )
    if T > MAX_FRAMES:
        raise InvalidInputError(
            f"{num_frames} frames x {factor} gives {T}, over {MAX_FRAMES} (a minute at 8 fps); "
            "interpolate a shorter part"
        )
    return T


def interpolated_known(num_frames: int, factor: int) -> np.ndarray:
    """bool [T] over the ``interpolated_length`` frames: True where an original frame sits
    (every ``factor``-th), False where interpolation makes one."""
    return np.arange(interpolated_length(num_frames, factor)) % factor == 0


@dataclass(frozen=True)
class Screen:
    """Screened best of N in ``Pipeline.sample``: ``drafts`` D noise draws per prompt run to
    sampler step ``at``; ``score`` reads their data estimates there (latents [D B, C, T, h, w]
    -> float [D, B], higher = closer to the prompt) and the best ``candidates`` of each prompt's
    D are finished."""

    drafts: int
    at: int
    score: Callable[[torch.Tensor], np.ndarray]


class Pipeline:
    """``pipe(prompt, negative_prompt=None, num_frames=17, height=64, width=64, ...) -> Video``."""

    def __init__(
        self,
        dit: DiT,
        vae: CausalVAE,
        text_encoder: TextEncoder,
        config: PipelineConfig | None = None,
        safety: bool = True,
        model_id: str = "kinema/in-memory",
        verifier: Verifier | None = None,
    ) -> None:
        check_parts(dit.cfg, vae.cfg.latent_channels, text_encoder.dim)
        self.dit = dit.eval()
        self.vae = vae.eval()
        self.text_encoder = text_encoder
        self.config = config or PipelineConfig()
        self.verifier = verifier  # best of N (config.candidates); None: one clip per prompt
        # each extension window's prompt (config.planner); None: the prompt in every window
        self.planner: WindowPlanner | None = (
            PLANNERS[self.config.planner]() if self.config.planner else None
        )
        # multi-object prompts in text to video (config.composer); None: one pass
        self.composer: Composer | None = (
            COMPOSERS[self.config.composer]() if self.config.composer else None
        )
        # a long video's windows made again where their objects drift (config.guard)
        self.guard: Guard | None = GUARDS[self.config.guard]() if self.config.guard else None
        # a long video's windows read their context with its objects put back (config.anchor)
        self.anchor: Anchor | None = ANCHORS[self.config.anchor]() if self.config.anchor else None
        asked = max(self.config.candidates, self.config.extend_candidates)
        if asked > 1 and verifier is None:
            warnings.warn(
                f"the config asks for the best of {asked} clips, chosen by the "
                f"{self.config.verifier!r} verifier, but none was given: one clip per prompt "
                "(Pipeline.from_pretrained loads it from the weights folder)",
                stacklevel=2,
            )
        # moderation before any compute, a watermark on every generated frame; off only when
        # asked, and never silently
        self.moderator = Moderator(text_encoder=text_encoder) if safety else None
        self.watermark_key = self.config.watermark_key if safety else None
        self.model_id = model_id
        if not safety:
            warnings.warn(
                "Kinema safety checks are OFF for this pipeline (safety=False): prompts are not "
                "moderated and frames are not watermarked. Outputs remain subject to "
                "USAGE_POLICY.md.",
                stacklevel=2,
            )

    # ------------------------------------------------------------------ files
    @classmethod
    def from_pretrained(
        cls,
        directory: str | Path | None = None,
        text_model: str | Path | None = None,
        safety: bool = True,
    ) -> Pipeline:
        directory = Path(directory) if directory is not None else default_weights_dir()
        config = PipelineConfig.load(directory)
        dit = DiT.from_pretrained(directory)
        vae = CausalVAE.from_pretrained(directory)
        text = TextEncoder(text_model or config.text_model or None)
        verifier = VERIFIERS[config.verifier](directory) if config.verifier else None
        return cls(dit, vae, text, config, safety=safety, model_id=model_id(directory),
                   verifier=verifier)  # fmt: skip

    def save_pretrained(self, directory: str | Path) -> Path:
        directory = Path(directory)
        self.dit.save_pretrained(directory)
        self.vae.save_pretrained(directory)
        if self.verifier is not None:
            self.verifier.save_pretrained(directory)
        self.config.save(directory)
        return directory

    def model_prompt(self, prompt: str) -> str:
        """The text the DiT reads for ``prompt``: ``config.prompt_rewrite``'s rewrite of it
        where there is one, else the prompt unchanged."""
        return PROMPT_REWRITES[self.config.prompt_rewrite](prompt) or prompt

    @property
    def default_candidates(self) -> int:
        """Clips per prompt the pipeline keeps the best of by default: ``config.candidates``, or 1
        without a verifier (warned at load)."""
        return self.config.candidates if self.verifier is not None else 1

    def candidates_for(
        self, prompt: str, candidates: int | None = None, choice: str = "clips"
    ) -> int:
        """How many samples a call makes for ``prompt`` to keep one, by ``choice``:

        - "clips" (text or image to video) and "windows" (each extension window): the verifier
          picks, so ``candidates`` (default ``config.candidates`` / ``config.extend_candidates``,
          1 without a verifier) where it reads the prompt, else 1;
        - "completions" (fill, interpolate): their ``consensus`` picks, so ``candidates``
          (default ``config.fill_candidates``) whatever the prompt."""
        if choice not in ("clips", "windows", "completions"):
            raise ValueError(f"choice must be clips, windows or completions, got {choice!r}")
        if candidates is not None:
            check_candidates(candidates)
        if choice == "completions":
            return self.config.fill_candidates if candidates is None else candidates
        if candidates is None:
            n = self.config.extend_candidates if choice == "windows" else self.config.candidates
            n = n if self.verifier is not None else 1
        else:
            n = candidates
            if n > 1 and self.verifier is None:
                raise InvalidInputError(
                    f"candidates = {n} needs a verifier to choose among them; this pipeline has "
                    "none (pipeline.json's verifier)"
                )
        if n == 1 or self.verifier is None:
            return 1
        return n if self.verifier.target(read_request(prompt).prompt) is not None else 1

    def caption_for(self, frames: np.ndarray) -> str | None:
        """A prompt for frames given with none: what the verifier reads in them (the Shapes
        World one: the recognizer's canonical caption of the last 17), so a continuation gets
        the verifier's best of N and the planner; None without a verifier that reads captions,
        or where it reads nothing it is sure of."""
        read = getattr(self.verifier, "caption", None)
        return read(frames) if read is not None else None

    @staticmethod
    def long_windows(candidates: int) -> bool:
        """Whether extension windows keeping ``candidates`` continuations each are a long
        video's, as ``kinema generate --seconds`` makes them (one each): those take
        ``window_steps`` and ``window_layout``'s own frames, and the identity guard and anchor
        read them; the best of N per window (``kinema extend``) does not."""
        return candidates == 1

    def steps_for(
        self, image: bool = False, window: bool = False, candidates: int = 1, text: bool = False
    ) -> int:
        """Sampler steps a call makes where it names none: ``config.steps``, or in text to
        video (``text``) ``config.text_steps``, in image to video ``config.image_steps`` and in
        a long video's windows (``window``: extension windows keeping ``candidates`` = 1
        continuation each) ``config.window_steps`` where they are set."""
        if window and self.long_windows(candidates):
            return self.config.window_steps or self.config.steps
        if text and not image and not window:
            return self.config.text_steps or self.config.steps
        return (image and self.config.image_steps) or self.config.steps

    def interval_for(
        self, window: bool = False, candidates: int = 1, text: bool = False, composed: bool = False
    ) -> tuple[float, float]:
        """The noise levels where a call's steps run guided: ``config.guidance_interval``, or
        in a long video's windows (``window``: extension windows keeping ``candidates`` = 1
        continuation each) ``config.window_guidance_interval``, in text to video (``text``)
        ``config.text_guidance_interval`` and in text to video of composed prompts' objects
        (``text`` and ``composed``) ``config.compose_guidance_interval`` where they are set."""
        c = self.config
        if window and self.long_windows(candidates) and c.window_guidance_interval is not None:
            return c.window_guidance_interval
        if text and not window:
            if composed and c.compose_guidance_interval is not None:
                return c.compose_guidance_interval
            if c.text_guidance_interval is not None:
                return c.text_guidance_interval
        return c.guidance_interval

    def window_decode_for(self, candidates: int = 1) -> str:
        """How extension windows keeping ``candidates`` continuations are decoded: a long
        video's windows (one each) as ``config.window_decode`` says, every other extension
        as one decoder stream ("stream", which the best of N branches and selects)."""
        return self.config.window_decode if self.long_windows(candidates) else "stream"

    def window_layout(self, candidates: int = 1) -> tuple[int, int]:
        """(context, new) pixel frames of each extension window keeping ``candidates``
        continuations: a long video's windows (one each) take ``config.window_context`` /
        ``config.window_frames`` where they are set, every other extension
        ``config.extend_context`` / ``config.extend_window``."""
        c = self.config
        if self.long_windows(candidates):
            return c.window_context or c.extend_context, c.window_frames or c.extend_window
        return c.extend_context, c.extend_window

    def screen_step_for(self, image: bool = False, window: bool = False) -> int:
        """The sampler step whose data estimates a screen reads: ``config.screen_step``, or in
        image to video ``config.image_screen_step`` and in extension windows
        ``config.window_screen_step`` where they are set."""
        own = 0
        if window:
            own = self.config.window_screen_step
        elif image:
            own = self.config.image_screen_step
        return own or self.config.screen_step

    def screen_drafts_for(
        self, image: bool = False, window: bool = False, composed: bool = False
    ) -> int:
        """Drafts a screen starts per prompt: ``config.screen_drafts``, or in image to video
        ``config.image_screen_drafts`` and in text to video of composed prompts' objects
        (``composed``) ``config.compose_screen_drafts`` where they are set; in extension windows
        ``config.window_screen_drafts`` (0: no screen)."""
        c = self.config
        if window:
            return c.window_screen_drafts
        if image:
            return c.image_screen_drafts or c.screen_drafts
        return (composed and c.compose_screen_drafts) or c.screen_drafts

    def drafts_for(
        self,
        candidates: int,
        steps: int | None = None,
        image: bool = False,
        window: bool = False,
        composed: bool = False,
    ) -> int:
        """Noise draws a text (or, ``image``, image) to video call, or (``window``) each
        extension window, makes for K = ``candidates`` clips per prompt (``composed``: per
        object of composed prompts, in text to video) in ``steps`` sampler steps:
        ``screen_drafts_for(image, window, composed)`` where a screen applies (a verifier, more
        drafts than K, K > 1 but in windows, a step after ``screen_step_for`` to go on from),
        else K."""
        if steps is None:  # text_steps apply where neither image nor window (steps_for)
            steps = self.steps_for(image, window, candidates, text=True)
        drafts = self.screen_drafts_for(image, window, composed)
        if self._screens(candidates, drafts, window):
            return drafts if self.screen_step_for(image, window) < steps - 1 else candidates
        return candidates

    def _screens(self, candidates: int, drafts: int, window: bool) -> bool:
        """Whether K = ``candidates`` kept from ``drafts`` is a screen: a verifier to read the
        drafts, more drafts than K, and K > 1, but in windows, which screen for their one
        continuation too (the step it reads at is ``sample``'s to check)."""
        least = 1 if window else 2
        return self.verifier is not None and candidates >= least and drafts > candidates

    def screen_for(
        self,
        prompts: list[str],
        candidates: int,
        timings: Timings,
        image: bool = False,
        window: bool = False,
        composed: bool = False,
    ) -> Screen | None:
        """The screen (``Screen``) for K = ``candidates`` clips per prompt (``image``: in image to
        video, read at ``screen_step_for(image)``; ``window``: extension windows, read as
        continuing clips, ``Verifier.target``; ``composed``: text to video of composed prompts'
        objects, ``screen_drafts_for``), or None where there is none: one clip (K = 1,
        the model alone; a window screens for one too), ``screen_drafts_for`` <= K, no verifier,
        or (windows) no prompt the verifier reads. Each draft's data estimate is decoded and
        the verifier scores it against its prompt (0 for a prompt it cannot read)."""
        drafts = self.screen_drafts_for(image, window, composed)
        verifier = self.verifier
        if verifier is None or not self._screens(candidates, drafts, window):
            return None
        targets = [verifier.target(p, continuing=window) for p in prompts]
        if all(t is None for t in targets):
            return None

        # a clip's first frames come from its first latents alone (the VAE is causal), so where
        # the verifier reads only those, only those latents are decoded
        first = None if window else getattr(verifier, "frames_read", None)
        read = None if first is None else 1 + (first - 1) // self.vae.cfg.temporal_factor

        def score(x0: torch.Tensor) -> np.ndarray:  # [D B, C, T, h, w] -> [D, B]
            t0 = time.perf_counter()
            frames = self.decode(x0[:, :, :read])  # [D B, T or first, H, W, 3]
            t1 = time.perf_counter()
            timings.decode += t1 - t0
            frames = frames.reshape(drafts, len(prompts), *frames.shape[1:])  # [D, B, ...]
            out = np.zeros((drafts, len(prompts)))
            for b, target in enumerate(targets):
                if target is not None:
                    out[:, b] = verifier.score(frames[:, b], target)
            timings.verify += time.perf_counter() - t1
            return out

        return Screen(drafts, self.screen_step_for(image, window), score)

    # ------------------------------------------------------------------ sampling
    def latent_shape(self, num_frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        s = self.vae.cfg.spatial_factor
        return (
            self.vae.cfg.latent_channels,
            1 + (num_frames - 1) // self.vae.cfg.temporal_factor,
            height // s,
            width // s,
        )

    def timesteps_for(self, shape: tuple[int, int, int, int], steps: int) -> torch.Tensor:
        """The noise levels [steps + 1] a sample of latents ``shape`` (C, T, h, w) steps
        through, 1 down to 0, shifted for its token count (``shift_for_tokens``)."""
        pt, ph, pw = self.dit.cfg.patch
        tokens = (shape[1] // pt) * (shape[2] // ph) * (shape[3] // pw)
        return sample_timesteps(steps, shift_for_tokens(tokens, self.config.flow))

    def velocity_fn(
        self,
        prompts: list[str],
        negative: list[str],
        guidance: float,
        timings: Timings | None = None,
        given: torch.Tensor | None = None,
        clean: torch.Tensor | None = None,
        context_noise: torch.Tensor | None = None,
        context_guidance: float = 1.0,
        interval: tuple[float, float] | None = None,
    ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """v(x [B,C,T,H,W], t [B]) with guidance, cond and uncond in one batch; at noise levels
        outside ``interval`` (None: ``config.guidance_interval``; ``interval_for`` says which a
        call takes) the prompt's velocity alone (half the compute).

        With ``given`` (bool [T]: latent frames given as context) and ``clean`` (their latents
        [B, C, T, h, w]), those frames are held at their clean values with timestep 0 and get zero
        velocity, so any sampler leaves them untouched: the frame-mask conditioning of training.
        Where ``context_guidance`` (c, see ``PipelineConfig.context_guidance``) is not 1, the
        branch without context sees the given frames as (1 - t) clean + t ``context_noise`` at
        the step's t, like every other frame.
        """
        t0 = time.perf_counter()
        both = prompts + negative if guidance != 1.0 else prompts
        text, mask = self.text_encoder.encode(both)  # [2B or B, L, E], [2B or B, L]
        if timings is not None:
            timings.text += time.perf_counter() - t0
        keep = None if given is None else given[None, None, :, None, None]  # [1, 1, T, 1, 1]
        lo, hi = self.config.guidance_interval if interval is None else interval
        n = len(prompts)
        check_context_guidance(context_guidance)
        ctx = 1.0 if given is None or not given.any() else context_guidance
        # the text batches a step may run: the prompts, prompts + negatives, the three branches
        batches = {"prompts": (text[:n], mask[:n]), "both": (text, mask)}  # [B | 2B, L, ...]
        if ctx != 1.0:
            if context_noise is None:
                raise InvalidInputError("context_guidance != 1 needs context_noise")
            # the three branches: (context, prompt), (context, negative), (no context, negative)
            batches["three"] = (
                torch.cat([text, text[n:]]),  # [3B, L, E]
                torch.cat([mask, mask[n:]]),  # [3B, L]
            )
        prepared: dict[str, TextContext] = {}  # what the DiT reads of each, made once

        def run(x: torch.Tensor, tt: torch.Tensor, rows: str) -> torch.Tensor:
            """The DiT on x [b, C, T, h, w] at tt for the text batch ``rows`` names."""
            with self.autocast():
                if rows not in prepared:
                    prepared[rows] = self.dit.prepare_text(*batches[rows])
                return self.dit(x, tt, prepared[rows]).float()  # [b, C, T, h, w]

        @torch.no_grad()
        def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            tt = t
            if given is not None:
                x = torch.where(keep, clean, x)  # [B, C, T, h, w]
                tt = t[:, None].expand(-1, x.shape[2]).masked_fill(given[None], 0.0)  # [B, T]
            if guidance == 1.0 or not lo <= float(t.max()) <= hi:
                out = run(x, tt, "prompts")  # [B, C, T, h, w]
            elif ctx == 1.0:
                vc, vu = run(torch.cat([x, x]), torch.cat([tt, tt]), "both").chunk(2)
                out = vu + guidance * (vc - vu)
            else:
                tv = t[:, None, None, None, None]  # [B, 1, 1, 1, 1]
                free = torch.where(keep, (1 - tv) * clean + tv * context_noise, x)
                tf = t[:, None].expand(-1, x.shape[2])  # [B, T]
                if ctx == guidance:  # both conditions dropped together: two batches
                    vc, vf = run(torch.cat([x, free]), torch.cat([tt, tf]), "both").chunk(2)
                    out = vf + guidance * (vc - vf)
                else:
                    vc, vi, vf = run(torch.cat([x, x, free]), torch.cat([tt, tt, tf]),
                                     "three").chunk(3)  # fmt: skip
                    out = vf + ctx * (vi - vf) + guidance * (vc - vi)
            return out if keep is None else out.masked_fill(keep, 0.0)

        return v

    def autocast(self) -> torch.autocast:
        """bf16 autocast for the DiT and the VAE where ``config.bf16`` asks for it and the CPU
        computes bf16 natively; fp32 otherwise (faster on CPUs that would emulate bf16)."""
        return bf16_autocast(self.config.bf16)

    @torch.no_grad()
    def encode(self, frames: np.ndarray) -> torch.Tensor:
        """Normalised latents [B, C, T', h, w] of uint8 frames [B, T, H, W, 3] (T = 1 + 4k)."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 4, 1, 2, 3).float()
        x = x / 127.5 - 1.0  # [B, 3, T, H, W]
        chunk = 32 if x.shape[2] > 33 else None
        with self.autocast():
            return self.vae.encode(x, chunk_frames=chunk).float()

    @torch.no_grad()
    def decode(self, latents: torch.Tensor, cache: StreamCache | None = None) -> np.ndarray:
        """uint8 frames [B, T, H, W, 3] from normalised latents [B, C, T', h, w]; with
        ``cache``, the continuation of the stream earlier calls decoded (see CausalVAE.decode)."""
        chunk = 8 if latents.shape[2] > 16 else None  # stream long videos: bounded memory
        with self.autocast():
            x = self.vae.decode(
                latents, chunk_latents=chunk, cache=cache
            ).float()  # [B, 3, T, H, W]
        y = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return y.permute(0, 2, 3, 4, 1).numpy()

    def mark(self, frames: np.ndarray) -> np.ndarray:
        """The invisible watermark on generated uint8 frames [B, T, H, W, 3] (safety on)."""
        if self.watermark_key is None or frames.shape[1] == 0:
            return frames
        return np.stack([embed(f, self.watermark_key) for f in frames])

    # ------------------------------------------------------------------ sampling core
    def latent_index(self, num_frames: int) -> np.ndarray:
        """int [T]: the latent frame each of ``num_frames`` = 1 + f k pixel frames lands in, f the
        VAE's temporal factor (4). The VAE is causal: latent 0 is pixel frame 0 alone, latent
        j >= 1 is pixel frames f(j-1)+1 .. fj. The one place the pipeline spells this layout."""
        f = self.vae.cfg.temporal_factor
        return (np.arange(num_frames) + f - 1) // f

    def pixel_frames(self, latent_frames: int) -> int:
        """Pixel frames that ``latent_frames`` latents decode to: 1 + f (n - 1)."""
        return 1 + self.vae.cfg.temporal_factor * (latent_frames - 1)

    def latent_given(self, known: np.ndarray) -> torch.Tensor:
        """bool [T'] latent frames whose pixel frames are all known; known: bool [T]."""
        index = self.latent_index(len(known))  # [T]
        given = np.ones(int(index[-1]) + 1, dtype=bool)  # [T']
        np.logical_and.at(given, index, known)
        return torch.from_numpy(given)

    def sample(
        self,
        prompts: list[str],
        negative: list[str],
        shape: tuple[int, int, int, int],
        steps: int,
        guidance: float,
        seed: int,
        sampler: str = "euler",
        given: torch.Tensor | None = None,
        clean: torch.Tensor | None = None,
        strength: float = 1.0,
        callback: Callable[[int], None] | None = None,
        timings: Timings | None = None,
        project: Callable[[torch.Tensor], torch.Tensor] | None = None,
        candidates: int = 1,
        context_guidance: float = 1.0,
        screen: Screen | None = None,
        interval: tuple[float, float] | None = None,
    ) -> torch.Tensor:
        """Latents [B, *shape] from noise (or, with ``strength`` < 1, from ``clean`` noised to
        t = strength: partial denoising of a draft), holding ``given`` frames at ``clean``;
        ``project`` corrects the data estimate at each step (``euler``'s, so it samples with
        Euler whatever ``sampler`` says); with candidates it gets the whole [K B, ...] batch.
        ``context_guidance``: c of ``velocity_fn`` on the ``given`` frames (1 = plain guidance);
        ``interval``: ``velocity_fn``'s guidance interval (None: ``config.guidance_interval``).

        ``candidates`` K > 1: [K B, *shape], candidate k of prompt b at k B + b, all in one
        batch, each holding the prompt's ``clean`` given frames; candidate 0 is the sample K = 1
        gives (its noise is drawn first, the others' after it).

        ``screen`` (with K > 1): D > K drafts per prompt instead, run to step ``screen.at``,
        where ``screen.score`` reads their data estimates and the best K per prompt go on
        (``Screen``); the K kept are in rank order, best first. The screened step itself is an
        Euler step (with ``sampler="heun"`` too). No screen where it cannot apply: D <= K, fewer
        than two steps after ``at``, or a ``project`` (fill)."""
        ts = self.timesteps_for(shape, steps)  # [steps + 1]
        if strength < 1.0:
            if clean is None:
                raise InvalidInputError("strength < 1 needs a draft (clean latents)")
            ts = ts[ts <= strength]
            ts = torch.cat([torch.tensor([strength]), ts]) if ts[0] < strength else ts
        # a screen needs a step after the screened one, and an x0 estimate the verifier can read
        if screen is not None and (screen.drafts <= candidates or screen.at >= len(ts) - 2
                                   or project is not None):  # fmt: skip
            screen = None
        B, D = len(prompts), screen.drafts if screen is not None else candidates
        gen = torch.Generator().manual_seed(int(seed))
        x = torch.cat(
            [torch.randn((B, *shape), generator=gen) for _ in range(D)]
        )  # [D B, C, T, h, w]
        # drawn after x, so context_guidance leaves the sample's own noise as it was
        guide_ctx = given is not None and context_guidance != 1.0
        ctx_noise = torch.randn(x.shape, generator=gen) if guide_ctx else None
        if clean is not None and D > 1:
            clean = clean.repeat(D, 1, 1, 1, 1)  # [D B, C, T, h, w]

        def velocity(rows: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
            return self.velocity_fn(prompts * rows, negative * rows, guidance, timings, given,
                                    clean, ctx_noise, context_guidance, interval)  # fmt: skip

        v = velocity(D)
        if strength < 1.0:
            x = (1 - strength) * clean + strength * x
        if given is not None and clean is not None:
            x = torch.where(given[None, None, :, None, None], clean, x)
        t0 = time.perf_counter()
        if project is not None:
            out = euler(v, x, ts, callback=callback, project=project)  # [B, C, T, h, w]
        else:
            integrate = euler if sampler == "euler" else heun
            if screen is not None:  # D drafts to step `at`, K of them on from there
                at = screen.at
                x = integrate(v, x, ts[: at + 1], callback=callback)  # [D B, C, T, h, w]
                t, t_next = float(ts[at]), float(ts[at + 1])
                vel = v(x, torch.full((len(x),), t))  # [D B, C, T, h, w]: step `at`'s velocity
                sampled = time.perf_counter() - t0
                score = screen.score(x - t * vel)  # [D, B] from the data estimates
                t0 = time.perf_counter() - sampled  # sampling time excludes the screen's reading
                best = np.argsort(-score, axis=0, kind="stable")[:candidates]  # [K, B] drafts
                rows = torch.from_numpy((best * B + np.arange(B)).reshape(-1))  # [K B] of D B
                x = (x + (t_next - t) * vel)[rows]  # the Euler step, on the kept drafts only
                clean = None if clean is None else clean[rows]
                ctx_noise = None if ctx_noise is None else ctx_noise[rows]
                v = velocity(candidates)
                if callback is not None:
                    callback(at)
                    after = callback
                    callback = lambda i: after(at + 1 + i)  # noqa: E731
                ts = ts[at + 1 :]
            out = integrate(v, x, ts, callback=callback)  # [K B, C, T, h, w]
        if timings is not None:
            timings.sampling += time.perf_counter() - t0
        return out

    def pick(
        self, clips: np.ndarray, prompts: list[str], timings: Timings, continuing: bool = False
    ) -> np.ndarray:
        """int [B]: for uint8 [K, B, T, H, W, 3] candidates, per prompt the index of the one the
        verifier scores highest (candidate 0 where it cannot read the prompt); ``continuing``:
        they are extension windows (``Verifier.target``)."""
        scores = self.scores(clips, prompts, timings, continuing)  # [K, B]
        return scores.argmax(0)  # the first of equals: candidate 0 where all score 0

    def scores(
        self, clips: np.ndarray, prompts: list[str], timings: Timings, continuing: bool = False
    ) -> np.ndarray:
        """float [K, B]: the verifier's score of each of uint8 [K, B, T, H, W, 3] candidates
        for its prompt; 0 for every candidate of a prompt it cannot read."""
        t0 = time.perf_counter()
        if self.verifier is None:
            raise InvalidInputError(
                "choosing among candidates needs a verifier; this pipeline has none"
            )
        out = np.zeros(clips.shape[:2])  # [K, B]
        for b, prompt in enumerate(prompts):
            target = self.verifier.target(prompt, continuing=continuing)
            if target is not None:
                out[:, b] = self.verifier.score(clips[:, b], target)
        timings.verify += time.perf_counter() - t0
        return out

    def laid_together(
        self,
        prompt: str,
        clips: np.ndarray,
        scores: np.ndarray,
        timings: Timings,
        read: np.ndarray | None = None,
    ) -> np.ndarray:
        """uint8 [T, H, W, 3]: a composed prompt's video from K candidates of each of its N
        objects (uint8 [K, N, T, H, W, 3], with the verifier's scores float [K, N]): of the K^N
        ways to lay one candidate of each object together, the one whose objects hide each
        other least (``Composer.clashes``), then the one the verifier scores best (the sum of
        its objects' scores; each object's own best where none clash, as without a composer).
        With ``read`` (bool [K, N]: the identity guard reads the candidate as its prompt names
        it, ``_guard_clip``), the ways with the fewest objects read as another shape come
        first."""
        t0 = time.perf_counter()
        K, N = scores.shape
        clash = self.composer.clashes(prompt, clips)  # type: ignore[union-attr]  # [K] * N
        wrong = np.zeros((K, N), dtype=int) if read is None else (~read).astype(int)  # [K, N]
        best = min(itertools.product(range(K), repeat=N),
                   key=lambda pick: (int(wrong[list(pick), np.arange(N)].sum()), clash[pick],
                                     -float(scores[list(pick), np.arange(N)].sum())))  # fmt: skip
        timings.verify += time.perf_counter() - t0
        return self.composer.merge(prompt, clips[list(best), np.arange(N)])  # type: ignore[union-attr]

    def best_of(self, clips: np.ndarray, prompts: list[str], timings: Timings) -> np.ndarray:
        """uint8 [K, B, T, H, W, 3] candidates -> [B, T, H, W, 3]: per prompt the one ``pick``
        chooses."""
        return clips[self.pick(clips, prompts, timings), np.arange(len(prompts))]

    @staticmethod
    def consensus(clips: np.ndarray, made: np.ndarray, timings: Timings) -> np.ndarray:
        """uint8 [K, B, T, H, W, 3] completions -> [B, T, H, W, 3]: per video the one whose
        frames where ``made`` (bool [T]) is True are closest, in mean squared pixel error, to
        the other K - 1 completions' (the medoid: the minimum-Bayes-risk choice under squared
        error). Fill and interpolate choose this way, with no verifier."""
        t0 = time.perf_counter()
        K, B = clips.shape[:2]
        x = clips[:, :, made].astype(np.float32)  # [K, B, T_made, H, W, 3], converted once
        risk = np.zeros((K, B))
        for i in range(K):  # pair by pair: all K x K at once would hold K times the frames
            for j in range(i + 1, K):
                d = np.mean((x[i] - x[j]) ** 2, axis=(1, 2, 3, 4))  # [B]
                risk[i] += d
                risk[j] += d
        timings.verify += time.perf_counter() - t0
        return clips[risk.argmin(0), np.arange(B)]  # the first of equals on a tie

    def complete_latents(
        self,
        prompts: list[str],
        negative: list[str],
        canvas: np.ndarray,
        known: np.ndarray,
        steps: int,
        guidance: float,
        seed: int,
        sampler: str = "euler",
        strength: float = 1.0,
        callback: Callable[[int], None] | None = None,
        timings: Timings | None = None,
        candidates: int = 1,
        context_guidance: float = 1.0,
        screen: Screen | None = None,
        interval: tuple[float, float] | None = None,
    ) -> torch.Tensor:
        """Latents [B, C, T', h, w] of ``canvas`` uint8 [B, T, H, W, 3] with its unknown frames
        (known: bool [T]) generated and the latent frames whose pixels are all known held;
        [K B, ...] with ``candidates`` K > 1 (``sample``'s layout).

        Unknown frames are first drafted by linear cross-fade between the nearest known frames
        (or copies at the ends): the VAE is causal, so later latents see them, and with
        ``strength`` < 1 the draft is where sampling starts. ``context_guidance``,
        ``screen`` and ``interval`` are ``sample``'s.

        Known pixels inside a latent that also holds unknown ones (every other frame, when
        interpolating) cannot be held in latent space. There each step's data estimate is
        decoded, the known frames pasted in, and the result encoded again (pixel consistency;
        Euler with a projection, see ``kinema.diffusion.euler``): the model's frames are pulled
        toward the given ones at every step, not only through the draft it started from. It costs
        a VAE round trip per step, and only where such latents exist.
        """
        t0 = time.perf_counter()
        draft = crossfade(canvas, known)  # [B, T, H, W, 3]
        given = self.latent_given(known) if known.any() else None  # [T']
        clean = None
        if given is not None:
            k = int(given.sum())
            if strength == 1.0 and k and bool(given[:k].all()):
                # the given latents are a prefix (i2v, extension) and sampling starts from pure
                # noise: the VAE is causal, so those latents depend on the prefix's pixels alone
                # and only 1 + 4(k - 1) frames need encoding, not the whole draft
                head = self.encode(draft[:, : self.pixel_frames(k)])  # [B, C, k, h, w]
                clean = head.new_zeros((len(canvas), *self.latent_shape(*canvas.shape[1:4])))
                clean[:, :, :k] = head  # [B, C, T', h, w]; the rest is never read
            else:
                clean = self.encode(draft)  # [B, C, T', h, w]
        if timings is not None:
            timings.decode += time.perf_counter() - t0
        _, T, H, W, _ = canvas.shape
        project = None
        if given is not None:
            held = given.numpy()[self.latent_index(T)]  # [T] pixel frames held in latent space
            if (known & ~held).any():
                keep = given[None, None, :, None, None]  # [1, 1, T', 1, 1]

                given_px = np.tile(canvas[:, known], (candidates, 1, 1, 1, 1))  # [K B, ...]

                def project(x0: torch.Tensor) -> torch.Tensor:  # [K B, C, T', h, w]
                    frames = self.decode(x0)  # [K B, T, H, W, 3]
                    frames[:, known] = given_px
                    return torch.where(keep, x0, self.encode(frames))

        return self.sample(prompts, negative, self.latent_shape(T, H, W), steps, guidance, seed,
                           sampler, given, clean, strength, callback, timings, project,
                           candidates, context_guidance, screen, interval)  # fmt: skip

    def finish(
        self,
        latents: torch.Tensor,
        canvas: np.ndarray,
        known: np.ndarray,
        timings: Timings,
        prompts: list[str] | None = None,
        mark: bool = True,
    ) -> np.ndarray:
        """Decode ``complete_latents``' output to uint8 [B, T, H, W, 3] (with K candidates per
        video, the verifier's pick for each of ``prompts``, or without prompts the
        ``consensus`` of the K), watermark what the model made (``mark`` False: the caller
        lays several rows together first and marks the result), and put every known pixel
        frame of ``canvas`` back exactly as given."""
        t1 = time.perf_counter()
        frames = self.decode(latents)  # [K B, T, H, W, 3]
        timings.decode += time.perf_counter() - t1
        if len(frames) > len(canvas):
            frames = frames.reshape(-1, *canvas.shape)  # [K, B, T, H, W, 3]
            if prompts is None:
                frames = self.consensus(frames, ~known, timings)
            else:
                frames = self.best_of(frames, prompts, timings)
        t1 = time.perf_counter()
        if mark:  # only what the model made is marked
            frames[:, ~known] = self.mark(frames[:, ~known])
        frames[:, known] = canvas[:, known]  # given pixels back exactly
        timings.decode += time.perf_counter() - t1
        return frames

    def __call__(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        num_frames: int = 17,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        seed: int | None = None,
        fps: float | None = None,
        sampler: str | None = None,
        image: np.ndarray | Video | None = None,
        video: Video | None = None,
        mode: str | None = None,
        missing: list[int] | None = None,
        strength: float = 1.0,
        callback: Callable[[int, int], None] | None = None,
        timings: Timings | None = None,
        rewrite_prompt: bool = True,
        candidates: int | None = None,
        plan_windows: bool = True,
        compose: bool | None = None,
        guarded: bool | None = None,
        compose_recipe: bool = True,
    ) -> Video | list[Video]:
        """Generate one video per prompt (a list in, a list out). One code path, four modes:

        - text to video: ``num_frames`` x ``height`` x ``width`` (default 64 x 64);
        - ``image=`` (uint8 [H, W, 3] or a Video's first frame): animate it; it is frame 0,
          resized / centre-cropped to ``height`` x ``width`` (default: its own size);
        - ``video=, mode="extend"``: add ``num_frames`` (a multiple of 4) after the video, in
          sliding windows of ``config.extend_window`` new frames, each conditioned on the
          last ``config.extend_context`` frames (shipped: 12 and 5; windows keeping one
          continuation each, a long video's, take ``window_layout()``: shipped 16 and 1);
        - ``video=, missing=[...]``: regenerate those frame indices (video length 1 + 4k).

        A negative field pasted into a prompt ("...\nNegative prompt: gore", a JSON body's
        "negative_prompt", ``--negative "..."``) joins ``negative_prompt`` and leaves the prompt
        (``kinema.safety.request``); the moderator reads the same split. The moderator reads
        the prompt as written. In text to video the DiT reads ``model_prompt(prompt)`` (the
        rewrite ``config.prompt_rewrite`` names), or the prompt itself with
        ``rewrite_prompt=False``; with frames given (``image=``, ``video=``) it reads the prompt
        as written.

        ``candidates`` > 1 samples that many clips and keeps one (1: one clip). In text and
        image to video (default ``config.candidates``; with ``config.screen_drafts`` more, those
        K are the best of that many drafts read early, ``screen_for``) and in each extension window (default
        ``config.extend_candidates``) it is the one the pipeline's verifier scores closest to
        the prompt, where the verifier reads the prompt (``candidates_for``); in fill and
        interpolate (default ``config.fill_candidates``) the ``consensus`` of them.

        In text and image to video a prompt the pipeline's composer splits (``config.composer``:
        several objects) is made one object at a time, each as a one-object prompt is (sampler,
        screen, verifier), and the clips laid into one (``kinema.pipelines.compose``; in image
        to video each object's still is its part of the image, ``Composer.split_frames``);
        with ``compose=False`` or ``rewrite_prompt=False`` (the DiT reads the prompt itself)
        every prompt is made in one pass. An extension composes only with ``compose=True`` (what a
        long video's windows do, after a composed first clip): the given frames are taken
        apart per object (``Composer.split_frames``), each object's clip is extended by its own
        prompt (planner and verifier per object) and the new frames laid together.

        Each extension window reads the pipeline's planner's restatement of the prompt for the
        frames made so far (``config.planner``: objects turned round at the walls), or the
        prompt itself in every window with ``plan_windows=False`` or no planner.

        ``guarded`` (text to video; default ``config.guard_clips``, and what a long video's
        first clip asks for, as ``kinema generate --seconds`` makes it, whose windows the
        identity guard keeps): the guard (``config.guard``) reads each object's candidates too,
        those it reads as their prompt names them go first, and an object none of whose
        candidates it reads so is made again with other noise, up to ``config.guard_tries``
        times (``_guard_clip``). ``guarded=True`` with frames given (``image=``, ``video=``) is
        an ``InvalidInputError``; left to the default, they are not guarded.

        ``compose_recipe`` (text to video): a composed prompt's objects are sampled by the
        composed recipe (``config.compose_screen_drafts`` / ``compose_guidance_interval``);
        False samples them as one-object prompts are, as ``kinema generate --seconds`` makes a
        long video's first clip, whose objects the whole video carries.

        Given frames come back exactly. ``strength`` < 1 starts from a cross-fade draft noised
        to that level instead of pure noise. ``callback(step, total)`` follows sampler steps;
        pass a ``Timings`` to get the text / sampling / decode seconds of this call.
        """
        steps = num_inference_steps
        if steps is None:  # image to video may take its own count (config.image_steps)
            steps = self.steps_for(image is not None and video is None,
                                   text=image is None and video is None)  # fmt: skip
        guidance = self.config.guidance if guidance_scale is None else float(guidance_scale)
        sampler = sampler or self.config.sampler
        single = isinstance(prompt, str)
        prompts = [prompt] if single else list(prompt) if isinstance(prompt, list | tuple) else []
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise InvalidInputError("prompt must be a string or a non-empty list of strings")
        if negative_prompt is None:
            negative = [""] * len(prompts)
        elif isinstance(negative_prompt, str):
            negative = [negative_prompt] * len(prompts)
        else:
            negative = list(negative_prompt)
            if len(negative) != len(prompts):
                raise InvalidInputError(
                    f"{len(negative)} negative prompts for {len(prompts)} prompts"
                )
        if not all(isinstance(n, str) for n in negative):
            raise InvalidInputError("negative_prompt must be a string or a list of strings")
        if sampler not in ("euler", "heun"):
            raise InvalidInputError(f"sampler must be 'euler' or 'heun', got {sampler!r}")
        check_fps(fps)
        if candidates is not None:
            check_candidates(candidates)
        if self.moderator is not None:
            for p, n in zip(prompts, negative, strict=True):
                self.moderator.enforce(p, n)  # PromptRefusedError names the category and why
        # a negative field pasted into a prompt ("...\nNegative prompt: gore") is a negative
        # prompt, as the moderator read it, not words to steer towards
        requests = [read_request(p) for p in prompts]
        prompts = [r.prompt for r in requests]
        as_written = prompts
        if rewrite_prompt and image is None and video is None:  # text to video only
            prompts = [self.model_prompt(p) for p in prompts]
        negative = [", ".join(x for x in (n, r.negative) if x.strip())
                    for n, r in zip(negative, requests, strict=True)]  # fmt: skip
        if not 0.0 < strength <= 1.0:
            raise InvalidInputError(f"strength must be in (0, 1], got {strength}")
        if guarded and (image is not None or video is not None):
            raise InvalidInputError(
                "guarded= is for text to video (a long video's first clip); its windows are "
                "guarded already where pipeline.json names a guard"
            )
        if guarded is None:  # text to video: pipeline.json's guard_clips
            guarded = self.config.guard_clips and image is None and video is None
        if not isinstance(compose_recipe, bool):
            raise InvalidInputError(f"compose_recipe must be True or False, got {compose_recipe!r}")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**63))
        timings = timings if timings is not None else Timings()
        B = len(prompts)
        rate = float(
            fps if fps is not None else video.fps if video is not None else self.config.fps
        )

        if video is not None:
            if image is not None:
                raise InvalidInputError("give image= or video=, not both")
            src = video.frames
            H, W = src.shape[1:3]
            if (height or H, width or W) != (H, W):
                src = resize_frames(src, (height or H, width or W))
                H, W = src.shape[1:3]
            if mode == "extend":
                check_extension(num_frames)
                check_request(1 + num_frames, H, W, steps, guidance)
                planner = self.planner if plan_windows else None
                # composed (asked for: compose=True): each object's own clip, taken apart from
                # the given frames, is extended by its own prompt, and the new frames laid
                # together; any other prompt is one row holding the given frames
                parts = self.parts_for(as_written, compose is True)
                rows, negs, spans = self.part_rows(prompts, negative, parts)
                srcs = [src[None] if ps is None else self.composer.split_frames(p, src)  # type: ignore[union-attr]
                        for p, ps in zip(prompts, parts, strict=True)]  # fmt: skip
                K = max(self.candidates_for(p, candidates, "windows") for p in rows)
                if num_inference_steps is None:  # a long video's windows: config.window_steps
                    steps = self.steps_for(window=True, candidates=K)
                made = self._extend(rows, negs, np.concatenate(srcs), num_frames, steps,
                                    guidance, seed, sampler, callback, timings, K, planner,
                                    mark=not any(parts))  # fmt: skip  # [R, T + new, H, W, 3]
                if not any(parts):
                    out = made
                else:  # the given frames as given; the new ones laid together, then marked
                    T = len(src)
                    new = np.stack([made[a, T:] if ps is None
                                    else self.composer.merge(p, made[a:b, T:])  # type: ignore[union-attr]
                                    for (a, b), p, ps in zip(spans, prompts, parts, strict=True)])  # fmt: skip
                    out = np.stack([np.concatenate([src, f]) for f in self.mark(new)])
            elif missing is not None:
                T = len(src)
                check_fill_length(T)
                check_request(T, H, W, steps, guidance)
                # ints or NumPy integers (np.flatnonzero(...) is how many build the list);
                # not bools, floats or strings, which would index something else
                bad = [i for i in missing if not isinstance(i, int | np.integer)
                       or isinstance(i, bool | np.bool_) or not 0 <= i < T]  # fmt: skip
                if bad or not missing:
                    raise InvalidInputError(
                        f"missing frames must be indices in 0..{T - 1}, got {bad or missing}"
                    )
                known = np.ones(T, dtype=bool)
                known[[int(i) for i in missing]] = False
                out = np.repeat(src[None], B, axis=0)  # [B, T, H, W, 3]
                K = self.candidates_for("", candidates, "completions")
                plan = fill_plan(known, self.config.fill_window)
                have = known.copy()  # given, or filled by an earlier window
                for j, (a, b, owned) in enumerate(plan):
                    done = callback and (lambda i, j=j: callback(j * steps + i + 1,
                                                                 len(plan) * steps))  # fmt: skip
                    part, given = out[:, a:b], have[a:b]  # [B, b - a, H, W, 3], [b - a]
                    latents = self.complete_latents(prompts, negative, part, given, steps,
                                                    guidance, seed + j, sampler, strength, done,
                                                    timings, K,
                                                    self.config.fill_context_guidance)  # fmt: skip
                    filled = self.finish(latents, part, given, timings)
                    out[:, owned] = filled[:, owned[a:b]]
                    have |= owned
            else:
                raise InvalidInputError(
                    "with video=, say what to do: mode='extend' or missing=[frame indices]"
                )
        elif image is not None:
            frame = image.frames[0] if isinstance(image, Video) else np.asarray(image)
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise InvalidInputError(
                    f"image must be uint8 (H, W, 3), got {frame.dtype} {tuple(frame.shape)}"
                )
            H, W = height or frame.shape[0], width or frame.shape[1]
            check_request(num_frames, H, W, steps, guidance)
            frame = resize_frames(frame[None], (H, W))[0]
            # composed (as text to video is, unless compose=False or rewrite_prompt=False): the
            # image is taken apart per object (Composer.split_frames), each object's still is
            # animated by its own prompt and the clips laid together; any other prompt is one
            # row holding the image
            parts = self.parts_for(as_written, compose is not False and rewrite_prompt)
            rows, negs, spans = self.part_rows(prompts, negative, parts)
            firsts = [frame[None] if ps is None
                      else self.composer.split_frames(p, frame[None])[:, 0]  # type: ignore[union-attr]
                      for p, ps in zip(prompts, parts, strict=True)]  # fmt: skip
            canvas = np.zeros((len(rows), num_frames, H, W, 3), dtype=np.uint8)
            canvas[:, 0] = np.concatenate(firsts)  # [R, H, W, 3]
            known = np.zeros(num_frames, dtype=bool)
            known[0] = True
            done = callback and (lambda i: callback(i + 1, steps))
            K = max(self.candidates_for(p, candidates) for p in rows)
            screen = self.screen_for(rows, K, timings, image=True)
            latents = self.complete_latents(rows, negs, canvas, known, steps, guidance, seed,
                                            sampler, 1.0, done, timings, K,
                                            self.config.context_guidance, screen)  # fmt: skip
            made = self.finish(latents, canvas, known, timings, rows, mark=not any(parts))
            if not any(parts):
                out = made  # [B, T, H, W, 3]
            else:  # the image as given; the new frames laid together, then marked
                new = np.stack([made[a, 1:] if ps is None
                                else self.composer.merge(p, made[a:b, 1:])  # type: ignore[union-attr]
                                for (a, b), p, ps in zip(spans, prompts, parts, strict=True)])  # fmt: skip
                out = np.concatenate([np.repeat(frame[None, None], B, axis=0),
                                      self.mark(new)], axis=1)  # fmt: skip
        else:
            if mode is not None or missing is not None:
                raise InvalidInputError("mode= and missing= need video=")
            H, W = height or 64, width or 64
            check_request(num_frames, H, W, steps, guidance)
            done = callback and (lambda i: callback(i + 1, steps))
            # a composed prompt's objects are rows of their own (each its own model prompt,
            # verifier target and the prompt's negative); any other prompt is one row
            parts = self.parts_for(as_written, compose is not False and rewrite_prompt)
            rows, negs, spans = self.part_rows(prompts, negative, parts)
            written = self.part_rows(as_written, negative, parts)[0]
            size = (num_frames, H, W)
            # every prompt composed: its objects take the composed recipe (compose_*), unless
            # the call asks for the one-object way (compose_recipe=False)
            composed = compose_recipe and all(ps is not None for ps in parts)
            made, scores = self._text_to_video(rows, negs, written, size, steps, guidance, seed,
                                               sampler, done, timings, candidates,
                                               composed)  # fmt: skip  # [K, rows, ...], [K, rows]
            read = None  # bool [K, rows]: guarded, the candidates the guard reads right
            if guarded:
                made, scores, read = self._guard_clip(rows, negs, written, made, scores, size,
                                                      steps, guidance, seed, sampler,
                                                      timings, composed)  # fmt: skip
            # each prompt's best candidate (guarded: of those the guard reads right, if any);
            # a composed one's objects chosen together
            first = np.zeros(scores.shape) if read is None else read.astype(float)  # [K, rows]
            out = np.stack([made[np.lexsort((-scores[:, a], -first[:, a]))[0], a] if ps is None
                            else self.laid_together(w, made[:, a:b], scores[:, a:b], timings,
                                                    None if read is None else read[:, a:b])
                            for (a, b), w, ps in zip(spans, as_written, parts, strict=True)])  # fmt: skip
            out = self.mark(out)  # [B, T, H, W, 3]
        videos = [Video(f, rate) for f in out]
        return videos[0] if single else videos

    def parts_for(self, prompts: list[str], compose: bool = True) -> list[list[str] | None]:
        """Per text-to-video prompt, the one-object prompts the composer makes it from
        (``config.composer``), or None where it is made in one pass (no composer, ``compose``
        False, or a prompt the composer does not split)."""
        if not compose or self.composer is None:
            return [None] * len(prompts)
        return [self.composer.split(p) for p in prompts]

    @staticmethod
    def part_rows(
        prompts: list[str], negative: list[str], parts: list[list[str] | None]
    ) -> tuple[list[str], list[str], list[tuple[int, int]]]:
        """The batch a composed call runs: (row prompts, their negatives, each prompt's span
        [a, b) of rows): a split prompt's parts (``parts_for``) are rows of their own, each
        with the prompt's negative; any other prompt is one row."""
        rows: list[str] = []
        negs: list[str] = []
        spans = []
        for p, n, ps in zip(prompts, negative, parts, strict=True):
            spans.append((len(rows), len(rows) + len(ps or [p])))
            rows += ps or [p]
            negs += [n] * len(ps or [p])
        return rows, negs, spans

    def _text_to_video(
        self,
        prompts: list[str],
        negative: list[str],
        as_written: list[str],
        size: tuple[int, int, int],
        steps: int,
        guidance: float,
        seed: int,
        sampler: str,
        callback: Callable[[int], None] | None,
        timings: Timings,
        candidates: int | None,
        composed: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """uint8 [K, B, T, H, W, 3], not yet marked: K candidate clips per prompt from noise
        (``size`` = frames, H, W; after screened drafts where the pipeline screens), and
        float [K, B] the verifier's scores of them for the prompts ``as_written`` (zeros
        where it cannot read one, or K = 1). ``composed``: the prompts are composed prompts'
        objects, sampled by the composed recipe (``config.compose_*``)."""
        B = len(prompts)
        K = max(self.candidates_for(p, candidates) for p in as_written)
        screen = self.screen_for(as_written, K, timings, composed=composed)
        interval = self.interval_for(text=True, composed=composed)
        latents = self.sample(prompts, negative, self.latent_shape(*size), steps, guidance,
                              seed, sampler, callback=callback, timings=timings, candidates=K,
                              screen=screen, interval=interval)  # fmt: skip
        t1 = time.perf_counter()
        out = self.decode(latents)  # [K B, T, H, W, 3]
        timings.decode += time.perf_counter() - t1
        out = out.reshape(K, B, *out.shape[1:])  # [K, B, T, H, W, 3]
        scores = self.scores(out, as_written, timings) if K > 1 else np.zeros((1, B))
        return out, scores

    def _extend(
        self,
        prompts: list[str],
        negative: list[str],
        src: np.ndarray,
        new: int,
        steps: int,
        guidance: float,
        seed: int,
        sampler: str,
        callback: Callable[[int, int], None] | None,
        timings: Timings,
        candidates: int = 1,
        planner: WindowPlanner | None = None,
        mark: bool = True,
    ) -> np.ndarray:
        """Sliding windows: each generates up to ``config.extend_window`` frames after the last
        ``config.extend_context`` frames (with one continuation per window, ``candidates`` 1,
        the ``window_layout`` a long video's windows take), so the cost per generated second
        stays flat. Each
        window reads the prompt, or with a ``planner`` its ``window_prompt`` for the latest
        ``planner.look`` frames (the scene held, directions turned at the walls).

        The new latents of every window are decoded as one causal stream (one StreamCache for
        the whole call, primed with the first window's context latents): each window's pixels
        continue the decoder state the previous window left, so there is no decoder restart
        at window seams, and each latent is decoded exactly once. A long video's windows with
        ``config.window_decode`` "window" are decoded each with its own context latents instead
        (``decode_window``). The decoded tail is the next window's context, so the model always
        conditions on the pixels it outputs.

        With ``candidates`` K > 1 each window samples K continuations, the stream's state is
        branched to decode all of them (``StreamCache.repeat``), the verifier keeps one per
        prompt, and the stream goes on from the kept ones (``StreamCache.select``).

        ``src``: the given frames [T, H, W, 3], the same for every prompt, or one video per
        prompt [B, T, H, W, 3]. ``mark``: watermark the new frames (False: the caller lays
        several rows together first and marks the result)."""
        B = len(prompts)
        context, step = self.window_layout(candidates)
        ctx = min(src.shape[-4], context)
        f = self.vae.cfg.temporal_factor
        ctx = 1 + (ctx - 1) // f * f  # 1 + 4k frames of context, rounded down
        parts = [src if src.ndim == 5 else np.repeat(src[None], B, axis=0)]  # [B, T, H, W, 3]
        # the latest frames: the next window's context and what the planner reads
        keep = max(ctx, planner.look if planner else 0)
        latest = parts[0][:, -keep:]  # [B, keep, H, W, 3]
        said: list[str] = prompts  # what each window's DiT reads
        windows = -(-new // step)
        made = 0
        # the identity guard's reference per row, read once from the given frames: windows
        # keeping one continuation each (a long video's) are made again where they drift
        long = self.long_windows(candidates)
        # one decoder stream for every window, or (a long video's, window_decode "window") none:
        # each window decoded after its own context
        stream = None if self.window_decode_for(candidates) == "window" else StreamCache()
        interval = self.interval_for(window=True, candidates=candidates)
        refs = self.guard_references(prompts, parts[0]) if long else None
        # and the anchor's, whose rows read their context with the objects put back as they were
        anchors = self.anchor_references(prompts, parts[0]) if long else None
        for w in range(windows):
            n = min(step, new - made)
            tail = latest[:, -ctx:]  # [B, ctx, H, W, 3]
            if anchors is not None:  # what the DiT reads; latest keeps the frames as made
                tail = np.stack([f if r is None else self.anchor.correct(r, f)  # type: ignore[union-attr]
                                 for r, f in zip(anchors, tail, strict=True)])  # fmt: skip
            canvas = np.concatenate([tail, np.repeat(tail[:, -1:], n, axis=1)], axis=1)
            # decoded alone, a window's new latents follow its context as the video keeps it,
            # not as the anchor redrew it for the DiT: its first frames then go on from the
            # frame before them
            t0 = time.perf_counter()
            kept = (self.encode(latest[:, -ctx:])
                    if stream is None and anchors is not None else None)  # fmt: skip
            timings.decode += time.perf_counter() - t0
            known = np.zeros(canvas.shape[1], dtype=bool)
            known[:ctx] = True
            done = callback and (lambda i, w=w: callback(w * steps + i + 1, windows * steps))
            K = candidates  # continuations of this window, the kept one chosen below
            if planner is not None:  # said: what the window before read (None for the first)
                t0 = time.perf_counter()
                before = said if w else [None] * B
                recent = latest[:, -planner.look :]  # [B, look, H, W, 3]
                said = [planner.window_prompt(p, r, n, s)
                        for p, r, s in zip(prompts, recent, before, strict=True)]  # fmt: skip
                timings.plan += time.perf_counter() - t0
            screen = self.screen_for(said, K, timings, window=True)  # drafts read early
            latents = self.complete_latents(said, negative, canvas, known, steps, guidance,
                                            seed + w, sampler, 1.0, done, timings, K,
                                            self.config.context_guidance, screen,
                                            interval)  # fmt: skip
            fresh = n // f  # latent frames this window adds: [K B, C, fresh, h, w] at the end
            t0 = time.perf_counter()
            if w == 0 and stream is not None:  # prime: the context's causal state (the
                self.decode(latents[:B, :, :-fresh], stream)  # same in every candidate)
            # for the guard's tries: the state before the window (None: decoded alone)
            before = stream.repeat(1) if refs is not None and stream is not None else None
            # K > 1 is never a long video's windows, so those always have a stream
            streams = stream if K == 1 else stream.repeat(K)  # type: ignore[union-attr]
            frames = self.decode_window(latents, fresh, streams, kept)  # [K B, n, H, W, 3]
            timings.decode += time.perf_counter() - t0
            if K > 1:  # each prompt keeps the window the verifier reads closest to it
                clips = np.concatenate([np.tile(tail, (K, 1, 1, 1, 1)), frames], axis=1)
                pick = self.pick(clips.reshape(K, B, *clips.shape[1:]), said, timings, True)
                rows = pick * B + np.arange(B)  # [B] rows of the K B batch
                frames = frames[rows]  # [B, n, H, W, 3]
                stream = streams.select(torch.from_numpy(rows))  # type: ignore[union-attr]
            if refs is not None:
                again = functools.partial(self.complete_latents, known=known, steps=steps,
                                          guidance=guidance, sampler=sampler, timings=timings,
                                          context_guidance=self.config.context_guidance,
                                          interval=interval)  # fmt: skip
                self._guard_window(refs, frames, stream, before, said, negative, canvas, again,
                                   fresh, seed + w, timings, kept)  # fmt: skip
            latest = np.concatenate([latest, frames], axis=1)[:, -keep:]
            parts.append(self.mark(frames) if mark else frames)
            made += n
        return np.concatenate(parts, axis=1)

    def decode_window(
        self,
        latents: torch.Tensor,
        fresh: int,
        stream: StreamCache | None,
        context: torch.Tensor | None = None,
    ) -> np.ndarray:
        """uint8 [B, n, H, W, 3]: the new frames of an extension window from its latents [B, C,
        T', h, w] (its context's first, its ``fresh`` new ones last): with a ``stream``, the new
        latents decoded as its continuation (the stream moves on); with None, decoded from a
        fresh decoder state after ``context`` (latents [B, C, T' - fresh, h, w] of the context
        frames as the video keeps them; None: the window's own), the context's pixel frames
        dropped (``config.window_decode``)."""
        if stream is not None:
            return self.decode(latents[:, :, -fresh:], stream)
        before = latents[:, :, :-fresh] if context is None else context.to(latents.dtype)
        given = self.pixel_frames(before.shape[2])  # the context's pixel frames
        return self.decode(torch.cat([before, latents[:, :, -fresh:]], dim=2))[:, given:]

    @staticmethod
    def row_references(
        reader: Anchor | Guard | None, prompts: list[str], src: np.ndarray
    ) -> list[object] | None:
        """Per row, the ``reader``'s (an anchor's or a guard's) reference, read from the row's
        given frames (uint8 [B, T, H, W, 3]); None where there is no reader or it reads no row."""
        if reader is None:
            return None
        refs = [reader.reference(p, s) for p, s in zip(prompts, src, strict=True)]
        return refs if any(r is not None for r in refs) else None

    def anchor_references(self, prompts: list[str], src: np.ndarray) -> list[object] | None:
        """Per row, what the identity anchor keeps in its windows' context (``row_references``);
        None where nothing is anchored (no anchor, or no row it reads)."""
        return self.row_references(self.anchor, prompts, src)

    def guard_references(self, prompts: list[str], src: np.ndarray) -> list[object] | None:
        """Per row, what the identity guard checks its windows against (``row_references``);
        None where nothing is guarded (no guard, no tries, or no row the guard reads)."""
        guard = self.guard if self.config.guard_tries else None
        return self.row_references(guard, prompts, src)

    def _guard_scores(
        self, refs: list[object], rows: np.ndarray, frames: np.ndarray, timings: Timings
    ) -> np.ndarray:
        """float [L]: the identity guard's score of each of ``rows``' frames (uint8 [L, T, H, W,
        3], row i's against ``refs[i]``; 1 for a row the guard does not read), the time it
        takes counted as the verifier's."""
        guard = self.guard
        assert guard is not None
        t0 = time.perf_counter()
        out = [1.0 if refs[i] is None else guard.score(refs[i], f)
               for i, f in zip(rows, frames, strict=True)]  # fmt: skip
        timings.verify += time.perf_counter() - t0
        return np.array(out, dtype=float)

    def _guard_tries(
        self,
        best: Callable[[], np.ndarray],
        remake: Callable[[np.ndarray, int], None],
        timings: Timings,
    ) -> None:
        """The identity guard's tries, for windows and first clips alike: while some row's
        score (``best()``, float [R], read again after every try) is under
        ``config.guard_threshold``, ``remake(rows, k)`` makes those rows again for try k (seed
        + k ``GUARD_SEED_STRIDE``), keeping what scores higher, up to ``config.guard_tries``
        times; ``timings.retried`` counts the rows made again."""
        for k in range(1, self.config.guard_tries + 1):
            low = np.flatnonzero(best() < self.config.guard_threshold)  # rows still read wrong
            if not len(low):
                break
            timings.retried += len(low)
            remake(low, k)

    def _guard_clip(
        self,
        rows: list[str],
        negs: list[str],
        written: list[str],
        made: np.ndarray,
        scores: np.ndarray,
        size: tuple[int, int, int],
        steps: int,
        guidance: float,
        seed: int,
        sampler: str,
        timings: Timings,
        composed: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The identity guard on a text-to-video call's candidates (uint8 [K, R, T, H, W, 3],
        the verifier's scores float [K, R]; a long video's first clip, ``guarded``): each row's
        candidates are scored as the guard scores a window (against its reference, read from
        the row's prompt as written, ``written``), and a row none of whose candidates scores
        ``config.guard_threshold`` or more is made again (``_text_to_video``, K candidates,
        other noise, the ``composed`` recipe where the call's was), up to
        ``config.guard_tries`` times, its K candidates replaced where the try's best scores
        higher. Returns the candidates, their verifier scores and bool [K, R]:
        read right (True too for rows the guard does not read). With no guard or no tries
        every candidate reads right and nothing is made again."""
        K, R = scores.shape
        refs = self.guard_references(written, made[0])
        if refs is None:
            return made, scores, np.ones((K, R), dtype=bool)

        def read(clips: np.ndarray, idx: np.ndarray) -> np.ndarray:  # [K, L, ...] -> [K, L]
            return np.stack([self._guard_scores(refs, idx, c, timings) for c in clips])

        got = read(made, np.arange(R))  # [K, R]

        def remake(low: np.ndarray, k: int) -> None:
            again, again_scores = self._text_to_video(
                [rows[i] for i in low], [negs[i] for i in low], [written[i] for i in low],
                size, steps, guidance, seed + k * GUARD_SEED_STRIDE, sampler, None, timings, K,
                composed,
            )  # fmt: skip  # [K', L, T, H, W, 3], [K', L]
            if len(again) != K:  # a row the verifier does not read makes one clip
                return
            tried = read(again, low)  # [K, L]
            for j in np.flatnonzero(tried.max(0) > got[:, low].max(0)):
                i = low[j]
                made[:, i], scores[:, i], got[:, i] = again[:, j], again_scores[:, j], tried[:, j]

        self._guard_tries(lambda: got.max(0), remake, timings)
        return made, scores, got >= self.config.guard_threshold

    def _guard_window(
        self,
        refs: list[object],
        frames: np.ndarray,
        stream: StreamCache | None,
        before: StreamCache | None,
        said: list[str],
        negative: list[str],
        canvas: np.ndarray,
        again: Callable[..., torch.Tensor],
        fresh: int,
        seed: int,
        timings: Timings,
        kept: torch.Tensor | None = None,
    ) -> None:
        """The identity guard on one window, in place: rows whose new frames (uint8 [B, n, H,
        W, 3]) score under ``config.guard_threshold`` against their reference are sampled again
        (``again``: ``complete_latents`` less the rows' prompts, negatives, canvas and seed,
        ``said``, ``negative`` and ``canvas`` being the window's, one per row) from the
        stream state ``before`` the window, up to ``config.guard_tries`` times with other
        noise, and where a try scores higher its frames and decoder state replace the row's in
        ``frames`` and ``stream`` (both None: each window decoded alone after ``kept``,
        ``decode_window``)."""
        best = self._guard_scores(refs, np.arange(len(frames)), frames, timings)  # [B]

        def remake(low: np.ndarray, k: int) -> None:
            latents = again([said[i] for i in low], [negative[i] for i in low],
                            canvas=canvas[low], seed=seed + k * GUARD_SEED_STRIDE)  # fmt: skip
            t0 = time.perf_counter()
            state = None if before is None else before.select(torch.from_numpy(low))
            tried = self.decode_window(latents, fresh, state,
                                       None if kept is None else kept[torch.from_numpy(low)])  # fmt: skip
            timings.decode += time.perf_counter() - t0
            got = self._guard_scores(refs, low, tried, timings)  # [L]
            for j in np.flatnonzero(got > best[low]):
                i = low[j]
                best[i], frames[i] = got[j], tried[j]
                if state is not None and stream is not None:
                    for key, v in state.items():
                        if isinstance(v, torch.Tensor):
                            stream[key][i] = v[j]

        self._guard_tries(lambda: best, remake, timings)

    def interpolate(
        self,
        video: Video,
        factor: int = 2,
        prompt: str = "",
        strength: float = 0.3,
        **kwargs: object,
    ) -> Video:
        """``factor`` x the frame rate: new frames between each pair, drafted by cross-fade and
        refined by the model (``strength`` of noise on the draft), the given frames enforced at
        every step (see ``complete_latents``) and kept exactly in the output. 0.3 was picked on
        a tuning stream (bench/results/edit_eval_interpolate_strength_tune.md: 0.2-0.5 within
        0.25 dB of each other, 0.7 below)."""
        known = interpolated_known(len(video.frames), factor)
        canvas = np.zeros((len(known), *video.frames.shape[1:]), dtype=np.uint8)
        canvas[known] = video.frames
        missing = np.flatnonzero(~known).tolist()
        out = self(prompt, video=Video(canvas, video.fps * factor), missing=missing,
                   strength=strength, **kwargs)  # type: ignore[arg-type]  # fmt: skip
        return out  # type: ignore[return-value]


def model_id(directory: Path) -> str:
    """``kinema/<folder>@<first 12 hex of the DiT weights' SHA-256>``: names the exact model."""
    import hashlib

    from kinema.models.dit import WEIGHTS_NAME

    h = hashlib.sha256()
    with open(directory / WEIGHTS_NAME, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return f"kinema/{directory.name}@{h.hexdigest()[:12]}"


def crossfade(canvas: np.ndarray, known: np.ndarray) -> np.ndarray:
    """uint8 [B, T, H, W, 3] with unknown frames replaced by the linear blend of the nearest
    known frames on each side (copies of the nearest one at the ends). The baseline a filler
    has to beat, and the draft it starts from."""
    idx = np.flatnonzero(known)
    if len(idx) == 0 or known.all():
        return canvas.copy()
    out = canvas.astype(np.float32)
    for t in np.flatnonzero(~known):
        left, right = idx[idx < t], idx[idx > t]
        if len(left) and len(right):
            a, b = left[-1], right[0]
            w = (t - a) / (b - a)
            out[:, t] = (1 - w) * out[:, a] + w * out[:, b]
        else:
            out[:, t] = out[:, (left[-1] if len(left) else right[0])]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
