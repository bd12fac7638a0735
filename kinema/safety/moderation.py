"""Prompt moderation: phrase rules on a normalised prompt, plus semantic similarity (MiniLM).

Evasions are undone before matching: Unicode compatibility forms (NFKC) and case, zero-width
and soft-hyphen characters, homoglyphs (Cyrillic/Greek look-alikes), leetspeak inside words
(``k1ll``, ``n@ked``; bare numbers such as "3 circles" are left alone), punctuation inside
words (``k.i.l.l``), letters spaced out (``k i l l``) and repeated letters (``kiiiill``). Rules
run on every normalised variant; the semantic check embeds the prompt and compares it with each
category's examples and with benign near-misses, so "shoot a video of a sunset" passes while
"a gunman shooting people in a hallway" does not.

``Moderator.check(prompt) -> Decision``; an allowed prompt passes untouched (the pipeline gets
the user's text, not the normalised one). Every decision can go to a JSON-lines log.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import time
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from kinema.config import load_yaml
from kinema.errors import InvalidInputError, KinemaError
from kinema.safety.request import read_request
from kinema.world.captions import is_world_caption


class PromptRefusedError(KinemaError, ValueError):
    """The prompt falls under a category of the usage policy."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(
            f"prompt refused: {decision.title} ({decision.category}). {decision.reason}. "
            "See USAGE_POLICY.md; safety checks can only be turned off explicitly."
        )


# ---------------------------------------------------------------------- normalisation
ZERO_WIDTH = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\ufeff\u00ad\u180e")
)
HOMOGLYPHS = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o",
        "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j",
        "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w", "ɡ": "g", "һ": "h", "ӏ": "l",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o",
        "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ς": "s",
        # Latin look-alikes
        "ı": "i", "ł": "l", "ø": "o", "đ": "d", "ß": "ss", "æ": "ae", "œ": "oe",
    }
)  # fmt: skip
LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b",
                      "9": "g", "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e"})  # fmt: skip
_LEET_CHARS = "013457 89@$!|+€".replace(" ", "")
_WORD_WITH_LEET = re.compile(rf"[a-z{re.escape(_LEET_CHARS)}]*[a-z][a-z{re.escape(_LEET_CHARS)}]*")
# a number with its unit is not leetspeak: "35mm", "1980s", "4k", "3d", "24fps", "10yo" stay as
# written (read as letters they were "esmm", "igbos", "ak", "ed": heldout26's cinematic prompts
# reached the head as "a nostalgic igbos look", read as hateful at p=1.00)
_MEASURE = re.compile(
    r"\d+(?:mm|cm|km|m|s|k|p|d|x|fps|yo|th|st|nd|rd|am|pm|hz|kg|g|lbs?|mins?|secs?|hrs?|h|ft|gb|mb|yrs?)"
)
_INNER_PUNCT = re.compile(r"(?<=[a-z])[.\-_*'`~^:;,/\\]+(?=[a-z])")
_SPACED = re.compile(r"\b(?:[a-z][ .\-_*]){2,}[a-z]\b")
_REPEATS = re.compile(r"(.)\1{2,}")
_NON_WORD = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")
# where a prompt that asks for several things splits (Moderator.segments)
_SEGMENT = re.compile(
    r"[;\n]|:(?=\s|$)|(?:^|\s)\d{1,2}[.)]?\s+(?=[^\d\s])|,?\s+(?=(?:and )?then\s)|,\s+and\s"
)

# the items of a negative prompt (Policy.taken_away)
_NEGATIVE_ITEM = re.compile(r"[,/;|]|\band\b|\bor\b")
_DETERMINER = re.compile(r"^(?:(?:any|all|the|her|his|their|of)\s+)+")


def _strip_marks(text: str) -> str:
    """Drop combining accents: 'kíll' -> 'kill'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _join_spaced(m: re.Match[str]) -> str:
    """'k i l l' -> 'kill'; an article or pronoun at either end stays a word: 'a p r e t e e n'
    -> 'a preteen', 'm o l e s t i n g a boy' -> 'molesting a boy'."""
    text = m.group(0)
    head = tail = ""
    if text[:2] in ("a ", "i "):
        head, text = text[:2], text[2:]
    if text[-2:] in (" a", " i") and len(text) > 6:
        text, tail = text[:-2], text[-2:]
    return head + re.sub(r"[ .\-_*]", "", text) + tail


def _unleet(m: re.Match[str]) -> str:
    """A word that mixes letters and leet characters, read as letters ("k1ll" -> "kill"); a
    number with a unit ("35mm") as written."""
    w = m.group(0)
    return w.translate(LEET) if re.search("[a-z]", w) and not _MEASURE.fullmatch(w) else w


def normalise(text: str) -> list[str]:
    """Normalised variants of ``text`` (lower-case ASCII words separated by single spaces):
    [base, repeated letters squeezed to one, punctuation read as spaces, every digit read as a
    letter]. Rules match if any variant contains them (the squeezed one against squeezed
    phrases)."""
    t = unicodedata.normalize("NFKC", text).casefold().translate(ZERO_WIDTH)
    t = _strip_marks(t.translate(HOMOGLYPHS))
    # leetspeak only inside words that also hold letters: "k1ll" -> "kill", "3 cats" stays
    t = _WORD_WITH_LEET.sub(_unleet, t)
    spaced = _SPACES.sub(" ", _NON_WORD.sub(" ", t)).strip()  # "blood-soaked" -> "blood soaked"
    t = _INNER_PUNCT.sub("", t)  # "k.i.l.l" -> "kill"
    t = _SPACED.sub(_join_spaced, t)  # "k i l l" -> "kill"
    t = _SPACES.sub(" ", _NON_WORD.sub(" ", t)).strip()
    base = _REPEATS.sub(r"\1\1", t)  # "kiiiill" -> "kiill"
    squeezed = re.sub(r"(.)\1+", r"\1", base)  # "kiill" -> "kil" (phrases are squeezed too)
    # every digit read as a letter, even alone: "m4k3 17 p4s5 45 r34l" -> "make it pass as real"
    eager = unicodedata.normalize("NFKC", text).casefold().translate(ZERO_WIDTH)
    eager = _strip_marks(eager.translate(HOMOGLYPHS)).translate(LEET)
    eager = _SPACES.sub(" ", _NON_WORD.sub(" ", _INNER_PUNCT.sub("", eager))).strip()
    return [base, squeezed, _REPEATS.sub(r"\1\1", spaced), _REPEATS.sub(r"\1\1", eager)]


def _phrase_regex(phrase: str, squeeze: bool) -> str:
    base, squeezed = normalise(phrase.rstrip("*"))[:2]
    # a squeezed short phrase would match too much ("xxx" -> "x"): keep those unsqueezed
    words = squeezed if squeeze and len(squeezed) >= 4 else base
    tail = r"[a-z]*" if phrase.endswith("*") else ""
    return r"\b" + re.escape(words) + tail + r"\b"


@functools.cache
def _allow_regex(phrases: tuple[str, ...], squeeze: bool) -> re.Pattern[str]:
    """A category's ``allow`` phrases, each also matched with its words run together: the
    normalised text joins words across punctuation ("deepfake-detection" -> "deepfakedetection",
    as "k.i.l.l" -> "kill"), and an allow phrase must still take out what it names."""
    return re.compile("|".join(_phrase_regex(p, squeeze).replace(r"\ ", " ?") for p in phrases))


@dataclass(frozen=True)
class Rule:
    """Phrase groups: the rule matches when every group has a phrase in the text, all of them
    within ``span`` words of each other (None: anywhere). A two-group rule ("children" and
    "sexy") must not pair words from unrelated parts of a long prompt: behind a ~40-word
    harmless preamble, 68 benign development prompts were refused by such pairs at any
    distance, 45 within 20 words; prompts as written (every development set) matched the same."""

    groups: tuple[tuple[str, ...], ...]
    span: int | None = None

    @cached_property
    def patterns(self) -> tuple[tuple[re.Pattern[str], re.Pattern[str]], ...]:
        return tuple(
            (
                re.compile("|".join(_phrase_regex(p, False) for p in g)),
                re.compile("|".join(_phrase_regex(p, True) for p in g)),
            )
            for g in self.groups
        )

    def match(self, variants: list[str]) -> str | None:
        """The matched phrases joined by ' + ', or None."""
        for i, text in enumerate(variants):
            found = []  # per group: (word index, phrase) of every occurrence
            for pair in self.patterns:
                occ = [(text.count(" ", 0, m.start()), m.group(0))
                       for m in pair[1 if i == 1 else 0].finditer(text)]  # fmt: skip
                if not occ:
                    break
                found.append(occ)
            else:
                for combo in itertools.product(*found):
                    at = [w for w, _ in combo]
                    if self.span is None or max(at) - min(at) <= self.span:
                        return " + ".join(hit for _, hit in combo)
        return None


@dataclass
class Category:
    name: str
    title: str
    why: str
    rules: list[Rule]
    examples: list[str]
    threshold: float
    allow: list[str] = field(default_factory=list)  # phrases removed before this category's rules
    # A rule hit in this category is let through when the head reads the whole prompt (every
    # window) as harmful with P below this: the rule saw a word ("torture", "suicide"), the head
    # reads what is done with it ("a torture museum", "a suicide helpline"). 0 = never.
    model_clears: float = 0.0


@dataclass
class Decision:
    """What the moderator decided and why; ``allowed`` prompts carry no category."""

    prompt: str
    allowed: bool
    category: str | None = None
    title: str | None = None
    reason: str = ""
    # "rule" | "model" (the learned head) | "semantic" (similarity) | "world" (allowed: only
    # Shapes World caption words)
    via: str | None = None
    score: float | None = None  # P(harmful) from the head, or the cosine similarity
    normalised: str = ""
    scores: dict[str, float] = field(default_factory=dict)  # best similarity per category
    negative: str = ""  # the negative prompt: given, or pasted into the prompt (request.py)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@dataclass
class Policy:
    categories: list[Category]
    benign: list[str]
    margin: float
    version: int = 1
    # phrases the models misread by their words alone ("keep the ai watermark on" reads like
    # "remove the ai watermark"): taken out of the text the head and the similarity check read
    # (the rules still read it all), unless the prompt also holds one of ``neutral_unless``
    neutral: Rule | None = None
    neutral_unless: Rule | None = None
    # what a negative prompt that names a safeguard asks for: {"naked": ("clothes", ...)}
    safeguards: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def taken_away(self, negative: str) -> list[tuple[str, str]]:
        """(item, what its absence reads as) for each item of a negative prompt that is a
        safeguard: "clothes, blurry, censored" -> [("clothes", "naked"), ("censored",
        "uncensored nsfw")]. Items are compared whole (weights like "(clothes:1.3)" and a
        leading "any" / "all" / "the" dropped), so "revealing clothes" takes nothing away."""
        if not negative or not self.safeguards:
            return []
        out = []
        for item in _NEGATIVE_ITEM.split(negative):
            words = normalise(re.sub(r":\s*[\d.]+", " ", item))[0]
            words = _DETERMINER.sub("", words)
            for reads, names in self.safeguards.items():
                if words in names:
                    out.append((words, reads))
        return out

    def read(self, prompt: str, negative: str | None = None) -> tuple[str, str, list[str], str]:
        """What the checks read of a request: (prompt, negative prompt, reads, note). ``prompt``
        is the text without pasted negative fields (``read_request``); ``reads``, what the
        safeguards the negative prompt takes away ask for; ``note`` says so, for a refusal."""
        req = read_request(prompt)
        negative = ", ".join(n for n in (negative or "", req.negative) if n.strip())
        taken = self.taken_away(negative)
        if not taken:
            return req.prompt, negative, [], ""
        reads = list(dict.fromkeys(r for _, r in taken))
        note = (f"its negative prompt takes away {', '.join(repr(i) for i, _ in taken)}, "
                f"which asks for {' and '.join(repr(r) for r in reads)}")  # fmt: skip
        return req.prompt, negative, reads, note

    def neutralise(self, normalised: str) -> str:
        """``normalised`` without the ``neutral`` phrases, or unchanged when it holds one of
        ``neutral_unless`` ("keep the watermark off", "remove the watermark but keep the c2pa")."""
        if self.neutral is None or not self.neutral.match([normalised]):
            return normalised
        if self.neutral_unless is not None and self.neutral_unless.match([normalised]):
            return normalised
        return _SPACES.sub(" ", self.neutral.patterns[0][0].sub(" ", normalised)).strip()

    def rule_hits(self, prompt: str) -> list[tuple[Category, str]]:
        """Every (category, matched phrases) the rules find in ``prompt`` as the moderator reads
        it (pasted negative fields out, what a negative prompt takes away read in), not only
        the first: for accounting (what a rule costs, which hits ``model_clears`` can clear)."""
        text, _, reads, _ = self.read(prompt)
        out: dict[tuple[str, str], tuple[Category, str]] = {}
        for read in self.with_reads(text, reads) or [text]:
            for c, hit in self.hits(normalise(read)):
                out.setdefault((c.name, hit), (c, hit))
        return list(out.values())

    @staticmethod
    def with_reads(text: str, reads: list[str]) -> list[str]:
        """What is checked when a negative prompt takes safeguards away (``reads``, what that
        asks for): ``text`` with the reads next to it, and next to each run of 12 words (6 apart)
        of a long one, since what is taken away applies to everyone in the scene and rules pair
        words only within ``span`` words. Empty when nothing is taken away."""
        if not reads:
            return []
        words, add = text.split(), ", ".join(reads)
        parts = [" ".join(words[i : i + 12]) for i in range(0, max(1, len(words) - 6), 6)]
        return [f"{part}, {add}".lstrip(", ") for part in dict.fromkeys([text, *parts])]

    def hits(self, variants: list[str]) -> Iterator[tuple[Category, str]]:
        """(category, matched phrases) of each rule that matches the normalised ``variants``,
        in policy order, lazily; a category's ``allow`` phrases are taken out first ("suicide
        prevention" is not a request for suicide)."""
        for c in self.categories:
            texts = variants
            if c.allow:
                texts = [_allow_regex(tuple(c.allow), i == 1).sub(" ", v)
                         for i, v in enumerate(variants)]  # fmt: skip
            for rule in c.rules:
                if hit := rule.match(texts):
                    yield c, hit

    @staticmethod
    def refused_by_rules(hits: list[tuple[Category, str]], harm: float | None) -> bool:
        """Whether rule hits refuse a prompt whose head reads P(harmful) = ``harm`` (None: no
        head): a hit of a ``model_clears`` category yields below that P, as in ``check``."""
        return any(not c.model_clears or harm is None or not harm < c.model_clears for c, _ in hits)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Policy:
        """The shipped ``kinema/safety/policy.yaml``, or your own file in the same format."""
        if path is None:
            text = resources.files("kinema.safety").joinpath("policy.yaml").read_text()
            source = "kinema/safety/policy.yaml"
        else:
            p = Path(path)
            if not p.is_file():
                raise InvalidInputError(f"{p}: no such policy file")
            text = p.read_text()
            source = str(p)
        raw = load_yaml(text, source) or {}
        if not isinstance(raw.get("categories"), dict) or not raw["categories"]:
            raise InvalidInputError("a policy needs a non-empty 'categories' mapping")
        threshold = float(raw.get("threshold", 0.72))
        span = raw.get("span")  # words within which an "all" rule's groups must all occur
        if span is not None and (not isinstance(span, int) or span < 1):
            raise InvalidInputError(f"policy span must be a positive whole number, got {span!r}")
        cats = []
        for name, c in raw["categories"].items():
            rules = []
            for r in c.get("rules", []):
                if "any" in r:
                    rules.append(Rule((tuple(r["any"]),)))
                elif "all" in r:
                    rules.append(Rule(tuple(tuple(g) for g in r["all"]), span))
                else:
                    raise InvalidInputError(f"policy category {name}: a rule needs 'any' or 'all'")
            cats.append(
                Category(
                    name=name,
                    title=c.get("title", name),
                    why=c.get("why", ""),
                    rules=rules,
                    examples=list(c.get("examples", [])),
                    threshold=float(c.get("threshold", threshold)),
                    allow=list(c.get("allow", [])),
                    model_clears=float(c.get("model_clears", 0.0)),
                )
            )
        neutral = raw.get("neutral") or {}
        if not isinstance(neutral, dict) or set(neutral) - {"phrases", "unless"}:
            raise InvalidInputError("policy 'neutral' takes 'phrases' and 'unless' lists")
        phrases, unless = neutral.get("phrases") or [], neutral.get("unless") or []
        for v in (*phrases, *unless):
            if not isinstance(v, str):
                raise InvalidInputError(f"policy 'neutral': {v!r} is not a phrase (YAML reads "
                                        "bare no / off / yes as booleans: quote them)")  # fmt: skip
        guards = raw.get("negative_safeguards") or {}
        if not isinstance(guards, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
            for k, v in guards.items()
        ):
            raise InvalidInputError("policy 'negative_safeguards' maps what taking a safeguard "
                                    "away asks for to a list of phrases (quote yes / no / off)")  # fmt: skip
        return cls(cats, list(raw.get("benign_examples", [])), float(raw.get("margin", 0.04)),
                   int(raw.get("version", 1)),  # longest first: the regex takes the first fit
                   Rule((tuple(sorted(phrases, key=len, reverse=True)),)) if phrases else None,
                   Rule((tuple(unless),)) if unless else None,
                   {k: tuple(normalise(x)[0] for x in v) for k, v in guards.items()})  # fmt: skip


def gated(ps: Any, whole: int, gate: float) -> Any:
    """The P(harmful) of each thing read of a prompt (``ps`` [W], a tensor or an array: the
    whole prompt's ``whole`` windows first, then its segments'), with the segments' set to 0
    when none of the whole prompt's reaches ``gate`` (a copy; ``ps`` itself when nothing
    changes). A part of a shot list read alone loses the scene that made it harmless; a batch
    request that hides harm between harmless parts still reads as somewhat harmful whole."""
    if gate <= 0 or len(ps) <= whole:
        return ps
    if whole and float(ps[:whole].max()) >= gate:
        return ps
    out = ps.clone() if hasattr(ps, "clone") else ps.copy()
    out[whole:] = 0
    return out


class Moderator:
    """``check(prompt) -> Decision``; ``enforce(prompt)`` raises PromptRefusedError instead.

    ``semantic=False`` keeps only the rules (no text model needed); ``text_encoder`` may be
    shared with the pipeline (it is the same MiniLM). ``log`` appends every decision as JSON.
    ``window_tokens``: a longer prompt is read in overlapping windows of this many tokens and
    refused when any window is (see ``windows``); ``read_segments``: a prompt that asks for
    several things is also read part by part (see ``segments``), and a part's reading counts
    when the whole prompt's reaches ``gate`` (None: the head's ``segment_gate``).
    ``allow_world``: a prompt that says one Shapes World scene and nothing else
    (``kinema.world.is_world_caption``: only the world's caption words) is allowed without
    the rules or the model, which misread a few ("sinking, a huge blue dot ..." read as
    violence at p=0.99: 4 of 3,600 world captions under the round 28 head).
    """

    def __init__(
        self,
        policy: Policy | None = None,
        text_encoder: Any = None,
        semantic: bool = True,
        log: str | Path | None = None,
        head: Any = True,
        window_tokens: int = 24,
        read_segments: bool = True,
        gate: float | None = None,
        allow_world: bool = True,
    ) -> None:
        self.policy = policy or Policy.load()
        self.allow_world = allow_world
        self.semantic = semantic
        self._encoder = text_encoder
        self.log = Path(log) if log else None
        self._bank: tuple[Any, list[tuple[str, str]]] | None = None
        # True: the shipped head when it was trained for this policy's categories and this
        # text model; a ModerationHead: that one; None/False: nearest-example similarity only.
        self._head = head if head is not False else None
        if window_tokens < 8:
            raise InvalidInputError(f"window_tokens must be >= 8, got {window_tokens}")
        self.window_tokens = window_tokens
        self.read_segments = read_segments
        if gate is not None and not 0.0 <= gate <= 1.0:
            raise InvalidInputError(f"gate must be in [0, 1], got {gate}")
        self.gate = gate

    def segment_gate(self, head: Any) -> float:
        """The whole prompt's P(harmful) at which its segments count: ``gate`` when given,
        else the head's own (it picked its threshold with that gate)."""
        return float(self.gate if self.gate is not None else getattr(head.cfg, "segment_gate", 0.0))

    def head(self) -> Any:
        """The moderation head in use, or None (then the similarity check decides)."""
        if self._head is True:
            from kinema.safety.moderation_head import ModerationHead

            try:
                head = ModerationHead.from_pretrained()
            except InvalidInputError:
                head = None
            names = tuple(c.name for c in self.policy.categories)
            self._head = head if head is not None and head.cfg.categories == names else None
        if self._head is not None and self._encoder is not None:
            want, have = self._head.cfg.text_model, getattr(self._encoder, "name", "")
            if want and have and want != have:  # a head reads only its own encoder's vectors
                return None
        return self._head

    def _embeddings(self) -> tuple[Any, list[tuple[str, str]]]:
        """Unit vectors of every example [N, D] and their (category or '', text)."""
        if self._bank is None:
            if self._encoder is None:
                from kinema.models.text import TextEncoder

                self._encoder = TextEncoder()
            labels = [(c.name, e) for c in self.policy.categories for e in c.examples]
            labels += [("", e) for e in self.policy.benign]
            vecs = self._encoder.pooled([normalise(e)[0] for _, e in labels])
            self._bank = (vecs, labels)
        return self._bank

    def check(self, prompt: str, negative_prompt: str | None = None) -> Decision:
        """Decide on a request as the pipeline runs it: negative fields pasted into ``prompt``
        are read as the pipeline reads them (``read_request``: kept out of what is checked,
        since generation is steered away from them), and a negative prompt that takes a
        safeguard away is read as asking for its opposite (``Policy.taken_away``)."""
        if not isinstance(prompt, str):
            raise InvalidInputError(f"prompt must be a string, got {type(prompt).__name__}")
        if negative_prompt is not None and not isinstance(negative_prompt, str):
            raise InvalidInputError(
                f"negative_prompt must be a string, got {type(negative_prompt).__name__}"
            )
        text, negative, reads, note = self.policy.read(prompt, negative_prompt)
        if self.allow_world and is_world_caption(text):
            decision = Decision(text, True, reason="a Shapes World scene, in its words only",
                                via="world")  # fmt: skip
        else:
            decision = self._decide(text, normalise(text))
        if decision.allowed and reads:
            for read in self.policy.with_reads(text, reads):
                d = self._decide(read, normalise(read))
                if not d.allowed:
                    decision = d
                    break
        decision.prompt, decision.negative = prompt, negative
        if note and not decision.allowed:
            decision.reason += f" ({note})"
        if self.log is not None:
            self.log.parent.mkdir(parents=True, exist_ok=True)
            with self.log.open("a") as f:
                f.write(json.dumps({"time": time.time(), **asdict(decision)}) + "\n")
        return decision

    def segments(self, prompt: str) -> list[str]:
        """The parts of a prompt that asks for several things at once, as the models read them
        (normalised, neutral phrases out): split at ; and : and line ends, at numbered items
        ("1 a bakery 2 ..."), before "then" and at ", and" (not at full stops: prose read
        sentence by sentence cost false refusals for no recall). None when it asks for one
        thing. Read next to the whole prompt, so "three clips please: a windmill; <harm>;
        a sunrise" cannot hide the harm between two harmless requests."""
        if not self.read_segments:
            return []
        parts = [normalise(p)[0] for p in _SEGMENT.split(prompt) if p and p.strip()]
        parts = [self.policy.neutralise(p) for p in parts if len(p.split()) >= 2]
        return parts if len(parts) > 1 else []

    def reads(self, prompt: str) -> list[str]:
        """What the head reads of ``prompt`` (pasted negative fields already taken out, as
        ``Policy.read`` does): its windows and, for a batch request, its segments' windows.
        The head's P(harmful) for the prompt is the largest over these."""
        whole, parts = self.read_parts(prompt)
        return whole + parts

    def read_parts(
        self, prompt: str, normalised: str | None = None, segments: bool = True
    ) -> tuple[list[str], list[str]]:
        """What the models read of a prompt, in two lists: the windows of the whole prompt
        (neutral phrases out), and the windows of its segments not already among them (empty
        for a prompt that asks for one thing; empty lists when nothing is left to read).
        ``reads`` is the two joined."""
        normalised = normalise(prompt)[0] if normalised is None else normalised
        read = self.policy.neutralise(normalised)
        whole = self.windows(read) if read else []
        parts: list[str] = []
        for seg in self.segments(prompt) if segments else []:
            parts += [w for w in self.windows(seg) if w and w not in whole and w not in parts]
        return whole, parts

    def _head_harm(self, prompt: str, normalised: str) -> float | None:
        """The head's P(harmful) for the whole prompt (its likeliest window, segments not read
        apart: ``model_clears`` asks whether the context clears a word), None without a head."""
        if not self.semantic or not normalised:
            return None
        self._embeddings()  # loads the text encoder if none was given
        head = self.head()
        if head is None:
            return None
        parts = self.read_parts(prompt, normalised, segments=False)[0]
        if not parts:
            return 0.0
        return float(head.harm(head.features(self._encoder, parts))[0].max())

    def _decide(self, prompt: str, variants: list[str]) -> Decision:
        cleared: list[str] = []  # rule hits the head let through (said in the decision)
        yielded: set[str] = set()
        for c, hit in self.policy.hits(variants):
            if c.name in yielded:
                continue  # this category's rules yield; the others still apply
            p = self._head_harm(prompt, variants[0]) if c.model_clears > 0 else None
            if p is not None and p < c.model_clears:
                cleared.append(f"it mentions {hit!r} ({c.name} rule), but the moderation "
                               f"model reads the whole prompt as harmless (p={p:.2f} < "
                               f"{c.model_clears})")  # fmt: skip
                yielded.add(c.name)
                continue
            return Decision(prompt, False, c.name, c.title,
                            f"it mentions {hit!r}", "rule", None, variants[0])  # fmt: skip
        if not self.semantic or not variants[0]:
            return Decision(prompt, True, normalised=variants[0])
        vecs, labels = self._embeddings()
        whole, segs = self.read_parts(prompt, variants[0])  # what the models read
        parts = whole + segs
        if not parts:  # nothing left but a neutral request ("keep the ai watermark on")
            return Decision(prompt, True, reason="; ".join(cleared), normalised=variants[0])
        sims = (vecs @ self._encoder.pooled(parts).T).amax(1).tolist()  # [N], best window
        head = self.head()
        if head is not None:
            d = self._head_decision(prompt, variants[0], parts, len(whole), head, sims, labels)
            if d.allowed and cleared:
                d.reason = "; ".join(cleared)
            return d
        benign = max((s for s, (c, _) in zip(sims, labels, strict=True) if not c), default=-1.0)
        best: dict[str, tuple[float, str]] = {}
        for s, (c, text) in zip(sims, labels, strict=True):
            if c and s > best.get(c, (-1.0, ""))[0]:
                best[c] = (s, text)
        scores = {c: round(v[0], 4) for c, v in best.items()}
        for cat in self.policy.categories:
            s, text = best.get(cat.name, (-1.0, ""))
            if s >= cat.threshold and s >= benign + self.policy.margin:
                return Decision(prompt, False, cat.name, cat.title,
                                f"it reads like {text!r} (similarity {s:.2f})", "semantic",
                                round(s, 4), variants[0], scores)  # fmt: skip
        return Decision(prompt, True, normalised=variants[0], scores=scores)

    def windows(self, text: str) -> list[str]:
        """``text`` as the head reads it: whole when it has at most ``window_tokens`` tokens,
        else overlapping runs of whole words of at most that many tokens, each starting about
        half a window after the one before and the last one ending at the last word.

        The text model truncates past its own window (48 tokens for the default), and a harmful
        clause inside a long harmless description is diluted in the pooled features, so a long
        preamble used to hide the harmful part: behind one of three ~40-token scene preambles,
        recall on heldout16's harmful prompts fell from 94.0% to 75.8%. Read in 24-token windows
        it is 91.7% (false refusals on its padded benign prompts 5.2% -> 7.1%). Prompts of at
        most 24 tokens read exactly as before, and on heldout14-16 as written (up to 33 tokens)
        neither recall nor false refusals moved. ``bench/moderation_eval.py`` reports both."""
        tok = getattr(self._encoder, "tokenizer", None)
        limit = int(getattr(self._encoder, "max_tokens", 0)) - 2  # [CLS] and [SEP]
        size = min(self.window_tokens, limit)
        words = text.split()
        if tok is None or limit < 8 or not words:
            return [text]
        counts = [max(1, len(ids)) for ids in tok(words, add_special_tokens=False)["input_ids"]]
        if sum(counts) <= size:
            return [text]
        ends = np.cumsum(counts)  # tokens up to and including word i
        out, start = [], 0
        while True:
            stop = int(np.searchsorted(ends, ends[start] - counts[start] + size, side="right"))
            stop = max(stop, start + 1)  # one word longer than the window still gets read
            out.append(" ".join(words[start:stop]))
            if stop >= len(words):
                return out
            half = ends[start] - counts[start] + size // 2
            start = max(start + 1, int(np.searchsorted(ends, half, side="right")))

    def _head_decision(self, prompt: str, normalised: str, parts: list[str], whole: int,
                       head: Any, sims: list[float],
                       labels: list[tuple[str, str]]) -> Decision:  # fmt: skip
        """Refuse when the head's P(harmful) on any window of the prompt reaches its threshold
        (``parts[:whole]``: the whole prompt's windows; the rest, its segments', which count
        only when the whole prompt reaches ``segment_gate``); name the nearest example of the
        category it picked, so the refusal says what the prompt resembles."""
        ps, ks = head.harm(head.features(self._encoder, parts))  # [W], one per window
        ps = gated(ps, whole, self.segment_gate(head))
        i = int(ps.argmax())
        p, cat = float(ps[i]), self.policy.categories[int(ks[i])]
        scores = {"p_harmful": round(p, 4)}
        if p < head.cfg.threshold:
            return Decision(prompt, True, normalised=normalised, score=round(p, 4), scores=scores)
        near = max(((s, t) for s, (c, t) in zip(sims, labels, strict=True) if c == cat.name),
                   default=(0.0, ""))  # fmt: skip
        reason = f"the moderation model reads it as {cat.title.lower()} (p={p:.2f})"
        if near[1]:
            reason += f", nearest example {near[1]!r}"
        return Decision(prompt, False, cat.name, cat.title, reason, "model", round(p, 4),
                        normalised, scores)  # fmt: skip

    def enforce(self, prompt: str, negative_prompt: str | None = None) -> str:
        """Return ``prompt`` untouched if allowed; raise PromptRefusedError otherwise."""
        decision = self.check(prompt, negative_prompt)
        if not decision.allowed:
            raise PromptRefusedError(decision)
        return prompt
