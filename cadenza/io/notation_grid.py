"""Where notes go when they are written as notation: bars, beats, a grid per beat, one
line for a monophonic track, and lengths a notation program can show.

MIDI times are free (a performance, a model's 1/12-quarter grid); notation has
16ths, triplets and their sums. Per track and per beat (a quarter, counted from the
bar line; the last beat of a 3/8 or 5/8 bar is an eighth), the grid is chosen from
the onsets in that beat: the first of 16ths (1/4 quarter), triplet eighths (1/3)
and triplet 16ths (1/6) on which every onset lies within :data:`_FIT`; 32nds (1/8)
when every onset lies on them exactly (written music, not a performance's slop); else
the one of the first three that moves the onsets least. Onsets and ends snap to the
grid of the beat they fall in, so a note is never 5/12 of a quarter long.

A note held a little into the next onset (at most a 16th, and less than half its
length: legato) is cut where the next starts, instead of opening a second voice; in a
track that is one line at :data:`MONOPHONIC_SHARE` of its onsets (one note starts
there and nothing before holds on into it for more than a little), every note is.
Notes that start together stay a chord, held to the longest one's end where they
end nearly together (in such a line, always).

A length that is no single note value is written as tied pieces that are (a note from
a triplet into a 16th beat, a 5-quarter note): split at bar lines, then at beats, with
the common syncopations (an eighth's offbeat quarter, a 16th's offbeat eighth) kept whole.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

import symusic

__all__ = [
    "MONOPHONIC_SHARE",
    "Grid",
    "Meter",
    "QuantizedNote",
    "notated_lengths",
    "notation_grid",
    "quantize_score",
    "quantize_track",
]

_DUPLE = Fraction(1, 4)
_STEPS = (_DUPLE, Fraction(1, 3), Fraction(1, 6))  # in order of preference
_THIRTY_SECOND = Fraction(1, 8)
_FIT = Fraction(1, 32)  # an onset this close to a grid point lies on it (15 ticks at 480 per quarter)
_EXACT = Fraction(1, 240)
# A note held into the next onset by at most this (in quarters), and by less than half
# its length, is held a little: a legato line, not a second voice.
_SHORT_OVERLAP = Fraction(1, 4)
MONOPHONIC_SHARE = 0.9
_SIGNATURE_GRID = 8  # time signatures snap to 1/8 quarter
# Lengths one note (or rest) can show, dotted or in a triplet.
_SIMPLE = frozenset(
    Fraction(n, d)
    for n, d in ((1, 8), (1, 6), (1, 4), (1, 3), (3, 8), (1, 2), (2, 3), (3, 4), (1, 1), (3, 2), (2, 1), (3, 1), (4, 1))
)
_WHOLE_BEATS = (Fraction(4), Fraction(3), Fraction(2), Fraction(3, 2), Fraction(1), Fraction(1, 2))


@dataclass(frozen=True)
class _Segment:
    start: Fraction
    bar: Fraction  # length of one bar, in quarters
    numerator: int
    denominator: int


class Meter:
    """Bar lines and beats from a score's time signatures, in quarters, read as
    :mod:`cadenza.analysis.bars` reads them: 4/4 before the first; one inside a bar
    starts a new bar there; one restating the meter in force changes nothing."""

    def __init__(self, signatures: Iterable[tuple[Fraction, int, int]]) -> None:
        segments: list[_Segment] = []
        for time, numerator, denominator in sorted(signatures, key=lambda s: s[0]):
            if numerator < 1 or denominator < 1 or time < 0:
                continue
            segment = _Segment(time, Fraction(4 * numerator, denominator), numerator, denominator)
            if segments and segments[-1].start == time:
                segments.pop()  # of several at one time, the last counts
            if segments and (segments[-1].numerator, segments[-1].denominator) == (numerator, denominator):
                continue
            segments.append(segment)
        if not segments or segments[0].start > 0:
            segments.insert(0, _Segment(Fraction(0), Fraction(4), 4, 4))
        self.segments = segments
        self._starts = [s.start for s in segments]

    @classmethod
    def of(cls, score: symusic.Score) -> Meter:
        if "tick" not in str(score.ttype).lower():
            score = score.to("tick")
        tpq = score.ticks_per_quarter
        return cls(
            (Fraction(round(Fraction(s.time, tpq) * _SIGNATURE_GRID), _SIGNATURE_GRID), s.numerator, s.denominator)
            for s in score.time_signatures
        )

    def bar_at(self, time: Fraction) -> tuple[Fraction, Fraction]:
        """Start and end of the bar that holds ``time``."""
        index = bisect.bisect_right(self._starts, time) - 1
        segment = self.segments[max(index, 0)]
        start = segment.start + math.floor((time - segment.start) / segment.bar) * segment.bar
        end = start + segment.bar
        if index + 1 < len(self.segments):
            end = min(end, self.segments[index + 1].start)
        return start, end

    def beat_at(self, time: Fraction) -> tuple[Fraction, Fraction]:
        """Start and end of the beat (a quarter from the bar line, cut at the bar's end)."""
        bar_start, bar_end = self.bar_at(time)
        start = bar_start + math.floor(time - bar_start)
        return start, min(start + 1, bar_end)

    def pickup(self) -> Fraction | None:
        """The length of a first bar that is a pickup: a bar of its own meter followed at
        once by a longer bar of another (how a pickup is stated in a MIDI file)."""
        if len(self.segments) < 2:
            return None
        first, second = self.segments[:2]
        return first.bar if second.start == first.bar and first.bar < second.bar else None


def _error(offset: Fraction, step: Fraction) -> Fraction:
    ratio = offset / step
    return abs(ratio - round(ratio)) * step


def _choose_step(offsets: list[Fraction], length: Fraction) -> Fraction:
    """The grid of one beat, from the onsets in it (``offsets`` from the beat's start)."""
    steps = [s for s in _STEPS if (length / s).denominator == 1]
    if not steps:
        return length
    for step in steps:
        if all(_error(o, step) <= _FIT for o in offsets):
            return step
    if (length / _THIRTY_SECOND).denominator == 1 and all(_error(o, _THIRTY_SECOND) <= _EXACT for o in offsets):
        return _THIRTY_SECOND
    return min(steps, key=lambda s: sum(_error(o, s) for o in offsets))  # min keeps the first of equals


def _default_step(length: Fraction) -> Fraction:
    return _DUPLE if (length / _DUPLE).denominator == 1 else length


class Grid:
    """The grid of each beat of one track."""

    def __init__(self, meter: Meter, onsets: Iterable[Fraction]) -> None:
        self.meter = meter
        by_beat: dict[tuple[Fraction, Fraction], list[Fraction]] = {}
        for onset in onsets:
            start, end = meter.beat_at(onset)
            by_beat.setdefault((start, end), []).append(onset - start)
        self.steps = {start: _choose_step(offsets, end - start) for (start, end), offsets in by_beat.items()}

    def step_at(self, time: Fraction) -> tuple[Fraction, Fraction, Fraction]:
        """The beat holding ``time`` (start, end) and its grid step."""
        start, end = self.meter.beat_at(time)
        return start, end, self.steps.get(start) or _default_step(end - start)

    def snap(self, time: Fraction) -> Fraction:
        start, end, step = self.step_at(time)
        return min(start + round((time - start) / step) * step, end)


@dataclass(frozen=True)
class QuantizedNote:
    start: Fraction
    end: Fraction
    pitch: int
    velocity: int


def quantize_track(
    notes: Iterable[tuple[Fraction, Fraction, int, int]], meter: Meter
) -> tuple[list[QuantizedNote], Grid]:
    """A track's notes ``(start, end, pitch, velocity)`` in quarters on its notation grid,
    a monophonic line kept to one line; and the grid, for the rests between them."""
    raw = list(notes)
    grid = Grid(meter, (start for start, _, _, _ in raw))
    snapped: list[QuantizedNote] = []
    for start, end, pitch, velocity in raw:
        on, off = grid.snap(start), grid.snap(end)
        if off <= on:
            off = on + grid.step_at(on)[2]
        snapped.append(QuantizedNote(on, off, pitch, velocity))
    onsets = sorted({n.start for n in snapped})
    following = dict(itertools.pairwise(onsets))

    def held_a_little(note: QuantizedNote) -> bool:
        nxt = following.get(note.start)
        overlap = note.end - nxt if nxt is not None else Fraction(0)
        return overlap <= 0 or (overlap <= _SHORT_OVERLAP and 2 * overlap < note.end - note.start)

    # An onset is one line's if a single note starts there and nothing before holds on
    # into it for more than a little.
    starting = Counter(n.start for n in snapped)
    held_into = {following[n.start] for n in snapped if not held_a_little(n)}
    single = sum(1 for on in onsets if starting[on] == 1 and on not in held_into)
    monophonic = bool(onsets) and single >= MONOPHONIC_SHARE * len(onsets)
    cut = []
    for note in snapped:
        nxt = following.get(note.start)
        if nxt is not None and note.end > nxt and (monophonic or held_a_little(note)):
            note = QuantizedNote(note.start, nxt, note.pitch, note.velocity)
        cut.append(note)
    # Notes that start together and end nearly together are one chord, held to the
    # last one's end (in a line, all that start together).
    ends: dict[Fraction, list[Fraction]] = {}
    for note in cut:
        ends.setdefault(note.start, []).append(note.end)
    result = []
    for note in cut:
        first, last = min(ends[note.start]), max(ends[note.start])
        if monophonic or (last - first <= _SHORT_OVERLAP and 2 * (last - first) < first - note.start):
            note = QuantizedNote(note.start, last, note.pitch, note.velocity)
        result.append(note)
    result.sort(key=lambda n: (n.start, n.end, n.pitch))
    return result, grid


def _within_beat(length: Fraction, step: Fraction) -> list[Fraction]:
    """A length inside one beat as note values, longest first."""
    pieces = []
    values = sorted((v for v in _SIMPLE if (v / step).denominator == 1), reverse=True)
    while length > 0:
        value = next((v for v in values if v <= length), None)
        if value is None:  # a grid finer than any note value (an odd meter's remainder)
            value = length
        pieces.append(value)
        length -= value
    return pieces


def _whole_beats(length: Fraction) -> list[Fraction]:
    pieces = []
    while length > 0:
        value = next((v for v in _WHOLE_BEATS if v <= length), length)
        pieces.append(value)
        length -= value
    return pieces


def _in_bar(start: Fraction, end: Fraction, grid: Grid, syncopate: bool) -> list[Fraction]:
    """``[start, end)`` inside one bar: the rest of the start's beat, whole beats, the
    start of the end's beat."""
    beat_start, beat_end, step = grid.step_at(start)
    if end <= beat_end:
        return _within_beat(end - start, step)
    head_end = beat_end if start > beat_start else start
    last_start, _, last_step = grid.step_at(end)
    head = _within_beat(head_end - start, step) if head_end > start else []
    middle = _whole_beats(last_start - head_end)
    tail = _within_beat(end - last_start, last_step) if end > last_start else []
    total = end - start
    duple = step in (_DUPLE, _THIRTY_SECOND) and last_step in (_DUPLE, _THIRTY_SECOND)
    if syncopate and duple and (start - beat_start, total) in ((Fraction(1, 2), 1), (Fraction(3, 4), Fraction(1, 2))):
        return [total]  # an offbeat quarter, or a 16th's offbeat eighth
    if not head and duple and len(middle) + len(tail) > 1 and total in _SIMPLE:
        return [total]  # a dotted quarter on the beat, say
    return head + middle + tail


def notated_lengths(start: Fraction, end: Fraction, grid: Grid, *, syncopate: bool = True) -> list[Fraction]:
    """``[start, end)`` as the lengths of tied note values (of rests: ``syncopate=False``),
    none crossing a bar line; ``start`` and ``end`` lie on ``grid``."""
    pieces: list[Fraction] = []
    time = start
    while time < end:
        _, bar_end = grid.meter.bar_at(time)
        stop = min(end, bar_end)
        pieces += _in_bar(time, stop, grid, syncopate)
        time = stop
    return pieces


def quantize_score(score: symusic.Score) -> tuple[Meter, list[tuple[list[QuantizedNote], Grid]]]:
    """The bars of a Score, and each track's notes on its notation grid (with the grid)."""
    ticks = score.to("tick")
    tpq = ticks.ticks_per_quarter
    meter = Meter.of(ticks)
    tracks = [
        quantize_track(((Fraction(n.time, tpq), Fraction(n.end, tpq), n.pitch, n.velocity) for n in t.notes), meter)
        for t in ticks.tracks
    ]
    return meter, tracks


def notation_grid(score: symusic.Score) -> symusic.Score:
    """The Score as MusicXML writes it: every note on its beat's grid, monophonic
    tracks as one line (ticks per quarter kept; a time off the tick grid is rounded)."""
    result = score.to("tick").copy()
    tpq = result.ticks_per_quarter
    for track, (notes, _) in zip(result.tracks, quantize_score(result)[1], strict=True):
        track.notes.clear()
        for n in notes:
            start = round(n.start * tpq)
            track.notes.append(symusic.Note(start, round(n.end * tpq) - start, n.pitch, n.velocity))
    return result
