"""Descriptive metrics and the Yang & Lerch comparison."""

from __future__ import annotations

import math

import numpy as np
import pytest
from analysis_scores import C_MAJOR_SCALE, I_IV_V_I, block_chords, make_score

from cadenza.analysis import all_metrics, compare_collections, compare_values
from cadenza.analysis.metrics import (
    empty_beat_rate,
    groove_consistency,
    note_density,
    pitch_class_entropy,
    pitch_class_histogram,
    pitch_range,
    polyphony_rate,
    scale_consistency,
)

EMPTY = make_score([])
DRUMS = make_score([(36, b, b + 0.5) for b in range(8)], drum=True)


def test_pitch_range() -> None:
    assert pitch_range(make_score(C_MAJOR_SCALE)) == 12
    assert pitch_range(make_score([(60, 0, 1)])) == 0
    assert pitch_range(EMPTY) == 0 and pitch_range(DRUMS) == 0


def test_pitch_class_entropy() -> None:
    scale = make_score(C_MAJOR_SCALE)  # C twice, six others once: 8 notes
    p = np.array([2, 1, 1, 1, 1, 1, 1]) / 8
    assert pitch_class_entropy(scale) == pytest.approx(-(p * np.log2(p)).sum())
    chromatic = make_score([(60 + i, i, i + 1) for i in range(12)])
    assert pitch_class_entropy(chromatic) == pytest.approx(math.log2(12))
    assert pitch_class_entropy(make_score([(60, 0, 1)])) == 0.0
    assert math.isnan(pitch_class_entropy(EMPTY)) and math.isnan(pitch_class_entropy(DRUMS))
    assert pitch_class_histogram(EMPTY).tolist() == [0.0] * 12


def test_scale_consistency() -> None:
    assert scale_consistency(make_score(C_MAJOR_SCALE)) == 1.0
    chromatic = make_score([(60 + i, i, i + 1) for i in range(12)])
    assert scale_consistency(chromatic) == pytest.approx(7 / 12)
    assert math.isnan(scale_consistency(EMPTY)) and math.isnan(scale_consistency(DRUMS))


def test_polyphony_rate() -> None:
    assert polyphony_rate(make_score(C_MAJOR_SCALE)) == 0.0
    assert polyphony_rate(make_score(block_chords([[60, 64, 67]]))) == 1.0
    # two voices for the first of two beats
    assert polyphony_rate(make_score([(60, 0, 2), (64, 0, 1)])) == pytest.approx(0.5)
    assert polyphony_rate(EMPTY) == 0.0 and polyphony_rate(DRUMS) == 0.0


def test_empty_beat_rate() -> None:
    assert empty_beat_rate(make_score(C_MAJOR_SCALE)) == 0.0
    # notes on beats 0 and 3 of four: two empty beats
    assert empty_beat_rate(make_score([(60, 0, 1), (62, 3, 4)])) == pytest.approx(0.5)
    assert math.isnan(empty_beat_rate(EMPTY))
    assert empty_beat_rate(DRUMS) == 1.0


def test_groove_consistency() -> None:
    same = make_score([(60, b, b + 0.5) for b in range(16)])
    assert groove_consistency(same) == 1.0
    # bar 1: onsets on all 4 beats; bar 2: only on beat 1 -> 3 of 16 steps differ
    varied = make_score([(60, b, b + 1) for b in range(4)] + [(60, 4, 8)])
    assert groove_consistency(varied) == pytest.approx(1 - 3 / 16)
    assert math.isnan(groove_consistency(make_score([(60, 0, 1)])))  # one bar
    assert math.isnan(groove_consistency(EMPTY)) and math.isnan(groove_consistency(DRUMS))


def test_note_density() -> None:
    # 8 quarter notes at 120 bpm: 8 notes in 4 s
    assert note_density(make_score(C_MAJOR_SCALE)) == pytest.approx(2.0)
    assert note_density(EMPTY) == 0.0 and note_density(DRUMS) == 0.0


def test_all_metrics_names() -> None:
    m = all_metrics(make_score(block_chords(I_IV_V_I)))
    assert set(m) == {
        "pitch_range",
        "pitch_class_entropy",
        "scale_consistency",
        "polyphony_rate",
        "empty_beat_rate",
        "groove_consistency",
        "note_density",
    }
    assert m["scale_consistency"] == 1.0


def test_compare_values_same_and_different_sets() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 1, 60)
    same = compare_values(ref, rng.normal(0, 1, 60))
    far = compare_values(ref, rng.normal(6, 1, 60))
    assert same.overlap_area > 0.7 and same.kl_divergence < 0.3
    assert far.overlap_area < 0.1 and far.kl_divergence > 1.0
    assert far.inter_mean > same.inter_mean
    assert 0.0 <= far.candidate_overlap_area <= 1.0


def test_compare_values_edge_cases() -> None:
    nan = compare_values(np.array([1.0, np.nan]), np.array([1.0, 2.0]))
    assert math.isnan(nan.overlap_area)  # one usable reference piece
    const = compare_values(np.ones((5, 3)), np.ones((4, 3)))
    assert const.overlap_area == pytest.approx(1.0, abs=1e-3) and const.kl_divergence < 1e-3


def test_compare_collections_of_scores() -> None:
    ref = [make_score([(60 + k + i, i, i + 1) for i in range(8)]) for k in range(5)]
    cand = [make_score([(60 + k, i / 4, i / 4 + 0.25) for i in range(64)]) for k in range(5)]
    result = compare_collections(ref, cand)
    assert "pitch_class_histogram" in result and "note_density" in result
    assert result["note_density"].overlap_area < 0.2  # 2 vs 16 notes a second
