"""Video values and files (PyAV underneath)."""

from kinema.io.video import (
    Video,
    check_output,
    output_format,
    probe,
    read_video,
    resize_frames,
    write_video,
)

__all__ = [
    "Video",
    "check_output",
    "output_format",
    "probe",
    "read_video",
    "resize_frames",
    "write_video",
]
