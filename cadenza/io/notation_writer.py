"""Writing a ``symusic.Score`` as MusicXML through music21.

A MIDI track may hold overlapping notes of different lengths, which one notated voice
cannot show; each track is split into as few voices as possible (notes that start and
end together share a chord), and music21 makes the measures, ties and rests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import symusic

from cadenza.io.atomic import atomic_output
from cadenza.io.formats import Format

__all__ = ["score_to_music21", "write_musicxml"]

# Offsets and durations snap to a grid of 1/12 quarter: 16ths, 32nds and triplets
# below the 8th land on it exactly.
_GRID = 12


@dataclass
class _Voice:
    end: Fraction = Fraction(0)
    events: list[tuple[Fraction, Fraction, list[tuple[int, int]]]] = field(default_factory=list)


def _snap(quarters: float) -> Fraction:
    return Fraction(round(quarters * _GRID), _GRID)


def _split_voices(track: symusic.Track) -> list[_Voice]:
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
            voice = _Voice()
            voices.append(voice)
        voice.events.append((start, length, sorted(set(pitches))))
        voice.end = start + length
    return voices


def score_to_music21(score: symusic.Score) -> object:
    """A music21 Score with one part per track, ready for ``makeNotation``."""
    from music21 import chord, instrument, key, meter, note, stream, tempo

    quarter = score.to("quarter")
    result = stream.Score()
    for index, track in enumerate(quarter.tracks):
        part = stream.Part()
        part.partName = track.name or f"Track {index + 1}"
        part.id = f"P{index + 1}"
        try:
            part.insert(0, instrument.instrumentFromMidiProgram(track.program))
        except Exception:  # music21 knows no instrument for some programs
            part.insert(0, instrument.Instrument())
        for sig in quarter.time_signatures:
            part.insert(_snap(sig.time), meter.TimeSignature(f"{sig.numerator}/{sig.denominator}"))
        for signature in quarter.key_signatures:
            ks = key.KeySignature(signature.key)
            part.insert(_snap(signature.time), ks.asKey("minor" if signature.tonality else "major"))
        if index == 0:
            for mark in quarter.tempos:
                part.insert(_snap(mark.time), tempo.MetronomeMark(number=round(mark.qpm, 2)))
        voices = _split_voices(track)
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


def write_musicxml(
    score: symusic.Score, path: str | os.PathLike[str], *, force: bool = False, fmt: Format = Format.MUSICXML
) -> Path:
    """Write a Score as MusicXML (.musicxml/.xml) or compressed MusicXML (.mxl), atomically."""
    m21 = score_to_music21(score)
    with atomic_output(path, force=force) as tmp:
        m21.write("mxl" if fmt is Format.MXL else "musicxml", fp=str(tmp))  # type: ignore[attr-defined]
    return Path(path)
