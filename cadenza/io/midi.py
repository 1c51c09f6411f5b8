"""MIDI files, read and written with symusic.

symusic (>= 0.6.0) raises clean errors on corrupt data, but what it accepts still has
to be checked: the header is read here first (so a 10,000-track header or an SMPTE
division is refused before parsing), and the parsed Score goes through
:func:`cadenza.io.limits.validate_score`.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import symusic

from cadenza.errors import InputFileError, LimitExceededError
from cadenza.io.atomic import atomic_output
from cadenza.io.files import read_regular_bytes
from cadenza.io.limits import DEFAULT_LIMITS, Limits, validate_score

__all__ = ["read_midi", "parse_midi_bytes", "write_midi", "midi_bytes"]


def _check_header(data: bytes, path: str | os.PathLike[str], limits: Limits) -> None:
    if len(data) == 0:
        raise InputFileError("is empty", path)
    if data[:4] == b"RIFF" and data[8:12] == b"RMID":
        raise InputFileError("is a RIFF MIDI (RMID) file; extract its MIDI data first", path)
    if data[:4] != b"MThd":
        raise InputFileError("is not a MIDI file (no MThd header)", path)
    if len(data) < 14:
        raise InputFileError("is truncated inside its MIDI header", path)
    (length,) = struct.unpack(">I", data[4:8])
    if length < 6:
        raise InputFileError(f"has a MIDI header of {length} bytes, expected 6", path)
    midi_format, tracks, division = struct.unpack(">HHH", data[8:14])
    if midi_format > 2:
        raise InputFileError(f"has unknown MIDI format {midi_format}", path)
    if tracks > limits.max_tracks:
        raise LimitExceededError(f"declares {tracks} tracks, more than {limits.max_tracks}", path)
    if division & 0x8000:
        raise InputFileError("uses SMPTE time division, which is not supported", path)
    if division == 0:
        raise InputFileError("has 0 ticks per quarter note", path)


def parse_midi_bytes(
    data: bytes, path: str | os.PathLike[str] = "<bytes>", limits: Limits = DEFAULT_LIMITS
) -> symusic.Score:
    """Parse and validate MIDI bytes; ``path`` only names the source in errors."""
    if len(data) > limits.max_file_bytes:
        raise LimitExceededError(f"is {len(data)} bytes, more than {limits.max_file_bytes}", path)
    _check_header(data, path, limits)
    try:
        score = symusic.Score.from_midi(data)
    except Exception as error:  # symusic raises RuntimeError/ValueError with a reason
        reason = str(error).strip().splitlines()[0][:300] if str(error).strip() else type(error).__name__
        raise InputFileError(f"is not a valid MIDI file ({reason})", path) from None
    return validate_score(score, path, limits)


def read_midi(path: str | os.PathLike[str], limits: Limits = DEFAULT_LIMITS) -> symusic.Score:
    """Read a .mid/.midi file into a tick-based Score (a pipe or device is refused unopened)."""
    return parse_midi_bytes(read_regular_bytes(path, limits.max_file_bytes), path, limits)


def midi_bytes(score: symusic.Score) -> bytes:
    """The Standard MIDI File bytes of a Score (tick time)."""
    tick_score = score if score.ttype == symusic.TimeUnit.tick else score.to("tick")
    return bytes(tick_score.dumps_midi())


def write_midi(score: symusic.Score, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write a Score as a Standard MIDI File, atomically."""
    data = midi_bytes(score)
    with atomic_output(path, force=force) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def untangle(notes: list[symusic.Note]) -> list[symusic.Note]:
    """One instrument cannot strike a key that is still down: of two notes of one pitch
    that start together the longer (and louder) stays, and a note is cut where the next
    one of its pitch begins. (A MIDI file could not tell such notes apart either.)"""
    by_key = sorted(notes, key=lambda n: (n.pitch, n.time, -n.duration))
    kept: list[symusic.Note] = []
    for note in by_key:
        previous = kept[-1] if kept and kept[-1].pitch == note.pitch else None
        if previous is not None and previous.time == note.time:
            previous.velocity = max(previous.velocity, note.velocity)
            continue
        if previous is not None and previous.time + previous.duration > note.time:
            previous.duration = note.time - previous.time
        kept.append(note)
    return sorted(kept, key=lambda n: (n.time, n.pitch))
