"""False refusals of Shapes World prompts: the model's own world must never be refused.

    python bench/moderation_world.py [--per-style 1000] [--seed 99]

Draws ``--per-style`` scenes (1 to 3 objects) per phrasing (canonical, training templates,
held-out templates), asks the shipped moderator about each caption with ``allow_world`` on
(as shipped) and off (rules and the head alone), and lists every refusal. Writes
bench/results/moderation_world.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from kinema.models.text import TextEncoder
from kinema.safety.moderation import Moderator
from kinema.world.captions import caption
from kinema.world.scene import sample_spec

STYLES = ("canonical", "train", "heldout")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-style", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=99)
    ap.add_argument("--out", type=Path, default=Path("bench/results/moderation_world"))
    args = ap.parse_args()
    text = TextEncoder()
    rng = np.random.default_rng(args.seed)
    prompts = [
        (s, caption(sample_spec(rng), rng, s)) for s in STYLES for _ in range(args.per_style)
    ]  # type: ignore[arg-type]
    res: dict[str, dict] = {}
    for allow in (True, False):
        m = Moderator(text_encoder=text, allow_world=allow)
        t0 = time.perf_counter()
        refused = []
        for style, p in prompts:
            d = m.check(p)
            if not d.allowed:
                refused.append({"style": style, "prompt": p, "category": d.category,
                                "via": d.via, "score": d.score})  # fmt: skip
        res["shipped" if allow else "without allow_world"] = {
            "prompts": len(prompts),
            "refused": refused,
            "seconds": time.perf_counter() - t0,
        }
        print(allow, len(refused), flush=True)
    lines = [
        f"# Moderation of Shapes World captions (`python bench/moderation_world.py "
        f"--per-style {args.per_style} --seed {args.seed}`)",
        "",
        f"{args.per_style} scenes per phrasing ({', '.join(STYLES)}), 1 to 3 objects.",
        "",
        "| moderator | prompts | refused | seconds |",
        "|---|---|---|---|",
    ]
    for name, r in res.items():
        lines.append(f"| {name} | {r['prompts']} | {len(r['refused'])} | {r['seconds']:.0f} |")
    for name, r in res.items():
        for x in r["refused"]:
            lines.append(f"\n- {name}: {x['style']}: `{x['prompt']}` -> {x['category']} "
                         f"({x['via']}, {x['score']})")  # fmt: skip
    text_out = "\n".join(lines)
    print(text_out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{args.out}.md").write_text(text_out + "\n")
    Path(f"{args.out}.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
