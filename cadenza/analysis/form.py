"""Form as repetition: how many bars repeat or vary an earlier bar.

A bar's content is the set of its onsets as ``(position, pitch)``: every note starting
in the bar (the bars of :func:`cadenza.analysis.bars.bar_grid`), its position rounded
to :data:`STEPS_PER_BEAT` steps of the bar's beat, its MIDI pitch, drum notes kept
apart from pitched ones (a drum pattern repeats too), tracks merged. Two bars are
compared by the Jaccard similarity of their contents (shared onsets over all onsets of
either). A bar **repeats** an earlier bar when their contents are equal, and **varies**
one when it repeats none but the similarity with some earlier bar is at least
:data:`VARY_MIN` (at least half the onsets of the two bars together are shared: a
melody with a changed ending over the same accompaniment, the same bar with a note
added or moved). Bars without onsets count neither way and are left out of the shares.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.analysis._notes import as_tick_score, track_notes
from cadenza.analysis.bars import Bars, bar_grid, bar_of

__all__ = ["STEPS_PER_BEAT", "VARY_MIN", "Repetition", "bar_content_similarity", "repetition"]

STEPS_PER_BEAT = 4
VARY_MIN = 0.5
_DRUM = 128  # drum keys sit above the 128 MIDI pitches


@dataclass(frozen=True)
class Repetition:
    """Counts over the bars that have onsets (see the module docstring)."""

    bars: int  # bars with onsets
    repeats: int  # equal to an earlier bar
    variations: int  # not equal to any earlier bar, similar to one

    @property
    def repeat_share(self) -> float:
        """Share of the bars with onsets that repeat an earlier bar exactly (0 without any)."""
        return self.repeats / self.bars if self.bars else 0.0

    @property
    def repetition_share(self) -> float:
        """Share of the bars with onsets that repeat or vary an earlier bar (0 without any)."""
        return (self.repeats + self.variations) / self.bars if self.bars else 0.0


def _contents(score: symusic.Score, bars: Bars) -> np.ndarray:
    """(B, K) boolean: which (position, pitch) keys each bar holds."""
    keys, where = [], []
    for i, track in enumerate(score.tracks):
        notes = track_notes(score, i)
        b = bar_of(bars, notes.start)
        ok = b >= 0
        step = np.rint((notes.start[ok] - bars.starts[b[ok]]) / bars.beat_ticks[b[ok]] * STEPS_PER_BEAT)
        keys.append(step.astype(np.int64) * 2 * _DRUM + notes.pitch[ok] + (_DRUM if track.is_drum else 0))
        where.append(b[ok])
    if not keys or sum(k.size for k in keys) == 0:
        return np.zeros((len(bars), 0), dtype=bool)
    all_keys = np.concatenate(keys)
    uniq, column = np.unique(all_keys, return_inverse=True)
    out = np.zeros((len(bars), uniq.size), dtype=bool)
    out[np.concatenate(where), column] = True
    return out


def bar_content_similarity(score: symusic.Score, bars: Bars | None = None) -> np.ndarray:
    """(B, B) Jaccard similarity of the bars' onset contents; 0 where either bar is empty."""
    score = as_tick_score(score)
    bars = bar_grid(score) if bars is None else bars
    content = _contents(score, bars).astype(np.float64)
    shared = content @ content.T
    size = content.sum(1)
    union = size[:, None] + size[None, :] - shared
    return np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)


def repetition(score: symusic.Score, bars: Bars | None = None) -> Repetition:
    """How many bars repeat or vary an earlier one (see the module docstring)."""
    score = as_tick_score(score)
    bars = bar_grid(score) if bars is None else bars
    sim = bar_content_similarity(score, bars)
    busy = np.flatnonzero(np.diag(sim) > 0)
    repeats = variations = 0
    for k, b in enumerate(busy):
        best = float(sim[b, busy[:k]].max()) if k else 0.0
        if best >= 1.0 - 1e-12:
            repeats += 1
        elif best >= VARY_MIN:
            variations += 1
    return Repetition(int(busy.size), repeats, variations)
