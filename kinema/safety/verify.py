"""``kinema verify FILE``: content credentials (C2PA) and the invisible watermark, together.

The two answer different questions. C2PA says who signed this exact file and what they
claimed; any change to the bytes (an edit, a re-encode) breaks it. The watermark lives in
the pixels and survives re-encoding, resizing and cropping, so it still says "made by
Kinema" when the credentials were stripped, but it carries no claims.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinema.safety.provenance import Credential, Credentials, config_dir, read_credentials
from kinema.safety.watermark import DEFAULT_KEY, Detection, detect

EXIT_OK, EXIT_INVALID, EXIT_UNSIGNED = 0, 1, 2


@dataclass(frozen=True)
class Report:
    """The verdict on one file."""

    path: Path
    credential: Credential
    watermark: Detection | None  # None when the file has no readable frames

    @property
    def exit_code(self) -> int:
        """0 for valid or trusted credentials, 1 for invalid (tampered), 2 for unsigned."""
        if self.credential.ok:
            return EXIT_OK
        return EXIT_UNSIGNED if self.credential.state == "unsigned" else EXIT_INVALID

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "c2pa": self.credential.to_json(),
            "watermark": self.watermark.to_json() if self.watermark else None,
        }


def local_anchor() -> bytes | None:
    """This user's local CA certificate, when Kinema has made one (never creates it)."""
    ca = config_dir() / "c2pa" / "ca.pem"
    return ca.read_bytes() if ca.is_file() else None


def verify(
    path: str | Path,
    anchors: bytes | None = None,
    key: str = DEFAULT_KEY,
    check_watermark: bool = True,
) -> Report:
    """Check ``path``'s credentials (trusted against ``anchors``, default: the local CA) and
    look for the watermark of ``key`` in its frames."""
    from kinema.io.video import read_video

    path = Path(path)
    anchors = anchors if anchors is not None else local_anchor()
    cred = read_credentials(path, anchors)
    mark = None
    if check_watermark:
        frames = read_video(path).frames
        if min(frames.shape[1:3]) >= 32:
            mark = detect(frames, key)
    return Report(path, cred, mark)


__all__ = ["Credentials", "Report", "local_anchor", "verify"]
