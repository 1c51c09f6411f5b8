"""Downbeats: which beats start a bar, found from the notes.

Each beat gets evidence that it starts a bar: the harmony changes there (chroma of the
half bar after it against the half bar before it, and the same over a whole bar), the
bass changes or is struck there, long notes and phrases start there. A logistic
regression weighs that evidence of the beat and of its two neighbours on each side
(a bar start is also where the beats around it look like the middle of a bar), and
gives each beat its log-odds of starting a bar. A hidden Markov model over
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
N_FEATURES = 12  # evidence columns per beat (see downbeat_evidence)
_CONTEXT = (-2, -1, 1, 2)  # the evidence of these neighbouring beats also counts
# Logistic regression of "this beat starts a bar" on the evidence of the beat and its
# neighbours (columns: the beat's 12, then 12 per offset of _CONTEXT), fitted on the
# POP909 development songs 006, 016, ..., 906 (see docs/benchmarks.md).
_WEIGHTS = np.array(
    [
        [0.4964, 1.6562, 0.4496, -0.6874, 0.1716, -0.2875, -0.2876, -0.1489, 0.0329, 1.0753, 0.2001, 0.0305],
        [0.1399, 0.2606, -0.1603, 0.1663, -0.1326, -0.2289, 0.2248, 0.0389, -0.0466, -0.1246, 0.0941, -0.0446],
        [-0.4384, -1.3165, -0.2117, 0.4788, -0.1441, 0.3183, -0.2579, -0.0028, -0.0196, -0.0479, -0.7241, -0.0215],
        [-0.2653, -1.2414, -0.3307, 0.0473, -0.1515, 0.2318, 0.1472, 0.0426, -0.0154, -0.4629, 0.3627, -0.0638],
        [-0.0117, 0.3291, -0.0232, -0.0507, -0.0774, -0.0880, 0.3044, 0.0771, -0.0295, -0.4118, 0.3448, 0.0232],
    ]
)
_BIAS = -0.9513


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


def _on_beat(starts: np.ndarray, beats: np.ndarray, unit: float) -> tuple[np.ndarray, np.ndarray]:
    """Index of the beat each onset falls on (within an eighth of a beat), and which do."""
    n = beats.size
    idx = np.searchsorted(beats, starts + unit / 8.0, side="right") - 1
    near = (idx >= 0) & (idx < n)
    near &= np.abs(starts - beats[np.clip(idx, 0, n - 1)]) <= unit / 8.0
    return np.clip(idx, 0, n - 1), near


def _after_rest(notes: Notes, unit: float) -> np.ndarray:
    """Notes that start at least half a beat after everything before them in their track."""
    out = np.zeros(len(notes), dtype=bool)
    for track in np.unique(notes.track):
        m = np.flatnonzero(notes.track == track)
        prev_end = np.maximum.accumulate(np.r_[np.iinfo(np.int64).min // 2, notes.end[m][:-1]])
        out[m] = notes.start[m] - prev_end >= unit / 2.0
    return out


def downbeat_evidence(notes: Notes, beats: np.ndarray) -> np.ndarray:
    """Standardised evidence per beat, shape (B, N_FEATURES).

    Columns: harmonic change over a half bar (2 beats), over a bar (4 beats), bass
    change over 2 beats, onset weight of bass notes struck on the beat, of long (≥ 1
    beat) notes struck on the beat, harmonic change over one beat, onset weight of all
    notes struck on the beat, of notes struck half a beat before it (anticipations), of
    notes struck after a rest in their track (phrase starts), the longest note and the
    longest bass note struck on the beat, and the share of the beat's sound in pitch
    classes absent from the two beats before. Onset weights are log(1 + beats). Each
    column is divided by its mean over the piece (0 where the mean is 0).
    """
    n = beats.size
    feats = np.zeros((n, N_FEATURES))
    if n == 0 or len(notes) == 0:
        return feats
    unit = float(np.median(np.diff(beats))) if n > 1 else float(notes.tpq)
    bounds = np.r_[beats, beats[-1] + unit]
    chroma, bass = window_chroma(notes, bounds)
    for col, (x, width) in enumerate([(chroma, 2), (chroma, 4), (bass, 2)]):
        feats[:, col] = _cos_change(*_span_sums(x, width))
    feats[:, 5] = _cos_change(*_span_sums(chroma, 1))
    idx, near = _on_beat(notes.start, beats, unit)
    length = (notes.end - notes.start) / unit
    weight = np.log1p(length)
    lowest = np.full(n, 1000)
    np.minimum.at(lowest, idx[near], notes.pitch[near])
    is_bass = near & (notes.pitch <= lowest[idx] + 4)
    long = near & (length >= 1.0)
    np.add.at(feats[:, 3], idx[is_bass], weight[is_bass])
    np.add.at(feats[:, 4], idx[long], weight[long])
    np.add.at(feats[:, 6], idx[near], weight[near])
    before, early = _on_beat(notes.start + unit / 2.0, beats, unit)
    np.add.at(feats[:, 7], before[early], weight[early])
    phrase = near & _after_rest(notes, unit)
    np.add.at(feats[:, 8], idx[phrase], weight[phrase])
    np.maximum.at(feats[:, 9], idx[near], weight[near])
    np.maximum.at(feats[:, 10], idx[is_bass], weight[is_bass])
    heard_before = _span_sums(chroma, 2)[1] > 0
    mass = chroma.sum(1)
    new = (chroma * ~heard_before).sum(1)
    feats[:, 11] = np.divide(new, mass, out=np.zeros(n), where=mass > 0)
    mean = feats.mean(axis=0)
    feats = np.divide(feats, mean, out=np.zeros_like(feats), where=mean > 0)
    return feats


def _bar_start_llr(feats: np.ndarray) -> np.ndarray:
    """Log-odds that each beat starts a bar, from its evidence and its neighbours'."""
    n = feats.shape[0]
    llr = feats @ _WEIGHTS[0] + _BIAS
    for row, off in enumerate(_CONTEXT, start=1):
        shifted = np.zeros_like(feats)
        if off > 0:
            shifted[: max(n - off, 0)] = feats[off:]
        else:
            shifted[-off:] = feats[: max(n + off, 0)]
        llr += shifted @ _WEIGHTS[row]
    return llr


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
    llr = _bar_start_llr(downbeat_evidence(notes, beats))
    if usual is not None:
        found = _viterbi_bars(llr, usual)[0]
    else:
        four, s4 = _viterbi_bars(llr, 4)
        three, s3 = _viterbi_bars(llr, 3)
        found = three if s3 > s4 + 1.0 else four
    # music shorter than a bar: it is one bar from its first beat
    return found if found.size else np.zeros(1, dtype=np.int64)
