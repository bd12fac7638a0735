"""Captions for scene graphs (canonical + paraphrases) and a parser that reads them back.

The canonical form is fixed by the spec. Paraphrases vary templates, synonyms for sizes,
shapes and motions, and word order, so a text encoder, not string matching, has to carry
the prompt. Templates are numbered; ``HELDOUT_*`` ones are never used for training captions,
so evaluation can ask in phrasings the model has not seen.

The parser does not depend on templates: it finds colour, shape, size and motion mentions
and pairs them with objects in order of appearance, which every template respects.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Literal

import numpy as np

from kinema.errors import InvalidInputError, PromptParseError
from kinema.world import spec as S
from kinema.world.scene import ObjectSpec, SceneSpec

# ------------------------------------------------------------------------------ lexicon

SHAPE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "circle": ("circle", "ball", "disc", "dot"),
    "square": ("square", "box", "block", "tile"),
    "triangle": ("triangle", "wedge", "triangular shape"),
}
SIZE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "small": ("small", "little", "tiny"),
    "large": ("large", "big", "huge"),
}
# Participle phrases that follow a noun ("a red ball ..."). The first is canonical.
MOTION_PHRASES: dict[str, tuple[str, ...]] = {
    "left": (
        "moving left",
        "sliding to the left",
        "drifting leftward",
        "heading left",
        "travelling left",
    ),
    "right": (
        "moving right",
        "sliding to the right",
        "drifting rightward",
        "heading right",
        "travelling right",
    ),
    "up": ("moving up", "rising", "floating upward", "drifting up", "climbing"),
    "down": ("moving down", "sinking", "drifting downward", "descending", "sliding down"),
    "bounce": (
        "bouncing",
        "bouncing on the floor",
        "hopping",
        "bouncing up and down",
        "dropping and bouncing",
    ),
    "still": (
        "standing still",
        "not moving",
        "at rest",
        "motionless",
        "sitting still",
        "staying put",
    ),
}
# Extra words and phrases the parser understands beyond what the templates write.
_EXTRA_MOTION = {
    "left": ("leftward", "leftwards", "to the left", "goes left", "moves left"),
    "right": ("rightward", "rightwards", "to the right", "goes right", "moves right"),
    "up": ("upward", "upwards", "ascending", "moves up", "goes up"),
    "down": ("downward", "downwards", "moves down", "goes down"),
    "bounce": ("bounces", "bounce", "bouncy", "hops"),
    "still": ("still", "stationary", "static", "not move", "does not move", "resting", "idle"),
}
_EXTRA_SHAPES = {"circle": ("disk", "round"), "square": ("cube",), "triangle": ("triangular",)}
_EXTRA_SIZES = {"small": ("smaller",), "large": ("larger", "bigger")}
_GRAY = ("gray", "grey")

# ------------------------------------------------------------------------------ templates

# Object phrases: {size} may be empty (then the caption leaves size out).
OBJECT_TEMPLATES: tuple[str, ...] = (
    "a {size} {color} {shape} {motion}",  # 0: canonical
    "a {size} {color} {shape} that is {motion}",
    "one {size} {color} {shape}, {motion}",
    "a {color} {shape}, {size}, {motion}",
    "{motion}, a {size} {color} {shape}",
    "a {shape} in {color}, {size} and {motion}",  # held out
)
SCENE_TEMPLATES: tuple[str, ...] = (
    "{objects} on a {bg} background",  # 0: canonical
    "on a {bg} background, {objects}",
    "{objects}, against a {bg} backdrop",
    "a video of {objects} on {bg}",
    "{bg} background with {objects}",
    "{objects}. the background is {bg}",
    "a {bg} scene: {objects}",
    "in front of a {bg} background, {objects}",
    "{objects} on a plain {bg} background",
    "a clip showing {objects} over a {bg} background",  # held out
    "everything sits on {bg}: {objects}",  # held out
)
_MOTION_FIRST = 4
JOINERS: tuple[str, ...] = (" and ", ", and ", " while ", " as well as ")
HELDOUT_OBJECT_TEMPLATES: frozenset[int] = frozenset({5})
HELDOUT_SCENE_TEMPLATES: frozenset[int] = frozenset({9, 10})
HELDOUT_JOINERS: frozenset[int] = frozenset({3})

Style = Literal["canonical", "train", "heldout", "any"]


def canonical_caption(spec: SceneSpec) -> str:
    """The spec's canonical caption: ``a large red circle moving left on a black background``."""
    objs = " and ".join(
        OBJECT_TEMPLATES[0].format(
            size=o.size or "", color=o.color, shape=o.shape, motion=MOTION_PHRASES[o.motion][0]
        )
        for o in spec.objects
    )
    return _tidy(SCENE_TEMPLATES[0].format(objects=objs, bg=spec.background))


def _pool(n: int, heldout: frozenset[int], style: Style) -> list[int]:
    if style == "heldout":
        return sorted(heldout)
    if style == "train":
        return [i for i in range(n) if i not in heldout]
    return list(range(n))


def caption(
    spec: SceneSpec,
    rng: np.random.Generator | None = None,
    style: Style = "canonical",
    drop_size_p: float = 0.15,
) -> str:
    """A caption of ``spec``: canonical, or a random paraphrase from the train/held-out/any pool.

    ``heldout`` draws at least one held-out template (scene or object phrase), so such a
    caption is never one training could have produced.
    """
    if style == "canonical":
        return canonical_caption(spec)
    if rng is None:
        raise InvalidInputError(
            f"style {style!r} draws paraphrases: pass rng=np.random.default_rng(seed)"
        )
    scene_pool = _pool(len(SCENE_TEMPLATES), HELDOUT_SCENE_TEMPLATES, style)
    obj_pool = _pool(len(OBJECT_TEMPLATES), HELDOUT_OBJECT_TEMPLATES, style)
    join_pool = _pool(len(JOINERS), HELDOUT_JOINERS, style)
    if style == "heldout":  # mix held-out with training pieces, one held-out at least
        scene_pool = list(range(len(SCENE_TEMPLATES)))
        obj_pool = list(range(len(OBJECT_TEMPLATES)))
    while True:
        scene_t = int(rng.choice(scene_pool))
        # the motion-first phrase reads ambiguously after a joiner: first object only
        obj_ts = [
            int(rng.choice([t for t in obj_pool if k == 0 or t != _MOTION_FIRST]))
            for k in range(len(spec.objects))
        ]
        join_t = int(rng.choice(join_pool))
        used_heldout = scene_t in HELDOUT_SCENE_TEMPLATES or any(
            t in HELDOUT_OBJECT_TEMPLATES for t in obj_ts
        )
        if (
            style != "heldout"
            or used_heldout
            or (len(spec.objects) > 1 and join_t in HELDOUT_JOINERS)
        ):
            break
    phrases = []
    for o, t in zip(spec.objects, obj_ts, strict=True):
        size = o.size if (o.size and rng.random() >= drop_size_p) else ""
        template = OBJECT_TEMPLATES[t]
        if not size:  # leave the size out without leaving its commas behind
            template = template.replace("{size} and ", "").replace(", {size},", ",")
        phrases.append(
            template.format(
                size=_pick(rng, SIZE_SYNONYMS[size]) if size else "",
                color=o.color,
                shape=_pick(rng, SHAPE_SYNONYMS[o.shape]),
                motion=_pick(rng, MOTION_PHRASES[o.motion]),
            )
        )
    if len(phrases) == 1:
        objs = phrases[0]
    else:
        objs = ", ".join(phrases[:-1]) + JOINERS[join_t] + phrases[-1]
    bg = _pick(rng, _GRAY) if spec.background == "gray" else spec.background
    return _tidy(SCENE_TEMPLATES[scene_t].format(objects=objs, bg=bg))


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r" ,", ",", text)
    text = re.sub(r",\s*,", ",", text)
    return text.strip(" ,")


# ------------------------------------------------------------------------------ parsing


def _lexicon() -> list[tuple[tuple[str, ...], str, str]]:
    """(token sequence, kind, value), longest first so phrases win over their words."""
    entries: list[tuple[tuple[str, ...], str, str]] = []

    def add(kind: str, table: dict[str, tuple[str, ...]]) -> None:
        for value, phrases in table.items():
            for p in phrases:
                entries.append((tuple(p.split()), kind, value))

    add("motion", MOTION_PHRASES)
    add("motion", _EXTRA_MOTION)
    add("shape", SHAPE_SYNONYMS)
    add("shape", _EXTRA_SHAPES)
    add("size", SIZE_SYNONYMS)
    add("size", _EXTRA_SIZES)
    add("color", {c: (c,) for c in S.COLORS})
    add("background", {"black": ("black",), "white": ("white",), "gray": _GRAY})
    # bare direction words ("moving left" is listed; "left" alone also counts)
    add("motion", {m: (m,) for m in S.LINEAR_MOTIONS})
    return sorted(entries, key=lambda e: -len(e[0]))


_LEXICON = _lexicon()
_BACKDROP_WORDS = frozenset({"background", "backdrop", "scene"})
_BACKDROP_COLOURS = frozenset({*S.BACKGROUNDS, *_GRAY})
# words that start an object's noun or size: "a gray triangle", "a white big box"
_OBJECT_WORDS = frozenset(
    p.split()[0]
    for table in (SHAPE_SYNONYMS, _EXTRA_SHAPES, SIZE_SYNONYMS, _EXTRA_SIZES)
    for phrases in table.values()
    for p in phrases
)


def _words(text: str) -> list[str]:
    """The lower-case words of ``text``, as the parser reads it (punctuation and digits drop)."""
    return re.findall(r"[a-z]+", text.lower())


def _mentions(tokens: list[str]) -> list[tuple[int, str, str]]:
    """(word position, kind, value) of every lexicon phrase in ``tokens``, longest first."""
    out: list[tuple[int, str, str]] = []
    i = 0
    while i < len(tokens):
        for seq, kind, value in _LEXICON:
            if tuple(tokens[i : i + len(seq)]) == seq:
                out.append((i, kind, value))
                i += len(seq)
                break
        else:
            i += 1
    return out


def _assign(anchors: list[int], found: list[tuple[int, str]]) -> list[str | None]:
    """Give each object (anchored at its colour word) one value: in order when the counts
    match, else to the nearest anchor."""
    values: list[str | None] = [None] * len(anchors)
    if len(found) == len(anchors):
        return [v for _, v in found]
    for pos, v in found:
        k = int(np.argmin([abs(pos - a) for a in anchors]))
        if values[k] is None:
            values[k] = v
    return values


def parse_prompt(text: str, default_background: str | None = None) -> SceneSpec:
    """Read a Shapes World caption (canonical or paraphrase) back into a ``SceneSpec``.

    Raises ``PromptParseError`` naming what is missing (colour, shape, motion, background).
    """
    if not isinstance(text, str) or not text.strip():
        raise PromptParseError(
            "empty prompt; describe e.g. 'a large red circle moving left on a black background'"
        )
    return _read(text, _mentions(_words(text)), default_background)


def _read(
    text: str, found: list[tuple[int, str, str]], default_background: str | None
) -> SceneSpec:
    """``parse_prompt`` from the mentions ``found`` in ``text`` (named in its errors)."""
    by_kind: dict[str, list[tuple[int, str]]] = {}
    for pos, kind, value in found:
        by_kind.setdefault(kind, []).append((pos, value))
    colours = by_kind.get("color", [])
    if not colours:
        raise PromptParseError(f"no object colour in {text!r}; name one of {', '.join(S.COLORS)}")
    first_mention: dict[str, int] = {}
    for pos, c in colours:  # "a red ball ... the red ball" is one object
        first_mention.setdefault(c, pos)
    colours = [(pos, c) for c, pos in first_mention.items()]
    if len(colours) > 3:
        raise PromptParseError(
            f"{len(colours)} objects in {text!r}; Shapes World scenes hold 1 to 3"
        )
    anchors = [p for p, _ in colours]
    shapes = _assign(anchors, by_kind.get("shape", []))
    motions = _assign(anchors, by_kind.get("motion", []))
    sizes = _assign(anchors, by_kind.get("size", []))
    objects = []
    for (_, colour), shape, motion, size in zip(colours, shapes, motions, sizes, strict=True):
        if shape is None:
            raise PromptParseError(
                f"no shape for the {colour} object in {text!r}; say circle, square or triangle"
            )
        if motion is None:
            raise PromptParseError(
                f"no motion for the {colour} {shape} in {text!r}; "
                "say moving left/right/up/down, bouncing or still"
            )
        objects.append(ObjectSpec(colour, shape, motion, size))
    bgs = by_kind.get("background", [])
    background = bgs[-1][1] if bgs else default_background
    if background is None:
        raise PromptParseError(f"no background in {text!r}; add 'on a black/white/gray background'")
    return SceneSpec(background, tuple(objects))


def rewrite_prompt(text: str) -> str | None:
    """The canonical caption of a prompt that reads unambiguously as a Shapes World scene, else
    ``None``: "a tiny blue box sliding to the left on grey" -> "a small blue square moving left
    on a gray background".

    A model trained on Shapes World captions follows the canonical phrasing best (it is how
    the scene graph is spoken), so a pipeline trained on them may hand its DiT this instead of
    the user's words, as Sora and DALL-E 3 hand theirs an LLM's rewrite. Only prompts the
    parser reads without guessing are rewritten: a background, and per object (one colour
    each) exactly one shape and one motion and at most one size, so no mention is dropped or
    paired by distance, and no object colour names a backdrop nor a backdrop colour an object
    ("a gray triangle on a purple background" is not swapped into the world). Anything else
    (another world, a second motion, a repeated noun) returns ``None`` and the prompt goes to
    the text encoder as written.
    """
    spec = read_world_prompt(text)
    return None if spec is None else canonical_caption(spec)


def read_world_prompt(text: str) -> SceneSpec | None:
    """The scene of a prompt that reads unambiguously as a Shapes World scene (what
    ``rewrite_prompt`` says that is), else ``None``; ``rewrite_prompt`` speaks it as the
    canonical caption. The verifier and the planner take the scene from here rather than
    parsing that caption again."""
    if not isinstance(text, str):
        return None
    tokens = _words(text)
    for word, after in itertools.pairwise(tokens):
        if (word in S.COLORS and after in _BACKDROP_WORDS) or (
            word in _BACKDROP_COLOURS and after in _OBJECT_WORDS
        ):
            return None
    found = _mentions(tokens)
    try:
        spec = _read(text, found, None)
    except PromptParseError:
        return None
    counts: dict[str, int] = {}
    for _, kind, _ in found:
        counts[kind] = counts.get(kind, 0) + 1
    n = len(spec.objects)
    if (
        counts.get("color") != n
        or counts.get("shape") != n
        or counts.get("motion") != n
        or counts.get("size", 0) > n
        or counts.get("background") != 1
    ):
        return None
    return spec


# every word a Shapes World caption (its templates, no fields) or the parser's lexicon uses
WORLD_WORDS = frozenset(
    _words(re.sub(r"\{[a-z]+\}", " ", " ".join([*OBJECT_TEMPLATES, *SCENE_TEMPLATES, *JOINERS])))
) | {word for seq, _, _ in _LEXICON for word in seq}
_WORLD_CHARS = re.compile(r"[a-z\s,.:]*")  # all a caption writes: no digits, symbols, emoji


def is_world_caption(text: str) -> bool:
    """True when ``text`` says one Shapes World scene and nothing else: written only in
    letters, spaces and the captions' punctuation, every word one of ``WORLD_WORDS``, and read
    by ``rewrite_prompt`` without guessing. Geometric shapes on a plain background is all such
    a text can say, whatever order its words come in ("sinking, a huge blue dot, against a
    white backdrop"), so the moderator lets these through without asking its model."""
    if not isinstance(text, str):
        return False
    low = text.lower()
    return (
        _WORLD_CHARS.fullmatch(low) is not None
        and set(_words(low)) <= WORLD_WORDS
        and rewrite_prompt(text) is not None
    )
