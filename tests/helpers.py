"""Building small scores by hand for tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import symusic


def make_score(
    notes: Iterable[tuple[int, float, float]] | Sequence[tuple[int, float, float, int]],
    *,
    tpq: int = 480,
    program: int = 0,
    qpm: float = 120.0,
    meter: tuple[int, int] = (4, 4),
    name: str = "piano",
) -> symusic.Score:
    """A one-track Score from ``(pitch, start_beat, end_beat[, velocity])`` tuples."""
    score = symusic.Score(tpq)
    score.tempos.append(symusic.Tempo(0, qpm=qpm))
    score.time_signatures.append(symusic.TimeSignature(0, *meter))
    track = symusic.Track(name=name, program=program)
    for spec in notes:
        pitch, start, end = spec[0], spec[1], spec[2]
        velocity = spec[3] if len(spec) > 3 else 80
        track.notes.append(symusic.Note(round(start * tpq), round((end - start) * tpq), pitch, velocity))
    score.tracks.append(track)
    return score


def music21_notes(stream) -> list[tuple[float, float, int]]:  # a music21 Score
    """(offset, quarter length, MIDI pitch) of every sounding note of a music21 stream,
    ties merged: music21's own reading, to compare cadenza's against."""
    return sorted(
        (float(n.offset), float(n.quarterLength), p.midi)
        for part in stream.parts
        for n in part.flatten().stripTies().notes
        for p in n.pitches
    )
