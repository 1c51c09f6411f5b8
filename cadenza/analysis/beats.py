"""Beats, downbeats, meter and tempo of a Score.

Two ways to find the beats:

* **On the tick grid** (most files). When the note onsets sit on a regular subdivision
  of the file's beat (16ths or triplets, after a constant offset), the beats are every
  beat-length of ticks from that offset, and their times follow the file's tempo map.
  The offset is found from the notes: the phase of the circular, duration-weighted onset
  histogram (a note that lasts or sits low in the texture votes more). Files such as
  POP909's carry a real tempo map but put their first beat anywhere in the first
  quarter, so the offset is needed.
* **From the onsets** (performed MIDI without a grid): an onset-strength envelope at
  100 frames a second, tempo by autocorrelation under a log-normal prior around
  120 bpm, and dynamic-programming beat tracking (Ellis, "Beat tracking by dynamic
  programming", JNMR 2007).

Downbeats come from a hidden Markov model over the position in the bar
(:mod:`cadenza.analysis.downbeats`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.analysis._notes import (
    MAX_SECONDS,
    Notes,
    TempoMap,
    as_tick_score,
    drum_onsets,
    pitched_notes,
    tempo_map,
)
from cadenza.analysis.downbeats import bar_starts
from cadenza.errors import LimitExceededError

__all__ = ["BeatGrid", "beat_grid", "grid_fit"]

GRID_FIT_MIN = 0.5  # share of onset weight on the 16th/triplet grid to trust the ticks
# (onsets placed at random give about 0.42)
_FPS = 100.0  # envelope frames per second for the onset-based tracker


@dataclass(frozen=True)
class BeatGrid:
    """Where the beats and bars fall.

    ``beats`` are tick positions (float), ``downbeats`` indices into ``beats``;
    ``unit`` is the beat length in ticks and ``source`` says how the beats were found:
    ``"grid"`` (tick grid and tempo map), ``"onsets"`` (estimated) or ``"empty"``.
    """

    beats: np.ndarray
    downbeats: np.ndarray
    unit: float
    source: str
    tempo: TempoMap

    def beat_seconds(self) -> np.ndarray:
        return self.tempo.to_seconds(self.beats)

    def downbeat_seconds(self) -> np.ndarray:
        return self.tempo.to_seconds(self.beats[self.downbeats])

    def bar_lengths(self) -> np.ndarray:
        """Beats per bar, one entry per downbeat (the last bar runs to the last beat)."""
        edges = np.r_[self.downbeats, self.beats.size - 1]
        return np.diff(edges)


def _beat_unit(score: symusic.Score) -> float:
    """Beat length in ticks from the first time signature (quarter when there is none).

    Compound meters (6/8, 9/8, 12/8) count dotted quarters.
    """
    tpq = float(score.ticks_per_quarter)
    ts = score.time_signatures.numpy()
    if ts["time"].size == 0:
        return tpq
    num, den = int(ts["numerator"][0]), int(ts["denominator"][0])
    if den <= 0:
        return tpq
    if den == 8 and num in (6, 9, 12):
        return 1.5 * tpq
    if den >= 8 or den < 2:
        return tpq
    return tpq * 4.0 / den


def _onset_weights(notes: Notes) -> np.ndarray:
    """How much each onset says about the beat: longer and lower notes say more."""
    dur_beats = (notes.end - notes.start) / notes.tpq
    low = notes.pitch < 60
    return np.log1p(4.0 * dur_beats) * (1.0 + low)


def _grid_phase(onsets: np.ndarray, weights: np.ndarray, unit: float) -> float:
    """The offset in ticks, in [0, unit), that puts the most onset weight on beats."""
    n_bins = round(unit)
    hist = np.bincount(np.floor(np.mod(onsets, unit)).astype(np.int64) % n_bins, weights, minlength=n_bins)
    # circular smoothing with a Gaussian of 1/24 beat, by FFT
    sigma = unit / 24.0
    d = np.minimum(np.arange(n_bins), n_bins - np.arange(n_bins))
    kernel = np.exp(-0.5 * (d / sigma) ** 2)
    smooth = np.fft.irfft(np.fft.rfft(hist) * np.fft.rfft(kernel), n_bins)
    return float(np.argmax(smooth))


def grid_fit(onsets: np.ndarray, weights: np.ndarray, unit: float, phase: float) -> float:
    """Share of onset weight within 1/24 beat of a 16th or triplet-8th grid position."""
    if onsets.size == 0 or weights.sum() <= 0:
        return 0.0
    rel = np.mod(onsets - phase, unit)
    ok = np.zeros(onsets.size, dtype=bool)
    for step in (unit / 4.0, unit / 3.0):
        r = np.mod(rel, step)
        ok |= np.minimum(r, step - r) <= unit / 24.0
    return float(weights[ok].sum() / weights.sum())


def _track_onsets(times_s: np.ndarray, weights: np.ndarray, end_s: float) -> np.ndarray:
    """Beat times (seconds) from weighted onset times, by tempo autocorrelation and DP."""
    if not end_s <= MAX_SECONDS:
        raise LimitExceededError(f"music lasts {end_s:,.0f} s, longer than {MAX_SECONDS:,.0f} to track its beats")
    n = int(np.ceil(end_s * _FPS)) + 1
    env = np.zeros(n)
    np.add.at(env, np.clip(np.round(times_s * _FPS).astype(np.int64), 0, n - 1), weights)
    k = np.exp(-0.5 * (np.arange(-6, 7) / 2.0) ** 2)
    env = np.convolve(env, k, mode="same")
    env = env / (env.std() + 1e-9)
    # tempo: autocorrelation over lags for 40..220 bpm, log-normal prior at 120 bpm
    lags = np.arange(int(_FPS * 60 / 220), int(_FPS * 60 / 40) + 1)
    spec = np.fft.rfft(env - env.mean(), 2 * n)
    acf = np.fft.irfft(spec * np.conj(spec))[: lags[-1] + 1]
    prior = np.exp(-0.5 * (np.log2(lags / (_FPS * 0.5)) / 0.9) ** 2)
    period = float(lags[np.argmax(acf[lags] * prior)])
    # dynamic programming (Ellis 2007): score = onset strength + tightness to the period
    alpha = 100.0
    lo, hi = round(period / 2), round(2 * period)
    offsets = np.arange(lo, hi + 1)
    penalty = -alpha * np.log(offsets / period) ** 2
    score = env.copy()
    back = np.full(n, -1)
    for t in range(lo, n):
        prev = t - offsets
        valid = prev >= 0
        cand = score[prev[valid]] + penalty[valid]
        j = int(np.argmax(cand))
        if cand[j] > 0:
            score[t] = env[t] + cand[j]
            back[t] = prev[valid][j]
    tail = max(n - hi, 0)
    t = tail + int(np.argmax(score[tail:]))
    path = []
    while t >= 0:
        path.append(t)
        t = int(back[t])
    return np.array(path[::-1], dtype=np.float64) / _FPS


def _empty_grid(tmap: TempoMap, unit: float) -> BeatGrid:
    return BeatGrid(np.zeros(0), np.zeros(0, dtype=np.int64), unit, "empty", tmap)


def beat_grid(score: symusic.Score) -> BeatGrid:
    """Beats and downbeats of a score (see the module docstring for the method).

    The beats cover the piece from time 0 to the end of its last note. An empty score
    gives no beats; a drum-only score is tracked from its drum onsets.
    """
    score = as_tick_score(score)
    tmap = tempo_map(score)
    unit = _beat_unit(score)
    notes = pitched_notes(score)
    drums = drum_onsets(score)
    if len(notes):
        onsets = notes.start.astype(np.float64)
        weights = _onset_weights(notes)
        end = float(notes.end.max())
    elif drums.size:
        onsets = drums.astype(np.float64)
        weights = np.ones(drums.size)
        end = float(drums.max() + unit)
    else:
        return _empty_grid(tmap, unit)
    if drums.size and len(notes):
        onsets = np.r_[onsets, drums]
        weights = np.r_[weights, np.full(drums.size, 0.5)]
    phase = _grid_phase(onsets, weights, unit)
    # A file whose tempo map moves was tempo-mapped to the music: its ticks are beats
    # even where the playing is free (onsets off the 16th grid).
    tempo_mapped = tmap.ticks.size > 2
    if tempo_mapped or grid_fit(onsets, weights, unit, phase) >= GRID_FIT_MIN:
        beats = np.arange(phase, end - 1e-6, unit)
        source = "grid"
    else:
        times = tmap.to_seconds(onsets)
        beat_s = _track_onsets(times, weights, float(tmap.to_seconds(np.array([end]))[0]))
        beats = tmap.to_ticks(beat_s)
        source = "onsets"
    if beats.size == 0:
        return _empty_grid(tmap, unit)
    downbeats = bar_starts(notes, beats, _preferred_bar(score, unit))
    return BeatGrid(beats, downbeats, unit, source, tmap)


def _preferred_bar(score: symusic.Score, unit: float) -> int | None:
    """Beats per bar that the file's first time signature states, when it is plausible.

    POP909-style files state 1/4 or 2/4 for music in 4; those give ``None`` (estimate).
    """
    ts = score.time_signatures.numpy()
    if ts["time"].size == 0:
        return None
    num, den = int(ts["numerator"][0]), int(ts["denominator"][0])
    if den == 8 and num in (6, 9, 12):
        return num // 3
    if num in (3, 4) and den in (2, 4):
        return num
    return None


def tempo_segments(grid: BeatGrid, tolerance: float = 0.02) -> list[tuple[float, float]]:
    """``[(start_seconds, beats_per_minute)]``, a new entry where the tempo moves > 2 %.

    On the tick grid this is the file's tempo map expressed in beats; for estimated
    beats it is the median inter-beat interval over 8-beat windows.
    """
    if grid.beats.size < 2:
        return []
    secs = grid.beat_seconds()
    ibi = np.diff(secs)
    bpm = np.empty(ibi.size)
    for i in range(ibi.size):
        lo = max(0, i - 4) if grid.source == "onsets" else i
        bpm[i] = 60.0 / np.median(ibi[lo : i + 4]) if grid.source == "onsets" else 60.0 / ibi[i]
    out: list[tuple[float, float]] = []
    for t, b in zip(secs[:-1], bpm, strict=True):
        if not out or abs(b - out[-1][1]) > tolerance * out[-1][1]:
            out.append((float(t), float(b)))
    if out:
        out[0] = (0.0, out[0][1])
    return out


def meter_segments(grid: BeatGrid) -> list[tuple[float, int, int]]:
    """``[(start_seconds, numerator, denominator)]`` from the bar lengths found.

    Beats are quarters (``/4``) unless the file is in a compound meter, where a bar of
    ``k`` dotted-quarter beats is written ``3k/8``.
    """
    if grid.downbeats.size == 0:
        return []
    lengths = grid.bar_lengths()
    tpq = grid.tempo.tpq
    compound = abs(grid.unit - 1.5 * tpq) < 1e-6
    secs = grid.downbeat_seconds()
    out: list[tuple[float, int, int]] = []
    for i, (t, n) in enumerate(zip(secs, lengths, strict=True)):
        if n <= 0 or (i == lengths.size - 1 and out):
            continue  # the last bar may be cut short by the end of the music
        num, den = (3 * int(n), 8) if compound else (int(n), round(4 * tpq / grid.unit))
        if not out or (out[-1][1], out[-1][2]) != (num, den):
            out.append((float(t), num, den))
    return out
