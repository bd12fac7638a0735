from __future__ import annotations

import pytest
import torch

from kinema.errors import InvalidInputError
from kinema.models.text import TextEncoder


def test_token_states_and_mask(text_encoder: TextEncoder) -> None:
    states, mask = text_encoder.encode(["", "a large red circle bouncing on a black background"])
    assert states.shape[0] == 2 and states.shape[2] == 384 and states.dtype == torch.float32
    assert mask.dtype == torch.bool and mask.shape == states.shape[:2]
    assert mask[0].sum() == 2  # the empty prompt is [CLS] [SEP]
    assert mask[1].sum() == states.shape[1] > 5
    assert torch.all(states[0, 2:] == 0)  # padding carries nothing
    assert states[0, :2].abs().sum() > 0


def test_a_prompt_past_the_token_window_is_truncated_with_a_warning(
    text_encoder: TextEncoder,
) -> None:
    import warnings

    long = "a red circle bounces on a black background " * 6 + "then a blue square appears"
    with pytest.warns(
        UserWarning, match=r"prompt is \d+ tokens; the text model reads the first 48"
    ):
        _, mask = text_encoder.encode([long + " once more"])
    assert mask.sum() == 48  # [CLS] + 46 + [SEP]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a prompt that fits says nothing
        text_encoder.encode(["a red circle bounces on a black background"])


def test_batching_and_cache_do_not_change_states(text_encoder: TextEncoder) -> None:
    p = "a small blue square moving left on a white background"
    alone, m1 = text_encoder.encode(p)
    hits = text_encoder.hits
    batched, _ = text_encoder.encode(["a green star", p, p])
    assert text_encoder.hits > hits  # p came from the cache
    n = int(m1.sum())
    assert torch.equal(batched[1, :n], alone[0, :n]) and torch.equal(batched[1], batched[2])
    fresh = TextEncoder(cache_size=0)._run([p])[0]
    assert torch.allclose(fresh, alone[0, :n], atol=1e-5)
    # another layer's states are cached apart from the last layer's, under the same prompt
    below, m2 = text_encoder.hidden(p, -2)
    assert torch.equal(m2, m1) and not torch.allclose(below, alone)
    hits = text_encoder.hits
    again, _ = text_encoder.hidden([p], -2)
    assert text_encoder.hits == hits + 1 and torch.equal(again, below)
    assert torch.equal(text_encoder.encode(p)[0], alone)  # -1 still the last layer's


def test_pooled_matches_sentence_transformers(text_encoder: TextEncoder) -> None:
    from sentence_transformers import SentenceTransformer

    prompts = ["a red circle bouncing", "shoot a video of a sunset"]
    st = SentenceTransformer(str(text_encoder.path), device="cpu")
    ref = st.encode(prompts, convert_to_tensor=True, normalize_embeddings=True)
    assert torch.allclose(text_encoder.pooled(prompts), ref, atol=1e-4)


def test_bad_inputs(tmp_path, text_encoder: TextEncoder) -> None:
    with pytest.raises(InvalidInputError, match="not a local sentence-transformers directory"):
        TextEncoder(tmp_path)
    with pytest.raises(InvalidInputError, match="prompts must be strings"):
        text_encoder.encode([3])  # type: ignore[list-item]


def test_any_local_model_path_loads(tmp_path, text_encoder: TextEncoder) -> None:
    import shutil

    copy = tmp_path / "my-minilm"
    shutil.copytree(text_encoder.path, copy)
    other = TextEncoder(copy)
    a, _ = other.encode("a red circle")
    b, _ = text_encoder.encode("a red circle")
    assert torch.allclose(a, b, atol=1e-5)
