"""The melody line and the bass line of a Score.

The melody is a track named like one (``melody``, ``lead``, ``vocal``, ``voice``,
``soprano``, ``tune``...) when there is such a track; otherwise a skyline with voice
continuity over all pitched tracks: at each onset the highest note, unless it leaps more
than an octave away from the melody so far while another note of that onset lies within
a fifth of it (an accompaniment chord poking above the tune). The bass is the mirror
image: the lowest note at each onset. Lines are monophonic: a note ends where the next
one starts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import symusic

from cadenza.analysis._notes import Notes, as_tick_score, pitched_notes

__all__ = ["MELODY_NAME", "bass", "melody", "melody_track", "outer_line", "span_weights"]

MELODY_NAME = re.compile(r"melod|lead|vocal|voice|voix|sopran|tune|\bsing|\bmel\b", re.IGNORECASE)
_LEAP = 12
_NEAR = 7


def melody_track(score: symusic.Score) -> int | None:
    """Index of the first non-drum track with notes whose name looks like a melody's."""
    for i, track in enumerate(score.tracks):
        if not track.is_drum and len(track.notes) and MELODY_NAME.search(track.name or ""):
            return i
    return None


def outer_line(notes: Notes, highest: bool) -> np.ndarray:
    """Indices of the notes on the outer line (highest or lowest) with continuity."""
    if len(notes) == 0:
        return np.zeros(0, dtype=np.int64)
    starts, first = np.unique(notes.start, return_index=True)
    bounds = np.r_[first, len(notes)]
    chosen = np.empty(starts.size, dtype=np.int64)
    prev = None
    for g in range(starts.size):
        lo, hi = bounds[g], bounds[g + 1]  # notes sorted by (start, pitch)
        pick = hi - 1 if highest else lo
        if prev is not None and hi - lo > 1 and abs(notes.pitch[pick] - prev) > _LEAP:
            alt = hi - 2 if highest else lo + 1
            if abs(notes.pitch[alt] - notes.pitch[pick]) <= _NEAR and abs(notes.pitch[alt] - prev) < abs(
                notes.pitch[pick] - prev
            ):
                pick = alt
        chosen[g] = pick
        prev = int(notes.pitch[pick])
    return chosen


def _as_track(notes: Notes, idx: np.ndarray, name: str) -> symusic.Track:
    track = symusic.Track(name=name)
    if idx.size == 0:
        return track
    start = notes.start[idx]
    end = notes.end[idx].copy()
    end[:-1] = np.minimum(end[:-1], start[1:])
    for s, e, p, v in zip(start, end, notes.pitch[idx], notes.velocity[idx], strict=True):
        track.notes.append(symusic.Note(int(s), int(max(e - s, 1)), int(p), int(v)))
    return track


def melody(score: symusic.Score) -> symusic.Track:
    """The melody as a monophonic track in ticks (empty track for an empty or drum-only score)."""
    score = as_tick_score(score)
    index = melody_track(score)
    notes = pitched_notes(score)
    if index is not None:
        notes = notes.select(notes.track == index)
    return _as_track(notes, outer_line(notes, highest=True), "melody")


def skyline_track(score: symusic.Score) -> int | None:
    """The track that gives most notes to the skyline melody (``None`` without notes)."""
    score = as_tick_score(score)
    notes = pitched_notes(score)
    idx = outer_line(notes, highest=True)
    if idx.size == 0:
        return None
    return int(np.bincount(notes.track[idx]).argmax())


def bass(score: symusic.Score) -> symusic.Track:
    """The bass line (lowest note at each onset) as a monophonic track in ticks."""
    score = as_tick_score(score)
    notes = pitched_notes(score)
    return _as_track(notes, outer_line(notes, highest=False), "bass")


FIRST_BEAT_WEIGHT = 2.0


def span_weights(track: symusic.Track, starts: Sequence[float], beat: float) -> np.ndarray:
    """(spans, 12): how much of each pitch class a line sounds in each span between
    consecutive ``starts`` (ticks), in beats of ``beat`` ticks, the span's first beat
    counting :data:`FIRST_BEAT_WEIGHT` times: what a harmonizer hears of a tune."""
    weights = np.zeros((max(0, len(starts) - 1), 12))
    for note in track.notes:
        end = note.time + note.duration
        first = int(np.searchsorted(starts, note.time, side="right")) - 1
        for k in range(max(first, 0), len(starts) - 1):
            if starts[k] >= end:
                break
            start, stop = max(note.time, starts[k]), min(end, starts[k + 1])
            if stop > start:
                on_first_beat = start - starts[k] < beat
                weights[k, note.pitch % 12] += (stop - start) / beat * (FIRST_BEAT_WEIGHT if on_first_beat else 1.0)
    return weights
