"""A minute's wall time before and after a change in the code, in alternating processes.

    git worktree add /tmp/before <commit>
    python bench/long_speed_pairs.py --before /tmp/before [--rounds 5] --out DIR
    python bench/long_speed_pairs.py --summarise DIR      # the table again, from the runs

A change to the DiT or the sampler cannot be timed against the code before it in one process,
and this machine drifts by 10-30% over minutes, so every round runs ``bench/long_speed.py
--repeats 1`` (a warm-up minute, then one timed minute per prompt) once with the code at
``--before`` on ``PYTHONPATH`` and once with this tree's, in turn. Each run is kept as
``DIR/{before,after}_runN.json``; the table gives per prompt the median wall time of each side
and every run's wall time (sampling seconds, rows the identity guard made again)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def summarise(out: Path) -> str:
    """The markdown table of the runs kept in ``out``."""
    sides: dict[str, list[list[dict]]] = {"before": [], "after": []}
    for side in sides:
        for path in sorted(
            out.glob(f"{side}_run*.json"), key=lambda p: int(p.stem[len(side) + 4 :])
        ):
            sides[side].append(json.loads(path.read_text()))
    if not sides["before"] or not sides["after"]:
        raise SystemExit(f"no before_run*.json / after_run*.json in {out}")
    prompts = [row["prompt"] for row in sides["after"][0]]
    lines = [
        f"# A minute's wall time, before and after, alternating (`{out}`)",
        "",
        f"{len(sides['before'])} + {len(sides['after'])} runs of `bench/long_speed.py --seconds 60 "
        "--repeats 1`, the two sides in turn. Runs: wall seconds (sampling seconds, rows the "
        "identity guard made again); a run without them predates their logging.",
        "",
        "| prompt | before: median | after: median | after / before | before: runs | after: runs |",
        "|---|---|---|---|---|---|",
    ]
    for prompt in prompts:
        cells, medians = [], {}
        for side, runs in sides.items():
            rows = [r for run in runs for r in run if r["prompt"] == prompt]
            walls = [r["wall"]["as shipped"] for r in rows]
            medians[side] = statistics.median(walls)
            cells.append(", ".join(
                f"{r['wall']['as shipped']:.1f}"
                + (f" ({r['sampling']['as shipped'][0]:.1f}, {r['retried']['as shipped'][0]})"
                   if "sampling" in r else "")
                for r in rows
            ))  # fmt: skip
        lines.append(
            f"| {prompt} | {medians['before']:.1f} s | {medians['after']:.1f} s | "
            f"{medians['after'] / medians['before']:.3f}x | {cells[0]} | {cells[1]} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", help="a checkout of the code before (its root)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--summarise", metavar="DIR", help="only print the table of DIR's runs")
    ap.add_argument("--out", default="bench/results/long_speed_pairs")
    args = ap.parse_args()
    if args.summarise:
        print(summarise(Path(args.summarise)))
        return
    if not args.before or not (Path(args.before) / "kinema").is_dir():
        ap.error("--before takes the root of a checkout of the code before (it holds kinema/)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = len(list(out.glob("after_run*.json")))
    for r in range(start + 1, start + args.rounds + 1):
        for side in ("before", "after"):
            env = dict(os.environ)
            if side == "before":
                env["PYTHONPATH"] = str(Path(args.before).resolve())
            cmd = [sys.executable, str(HERE / "long_speed.py"), "--seconds", "60", "--repeats",
                   "1", "--out", str(out / f"{side}_run{r}")]  # fmt: skip
            subprocess.run(cmd, env=env, check=True, capture_output=True)
            (out / f"{side}_run{r}.md").unlink(missing_ok=True)
            print(side, r, json.loads((out / f"{side}_run{r}.json").read_text()), flush=True)
    text = summarise(out)
    print(text)
    (out / "summary.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
