"""What each phrase rule costs and buys, on a moderation run's out-of-fold scores.

    python bench/moderation_rules.py --run runs/moderation-r22 [--policy FILE] [--out FILE]

The rules and the head share one false-refusal budget: every benign development prompt a rule
refuses is one the head's threshold cannot spend. For each rule hit (category and the phrases
it matched) this counts the benign prompts it refuses and the harmful prompts it catches that
the head, scored out of fold (``out_of_fold.npz``, written by ``kinema train moderation``),
misses at the run's threshold: its *unique* catches. A rule with benign hits and no unique
catch costs budget and buys nothing on this data; whether to drop it is a judgement (a name
list the head cannot learn, or a guarantee under evasions, can be worth keeping), made here
on development data only. It also reports the threshold, recall and false refusals the run
would have picked with a rule set left out (``--without category:phrase ...``), since only
the rules change and the head's scores stay valid.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

import numpy as np

from kinema.safety.moderation import Policy, _allow_regex, normalise
from kinema.train.moderation import OOF_NAME, pick_threshold


def rule_hits(policy: Policy, text: str) -> list[tuple[str, str]]:
    """Every (category, matched phrases) the rules find in ``text``, as the moderator reads it
    (pasted negative fields out, safeguards taken away read in), not only the first."""
    read, _, reads, _ = policy.read(text)
    variants = normalise(f"{read}, {', '.join(reads)}" if reads else read)
    out = []
    for c in policy.categories:
        texts = variants
        if c.allow:
            texts = [
                _allow_regex(tuple(c.allow), i == 1).sub(" ", v) for i, v in enumerate(variants)
            ]
        for rule in c.rules:
            hit = rule.match(texts)
            if hit:
                out.append((c.name, hit))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run", type=Path, required=True, help="a moderation run's folder")
    ap.add_argument("--policy", default=None)
    ap.add_argument("--target", type=float, default=0.02, help="false-refusal budget")
    ap.add_argument("--without", nargs="*", default=[], metavar="CATEGORY:HIT",
                    help="rule hits to leave out when re-picking the threshold")  # fmt: skip
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()

    policy = Policy.load(args.policy)
    oof = np.load(args.run / OOF_NAME)
    harm, scored, label = oof["harm"], oof["scored"], oof["label"]
    texts = oof["text"]
    idx = np.flatnonzero(scored)
    hits = {int(i): rule_hits(policy, str(texts[i])) for i in idx}
    head = json.loads((args.run / "moderation_head.json").read_text())
    t = float(head["threshold"])
    ruled = np.zeros(len(label), bool)
    ruled[idx] = [bool(hits[int(i)]) for i in idx]
    benign, bad = Counter(), Counter()
    for i in idx:
        for h in set(hits[int(i)]):
            if label[i] == 0:
                benign[h] += 1
            elif harm[i] < t and len(set(hits[int(i)])) == 1:
                bad[h] += 1  # only this rule catches it: the head misses it out of fold
    lines = [f"# Phrase rules on `{args.run}` (out of fold, development data)", ""]
    n_b, n_h = int((label[idx] == 0).sum()), int((label[idx] > 0).sum())
    lines += [f"{n_h} harmful and {n_b} benign prompts as written; head threshold {t:.4f}.",
              f"Rules refuse {int(ruled[idx][label[idx] == 0].sum())} benign prompts and catch "
              f"{sum(bad.values())} harmful ones the head misses.", "",
              "| category | rule hit | benign refused | unique harmful catches |",
              "|---|---|---|---|"]  # fmt: skip
    for h in sorted(set(benign) | set(bad), key=lambda h: (-benign[h], bad[h], h)):
        lines.append(f"| {h[0]} | {h[1]} | {benign[h]} | {bad[h]} |")
    for spec in [[], [tuple(w.split(":", 1)) for w in args.without]] if args.without else [[]]:
        drop = set(spec)
        r = np.zeros(len(label), bool)
        r[idx] = [any(h not in drop for h in hits[int(i)]) for i in idx]
        _, stats = pick_threshold(harm[scored], label[scored], args.target, r[scored])
        name = "the rules as they are" if not drop else f"without {sorted(drop)}"
        lines += ["", f"Threshold re-picked with {name}: {json.dumps(stats)}"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
