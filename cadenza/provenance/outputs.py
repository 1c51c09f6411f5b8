"""Writing a generated piece: the music in the asked format, its signed record beside it.

A MIDI file also carries the record inside, as a text marker; for the other formats
(MusicXML, WAV, PNG) the record holds the sha256 of the file's bytes instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import symusic

from cadenza.io import Format, format_of, midi_bytes, save_score
from cadenza.io.atomic import atomic_output, check_writable
from cadenza.io.formats import WRITABLE
from cadenza.provenance.record import embed_marker, sidecar_path, write_record
from cadenza.provenance.signing import SigningKey, sign_record

__all__ = ["check_outputs", "write_with_record"]


def check_outputs(paths: Iterable[str | os.PathLike[str]], *, force: bool = False) -> None:
    """Refuse, before any work, an output (or its record) that exists or has no known format."""
    for path in paths:
        format_of(path, WRITABLE)
        check_writable(path, force=force)
        check_writable(sidecar_path(path), force=force)


def write_with_record(
    score: symusic.Score,
    record: dict[str, object],
    target: str | os.PathLike[str],
    key: SigningKey,
    *,
    force: bool = False,
) -> Path:
    """Write ``score`` to ``target`` and its record, signed with ``key``, beside it."""
    if format_of(target, WRITABLE) is Format.MIDI:
        signed = sign_record(record, key)
        with atomic_output(target, force=force) as tmp:
            tmp.write_bytes(midi_bytes(embed_marker(score, signed)))
    else:
        save_score(score, target, force=force)
        signed = sign_record(record, key, file=target)
    return write_record(signed, target, force=force)
