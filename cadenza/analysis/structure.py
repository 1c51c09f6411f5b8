"""Sections: bars grouped into repeated parts, labelled A, B, C... in order of appearance.

Each bar gets a feature vector: its normalised chroma (what harmony) and the 16-step
onset pattern of its melody (what rhythm of tune). The bar-level self-similarity matrix
is the cosine similarity of these vectors. Bars are then cut into phrases of
:data:`PHRASE_BARS` bars (or 8 when the piece has more than 48 bars, pop songs'
usual phrase), and each phrase is compared with the first phrase of every label so far
by the mean similarity along the diagonal (bar i of one phrase against bar i of the
other); at :data:`SAME_PART` or more it repeats that part, else it opens a new label.
Phrases without notes are labelled ``"-"``.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.analysis._notes import as_tick_score, pitched_notes, track_notes, window_chroma
from cadenza.analysis.beats import BeatGrid, beat_grid
from cadenza.analysis.melody import melody

__all__ = ["Section", "bar_similarity", "sections"]

PHRASE_BARS = 4
SAME_PART = 0.8


@dataclass(frozen=True)
class Section:
    """Bars from ``start`` to ``end`` (ticks) and the part they belong to."""

    start: float
    end: float
    label: str


def _bar_bounds(grid: BeatGrid) -> np.ndarray:
    idx = grid.downbeats if grid.downbeats.size else np.array([0])
    bounds = grid.beats[idx]
    if idx[0] != 0:
        bounds = np.r_[grid.beats[0], bounds]
    return np.r_[bounds, grid.beats[-1] + grid.unit]


def bar_similarity(score: symusic.Score, grid: BeatGrid | None = None) -> np.ndarray:
    """(n_bars, n_bars) cosine similarity of bar features (0 for silent bars)."""
    score = as_tick_score(score)
    grid = beat_grid(score) if grid is None else grid
    if grid.beats.size == 0:
        return np.zeros((0, 0))
    bounds = _bar_bounds(grid)
    chroma, _ = window_chroma(pitched_notes(score), bounds)
    mass = chroma.sum(1, keepdims=True)
    chroma = np.divide(chroma, mass, out=np.zeros_like(chroma), where=mass > 0)
    tune = symusic.Score(score.ticks_per_quarter)
    tune.tracks.append(melody(score))
    mel = track_notes(tune, 0)
    rhythm = np.zeros((bounds.size - 1, 16))
    bar = np.searchsorted(bounds, mel.start, side="right") - 1
    ok = (bar >= 0) & (bar < bounds.size - 1)
    width = bounds[bar[ok] + 1] - bounds[bar[ok]]
    step = np.minimum(((mel.start[ok] - bounds[bar[ok]]) / width * 16).astype(int), 15)
    rhythm[bar[ok], step] = 1.0
    rn = np.linalg.norm(rhythm, axis=1, keepdims=True)
    rhythm = np.divide(rhythm, rn, out=np.zeros_like(rhythm), where=rn > 0)
    cn = np.linalg.norm(chroma, axis=1, keepdims=True)
    chroma = np.divide(chroma, cn, out=np.zeros_like(chroma), where=cn > 0)
    feats = np.hstack([chroma, 0.7 * rhythm])
    norm = np.linalg.norm(feats, axis=1, keepdims=True)
    feats = np.divide(feats, norm, out=np.zeros_like(feats), where=norm > 0)
    return feats @ feats.T


def _label(i: int) -> str:
    letters = string.ascii_uppercase
    return letters[i] if i < 26 else f"{letters[i % 26]}{i // 26}"


def sections(score: symusic.Score, grid: BeatGrid | None = None) -> list[Section]:
    """Phrases of bars labelled by repetition (ticks); ``[]`` for an empty score."""
    score = as_tick_score(score)
    grid = beat_grid(score) if grid is None else grid
    if grid.beats.size == 0:
        return []
    sim = bar_similarity(score, grid)
    bounds = _bar_bounds(grid)
    n = sim.shape[0]
    size = 8 if n > 48 else PHRASE_BARS
    starts = list(range(0, n, size))
    heads: list[int] = []  # first phrase start of each label
    out: list[Section] = []
    for a in starts:
        b = min(a + size, n)
        if not np.any(np.diag(sim)[a:b] > 0):
            out.append(Section(float(bounds[a]), float(bounds[b]), "-"))
            continue
        best, best_sim = -1, -1.0
        for k, h in enumerate(heads):
            m = min(b - a, n - h)
            s = float(np.mean(sim[np.arange(a, a + m), np.arange(h, h + m)]))
            if s > best_sim:
                best, best_sim = k, s
        if best_sim >= SAME_PART:
            label = _label(best)
        else:
            heads.append(a)
            label = _label(len(heads) - 1)
        out.append(Section(float(bounds[a]), float(bounds[b]), label))
    return out
