"""File formats by extension: the one table that says what cadenza reads and writes."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from cadenza.errors import UnsupportedFormatError

__all__ = ["Format", "format_of", "is_midi", "READABLE", "WRITABLE_SCORE", "WRITABLE"]


class Format(StrEnum):
    MIDI = "midi"
    MUSICXML = "musicxml"
    MXL = "mxl"  # compressed MusicXML
    ABC = "abc"
    HUMDRUM = "humdrum"
    WAV = "wav"
    PNG = "png"


_BY_EXTENSION = {
    ".mid": Format.MIDI,
    ".midi": Format.MIDI,
    ".xml": Format.MUSICXML,
    ".musicxml": Format.MUSICXML,
    ".mxl": Format.MXL,
    ".abc": Format.ABC,
    ".krn": Format.HUMDRUM,
    ".wav": Format.WAV,
    ".png": Format.PNG,
}

READABLE = frozenset({Format.MIDI, Format.MUSICXML, Format.MXL, Format.ABC, Format.HUMDRUM})
WRITABLE_SCORE = frozenset({Format.MIDI, Format.MUSICXML, Format.MXL})
WRITABLE = WRITABLE_SCORE | {Format.WAV, Format.PNG}


def _extensions(formats: frozenset[Format]) -> str:
    return ", ".join(ext for ext, fmt in _BY_EXTENSION.items() if fmt in formats)


def is_midi(path: str | os.PathLike[str]) -> bool:
    """Whether a path's extension names MIDI (never raises, whatever the extension)."""
    return _BY_EXTENSION.get(Path(path).suffix.lower()) is Format.MIDI


def format_of(path: str | os.PathLike[str], allowed: frozenset[Format] = READABLE) -> Format:
    """The format a path's extension names, if it is one of ``allowed``."""
    suffix = Path(path).suffix.lower()
    fmt = _BY_EXTENSION.get(suffix)
    if fmt is None or fmt not in allowed:
        what = f"extension {suffix!r}" if suffix else "no extension"
        raise UnsupportedFormatError(f"{what} is not supported; use one of {_extensions(allowed)}", path)
    return fmt
