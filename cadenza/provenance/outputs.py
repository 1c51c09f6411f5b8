"""Writing a generated piece: the music in the asked format, its signed record beside it.

A MIDI file also carries the record inside, as a text marker; for the other formats
(MusicXML, WAV, PNG) the record holds the sha256 of the file's bytes instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import symusic

from cadenza.errors import CadenzaError, InvalidArgumentError
from cadenza.io import Format, format_of, midi_bytes, save_score
from cadenza.io.atomic import atomic_output, check_writable
from cadenza.io.formats import WRITABLE
from cadenza.provenance.record import embed_marker, sidecar_path, write_record
from cadenza.provenance.signing import SigningKey, sign_record

__all__ = ["check_outputs", "write_with_record"]


def check_outputs(paths: Iterable[str | os.PathLike[str]], *, force: bool = False) -> None:
    """Refuse, before any work, an output (or its record) that exists, has no known
    format, is named twice, or whose folder is missing, not a folder or not writable."""
    seen: set[Path] = set()
    for path in paths:
        format_of(path, WRITABLE)
        target = Path(path)
        if target.absolute() in seen:
            raise InvalidArgumentError(f"{target} is given twice as an output")
        seen.add(target.absolute())
        folder = target.parent
        if folder.exists() and not folder.is_dir():
            raise CadenzaError(f"{folder} is not a folder", target)
        check_writable(target, force=force)
        check_writable(sidecar_path(target), force=force)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise CadenzaError(f"folder {folder} is not writable", target)


def write_with_record(
    score: symusic.Score,
    record: dict[str, object],
    target: str | os.PathLike[str],
    key: SigningKey,
    *,
    force: bool = False,
    seconds: float | None = None,
) -> Path:
    """Write ``score`` to ``target`` and its record, signed with ``key``, beside it;
    ``seconds``: an audio file's exact length."""
    if format_of(target, WRITABLE) is Format.MIDI:
        signed = sign_record(record, key)
        with atomic_output(target, force=force) as tmp:
            tmp.write_bytes(midi_bytes(embed_marker(score, signed)))
    else:
        save_score(score, target, force=force, seconds=seconds)
        signed = sign_record(record, key, file=target)
    return write_record(signed, target, force=force)
