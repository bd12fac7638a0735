from __future__ import annotations

import pytest

from kinema.errors import InvalidInputError
from kinema.safety.request import Request, read_request


@pytest.mark.parametrize(
    ("text", "prompt", "negative"),
    [
        # a parameter block as image generators write it
        ("a red circle\nNegative prompt: gore, blood\nSteps: 30, CFG scale: 7",
         "a red circle\nSteps: 30, CFG scale: 7", "gore, blood"),
        ("a red circle, Negative prompt: gore, blood", "a red circle", "gore, blood"),
        # a JSON body, the negative field last or first
        ('{"prompt": "a red circle", "negative_prompt": "gore, \\"blood\\""}', "a red circle",
         'gore, "blood"'),
        ('{"negative_prompt": "gore", "prompt": "a red circle", "num_frames": 33, "seed": 1}',
         "a red circle", "gore"),
        ('{"prompt": "a red circle | negative: blood", "negative": "gore"}', "a red circle",
         "gore, blood"),
        # a body with other text in it is read as text: its fields cut out, nothing else dropped
        ('{"prompt": "a red circle", "style": "noir", "negative_prompt": "gore"}',
         '{"prompt": "a red circle", "style": "noir"}', "gore"),
        # not one JSON object (an unclosed quote, an array): read as text
        ('{"prompt": "a red circle, "negative_prompt": "gore"}', '{"prompt": "a red circle}', "gore"),
        # a Python call and command-line flags
        ('pipe("a red circle", negative_prompt="gore", num_frames=17)',
         'pipe("a red circle", num_frames=17)', "gore"),
        ('kinema generate "a red circle" --negative "gore, blood" --frames 17',
         'kinema generate "a red circle" --frames 17', "gore, blood"),
        ("kinema generate 'a red circle' --negative-prompt=gore", "kinema generate 'a red circle'",
         "gore"),
        # key: value fields; the field ends at the next | ; or line
        ("prompt: a red circle; negative_prompt: gore; then a blue square",
         "prompt: a red circle; then a blue square", "gore"),
        ("prompt: a red circle | neg: gore | steps: 30", "prompt: a red circle | steps: 30", "gore"),
        # two fields, and an unclosed quote (the value runs to the end of the field)
        ("a cat | negative: gore\nNegative prompt: blood", "a cat", "gore, blood"),
        ('a cat | negative: "gore', "a cat", '"gore'),
        # a dash between spaces starts a field too (hyphen, en or em dash)
        ("a red circle - negative: gore, blood", "a red circle", "gore, blood"),
        ("a red circle \u2014 Negative prompt: gore | steps: 30", "a red circle | steps: 30", "gore"),
    ],
)  # fmt: skip
def test_pasted_negative_fields_are_split_out(text: str, prompt: str, negative: str) -> None:
    assert read_request(text) == Request(prompt, negative)


def test_text_without_a_negative_field_comes_back_unchanged() -> None:
    for text in (
        "a red circle bouncing on a black background",
        "a sign that says negative feedback welcome",  # not a field label
        "a negative: film photo look",  # mid-field, not at a field start
        "a black-and-white still - negative space, minimal",  # a dash, but no label after it
        "a well-negative: x",  # a hyphen inside a word starts nothing
        '["a red circle", "a blue square"]',  # JSON, but not an object with a prompt
        '{"text": "a red circle", "num_frames": 33}',
        '{"prompt": 3}',
        "  spaced out  ",
        "",
    ):
        assert read_request(text) == Request(text, ""), text


def test_an_empty_negative_field_is_dropped_and_non_strings_are_refused() -> None:
    assert read_request("a cat | negative: | steps: 30") == Request("a cat | steps: 30", "")
    with pytest.raises(InvalidInputError, match="a prompt is a string"):
        read_request(3)  # type: ignore[arg-type]
