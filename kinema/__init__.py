"""Kinema: text-to-video, video editing and understanding, with provenance on every output."""
