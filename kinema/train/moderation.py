"""Training the moderation head (``kinema train moderation``): data, out-of-fold threshold,
fit, export.

The data are labelled prompt files ({harmful: {category: [...]}, benign: [...]}), the policy's
own examples, slot-filled prompts (``compose``) and evasive rewrites of every harmful prompt.
The refusal threshold comes from out-of-fold predictions: each hand-written file is predicted
by a head trained without it, so the threshold is set on prompts the head has not seen. With
``reads_as_moderator`` each prompt is scored as the moderator reads it at run time (the most
harmful of its windows and parts, ``run_time_reads``), so the false-refusal budget counts the
long benign prompts that one window refuses.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from kinema.config import ModerationRecipe, load_yaml
from kinema.errors import InvalidInputError
from kinema.safety.evasions import KINDS, evade
from kinema.safety.moderation import Moderator, Policy, normalise
from kinema.safety.moderation_head import HeadConfig, ModerationHead, features
from kinema.safety.request import read_request

COMPOSED = "composed"  # the source name of slot-filled prompts (never held out)
OOF_NAME = "out_of_fold.npz"  # written next to the run's log: per-row scores, labels, features


@dataclass
class Row:
    text: str
    label: int  # 0 = allowed, 1 + category index otherwise
    source: str  # the file it came from (folds are by source)
    evasion: str = ""  # which rewrite, "" for the prompt as written
    rewrite: str = ""  # "framing" / "casual": a training-only copy of a hand-written prompt


def read_text(spec: str) -> str:
    """A data file's text: "package:NAME" is kinema/safety/data/NAME, anything else a path."""
    if spec.startswith("package:"):
        return resources.files("kinema.safety").joinpath("data", spec[8:]).read_text()
    p = Path(spec)
    if not p.is_file():
        raise InvalidInputError(f"{p}: no such moderation data file")
    return p.read_text()


def labelled_rows(spec: str, categories: list[str]) -> list[Row]:
    raw = load_yaml(read_text(spec), spec) or {}
    rows = []
    for cat, prompts in (raw.get("harmful") or {}).items():
        if cat not in categories:
            raise InvalidInputError(f"{spec}: category {cat!r} is not in the policy {categories}")
        rows += [Row(p, 1 + categories.index(cat), spec) for p in prompts]
    rows += [Row(p, 0, spec) for p in raw.get("benign") or []]
    if not rows:
        raise InvalidInputError(f"{spec}: no prompts (expected 'harmful' and 'benign' keys)")
    return rows


def composed_rows(spec: str, categories: list[str], rng: np.random.Generator) -> list[Row]:
    """Slot-filled prompts: each template ``count`` times with slot values drawn from ``rng``."""
    raw = load_yaml(read_text(spec), spec)
    slots: dict[str, list[str]] = raw["slots"]
    rows = []
    for label, templates in raw["templates"].items():
        y = 0 if label == "benign" else 1 + categories.index(label)
        for t in templates:
            names = [n for n in slots if "{" + n + "}" in t["text"]]
            seen = set()
            for _ in range(int(t["count"])):
                text = t["text"].format(**{n: slots[n][rng.integers(len(slots[n]))] for n in names})
                if text not in seen:
                    seen.add(text)
                    rows.append(Row(text, y, COMPOSED))
    return rows


def with_framings(
    rows: list[Row],
    framings: list[str],
    per_prompt: int,
    rng: np.random.Generator,
    max_words: int = 32,
) -> list[Row]:
    """``rows`` plus ``per_prompt`` framed copies of each (same label and source), e.g.
    "make me a video of {prompt}": the framing must not decide the label. A framing may also
    hold "{other}", filled with a benign prompt of the row's own source (so no text crosses an
    out-of-fold split), for contrastive requests: "instead of {other}, {}" asks for the row's
    prompt, whatever {other} was. A row whose source has no benign prompt short enough to keep
    the pair within ``max_words`` words gets no copy from such a framing."""
    out = list(rows)
    if not per_prompt:
        return out
    if not framings or any("{}" not in f for f in framings):
        raise InvalidInputError('every framing must hold "{}", where the prompt goes')
    benign: dict[str, list[str]] = {}
    for r in rows:
        if r.label == 0:
            benign.setdefault(r.source, []).append(r.text.rstrip(" ."))
    for r in rows:
        for i in rng.choice(len(framings), size=min(per_prompt, len(framings)), replace=False):
            framing = framings[int(i)]
            if "{other}" in framing:  # filled first: the prompt's own text is never touched
                n = len(framing.replace("{}", r.text).split())
                pool = [b for b in benign.get(r.source, [])
                        if b != r.text.rstrip(" .") and len(b.split()) + n <= max_words]  # fmt: skip
                if not pool:
                    continue
                framing = framing.replace("{other}", pool[int(rng.integers(len(pool)))])
            out.append(Row(framing.replace("{}", r.text), r.label, r.source, rewrite="framing"))
    return out


# casual spelling: whole-word swaps, then per-word -ing -> -in and typos; what people type
CASUAL_WORDS = {
    "you": "u", "your": "ur", "you're": "ur", "are": "r", "and": "n", "with": "w",
    "people": "ppl", "because": "cuz", "little": "lil", "video": "vid", "please": "pls",
    "through": "thru", "about": "bout", "them": "em", "really": "rly", "before": "b4",
    "probably": "prob", "something": "smth", "girl": "gurl", "boys": "boiz", "okay": "ok",
    "for": "4", "to": "2", "the": "da",
}  # fmt: skip
CASUAL_PHRASES = (("going to", "gonna"), ("want to", "wanna"))  # swapped before the words
CASUAL_TAGS = ("lol", "pls", "rn", "fr", "asap", "!!", "lmao", "thx")


def casualise(text: str, rng: np.random.Generator) -> str:
    """``text`` as someone might type it on a phone: lower case, no commas or full stops, some
    words shortened ("you" -> "u", "people" -> "ppl"), "-ing" dropped to "-in", a typo here and
    there (a letter dropped, doubled or swapped), sometimes a tag ("lol") at the end. Unlike an
    evasion, nothing undoes this before the head reads it, so the head has to learn it."""
    t = text.lower().replace(",", "").replace(".", "")
    for long, short in CASUAL_PHRASES:
        if rng.random() < 0.7:
            t = t.replace(long, short)
    words = []
    for w in t.split():
        if w in CASUAL_WORDS and rng.random() < (0.15 if w in ("to", "for", "the") else 0.6):
            w = CASUAL_WORDS[w]
        elif w.endswith("ing") and len(w) > 5 and rng.random() < 0.6:
            w = w[:-1]
        if len(w) >= 5 and w.isalpha() and rng.random() < 0.08:
            i = int(rng.integers(1, len(w) - 1))
            kind = rng.integers(3)
            w = (w[:i] + w[i + 1 :]) if kind == 0 else (w[:i] + w[i] + w[i:]) if kind == 1 \
                else (w[: i - 1] + w[i] + w[i - 1] + w[i + 1 :])  # fmt: skip
        words.append(w)
    if rng.random() < 0.3:
        words.append(CASUAL_TAGS[int(rng.integers(len(CASUAL_TAGS)))])
    return " ".join(words)


def with_casual(rows: list[Row], per_prompt: int, rng: np.random.Generator) -> list[Row]:
    """``rows`` plus ``per_prompt`` casual-spelling copies of each (same label and source)."""
    out = list(rows)
    for r in rows:
        for _ in range(per_prompt):
            out.append(Row(casualise(r.text, rng), r.label, r.source, rewrite="casual"))
    return out


def with_evasions(rows: list[Row], per_prompt: int, rng: np.random.Generator) -> list[Row]:
    """``rows`` plus ``per_prompt`` evasive rewrites of each harmful one (same source)."""
    out = list(rows)
    for r in rows:
        if r.label and per_prompt:
            for kind in rng.choice(KINDS, size=min(per_prompt, len(KINDS)), replace=False):
                out.append(
                    Row(evade(r.text, str(kind), rng), r.label, r.source, str(kind), r.rewrite)
                )
    return out


def with_context(
    rows: list[Row], per_prompt: int, rng: np.random.Generator, max_words: int = 32
) -> list[Row]:
    """``rows`` plus ``per_prompt`` copies of each set next to a benign prompt from the same
    source (so no text crosses an out-of-fold split), before or after it, with the pair kept
    to ``max_words`` words so the text model reads it whole. Same label: a harmless sentence
    around a harmful request does not make it harmless, and around a benign one it stays
    benign. Rows whose source has no short enough benign prompt get no copy."""
    out = list(rows)
    if not per_prompt:
        return out
    benign: dict[str, list[str]] = {}
    for r in rows:
        if r.label == 0:
            benign.setdefault(r.source, []).append(r.text)
    for r in rows:
        n = len(r.text.split())
        pool = [
            b for b in benign.get(r.source, []) if b != r.text and len(b.split()) + n <= max_words
        ]
        for _ in range(min(per_prompt, len(pool))):
            b = pool[int(rng.integers(len(pool)))].rstrip(" .")
            text = f"{b}. {r.text}" if rng.random() < 0.5 else f"{r.text.rstrip(' .')}. {b}"
            out.append(Row(text, r.label, r.source, rewrite="context"))
    return out


def with_windows(rows: list[Row], words: int) -> list[Row]:
    """``rows`` plus, for each benign one longer than ``words`` words, its runs of ``words``
    words starting every ``words // 2`` (the last ending at the last word), benign, as
    ``Moderator.windows`` cuts long prompts (by tokens there; by words here, no tokenizer
    needed). Harmful prompts get none: only the window that holds the harm is harmful."""
    out = list(rows)
    if words <= 0:
        return out
    step = max(1, words // 2)
    for r in rows:
        w = r.text.split()
        if r.label or len(w) <= words:
            continue
        for s in [*range(0, len(w) - words, step), len(w) - words]:  # range stops short of it
            out.append(Row(" ".join(w[s : s + words]), 0, r.source, rewrite="window"))
    return out


def build_rows(recipe: ModerationRecipe, policy: Policy) -> list[Row]:
    cats = [c.name for c in policy.categories]
    rng = np.random.default_rng(recipe.seed)
    rows = [Row(e, 1 + i, "policy") for i, c in enumerate(policy.categories) for e in c.examples]
    rows += [Row(e, 0, "policy") for e in policy.benign]
    for spec in recipe.data:
        rows += labelled_rows(spec, cats)
    written = rows
    if recipe.framings_per_prompt:
        framings = (load_yaml(read_text(recipe.framings), recipe.framings) or {}).get(
            "framings"
        ) or []
        rows = with_framings(rows, list(framings), recipe.framings_per_prompt, rng)
    if recipe.compose:
        rows += composed_rows(recipe.compose, cats, rng)
    rows = with_evasions(rows, recipe.evasions_per_prompt, rng)
    casual = with_casual(written, recipe.casual_per_prompt, rng)[len(written) :]
    context = with_context(written, recipe.context_per_prompt, rng)[len(written) :]
    windows = with_windows(written, recipe.benign_windows)[len(written) :]
    return rows + casual + context + windows


@dataclass
class Inputs:
    """What the head reads for every row: features [N, dim] of the frozen text model
    (``mask`` None), or, for a head that retrains the text model's top layers, the states below
    them [N, L, D] (float16, zero-padded) and their mask [N, L]."""

    x: torch.Tensor
    mask: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.x)

    def read(self, head: ModerationHead, idx: torch.Tensor | slice) -> torch.Tensor:
        """Head features [b, dim] of rows ``idx``."""
        if self.mask is None:
            return self.x[idx]
        mask = self.mask[idx]
        n = int(mask.sum(1).max())
        return head.read(self.x[idx, :n].float(), mask[:, :n])  # [b, dim]


def read(row: Row) -> str:
    """A row's text as the moderator reads it: normalised, pasted negative fields out."""
    return normalise(read_request(row.text).prompt)[0]


def embed(rows: list[Row], encoder, pooling: str = "mean", batch: int = 64) -> torch.Tensor:
    """Head features [N, dim] of each row's text as the moderator reads it (``read``)."""
    return embed_texts([read(r) for r in rows], encoder, pooling, batch)


def embed_texts(texts: list[str], encoder, pooling: str = "mean", batch: int = 64) -> torch.Tensor:
    """Head features [N, dim] of ``texts`` as given."""
    return torch.cat(
        [features(encoder, texts[i : i + batch], pooling) for i in range(0, len(texts), batch)]
    )


def embed_states(rows: list[Row], encoder, layer: int) -> Inputs:
    """States out of the text model's layer ``layer`` for each row's text as the moderator reads
    it (``states_of``)."""
    return states_of([read(r) for r in rows], encoder, layer)


def states_of(texts: list[str], encoder, layer: int) -> Inputs:
    """States out of the text model's layer ``layer`` for ``texts``, in padded batches
    (``TextEncoder.encode_many``), as float16: 40,000 rows of 48 tokens take 1.5 GB."""
    seqs = encoder.encode_many(texts, batch_size=256, layer=layer)
    n = max(s.shape[0] for s in seqs)
    x = torch.zeros(len(seqs), n, seqs[0].shape[1], dtype=torch.float16)  # [N, L, D]
    mask = torch.zeros(len(seqs), n, dtype=torch.bool)  # [N, L]
    for i, s in enumerate(seqs):
        x[i, : len(s)] = s.half()
        mask[i, : len(s)] = True
    return Inputs(x, mask)


def run_time_reads(
    rows: list[Row], idx: np.ndarray, policy: Policy, encoder
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """What the moderator's head reads of rows ``idx`` at run time (``Moderator.read_parts``:
    the windows of a long prompt, the parts of a batch request) that the row's own text, read
    whole, does not already cover: (texts, the row each belongs to [T], whether each is a
    segment's, not a window of the whole prompt [T], whether each row's own text is one of its
    reads [len(idx)]). A row with no reads (nothing but neutral phrases) has neither."""
    mod = Moderator(policy, text_encoder=encoder, head=False)
    texts, owner, segment, own = [], [], [], np.zeros(len(idx), bool)
    for k, i in enumerate(idx.tolist()):
        whole = read(rows[i])
        windows, parts = mod.read_parts(policy.read(rows[i].text)[0])
        for part, seg in [(w, False) for w in windows] + [(w, True) for w in parts]:
            if part == whole:
                own[k] = True
            else:
                texts.append(part)
                owner.append(i)
                segment.append(seg)
    return texts, np.array(owner, dtype=np.int64), np.array(segment, bool), own


def fit(
    x: torch.Tensor | Inputs, y: torch.Tensor, cfg: HeadConfig, recipe: ModerationRecipe,
    encoder=None,
) -> ModerationHead:  # fmt: skip
    """AdamW on class-balanced cross-entropy: full batch, or shuffled minibatches of
    ``recipe.batch_size`` rows. A head with ``tune_layers`` starts them from ``encoder``'s top
    layers, trains them at ``recipe.lr_layers``, and takes its minibatches from rows of like
    length (in random order), so little of each batch is padding."""
    inputs = x if isinstance(x, Inputs) else Inputs(x)
    torch.manual_seed(recipe.seed)
    head = ModerationHead(cfg)
    if cfg.tune_layers:
        if encoder is None or not recipe.batch_size:
            raise InvalidInputError("tune_layers needs the text encoder and a batch_size")
        head.copy_top(encoder)
    head.train()
    groups = [{"params": [p for n, p in head.named_parameters() if not n.startswith("top.")]}]
    if cfg.tune_layers:
        groups.append({"params": list(head.top.parameters()), "lr": recipe.lr_layers})
    opt = torch.optim.AdamW(groups, lr=recipe.lr, weight_decay=recipe.weight_decay)
    counts = torch.bincount(y, minlength=1 + len(cfg.categories)).float()
    weight = counts.sum() / (len(counts) * counts.clamp_min(1.0))  # rare classes count as much
    size = recipe.batch_size or len(y)
    for _ in range(recipe.epochs):
        if not recipe.batch_size:  # a slice: no copy of the features per epoch
            batches = [slice(None)]
        elif cfg.tune_layers:  # by length, ties broken at random; the batches shuffled
            order = torch.argsort(inputs.mask.sum(1).float() + torch.rand(len(y)))  # type: ignore[union-attr]
            batches = [order[i : i + size] for i in range(0, len(y), size)]
            batches = [batches[int(j)] for j in torch.randperm(len(batches))]
        else:
            order = torch.randperm(len(y))
            batches = [order[i : i + size] for i in range(0, len(y), size)]
        for rows in batches:  # type: ignore[assignment]
            loss = torch.nn.functional.cross_entropy(
                head(inputs.read(head, rows)), y[rows], weight=weight
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
    head.eval()
    if cfg.tune_layers:  # as save_pretrained stores them, so what loads is what was scored
        with torch.no_grad():
            for p in head.parameters():
                p.copy_(p.half().float())
    return head


@torch.no_grad()
def predict_features(
    head: ModerationHead, inputs: Inputs, idx: torch.Tensor | None = None, batch: int = 1024
) -> torch.Tensor:
    """The features [len(idx), dim] ``head`` computes for rows ``idx`` (default: all)."""
    idx = torch.arange(len(inputs)) if idx is None else idx
    return torch.cat([inputs.read(head, idx[i : i + batch]) for i in range(0, len(idx), batch)])


def predict(head: ModerationHead, inputs: Inputs, idx: torch.Tensor) -> np.ndarray:
    """P(harmful) [len(idx)] as a numpy array."""
    return head.harm(predict_features(head, inputs, idx))[0].numpy()


def fold_of(sources: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Each row's out-of-fold group: its source file (``folds`` 0), or one of ``folds`` groups
    of whole source files, dealt at random with ``seed`` (fewer fits, for costly heads)."""
    names = sorted(set(sources))
    if not folds:
        return np.array([names.index(s) for s in sources])
    order = np.random.default_rng(seed).permutation(len(names))
    group = {names[j]: k % folds for k, j in enumerate(order)}
    return np.array([group[s] for s in sources])


def scored_rows(rows: list[Row]) -> np.ndarray:
    """The rows the out-of-fold stats read: hand-written prompts and their evasive variants
    (not slot-filled ones, not training-only rewrites)."""
    return np.array([r.source != COMPOSED and not r.rewrite for r in rows])


def out_of_fold(
    rows: list[Row], x: torch.Tensor | Inputs, y: torch.Tensor, cfg: HeadConfig,
    recipe: ModerationRecipe, encoder=None, on_fold=None,
    extra: tuple[Inputs, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """P(harmful) for every hand-written row from a head trained without its source file (or
    its group of files, ``recipe.folds``), and a mask of those rows (composed prompts are
    always trained on, never scored; rewritten copies are held out with their source but not
    scored, so the stats read the prompts as written). ``extra``: inputs of more texts and the
    row each belongs to, scored by that row's head (``run_time_reads``); their P(harmful) is the
    third array. ``on_fold(done, of)`` is called after each fit."""
    inputs = x if isinstance(x, Inputs) else Inputs(x)
    sources = np.array([r.source for r in rows])
    scored = scored_rows(rows)
    harm = np.full(len(rows), np.nan)
    extra_harm = np.full(0 if extra is None else len(extra[1]), np.nan)
    fold = fold_of(sources, recipe.folds, recipe.seed)
    groups = sorted(set(fold[scored]))
    for k, f in enumerate(groups):
        test = (fold == f) & (sources != COMPOSED)
        train_idx = torch.from_numpy(np.flatnonzero(~test))
        head = fit(Inputs(inputs.x[train_idx], None if inputs.mask is None else inputs.mask[train_idx]),
                   y[train_idx], cfg, recipe, encoder)  # fmt: skip
        harm[test] = predict(head, inputs, torch.from_numpy(np.flatnonzero(test)))
        if extra is not None and test[extra[1]].any():
            mine = np.flatnonzero(test[extra[1]])
            extra_harm[mine] = predict(head, extra[0], torch.from_numpy(mine))
        if on_fold is not None:
            on_fold(k + 1, len(groups))
    return harm, scored, extra_harm


def as_read(
    harm: np.ndarray,
    idx: np.ndarray,
    own: np.ndarray,
    owner: np.ndarray,
    extra_harm: np.ndarray,
    segment: np.ndarray | None = None,
    gate: float = 0.0,
) -> np.ndarray:
    """``harm`` with each row ``idx`` replaced by the largest P(harmful) over what the moderator
    reads of it: its own text when that is one of its reads (``own``), and its other reads
    (``extra_harm``, one per ``owner``); 0 when it has none (the moderator allows it). Reads
    that are a segment's (``segment``) count only where the rest reach ``gate``, as
    ``moderation.gated`` decides at run time."""
    out = harm.copy()
    out[idx] = np.where(own, harm[idx], 0.0)
    segment = np.zeros(len(owner), bool) if segment is None else segment
    np.maximum.at(out, owner[~segment], extra_harm[~segment])
    if segment.any():
        open_ = out[owner[segment]] >= gate if gate > 0 else np.ones(int(segment.sum()), bool)
        np.maximum.at(out, owner[segment][open_], extra_harm[segment][open_])
    return out


def pick_threshold(
    harm: np.ndarray, y: np.ndarray, target_fr: float, refused: np.ndarray | None = None
) -> tuple[float, dict]:
    """The lowest threshold at which the false-refusal rate on benign rows stays <= ``target_fr``
    (``refused``: rows the rules refuse anyway, which spend that budget first), and the recall /
    false refusals there. Never below 0.5 or above 0.999."""
    refused = np.zeros(len(y), bool) if refused is None else refused
    benign = y == 0
    budget = int(np.floor(target_fr * benign.sum())) - int((refused & benign).sum())
    free = np.sort(harm[benign & ~refused])  # benign rows only the head could refuse
    if budget < 0 or len(free) == 0:
        t = 0.999
    else:
        t = float(free[len(free) - budget - 1]) + 1e-6 if budget < len(free) else 0.0
    t = min(max(t, 0.5), 0.999)
    out = (harm >= t) | refused
    stats = {
        "threshold": round(t, 6),
        "recall": round(float(out[y > 0].mean()), 4),
        "false_refusals": round(float(out[benign].mean()), 4),
        "harmful": int((y > 0).sum()),
        "benign": int(benign.sum()),
    }
    return t, stats


def train_head(recipe: ModerationRecipe, encoder, log: Path | None = None) -> ModerationHead:
    """Build the data, pick the threshold out of fold, fit on everything; log to ``log``."""
    policy = Policy.load(recipe.policy or None)
    rows = build_rows(recipe, policy)
    t0 = time.perf_counter()
    width = int(getattr(encoder, "dim", 384))
    if recipe.tune_layers:
        inputs = embed_states(rows, encoder, -1 - recipe.tune_layers)
        conf = encoder.transformer.config
        text = {"text_dim": width, "text_heads": int(conf.num_attention_heads),
                "text_ffn": int(conf.intermediate_size)}  # fmt: skip
    else:
        inputs, text = Inputs(embed(rows, encoder, recipe.pooling)), {}
    y = torch.tensor([r.label for r in rows])
    cfg = HeadConfig(
        categories=tuple(c.name for c in policy.categories),
        segment_gate=recipe.segment_gate,
        dim=width * (2 if recipe.pooling == "mean+max" else 1),
        pooling=recipe.pooling,
        hidden=recipe.hidden,
        tune_layers=recipe.tune_layers,
        text_model=str(getattr(encoder, "name", "")),
        **text,
    )

    def on_fold(done: int, of: int) -> None:  # a line a fit in the run's log: where it stands
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            with log.open("a") as f:
                seconds = round(time.perf_counter() - t0, 1)
                f.write(json.dumps({"event": "out_of_fold", "fit": done, "of": of,
                                    "seconds": seconds}) + "\n")  # fmt: skip

    extra, reads = None, None
    if recipe.reads_as_moderator:  # the texts the moderator reads besides each row as written
        idx = np.flatnonzero(scored_rows(rows))
        texts, owner, segment, own = run_time_reads(rows, idx, policy, encoder)
        reads = (idx, own, owner)
        if texts:
            extra = (states_of(texts, encoder, -1 - recipe.tune_layers) if recipe.tune_layers
                     else Inputs(embed_texts(texts, encoder, recipe.pooling)), owner)  # fmt: skip
    whole, scored, extra_harm = out_of_fold(rows, inputs, y, cfg, recipe, encoder, on_fold, extra)
    harm = (whole if reads is None
            else as_read(whole, *reads, extra_harm, segment, recipe.segment_gate))  # fmt: skip
    yn = y.numpy()
    # the head adds to the rules, so both count; a hit in a model_clears category counts as
    # the moderator decides it, against the row's out-of-fold P(harmful)
    ruled = np.array([policy.refused_by_rules(policy.rule_hits(r.text), h)
                      for r, h in zip(rows, harm.tolist(), strict=True)])  # fmt: skip
    threshold, stats = pick_threshold(
        harm[scored], yn[scored], recipe.target_false_refusals, ruled[scored]
    )
    refused = (harm >= threshold) | ruled
    plain = scored & np.array([not r.evasion for r in rows])
    stats["recall_plain"] = round(float(refused[plain & (yn > 0)].mean()), 4)
    if reads is not None:  # the same threshold on each prompt read whole, as rounds <= 24 did
        at = ((whole >= threshold) | ruled)[scored]
        stats["read_whole"] = {
            "recall": round(float(at[yn[scored] > 0].mean()), 4),
            "false_refusals": round(float(at[yn[scored] == 0].mean()), 4),
            "extra_reads": len(reads[2]),
        }
    stats["rules_alone"] = {
        "recall": round(float(ruled[scored & (yn > 0)].mean()), 4),
        "false_refusals": round(float(ruled[scored & (yn == 0)].mean()), 4),
    }
    per_source = {}
    for src in sorted({r.source for r in rows} - {COMPOSED}):
        m = scored & np.array([r.source == src for r in rows])
        per_source[src] = {
            "recall": round(float(refused[m & (yn > 0)].mean()), 4),
            "false_refusals": round(float(refused[m & (yn == 0)].mean()), 4)
            if (m & (yn == 0)).any() else None,
        }  # fmt: skip
    stats["by_source"] = per_source
    # rewritten copies, out of fold too: do they move it?
    for kind in ("framing", "casual", "context", "window"):
        m = np.array([r.rewrite == kind for r in rows])
        if m.any():
            stats[kind] = {
                "recall": round(float(refused[m & (yn > 0)].mean()), 4),
                "false_refusals": round(float(refused[m & (yn == 0)].mean()), 4),
            }
    cfg.threshold, cfg.stats = threshold, stats
    head = fit(inputs, y, cfg, recipe, encoder)
    x = inputs.x if inputs.mask is None else predict_features(head, inputs)
    if log is not None:  # every row's out-of-fold score and features, for analysis off the run
        log.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            log.parent / OOF_NAME, harm=harm, harm_whole=whole, scored=scored, label=yn, ruled=ruled,
            text=np.array([r.text for r in rows]), source=np.array([r.source for r in rows]),
            evasion=np.array([r.evasion for r in rows]), rewrite=np.array([r.rewrite for r in rows]),
            features=x.numpy().astype(np.float16),
        )  # fmt: skip
        counts = {str(k): int(v) for k, v in zip(*np.unique(yn, return_counts=True), strict=True)}
        record = {"rows": len(rows), "by_label": counts, "embed_s": round(time.perf_counter() - t0, 1),
                  "out_of_fold": stats}  # fmt: skip
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as f:
            f.write(json.dumps(record) + "\n")
    return head
