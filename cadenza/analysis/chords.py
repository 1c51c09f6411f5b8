"""Chords, one label per beat, in Harte/MIREX syntax (``C:maj``, ``A:min7``, ``C:maj/3``, ``N``).

Method: beat-synchronous chroma (duration × velocity of every sounding note, the first
half beat of each note counted twice, so that a chord held over from the beat before
weighs less than the one struck) and a bass chroma (the notes near the lowest one).
Each beat is scored against every chord — 12 roots × the qualities in
:data:`QUALITIES` — as a multinomial naive-Bayes likelihood: a chord puts most of its
probability on its own pitch classes (the root and fifth a little more) and a little
on the others, and the bass prefers the root, then another chord tone. A Viterbi pass
over the beats then keeps chords unless the evidence pays for a change, which is
cheaper on a downbeat and on the middle of a bar. Equal neighbouring beats merge into
one segment; a segment whose bass is a chord tone other than the root gets an
inversion (``/3``, ``/5``, ``/b7``...).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.analysis._notes import Notes, as_tick_score, pitched_notes, window_chroma
from cadenza.analysis.beats import BeatGrid, beat_grid
from cadenza.theory import PITCH_NAMES, QUALITIES

__all__ = ["PITCH_NAMES", "QUALITIES", "ChordSegment", "beat_chords", "chord_segments"]

# log prior of each quality (per beat): triads are the rule in the music we meet
_QUALITY_PRIOR = {
    "maj": 0.0,
    "min": -0.3,
    "7": -0.6,
    "maj7": -1.0,
    "min7": -0.9,
    "dim": -2.5,
    "aug": -3.0,
    "sus2": -2.0,
    "sus4": -1.8,
    "hdim7": -2.5,
    "dim7": -3.0,
}
_DEGREES = {0: "1", 1: "b2", 2: "2", 3: "b3", 4: "3", 5: "4", 6: "b5", 7: "5", 8: "#5", 9: "6"}
_DEGREES.update({10: "b7", 11: "7"})

_IN_CHORD = 0.8  # probability mass a chord gives its own tones
_ROOT_FIFTH_BOOST = 1.3  # relative weight of root and fifth among the chord tones
_BASS_ROOT, _BASS_TONE = 0.7, 0.25  # bass probability of the root, of the other tones
_EVIDENCE_SCALE = 4.5  # weight of one fully sounding beat of chroma
_BASS_SCALE = 1.0
_ATTACK = 0.5  # the first half beat of every note counts twice: a chord is heard where it is struck
_CHANGE_COST = {0: 2.0, 2: 4.0}  # cost of a change by position in bar; others below
_CHANGE_COST_OFFBEAT = 7.0


@dataclass(frozen=True)
class ChordSegment:
    """A chord from ``start`` to ``end`` (ticks) with its Harte label."""

    start: float
    end: float
    label: str


def _chord_tables() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Labels (root:quality), log P(pc | chord), log P(bass pc | chord), log prior."""
    labels, tone_lp, bass_lp, prior = [], [], [], []
    for quality, intervals in QUALITIES.items():
        for root in range(12):
            tones = np.zeros(12)
            for k, iv in enumerate(intervals):
                tones[(root + iv) % 12] = _ROOT_FIFTH_BOOST if iv in (0, 7) or k == 0 else 1.0
            p = np.where(tones > 0, _IN_CHORD * tones / tones.sum(), 0.0)
            p[tones == 0] = (1 - _IN_CHORD) / (12 - len(intervals))
            b = np.full(12, 0.05 / (12 - len(intervals)))
            b[[(root + iv) % 12 for iv in intervals[1:]]] = _BASS_TONE / (len(intervals) - 1)
            b[root] = _BASS_ROOT
            b /= b.sum()
            labels.append(f"{PITCH_NAMES[root]}:{quality}")
            tone_lp.append(np.log(p))
            bass_lp.append(np.log(b))
            prior.append(_QUALITY_PRIOR[quality])
    return labels, np.array(tone_lp), np.array(bass_lp), np.array(prior)


_LABELS, _TONE_LP, _BASS_LP, _PRIOR = _chord_tables()  # (S,), (S, 12), (S, 12), (S,)


def _emissions(chroma: np.ndarray, bass: np.ndarray) -> np.ndarray:
    """Log-likelihood of each beat under each chord, plus 'N' as the last column.

    chroma, bass: (B, 12) -> (B, S + 1). Each beat's chroma is normalised to sum 1 so
    that loud or dense beats do not outvote the others.
    """
    mass = chroma.sum(1, keepdims=True)
    c = np.divide(chroma, mass, out=np.zeros_like(chroma), where=mass > 0)
    bmass = bass.sum(1, keepdims=True)
    bn = np.divide(bass, bmass, out=np.zeros_like(bass), where=bmass > 0)
    ll = _EVIDENCE_SCALE * c @ _TONE_LP.T + _BASS_SCALE * bn @ _BASS_LP.T + _PRIOR
    silent = mass[:, 0] <= 1e-9
    n_col = np.where(silent, 0.0, -1e3)[:, None]
    ll[silent] = -50.0
    return np.hstack([ll, n_col])


def _change_costs(n_beats: int, downbeats: np.ndarray) -> np.ndarray:
    """Cost of a chord change on each beat, from its position in the bar."""
    pos = np.full(n_beats, -1)
    starts = np.r_[downbeats, n_beats]
    for a, b in itertools.pairwise(starts):
        pos[a:b] = np.arange(b - a)
    cost = np.full(n_beats, _CHANGE_COST_OFFBEAT)
    for p, c in _CHANGE_COST.items():
        cost[pos == p] = c
    if downbeats.size == 0:
        cost[:] = _CHANGE_COST[0]
    return cost


def _viterbi(ll: np.ndarray, change_cost: np.ndarray) -> np.ndarray:
    """Best state per beat: stay for free, move to any state for ``change_cost[t]``."""
    n, s = ll.shape
    back = np.zeros((n, s), dtype=np.int64)
    score = ll[0].copy()
    for t in range(1, n):
        best = int(np.argmax(score))
        moved = score[best] - change_cost[t]
        stay = score >= moved
        back[t] = np.where(stay, np.arange(s), best)
        score = np.where(stay, score, moved) + ll[t]
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(np.argmax(score))
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def _with_inversion(state: int, bass: np.ndarray) -> str:
    if state == len(_LABELS):
        return "N"
    label = _LABELS[state]
    root = state % 12
    quality = label.split(":")[1]
    if bass.sum() <= 0:
        return label
    iv = (int(np.argmax(bass)) - root) % 12
    if iv != 0 and iv in QUALITIES[quality] and iv in _DEGREES:
        degree = "bb7" if (quality == "dim7" and iv == 9) else _DEGREES[iv]
        return f"{label}/{degree}"
    return label


def _label_beats(notes: Notes, grid: BeatGrid) -> tuple[np.ndarray, list[str]]:
    """Beat bounds (ticks, B+1) and one label per beat."""
    beats = grid.beats
    bounds = np.r_[beats, beats[-1] + grid.unit]
    chroma, bass = window_chroma(notes, bounds)
    struck = np.minimum(notes.end, notes.start + max(int(_ATTACK * grid.unit), 1))
    chroma = (
        chroma
        + window_chroma(Notes(notes.start, struck, notes.pitch, notes.velocity, notes.track, notes.tpq), bounds)[0]
    )
    path = _viterbi(_emissions(chroma, bass), _change_costs(beats.size, grid.downbeats))
    labels: list[str] = []
    start = 0
    for t in range(1, path.size + 1):
        if t == path.size or path[t] != path[start]:
            seg_label = _with_inversion(int(path[start]), bass[start:t].sum(0))
            labels.extend([seg_label] * (t - start))
            start = t
    return bounds, labels


def beat_chords(score: symusic.Score, grid: BeatGrid | None = None) -> list[str]:
    """One Harte label per beat of ``grid`` (default: :func:`beat_grid` of the score).

    An empty or drum-only score gives ``[]`` (no beats) or all ``"N"``.
    """
    score = as_tick_score(score)
    grid = beat_grid(score) if grid is None else grid
    if grid.beats.size == 0:
        return []
    return _label_beats(pitched_notes(score), grid)[1]


def chord_segments(score: symusic.Score, grid: BeatGrid | None = None) -> list[ChordSegment]:
    """Chord segments (ticks): equal neighbouring beat labels merged.

    Silent beats are ``"N"``; an empty score gives ``[]``.
    """
    score = as_tick_score(score)
    grid = beat_grid(score) if grid is None else grid
    if grid.beats.size == 0:
        return []
    bounds, labels = _label_beats(pitched_notes(score), grid)
    out: list[ChordSegment] = []
    for i, lab in enumerate(labels):
        if out and out[-1].label == lab:
            out[-1] = ChordSegment(out[-1].start, float(bounds[i + 1]), lab)
        else:
            out.append(ChordSegment(float(bounds[i]), float(bounds[i + 1]), lab))
    return out


def grid_chords(score: symusic.Score, bar_ticks: float, beats_per_bar: int, bars: int, start: float = 0.0) -> list[str]:
    """The chord heard on each beat of a fixed bar grid (``bars`` bars of ``bar_ticks``
    ticks from ``start``, ``beats_per_bar`` beats each), for music whose bars are known."""
    from cadenza.analysis._notes import tempo_map

    unit = bar_ticks / beats_per_bar
    count = bars * beats_per_bar
    grid = BeatGrid(start + np.arange(count) * unit, np.arange(0, count, beats_per_bar), unit, "grid", tempo_map(score))
    return list(beat_chords(score, grid)) if count else []
