"""Four-part voice leading after the model: the textbook's rules on the voices it wrote.

The multitrack model writes the alto, tenor and bass of a chorale a few bars at a time,
each voice's notes in its own cell, so nothing in its decoding forbids a parallel fifth
between two voices or an alto above the soprano. Two passes over what it wrote do, voice
by voice from the top (the user's top voice is never touched):

* :func:`order_voices`: a note above the voice over it goes down an octave (while it
  stays in its range); in the upper voices a note more than an octave under the voice
  above goes up one where it then stays under it;
* :func:`repair_parallels`: a note that moves in parallel fifths or octaves (unisons
  too) with a voice above, or that still lies above the voice over it or (an upper
  voice) more than an octave under it, is moved to the nearest tone of its bar's chord
  that does none of these (and stays over the voice below); where no such tone exists
  in the voice's range the note stays as written.

``cadenza.analysis.voice_leading`` counts the same faults (per chord change of the
16th grid); the benchmark reports the rates before and after these passes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
import symusic

from cadenza.theory import chord_pitch_classes

__all__ = ["order_voices", "repair_parallels"]


class _Line:
    """A voice's notes, found by time without a scan: their onsets and ends do not change
    here, only their pitches."""

    def __init__(self, track: symusic.Track) -> None:
        self.notes = sorted(track.notes, key=lambda n: n.time)
        self.starts = np.array([n.time for n in self.notes], dtype=np.int64)
        self.ends = self.starts + np.array([n.duration for n in self.notes], dtype=np.int64)
        self.longest = int((self.ends - self.starts).max()) if len(self.notes) else 0

    def note_at(self, time: int, lowest: bool = True) -> symusic.Note | None:
        """The note sounding at ``time`` (the lowest, or the highest, of several), None if none."""
        first = int(np.searchsorted(self.starts, time - self.longest, side="left"))
        last = int(np.searchsorted(self.starts, time, side="right"))
        sounding = [self.notes[i] for i in range(first, last) if self.ends[i] > time]
        if not sounding:
            return None
        return min(sounding, key=lambda n: n.pitch) if lowest else max(sounding, key=lambda n: n.pitch)

    def at(self, time: int) -> int | None:
        note = self.note_at(time)
        return None if note is None else int(note.pitch)

    def before(self, index: int, step: int) -> int | None:
        """The voice's pitch one ``step`` before note ``index`` begins, None if it rests then."""
        return self.at(int(self.starts[index]) - step)


def order_voices(
    score: symusic.Score,
    voices: Sequence[int],
    ranges: dict[int, tuple[int, int]],
    movable: Callable[[int, symusic.Note], bool] | None = None,
) -> None:
    """Each voice after the first kept under the one above it (module docstring), in
    place: compared wherever either of the two voices begins a note. Only the notes
    ``movable(track, note)`` says were written move (default: every note of a lower voice)."""
    for upper, lower in itertools.pairwise(voices):
        low, high = ranges[lower]
        close = lower != voices[-1]  # the bass may lie far under the tenor
        top, bottom = _Line(score.tracks[upper]), _Line(score.tracks[lower])
        for time in np.union1d(top.starts, bottom.starts).tolist():
            ceiling = top.at(time)
            note = bottom.note_at(time, lowest=False)
            if ceiling is None or note is None:
                continue
            if movable is not None and not movable(lower, note):
                _raise_upper(top, upper, note.pitch, time, ranges, movable)  # the user's lower note stays
                continue
            while note.pitch > ceiling and note.pitch - 12 >= low:
                note.pitch -= 12
            if close and ceiling - note.pitch > 12 and note.pitch + 12 <= min(ceiling, high):
                note.pitch += 12


def _raise_upper(
    top: _Line,
    upper: int,
    floor: int,
    time: int,
    ranges: dict[int, tuple[int, int]],
    movable: Callable[[int, symusic.Note], bool],
) -> None:
    """A written note of the upper voice under a kept note of the voice below goes up by
    octaves over it, while it stays in its range."""
    note = top.note_at(time)
    if note is None or not movable(upper, note) or upper not in ranges:
        return
    while note.pitch < floor and note.pitch + 12 <= ranges[upper][1]:
        note.pitch += 12


def _parallel(lower_before: int, lower_now: int, upper_before: int, upper_now: int) -> bool:
    """Whether the two voices move the same way into the same perfect fifth or octave (mod 12)."""
    direction = np.sign(lower_now - lower_before)
    if direction == 0 or direction != np.sign(upper_now - upper_before):
        return False
    before, now = abs(upper_before - lower_before) % 12, abs(upper_now - lower_now) % 12
    return before == now and now in (0, 7)


def repair_parallels(
    score: symusic.Score,
    voices: Sequence[int],
    ranges: dict[int, tuple[int, int]],
    chords: Sequence[str],
    bar_ticks: float,
    step: int,
) -> int:
    """Move the notes of ``voices[1:]`` that make parallel fifths or octaves with a voice
    above, lie above the voice over them, or (an upper voice) more than an octave under
    it (module docstring), in place; ``chords`` gives each bar's chord, ``step`` the
    ticks between the instants compared (a 16th). Returns how many notes moved."""
    moved = 0
    lines = {v: _Line(score.tracks[v]) for v in voices}
    for position, lower in enumerate(voices[1:], start=1):
        above = [lines[v] for v in voices[:position]]
        below = lines[voices[position + 1]] if position + 1 < len(voices) else None
        low, high = ranges[lower]
        close = position < len(voices) - 1
        line = lines[lower]
        for index, note in enumerate(line.notes):
            before = line.before(index, step)
            pairs = _motions(above, note.time, step) if before is not None else []
            ceiling = above[-1].at(note.time)
            if ceiling is None:
                continue

            def faulty(
                p: int, ceiling: int = ceiling, before: int | None = before, pairs: list = pairs, close: bool = close
            ) -> bool:
                parallel = before is not None and any(_parallel(before, p, b, n) for b, n in pairs)
                return parallel or p > ceiling or (close and ceiling - p > 12)

            if not faulty(note.pitch):
                continue
            floor = (below.at(note.time) if below is not None else None) or 0
            bar = min(int(note.time // bar_ticks), len(chords) - 1)
            tones = chord_pitch_classes(chords[bar]) or {note.pitch % 12}
            candidates = [p for p in range(max(low, floor), high + 1) if p % 12 in tones and not faulty(p)]
            if candidates:
                note.pitch = min(candidates, key=lambda p: (abs(p - note.pitch), p))
                moved += 1
    return moved


def _motions(lines: Sequence[_Line], time: int, step: int) -> list[tuple[int, int]]:
    """(pitch one ``step`` before ``time``, pitch at ``time``) of each voice sounding at both."""
    out = []
    for line in lines:
        before, now = line.at(time - step), line.at(time)
        if before is not None and now is not None:
            out.append((before, now))
    return out
