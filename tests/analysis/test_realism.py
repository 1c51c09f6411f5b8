"""Features of 16-bar stretches and the two-sample classifier test."""

from __future__ import annotations

import numpy as np
import pytest
from analysis_scores import C_MAJOR_SCALE, make_score

from cadenza.analysis.bars import bar_count
from cadenza.analysis.realism import (
    FEATURE_NAMES,
    stretch_features,
    stretch_score,
    stretches,
    two_sample_accuracy,
)
from cadenza.errors import InvalidArgumentError


def feature(vector: np.ndarray, name: str) -> float:
    return float(vector[FEATURE_NAMES.index(name)])


def test_stretches_are_whole_and_hold_notes() -> None:
    beats = [b for b in range(40 * 4) if not 64 <= b < 128]  # bars 16..31 silent
    score = make_score([(60, b, b + 1) for b in beats])
    assert bar_count(score) == 40
    assert stretches(score) == [0]  # bars 16..31 hold nothing, bars 32..39 are too few
    assert stretches(score, bars=8) == [0, 8, 32]
    six_eight = make_score([(60, b * 1.5, b * 1.5 + 1.5) for b in range(64)], meter=(6, 8))
    assert stretches(six_eight) == [0, 16]
    with pytest.raises(InvalidArgumentError):
        stretches(score, bars=0)


def test_features_of_a_known_score() -> None:
    # bar 0: C4 half note (vel 60) and E4 16th (vel 100) together; bar 1 the same again.
    notes = [(60, 0, 2, 60), (64, 0, 0.25, 100), (60, 4, 6, 60), (64, 4, 4.25, 100)]
    score = make_score(notes)
    v = stretch_features(score, 0, bars=2)
    assert v.shape == (len(FEATURE_NAMES),)
    assert feature(v, "pitch_mean") == 62.0
    assert feature(v, "pitch_std") == 2.0
    assert feature(v, "velocity_mean") == 80.0
    assert feature(v, "velocity_std") == 20.0
    assert feature(v, "dur_<=16th") == 0.5 and feature(v, "dur_half") == 0.5
    assert feature(v, "ioi_whole") == 1.0  # one gap between onsets: bar 0 to bar 1, 4 quarters
    assert feature(v, "bar_repetition") == 1.0
    # 16th steps with sound: 1 step of two notes, 7 of one, in each bar
    assert feature(v, "polyphony") == pytest.approx(9 / 8)
    assert feature(v, "top_unison") == 1.0  # the top line: E4, E4
    with pytest.raises(InvalidArgumentError, match="outside"):
        stretch_features(score, 1, bars=2)


def test_pitch_profile_is_counted_from_the_key() -> None:
    c = stretch_features(make_score(C_MAJOR_SCALE), 0, bars=2)
    g = stretch_features(make_score([(p + 7, s, e) for p, s, e in C_MAJOR_SCALE]), 0, bars=2)
    profile = np.array([feature(c, f"pc{i}") for i in range(12)])
    assert profile.tolist() == [0.25, 0, 0.125, 0, 0.125, 0.125, 0, 0.125, 0, 0.125, 0, 0.125]
    assert np.array_equal(c[:12], g[:12])
    assert feature(g, "pitch_mean") == feature(c, "pitch_mean") + 7
    a_minor = stretch_features(make_score([(57, 0, 2), (60, 2, 3), (64, 3, 4), (57, 4, 8)]), 0, bars=2)
    assert feature(a_minor, "pc9") > feature(a_minor, "pc0")  # "la" is A: counted from C, its relative major


def test_bar_repetition_of_through_composed_music_is_zero() -> None:
    score = make_score([(48 + b, b, b + 1) for b in range(16)])  # four bars, no bar repeated
    assert feature(stretch_features(score, 0, bars=4), "bar_repetition") == 0.0


def test_same_distribution_is_near_chance() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(200, 36)), rng.normal(size=(200, 36))
    mean, std = two_sample_accuracy(a, b)
    assert 0.35 < mean < 0.65
    assert std >= 0.0


def test_separated_distributions_are_told_apart() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=(200, 36))
    b = rng.normal(size=(150, 36))
    b[:, 5] += 4.0  # one feature gives it away
    mean, _ = two_sample_accuracy(a, b)
    assert mean > 0.95


def test_accuracy_is_deterministic_and_seeded() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(120, 10)), rng.normal(0.3, 1.0, size=(90, 10))
    assert two_sample_accuracy(a, b, seed=7) == two_sample_accuracy(a, b, seed=7)
    results = {two_sample_accuracy(a, b, seed=s) for s in range(5)}
    assert len(results) > 1  # the seed picks the subsample and the folds


def test_accuracy_rejects_bad_input() -> None:
    ok = np.zeros((20, 4))
    with pytest.raises(InvalidArgumentError, match="nan"):
        two_sample_accuracy(ok, np.full((20, 4), np.nan))
    with pytest.raises(InvalidArgumentError, match="shapes"):
        two_sample_accuracy(ok, np.zeros((20, 5)))
    with pytest.raises(InvalidArgumentError, match="rows"):
        two_sample_accuracy(ok, np.zeros((3, 4)))


def test_stretch_score_starts_at_zero() -> None:
    score = make_score([(60 + b % 4, b, b + 1, 50 + b) for b in range(32)])  # 8 bars
    part = stretch_score(score, 4, bars=4)
    assert part.tracks[0].notes[0].time == 0 and part.tracks[0].notes[0].velocity == 66
    assert sum(len(t.notes) for t in part.tracks) == 16
    assert np.array_equal(stretch_features(part, 0, bars=4), stretch_features(score, 4, bars=4))


def test_groups_keep_a_song_out_of_its_own_test() -> None:
    # 30 "songs" per set, 8 near-identical stretches each, all from one distribution:
    # split row by row, the classifier recognises songs it has seen; split by song, it cannot.
    rng = np.random.default_rng(4)
    songs_a, songs_b = rng.normal(size=(30, 30)), rng.normal(size=(30, 30))
    a = np.repeat(songs_a, 8, axis=0) + 0.01 * rng.normal(size=(240, 30))
    b = np.repeat(songs_b, 8, axis=0) + 0.01 * rng.normal(size=(240, 30))
    labels = np.repeat(np.arange(30), 8)
    by_row, _ = two_sample_accuracy(a, b)
    by_song, _ = two_sample_accuracy(a, b, real_groups=labels, other_groups=labels)
    assert by_row > 0.75
    assert by_song < 0.65
    with pytest.raises(InvalidArgumentError, match="groups"):
        two_sample_accuracy(a, b, real_groups=labels % 3)


def test_a_silent_stretch_has_no_features() -> None:
    score = make_score([(60, 0, 1), (62, 12, 13)])  # bars 1 and 2 silent
    assert np.isnan(stretch_features(score, 1, bars=2)).all()
    assert not np.isnan(stretch_features(score, 0, bars=2)).any()
