"""Video understanding: shots, camera motion, the recognizer (+ out-of-distribution), speed.

    python bench/understand_eval.py [--edits 200] [--pans 200] [--clips 1000] [--ood 300]

- Shots: ``--edits`` Shapes World videos (2-5 shots of 12-40 frames, 64x64) joined by hard
  cuts and fades through black at known frames, written as H.264 mp4 and read back; a
  detected cut is right when it is within 1 frame of a true one (each true cut matched once).
- Camera: ``--pans`` pans across scikit-image's bundled photos (left/right/up/down, 2-4 px
  per frame, 17 frames at 128x128); right when ``describe`` names the pan's direction.
- Recognizer: ``--clips`` held-out rendered clips (a seed training never drew) at 17x64x64,
  1-3 objects: per-attribute accuracy (background, colour set, count, shape, size, motion)
  and whole-caption exact; also after H.264 crf 23. Out of distribution: ``--ood`` clips of
  noise, photo pans and colour gradients: share called "unknown".
- Speed: ``kinema describe`` on a 60 s 256x256 video (8 shots of Shapes World) on 2 cores.

Writes bench/results/understand_eval.{md,json}.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from results_io import report

from kinema.io.video import Video, read_video, write_video
from kinema.understand.describe import describe
from kinema.understand.recognize import Recognizer, prepare
from kinema.understand.shots import detect_cuts
from kinema.world.edits import edited_video
from kinema.world.render import render
from kinema.world.scene import sample_scene

SEED = 626_262


def codec(frames: np.ndarray, tmp: Path, crf: int = 18, fps: float = 8.0) -> np.ndarray:
    return read_video(
        write_video(Video(frames, fps), tmp / "v.mp4", overwrite=True, quality=crf)
    ).frames


def shots_eval(n: int, tmp: Path) -> dict[str, float]:
    rng = np.random.default_rng(SEED)
    tp = fp = fn = 0
    kinds = {"cut": [0, 0], "fade": [0, 0]}  # found, total
    for _ in range(n):
        frames, truth = edited_video(rng)
        pred = detect_cuts(codec(frames, tmp), 8.0)
        used: set[int] = set()
        for p, _kind in pred:
            m = [j for j, (c, _) in enumerate(truth) if abs(c - p) <= 1 and j not in used]
            if m:
                tp += 1
                used.add(m[0])
            else:
                fp += 1
        fn += len(truth) - len(used)
        for j, (_, kind) in enumerate(truth):
            kinds[kind][1] += 1
            kinds[kind][0] += j in used
    return {
        "videos": n, "true_cuts": tp + fn, "detected": tp + fp,
        "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1),
        "recall_cut": kinds["cut"][0] / max(kinds["cut"][1], 1),
        "recall_fade": kinds["fade"][0] / max(kinds["fade"][1], 1),
    }  # fmt: skip


def photos() -> list[np.ndarray]:
    from skimage import data

    out = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon", "page",
                 "immunohistochemistry", "hubble_deep_field", "motorcycle_left", "cat"):  # fmt: skip
        try:
            img = getattr(data, name)()
        except Exception:  # some samples need a download; skip those
            continue
        img = np.repeat(img[..., None], 3, -1) if img.ndim == 2 else img[..., :3]
        out.append(np.ascontiguousarray(img.astype(np.uint8)))
    return out


def pan(img: np.ndarray, direction: str, speed: int, rng: np.random.Generator,
        side: int = 128, frames: int = 17) -> np.ndarray:  # fmt: skip
    """A camera panning ``direction`` across ``img``: the view window moves that way."""
    crop = side * 2
    scale = (crop + speed * frames + 8) / min(img.shape[:2])
    big = cv2.resize(
        img, None, fx=max(scale, 1.0), fy=max(scale, 1.0), interpolation=cv2.INTER_AREA
    )
    travel = speed * (frames - 1)
    y0 = (
        int(rng.integers(0, big.shape[0] - crop - travel + 1))
        if big.shape[0] > crop + travel
        else 0
    )
    x0 = (
        int(rng.integers(0, big.shape[1] - crop - travel + 1))
        if big.shape[1] > crop + travel
        else 0
    )
    dx, dy = {"pan left": (-1, 0), "pan right": (1, 0), "tilt up": (0, -1), "tilt down": (0, 1)}[
        direction
    ]
    sx = x0 + (travel if dx < 0 else 0)
    sy = y0 + (travel if dy < 0 else 0)
    out = []
    for t in range(frames):
        x, y = sx + dx * speed * t, sy + dy * speed * t
        out.append(
            cv2.resize(big[y : y + crop, x : x + crop], (side, side), interpolation=cv2.INTER_AREA)
        )
    return np.stack(out)


def camera_eval(n: int) -> dict[str, float]:
    rng = np.random.default_rng(SEED + 1)
    imgs = photos()
    dirs = ("pan left", "pan right", "tilt up", "tilt down")
    right = 0
    per = {d: [0, 0] for d in dirs}
    for i in range(n):
        d = dirs[i % 4]
        frames = pan(imgs[i % len(imgs)], d, int(rng.integers(2, 5)) * 2, rng)
        got = describe(frames, 8.0).shots[0].camera
        right += got == d
        per[d][0] += got == d
        per[d][1] += 1
    return {"pans": n, "photos": len(imgs), "accuracy": right / n,
            **{f"acc_{d.replace(' ', '_')}": a / max(t, 1) for d, (a, t) in per.items()}}  # fmt: skip


def spec_key(spec) -> tuple:
    objs = tuple(sorted((o.color, o.shape, o.size, o.motion) for o in spec.objects))
    return spec.background, objs


def recognizer_eval(rec: Recognizer, n: int, n_ood: int, tmp: Path) -> dict[str, float]:
    rng = np.random.default_rng(SEED + 2)
    graphs = [sample_scene(rng, max_objects=3) for _ in range(n)]
    clips = np.stack([render(g) for g in graphs])
    res: dict[str, float] = {"clips": n}
    for name, batch in (("", clips), ("crf23_", np.stack([codec(c, tmp, 23) for c in clips]))):
        preds = rec.predict(np.stack([prepare(c) for c in batch]))
        stats = {
            k: []
            for k in ("known", "background", "colours", "count", "shape", "size", "motion", "exact")
        }
        for g, p in zip(graphs, preds, strict=True):
            stats["known"].append(p.known)
            stats["background"].append(p.background == g.background)
            got = {o.color: o for o in p.objects}
            stats["colours"].append(set(got) == {o.color for o in g.objects})
            stats["count"].append(p.count == len(g.objects))
            for o in g.objects:
                q = got.get(o.color)
                for k in ("shape", "size", "motion"):
                    stats[k].append(q is not None and getattr(q, k) == getattr(o, k))
            pk = (
                p.background,
                tuple(sorted((o.color, o.shape, o.size, o.motion) for o in p.objects)),
            )
            truth = (
                g.background,
                tuple(sorted((o.color, o.shape, o.size, o.motion) for o in g.objects)),
            )
            stats["exact"].append(p.known and pk == truth)
        res.update({f"{name}{k}": float(np.mean(v)) for k, v in stats.items()})
    # out of distribution: noise, photo pans, gradients
    imgs = photos()
    ood = []
    for i in range(n_ood):
        kind = ("noise", "photo", "gradient")[i % 3]
        if kind == "noise":
            v = rng.integers(0, 256, (17, 64, 64, 3), dtype=np.uint8)
        elif kind == "photo":
            v = pan(imgs[i % len(imgs)], ("pan left", "pan right", "tilt up", "tilt down")[i % 4], 3,
                    rng, side=64)  # fmt: skip
        else:
            a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
            ramp = np.linspace(0, 1, 64)[None, :, None]
            img = (a * (1 - ramp) + b * ramp) * np.ones((64, 1, 1))
            shift = np.linspace(0, 1, 17)
            v = np.stack([np.roll(img, int(s * 16), axis=1) for s in shift]).astype(np.uint8)
        ood.append((kind, v))
    preds = rec.predict(np.stack([prepare(v) for _, v in ood]))
    res["ood_clips"] = n_ood
    res["ood_unknown"] = float(np.mean([not p.known for p in preds]))
    for kind in ("noise", "photo", "gradient"):
        res[f"ood_unknown_{kind}"] = float(
            np.mean([not p.known for (k, _), p in zip(ood, preds, strict=True) if k == kind])
        )
    return res


def speed_eval(rec: Recognizer, tmp: Path) -> dict[str, float]:
    rng = np.random.default_rng(SEED + 3)
    parts = [render(sample_scene(rng, height=256, width=256, num_frames=60)) for _ in range(8)]
    path = write_video(Video(np.concatenate(parts), 8.0), tmp / "minute.mp4", overwrite=True)
    t0 = time.perf_counter()
    src = read_video(path)
    t1 = time.perf_counter()
    desc = describe(src.frames, src.fps, str(path), rec)
    t2 = time.perf_counter()
    return {"video_seconds": src.duration, "size": 256, "read_s": t1 - t0, "describe_s": t2 - t1,
            "total_s": t2 - t0, "shots_found": len(desc.shots), "shots_true": 8}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--edits", type=int, default=200)
    ap.add_argument("--pans", type=int, default=200)
    ap.add_argument("--clips", type=int, default=1000)
    ap.add_argument("--ood", type=int, default=300)
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=Path("bench/results/understand_eval"))
    args = ap.parse_args()
    rec = Recognizer.from_pretrained(args.weights)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        shots = shots_eval(args.edits, tmp)
        camera = camera_eval(args.pans)
        recog = recognizer_eval(rec, args.clips, args.ood, tmp)
        speed = speed_eval(rec, tmp)
    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    lines = [
        "# Video understanding (bench/understand_eval.py)", "",
        f"Shots, {shots['videos']} edited videos ({shots['true_cuts']} true transitions, H.264): "
        f"precision {shots['precision']:.3f}, recall {shots['recall']:.3f} (cuts "
        f"{pct(shots['recall_cut'])}, fades {pct(shots['recall_fade'])}), within 1 frame.", "",
        f"Camera direction, {camera['pans']} pans over {camera['photos']} scikit-image photos: "
        f"{pct(camera['accuracy'])} (left {pct(camera['acc_pan_left'])}, right "
        f"{pct(camera['acc_pan_right'])}, up {pct(camera['acc_tilt_up'])}, down "
        f"{pct(camera['acc_tilt_down'])}).", "",
        f"Recognizer, {recog['clips']} held-out clips (17x64x64, 1-3 objects):", "",
        "| input | answered | background | colours | count | shape | size | motion | whole caption |",
        "|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for name, label in (("", "rendered"), ("crf23_", "H.264 crf 23")):
        lines.append(f"| {label} | " + " | ".join(pct(recog[f"{name}{k}"]) for k in (
            "known", "background", "colours", "count", "shape", "size", "motion", "exact")) + " |")  # fmt: skip
    lines += [
        "",
        f"Out of distribution, {recog['ood_clips']} clips called unknown: {pct(recog['ood_unknown'])} "
        f"(noise {pct(recog['ood_unknown_noise'])}, photo pans {pct(recog['ood_unknown_photo'])}, "
        f"gradients {pct(recog['ood_unknown_gradient'])}).", "",
        f"Speed: describe a {speed['video_seconds']:.0f} s {speed['size']}x{speed['size']} video "
        f"in {speed['total_s']:.1f} s on 2 cores (read {speed['read_s']:.1f} s, describe "
        f"{speed['describe_s']:.1f} s; {speed['shots_found']} shots found of {speed['shots_true']}).",
    ]  # fmt: skip
    text = "\n".join(lines)
    report(args.out, text, {"shots": shots, "camera": camera, "recognizer": recog, "speed": speed})


if __name__ == "__main__":
    main()
