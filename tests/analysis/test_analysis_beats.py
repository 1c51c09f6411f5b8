"""Beats, downbeats, tempo and meter."""

from __future__ import annotations

import numpy as np
import pytest
import symusic
from analysis_scores import I_IV_V_I, block_chords, make_score

from cadenza.analysis import beat_grid, meter_segments, tempo_segments


def test_beats_on_the_grid_follow_the_tempo_map() -> None:
    score = make_score(block_chords(I_IV_V_I * 2), qpm=90)
    grid = beat_grid(score)
    assert grid.source == "grid"
    secs = grid.beat_seconds()
    assert secs.size == 32
    np.testing.assert_allclose(np.diff(secs), 60 / 90, rtol=1e-5)  # MIDI stores µs/quarter
    [(start, bpm)] = tempo_segments(grid)
    assert start == 0.0 and bpm == pytest.approx(90.0, rel=1e-5)


def test_downbeats_on_the_chord_changes() -> None:
    grid = beat_grid(make_score(block_chords(I_IV_V_I * 2)))
    np.testing.assert_array_equal(grid.downbeats, np.arange(0, 32, 4))
    assert meter_segments(grid) == [(0.0, 4, 4)]


def test_offset_grid_is_found_from_the_notes() -> None:
    # everything starts 100 ticks late, as in POP909 files
    notes = [(p, s + 100 / 480, e + 100 / 480) for p, s, e in block_chords(I_IV_V_I)]
    grid = beat_grid(make_score(notes))
    assert abs(grid.beats[0] - 100) <= 2
    np.testing.assert_allclose(np.diff(grid.beats), 480)


def test_waltz_bars_of_three() -> None:
    chords = [[60, 64, 67], [65, 69, 72], [67, 71, 74], [60, 64, 67]] * 2
    grid = beat_grid(make_score(block_chords(chords, beats_each=3), meter=(3, 4)))
    np.testing.assert_array_equal(grid.downbeats, np.arange(0, 24, 3))
    assert meter_segments(grid)[0][1:] == (3, 4)


def test_performed_midi_without_grid_is_tracked_from_onsets() -> None:
    rng = np.random.default_rng(0)
    tpq, period_s = 480, 0.6  # 100 bpm played into a 120 bpm file: no grid
    score = symusic.Score(tpq)
    track = symusic.Track(name="piano")
    ticks_per_s = tpq * 2
    for i in range(60):
        t = int((0.3 + i * period_s + rng.normal(0, 0.01)) * ticks_per_s)
        track.notes.append(symusic.Note(t, 200, 48 if i % 4 == 0 else 60, 90))
        track.notes.append(symusic.Note(t + int(period_s / 2 * ticks_per_s) + 37, 90, 67, 60))
    score.tracks.append(track)
    grid = beat_grid(score)
    assert grid.source == "onsets"
    assert abs(np.median(np.diff(grid.beat_seconds())) - period_s) < 0.02


def test_empty_and_drum_only() -> None:
    empty = beat_grid(make_score([]))
    assert empty.beats.size == 0 and empty.downbeats.size == 0 and empty.source == "empty"
    assert tempo_segments(empty) == [] and meter_segments(empty) == []
    drums = beat_grid(make_score([(36, b, b + 0.25) for b in range(8)], drum=True))
    assert drums.beats.size == 8


def test_single_note_has_one_beat() -> None:
    grid = beat_grid(make_score([(60, 0, 1)]))
    assert grid.beats.tolist() == [0.0]
    assert grid.downbeats.tolist() == [0]


def test_pop909_beats_match_the_annotation(datasets) -> None:
    song = datasets / "pop909" / "002"
    grid = beat_grid(symusic.Score(str(song / "002.mid")))
    ref = np.loadtxt(song / "beat_midi.txt")[:, 0]
    est = grid.beat_seconds()
    ref = ref[ref > 5.0]
    hit = np.abs(est[np.clip(np.searchsorted(est, ref), 1, est.size - 1)][:, None] - ref[:, None])
    near = np.minimum(hit[:, 0], np.abs(est[np.clip(np.searchsorted(est, ref) - 1, 0, None)] - ref))
    assert (near < 0.07).mean() > 0.95


def _hits(a: np.ndarray, b: np.ndarray, window: float = 0.07) -> int:
    """How many times of ``a`` have a time of ``b`` within ``window`` seconds."""
    if a.size == 0 or b.size == 0:
        return 0
    j = np.clip(np.searchsorted(b, a), 1, b.size - 1)
    return int((np.minimum(np.abs(b[j] - a), np.abs(b[j - 1] - a)) <= window).sum())


def test_pop909_downbeats_on_the_development_songs(datasets) -> None:
    """Mean downbeat F on the songs the evidence weights were fitted on (006, 016, ..., 906).

    The 5-feature model before the context evidence scored 0.760 here, the current one
    0.779 (the bench's mir_eval scores agree to the third decimal)."""
    songs = sorted(p for p in (datasets / "pop909").iterdir() if (p / f"{p.name}.mid").is_file())
    scores = []
    for song in [s for s in songs if s.name.isdigit() and int(s.name) % 10 == 6]:
        grid = beat_grid(symusic.Score(str(song / f"{song.name}.mid")))
        ref = np.loadtxt(song / "beat_midi.txt", ndmin=2)
        ref = ref[(ref[:, 2] == 1) & (ref[:, 0] >= 5.0), 0]
        est = grid.downbeat_seconds()
        est = est[est >= 5.0]
        precision, recall = _hits(est, ref) / max(est.size, 1), _hits(ref, est) / max(ref.size, 1)
        scores.append(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    assert len(scores) >= 90
    assert float(np.mean(scores)) > 0.77
