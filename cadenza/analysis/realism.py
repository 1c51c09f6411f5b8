"""Can a classifier tell generated music from real music? Features of 16-bar stretches
and a cross-validated two-sample classifier test.

A piece is cut into stretches of ``bars`` whole bars at the bar lines of its own time
signatures (:func:`stretches`); each stretch becomes one vector of simple musical
features (:func:`stretch_features`, names in :data:`FEATURE_NAMES`); and
:func:`two_sample_accuracy` reports how well a logistic regression, cross-validated,
tells one set of vectors from another. 0.5 means it cannot; 1.0 means it always can.
Two sets of real music give the floor (about 0.5 plus the noise of a finite sample).

All durations are in quarter notes (the file's ``ticks_per_quarter``), so the features do
not depend on tempo. The pitch-class profile is taken relative to the stretch's key, so
that a piece in C and one in F# with the same tonal make-up look alike.
"""

from __future__ import annotations

import numpy as np
import symusic

from cadenza.analysis._notes import Notes, as_tick_score, pitched_notes
from cadenza.analysis.bars import bar_grid
from cadenza.analysis.melody import outer_line
from cadenza.errors import InvalidArgumentError

__all__ = [
    "DURATION_BINS",
    "FEATURE_NAMES",
    "INTERVAL_BINS",
    "stretch_features",
    "stretch_score",
    "stretches",
    "two_sample_accuracy",
]

# Upper edges, in quarter notes, of the duration and inter-onset bins: a value v falls in
# the first bin whose edge is > v. The edges sit halfway (geometrically, roughly) between
# 16th, 8th, quarter, half and whole notes; a dotted value goes to the bin above.
_DURATION_EDGES = (0.375, 0.75, 1.5, 3.0, 6.0)
DURATION_BINS = ("<=16th", "8th", "quarter", "half", "whole", ">whole")
# Upper edges, in semitones, of the top-line interval bins (absolute intervals).
_INTERVAL_EDGES = (1, 3, 5, 8, 13)
INTERVAL_BINS = ("unison", "step", "third", "fourth-fifth", "sixth-octave", ">octave")
# Krumhansl–Kessler key profiles, tonic first.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_REPEAT_JACCARD = 0.5
_POLYPHONY_STEP = 0.25  # quarter notes: a 16th
_ONSET_CELL = 0.125  # quarter notes: onsets in the same 32nd-note cell are one onset

FEATURE_NAMES: tuple[str, ...] = (
    *(f"pc{i}" for i in range(12)),
    "pitch_mean",
    "pitch_std",
    "polyphony",
    *(f"dur_{b}" for b in DURATION_BINS),
    *(f"ioi_{b}" for b in DURATION_BINS),
    *(f"top_{b}" for b in INTERVAL_BINS),
    "velocity_mean",
    "velocity_std",
    "bar_repetition",
)
"""The entries of :func:`stretch_features`, in order:

* ``pc0``..``pc11``: share of the stretch's notes in each pitch class, counted from the
  major tonic of the stretch's key (the Krumhansl–Kessler key of best correlation; a
  minor key counts from its relative major, so ``pc0`` is always "do");
* ``pitch_mean``, ``pitch_std``: MIDI pitch of the notes;
* ``polyphony``: notes sounding at each 16th-note step, averaged over the steps where
  something sounds;
* ``dur_*``: share of the notes by duration, in :data:`DURATION_BINS` (quarter-note
  edges 0.375, 0.75, 1.5, 3, 6);
* ``ioi_*``: the same bins for the time between one onset and the next (onsets rounded
  to the nearest 32nd note, so notes starting together, or nearly, are one onset);
* ``top_*``: share of the intervals between successive notes of the top line (the
  highest note of each onset, with the continuity rule of ``analysis.melody``), by size
  in :data:`INTERVAL_BINS` (0; 1–2; 3–4; 5–7; 8–12; 13+ semitones);
* ``velocity_mean``, ``velocity_std``: MIDI velocity of the notes;
* ``bar_repetition``: share of the bars after the first (those with notes) that repeat an
  earlier bar of the stretch: at least half of their (16th-note position, pitch) pairs in
  common (Jaccard ≥ 0.5).

The notes of a stretch are those of the non-drum tracks that start inside it.
"""


def _bar_edges(score: symusic.Score) -> np.ndarray:
    """Tick of every bar line, the closing one included (``len - 1`` bars), as
    :func:`cadenza.analysis.bars.bar_grid` lays the bars out."""
    grid = bar_grid(score)
    return np.r_[grid.starts, grid.ends[-1:]].astype(np.int64)


def stretches(score: symusic.Score, bars: int = 16) -> list[int]:
    """Start bars (0-based) of the non-overlapping stretches of ``bars`` whole bars that
    fit in the piece and hold at least one note; a shorter rest at the end is left out."""
    if bars < 1:
        raise InvalidArgumentError(f"a stretch needs at least one bar, not {bars}")
    score = as_tick_score(score)
    lines = _bar_edges(score)
    starts = pitched_notes(score).start
    out = []
    for first in range(0, lines.size - 1 - bars + 1, bars):
        lo, hi = lines[first], lines[first + bars]
        if np.any((starts >= lo) & (starts < hi)):
            out.append(first)
    return out


def _stretch_bounds(score: symusic.Score, start_bar: int, bars: int) -> np.ndarray:
    lines = _bar_edges(score)
    if start_bar < 0 or bars < 1 or start_bar + bars > lines.size - 1:
        raise InvalidArgumentError(
            f"bars {start_bar}..{start_bar + bars - 1} are outside the piece's {lines.size - 1} bars"
        )
    return lines[start_bar : start_bar + bars + 1]


def stretch_score(score: symusic.Score, start_bar: int, bars: int = 16) -> symusic.Score:
    """The stretch as a Score of its own, starting at tick 0: the notes that start in it
    (held to their full length), with the tempo and time signature in force."""
    score = as_tick_score(score)
    lines = _stretch_bounds(score, start_bar, bars)
    return score.clip(int(lines[0]), int(lines[-1]), clip_end=False).shift_time(-int(lines[0]))


def _histogram(values: np.ndarray, edges: tuple[float, ...]) -> np.ndarray:
    counts = np.bincount(np.searchsorted(np.asarray(edges), values, side="right"), minlength=len(edges) + 1)
    total = counts.sum()
    return counts / total if total else counts.astype(np.float64)


def _relative_profile(pitch: np.ndarray) -> np.ndarray:
    counts = np.bincount(pitch % 12, minlength=12).astype(np.float64)
    profile = counts / counts.sum()
    best, tonic = -np.inf, 0
    for template, to_major in ((_MAJOR, 0), (_MINOR, 3)):
        for root in range(12):
            r = np.corrcoef(profile, np.roll(template, root))[0, 1] if profile.std() > 0 else 0.0
            if r > best + 1e-12:
                best, tonic = r, (root + to_major) % 12
    return np.roll(profile, -tonic)


def _polyphony(notes: Notes, lo: int, hi: int) -> float:
    steps = np.arange(lo, hi, max(1, round(notes.tpq * _POLYPHONY_STEP)))
    starts, ends = np.sort(notes.start), np.sort(notes.end)
    sounding = np.searchsorted(starts, steps, side="right") - np.searchsorted(ends, steps, side="right")
    busy = sounding[sounding > 0]
    return float(busy.mean()) if busy.size else 0.0


def _bar_repetition(notes: Notes, lines: np.ndarray) -> float:
    step = max(1, round(notes.tpq * _POLYPHONY_STEP))
    bar = np.searchsorted(lines, notes.start, side="right") - 1
    contents = [
        set(zip(((notes.start[bar == b] - lines[b]) // step).tolist(), notes.pitch[bar == b].tolist(), strict=True))
        for b in range(lines.size - 1)
    ]
    repeated = considered = 0
    for b in range(1, len(contents)):
        if not contents[b]:
            continue
        considered += 1
        repeated += any(
            len(contents[b] & contents[a]) >= _REPEAT_JACCARD * len(contents[b] | contents[a]) for a in range(b)
        )
    return repeated / considered if considered else 0.0


def stretch_features(score: symusic.Score, start_bar: int, bars: int = 16) -> np.ndarray:
    """The feature vector of bars ``start_bar`` .. ``start_bar + bars - 1`` (0-based), in
    the order of :data:`FEATURE_NAMES`. A stretch without notes gives all nan."""
    score = as_tick_score(score)
    lines = _stretch_bounds(score, start_bar, bars)
    everything = pitched_notes(score)
    notes = everything.select((everything.start >= lines[0]) & (everything.start < lines[-1]))
    if len(notes) == 0:
        return np.full(len(FEATURE_NAMES), np.nan)
    tpq = float(notes.tpq)
    cell = tpq * _ONSET_CELL
    onsets = np.unique(np.round(notes.start / cell)) * cell
    top = notes.pitch[outer_line(notes, highest=True)]
    vector = np.concatenate(
        [
            _relative_profile(notes.pitch),
            [notes.pitch.mean(), notes.pitch.std()],
            [_polyphony(notes, int(lines[0]), int(lines[-1]))],
            _histogram((notes.end - notes.start) / tpq, _DURATION_EDGES),
            _histogram(np.diff(onsets) / tpq, _DURATION_EDGES),
            _histogram(np.abs(np.diff(top)), _INTERVAL_EDGES),
            [notes.velocity.mean(), notes.velocity.std()],
            [_bar_repetition(notes, lines)],
        ]
    )
    return vector.astype(np.float64)


def _fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, iterations: int) -> np.ndarray:
    """Weights (bias last) of an L2-penalised logistic regression by Newton's method."""
    design = np.hstack([x, np.ones((x.shape[0], 1))])
    w = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -30, 30)))
        gradient = design.T @ (p - y) + penalty * w
        hessian = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty) + 1e-9 * np.eye(w.size)
        w -= np.linalg.solve(hessian, gradient)
    return w


def _folds(groups: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """A fold per row: whole groups, in random order, each to the fold with the fewest rows."""
    labels, sizes = np.unique(groups, return_counts=True)
    fold_of_group = np.empty(labels.size, dtype=np.int64)
    rows = np.zeros(folds, dtype=np.int64)
    for g in rng.permutation(labels.size):
        fold_of_group[g] = int(np.argmin(rows))
        rows[fold_of_group[g]] += sizes[g]
    return fold_of_group[np.searchsorted(labels, groups)]


def two_sample_accuracy(
    real: np.ndarray,
    other: np.ndarray,
    folds: int = 5,
    seed: int = 0,
    *,
    real_groups: np.ndarray | None = None,
    other_groups: np.ndarray | None = None,
    l2: float = 1.0,
    iterations: int = 25,
) -> tuple[float, float]:
    """Cross-validated accuracy (mean, std over folds) of a logistic regression that
    tells rows of ``real`` from rows of ``other``.

    The larger set is subsampled (with ``seed``) to the size of the smaller, so 0.5 is
    chance. Rows that share a group label (``real_groups``, ``other_groups``: one label a
    row, e.g. the song a stretch comes from) stay in one fold, so that the classifier
    cannot score by recognising a song it has seen; without labels every row is its own
    group. The features are standardised with the training rows' mean and std; the model
    is fitted by a fixed number of Newton steps with an L2 penalty (the bias unpenalised);
    a fold's accuracy is the balanced accuracy (mean of the two sets' hit rates) on its
    held-out rows. Same inputs and seed, same result.
    """
    a = np.asarray(real, dtype=np.float64)
    b = np.asarray(other, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise InvalidArgumentError(f"two sets of vectors of one length are needed, not shapes {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InvalidArgumentError("the feature vectors hold nan or infinite values")
    group_a = np.arange(len(a)) if real_groups is None else np.asarray(real_groups)
    group_b = np.arange(len(b)) if other_groups is None else np.asarray(other_groups)
    if group_a.shape != (len(a),) or group_b.shape != (len(b),):
        raise InvalidArgumentError("the group labels need one label a row")
    n = min(len(a), len(b))
    rng = np.random.default_rng(seed)
    keep_a, keep_b = rng.permutation(len(a))[:n], rng.permutation(len(b))[:n]
    a, b, group_a, group_b = a[keep_a], b[keep_b], group_a[keep_a], group_b[keep_b]
    if folds < 2 or min(np.unique(group_a).size, np.unique(group_b).size) < folds:
        raise InvalidArgumentError(
            f"{folds}-fold cross-validation needs at least {max(folds, 2)} rows (groups) in each set"
        )
    x = np.vstack([a, b])
    y = np.r_[np.zeros(n), np.ones(n)]
    fold = np.r_[_folds(group_a, folds, rng), _folds(group_b, folds, rng)]
    accuracies = []
    for k in range(folds):
        train, test = fold != k, fold == k
        mean = x[train].mean(axis=0)
        std = x[train].std(axis=0)
        std[std < 1e-12] = 1.0
        w = _fit_logistic((x[train] - mean) / std, y[train], l2, iterations)
        hit = ((((x[test] - mean) / std) @ w[:-1] + w[-1]) > 0) == (y[test] == 1)
        accuracies.append(float((hit[y[test] == 0].mean() + hit[y[test] == 1].mean()) / 2))
    return float(np.mean(accuracies)), float(np.std(accuracies))
