"""Descriptive metrics of one piece, in the sense of MusPy (Dong et al., ISMIR 2020).

All metrics read the pitched (non-drum) notes only, in ticks, on the file's own grid:
a beat is a quarter note (``tpq`` ticks), a bar four beats, a time step a 16th note.
A drum-only score therefore behaves like an empty one. Where a metric is undefined for
an empty piece it returns ``nan`` (reported as ``null`` in JSON), never a made-up number.
"""

from __future__ import annotations

import math

import numpy as np
import symusic

from cadenza.analysis._notes import Notes, as_tick_score, pitched_notes, tempo_map
from cadenza.theory import SCALES

__all__ = [
    "all_metrics",
    "empty_beat_rate",
    "groove_consistency",
    "note_density",
    "pitch_class_entropy",
    "pitch_class_histogram",
    "pitch_range",
    "polyphony_rate",
    "scale_consistency",
]


def _notes(score: symusic.Score) -> Notes:
    return pitched_notes(as_tick_score(score))


def pitch_range(score: symusic.Score) -> int:
    """max(pitch) − min(pitch) over all pitched notes, in semitones.

    Empty or drum-only piece: 0.
    """
    n = _notes(score)
    return int(n.pitch.max() - n.pitch.min()) if len(n) else 0


def pitch_class_histogram(score: symusic.Score) -> np.ndarray:
    """Share of notes in each pitch class, shape (12,), summing to 1.

    Empty or drum-only piece: all zeros.
    """
    n = _notes(score)
    counts = np.bincount(n.pitch % 12, minlength=12).astype(np.float64)
    return counts / counts.sum() if counts.sum() else counts


def pitch_class_entropy(score: symusic.Score) -> float:
    """H = −Σ_pc p(pc)·log2 p(pc) over the note-count pitch-class histogram, in bits.

    0 for one pitch class, log2(12) ≈ 3.585 for all twelve equally.
    Empty or drum-only piece: nan.
    """
    p = pitch_class_histogram(score)
    if not p.any():
        return math.nan
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def scale_consistency(score: symusic.Score) -> float:
    """max over the 24 major and natural-minor scales of (notes in the scale) / (all notes).

    1.0 for a diatonic piece. Empty or drum-only piece: nan.
    """
    n = _notes(score)
    if not len(n):
        return math.nan
    counts = np.bincount(n.pitch % 12, minlength=12)
    best = 0
    for scale in (SCALES["major"], SCALES["natural minor"]):
        for root in range(12):
            best = max(best, int(counts[[(root + s) % 12 for s in scale]].sum()))
    return best / len(n)


def _step_counts(n: Notes) -> np.ndarray:
    """Number of pitches sounding at each 16th-note step from the first onset to the end."""
    step = max(n.tpq // 4, 1)
    origin = int(n.start.min())
    n_steps = math.ceil((n.end.max() - origin) / step)
    diff = np.zeros(n_steps + 1, dtype=np.int64)
    first = (n.start - origin) // step
    last = np.maximum((n.end - origin + step - 1) // step, first + 1)
    np.add.at(diff, first, 1)
    np.add.at(diff, np.minimum(last, n_steps), -1)
    return np.cumsum(diff)[:n_steps]


def polyphony_rate(score: symusic.Score) -> float:
    """(16th-note steps with ≥ 2 pitches sounding) / (all steps from first onset to end).

    0.0 for a monophonic line. Empty or drum-only piece: 0.0 (no steps sound at all).
    """
    n = _notes(score)
    if not len(n):
        return 0.0
    counts = _step_counts(n)
    return float((counts >= 2).mean()) if counts.size else 0.0


def empty_beat_rate(score: symusic.Score) -> float:
    """(quarter-note beats from 0 to the last note's end with no pitch sounding) / (beats).

    Empty piece (no notes at all): nan. Drum-only piece: 1.0 (every beat is empty of
    pitches).
    """
    score = as_tick_score(score)
    n = pitched_notes(score)
    end = int(score.end())
    if end <= 0:
        return math.nan
    if not len(n):
        return 1.0
    tpq = n.tpq
    n_beats = math.ceil(end / tpq)
    diff = np.zeros(n_beats + 1, dtype=np.int64)
    first = n.start // tpq
    last = np.maximum((n.end + tpq - 1) // tpq, first + 1)
    np.add.at(diff, first, 1)
    np.add.at(diff, np.minimum(last, n_beats), -1)
    sounding = np.cumsum(diff)[:n_beats]
    return float((sounding == 0).mean())


def groove_consistency(score: symusic.Score) -> float:
    """1 − mean over neighbouring bars of Hamming(onset pattern i, i+1) / 16.

    Onset pattern: 16 booleans, a 16th-note step of a 4-beat bar holding an onset.
    1.0 when every bar has the same rhythm. Fewer than two bars: nan (empty and
    drum-only pieces included).
    """
    n = _notes(score)
    if not len(n):
        return math.nan
    step = max(n.tpq // 4, 1)
    pos = n.start // step
    bar, slot = pos // 16, pos % 16
    n_bars = int(bar.max()) + 1
    if n_bars < 2:
        return math.nan
    pattern = np.zeros((n_bars, 16), dtype=bool)
    pattern[bar, slot] = True
    hamming = (pattern[1:] != pattern[:-1]).sum(1) / 16.0
    return float(1.0 - hamming.mean())


def note_density(score: symusic.Score) -> float:
    """Pitched notes per second: N / (end of the last note in seconds, by the tempo map).

    Empty or drum-only piece: 0.0.
    """
    score = as_tick_score(score)
    n = pitched_notes(score)
    if not len(n):
        return 0.0
    seconds = float(tempo_map(score).to_seconds(np.array([n.end.max()]))[0])
    return len(n) / seconds if seconds > 0 else 0.0


def all_metrics(score: symusic.Score) -> dict[str, float]:
    """Every scalar metric of this module by name (nan where undefined)."""
    return {
        "pitch_range": float(pitch_range(score)),
        "pitch_class_entropy": pitch_class_entropy(score),
        "scale_consistency": scale_consistency(score),
        "polyphony_rate": polyphony_rate(score),
        "empty_beat_rate": empty_beat_rate(score),
        "groove_consistency": groove_consistency(score),
        "note_density": note_density(score),
    }
