"""Small hand-made scores for the analysis tests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import symusic

Spec = tuple[int, float, float] | tuple[int, float, float, int]


def make_score(
    notes: Iterable[Spec],
    *,
    tpq: int = 480,
    qpm: float | None = 120.0,
    meter: tuple[int, int] | None = (4, 4),
    name: str = "piano",
    drum: bool = False,
    extra_tracks: Sequence[tuple[str, Iterable[Spec]]] = (),
) -> symusic.Score:
    """A Score from ``(pitch, start_beat, end_beat[, velocity])`` tuples, beats in quarters."""
    score = symusic.Score(tpq)
    if qpm is not None:
        score.tempos.append(symusic.Tempo(0, qpm=qpm))
    if meter is not None:
        score.time_signatures.append(symusic.TimeSignature(0, *meter))
    for track_name, specs, is_drum in [(name, notes, drum)] + [(n, s, False) for n, s in extra_tracks]:
        track = symusic.Track(name=track_name, program=0, is_drum=is_drum)
        for spec in specs:
            pitch, start, end = spec[0], spec[1], spec[2]
            velocity = spec[3] if len(spec) > 3 else 80
            track.notes.append(symusic.Note(round(start * tpq), max(round((end - start) * tpq), 1), pitch, velocity))
        score.tracks.append(track)
    return score


def block_chords(chords: Sequence[Sequence[int]], beats_each: int = 4, start: float = 0.0) -> list[Spec]:
    """Each chord held for ``beats_each`` beats, its lowest pitch struck again on every beat."""
    notes: list[Spec] = []
    t = start
    for chord in chords:
        for p in chord:
            notes.append((p, t, t + beats_each))
        for b in range(beats_each):
            notes.append((min(chord) - 12, t + b, t + b + 1))
        t += beats_each
    return notes


C_MAJOR_SCALE = [(p, i, i + 1) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])]
I_IV_V_I = [[60, 64, 67], [60, 65, 69], [59, 62, 67], [60, 64, 67]]
