"""Sections: bars grouped into repeated parts, labelled A, B, C... in order of appearance.

Each bar gets a feature vector: its normalised chroma (what harmony) and the 16-step
onset pattern of its melody (what rhythm of tune). The bar-level self-similarity matrix
is the cosine similarity of these vectors. Bars are then cut into phrases of
:data:`PHRASE_BARS` bars (or 8 when the piece has more than 48 bars, pop songs'
usual phrase), and each phrase is compared with the first phrase of every label so far
by the mean similarity along the diagonal (bar i of one phrase against bar i of the
other); at :data:`SAME_PART` or more it repeats that part, else it opens a new label.
Phrases without notes are labelled ``"-"``.

Only the similarities along those diagonals are computed, never the whole matrix: a
piece of 25,000 bars (within the content limits) would need a 4.6 GB matrix, and the
phrases compare with every label's first phrase at once.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.analysis._notes import as_tick_score, pitched_notes, track_notes, window_chroma
from cadenza.analysis.beats import BeatGrid, beat_grid
from cadenza.analysis.melody import melody

__all__ = ["Section", "bar_features", "bar_similarity", "sections"]

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


def bar_features(score: symusic.Score, grid: BeatGrid) -> np.ndarray:
    """(n_bars, 28) unit feature vectors of the bars (zero rows for silent bars):
    normalised chroma, and 0.7 × the normalised 16-step onset pattern of the melody."""
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
    return np.divide(feats, norm, out=np.zeros_like(feats), where=norm > 0)


def bar_similarity(score: symusic.Score, grid: BeatGrid | None = None) -> np.ndarray:
    """(n_bars, n_bars) cosine similarity of bar features (0 for silent bars).

    Quadratic in the bars: for pictures of short pieces; :func:`sections` never builds it.
    """
    score = as_tick_score(score)
    grid = beat_grid(score) if grid is None else grid
    if grid.beats.size == 0:
        return np.zeros((0, 0))
    feats = bar_features(score, grid)
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
    feats = bar_features(score, grid)
    bounds = _bar_bounds(grid)
    n = feats.shape[0]
    sounding = np.any(feats != 0, axis=1)  # a bar's similarity with itself is 1, else 0
    size = 8 if n > 48 else PHRASE_BARS
    heads: list[int] = []  # first phrase start of each label
    out: list[Section] = []
    for a in range(0, n, size):
        b = min(a + size, n)
        if not sounding[a:b].any():
            out.append(Section(float(bounds[a]), float(bounds[b]), "-"))
            continue
        best, best_sim = -1, -1.0
        if heads:  # every head lies before this phrase, so it has b - a bars after it
            rows = np.array(heads)[:, None] + np.arange(b - a)  # (labels, bars)
            similarity = np.einsum("lbf,bf->lb", feats[rows], feats[a:b]).mean(axis=1)
            best = int(np.argmax(similarity))
            best_sim = float(similarity[best])
        if best_sim >= SAME_PART:
            label = _label(best)
        else:
            heads.append(a)
            label = _label(len(heads) - 1)
        out.append(Section(float(bounds[a]), float(bounds[b]), label))
    return out
