from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import c2pa
import numpy as np
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from kinema.errors import InvalidInputError, OutputExistsError
from kinema.io.video import Video, read_video, write_video
from kinema.safety.provenance import (
    CREATED,
    GENERATION_LABEL,
    TRAINED_ALGORITHMIC_MEDIA,
    Credentials,
    GenerationInfo,
    ProvenanceError,
    read_credentials,
    write_signed,
)
from kinema.safety.verify import EXIT_INVALID, EXIT_OK, EXIT_UNSIGNED, verify
from kinema.safety.watermark import embed

PROMPT = "a large red circle bouncing on a black background"


@pytest.fixture
def keys(tmp_path: Path) -> Credentials:
    return Credentials.local(tmp_path / "keys")


def _info(**kw) -> GenerationInfo:
    return GenerationInfo(model_id="kinema/test@0123456789ab", prompt=PROMPT,
                          parameters={"seed": 3}, **kw)  # fmt: skip


def _signed(tmp_path: Path, clip: Video, keys: Credentials, name: str = "out.mp4") -> Path:
    marked = Video(embed(clip.frames), clip.fps)
    path, signed = write_signed(marked, tmp_path / name, _info(), creds=keys)
    assert signed
    return path


def test_local_keys_are_private_and_made_once(tmp_path: Path) -> None:
    folder = tmp_path / "keys"
    first = Credentials.local(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for key in ("signer.key", "ca.key"):
        assert stat.S_IMODE((folder / key).stat().st_mode) == 0o600
        assert b"BEGIN PRIVATE KEY" in (folder / key).read_bytes()  # PKCS#8
    again = Credentials.local(folder)
    assert again.key == first.key and again.chain == first.chain  # reused, not regenerated
    os.chmod(folder / "signer.key", 0o644)
    with pytest.raises(ProvenanceError, match="chmod 600"):
        Credentials.local(folder)


def test_leaf_certificate_has_what_c2pa_validators_ask(keys: Credentials) -> None:
    leaf = x509.load_pem_x509_certificates(keys.chain)[0]
    ca = x509.load_pem_x509_certificate(keys.anchor)
    assert leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert leaf.issuer == ca.subject


def test_signed_mp4_is_valid_for_c2pa_and_trusted_with_the_local_ca(
    tmp_path: Path, clip: Video, keys: Credentials
) -> None:
    path = _signed(tmp_path, clip, keys)
    with c2pa.Reader(str(path)) as reader:  # c2pa's own reader, no trust list
        assert reader.get_validation_state() == "Valid"
        store = json.loads(reader.json())
    active = store["manifests"][store["active_manifest"]]
    actions = next(a for a in active["assertions"] if a["label"].startswith("c2pa.actions"))
    first = actions["data"]["actions"][0]
    assert first["action"] == CREATED
    assert first["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    gen = next(a for a in active["assertions"] if a["label"] == GENERATION_LABEL)["data"]
    assert gen["model_id"] == "kinema/test@0123456789ab"
    assert len(gen["prompt_sha256"]) == 64 and "prompt" not in gen  # the hash, not the text
    assert PROMPT.encode() not in path.read_bytes()
    settings = {"verify": {"verify_trust": True}, "trust": {"trust_anchors": keys.anchor.decode()}}
    with (
        c2pa.Context.from_dict(settings) as ctx,
        open(path, "rb") as f,
        c2pa.Reader("video/mp4", f, context=ctx) as reader,
    ):
        assert reader.get_validation_state() == "Trusted"
    assert read_credentials(path, keys.anchor).state == "trusted"
    assert read_credentials(path).state == "valid"
    assert np.array_equal(read_video(path).frames.shape, clip.frames.shape)


def test_prompt_text_only_when_asked(tmp_path: Path, clip: Video, keys: Credentials) -> None:
    path, _ = write_signed(clip, tmp_path / "p.mp4", _info(include_prompt=True), creds=keys)
    assert read_credentials(path).claims()["prompt"] == PROMPT


def test_one_flipped_byte_or_a_reencode_breaks_the_credentials(
    tmp_path: Path, clip: Video, keys: Credentials
) -> None:
    path = _signed(tmp_path, clip, keys)
    data = bytearray(path.read_bytes())
    at = data.find(b"mdat") + 64  # inside the video data
    data[at] ^= 0x01
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    report = verify(tampered, keys.anchor)
    assert report.credential.state == "invalid" and report.credential.reasons
    assert report.exit_code == EXIT_INVALID
    reencoded = write_video(read_video(path), tmp_path / "reencoded.mp4", quality=23)
    report = verify(reencoded, keys.anchor)
    assert report.exit_code == EXIT_UNSIGNED  # the credentials are gone ...
    assert report.watermark is not None and report.watermark.detected  # ... the mark is not
    good = verify(path, keys.anchor)
    assert good.exit_code == EXIT_OK and good.credential.state == "trusted"
    assert good.watermark is not None and good.watermark.detected


def test_refuses_to_overwrite_and_keeps_the_old_file(
    tmp_path: Path, clip: Video, keys: Credentials
) -> None:
    path = _signed(tmp_path, clip, keys)
    before = path.read_bytes()
    with pytest.raises(OutputExistsError):
        write_signed(clip, path, _info(), creds=keys)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys", "out.mp4"]  # no leftovers


def test_png_folders_gif_and_webm(tmp_path: Path, clip: Video, keys: Credentials) -> None:
    folder, signed = write_signed(clip, tmp_path / "frames", _info(), creds=keys)
    assert signed
    pngs = sorted(folder.glob("*.png"))
    assert len(pngs) == clip.num_frames
    assert all(read_credentials(p, keys.anchor).state == "trusted" for p in pngs)
    with pytest.raises(InvalidInputError, match="is a folder"):
        read_credentials(folder)
    gif, signed = write_signed(clip, tmp_path / "a.gif", _info(), creds=keys)
    assert signed and read_credentials(gif).state == "valid"
    webm, signed = write_signed(clip, tmp_path / "a.webm", _info(), creds=keys)
    assert not signed and webm.is_file()
    assert read_credentials(webm).state == "unsigned"


def test_user_supplied_chain(tmp_path: Path, clip: Video, keys: Credentials) -> None:
    folder = tmp_path / "keys"
    creds = Credentials.from_files(folder / "chain.pem", folder / "signer.key")
    assert creds.anchor == keys.anchor  # the chain's last certificate
    path, _ = write_signed(clip, tmp_path / "u.mp4", _info(), creds=creds)
    assert read_credentials(path, creds.anchor).state == "trusted"
    with pytest.raises(ProvenanceError):
        Credentials.from_files(tmp_path / "missing.pem", folder / "signer.key")


def test_unsigned_file(tmp_path: Path, clip: Video) -> None:
    path = write_video(clip, tmp_path / "plain.mp4")
    report = verify(path)
    assert report.credential.state == "unsigned" and report.exit_code == EXIT_UNSIGNED
    assert report.watermark is not None and not report.watermark.detected
