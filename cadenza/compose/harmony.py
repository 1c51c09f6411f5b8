"""Chords for a user's tune, a bar or half a bar each: what an accompaniment plays under it.

The shipped melody harmonizer (:mod:`cadenza.models.harmonizer`, a hidden Markov model
fitted on POP909's melodies over their arrangements and the chorales' sopranos over
their voices) reads the tune's weight on each pitch class in each span of the sketch's
bar grid (:func:`cadenza.analysis.melody.span_weights`) and the key the analysis hears in
each bar, and gives the likeliest run of chords.
"""

from __future__ import annotations

from cadenza.analysis.melody import span_weights
from cadenza.compose.sketch import Sketch
from cadenza.models.harmonizer import default_harmonizer, spans_per_bar

__all__ = ["chords_for", "spans_per_bar"]


def chords_for(sketch: Sketch, melody: int, bars: range, style: str = "pop", per_bar: int = 1) -> list[list[str]]:
    """Harte chord labels under the tune of track ``melody``: for each bar in ``bars``,
    ``per_bar`` chords (of equal spans)."""
    starts = [sketch.bar_ticks * (bars.start + k / per_bar) for k in range(len(bars) * per_bar + 1)]
    weights = span_weights(sketch.score.tracks[melody], starts, sketch.bar_ticks / sketch.beats_per_bar)
    keys = [sketch.key_at(bar) for bar in bars for _ in range(per_bar)]
    labels = default_harmonizer().chords(weights, keys, style)
    return [labels[i : i + per_bar] for i in range(0, len(labels), per_bar)]
