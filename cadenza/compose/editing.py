"""The one pipeline of the composer commands: the task, the originality of what the
model wrote, the record, the signature, the file.

    edited = edit_file("sketch.mid", lambda sketch: continue_sketch(composer, sketch, 8, sampling), composer, sampling)
    edited.write("longer.mid")  # the music, and longer.mid.provenance.json signed beside it

The record says what came from the user (the input file by name and sha256, every note
outside the generated cells) and what from the model (the task, its settings, the
tracks and bars it wrote and how many notes); the originality check covers only the
notes the model wrote (:meth:`~cadenza.compose.edit.Edit.generated`): the user's own
music resembling a training piece is none of the model's doing.

A MIDI written from a MIDI keeps the user's file as it was outside the edit (every
event, track and channel, :func:`cadenza.io.midi_edit.splice_midi`); other outputs are
written from the score (MusicXML keeps the parts, their names and the measures).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import symusic

from cadenza.compose.edit import Edit
from cadenza.compose.sketch import Sketch, pickup_padding, without_padding
from cadenza.io import Format, format_of
from cadenza.io.atomic import atomic_output
from cadenza.io.files import read_regular_bytes, regular_sha256
from cadenza.io.limits import DEFAULT_LIMITS
from cadenza.io.loading import load_score
from cadenza.io.midi import parse_midi_bytes
from cadenza.models.sampling import Sampling
from cadenza.provenance.outputs import write_with_record
from cadenza.provenance.record import marker_text, provenance_record, write_record
from cadenza.provenance.report import Level, OriginalityReport
from cadenza.provenance.signing import SigningKey, default_key, sign_record

if TYPE_CHECKING:
    from cadenza.models.registry import ModelInfo

__all__ = ["EditedPiece", "edit_file", "NOTHING_COMPOSED"]

NOTHING_COMPOSED = "nothing was composed: every note is the user's"


@dataclass(frozen=True)
class EditedPiece:
    """A user's piece after a task, with everything said about it."""

    edit: Edit
    source: Path
    record: dict[str, object]  # signed with ``key``
    key: SigningKey = field(repr=False)
    report: OriginalityReport | None = None
    warnings: tuple[str, ...] = ()
    midi: bytes | None = field(default=None, repr=False)  # the user's MIDI file with the edit spliced in

    @property
    def score(self) -> symusic.Score:
        return self.edit.score

    def what_changed(self) -> str:
        """What the task did to the user's piece, in one phrase (the commands print it)."""
        account: dict[str, Any] = self.edit.to_dict()
        parts = [
            f"{g['name'] or 'track ' + str(g['track'])} bars {','.join(g['bars'])}" + (" (new)" if g["new"] else "")
            for g in account["generated"]
        ]
        if not self.edit.in_place:
            return "every note yours, given to new parts; nothing composed"
        if parts:
            written = f"{account['generated_notes']} notes written in " + "; ".join(parts)
            return written + "; the rest is yours, unchanged"
        return "nothing composed; every note is yours, unchanged"

    def write(self, target: str | os.PathLike[str], *, force: bool = False) -> Path:
        """Write the music to ``target`` (format by extension) and its signed record
        beside it; returns the record's path. A MIDI output of a MIDI input is the user's
        file with the edit spliced in (made once, by :func:`finish`)."""
        if self.midi is not None and format_of(target) is Format.MIDI:
            with atomic_output(target, force=force) as tmp:
                tmp.write_bytes(self.midi)
            return write_record(self.record, target, force=force)
        return write_with_record(self.edit.score, self.record, target, self.key, force=force)


def _spliced(
    original: bytes, before: symusic.Score, piece: Edit, record: dict, source: Path
) -> tuple[bytes | None, str | None]:
    """(the MIDI file ``original`` with the edit spliced in and ``record`` as its marker, or
    None with why it cannot be: :func:`cadenza.io.midi_edit.splice_midi`)."""
    from cadenza.io.midi_edit import MidiSpliceError, splice_midi

    try:
        return splice_midi(original, before, piece.score, marker=marker_text(record), path=source), None
    except MidiSpliceError as error:
        return None, str(error)


def _source(path: Path, sha256: str | None) -> dict[str, object]:
    return {"file": path.name, "sha256": sha256 or regular_sha256(path), "format": str(format_of(path))}


def edit_file(
    path: str | os.PathLike[str],
    task: Callable[[Sketch], Edit],
    composer: object | None,
    sampling: Sampling | None,
    *,
    index: int = 0,
    level: Level | str = Level.NORMAL,
    key: SigningKey | None = None,
) -> EditedPiece:
    """Read the user's file (piece ``index`` of a book), run ``task`` on it, check what the
    model wrote against the model's training pieces (``composer`` None: a task that
    composes nothing), and sign the record."""
    source = Path(path)
    original: tuple[bytes, symusic.Score] | None = None
    if format_of(source) is Format.MIDI:  # read once: the file spliced into is the file analysed
        data = read_regular_bytes(source, DEFAULT_LIMITS.max_file_bytes)
        score = parse_midi_bytes(data, source)
        original = (data, score)
    else:
        score = load_score(source, index=index)
    padded, pad = pickup_padding(score)
    sketch = Sketch.of(padded)
    edit = task(sketch)
    if pad:  # back onto the user's timeline, where the grid's first bar begins before the music
        edit = replace(edit, score=without_padding(edit.score, score, pad), grid_start=-pad)
    spliceable = original if edit.in_place else None  # an arrangement is new parts: nothing to splice into
    sha256 = None if original is None else hashlib.sha256(original[0]).hexdigest()
    piece = finish(edit, source, composer, sampling, level=level, key=key, original=spliceable, sha256=sha256)
    stated = {f"{ts.numerator}/{ts.denominator}" for ts in padded.time_signatures if ts.time > 0}
    later = sorted(stated - {sketch.meter})
    if later and composer is not None:
        note = (
            f"the file changes meter (to {', '.join(later)}); bars are counted, and new notes written, "
            f"in its first meter, {sketch.meter}"
        )
        piece = replace(piece, warnings=(*piece.warnings, note))
    return piece


def finish(
    edit: Edit,
    source: Path,
    composer: object | None,
    sampling: Sampling | None,
    *,
    level: Level | str = Level.NORMAL,
    key: SigningKey | None = None,
    original: tuple[bytes, symusic.Score] | None = None,
    sha256: str | None = None,
) -> EditedPiece:
    """The record of ``edit`` of the file ``source`` (whose bytes hash to ``sha256``), its
    originality checked and signed; with ``original`` (a MIDI file's bytes and the score
    read from them), that file with the edit spliced in."""
    signing_key = default_key() if key is None else key
    said = {**edit.to_dict(), "source": _source(source, sha256)}
    report: OriginalityReport | None = None
    warnings: tuple[str, ...] = ()
    if composer is None:
        record = provenance_record(edit.score, cast("ModelInfo", _NO_MODEL), said, sampling or Sampling())
        record["model"] = None
        record["seed"] = None if sampling is None else sampling.seed
        originality: dict[str, object] = {"checked": False, "reason": NOTHING_COMPOSED}
    else:
        from cadenza.provenance.report import originality_report

        info = composer.info  # type: ignore[attr-defined]
        record = provenance_record(edit.score, info, said, sampling or Sampling())
        index = composer.originality_index  # type: ignore[attr-defined]
        if index is None:
            originality = {"checked": False, "reason": "the model has no originality index"}
            warnings = (f"{info.name}: the model has no originality index; what it wrote was not checked for copies",)
        elif not edit.cells:
            originality = {"checked": False, "reason": "the model wrote no notes"}
        else:
            report = originality_report(edit.generated(), index, Level.parse(level))
            originality = {"checked": True, "covers": "the notes the model wrote", **report.to_dict()}
    record = sign_record({**record, "originality": originality}, signing_key)
    midi, refused = (None, None) if original is None else _spliced(*original, edit, record, source)
    if refused is not None:
        warnings += (
            f"the edit cannot be put into the file's own events ({refused}); a MIDI output is written anew, "
            "its channels numbered by track",
        )
    return EditedPiece(edit, source, record, signing_key, report, warnings, midi)


class _NoModel:
    name = "none"
    family = "none"
    weights_sha256 = ""
    training: dict = {}  # noqa: RUF012 - read only


_NO_MODEL = _NoModel()
