"""Repetition: the share of bars that repeat or vary an earlier bar."""

from __future__ import annotations

import numpy as np
from analysis_scores import make_score

from cadenza.analysis import bar_content_similarity, repetition

BAR = [(60, 0, 1), (64, 1, 2), (67, 2, 3), (72, 3, 3.5), (71, 3.5, 4)]


def _bars(*contents: list[tuple[int, float, float]] | None) -> list[tuple[int, float, float]]:
    """Bars of 4/4 one after the other; None is an empty bar."""
    notes = []
    for i, bar in enumerate(contents):
        notes += [(p, s + 4 * i, e + 4 * i) for p, s, e in bar or []]
    return notes


def test_four_identical_bars_repeat_three_times() -> None:
    shape = repetition(make_score(_bars(BAR, BAR, BAR, BAR)))
    assert (shape.bars, shape.repeats, shape.variations) == (4, 3, 0)
    assert shape.repetition_share == 0.75 and shape.repeat_share == 0.75


def test_bars_that_differ_do_not_repeat() -> None:
    others = [[(p + k, s, e) for p, s, e in BAR] for k in (0, 2, 5, 7)]  # transposed: other pitches
    assert repetition(make_score(_bars(*others))).repetition_share == 0.0


def test_a_changed_note_is_a_variation() -> None:
    changed = [*BAR[:4], (74, 3.5, 4)]  # 4 of 5 onsets shared: 4/6 >= 0.5
    moved = [(60, 0, 1), (64, 1.5, 2), (67, 2.5, 3), (72, 3, 3.5), (69, 3.5, 4)]  # 2 of 5 shared
    shape = repetition(make_score(_bars(BAR, changed, moved)))
    assert (shape.bars, shape.repeats, shape.variations) == (3, 0, 1)
    sim = bar_content_similarity(make_score(_bars(BAR, changed, moved)))
    assert np.allclose(sim, sim.T) and np.allclose(np.diag(sim), 1.0)
    assert sim[0, 1] == 4 / 6 and sim[0, 2] == 2 / 8


def test_empty_bars_count_neither_way() -> None:
    shape = repetition(make_score(_bars(BAR, None, BAR, None)))
    assert (shape.bars, shape.repeats) == (2, 1)
    assert shape.repetition_share == 0.5
    empty = repetition(make_score([]))
    assert (empty.bars, empty.repetition_share, empty.repeat_share) == (0, 0.0, 0.0)


def test_a_drum_pattern_repeats_and_stays_apart_from_pitches() -> None:
    beat = [(36, 0, 1), (42, 1, 2), (38, 2, 3), (42, 3, 4)]
    assert repetition(make_score(_bars(beat, beat), drum=True)).repeat_share == 0.5
    # the same numbers on a pitched track are other keys than the drums'
    score = make_score(_bars(beat), drum=True, extra_tracks=[("p", _bars(None, beat))])
    assert repetition(score).repetition_share == 0.0
