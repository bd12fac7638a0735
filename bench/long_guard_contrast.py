"""Does a guard try that names what went wrong take back more windows? A probe.

    python bench/long_guard_contrast.py START STOP [SCALE] > bench/results/long_guard_contrast_tune-START-STOP.log

Makes tuning minutes START..STOP-1 of the edit eval's long section as `kinema generate --seconds`
does (the shipped guard, tries and all; the minutes go on from what it keeps). Wherever the
identity guard reads a window's object row as another shape (score under the threshold), it
first samples that row ``TRIES`` more times, from the same decoder state and with the same seeds
as the shipped tries, plain and with a *contrast* prompt as a third row beside the shipped two:
the row's prompt with the shape the reader saw (what the window drew
instead), with the context, one more row per step. The velocity is the shipped guided one plus
``SCALE`` x (prompt with context - contrast with context): a push away from the wrong shape that
leaves the context and the motion alone. (Putting the contrast in the branch without context,
in place of the negative, was tried first: it lost the object in most tries.) Those tries are
only scored, never kept. Prints, per recipe and try count, how many of the low
row-windows some try reads right (a score of at least the threshold).
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import torch
from edit_eval import objects_per_frame, tuning_minutes

from kinema.pipelines import Pipeline
from kinema.pipelines.text_to_video import GUARD_SEED_STRIDE
from kinema.world.captions import canonical_caption, read_world_prompt
from kinema.world.parse import parse_clip

TRIES = 3
SCALE = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0


def contrast(prompt: str, frames: np.ndarray) -> str | None:
    """The row's prompt with the shape its frames read as; None where they read as its own."""
    scene = read_world_prompt(prompt)
    if scene is None or len(scene.objects) != 1:
        return None
    o = scene.objects[0]
    seen = parse_clip(frames).get(o.color)
    if seen is None or seen.shape == o.shape:
        return None
    return canonical_caption(
        dataclasses.replace(scene, objects=(dataclasses.replace(o, shape=seen.shape),))
    )


def contrasted(pipe: Pipeline, c: str):  # type: ignore[no-untyped-def]
    """``Pipeline.velocity_fn`` plus SCALE x (prompt - contrast ``c``), both with the context."""
    base_fn = Pipeline.velocity_fn

    def velocity_fn(prompts, negative, guidance, *args, **kwargs):  # type: ignore[no-untyped-def]
        base = base_fn(pipe, prompts, negative, guidance, *args, **kwargs)
        cond = base_fn(pipe, prompts, negative, 1.0, *args, **kwargs)
        other = base_fn(pipe, [c] * len(prompts), negative, 1.0, *args, **kwargs)

        def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return base(x, t) + SCALE * (cond(x, t) - other(x, t))

        return v

    return velocity_fn


def main() -> None:
    start, stop = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(2)
    pipe = Pipeline.from_pretrained(None)
    guard = pipe.guard
    assert guard is not None, "pipeline.json names no guard"
    threshold = pipe.config.guard_threshold
    results: list[dict] = []
    guard_window = Pipeline._guard_window

    def probed(self, refs, frames, stream, before, said, negative, canvas, again, fresh, seed,
               timings) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
        first = [guard.score(refs[i], frames[i]) if refs[i] is not None else 1.0
                 for i in range(len(frames))]  # fmt: skip
        for i in [i for i, s in enumerate(first) if s < threshold]:
            c = contrast(said[i], frames[i])
            row = {"prompt": said[i], "first": first[i], "contrast": c, "plain": [], "named": []}
            for recipe in ("plain", "named"):
                if recipe == "named" and c is None:
                    continue
                for k in range(1, TRIES + 1):
                    if recipe == "named":
                        self.velocity_fn = contrasted(self, c)  # type: ignore[method-assign]
                    try:
                        latents = again([said[i]], [negative[i]], canvas=canvas[[i]],
                                        seed=seed + k * GUARD_SEED_STRIDE)  # fmt: skip
                    finally:
                        self.__dict__.pop("velocity_fn", None)
                    state = before.select(torch.tensor([i]))
                    tried = self.decode(latents[:, :, -fresh:], state)
                    row[recipe].append(guard.score(refs[i], tried[0]))
            print("   ", row, flush=True)
            results.append(row)
        guard_window(self, refs, frames, stream, before, said, negative, canvas, again, fresh,
                     seed, timings)  # fmt: skip

    Pipeline._guard_window = probed  # type: ignore[method-assign]
    for i, prompt, g, v, wall in tuning_minutes(pipe, start, stop):
        print(f"## {i} {prompt!r} identity={objects_per_frame(v.frames, g.spec):.3f} {wall:.0f}s",
              flush=True)  # fmt: skip
    rows = [r for r in results if r["named"]]
    print(f"{len(results)} row-windows read wrong at first; {len(rows)} with a contrast prompt")
    for recipe in ("plain", "named"):
        for k in range(1, TRIES + 1):
            ok = sum(max(r[recipe][:k]) >= threshold for r in rows)
            print(f"{recipe}: read right within {k} tries: {ok} of {len(rows)}")


if __name__ == "__main__":
    main()
