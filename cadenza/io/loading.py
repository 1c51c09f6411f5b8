"""One entry point for reading and writing music files, whatever their format."""

from __future__ import annotations

import os
from pathlib import Path

import symusic

from cadenza.errors import InputFileError, InvalidArgumentError, LimitExceededError
from cadenza.io.files import require_regular_file
from cadenza.io.formats import READABLE, WRITABLE, Format, format_of
from cadenza.io.limits import DEFAULT_LIMITS, Limits
from cadenza.io.midi import read_midi, write_midi

__all__ = ["load_score", "load_scores", "save_score"]


def _check_input(path: str | os.PathLike[str], limits: Limits) -> Path:
    """Refuse what cannot be read before any parser opens it: a pipe or device would
    block the reader, a folder is no file, an empty or oversized file is no music."""
    size = require_regular_file(path).st_size
    if not os.access(path, os.R_OK):
        raise InputFileError("cannot be opened (permission denied)", path)
    if size == 0:
        raise InputFileError("is empty", path)
    if size > limits.max_file_bytes:
        raise LimitExceededError(f"is {size} bytes, more than {limits.max_file_bytes}", path)
    return Path(path)


def load_scores(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> list[symusic.Score]:
    """Every piece in a music file (an ABC book holds many), each a tick-based Score."""
    fmt = format_of(path, READABLE)
    file = _check_input(path, limits)
    if fmt is Format.MIDI:
        return [read_midi(file, limits)]
    from cadenza.io.notation import read_notation

    return read_notation(file, fmt, limits)


def load_score(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS, *, index: int = 0) -> symusic.Score:
    """The ``index``-th piece of a music file (the only one, for most files)."""
    scores = load_scores(path, limits)
    if not 0 <= index < len(scores):
        raise InvalidArgumentError(f"holds {len(scores)} pieces; there is no piece {index}", path)
    return scores[index]


def save_score(
    score: symusic.Score, path: str | os.PathLike[str], *, force: bool = False, seconds: float | None = None
) -> Path:
    """Write a Score as MIDI, MusicXML, WAV audio or a piano-roll PNG, chosen by the
    extension; an existing file is kept unless ``force``, and nothing is half-written.
    ``seconds``: the audio's exact length (else the music's end, as MIDI tempi say it)."""
    fmt = format_of(path, WRITABLE)
    if fmt is Format.MIDI:
        return write_midi(score, path, force=force)
    if fmt is Format.WAV:
        from cadenza.io.audio import render_wav

        return render_wav(score, path, force=force, seconds=seconds)
    if fmt is Format.PNG:
        from cadenza.io.pianoroll import render_pianoroll

        return render_pianoroll(score, path, force=force)
    from cadenza.io.notation_writer import write_musicxml

    return write_musicxml(score, path, force=force, fmt=fmt)
