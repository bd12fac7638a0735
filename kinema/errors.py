"""Typed errors: every failure a user can cause says what was wrong and what to do.

Each error also derives from the built-in exception a Python user would catch for the same
problem (``FileNotFoundError``, ``ValueError``...), so ``except FileNotFoundError`` keeps
working for callers who do not know Kinema's types.
"""

from __future__ import annotations

from pathlib import Path


class KinemaError(Exception):
    """Base class of every error Kinema raises on purpose."""


class InvalidInputError(KinemaError, ValueError):
    """An argument has the wrong value, shape or type."""


class VideoError(KinemaError):
    """A problem with one video file; ``path`` names it."""

    def __init__(self, path: str | Path, problem: str, hint: str = "") -> None:
        self.path = Path(path)
        self.problem = problem
        self.hint = hint
        msg = f"{self.path}: {problem}"
        super().__init__(f"{msg}; {hint}" if hint else msg)


class VideoNotFoundError(VideoError, FileNotFoundError):
    """The input path does not exist."""


class VideoDecodeError(VideoError, ValueError):
    """The file exists but is not a readable video (corrupt, truncated or another kind of file)."""


class EmptyVideoError(VideoError, ValueError):
    """The file is a valid container but holds no video frames (or none in the asked range)."""


class UnsupportedFormatError(VideoError, ValueError):
    """The file name asks for a container Kinema cannot write or read."""


class OutputExistsError(VideoError, FileExistsError):
    """Refusing to overwrite an existing output without ``overwrite=True`` / ``--force``."""


class PromptParseError(KinemaError, ValueError):
    """A prompt could not be read as a Shapes World scene (a colour, shape or motion is missing)."""


class ManifestError(KinemaError, ValueError):
    """A dataset manifest is missing, empty or has a malformed line."""
