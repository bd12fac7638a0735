"""Where the long-video seam drop comes from: frame-to-frame PSNR by position in the window.

    python bench/seam_probe.py [--prompts 6] [--seconds 20] [--modes stream,fresh,blend]
        [--guidance 4.0] [--threads 1]

Each prompt (the held-out cases of bench/edit_eval.py) gets a 17-frame clip and ``--seconds``
of extension; the step into every extension frame is binned by its position in the window
(0 = the seam, the first new frame; with the shipped 12-frame windows, 4 and 8 are the
latent-frame boundaries inside a window). Modes:

- ``stream``: the shipped ``Pipeline._extend`` (one causal decoder stream for every window);
- ``fresh``: each window's latents (context + new) decoded from a fresh decoder state;
- ``blend``: as ``fresh``, and the previous window's last context frames cross-faded toward
  their new decode (generated frames only would be allowed to change; this probe also moves
  the first window's given frames, so it is a probe, not a candidate as written).

The first seam (the 17-frame clip into the first window) is listed on its own: the clip is a
text-to-video sample, whose frame-to-frame PSNR differs from the extension's. ``--guidance``
applies to the extension only.
"""

from __future__ import annotations

import argparse
import time
import types

import numpy as np
import torch
from edit_eval import cases, frame_psnr, objects_per_frame

from kinema.pipelines import Pipeline


def decoded_per_window(mode: str):
    """An ``_extend`` replacement that decodes each window from a fresh decoder state."""

    def _extend(self, prompts, negative, src, new, steps, guidance, seed, sampler, callback,
                timings, candidates=1, planner=None):  # fmt: skip
        # probe() asks every mode for one continuation per window with the prompt held
        assert candidates == 1 and planner is None
        ctx = min(len(src), self.config.extend_context)
        ctx = 1 + (ctx - 1) // 4 * 4
        out = np.repeat(src[None], len(prompts), axis=0).astype(np.float32)  # [B, T, H, W, 3]
        tail = src[None, -ctx:].repeat(len(prompts), axis=0)  # [B, ctx, H, W, 3]
        made, step = 0, self.config.extend_window
        for w in range(-(-new // step)):
            n = min(step, new - made)
            canvas = np.concatenate([tail, np.repeat(tail[:, -1:], n, axis=1)], axis=1)
            known = np.zeros(canvas.shape[1], dtype=bool)
            known[:ctx] = True
            latents = self.complete_latents(prompts, negative, canvas, known, steps, guidance,
                                            seed + w, sampler, 1.0, None, timings, 1,
                                            self.config.context_guidance)  # fmt: skip
            r = self.decode(latents).astype(np.float32)  # [B, ctx + n, H, W, 3]
            if mode == "blend":
                L = out.shape[1]
                for i in range(ctx):  # frames L - ctx .. L - 1 move toward their new decode
                    a = (i + 1) / (ctx + 1)
                    out[:, L - ctx + i] = (1 - a) * out[:, L - ctx + i] + a * r[:, i]
            new_frames = self.mark(r[:, ctx:].round().clip(0, 255).astype(np.uint8))
            out = np.concatenate([out, new_frames.astype(np.float32)], axis=1)
            tail = out[:, -ctx:].round().clip(0, 255).astype(np.uint8)
            made += n
        return out.round().clip(0, 255).astype(np.uint8)

    return _extend


def probe(pipe: Pipeline, items: list, seconds: int, mode: str, guidance: float | None) -> dict:
    if mode != "stream":  # the shipped method otherwise
        pipe._extend = types.MethodType(decoded_per_window(mode), pipe)
    window = pipe.config.extend_window
    by_pos: list[list[float]] = [[] for _ in range(window)]
    first, ident = [], []
    t0 = time.perf_counter()
    extra = {} if guidance is None else {"guidance_scale": guidance}
    for prompt, g in items:
        v = pipe(prompt, num_frames=17, seed=1)  # the clip at the shipped settings
        # one continuation per window, the prompt held: the same windows in every mode
        v = pipe(prompt, video=v, mode="extend", num_frames=seconds * 8 - 16, seed=1,
                 candidates=1, plan_windows=False, **extra)  # fmt: skip
        f = v.frames
        for t in range(17, len(f)):
            s = frame_psnr(f[t - 1 : t], f[t : t + 1])
            (first if t == 17 else by_pos[(t - 17) % window]).append(s)
        ident.append(objects_per_frame(f, g.spec))
    pipe.__dict__.pop("_extend", None)
    mean = [float(np.mean(p)) for p in by_pos]
    rest = float(np.mean([x for p in by_pos[1:] for x in p]))
    return {
        "mode": mode,
        "guidance": guidance,
        "by_position": mean,
        "seam": mean[0],
        "first_seam": float(np.mean(first)),
        "elsewhere": rest,
        "identity": float(np.mean(ident)),
        "seconds": time.perf_counter() - t0,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=6)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--modes", default="stream,fresh,blend")
    ap.add_argument("--guidance", type=float, default=None, help="default: pipeline.json's")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    modes = args.modes.split(",")
    if not set(modes) <= {"stream", "fresh", "blend"}:
        ap.error(f"--modes takes stream, fresh and blend, got {args.modes}")
    torch.set_num_threads(args.threads)
    pipe = Pipeline.from_pretrained(None)
    items = cases(args.prompts)
    print("| mode | guidance | seam (windows 2+) | first seam | other steps | drop | "
          "by position 0..11 | identity |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for mode in modes:
        r = probe(pipe, items, args.seconds, mode, args.guidance)
        pos = " ".join(f"{x:.1f}" for x in r["by_position"])
        g = r["guidance"] if r["guidance"] is not None else pipe.config.guidance
        print(f"| {mode} | {g} | {r['seam']:.2f} | {r['first_seam']:.2f} | {r['elsewhere']:.2f} | "
              f"{r['elsewhere'] - r['seam']:.2f} | {pos} | {100 * r['identity']:.1f}% |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
