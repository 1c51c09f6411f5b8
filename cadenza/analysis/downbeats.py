"""Downbeats: which beats start a bar, found from the notes.

Each beat gets evidence that it starts a bar: the harmony changes there (chroma of the
half bar after it against the half bar before it, and the same over a whole bar), the
bass changes or is struck there, and long notes start there. A hidden Markov model over
the position in the bar then picks the bar starts: the bar length stays at its usual
value (3 or 4 beats), and a bar of another length (an inserted 2-beat bar, a 6-beat
bar, a pickup) costs a fixed penalty. This follows the many pop songs whose bars are
mostly 4 beats with a few irregular ones, and stays regular where the evidence is weak.
"""

from __future__ import annotations

import numpy as np

from cadenza.analysis._notes import Notes, window_chroma

__all__ = ["bar_starts", "downbeat_evidence"]

MAX_BAR = 8  # longest bar, in beats, the model can produce
# log prior of a bar of k beats other than the usual one (per bar)
_ODD_BAR_COST = {1: 9.0, 2: 5.0, 3: 6.0, 4: 6.0, 5: 7.0, 6: 5.5, 7: 8.0, 8: 6.5}
# weights of the standardised evidence (see downbeat_evidence)
_WEIGHTS = np.array([0.486, -0.052, 0.402, 0.181, 0.437])
_BIAS = -1.684


def _cos_change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 − cosine similarity per row; 0 where either row is silent."""
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    ok = (na > 0) & (nb > 0)
    out = np.zeros(a.shape[0])
    out[ok] = 1.0 - (a[ok] * b[ok]).sum(1) / (na[ok] * nb[ok])
    return out


def _span_sums(x: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of ``width`` rows after (incl.) and before each row, zero-padded."""
    c = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    n = x.shape[0]
    i = np.arange(n)
    after = c[np.minimum(i + width, n)] - c[i]
    before = c[i] - c[np.maximum(i - width, 0)]
    return after, before


def downbeat_evidence(notes: Notes, beats: np.ndarray) -> np.ndarray:
    """Standardised evidence per beat, shape (B, 5).

    Columns: harmonic change over a half bar (2 beats), harmonic change over a bar
    (4 beats), bass change over 2 beats, onset weight of bass notes struck on the beat,
    onset weight of long (≥ 1 beat) notes struck on the beat. Each column is divided by
    its mean over the piece (0 where the mean is 0).
    """
    n = beats.size
    feats = np.zeros((n, 5))
    if n == 0 or len(notes) == 0:
        return feats
    unit = float(np.median(np.diff(beats))) if n > 1 else float(notes.tpq)
    bounds = np.r_[beats, beats[-1] + unit]
    chroma, bass = window_chroma(notes, bounds)
    a2, b2 = _span_sums(chroma, 2)
    a4, b4 = _span_sums(chroma, 4)
    ba, bb = _span_sums(bass, 2)
    feats[:, 0] = _cos_change(a2, b2)
    feats[:, 1] = _cos_change(a4, b4)
    feats[:, 2] = _cos_change(ba, bb)
    # onsets near each beat (within an eighth of a beat)
    idx = np.searchsorted(bounds, notes.start + unit / 8.0, side="right") - 1
    near = (idx >= 0) & (idx < n)
    near &= np.abs(notes.start - beats[np.clip(idx, 0, n - 1)]) <= unit / 8.0
    dur = (notes.end - notes.start) / unit
    lowest = np.full(n, 1000)
    np.minimum.at(lowest, idx[near], notes.pitch[near])
    is_bass = near.copy()
    is_bass[near] = notes.pitch[near] <= lowest[idx[near]] + 4
    np.add.at(feats[:, 3], idx[is_bass], np.log1p(dur[is_bass]))
    long = near & (dur >= 1.0)
    np.add.at(feats[:, 4], idx[long], np.log1p(dur[long]))
    mean = feats.mean(axis=0)
    feats = np.divide(feats, mean, out=np.zeros_like(feats), where=mean > 0)
    return feats


def _viterbi_bars(llr: np.ndarray, usual: int) -> tuple[np.ndarray, float]:
    """Bar starts (beat indices) maximising evidence minus the cost of odd bars.

    States are positions in the bar, 0..MAX_BAR-1; position 0 earns ``llr``. From
    position p the path goes on to p+1, or starts a new bar (a bar of p+1 beats,
    free when p+1 == usual).
    """
    n = llr.size
    size = max(MAX_BAR, usual)
    cost = np.array([0.0 if k == usual else _ODD_BAR_COST.get(k, 9.0) for k in range(1, size + 1)])
    neg = -np.inf
    score = np.full(size, neg)
    score[:usual] = 0.0  # the piece may start anywhere in a usual bar
    score[0] += llr[0]
    back = np.zeros((n, size), dtype=np.int64)
    for t in range(1, n):
        new = np.full(size, neg)
        new[1:] = score[:-1]
        back[t, 1:] = np.arange(size - 1)
        closing = score - cost  # close a bar of (p+1) beats
        j = int(np.argmax(closing))
        new[0] = closing[j] + llr[t]
        back[t, 0] = j
        score = new
    state = int(np.argmax(score))
    total = float(score[state])
    path = np.empty(n, dtype=np.int64)
    for t in range(n - 1, -1, -1):
        path[t] = state
        state = back[t, state]
    return np.flatnonzero(path == 0), total


def bar_starts(notes: Notes, beats: np.ndarray, usual: int | None = None) -> np.ndarray:
    """Indices of the beats that start bars.

    ``usual`` is the usual bar length in beats; ``None`` chooses 3 or 4 by which
    explains the evidence better (4 on a tie). Without notes, bars of ``usual`` (or 4)
    beats from the first beat; music too short to show a bar start is one bar.
    """
    n = beats.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if len(notes) == 0:
        return np.arange(0, n, usual or 4, dtype=np.int64)
    llr = downbeat_evidence(notes, beats) @ _WEIGHTS + _BIAS
    if usual is not None:
        found = _viterbi_bars(llr, usual)[0]
    else:
        four, s4 = _viterbi_bars(llr, 4)
        three, s3 = _viterbi_bars(llr, 3)
        found = three if s3 > s4 + 1.0 else four
    # music shorter than a bar: it is one bar from its first beat
    return found if found.size else np.zeros(1, dtype=np.int64)
