"""MuseGAN's objective metrics on hand-made scores with known answers, and on a POP909 song."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import symusic

from cadenza.analysis.musegan_metrics import (
    N_PITCHES,
    TRACKS,
    MuseganCounts,
    Roll,
    empty_bar_rate,
    musegan_counts,
    musegan_metrics,
    musegan_parts,
    piano_roll,
    qualified_note_rate,
    qualified_steps,
    roll_counts,
    tonal_distance,
    track_counts,
    used_pitch_classes,
)

TPQ = 480
Spec = tuple[int, int, int]  # (pitch, start tick, end tick)


def score_of(tracks: dict[str, list[Spec]], tpq: int = TPQ, drums: tuple[str, ...] = ()) -> symusic.Score:
    """A Score with one track per name, notes given in ticks."""
    score = symusic.Score(tpq)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    for name, notes in tracks.items():
        track = symusic.Track(name=name, program=0, is_drum=name in drums)
        for pitch, start, end in notes:
            track.notes.append(symusic.Note(start, end - start, pitch, 80))
        score.tracks.append(track)
    return score


def beats(pitch: int, first: float, last: float) -> Spec:
    return pitch, round(first * TPQ), round(last * TPQ)


def chord(pitches: tuple[int, ...], first: float, last: float) -> list[Spec]:
    return [beats(p, first, last) for p in pitches]


C_MAJOR, G_MAJOR, F_SHARP_MAJOR = (60, 64, 67), (55, 59, 62), (54, 58, 61)


def test_a_bar_of_c_e_g_uses_three_pitch_classes_and_octaves_do_not_add() -> None:
    melody = [beats(60, 0, 1), beats(64, 1, 2), beats(67, 2, 3), beats(72, 3, 4)]  # C E G C'
    roll = piano_roll(score_of({"MELODY": melody, "PIANO": chord(C_MAJOR, 0, 4)}))
    assert roll.data.shape == (3, 1, 96, N_PITCHES)
    assert used_pitch_classes(roll.data[0]) == 3
    assert used_pitch_classes(roll.data[2]) == 3


def test_upc_is_the_mean_over_non_empty_bars_only() -> None:
    # bar 0: C E G; bar 1: silent; bar 2: D alone
    melody = [*chord(C_MAJOR, 0, 1), beats(62, 8, 9)]
    metrics = musegan_metrics(score_of({"MELODY": melody, "PIANO": chord(C_MAJOR, 0, 12)}))
    assert metrics["UPC melody"] == 2.0  # (3 + 1) / 2, the empty bar left out
    assert metrics["EB melody"] == pytest.approx(1 / 3)


def test_a_bar_where_a_track_is_silent_counts_as_empty() -> None:
    score = score_of({"MELODY": [beats(72, 0, 2)], "BRIDGE": [], "PIANO": chord(C_MAJOR, 0, 8)})
    roll = piano_roll(score)
    assert roll.data.shape[1] == 2  # the piano's two bars set the length
    assert empty_bar_rate(roll.data[0]) == 0.5
    assert empty_bar_rate(roll.data[1]) == 1.0  # a track that is there but never plays
    assert empty_bar_rate(roll.data[2]) == 0.0
    metrics = musegan_metrics(score)
    assert math.isnan(metrics["UPC bridge"]) and math.isnan(metrics["QN bridge"])


@pytest.mark.parametrize(
    ("steps_per_beat", "short", "enough"),
    [(24, 2, 3), (12, 1, 2)],  # a 32nd note is 3 steps at 24 a beat, 1.5 (so 2) at 12
)
def test_a_note_shorter_than_a_32nd_is_not_qualified(steps_per_beat: int, short: int, enough: int) -> None:
    assert qualified_steps(steps_per_beat) == enough
    step = TPQ // steps_per_beat
    melody = [(72, 0, short * step), (74, TPQ, TPQ + enough * step)]
    roll = piano_roll(score_of({"MELODY": melody, "PIANO": chord(C_MAJOR, 0, 4)}), steps_per_beat)
    counts = track_counts(roll.data[0])
    assert (counts.notes, counts.qualified_notes) == (2, 1)
    assert qualified_note_rate(roll.data[0]) == 0.5


def test_a_note_held_across_a_bar_line_is_one_note() -> None:
    melody = [beats(72, 3.92, 4.08)]  # steps 94..97 at 24 a beat: 2 steps either side of the bar line
    counts = track_counts(piano_roll(score_of({"MELODY": melody, "PIANO": chord(C_MAJOR, 0, 8)})).data[0])
    assert (counts.notes, counts.qualified_notes) == (1, 1)


def test_the_roll_keeps_onsets_and_lengths_on_the_grid() -> None:
    # a 16th at beat 1.5 of bar 1 (steps 132..137 at 24 a beat), a dotted half from beat 2
    melody = [beats(67, 5.5, 5.75), beats(48, 2, 5)]
    roll = piano_roll(score_of({"MELODY": melody, "PIANO": []}))
    flat = roll.data[0].reshape(-1, N_PITCHES)
    assert np.flatnonzero(flat[:, 67 - 24]).tolist() == list(range(132, 138))
    assert np.flatnonzero(flat[:, 48 - 24]).tolist() == list(range(48, 120))
    assert flat.sum() == 6 + 72
    # at 12 a beat the same notes fall on steps 66..68 and 24..59
    flat12 = piano_roll(score_of({"MELODY": melody, "PIANO": []}), 12).data[0].reshape(-1, N_PITCHES)
    assert np.flatnonzero(flat12[:, 67 - 24]).tolist() == [66, 67, 68]
    assert np.flatnonzero(flat12[:, 48 - 24]).tolist() == list(range(24, 60))


def test_ticks_off_the_grid_round_to_the_nearest_step() -> None:
    step = TPQ // 24  # 20 ticks
    melody = [(72, 9, 9 + 3 * step), (74, TPQ + 10, TPQ + 10 + 3 * step)]
    flat = piano_roll(score_of({"MELODY": melody, "PIANO": []})).data[0].reshape(-1, N_PITCHES)
    assert np.flatnonzero(flat[:, 72 - 24]).tolist() == [0, 1, 2]
    assert np.flatnonzero(flat[:, 74 - 24]).tolist() == [25, 26, 27]


def test_pitches_outside_the_84_and_drum_tracks_are_left_out() -> None:
    score = score_of({"MELODY": [beats(23, 0, 1), beats(108, 1, 2), beats(24, 2, 3), beats(107, 3, 4)], "PIANO": []})
    flat = piano_roll(score).data[0].reshape(-1, N_PITCHES)
    assert flat.any(axis=0).nonzero()[0].tolist() == [0, N_PITCHES - 1]
    drums = score_of({"MELODY": [beats(72, 0, 1)], "PIANO": [], "kit": [beats(36, 0, 4)]}, drums=("kit",))
    assert piano_roll(drums).data.shape[1] == 1 and not piano_roll(drums).data[2].any()


def test_tonal_distance_of_identical_tracks_is_zero_and_of_distant_keys_is_large() -> None:
    def roll(melody: list[Spec], piano: list[Spec]) -> np.ndarray:
        return piano_roll(score_of({"MELODY": melody, "PIANO": piano}), bars=1).data

    same = roll(chord(C_MAJOR, 0, 4), chord(C_MAJOR, 0, 4))
    assert tonal_distance(same[0], same[2]) == pytest.approx(0.0, abs=1e-12)
    octave_apart = roll(chord(C_MAJOR, 0, 4), chord(tuple(p - 24 for p in C_MAJOR), 0, 4))
    assert tonal_distance(octave_apart[0], octave_apart[2]) == pytest.approx(0.0, abs=1e-12)
    tritone = roll(chord(C_MAJOR, 0, 4), chord(F_SHARP_MAJOR, 0, 4))
    fifth = roll(chord(C_MAJOR, 0, 4), chord(G_MAJOR, 0, 4))
    far, near = tonal_distance(tritone[0], tritone[2]), tonal_distance(fifth[0], fifth[2])
    assert far > 1.9 and near < 1.3 and far > near
    assert tonal_distance(tritone[0], tritone[2], "bar") == pytest.approx(far)  # one chord all bar long


def test_tonal_distance_leaves_out_beats_where_a_track_is_silent() -> None:
    melody = chord(C_MAJOR, 0, 1) + chord(F_SHARP_MAJOR, 1, 2)  # beats 2 and 3 silent
    data = piano_roll(score_of({"MELODY": melody, "PIANO": chord(C_MAJOR, 0, 4)})).data
    counts = musegan_counts(score_of({"MELODY": melody, "PIANO": chord(C_MAJOR, 0, 4)})).melody_piano
    assert counts is not None and counts.beats == 2
    expected = tonal_distance(
        *piano_roll(score_of({"MELODY": chord(F_SHARP_MAJOR, 0, 4), "PIANO": chord(C_MAJOR, 0, 4)})).data[[0, 2]]
    )
    assert tonal_distance(data[0], data[2]) == pytest.approx(expected / 2)
    silent = piano_roll(score_of({"MELODY": [], "PIANO": chord(C_MAJOR, 0, 4)})).data
    assert math.isnan(tonal_distance(silent[0], silent[2]))


def test_cadenza_multitrack_names_map_harmony_and_bass_to_piano_and_leave_no_bridge() -> None:
    score = score_of(
        {
            "piano (melody)": [beats(76, 0, 4)],
            "piano (harmony)": chord((60, 64), 0, 4),
            "piano (bass)": [beats(36, 0, 4)],
        }
    )
    parts = musegan_parts(score)
    assert sorted(parts) == ["melody", "piano"]
    assert sorted(parts["piano"].pitch.tolist()) == [36, 60, 64]
    counts = musegan_counts(score)
    assert counts.tracks["piano"].pitch_classes == 2  # C and E: the bass's C is the harmony's class
    metrics = counts.metrics()
    assert math.isnan(metrics["EB bridge"]) and metrics["EB melody"] == 0.0


def test_one_keyboard_track_is_split_into_its_skyline_melody_and_the_rest() -> None:
    # block chords with a tune on top: the top notes are the melody, the rest the piano
    notes = chord((48, 55, 64, 72), 0, 2) + chord((48, 55, 64, 74), 2, 4)
    parts = musegan_parts(score_of({"piano": notes}))
    assert sorted(parts) == ["melody", "piano"]
    assert parts["melody"].pitch.tolist() == [72, 74]
    assert sorted(parts["piano"].pitch.tolist()) == [48, 48, 55, 55, 64, 64]


def test_unnamed_tracks_take_the_roles_their_notes_play() -> None:
    tune = [beats(72 + (i % 3) * 2, i, i + 1) for i in range(8)]
    score = score_of({"violin": tune, "guitar": chord(C_MAJOR, 0, 4) + chord(G_MAJOR, 4, 8)})
    parts = musegan_parts(score)
    assert sorted(parts) == ["melody", "piano"]
    assert sorted(set(parts["melody"].pitch.tolist())) == [72, 74, 76]


def test_counts_of_two_pieces_pool_their_bars() -> None:
    one = musegan_counts(score_of({"MELODY": [beats(72, 0, 4)], "PIANO": chord(C_MAJOR, 0, 8)}))
    two = musegan_counts(score_of({"MELODY": [], "PIANO": chord(C_MAJOR, 0, 4)}))
    both = one + two
    assert both.tracks["melody"].bars == 3 and both.tracks["melody"].eb == pytest.approx(2 / 3)
    assert both.metrics()["UPC melody"] == 1.0
    assert sum([one, two], MuseganCounts()).metrics() == pytest.approx(both.metrics(), nan_ok=True)


def test_an_empty_score_gives_nan_not_numbers() -> None:
    metrics = musegan_metrics(score_of({"MELODY": [], "BRIDGE": [], "PIANO": []}))
    assert set(metrics) == {f"{m} {t}" for m in ("EB", "UPC", "QN") for t in TRACKS} | {
        "TD melody-piano",
        "TD melody-piano per bar",
    }
    assert all(math.isnan(v) for v in metrics.values())


def test_bars_fixes_the_length_of_the_roll() -> None:
    score = score_of({"MELODY": [beats(72, 0, 12)], "PIANO": []})
    assert piano_roll(score, bars=8).data.shape[1] == 8
    cut = piano_roll(score, bars=2).data[0]  # the note cut off after two bars
    assert cut.shape[0] == 2 and cut[:, :, 72 - 24].all()
    assert empty_bar_rate(piano_roll(score, bars=8).data[0]) == 5 / 8


def test_a_pop909_song_gives_plausible_values(datasets: Path) -> None:
    from cadenza.data.sources import list_files, parse_source_spec, read_file

    path = datasets / "pop909" / "001" / "001.mid"
    if not path.is_file():
        pytest.skip("needs pop909/001/001.mid")
    ref = next(r for r in list_files(parse_source_spec(f"pop909={datasets / 'pop909'}")) if r.path == str(path))
    metrics = musegan_metrics(read_file(ref)[0].score)
    for role in TRACKS:
        assert 0.0 <= metrics[f"EB {role}"] < 0.6
        assert 1.5 < metrics[f"UPC {role}"] < 7.0
        assert 0.85 < metrics[f"QN {role}"] <= 1.0
    assert metrics["EB piano"] < 0.1 and metrics["UPC piano"] > metrics["UPC melody"]
    assert 0.5 < metrics["TD melody-piano per bar"] < metrics["TD melody-piano"] < 1.6
    raw = musegan_metrics(symusic.Score(path))  # the file as it is: bars from its tick 0
    assert 0.0 <= raw["EB melody"] < 0.6


def test_the_counts_of_some_bars_of_a_roll_count_only_those_bars() -> None:
    score = score_of({"MELODY": [beats(72, 0, 4), beats(74, 16, 17)], "PIANO": chord(C_MAJOR, 0, 20)})
    roll = piano_roll(score)
    assert roll.data.shape[1] == 5
    first_four = roll_counts(Roll(roll.data[:, :4], roll.present, roll.steps_per_beat))
    assert first_four.tracks["melody"].bars == 4 and first_four.tracks["melody"].eb == 0.75
    assert first_four.tracks["melody"].notes == 1
    assert roll_counts(roll).tracks["melody"].notes == 2
