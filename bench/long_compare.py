"""Paired comparison of minute-long videos from `bench/edit_eval.py --only long` runs: a setting
against the one it would replace, minute by minute on the same scenes and seeds.

    python bench/long_compare.py --base A_long_tune.json C_long_tune.json \\
        --variant B_long_tune.json D_long_tune.json [--out bench/results/x]

``--base`` and ``--variant`` list the same number of files, pairwise on the same scenes (the
same ``--long-start`` / ``--long-prompts`` / ``--tune``). Prints, for identity per object per
frame, motion per 2 s window and the seam drop (dB), the means over all minutes of both and the
paired difference with its standard error, then each minute's pair. A different setting draws
different samples, so a minute's difference is mostly sampling noise: the standard error says
how much of the mean difference that noise covers."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

MEASURES = (("identity_frames", "identity per frame", 100.0, "%"),
            ("motion_windows", "motion per 2 s", 100.0, "%"),
            ("seam_drop_db", "seam drop", 1.0, " dB"))  # fmt: skip


def minutes(paths: list[str]) -> list[dict]:
    """Every minute of these runs, in order: edit_eval's per-prompt rows."""
    rows = []
    for p in paths:
        rows += json.loads(Path(p).read_text())["long"]["per_prompt"]
    return rows


def compare(base: list[dict], variant: list[dict]) -> list[str]:
    """Markdown lines: the paired table, then the minutes."""
    if len(base) != len(variant):
        raise SystemExit(f"{len(base)} base minutes against {len(variant)} variant minutes")
    for a, b in zip(base, variant, strict=True):
        if a["prompt"] != b["prompt"]:
            raise SystemExit(f"not the same scenes: {a['prompt']!r} vs {b['prompt']!r}")
    n = len(base)
    lines = [f"{n} minutes, paired", "",
             "| measure | base (mean) | variant (mean) | variant - base (mean +- s.e.) |",
             "|---|---|---|---|"]  # fmt: skip
    for key, name, scale, unit in MEASURES:
        a = np.array([r[key] for r in base]) * scale
        b = np.array([r[key] for r in variant]) * scale
        d = b - a
        se = d.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
        lines.append(f"| {name} | {a.mean():.1f}{unit} | {b.mean():.1f}{unit} | "
                     f"{d.mean():+.1f} +- {se:.1f}{unit} |")  # fmt: skip
    lines += ["", "| minute | objects | identity | motion | seam drop |", "|---|---|---|---|---|"]
    for a, b in zip(base, variant, strict=True):
        cells = [f"{a[k] * s:.1f} -> {b[k] * s:.1f}" for k, _, s, _ in MEASURES]
        lines.append(f"| {a['prompt'][:60]} | {a['objects']} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", nargs="+", required=True)
    ap.add_argument("--variant", nargs="+", required=True)
    ap.add_argument("--out", default=None, help="also write OUT.md (the suffix appended)")
    args = ap.parse_args()
    if len(args.base) != len(args.variant):
        raise SystemExit("--base and --variant need the same number of runs, pairwise")
    lines = [
        "# Paired minutes (`python bench/long_compare.py "
        f"--base {' '.join(args.base)} --variant {' '.join(args.variant)}`)",
        "",
        *compare(minutes(args.base), minutes(args.variant)),
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(f"{args.out}.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
