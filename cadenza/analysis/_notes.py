"""Notes of a Score as flat numpy arrays, the tempo map, and beat-synchronous chroma.

Every analysis module starts here: a :class:`Notes` holds the pitched (non-drum) notes of
all tracks in ticks, so that the rest of the package is vectorised numpy and never walks
symusic objects note by note.

Analysis lays the music out beat by beat and visits every (note, beat) pair a note
sounds in, so its work grows with the length in quarters and with the note lengths
summed, not with the note count: a one-note file can last twenty million quarters.
Notes are checked against those two bounds as they are gathered, before any per-beat
array exists (files are refused earlier, by :mod:`cadenza.io.limits`; this guards
Scores made in code).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.errors import LimitExceededError

DEFAULT_MSPQ = 500_000  # MIDI's default tempo, 120 bpm, when a file has no tempo event
MAX_QUARTERS = 100_000
"""Longest music analysed, in quarter notes (four hours at 416 a minute)."""
MAX_NOTE_QUARTERS = 2_000_000
"""Most note lengths summed, in quarters: four hours at 120 bpm, 70 notes sounding."""
MAX_SECONDS = 4 * 3600.0
"""Longest music whose beats are tracked from the onsets, at 100 frames a second."""
MAX_WINDOW_PAIRS = 8_000_000
"""Most (note, window) pairs gathered at once, about 500 MB of index arrays."""


def as_tick_score(score: symusic.Score) -> symusic.Score:
    """The score in ticks (analysis works in ticks and reports seconds)."""
    if "tick" in str(score.ttype).lower():
        return score
    return score.to("tick")


@dataclass(frozen=True)
class Notes:
    """Flat arrays of notes, sorted by onset, times in ticks."""

    start: np.ndarray  # (N,) int64
    end: np.ndarray  # (N,) int64, > start
    pitch: np.ndarray  # (N,) int64
    velocity: np.ndarray  # (N,) float64
    track: np.ndarray  # (N,) int64, index into score.tracks
    tpq: int

    def __len__(self) -> int:
        return int(self.start.size)

    def select(self, mask: np.ndarray) -> Notes:
        return Notes(
            self.start[mask],
            self.end[mask],
            self.pitch[mask],
            self.velocity[mask],
            self.track[mask],
            self.tpq,
        )


def check_work(end_tick: float, note_ticks: float, tpq: int) -> None:
    """Refuse music longer than MAX_QUARTERS or with more than MAX_NOTE_QUARTERS of notes."""
    quarters, note_quarters = end_tick / tpq, note_ticks / tpq
    if quarters > MAX_QUARTERS:
        raise LimitExceededError(f"music lasts {quarters:,.0f} quarter notes, longer than {MAX_QUARTERS:,} to analyse")
    if note_quarters > MAX_NOTE_QUARTERS:
        raise LimitExceededError(
            f"notes last {note_quarters:,.0f} quarter notes together, more than {MAX_NOTE_QUARTERS:,} to analyse"
        )


def _empty_notes(tpq: int) -> Notes:
    z = np.zeros(0, dtype=np.int64)
    return Notes(z, z.copy(), z.copy(), np.zeros(0), z.copy(), tpq)


def track_notes(score: symusic.Score, index: int) -> Notes:
    """The notes of one track, sorted by onset then pitch."""
    arr = score.tracks[index].notes.numpy()
    start = arr["time"].astype(np.int64)
    end = start + np.maximum(arr["duration"].astype(np.int64), 1)
    pitch = arr["pitch"].astype(np.int64)
    if start.size:
        check_work(float(end.max()), float((end - start).sum()), int(score.ticks_per_quarter))
    order = np.lexsort((pitch, start))
    return Notes(
        start[order],
        end[order],
        pitch[order],
        arr["velocity"].astype(np.float64)[order],
        np.full(start.size, index, dtype=np.int64),
        int(score.ticks_per_quarter),
    )


def pitched_notes(score: symusic.Score) -> Notes:
    """All notes of the non-drum tracks, sorted by onset then pitch."""
    score = as_tick_score(score)
    parts = [track_notes(score, i) for i, track in enumerate(score.tracks) if not track.is_drum and len(track.notes)]
    if not parts:
        return _empty_notes(int(score.ticks_per_quarter))
    start = np.concatenate([p.start for p in parts])
    end = np.concatenate([p.end for p in parts])
    check_work(float(end.max()), float((end - start).sum()), int(score.ticks_per_quarter))
    pitch = np.concatenate([p.pitch for p in parts])
    order = np.lexsort((pitch, start))
    return Notes(
        start[order],
        end[order],
        pitch[order],
        np.concatenate([p.velocity for p in parts])[order],
        np.concatenate([p.track for p in parts])[order],
        int(score.ticks_per_quarter),
    )


def drum_onsets(score: symusic.Score) -> np.ndarray:
    """Onset ticks of all drum-track notes, sorted."""
    score = as_tick_score(score)
    parts = [t.notes.numpy()["time"] for t in score.tracks if t.is_drum and len(t.notes)]
    if not parts:
        return np.zeros(0, dtype=np.int64)
    onsets = np.sort(np.concatenate(parts).astype(np.int64))
    check_work(float(onsets[-1]), 0.0, int(score.ticks_per_quarter))
    return onsets


@dataclass(frozen=True)
class TempoMap:
    """Piecewise-constant tempo: segment start ticks, their seconds and seconds per tick."""

    ticks: np.ndarray  # (T,) segment starts, ticks[0] == 0
    seconds: np.ndarray  # (T,) time of each segment start
    sec_per_tick: np.ndarray  # (T,)
    explicit: bool  # whether the file carries tempo events
    tpq: int

    def to_seconds(self, ticks: np.ndarray) -> np.ndarray:
        t = np.asarray(ticks, dtype=np.float64)
        i = np.clip(np.searchsorted(self.ticks, t, side="right") - 1, 0, None)
        return self.seconds[i] + (t - self.ticks[i]) * self.sec_per_tick[i]

    def to_ticks(self, seconds: np.ndarray) -> np.ndarray:
        s = np.asarray(seconds, dtype=np.float64)
        i = np.clip(np.searchsorted(self.seconds, s, side="right") - 1, 0, None)
        return self.ticks[i] + (s - self.seconds[i]) / self.sec_per_tick[i]

    def qpm_at(self, ticks: np.ndarray) -> np.ndarray:
        i = np.clip(np.searchsorted(self.ticks, np.asarray(ticks), side="right") - 1, 0, None)
        return 60.0 / (self.sec_per_tick[i] * self.tpq)


def tempo_map(score: symusic.Score) -> TempoMap:
    """The score's tempo map (MIDI's default 120 bpm where it has none)."""
    score = as_tick_score(score)
    tpq = int(score.ticks_per_quarter)
    arr = score.tempos.numpy()
    times = arr["time"].astype(np.int64)
    mspq = arr["mspq"].astype(np.float64)
    explicit = times.size > 0
    if not explicit or times[0] > 0:
        times = np.concatenate([[0], times])
        mspq = np.concatenate([[DEFAULT_MSPQ], mspq])
    # a later event at the same tick wins
    keep = np.r_[times[1:] != times[:-1], True]
    times, mspq = times[keep], mspq[keep]
    spt = mspq / 1e6 / tpq
    seconds = np.concatenate([[0.0], np.cumsum(np.diff(times) * spt[:-1])])
    return TempoMap(times.astype(np.float64), seconds, spt, explicit, tpq)


def window_pairs(notes: Notes, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (note, window) overlap for windows ``[bounds[i], bounds[i+1])``.

    Returns ``(note_index, window_index, overlap_ticks)``, only positive overlaps.
    """
    n_win = bounds.size - 1
    if len(notes) == 0 or n_win <= 0:
        z = np.zeros(0, dtype=np.int64)
        return z, z.copy(), np.zeros(0)
    first = np.clip(np.searchsorted(bounds, notes.start, side="right") - 1, 0, n_win - 1)
    last = np.clip(np.searchsorted(bounds, notes.end, side="left") - 1, 0, n_win - 1)
    last = np.maximum(last, first)
    counts = last - first + 1
    total = int(counts.sum())
    if total > MAX_WINDOW_PAIRS:  # refused before the pairs are laid out
        raise LimitExceededError(
            f"{len(notes):,} notes span {total:,} windows, more than {MAX_WINDOW_PAIRS:,} to analyse"
        )
    note_idx = np.repeat(np.arange(len(notes)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    win = first[note_idx] + offsets
    lo = np.maximum(notes.start[note_idx], bounds[win])
    hi = np.minimum(notes.end[note_idx], bounds[win + 1])
    overlap = hi - lo
    ok = overlap > 0
    return note_idx[ok], win[ok], overlap[ok].astype(np.float64)


def window_chroma(notes: Notes, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Duration- and velocity-weighted chroma per window, and a bass chroma.

    ``chroma[i, pc]`` sums, over notes of pitch class ``pc`` sounding in window ``i``,
    overlap (in beats) × velocity/100. ``bass[i, pc]`` holds the same weight for the
    notes within a major third of the window's lowest sounding pitch, so it names the
    bass note even under an arpeggio.
    Shapes: (W, 12) each, W = len(bounds) - 1.
    """
    n_win = max(bounds.size - 1, 0)
    chroma = np.zeros((n_win, 12))
    bass = np.zeros((n_win, 12))
    ni, wi, ov = window_pairs(notes, bounds)
    if ni.size == 0:
        return chroma, bass
    w = ov / notes.tpq * (notes.velocity[ni] / 100.0)
    pc = notes.pitch[ni] % 12
    np.add.at(chroma, (wi, pc), w)
    lowest = np.full(n_win, 1000)
    np.minimum.at(lowest, wi, notes.pitch[ni])
    low = notes.pitch[ni] <= lowest[wi] + 4
    np.add.at(bass, (wi[low], pc[low]), w[low])
    return chroma, bass
