"""Where the notes a composer task writes may lie: each track's range, and voices in order.

A part the model writes keeps to the register the user wrote the track in (or its
instrument's range), its notes are folded there by octaves and untangled again, and in
a texture of named voices (Soprano, Alto, Tenor, Bass) a written note stays under the
voice above it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import symusic

from cadenza.compose.cells import Cell, merge_written
from cadenza.compose.conditions import INSTRUMENTS, Instrument
from cadenza.compose.sketch import Sketch
from cadenza.compose.voicing import order_voices
from cadenza.models import multitrack_tokens as mt

__all__ = ["instrument_of_program", "fold", "track_ranges", "keep_voices_apart", "MIN_TUNE_NOTES", "RANGE_MARGIN"]

MIN_TUNE_NOTES = 4  # fewer notes than this say nothing of a track's register, or of a tune
_PIANO = INSTRUMENTS["piano"]


def instrument_of_program(program: int) -> Instrument:
    """The instrument cadenza knows by this General MIDI program (its range), else the piano's."""
    return next((i for i in INSTRUMENTS.values() if i.program == program), _PIANO)


def fold(score: symusic.Score, cells: Sequence[Cell], sketch: Sketch, ranges: dict[int, tuple[int, int]]) -> None:
    """The written notes of each track moved by octaves into its range, and untangled
    again (two notes moved onto one key at once are one; :func:`merge_written`)."""
    for t in sorted({t for t, _ in cells}):
        bars = {b for tt, b in cells if tt == t}
        track = score.tracks[t]
        written = [n for n in track.notes if int(n.time // sketch.bar_ticks) in bars]
        kept = [n for n in track.notes if int(n.time // sketch.bar_ticks) not in bars]
        if t in ranges:
            low, high = ranges[t]
            for note in written:
                while note.pitch < low and note.pitch + 12 <= 127:
                    note.pitch += 12
                while note.pitch > high and note.pitch - 12 >= 0:
                    note.pitch -= 12
        notes = merge_written(kept, written)
        track.notes.clear()
        track.notes.extend(notes)


RANGE_MARGIN = 2  # semitones a written part may go past the range the user's notes span


def track_ranges(score: symusic.Score, sketch: Sketch) -> dict[int, tuple[int, int]]:
    """Where each pitched track's written notes may lie: the span of the user's own notes
    in it (the register they wrote it in) widened by :data:`RANGE_MARGIN`, inside its
    instrument's range; a track with fewer than :data:`MIN_TUNE_NOTES` notes, the
    instrument's range (a piano's, where the program names none cadenza knows)."""
    out = {}
    for t, track in enumerate(score.tracks):
        if track.is_drum:
            continue
        instrument = instrument_of_program(track.program)
        pitches = sketch.score.tracks[t].notes.numpy()["pitch"] if t < len(sketch.score.tracks) else np.array([])
        if len(pitches) >= MIN_TUNE_NOTES:
            low = max(instrument.low, int(pitches.min()) - RANGE_MARGIN)
            high = min(instrument.high, int(pitches.max()) + RANGE_MARGIN)
            if high - low >= 12:  # room for an octave, so that folding always lands
                out[t] = (low, high)
                continue
        out[t] = (instrument.low, instrument.high)
    return out


def keep_voices_apart(
    score: symusic.Score, sketch: Sketch, cells: Sequence[Cell], ranges: dict[int, tuple[int, int]]
) -> None:
    """In a texture of voices (tracks named Soprano, Alto, Tenor, Bass, in that order of
    register), the written notes kept under the voice above (:func:`order_voices`)."""
    names = [t.name.strip().lower() for t in score.tracks]
    voices = [names.index(v) for v in ("soprano", "alto", "tenor", "bass") if v in names]
    if len(voices) < 2:
        return
    written = set(cells)
    order_voices(
        score,
        voices,
        ranges,
        movable=lambda t, note: (
            (t, round(note.time * mt.RESOLUTION / score.ticks_per_quarter) // mt.bar_ticks(sketch.meter)) in written
        ),
    )
