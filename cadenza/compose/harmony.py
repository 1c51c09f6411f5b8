"""A chord for every bar of a tune: what an accompaniment plays under it.

A hidden Markov model over bars: the hidden states are the chords of the shipped
progression model (:mod:`cadenza.models.progression`, fitted on POP909 and the JSB
chorales, relative to the key), which also gives the transitions; each bar's melody
notes give the emission, the share of the bar's melodic weight (duration, doubled on
the bar's first beat) that falls on the chord's tones, scaled by :data:`FIT_WEIGHT`.
Viterbi finds the likeliest run; the last bar is read as a cadence. Keys come from the
sketch bar by bar, so a modulating tune gets its chords in each key.
"""

from __future__ import annotations

import numpy as np
import symusic

from cadenza.compose.sketch import Sketch
from cadenza.models.progression import UNSEEN, absolute_chord, default_progressions
from cadenza.theory import chord_pitch_classes

__all__ = ["bar_chords_for", "FIT_WEIGHT"]

FIT_WEIGHT = 6.0  # nats between a chord that holds the whole bar's tune and one that holds none of it
_DOWNBEAT_WEIGHT = 2.0


def _bar_weights(track: symusic.Track, sketch: Sketch, bars: int) -> np.ndarray:
    """(bars, 12): the melodic weight of each pitch class in each bar."""
    weights = np.zeros((bars, 12))
    beat = sketch.bar_ticks / int(sketch.meter.split("/")[0])
    for note in track.notes:
        end = note.time + note.duration
        bar = int(note.time // sketch.bar_ticks)
        while bar < bars and sketch.bar_start(bar) < end:
            start, stop = max(note.time, sketch.bar_start(bar)), min(end, sketch.bar_start(bar + 1))
            if stop > start:
                on_downbeat = start - sketch.bar_start(bar) < beat
                weights[bar, note.pitch % 12] += (stop - start) / beat * (_DOWNBEAT_WEIGHT if on_downbeat else 1.0)
            bar += 1
    return weights


def bar_chords_for(sketch: Sketch, melody: int, bars: range, style: str = "pop") -> list[str]:
    """A Harte chord label for each bar in ``bars`` under the tune of track ``melody``;
    a bar where the tune is silent takes the chord the progression makes likeliest."""
    progressions = default_progressions()
    weights = _bar_weights(sketch.score.tracks[melody], sketch, bars.stop)[bars.start :]
    modes = {sketch.key_at(b)[1] for b in bars}
    vocab = sorted({c for mode in modes for c in progressions.vocabulary(style, mode)})
    n = len(bars)
    emission = np.zeros((n, len(vocab)))
    for i, bar in enumerate(bars):
        tonic, _ = sketch.key_at(bar)
        total = weights[i].sum()
        if total <= 0:
            continue
        for j, token in enumerate(vocab):
            tones = sorted(chord_pitch_classes(absolute_chord(token, tonic)))
            emission[i, j] = FIT_WEIGHT * (2 * weights[i, tones].sum() / total - 1)

    def log_p(mode: str, history: tuple[str, ...], position: str) -> np.ndarray:
        p = progressions.probabilities(style, mode, history, position)
        return np.log(np.array([p.get(c, p[UNSEEN]) for c in vocab]) + 1e-12)

    transitions: dict[tuple[str, str], np.ndarray] = {}  # (mode, position) -> (from, to)
    score = log_p(sketch.key_at(bars.start)[1], (), "start") + emission[0]
    back = np.zeros((n, len(vocab)), dtype=np.int64)
    for i in range(1, n):
        key = (sketch.key_at(bars.start + i)[1], "cadence" if i == n - 1 else "body")
        if key not in transitions:
            transitions[key] = np.stack([log_p(key[0], (c,), key[1]) for c in vocab])
        total = score[:, None] + transitions[key]
        back[i] = total.argmax(axis=0)
        score = total.max(axis=0) + emission[i]
    path = [int(score.argmax())]
    for i in range(n - 1, 0, -1):
        path.append(int(back[i, path[-1]]))
    path.reverse()
    return [absolute_chord(vocab[j], sketch.key_at(bar)[0]) for bar, j in zip(bars, path, strict=True)]
