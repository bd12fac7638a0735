"""What more identity-guard tries would buy: each window's guard scores per try, guard_tries=4.

    python bench/long_guard_tries.py START STOP > bench/results/long_guard_tries_tune-START-STOP.log

Makes tuning minutes START..STOP-1 of the edit eval's long section as `kinema generate --seconds`
does (the first clip guarded, windows one continuation each, several objects one at a time), but
with ``guard_tries`` 4 (2 shipped), and records, per object row and window, the guard's score of
each try (``Pipeline._guard_window`` wrapped; the k-th try of a window samples with the same seed
whatever ``guard_tries`` is). Then, for 0..4 tries, how many row-windows would still score under
the threshold: what tries past the shipped 2 would take back (a minute past a window whose
kept try differs goes on from other frames, so the counts are of these minutes).
"""

from __future__ import annotations

import dataclasses
import sys

import torch
from edit_eval import objects_per_frame, tuning_minutes

from kinema.pipelines import Pipeline

TRIES = 4


def main() -> None:
    start, stop = int(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(2)
    pipe = Pipeline.from_pretrained(None)
    pipe.config = dataclasses.replace(pipe.config, guard_tries=TRIES)
    guard = pipe.guard
    assert guard is not None, "pipeline.json names no guard"
    threshold = pipe.config.guard_threshold
    log: list[float] = []  # every score the guard gives, in order
    windows: list[list[float]] = []  # per row-window, its tries' scores
    score = guard.score

    def logged(reference: object, frames: object) -> float:
        s = score(reference, frames)  # type: ignore[arg-type]
        log.append(s)
        return s

    guard.score = logged  # type: ignore[method-assign]
    guard_window = Pipeline._guard_window

    def recorded(self: Pipeline, refs: list, frames, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        log.clear()
        guard_window(self, refs, frames, *args, **kwargs)
        # the first len(frames) scores are the window's rows; then, per try, its rows still low
        B = len(frames)
        tries = [[s] for s in log[:B]]
        best, rest = list(log[:B]), iter(log[B:])
        for _ in range(TRIES):
            low = [i for i in range(B) if best[i] < threshold]
            if not low:
                break
            for i in low:
                s = next(rest)
                tries[i].append(s)
                best[i] = max(best[i], s)
        windows.extend(tries)

    Pipeline._guard_window = recorded  # type: ignore[method-assign]
    for i, _, g, v, wall in tuning_minutes(pipe, start, stop):
        print(f"## {i} identity={objects_per_frame(v.frames, g.spec):.3f} {wall:.0f}s", flush=True)
    n = len(windows)
    for k in range(1, TRIES + 2):
        low = sum(max(w[:k]) < threshold for w in windows)
        made = sum(min(len(w), k) - 1 for w in windows)
        print(f"after {k} tries (guard_tries={k - 1}): {low} of {n} row-windows still under "
              f"{threshold:g}; tries made: {made}")  # fmt: skip


if __name__ == "__main__":
    main()
