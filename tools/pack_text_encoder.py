"""Pack the text encoder small enough to travel to a training box that lacks it.

A GPU box reached through a size-capped copy of the repository cannot take the 91 MB
all-MiniLM-L6-v2 as it is. Training on Shapes World only ever encodes world captions, and those
use a few hundred of MiniLM's 30,522 word pieces, so this writes:

- ``layers.safetensors``: every weight but the word-piece table, in fp16 (about 21 MB);
- ``vocab_rows.safetensors``: the word-piece rows the captions use (ids + rows, fp32);
- the tokenizer and sentence-transformers files as they are.

``unpack`` rebuilds a loadable sentence-transformers folder (fp32, unused word pieces zero).
States from the unpacked model match the original's to fp16 weight rounding (``--check``
prints the largest difference on the captions), and ``unpack`` refuses captions whose word
pieces were not packed, so nothing silently reads a zero row.

    python tools/pack_text_encoder.py pack --out .carry/minilm --check
    python tools/pack_text_encoder.py unpack .carry/minilm /tmp/minilm   # on the training box
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

TABLE = "embeddings.word_embeddings.weight"
COPY = (
    "config.json",
    "config_sentence_transformers.json",
    "modules.json",
    "sentence_bert_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
)


def world_captions(n: int = 20_000, seed: int = 5) -> list[str]:
    """Captions of ``n`` random scenes in every style (train, held-out, canonical), plus ""."""
    from kinema.world.captions import caption
    from kinema.world.scene import sample_spec

    rng = np.random.default_rng(seed)
    out = [""]
    for i in range(n):
        spec = sample_spec(rng, num_objects=1 + i % 3, max_objects=3)
        out += [caption(spec), caption(spec, rng, "train"), caption(spec, rng, "heldout")]
    return out


def token_ids(tokenizer, texts: list[str]) -> set[int]:
    ids: set[int] = set(tokenizer.all_special_ids)
    for s in range(0, len(texts), 4096):
        for row in tokenizer(texts[s : s + 4096])["input_ids"]:
            ids.update(row)
    return ids


def pack(src: Path, out: Path, texts: list[str]) -> dict[str, int]:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(src))
    keep = sorted(token_ids(tok, texts))
    weights = load_file(str(src / "model.safetensors"))
    table = weights.pop(TABLE)
    out.mkdir(parents=True, exist_ok=True)
    save_file(
        {k: v.half().contiguous() for k, v in weights.items()}, str(out / "layers.safetensors")
    )
    ids = torch.tensor(keep, dtype=torch.long)
    save_file({"ids": ids, "rows": table[ids].contiguous(), "shape": torch.tensor(table.shape)},
              str(out / "vocab_rows.safetensors"))  # fmt: skip
    for name in COPY:
        if (src / name).is_file():
            shutil.copy(src / name, out / name)
    if (src / "1_Pooling").is_dir():
        shutil.copytree(src / "1_Pooling", out / "1_Pooling", dirs_exist_ok=True)
    return {"kept_word_pieces": len(keep), "vocab": int(table.shape[0])}


def unpack(packed: Path, out: Path, texts: list[str] | None = None) -> Path:
    """A loadable fp32 sentence-transformers folder at ``out``; with ``texts``, first check
    that every word piece they use was packed."""
    vocab = load_file(str(packed / "vocab_rows.safetensors"))
    if texts is not None:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(packed))
        missing = token_ids(tok, texts) - set(vocab["ids"].tolist())
        if missing:
            raise ValueError(f"{len(missing)} word pieces of the captions were not packed: "
                             f"{tok.convert_ids_to_tokens(sorted(missing))[:20]}")  # fmt: skip
    weights = {k: v.float() for k, v in load_file(str(packed / "layers.safetensors")).items()}
    shutil.rmtree(out, ignore_errors=True)
    table = torch.zeros(*vocab["shape"].tolist())
    table[vocab["ids"]] = vocab["rows"]
    weights[TABLE] = table
    out.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(out / "model.safetensors"))
    for p in packed.iterdir():
        if p.name not in ("layers.safetensors", "vocab_rows.safetensors"):
            (shutil.copytree if p.is_dir() else shutil.copy)(p, out / p.name)
    return out


def check(src: Path, packed: Path, texts: list[str]) -> float:
    """Largest absolute difference of token states, original vs unpacked, over ``texts``."""
    import tempfile

    from kinema.models.text import TextEncoder

    with tempfile.TemporaryDirectory() as tmp:
        a = TextEncoder(str(src)).encode_many(texts)
        b = TextEncoder(str(unpack(packed, Path(tmp) / "m", texts))).encode_many(texts)
    return max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--src", default=None, help="sentence-transformers folder (default: MiniLM)")
    p.add_argument("--out", required=True)
    p.add_argument("--captions", type=int, default=20_000, help="scenes whose captions to cover")
    p.add_argument("--check", action="store_true", help="compare states on 600 captions")
    u = sub.add_parser("unpack")
    u.add_argument("packed")
    u.add_argument("out")
    a = ap.parse_args()
    if a.cmd == "pack":
        from kinema.models.text import resolve_model_path

        src = resolve_model_path(a.src)
        texts = world_captions(a.captions)
        info = pack(src, Path(a.out), texts)
        if a.check:
            info["max_state_diff"] = check(src, Path(a.out), texts[:600])  # type: ignore[assignment]
        print(json.dumps(info))
    else:
        unpack(Path(a.packed), Path(a.out))
        print(a.out)


if __name__ == "__main__":
    main()
