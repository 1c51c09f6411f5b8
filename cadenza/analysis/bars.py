"""The bar grid a score states with its own time signatures, and its notes bar by bar.

Unlike :func:`cadenza.analysis.beat_grid`, which finds the downbeats from the music, this
grid takes the file at its word, as miditok's REMI tokens do, so that per-bar controls
line up with the bars of the tokens: the bars run from tick 0 in the meter of the time
signature in force (4/4 before the first one or without any), each time signature
starts a new bar (a bar cut short by it stays short), a later signature at the same
tick wins, and signatures with a zero numerator or denominator are ignored. The bars
cover the music up to the end of its last note; a score without notes has none.

A beat is the denominator's note value, a dotted quarter in 6/8, 9/8 and 12/8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.analysis._notes import Notes, as_tick_score, track_notes

__all__ = ["Bars", "bar_grid", "bar_of", "notes_by_bar", "track_bar_notes"]

_COMPOUND = (6, 9, 12)


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


def _beat_ticks(numerator: int, denominator: int, tpq: int) -> float:
    if denominator == 8 and numerator in _COMPOUND:
        return 1.5 * tpq
    return tpq * 4.0 / denominator


def _signatures(score: symusic.Score) -> list[tuple[int, int, int]]:
    """``(tick, numerator, denominator)``, valid ones only, one per tick (the last)."""
    ts = score.time_signatures.numpy()
    by_tick: dict[int, tuple[int, int]] = {}
    for t, n, d in zip(ts["time"].tolist(), ts["numerator"].tolist(), ts["denominator"].tolist(), strict=True):
        if n > 0 and d > 0:
            by_tick[int(t)] = (int(n), int(d))
    if 0 not in by_tick:
        by_tick[0] = (4, 4)
    return [(t, *by_tick[t]) for t in sorted(by_tick)]


def _music_end(score: symusic.Score) -> int:
    ends = [int((a["time"] + a["duration"]).max()) for a in (t.notes.numpy() for t in score.tracks) if a["time"].size]
    return max(ends, default=0)


def bar_grid(score: symusic.Score) -> Bars:
    """The bars of a score from its time signatures (see the module docstring)."""
    score = as_tick_score(score)
    tpq = int(score.ticks_per_quarter)
    end = _music_end(score)
    rows: list[tuple[int, int, float, int, int]] = []  # start, end, beat ticks, num, den
    sigs = _signatures(score)
    for i, (start, num, den) in enumerate(sigs):
        stop = min(sigs[i + 1][0], end) if i + 1 < len(sigs) else end
        if stop <= start:
            continue
        beat = _beat_ticks(num, den, tpq)
        length = tpq * 4 * num / den
        for k in range(math.ceil((stop - start) / length)):
            a = start + round(k * length)
            b = start + round((k + 1) * length)
            if i + 1 < len(sigs):
                b = min(b, sigs[i + 1][0])
            rows.append((a, b, beat, num, den))
    if not rows:
        z = np.zeros(0, dtype=np.int64)
        return Bars(z, z.copy(), np.zeros(0), np.zeros(0), z.copy(), z.copy(), tpq)
    starts, ends, beat_ticks, nums, dens = (np.array(col) for col in zip(*rows, strict=True))
    return Bars(
        starts.astype(np.int64),
        ends.astype(np.int64),
        beat_ticks.astype(np.float64),
        (ends - starts) / beat_ticks,
        nums.astype(np.int64),
        dens.astype(np.int64),
        tpq,
    )


def bar_of(bars: Bars, ticks: np.ndarray) -> np.ndarray:
    """The bar each tick falls in, -1 outside the bars."""
    ticks = np.asarray(ticks)
    idx = np.searchsorted(bars.starts, ticks, side="right") - 1
    ok = (idx >= 0) & (ticks < bars.ends[np.clip(idx, 0, None)]) if len(bars) else np.zeros(ticks.shape, bool)
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
