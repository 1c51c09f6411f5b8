"""Writing a ``symusic.Score`` as MusicXML through music21, bounded and reproducible.

A MIDI track may hold overlapping notes of different lengths, which one notated voice
cannot show; each track is split into as few voices as possible (notes that start and
end together share a chord), and music21 makes the measures, ties and rests.

Bounded: what music21 would write is counted first (a note held for a thousand bars
becomes a thousand tied notes, each voice gets a rest in every bar it is silent), and
a score that would need more than :data:`MAX_NOTATED_ELEMENTS` notes, tied notes,
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

import symusic

from cadenza.errors import LimitExceededError
from cadenza.io.atomic import atomic_output, check_writable
from cadenza.io.formats import Format
from cadenza.io.limits import DEFAULT_LIMITS, Limits
from cadenza.io.sandbox import run_isolated

__all__ = ["MAX_NOTATED_ELEMENTS", "MAX_VOICES_PER_TRACK", "musicxml_bytes", "score_to_music21", "write_musicxml"]

# Offsets and durations snap to a grid of 1/12 quarter: 16ths, 32nds and triplets
# below the 8th land on it exactly.
_GRID = 12
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


def _snap(quarters: float) -> Fraction:
    return Fraction(round(quarters * _GRID), _GRID)


def _split_voices(track: symusic.Track, name: str, path: str | os.PathLike[str]) -> list[_Voice]:
    """Greedy voice assignment: each chord goes to the first voice that is free."""
    chords: dict[tuple[Fraction, Fraction], list[tuple[int, int]]] = {}
    for note in track.notes:
        start = _snap(note.time)
        length = max(_snap(note.duration), Fraction(1, _GRID))
        chords.setdefault((start, length), []).append((note.pitch, note.velocity))
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


def _shortest_bar(quarter: symusic.Score) -> Fraction:
    lengths = [Fraction(4 * s.numerator, s.denominator) for s in quarter.time_signatures if s.numerator > 0]
    return max(min(lengths, default=Fraction(4)), Fraction(1, _GRID))


def _notated_elements(quarter: symusic.Score, voices_of: list[list[_Voice]]) -> int:
    """About how many notes, tied notes, rests and signatures music21 would write: a
    note crossing k bar lines is k + 1 tied notes (a chord, that many per pitch); a
    voice has at most a rest per event and per bar; signatures go into every part."""
    bar = _shortest_bar(quarter)
    total = len(quarter.tempos) + len(quarter.tracks) * (len(quarter.time_signatures) + len(quarter.key_signatures))
    for voices in voices_of:
        end = max((v.end for v in voices), default=Fraction(0))
        bars = int(end // bar) + 1
        for voice in voices:
            total += bars + len(voice.events)
            total += sum(
                (int((start + length) // bar) - int(start // bar) + 1) * len(pitches)
                for start, length, pitches in voice.events
            )
    return total


def _track_name(track: symusic.Track, index: int) -> str:
    return track.name or f"Track {index + 1}"


def score_to_music21(score: symusic.Score, voices_of: list[list[_Voice]] | None = None) -> object:
    """A music21 Score with one part per track, ready for ``makeNotation``."""
    from music21 import chord, instrument, key, meter, note, stream, tempo

    quarter = score.to("quarter")
    if voices_of is None:
        voices_of = [_split_voices(track, _track_name(track, i), "<score>") for i, track in enumerate(quarter.tracks)]
    result = stream.Score()
    for index, track in enumerate(quarter.tracks):
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
        for sig in quarter.time_signatures:
            part.insert(_snap(sig.time), meter.TimeSignature(f"{sig.numerator}/{sig.denominator}"))
        for signature in quarter.key_signatures:
            ks = key.KeySignature(signature.key)
            part.insert(_snap(signature.time), ks.asKey("minor" if signature.tonality else "major"))
        if index == 0:
            for mark in quarter.tempos:
                part.insert(_snap(mark.time), tempo.MetronomeMark(number=round(mark.qpm, 2)))
        voices = voices_of[index]
        containers = [part] if len(voices) <= 1 else [stream.Voice() for _ in voices]
        for container, voice in zip(containers, voices, strict=False):
            for start, length, pitches in voice.events:
                element = note.Note(pitches[0][0]) if len(pitches) == 1 else chord.Chord([p for p, _ in pitches])
                element.quarterLength = length
                element.volume.velocity = max(v for _, v in pitches)
                container.insert(start, element)
        if len(voices) > 1:
            for container in containers:
                part.insert(0, container)
        result.insert(0, part)
    return result


def _musicxml_in_child(score: symusic.Score, voices_of: list[list[_Voice]]) -> list[bytes]:
    """Runs in the sandbox: the MusicXML document, without its encoding date."""
    import warnings

    from music21.musicxml.m21ToXml import GeneralObjectExporter
    from music21.stream import Score

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    warnings.simplefilter("ignore")
    notation = score_to_music21(score, voices_of)
    assert isinstance(notation, Score)
    xml = GeneralObjectExporter(notation).parse()
    return [_ENCODING_DATE.sub(b"", xml, count=1)]


def musicxml_bytes(
    score: symusic.Score, path: str | os.PathLike[str] = "<score>", limits: Limits = DEFAULT_LIMITS
) -> bytes:
    """The MusicXML document of a Score (``path`` names it in errors); refused with a
    :class:`LimitExceededError` when notating it would take too much work."""
    quarter = score.to("quarter")
    # Each note is at least one element: a score with too many is refused before counting.
    elements = quarter.note_num()
    if elements <= MAX_NOTATED_ELEMENTS:
        voices_of = [_split_voices(track, _track_name(track, i), path) for i, track in enumerate(quarter.tracks)]
        elements = _notated_elements(quarter, voices_of)
    if elements > MAX_NOTATED_ELEMENTS:
        raise LimitExceededError(
            f"would be about {elements:,} notes, tied notes and rests in MusicXML, "
            f"more than {MAX_NOTATED_ELEMENTS:,} (notes held for many bars, or very long music)",
            path,
        )
    (xml,) = run_isolated(
        lambda: _musicxml_in_child(score, voices_of),
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
