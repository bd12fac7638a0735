"""C2PA content credentials: sign what Kinema writes, and read credentials back.

Signing is fully offline. On first use a local certificate authority and a signing (leaf)
certificate are made under the user's config dir (``$KINEMA_CONFIG_DIR``, else
``$XDG_CONFIG_HOME/kinema``, else ``~/.config/kinema``), in ``c2pa/`` with 0700 on the folder
and 0600 on the private keys. The leaf is what C2PA validators ask for: CA:FALSE, keyUsage
digitalSignature, extendedKeyUsage emailProtection, subject/authority key identifiers, an
ES256 (P-256) key stored as PKCS#8. A user-supplied chain + key replaces them
(``Credentials.from_files``). No timestamp authority is contacted.

A manifest says what a generator did, never more than asked: the ``c2pa.created`` action
with digitalSourceType ``trainedAlgorithmicMedia``, the generator's name and version, the
model id, and the SHA-256 of the prompt (the prompt itself only with ``include_prompt``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kinema.errors import InvalidInputError, KinemaError, VideoNotFoundError

if TYPE_CHECKING:
    from kinema.io.video import Video

CREATED = "c2pa.created"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"  # rendered
GENERATION_LABEL = "org.kinema.generation"  # Kinema's own assertion: model id, prompt hash, seed
GENERATOR = "kinema"
_FORMATS = {".mp4": "video/mp4", ".png": "image/png", ".gif": "image/gif"}
SIGNABLE = tuple(_FORMATS)


class ProvenanceError(KinemaError):
    """Signing or reading content credentials failed (bad keys, unsupported file)."""


def config_dir() -> Path:
    """Where Kinema keeps per-user state (the local signing keys)."""
    if env := os.environ.get("KINEMA_CONFIG_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kinema"


@dataclass(frozen=True)
class Credentials:
    """A signing chain (leaf first, PEM), its PKCS#8 private key (PEM) and the trust anchor."""

    chain: bytes
    key: bytes
    anchor: bytes  # the CA certificate a verifier trusts (PEM)
    source: str = "local"  # "local" (made here) or the user files' folder

    @classmethod
    def local(cls, directory: str | Path | None = None) -> Credentials:
        """The local CA + leaf under ``directory`` (default: config_dir()/c2pa), made on first use."""
        folder = Path(directory) if directory is not None else config_dir() / "c2pa"
        chain, key, anchor = folder / "chain.pem", folder / "signer.key", folder / "ca.pem"
        if not (chain.is_file() and key.is_file() and anchor.is_file()):
            _make_local_keys(folder)
        _check_private(key)
        return cls(chain.read_bytes(), key.read_bytes(), anchor.read_bytes(), "local")

    @classmethod
    def from_files(
        cls, chain: str | Path, key: str | Path, anchor: str | Path | None = None
    ) -> Credentials:
        """A user-supplied chain (leaf first) and key; the anchor defaults to the chain's last cert."""
        paths = [Path(p) for p in (chain, key, anchor) if p is not None]
        for p in paths:
            if not p.is_file():
                raise ProvenanceError(f"{p}: no such file (signing certificate or key)")
        chain_pem = Path(chain).read_bytes()
        certs = _split_pem(chain_pem)
        if not certs:
            raise ProvenanceError(f"{chain}: holds no PEM certificate")
        anchor_pem = Path(anchor).read_bytes() if anchor is not None else certs[-1]
        return cls(chain_pem, Path(key).read_bytes(), anchor_pem, str(Path(chain).parent))


def _split_pem(pem: bytes) -> list[bytes]:
    end = b"-----END CERTIFICATE-----"
    return [p.strip() + b"\n" + end + b"\n" for p in pem.split(end) if b"BEGIN CERTIFICATE" in p]


def _check_private(key: Path) -> None:
    mode = stat.S_IMODE(key.stat().st_mode)
    if mode & 0o077:
        raise ProvenanceError(
            f"{key}: private key is readable by others (mode {mode:o}); run chmod 600 on it"
        )


def _write_private(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` from the start (no window where others could read it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _make_local_keys(folder: Path) -> None:
    """A self-signed CA and a leaf it issues, written atomically into ``folder`` (0700)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    user = os.environ.get("USER", "user")

    def name(cn: str) -> x509.Name:
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, cn),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kinema local signing"),
            ]
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name(f"Kinema local CA ({user})")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(name(f"Kinema generator ({user})"))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    pkcs8 = serialization.PrivateFormat.PKCS8
    plain = serialization.NoEncryption()
    staging = folder / f".new-{uuid.uuid4().hex[:8]}"
    staging.mkdir(mode=0o700)
    try:
        _write_private(staging / "ca.key", ca_key.private_bytes(pem, pkcs8, plain), 0o600)
        _write_private(staging / "signer.key", leaf_key.private_bytes(pem, pkcs8, plain), 0o600)
        (staging / "ca.pem").write_bytes(ca.public_bytes(pem))
        (staging / "chain.pem").write_bytes(leaf.public_bytes(pem) + ca.public_bytes(pem))
        for f in ("ca.key", "signer.key", "ca.pem", "chain.pem"):  # keys first, chain last
            os.replace(staging / f, folder / f)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@dataclass(frozen=True)
class GenerationInfo:
    """What a manifest records about one generated file."""

    model_id: str  # e.g. "kinema-shapes-dit-tiny@<sha256 of the weights, 12 hex>"
    prompt: str = ""
    include_prompt: bool = False  # the prompt's text goes in only when asked; its hash always
    parameters: dict[str, Any] = field(default_factory=dict)  # seed, steps, size, mode...
    watermarked: bool = True
    source_type: str = TRAINED_ALGORITHMIC_MEDIA  # IPTC digital source type of the content

    def assertion(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "model_id": self.model_id,
            "prompt_sha256": hashlib.sha256(self.prompt.encode()).hexdigest(),
            "parameters": self.parameters,
            "invisible_watermark": self.watermarked,
        }
        if self.include_prompt:
            data["prompt"] = self.prompt
        return {"label": GENERATION_LABEL, "data": data}


def manifest(info: GenerationInfo, title: str, fmt: str) -> dict[str, Any]:
    """The C2PA manifest definition for one generated file."""
    from kinema import __version__

    agent = {"name": GENERATOR, "version": __version__}
    return {
        "claim_generator_info": [agent],
        "title": title,
        "format": fmt,
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": CREATED,
                            "digitalSourceType": info.source_type,
                            "softwareAgent": agent,
                        }
                    ]
                },
            },
            info.assertion(),
        ],
    }


def sign_file(
    src: str | Path,
    dest: str | Path,
    info: GenerationInfo,
    creds: Credentials | None = None,
    title: str | None = None,
) -> Path:
    """Write ``src`` with embedded, signed credentials to ``dest`` (a new path; src untouched)."""
    import c2pa

    src, dest = Path(src), Path(dest)
    fmt = _format(dest)
    creds = creds or Credentials.local()
    signer_info = c2pa.C2paSignerInfo(b"es256", creds.chain, creds.key, None)
    definition = manifest(info, title or dest.name, fmt)
    try:
        with (
            c2pa.Signer.from_info(signer_info) as signer,
            c2pa.Builder(definition) as builder,
            open(src, "rb") as s,
            open(dest, "wb") as d,
        ):
            builder.sign(signer, fmt, s, d)
    except c2pa.C2paError as e:
        dest.unlink(missing_ok=True)
        raise ProvenanceError(f"{src}: C2PA signing failed: {e}") from e
    return dest


def sign_in_place(
    path: str | Path,
    info: GenerationInfo,
    creds: Credentials | None = None,
    title: str | None = None,
) -> Path:
    """Sign an existing file (or every PNG of a PNG folder); each is replaced atomically."""
    path = Path(path)
    files = sorted(path.glob("*.png")) if path.is_dir() else [path]
    creds = creds or Credentials.local()
    for f in files:
        tmp = f.with_name(f".{f.stem}.{uuid.uuid4().hex[:8]}.signing{f.suffix}")
        try:
            sign_file(f, tmp, info, creds, title=title if not path.is_dir() else f.name)
            os.replace(tmp, f)
        finally:
            tmp.unlink(missing_ok=True)
    return path


def write_signed(
    video: Video,
    path: str | Path,
    info: GenerationInfo,
    *,
    overwrite: bool = False,
    creds: Credentials | None = None,
) -> tuple[Path, bool]:
    """Write a generated video and embed signed credentials; returns (path, signed).

    mp4, gif and PNG folders (each PNG) are signed; the file appears only once it is complete
    and signed. webm has no C2PA binding, so it is written unsigned and ``signed`` is False.
    """
    from kinema.io.video import check_output, output_format, replace_into, write_video

    path = check_output(path, overwrite)
    fmt = output_format(path)
    if fmt not in (*SIGNABLE, "png folder"):
        return write_video(video, path, overwrite=overwrite), False
    creds = creds or Credentials.local()  # key problems surface before any file is written
    path.parent.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    tmp = path.with_name(
        f".{path.stem}.{tag}.partial{path.suffix}" if path.suffix else f".{path.name}-{tag}-partial"
    )
    try:
        write_video(video, tmp)
        sign_in_place(tmp, info, creds, title=path.name)
        replace_into(tmp, path)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
    return path, True


def _format(path: Path) -> str:
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ProvenanceError(
            f"{path}: C2PA credentials can be embedded in {', '.join(SIGNABLE)} files, "
            f"not '{path.suffix}'"
        )
    return fmt


@dataclass(frozen=True)
class Credential:
    """What a C2PA reader says about one file."""

    state: str  # "trusted" | "valid" | "invalid" | "unsigned"
    reasons: list[str]  # validation failures (codes and explanations), empty when valid
    manifest: dict[str, Any] | None  # the active manifest as JSON, when there is one
    signer: str = ""  # the signing certificate's issuer / common name, when known

    @property
    def ok(self) -> bool:
        return self.state in ("valid", "trusted")

    def claims(self) -> dict[str, Any]:
        """The parts a person asks about: who made it, how, and Kinema's generation record."""
        if not self.manifest:
            return {}
        out: dict[str, Any] = {"title": self.manifest.get("title")}
        gen = self.manifest.get("claim_generator_info") or []
        if gen:
            out["generator"] = " ".join(str(gen[0].get(k, "")) for k in ("name", "version"))
        for a in self.manifest.get("assertions", []):
            if a.get("label", "").startswith("c2pa.actions"):
                acts = a.get("data", {}).get("actions", [])
                out["actions"] = [x.get("action") for x in acts]
                out["digital_source_type"] = next(
                    (x.get("digitalSourceType") for x in acts if x.get("digitalSourceType")), None
                )
            elif a.get("label") == GENERATION_LABEL:
                out.update(a.get("data", {}))
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "reasons": self.reasons,
            "signer": self.signer,
            "claims": self.claims(),
        }


def read_credentials(path: str | Path, anchors: bytes | None = None) -> Credential:
    """Validate ``path``'s embedded credentials; with ``anchors`` (PEM CAs) also check trust.

    ``trusted`` = a valid signature whose chain ends at one of ``anchors``; ``valid`` = the
    signature and the hashes of the content hold, but the signer is not anchored; ``invalid``
    = the content or the manifest was changed after signing (the reasons say which);
    ``unsigned`` = no manifest at all.
    """
    import c2pa

    path = Path(path)
    if path.is_dir():
        raise InvalidInputError(
            f"{path} is a folder; credentials sit in each file, e.g. {path}/frame_00000.png"
        )
    if not path.is_file():
        raise VideoNotFoundError(path, "does not exist")
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        return Credential(
            "unsigned", [f"'{path.suffix}' files cannot carry C2PA credentials"], None
        )
    settings: dict[str, Any] = {"verify": {"verify_trust": anchors is not None}}
    if anchors is not None:
        settings["trust"] = {"trust_anchors": anchors.decode()}
    try:
        with c2pa.Context.from_dict(settings) as ctx, open(path, "rb") as f:
            reader = c2pa.Reader(fmt, f, context=ctx)
            with reader:
                store = json.loads(reader.json())
                state = (reader.get_validation_state() or "").lower()
    except c2pa.C2paError as e:
        text = str(e)
        if "ManifestNotFound" in text or "JumbfNotFound" in text or "no JUMBF" in text:
            return Credential("unsigned", ["no C2PA manifest in the file"], None)
        return Credential("invalid", [f"the manifest could not be read: {text}"], None)
    active = store.get("manifests", {}).get(store.get("active_manifest", ""), None)
    failures = _failures(store)
    if state == "invalid" or failures:
        state = "invalid"
    elif state not in ("trusted", "valid"):
        state = "valid" if active else "invalid"
    signer = ""
    if active and active.get("signature_info"):
        si = active["signature_info"]
        signer = si.get("common_name") or si.get("issuer") or ""
    return Credential(state, failures, active, signer)


_IGNORED = {"signingCredential.untrusted"}  # not a tamper sign: reported as valid, not trusted


def _failures(store: dict[str, Any]) -> list[str]:
    out: list[str] = []
    results = store.get("validation_results", {}).get("activeManifest", {})
    for item in results.get("failure", []):
        code = item.get("code", "")
        if code in _IGNORED:
            continue
        out.append(f"{code}: {item.get('explanation', '')}".strip(": "))
    if not results:
        for item in store.get("validation_status", []) or []:
            code = item.get("code", "")
            if code not in _IGNORED and not code.endswith((".match", ".validated", ".trusted")):
                out.append(f"{code}: {item.get('explanation', '')}".strip(": "))
    return out
