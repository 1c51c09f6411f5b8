"""Bars as a file states them: its time signatures, up to the end of its music.

The one owner of "how many bars": ``cadenza info``, ``cadenza analyze`` and the lengths
the composer reports all count with :func:`bar_count`, so they agree on any file.

* A bar of ``n/d`` lasts ``4n/d`` quarters. Before the first time signature, and in a
  file that states none, bars are 4/4 (MIDI's default).
* A time signature that falls inside a bar starts a new bar there (the bar before it is
  cut short), as notation programs read such files. One that restates the meter in
  force changes nothing; several at one tick: the last one counts. Signatures with a
  numerator or denominator below 1 are ignored.
* The music ends where its last note ends (drum notes included; a note of no length
  still occupies its bar). A file without notes has no bars; events after the last note
  (a late marker, a trailing time signature) add none.

Counting is arithmetic per meter segment, so a file of many time signatures or a very
long note costs no more than its number of signatures.

:func:`bar_grid` gives the same bars as a table (start, end, beats) for per-bar work,
and :func:`notes_by_bar` / :func:`track_bar_notes` the notes that start in each. A beat
is the denominator's note value, a dotted quarter in 6/8, 9/8 and 12/8.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.analysis._notes import Notes, as_tick_score, track_notes

__all__ = [
    "Bars",
    "bar_count",
    "bar_grid",
    "bar_lines",
    "bar_numbers",
    "bar_of",
    "meter_changes",
    "music_end",
    "notes_by_bar",
    "states_meter",
    "track_bar_notes",
]

_DEFAULT_METER = (4, 4)
_COMPOUND = (6, 9, 12)


def music_end(score: symusic.Score) -> int:
    """Tick at which the last note of any track ends (at least its onset + 1); 0 without notes."""
    score = as_tick_score(score)
    end = 0
    for track in score.tracks:
        if len(track.notes):
            arr = track.notes.numpy()
            start = arr["time"].astype(np.int64)
            end = max(end, int((start + np.maximum(arr["duration"].astype(np.int64), 1)).max()))
    return end


def _stated(score: symusic.Score) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ticks, numerators and denominators of the valid time signatures, in time order."""
    arr = score.time_signatures.numpy()
    ticks = arr["time"].astype(np.int64)
    num = arr["numerator"].astype(np.int64)
    den = arr["denominator"].astype(np.int64)
    ok = (num >= 1) & (den >= 1) & (ticks >= 0)
    ticks, num, den = ticks[ok], num[ok], den[ok]
    order = np.argsort(ticks, kind="stable")
    return ticks[order], num[order], den[order]


def states_meter(score: symusic.Score) -> bool:
    """Whether the file carries at least one (valid) time signature."""
    return _stated(as_tick_score(score))[0].size > 0


def meter_changes(score: symusic.Score) -> list[tuple[int, int, int]]:
    """``[(tick, numerator, denominator)]``: the meter from tick 0 and each change of it.

    Always starts at tick 0 (4/4 where the file states nothing there); changes at or
    after the end of the music are left out, since no bar follows them.
    """
    score = as_tick_score(score)
    changes = _changes(score, float(music_end(score)))
    return [(int(t), int(n), int(d)) for t, n, d in changes.astype(np.int64)]


def _changes(score: symusic.Score, end: float) -> np.ndarray:
    """``(k, 3)`` float rows ``tick, numerator, denominator`` of the meter changes before ``end``."""
    ticks, num, den = _stated(score)
    last = np.r_[ticks[1:] != ticks[:-1], True][: ticks.size]  # of several at one tick, the last counts
    ticks, num, den = ticks[last], num[last], den[last]
    if ticks.size == 0 or ticks[0] > 0:
        ticks = np.r_[0, ticks]
        num = np.r_[_DEFAULT_METER[0], num]
        den = np.r_[_DEFAULT_METER[1], den]
    change = np.r_[True, (num[1:] != num[:-1]) | (den[1:] != den[:-1])]
    keep = change & ((ticks < end) | (ticks == 0))
    return np.stack([ticks[keep], num[keep], den[keep]], axis=1).astype(np.float64)


def _segments(score: symusic.Score, end: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start tick, bar length (ticks) and number of bars of each meter segment, up to
    ``end`` (the end of the music when not given)."""
    score = as_tick_score(score)
    end = float(music_end(score)) if end is None else end
    changes = _changes(score, end)
    starts = changes[:, 0]
    length = changes[:, 1] * 4.0 * score.ticks_per_quarter / changes[:, 2]
    stops = np.minimum(np.r_[starts[1:], end], end)
    count = np.ceil((stops - starts) / length - 1e-9).clip(min=0).astype(np.int64)
    return starts, length, count


def bar_count(score: symusic.Score) -> int:
    """Number of bars that start before the music ends (see the module docstring)."""
    return int(_segments(score)[2].sum())


def bar_lines(score: symusic.Score) -> np.ndarray:
    """Tick of each bar's first beat, ``bar_count(score)`` of them (float: a bar of
    ``n/8`` may be a fractional number of ticks long)."""
    starts, length, count = _segments(score)
    first = np.cumsum(count) - count  # index of each segment's first bar
    within = np.arange(int(count.sum())) - np.repeat(first, count)
    return np.repeat(starts, count) + np.repeat(length, count) * within


def bar_numbers(score: symusic.Score, ticks: np.ndarray) -> np.ndarray:
    """0-based number of the bar each tick falls in (int64, same shape as ``ticks``).

    Every time signature counts, also one after the last note (the ticks asked about
    may lie there); ticks past the last one go on counting bars of its meter; ticks
    before 0 are in bar 0.
    """
    t = np.maximum(np.asarray(ticks, dtype=np.float64), 0.0)
    starts, length, count = _segments(score, max(float(music_end(score)), float(t.max(initial=0)) + 1))
    first = np.cumsum(count) - count
    segment = np.searchsorted(starts, t, side="right") - 1
    return (first[segment] + np.floor((t - starts[segment]) / length[segment] + 1e-9)).astype(np.int64)


@dataclass(frozen=True)
class Bars:
    """Bars in ticks: ``starts[i] <= t < ends[i]``; ``beat_ticks[i]`` is the length of a
    beat of bar ``i`` and ``beats[i]`` the number of beats it holds (fewer in a bar cut
    short by a time signature)."""

    starts: np.ndarray  # (B,) int64
    ends: np.ndarray  # (B,) int64
    beat_ticks: np.ndarray  # (B,) float64
    beats: np.ndarray  # (B,) float64
    numerator: np.ndarray  # (B,) int64, of the time signature in force
    denominator: np.ndarray  # (B,) int64
    tpq: int

    def __len__(self) -> int:
        return int(self.starts.size)


def bar_grid(score: symusic.Score) -> Bars:
    """The bars of :func:`bar_count` as a table, in whole ticks."""
    score = as_tick_score(score)
    tpq = int(score.ticks_per_quarter)
    starts, length, count = _segments(score)
    meters = np.array(meter_changes(score), dtype=np.int64).reshape(-1, 3)
    first = np.cumsum(count) - count
    within = np.arange(int(count.sum())) - np.repeat(first, count)
    seg_start, seg_length = np.repeat(starts, count), np.repeat(length, count)
    seg_stop = np.repeat(np.r_[starts[1:], np.inf], count)  # the next meter cuts a bar short
    bar_starts = np.round(seg_start + seg_length * within).astype(np.int64)
    bar_ends = np.round(np.minimum(seg_start + seg_length * (within + 1), seg_stop)).astype(np.int64)
    numerator, denominator = np.repeat(meters[:, 1], count), np.repeat(meters[:, 2], count)
    compound = (denominator == 8) & np.isin(numerator, _COMPOUND)
    beat_ticks = np.where(compound, 1.5 * tpq, tpq * 4.0 / np.maximum(denominator, 1))
    beats = (bar_ends - bar_starts) / beat_ticks
    return Bars(bar_starts, bar_ends, beat_ticks.astype(np.float64), beats, numerator, denominator, tpq)


def bar_of(bars: Bars, ticks: np.ndarray) -> np.ndarray:
    """The bar each tick falls in, -1 outside the bars."""
    ticks = np.asarray(ticks)
    if not len(bars):
        return np.full(ticks.shape, -1, dtype=np.int64)
    idx = np.searchsorted(bars.starts, ticks, side="right") - 1
    ok = (idx >= 0) & (ticks < bars.ends[np.clip(idx, 0, None)])
    return np.where(ok, idx, -1)


def notes_by_bar(notes: Notes, bars: Bars) -> list[Notes]:
    """The notes that start in each bar (a note belongs to the bar of its onset)."""
    where = bar_of(bars, notes.start)
    order = np.argsort(where, kind="stable")
    cuts = np.searchsorted(where[order], np.arange(len(bars) + 1))
    return [notes.select(order[cuts[b] : cuts[b + 1]]) for b in range(len(bars))]


def track_bar_notes(score: symusic.Score, bars: Bars | None = None) -> list[list[Notes]]:
    """``out[track][bar]``: the notes of each track (drums included) starting in each bar."""
    score = as_tick_score(score)
    bars = bar_grid(score) if bars is None else bars
    return [notes_by_bar(track_notes(score, i), bars) for i in range(len(score.tracks))]
