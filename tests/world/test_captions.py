from __future__ import annotations

import numpy as np
import pytest

from kinema.errors import PromptParseError
from kinema.world.captions import (
    HELDOUT_OBJECT_TEMPLATES,
    HELDOUT_SCENE_TEMPLATES,
    OBJECT_TEMPLATES,
    SCENE_TEMPLATES,
    canonical_caption,
    caption,
    parse_prompt,
    read_world_prompt,
    rewrite_prompt,
)
from kinema.world.scene import ObjectSpec, SceneSpec, sample_spec


def test_canonical_captions_match_the_spec_examples() -> None:
    one = SceneSpec("black", (ObjectSpec("red", "circle", "left", "large"),))
    assert canonical_caption(one) == "a large red circle moving left on a black background"
    two = SceneSpec(
        "gray",
        (
            ObjectSpec("blue", "square", "bounce", "small"),
            ObjectSpec("yellow", "triangle", "up", "large"),
        ),
    )
    assert canonical_caption(two) == (
        "a small blue square bouncing and a large yellow triangle moving up on a gray background"
    )
    no_size = SceneSpec("white", (ObjectSpec("cyan", "square", "still"),))
    assert canonical_caption(no_size) == "a cyan square standing still on a white background"


def test_enough_templates() -> None:
    assert len(SCENE_TEMPLATES) >= 8 and len(OBJECT_TEMPLATES) >= 4


@pytest.mark.parametrize("style", ["canonical", "train", "heldout", "any"])
def test_every_caption_parses_back(style: str) -> None:
    rng = np.random.default_rng(1)
    for _ in range(600):
        spec = sample_spec(rng)
        parsed = parse_prompt(caption(spec, rng, style))  # type: ignore[arg-type]
        assert parsed.background == spec.background
        assert [(o.color, o.shape, o.motion) for o in parsed.objects] == [
            (o.color, o.shape, o.motion) for o in spec.objects
        ]
        assert all(
            p.size in (None, o.size) for p, o in zip(parsed.objects, spec.objects, strict=True)
        )


def test_paraphrases_vary_words_and_order() -> None:
    rng = np.random.default_rng(2)
    spec = SceneSpec("black", (ObjectSpec("red", "circle", "left", "large"),))
    texts = {caption(spec, rng, "train") for _ in range(300)}
    assert len(texts) > 100
    assert any(t.startswith("on a black") for t in texts)  # background first
    assert any("ball" in t or "disc" in t or "dot" in t for t in texts)  # shape synonyms
    assert any("sliding to the left" in t or "heading left" in t for t in texts)  # motion synonyms
    assert any("red" not in t.split()[1:3] for t in texts)


def test_heldout_templates_never_appear_in_training_captions() -> None:
    rng = np.random.default_rng(3)
    heldout_markers = [
        "a clip showing",
        "everything sits on",
        " in red, ",
        " in blue, ",
        " as well as ",
    ]
    for _ in range(2000):
        t = caption(sample_spec(rng), rng, "train")
        assert not any(m in t for m in heldout_markers), t
    assert HELDOUT_SCENE_TEMPLATES and HELDOUT_OBJECT_TEMPLATES
    spec = SceneSpec("black", (ObjectSpec("red", "circle", "left", "large"),))
    held = [caption(spec, rng, "heldout") for _ in range(50)]
    assert all(any(m in t for m in heldout_markers) for t in held)


def test_parser_handles_free_phrasing() -> None:
    s = parse_prompt(
        "Two things on a grey backdrop: a tiny RED ball hopping, "
        "and a big cyan box sliding to the left."
    )
    assert s.background == "gray"
    assert [(o.color, o.shape, o.motion, o.size) for o in s.objects] == [
        ("red", "circle", "bounce", "small"),
        ("cyan", "square", "left", "large"),
    ]
    assert (
        parse_prompt("a purple triangle bouncing up and down on white").objects[0].motion
        == "bounce"
    )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty prompt"),
        ("a large circle moving left on a black background", "no object colour"),
        ("a red thing moving left on a black background", "no shape for the red object"),
        ("a red circle on a black background", "no motion for the red circle"),
        ("a red circle moving left", "no background"),
    ],
)
def test_parser_errors_say_what_is_missing(text: str, match: str) -> None:
    with pytest.raises(PromptParseError, match=match):
        parse_prompt(text)
    assert (
        parse_prompt("a red circle moving left", default_background="black").background == "black"
    )


def test_repeated_colour_is_one_object_and_paraphrase_needs_rng() -> None:
    s = parse_prompt("a red ball bouncing on black; the red ball is big")
    assert len(s.objects) == 1 and s.objects[0].shape == "circle"
    from kinema.errors import InvalidInputError

    spec = SceneSpec("black", (ObjectSpec("red", "circle", "left", "large"),))
    with pytest.raises(InvalidInputError, match="pass rng"):
        caption(spec, None, "train")


@pytest.mark.parametrize("style", ["train", "heldout"])
def test_rewrite_gives_the_canonical_caption_of_what_a_paraphrase_says(style: str) -> None:
    rng = np.random.default_rng(11)
    for _ in range(300):
        spec = sample_spec(rng, max_objects=3)
        text = caption(spec, rng, style)  # type: ignore[arg-type]
        out = rewrite_prompt(text)
        assert out is not None, text
        read = parse_prompt(out)
        assert out == canonical_caption(read)
        assert read_world_prompt(text) == read  # the scene the verifier and planner take
        assert read.background == spec.background
        for got, want in zip(read.objects, spec.objects, strict=True):
            assert (got.color, got.shape, got.motion) == (want.color, want.shape, want.motion)
            assert got.size in (None, want.size)  # a paraphrase may leave the size out


def test_rewrite_maps_synonyms_and_keeps_what_was_left_out() -> None:
    assert (
        rewrite_prompt("a tiny blue box sliding to the left on grey")
        == "a small blue square moving left on a gray background"
    )
    assert (  # no size named: none is made up
        rewrite_prompt("on white, a yellow wedge hopping and a cyan disc rising")
        == "a yellow triangle bouncing and a cyan circle moving up on a white background"
    )


@pytest.mark.parametrize(
    "text",
    [
        "a red circle moving left",  # no background: the parser would have to invent one
        "a red circle moving left then right on black",  # two motions for one object
        "a red ball and the red box bouncing on black",  # one colour, two shapes
        "a small large red circle bouncing on black",  # two sizes for one object
        "a red circle bouncing on a black background with a white border",  # two backgrounds
        "a dog running through a field of flowers",  # not this world
        "a gray triangle moving right on a purple background",  # colours the other way round
        "a white box bouncing on black",
        "",
    ],
)
def test_rewrite_leaves_prompts_it_would_have_to_guess_at(text: str) -> None:
    assert rewrite_prompt(text) is None and read_world_prompt(text) is None
    assert rewrite_prompt(None) is None  # type: ignore[arg-type]
    assert read_world_prompt(None) is None  # type: ignore[arg-type]
