"""Chords for a tune, a bar or half a bar each: what an accompaniment plays under it.

A hidden Markov model over spans (bars, or halves of bars where a bar has four beats):
the hidden states are the chords of the shipped progression model
(:mod:`cadenza.models.progression`, fitted on POP909 and the JSB chorales, relative to
the key), which also gives the transitions; each span's melody gives the emission: the
melodic weight of each pitch class in the span (duration, doubled on its first beat)
under a profile of the chord, most of the mass on its tones (:data:`CHORD_TONE_MASS`,
shared by them), the rest on the other pitch classes. Viterbi finds the likeliest run;
the last span is read as a cadence. Keys come from the sketch bar by bar, so a
modulating tune gets its chords in each key.
"""

from __future__ import annotations

import numpy as np
import symusic

from cadenza.compose.sketch import Sketch
from cadenza.models.progression import UNSEEN, absolute_chord, default_progressions
from cadenza.theory import chord_pitch_classes

__all__ = ["bar_chords_for", "chords_for", "segments_per_bar", "CHORD_TONE_MASS"]

CHORD_TONE_MASS = 0.8  # of a bar's melodic weight, the share a chord's tones are expected to take
_DOWNBEAT_WEIGHT = 2.0


def _log_profile(label: str) -> np.ndarray:
    """ln P(pitch class | chord): :data:`CHORD_TONE_MASS` shared by the chord's tones, the
    rest by the others; a chord of four tones spreads its mass thinner than a triad, so
    a seventh chord is heard only where the tune sounds its seventh."""
    tones = sorted(chord_pitch_classes(label))
    profile = np.full(12, (1 - CHORD_TONE_MASS) / (12 - len(tones)))
    profile[tones] = CHORD_TONE_MASS / len(tones)
    return np.log(profile)


def segments_per_bar(meter: str) -> int:
    """Chords a bar takes: two in a bar of four beats (or two dotted beats, 6/8 and 12/8),
    where pop songs change chord every half bar; else one."""
    numerator = int(meter.split("/")[0])
    return 2 if numerator in (4, 6, 12) else 1


def _segment_weights(track: symusic.Track, sketch: Sketch, bars: range, per_bar: int) -> np.ndarray:
    """(segments, 12): the melodic weight of each pitch class in each segment of ``bars``
    (``per_bar`` equal segments a bar), in beats, a segment's first beat counting double."""
    starts = [sketch.bar_ticks * (bars.start + k / per_bar) for k in range(len(bars) * per_bar + 1)]
    weights = np.zeros((len(starts) - 1, 12))
    beat = sketch.bar_ticks / int(sketch.meter.split("/")[0])
    for note in track.notes:
        end = note.time + note.duration
        first = int(np.searchsorted(starts, note.time, side="right")) - 1
        for k in range(max(first, 0), len(starts) - 1):
            if starts[k] >= end:
                break
            start, stop = max(note.time, starts[k]), min(end, starts[k + 1])
            if stop > start:
                on_first_beat = start - starts[k] < beat
                weights[k, note.pitch % 12] += (stop - start) / beat * (_DOWNBEAT_WEIGHT if on_first_beat else 1.0)
    return weights


def chords_for(sketch: Sketch, melody: int, bars: range, style: str = "pop", per_bar: int = 1) -> list[list[str]]:
    """Harte chord labels under the tune of track ``melody``: for each bar in ``bars``,
    ``per_bar`` chords (of equal spans); a span where the tune is silent takes the chord
    the progression makes likeliest."""
    progressions = default_progressions()
    weights = _segment_weights(sketch.score.tracks[melody], sketch, bars, per_bar)
    bar_of = [bars.start + i // per_bar for i in range(len(weights))]
    modes = {sketch.key_at(b)[1] for b in bars}
    vocab = sorted({c for mode in modes for c in progressions.vocabulary(style, mode)})
    n = len(weights)
    emission = np.zeros((n, len(vocab)))
    for i, bar in enumerate(bar_of):
        tonic, _ = sketch.key_at(bar)
        for j, token in enumerate(vocab):
            emission[i, j] = weights[i] @ _log_profile(absolute_chord(token, tonic))

    def log_p(mode: str, history: tuple[str, ...], position: str) -> np.ndarray:
        p = progressions.probabilities(style, mode, history, position)
        return np.log(np.array([p.get(c, p[UNSEEN]) for c in vocab]) + 1e-12)

    transitions: dict[tuple[str, str], np.ndarray] = {}  # (mode, position) -> (from, to)
    score = log_p(sketch.key_at(bars.start)[1], (), "start") + emission[0]
    back = np.zeros((n, len(vocab)), dtype=np.int64)
    for i in range(1, n):
        key = (sketch.key_at(bar_of[i])[1], "cadence" if i == n - 1 else "body")
        if key not in transitions:
            transitions[key] = np.stack([log_p(key[0], (c,), key[1]) for c in vocab])
        total = score[:, None] + transitions[key]
        back[i] = total.argmax(axis=0)
        score = total.max(axis=0) + emission[i]
    path = [int(score.argmax())]
    for i in range(n - 1, 0, -1):
        path.append(int(back[i, path[-1]]))
    path.reverse()
    labels = [absolute_chord(vocab[j], sketch.key_at(bar)[0]) for bar, j in zip(bar_of, path, strict=True)]
    return [labels[i : i + per_bar] for i in range(0, n, per_bar)]


def bar_chords_for(sketch: Sketch, melody: int, bars: range, style: str = "pop") -> list[str]:
    """One chord a bar (:func:`chords_for`)."""
    return [chords[0] for chords in chords_for(sketch, melody, bars, style, 1)]
