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

from kinema.safety.moderation import Policy
from kinema.train.moderation import OOF_NAME, pick_threshold


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
    harm, scored, label, texts = oof["harm"], oof["scored"], oof["label"], oof["text"]
    idx = np.flatnonzero(scored)
    t = float(json.loads((args.run / "moderation_head.json").read_text())["threshold"])
    hits = {}  # row -> the rule hits that refuse it (model_clears as the moderator decides)
    for i in idx:
        h = policy.rule_hits(str(texts[i]))
        hits[int(i)] = {
            (c.name, hit) for c, hit in h if policy.refused_by_rules([(c, hit)], harm[i])
        }
    benign, only = Counter(), Counter()
    for i, h in hits.items():
        for hit in h:
            if label[i] == 0:
                benign[hit] += 1
            elif harm[i] < t and len(h) == 1:
                only[hit] += 1  # only this rule catches it: the head misses it out of fold
    n_b, n_h = int((label[idx] == 0).sum()), int((label[idx] > 0).sum())
    b_ruled = sum(1 for i, h in hits.items() if h and label[i] == 0)
    lines = [f"# Phrase rules on `{args.run}` (out of fold, development data)", "",
             f"{n_h} harmful and {n_b} benign prompts as written (evasive variants included); "
             f"head threshold {t:.4f}. Rules refuse {b_ruled} benign prompts and are the only "
             f"catch of {sum(only.values())} harmful ones.", "",
             "| category | rule hit | benign refused | harmful only it catches |", "|---|---|---|---|"]  # fmt: skip
    for h in sorted(set(benign) | set(only), key=lambda h: (-benign[h], only[h], h)):
        lines.append(f"| {h[0]} | {h[1]} | {benign[h]} | {only[h]} |")
    drop = {tuple(w.split(":", 1)) for w in args.without}
    sets = [("the rules as they are", set())] + (
        [(f"without {sorted(drop)}", drop)] if drop else []
    )
    for name, leave in sets:
        ruled = np.zeros(len(label), bool)
        ruled[idx] = [bool(hits[int(i)] - leave) for i in idx]
        _, stats = pick_threshold(harm[scored], label[scored], args.target, ruled[scored])
        lines += ["", f"Threshold re-picked with {name}: {json.dumps(stats)}"]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
