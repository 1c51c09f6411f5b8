"""Key over time, with modulations as segments and a confidence.

Method (Krumhansl–Schmuckler with the Albrecht–Shanahan 2013 profiles): the pitch-class
distribution of a stretch of music — each beat's duration-weighted chroma normalised to
sum 1, so that dense accompaniment does not outvote the tune — is correlated with the
24 rotated major and minor profiles. Two global adjustments, chosen once on a subset of
POP909 (see docs/benchmarks.md): minor keys get +0.06, because pop in a minor key
spends much time on its relative major's chords; and the key whose tonic is the bass
of the last two bars gets +0.05, because music tends to end on its tonic.

Segments: the same score in windows of 8 bars around each bar, then a Viterbi path
over the 24 keys that pays :data:`CHANGE_COST` per modulation, so a key must hold for
several bars to be reported. Confidence of a segment: the softmax probability (over the
24 keys, temperature 1/20) of its key from the segment's pooled distribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.analysis._notes import as_tick_score, pitched_notes, window_chroma
from cadenza.analysis.beats import BeatGrid, beat_grid
from cadenza.theory import MODES, key_name

__all__ = ["KEY_NAMES", "KeySegment", "bar_keys", "key_scores", "key_segments", "main_key"]

# Albrecht & Shanahan (2013), Music Perception 31(1)
_MAJOR = np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081])
_MINOR = np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052])
KEY_NAMES = tuple(key_name(tonic, mode) for mode in MODES for tonic in range(12))  # "C:maj" .. "B:min"
MINOR_BIAS = 0.06
FINAL_TONIC_BONUS = 0.05
CHANGE_COST = 0.6  # per modulation, in units of correlation summed over bars
WINDOW_BARS = 8
_SOFTMAX_BETA = 20.0


def _profiles() -> np.ndarray:
    """(24, 12) z-scored key profiles: 12 major keys then 12 minor keys."""
    rows = [np.roll(_MAJOR, r) for r in range(12)] + [np.roll(_MINOR, r) for r in range(12)]
    p = np.array(rows)
    p = p - p.mean(1, keepdims=True)
    return p / np.linalg.norm(p, axis=1, keepdims=True)


_PROFILES = _profiles()
_IS_MINOR = np.arange(24) >= 12


@dataclass(frozen=True)
class KeySegment:
    """A key from ``start`` to ``end`` (ticks): label like ``"Gb:maj"``, confidence in [0, 1]."""

    start: float
    end: float
    label: str
    confidence: float


def key_scores(pc_distribution: np.ndarray) -> np.ndarray:
    """Pearson correlation of a (..., 12) distribution with the 24 key profiles -> (..., 24).

    A silent (all-zero) distribution gives all zeros.
    """
    x = np.asarray(pc_distribution, dtype=np.float64)
    x = x - x.mean(-1, keepdims=True)
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    x = np.divide(x, norm, out=np.zeros_like(x), where=norm > 0)
    return x @ _PROFILES.T


def _beat_distributions(score: symusic.Score, grid: BeatGrid) -> tuple[np.ndarray, np.ndarray]:
    """Per-beat chroma normalised to sum 1 (silent beats 0), and the bass chroma."""
    bounds = np.r_[grid.beats, grid.beats[-1] + grid.unit]
    chroma, bass = window_chroma(pitched_notes(score), bounds)
    mass = chroma.sum(1, keepdims=True)
    return np.divide(chroma, mass, out=np.zeros_like(chroma), where=mass > 0), bass


def _adjusted(scores: np.ndarray, final_bass_pc: int | None) -> np.ndarray:
    out = scores + MINOR_BIAS * _IS_MINOR
    if final_bass_pc is not None:
        out[..., final_bass_pc] += FINAL_TONIC_BONUS
        out[..., 12 + final_bass_pc] += FINAL_TONIC_BONUS
    return out


def _confidence(scores: np.ndarray, k: int) -> float:
    z = _SOFTMAX_BETA * (scores - scores.max())
    p = np.exp(z)
    return float(p[k] / p.sum())


def key_segments(score: symusic.Score, grid: BeatGrid | None = None) -> list[KeySegment]:
    """Key segments (ticks) covering the beats; ``[]`` for an empty or drum-only score."""
    score = as_tick_score(score)
    grid = beat_grid(score) if grid is None else grid
    if grid.beats.size == 0:
        return []
    dist, bass = _beat_distributions(score, grid)
    if dist.sum() == 0:
        return []
    bar_idx = np.r_[grid.downbeats, grid.beats.size] if grid.downbeats.size else np.r_[0, grid.beats.size]
    if bar_idx[0] != 0:
        bar_idx = np.r_[0, bar_idx]
    bars = np.add.reduceat(dist, bar_idx[:-1], axis=0)  # (n_bars, 12)
    last_bars = bass[bar_idx[max(len(bar_idx) - 3, 0)] :].sum(0)
    final_pc = int(np.argmax(last_bars)) if last_bars.sum() > 0 else None
    n = bars.shape[0]
    csum = np.vstack([np.zeros((1, 12)), np.cumsum(bars, axis=0)])
    half = WINDOW_BARS // 2
    lo = np.clip(np.arange(n) - half, 0, n)
    hi = np.clip(np.arange(n) + half, 0, n)
    local = _adjusted(key_scores(csum[hi] - csum[lo]), final_pc)  # (n_bars, 24)
    # Viterbi over keys with a cost per change
    back = np.zeros((n, 24), dtype=np.int64)
    acc = local[0].copy()
    for t in range(1, n):
        best = int(np.argmax(acc))
        stay = acc >= acc[best] - CHANGE_COST
        back[t] = np.where(stay, np.arange(24), best)
        acc = np.where(stay, acc, acc[best] - CHANGE_COST) + local[t]
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(np.argmax(acc))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    bounds = np.r_[grid.beats[bar_idx[:-1]], grid.beats[-1] + grid.unit]
    out: list[KeySegment] = []
    a = 0
    for t in range(1, n + 1):
        if t == n or path[t] != path[a]:
            k = int(path[a])
            seg_scores = _adjusted(key_scores(bars[a:t].sum(0)), final_pc)
            out.append(KeySegment(float(bounds[a]), float(bounds[t]), KEY_NAMES[k], _confidence(seg_scores, k)))
            a = t
    return out


def main_key(segments: list[KeySegment]) -> KeySegment | None:
    """The key that lasts longest over all its segments (first on a tie); ``None`` if none."""
    if not segments:
        return None
    total: dict[str, float] = {}
    for s in segments:
        total[s.label] = total.get(s.label, 0.0) + s.end - s.start
    label = max(total, key=lambda k: total[k])
    best = max((s for s in segments if s.label == label), key=lambda s: s.end - s.start)
    return KeySegment(segments[0].start, segments[-1].end, label, best.confidence)


def bar_keys(score: symusic.Score, bar_ticks: float, bars: int) -> list[tuple[int, str]]:
    """(tonic pitch class, mode) of each bar of a fixed grid from tick 0: the key the
    analysis hears at the bar's middle (the nearest segment's past the ends; C major
    where it hears none)."""
    from cadenza.theory import parse_pitch_class

    segments = key_segments(score)
    if not segments:
        return [(0, "maj")] * bars
    starts = np.array([seg.start for seg in segments])
    middles = (np.arange(bars) + 0.5) * bar_ticks
    # the segment holding each middle; before the first, the first; past the last, the last
    which = np.clip(np.searchsorted(starts, middles, side="right") - 1, 0, len(segments) - 1)
    keys = []
    for seg in segments:
        root, _, mode = seg.label.partition(":")
        keys.append((parse_pitch_class(root), mode if mode in MODES else "maj"))
    return [keys[i] for i in which.tolist()]
