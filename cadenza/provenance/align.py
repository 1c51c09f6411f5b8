"""Exact alignment of two lines' notes, to confirm a candidate copy.

Shared fingerprints say only that two lines have a few n-grams of steps in common.
Each shared n-gram also says *how* the two passages would line up: the transposition
(pitch difference of its first notes), the time scale (ratio of its durations) and the
time offset. The alignment takes the transform most hits agree on, moves every note of
the query line by it, and counts the notes that land exactly on a note of the training
line (same pitch, onset within ``tolerance`` quarters): the "cardinality score" of
point-set matching, which Yin, Reuben, Stepney and Collins (2021) use for their
originality report, here with a time scale so that a copy in other note values is
found too.

A changed, dropped or added note then costs that one note and nothing around it,
where in the step symbols it breaks two or three. The shared passage is the run of
query notes with the highest score, in bits: a note that lands scores the information
of its step (-log2 of how common that step is in the training corpus: a repeated note
is worth about 3 bits, a rare leap 10), a note that misses costs ``miss`` bits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Alignment", "Transform", "align", "best_transform", "land"]

TOLERANCE = 0.125  # quarters of the training piece: a 32nd note
_WEIGHT_RANGE = (1.0, 10.0)


@dataclass(frozen=True)
class Transform:
    """Training pitch = query pitch + ``transpose``; training onset = ``scale`` * query
    onset + ``offset`` (quarters)."""

    transpose: int
    scale: float
    offset: float


@dataclass(frozen=True)
class Alignment:
    """The best shared passage: note ranges ``[first, last]`` (inclusive) in each line."""

    bits: float
    query_first: int
    query_last: int
    target_first: int
    target_last: int
    identical: int  # query notes of the passage that land on a training note
    transform: Transform

    @property
    def query_notes(self) -> int:
        return self.query_last - self.query_first + 1

    @property
    def target_notes(self) -> int:
        return self.target_last - self.target_first + 1


def best_transform(
    q_pitch: np.ndarray, q_onset: np.ndarray, t_pitch: np.ndarray, t_onset: np.ndarray,
    q_hits: np.ndarray, t_hits: np.ndarray, n: int,
) -> Transform:  # fmt: skip
    """The transform most hits agree on.

    Hit h says query notes ``q_hits[h] .. + n`` equal training notes ``t_hits[h] .. + n``
    step for step; its transform is binned (semitones, 1/24 octave of scale, half a
    training quarter of offset) and the fullest bin wins; its hits give the medians.
    """
    transpose = t_pitch[t_hits] - q_pitch[q_hits]
    q_span = np.maximum(q_onset[q_hits + n] - q_onset[q_hits], 1e-9)
    scale = (t_onset[t_hits + n] - t_onset[t_hits]) / q_span
    offset = t_onset[t_hits] - scale * q_onset[q_hits]
    bins = np.stack([transpose, np.rint(24 * np.log2(scale)), np.rint(offset * 2)], axis=1).astype(np.int64)
    keys, inverse, counts = np.unique(bins, axis=0, return_inverse=True, return_counts=True)
    chosen = inverse.reshape(-1) == int(np.argmax(counts))
    best_scale = float(np.median(scale[chosen]))
    best_offset = float(np.median(t_onset[t_hits[chosen]] - best_scale * q_onset[q_hits[chosen]]))
    return Transform(int(keys[int(np.argmax(counts))][0]), best_scale, best_offset)


def land(
    q_pitch: np.ndarray, q_onset: np.ndarray, t_pitch: np.ndarray, t_onset: np.ndarray,
    transform: Transform, tolerance: float = TOLERANCE,
) -> np.ndarray:  # fmt: skip
    """(Lq,) index of the training note each moved query note lands on, -1 where none."""
    if t_onset.size == 0:
        return np.full(q_onset.size, -1, dtype=np.int64)
    moved = transform.scale * q_onset + transform.offset
    right = np.clip(np.searchsorted(t_onset, moved), 0, t_onset.size - 1)
    left = np.clip(right - 1, 0, t_onset.size - 1)
    nearest = np.where(np.abs(t_onset[left] - moved) <= np.abs(t_onset[right] - moved), left, right)
    hit = (np.abs(t_onset[nearest] - moved) <= tolerance) & (t_pitch[nearest] == q_pitch + transform.transpose)
    return np.where(hit, nearest, -1)


def _best_run(scores: np.ndarray) -> tuple[float, int, int]:
    """(total, first, last) of the contiguous run with the highest sum (Kadane)."""
    best, first, last = 0.0, 0, -1
    total, start = 0.0, 0
    for i, value in enumerate(scores.tolist()):
        if total <= 0.0:
            total, start = value, i
        else:
            total += value
        if total > best:
            best, first, last = total, start, i
    return best, first, last


def align(
    q_pitch: np.ndarray, q_onset: np.ndarray, q_weights: np.ndarray,
    t_pitch: np.ndarray, t_onset: np.ndarray,
    q_hits: np.ndarray, t_hits: np.ndarray, n: int, *, miss: float = 6.0,
) -> Alignment | None:  # fmt: skip
    """The best shared passage of a query line and a training line, given hits that
    seed it; ``None`` when no note lands. ``q_weights``: bits of each query note."""
    transform = best_transform(q_pitch, q_onset, t_pitch, t_onset, q_hits, t_hits, n)
    landed = land(q_pitch, q_onset, t_pitch, t_onset, transform)
    weights = np.clip(q_weights, *_WEIGHT_RANGE)
    bits, first, last = _best_run(np.where(landed >= 0, weights, -miss))
    if last < first:
        return None
    inside = landed[first : last + 1]
    targets = inside[inside >= 0]
    return Alignment(float(bits), first, last, int(targets.min()), int(targets.max()), int(targets.size), transform)
