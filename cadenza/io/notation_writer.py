"""Writing a ``symusic.Score`` as MusicXML through music21, bounded and reproducible.

Notation-grade: every note and rest is a value a notation program shows (a 16th, a
triplet eighth, a dotted quarter; tied where one value cannot show it), on a grid
chosen per beat from the onsets there; a track that is one line is written as one
voice (:mod:`cadenza.io.notation_grid`). A MIDI track may also hold overlapping notes
of different lengths, which one notated voice cannot show; such a track is split into
as few voices as possible (notes that start and end together share a chord; the rests
of a second voice are hidden). The rests are written here, not by music21, so that
they too are notatable values. A first bar stated as a short bar of its own meter
followed by a longer one (how a pickup reads from MusicXML or a notation program's
MIDI) is written as a pickup: measure 0, in the following meter.

Notes keep their pitch and part (an instrument's range is reported by
:func:`cadenza.io.ranges.out_of_range`, never enforced here). What notation cannot
keep: times finer than the grid (a performance's timing, a model's 1/12 quarter
beside a 16th), a legato overlap, two notes of one pitch overlapping in a track
(read back as one). Bars other than a first pickup that are shorter or longer than
their meter (a bar split at a repeat, a cadenza) are not kept, since a Score holds
no bar lines but its time signatures: the bars after them are counted from the meter.

Bounded: what music21 would write is counted first (a note held for a thousand bars
becomes a thousand tied notes or more, each voice gets a rest in every bar it is
silent), and a score that would need more than :data:`MAX_NOTATED_ELEMENTS` notes, tied notes,
rests and signatures is refused before any is made. music21 then runs in the sandbox
(:mod:`cadenza.io.sandbox`) with a CPU-time limit sized to that count and the same
memory limit as reading.

Reproducible: the same score gives the same bytes. Part and instrument ids are
numbered (music21 draws random ones), the encoding date is left out, and a .mxl
archive is zipped here with fixed names and timestamps.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import symusic

from cadenza.errors import LimitExceededError
from cadenza.io.atomic import atomic_output, check_writable
from cadenza.io.formats import Format
from cadenza.io.limits import DEFAULT_LIMITS, Limits
from cadenza.io.notation_grid import Grid, Meter, QuantizedNote, notated_lengths, quantize_score
from cadenza.io.sandbox import run_isolated

__all__ = ["MAX_NOTATED_ELEMENTS", "MAX_VOICES_PER_TRACK", "musicxml_bytes", "score_to_music21", "write_musicxml"]

MAX_VOICES_PER_TRACK = 64
MAX_NOTATED_ELEMENTS = 100_000
# CPU seconds for music21's start-up, plus an allowance per element it writes (several
# times the measured cost of under 2 ms; a 3-minute POP909 song is about 4,500).
_WRITE_CPU_BASE_S = 30.0
_WRITE_CPU_S_PER_ELEMENT = 0.005
_SCORE_NAME = "score.musicxml"  # the document inside a .mxl archive
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
_CONTAINER = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<container><rootfiles>'
    b'<rootfile full-path="' + _SCORE_NAME.encode() + b'" media-type="application/vnd.recordare.musicxml+xml"/>'
    b"</rootfiles></container>\n"
)
_ENCODING_DATE = re.compile(rb"\s*<encoding-date>[^<]*</encoding-date>")


@dataclass
class _Voice:
    end: Fraction = Fraction(0)
    events: list[tuple[Fraction, Fraction, list[tuple[int, int]]]] = field(default_factory=list)


@dataclass
class _Layout:
    """What is written, worked out before music21 runs: the bars, and each track's
    grid and voices."""

    meter: Meter
    tracks: list[tuple[Grid, list[_Voice]]]

    @property
    def end(self) -> Fraction:
        """The end of the last bar that holds music."""
        last = max((v.end for _, voices in self.tracks for v in voices), default=Fraction(0))
        bar_start, bar_end = self.meter.bar_at(last)
        return last if bar_start == last else bar_end


def _split_voices(notes: list[QuantizedNote], name: str, path: str | os.PathLike[str]) -> list[_Voice]:
    """Greedy voice assignment: each chord goes to the first voice that is free."""
    chords: dict[tuple[Fraction, Fraction], list[tuple[int, int]]] = {}
    for note in notes:
        chords.setdefault((note.start, note.end - note.start), []).append((note.pitch, note.velocity))
    voices: list[_Voice] = []
    for (start, length), pitches in sorted(chords.items()):
        voice = next((v for v in voices if v.end <= start), None)
        if voice is None:
            if len(voices) == MAX_VOICES_PER_TRACK:
                raise LimitExceededError(
                    f"track {name!r} needs more than {MAX_VOICES_PER_TRACK} voices at once to be notated", path
                )
            voice = _Voice()
            voices.append(voice)
        voice.events.append((start, length, sorted(set(pitches))))
        voice.end = start + length
    return voices


def _layout(score: symusic.Score, path: str | os.PathLike[str]) -> _Layout:
    meter, quantized = quantize_score(score)
    tracks = [
        (grid, _split_voices(notes, _track_name(track, index), path))
        for index, (track, (notes, grid)) in enumerate(zip(score.tracks, quantized, strict=True))
    ]
    return _Layout(meter, tracks)


def _notated_elements(score: symusic.Score, layout: _Layout) -> int:
    """About how many notes, tied notes, rests and signatures music21 would write: a
    note crossing k bar lines is k + 1 tied notes or more (a chord, that many per pitch);
    a voice has at most a rest per event and per bar; signatures go into every part."""
    bar = max(min(s.bar for s in layout.meter.segments), Fraction(1, 8))
    total = len(score.tempos) + len(score.tracks) * (len(score.time_signatures) + len(score.key_signatures))
    bars = int(layout.end // bar) + 1
    for _, voices in layout.tracks:
        for voice in voices:
            total += bars + len(voice.events)
            total += sum(
                (int((start + length) // bar) - int(start // bar) + 1) * len(pitches)
                for start, length, pitches in voice.events
            )
    return total


def _track_name(track: symusic.Track, index: int) -> str:
    return track.name or f"Track {index + 1}"


def _on_quarter_grid(tick: int, tpq: int) -> Fraction:
    return Fraction(round(Fraction(4 * tick, tpq)), 4)


def _as_chosen(element: Any) -> None:
    """Keep the note value chosen here: music21 would otherwise split a value that
    follows part of a triplet to "complete" the triplet, into lengths no note shows."""
    if element.duration.type not in ("complex", "inexpressible", "zero"):  # (reading it works the value out)
        element.duration.expressionIsInferred = False


def _fill(container: object, voice: _Voice, grid: Grid, end: Fraction, hidden_rests: bool) -> None:
    """A voice from the start to ``end``: its notes as tied note values, the silences
    between them as rests (hidden in a second voice and after)."""
    from music21 import chord, note, tie

    def rests(start: Fraction, stop: Fraction) -> None:
        time = start
        for length in notated_lengths(start, stop, grid, syncopate=False):
            rest = note.Rest(quarterLength=length)
            _as_chosen(rest)
            if hidden_rests:
                rest.style.hideObjectOnPrint = True
            container.insert(time, rest)  # type: ignore[attr-defined]
            time += length

    time = Fraction(0)
    for start, length, pitches in voice.events:
        if start > time:
            rests(time, start)
        pieces = notated_lengths(start, start + length, grid)
        for i, piece in enumerate(pieces):
            element = note.Note(pitches[0][0]) if len(pitches) == 1 else chord.Chord([p for p, _ in pitches])
            element.quarterLength = piece
            _as_chosen(element)
            element.volume.velocity = max(v for _, v in pitches)
            if len(pieces) > 1:
                element.tie = tie.Tie("start" if i == 0 else "stop" if i == len(pieces) - 1 else "continue")
            container.insert(start, element)  # type: ignore[attr-defined]
            start += piece
        time = start
    if end > time:
        rests(time, end)


def _mark_pickup(part: object, pickup: Fraction) -> None:
    """The short first bar becomes a pickup: measure 0, in the meter that follows it."""
    from music21 import stream

    assert isinstance(part, stream.Part)
    measures = list(part.getElementsByClass(stream.Measure))
    if len(measures) < 2 or measures[1].timeSignature is None:
        return
    signature = measures[1].timeSignature
    measures[1].timeSignature = None
    measures[0].timeSignature = signature
    measures[0].paddingLeft = float(signature.barDuration.quarterLength - pickup)
    measures[0].showNumber = stream.enums.ShowNumber.NEVER  # written <measure implicit="yes">
    for number, measure in enumerate(measures):
        measure.number = number


def score_to_music21(score: symusic.Score, layout: _Layout | None = None) -> object:
    """A music21 Score with one part per track, in measures."""
    from music21 import instrument, key, meter, stream, tempo

    ticks = score.to("tick")
    tpq = ticks.ticks_per_quarter
    if layout is None:
        layout = _layout(ticks, "<score>")
    end = layout.end
    result = stream.Score()
    for index, track in enumerate(ticks.tracks):
        part = stream.Part()
        part.partName = _track_name(track, index)
        part.id = f"P{index + 1}"
        try:
            player = instrument.instrumentFromMidiProgram(track.program)
        except Exception:  # music21 knows no instrument for some programs
            player = instrument.Instrument()
        # Numbered ids: music21 would draw random ones, and the bytes would differ.
        player.partId = part.id
        player.instrumentId = f"{part.id}-I1"
        part.insert(0, player)
        for segment in layout.meter.segments:
            part.insert(segment.start, meter.TimeSignature(f"{segment.numerator}/{segment.denominator}"))
        for signature in ticks.key_signatures:
            ks = key.KeySignature(signature.key)
            part.insert(_on_quarter_grid(signature.time, tpq), ks.asKey("minor" if signature.tonality else "major"))
        if index == 0:
            for mark in ticks.tempos:
                part.insert(_on_quarter_grid(mark.time, tpq), tempo.MetronomeMark(number=round(mark.qpm, 2)))
        grid, voices = layout.tracks[index]
        voices = voices or [_Voice()]
        if len(voices) == 1:
            _fill(part, voices[0], grid, end, hidden_rests=False)
        else:
            for number, voice in enumerate(voices):
                container = stream.Voice()
                _fill(container, voice, grid, end, hidden_rests=number > 0)
                part.insert(0, container)
        part.makeNotation(inPlace=True)
        pickup = layout.meter.pickup()
        if pickup is not None:
            _mark_pickup(part, pickup)
        result.insert(0, part)
    return result


def _musicxml_in_child(score: symusic.Score, layout: _Layout) -> list[bytes]:
    """Runs in the sandbox: the MusicXML document, without its encoding date."""
    import warnings

    from music21.musicxml.m21ToXml import GeneralObjectExporter
    from music21.stream import Score

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    warnings.simplefilter("ignore")
    notation = score_to_music21(score, layout)
    assert isinstance(notation, Score)
    xml = GeneralObjectExporter(notation).parse()
    return [_ENCODING_DATE.sub(b"", xml, count=1)]


def musicxml_bytes(
    score: symusic.Score, path: str | os.PathLike[str] = "<score>", limits: Limits = DEFAULT_LIMITS
) -> bytes:
    """The MusicXML document of a Score (``path`` names it in errors); refused with a
    :class:`LimitExceededError` when notating it would take too much work."""
    # Each note is at least one element: a score with too many is refused before counting.
    elements = score.note_num()
    if elements <= MAX_NOTATED_ELEMENTS:
        layout = _layout(score, path)
        elements = _notated_elements(score, layout)
    if elements > MAX_NOTATED_ELEMENTS:
        raise LimitExceededError(
            f"would be about {elements:,} notes, tied notes and rests in MusicXML, "
            f"more than {MAX_NOTATED_ELEMENTS:,} (notes held for many bars, or very long music)",
            path,
        )
    (xml,) = run_isolated(
        lambda: _musicxml_in_child(score, layout),
        path=str(path),
        cpu_seconds=_WRITE_CPU_BASE_S + _WRITE_CPU_S_PER_ELEMENT * elements,
        memory_bytes=limits.parse_memory_bytes,
        action="write as MusicXML",
    )
    return xml


def _mxl(xml: bytes) -> bytes:
    """A compressed MusicXML archive with fixed names, order and timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        entries = (
            ("mimetype", b"application/vnd.recordare.musicxml", zipfile.ZIP_STORED),  # first and stored, by the spec
            ("META-INF/container.xml", _CONTAINER, zipfile.ZIP_DEFLATED),
            (_SCORE_NAME, xml, zipfile.ZIP_DEFLATED),
        )
        for name, data, method in entries:
            entry = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            entry.compress_type = method
            entry.create_system = 3
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data)
    return buffer.getvalue()


def write_musicxml(
    score: symusic.Score, path: str | os.PathLike[str], *, force: bool = False, fmt: Format = Format.MUSICXML
) -> Path:
    """Write a Score as MusicXML (.musicxml/.xml) or compressed MusicXML (.mxl), atomically."""
    check_writable(path, force=force)  # before the work, not after
    xml = musicxml_bytes(score, path)
    data = _mxl(xml) if fmt is Format.MXL else xml
    with atomic_output(path, force=force) as tmp:
        tmp.write_bytes(data)
    return Path(path)
