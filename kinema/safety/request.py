"""A prompt as people paste it: negative-prompt fields taken out of the text.

Users paste what other tools take: parameter blocks ("...\\nNegative prompt: nsfw, gore\\nSteps:
30"), JSON bodies ({"prompt": ..., "negative_prompt": ...}), Python calls (pipe("...",
negative_prompt="...")), command lines (--negative "...") and "prompt: ...; negative: ..." lines.
A text model reads all of it as one prompt, so "a calm bedroom | negative: blood, suicide" would
steer generation *towards* blood and read as harm to the moderator (heldout24: 8 of the 10 false
refusals). ``read_request`` splits such a text into what is asked for and what is to be kept
out; the pipeline generates with that split (the pasted negative joins ``negative_prompt``) and
the moderator reads the same split, so what is checked is what the model is steered towards.

A negative prompt that names a safeguard ("negative: clothes, censored") asks for its opposite;
the moderator reads that too (``Policy.taken_away``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from kinema.errors import InvalidInputError

# a field label at the start of a field (text start, new line, | ; , { or an opening bracket,
# or a dash between spaces: "a cat - negative: gore", "a cat — neg: gore"), in any quoting:
# Negative prompt: / "negative_prompt": / negative_prompt= / neg: ...
_LABEL = re.compile(
    r"""(?P<sep>(?:^|[\n|;,{(]|[ \t][-\u2013\u2014]{1,2}(?=[ \t]))[ \t]*)(?P<q>["']?)(?P<key>negative[ _-]?prompt|negative|neg[ _-]?prompt|neg)(?P=q)[ \t]*[:=][ \t]*""",
    re.IGNORECASE,
)
# a command-line flag: --negative "..." / --negative-prompt=... / --neg ...
_FLAG = re.compile(r"(?P<sep>[ \t]+)--neg(?:ative)?(?:[-_]prompt)?(?:[ \t]*=[ \t]*|[ \t]+)",
                   re.IGNORECASE)  # fmt: skip
_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019"}
_FIELD_END = re.compile(r"[\n|;]")  # an unquoted labelled value runs to the next field
_WORD = re.compile(r"\S+")  # a flag's unquoted value


@dataclass(frozen=True)
class Request:
    """``prompt``: the text without its negative fields (what generation is steered towards);
    ``negative``: their values joined by ", " ('' when there were none)."""

    prompt: str
    negative: str = ""


def _quoted(text: str, i: int) -> int | None:
    """End (exclusive) of the quoted value that starts at ``text[i]``, or None if unclosed."""
    close = _QUOTES[text[i]]
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == close:
            return j + 1
        j += 1
    return None


def _value(text: str, start: int, flag: bool) -> tuple[str, int]:
    """The value that starts at ``start`` and where it ends: a quoted string (escapes kept as
    written, quotes dropped), or else the next word (a flag) or the rest of the field."""
    if start < len(text) and text[start] in _QUOTES:
        end = _quoted(text, start)
        if end is not None:
            return text[start + 1 : end - 1], end
    if flag:
        m = _WORD.match(text, start)
        end = m.end() if m else start
    else:
        m = _FIELD_END.search(text, start)
        end = m.start() if m else len(text)
    return text[start:end], end


_NEGATIVE_KEYS = ("negative_prompt", "negative", "neg_prompt", "neg")


def _json_body(text: str) -> Request | None:
    """A whole JSON request body, ``{"prompt": ..., "negative_prompt": ..., "num_frames": 33}``,
    read by its keys: the prompt (itself read for pasted fields) and the negative keys' values.
    None unless the text is one JSON object whose only string values are the prompt and negative
    prompts (numbers and flags such as frames or seed do not steer the text), so a body with
    other text in it ({"prompt": ..., "style": "noir"}) is read as text, nothing of it dropped."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        return None
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str):
        return None
    known = {"prompt", *_NEGATIVE_KEYS}
    if any(isinstance(v, str) and k not in known for k, v in obj.items()):
        return None
    if any(not isinstance(obj.get(k, ""), str) for k in _NEGATIVE_KEYS):
        return None
    inner = read_request(obj["prompt"])
    negatives = [obj[k].strip() for k in _NEGATIVE_KEYS if obj.get(k, "").strip()]
    return Request(inner.prompt, ", ".join(n for n in (*negatives, inner.negative) if n))


def read_request(text: str) -> Request:
    """``text`` split into a Request. Text with no negative field comes back unchanged
    (``Request(text, "")``); each field found is cut out with the separator before it, so
    "a cat, Negative prompt: gore" reads "a cat" and "x; negative: y; z" reads "x; z". A whole
    JSON body whose only text is its prompt and negative prompts is read by its keys
    (``_json_body``): '{"prompt": "a cat", "num_frames": 33}' reads "a cat"."""
    if not isinstance(text, str):
        raise InvalidInputError(f"a prompt is a string, got {type(text).__name__}")
    body = _json_body(text)
    if body is not None:
        return body
    negatives: list[str] = []
    kept: list[str] = []
    pos = 0
    while True:
        found = [m for m in (_LABEL.search(text, pos), _FLAG.search(text, pos)) if m]
        if not found:
            break
        m = min(found, key=lambda x: x.start())
        value, end = _value(text, m.end(), flag=m.re is _FLAG)
        sep = m.group("sep")
        # keep a line break or an opening bracket that started the field, and the space before
        # a dash ("a - negative: b | c" -> "a | c"); drop , ; | and the dash
        keep = sep[0] if sep[:1] in ("\n", "{", "(") else ""
        if m.re is _LABEL and sep[:1] in (" ", "\t"):
            keep = sep[0]
        if keep == "\n" and text[end : end + 1] == "\n":
            keep = ""  # the line break after the field stays: one, not two
        kept.append(text[pos : m.start()] + keep)
        if value.strip():
            negatives.append(value.strip())
        pos = end
    if not negatives and pos == 0:
        return Request(text)
    kept.append(text[pos:])
    prompt = "".join(kept)
    # a field cut from the front of a body leaves "{, ": {"negative": "x", "prompt": -> {"prompt":
    prompt = re.sub(r"([{(])[ \t]*,[ \t]*", r"\1", prompt)
    return Request(prompt.strip(), ", ".join(negatives))
