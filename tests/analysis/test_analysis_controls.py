"""The bar grid of the time signatures and the per-bar, per-track controls."""

from __future__ import annotations

import symusic
from analysis_scores import block_chords, make_score

from cadenza.analysis import bar_controls, bar_grid, notes_by_bar, piece_controls
from cadenza.analysis._notes import pitched_notes
from cadenza.analysis.controls import density_bin, polyphony_bin


def _line(pitch: int, start: float, end: float, step: float, velocity: int = 80) -> list[tuple[int, float, float, int]]:
    """Repeated notes of one pitch every ``step`` beats from ``start`` to ``end``."""
    n = round((end - start) / step)
    return [(pitch, start + i * step, start + (i + 1) * step, velocity) for i in range(n)]


def test_bars_follow_the_time_signatures() -> None:
    score = make_score([(60, 0, 1), (62, 13, 14)])  # 4/4 at 0
    score.time_signatures.append(symusic.TimeSignature(480 * 8, 3, 4))  # bar 3 on: 3/4
    bars = bar_grid(score)
    assert (bars.starts // 480).tolist() == [0, 4, 8, 11]
    assert bars.beats.tolist() == [4, 4, 3, 3]
    assert bars.ends[-1] == 14 * 480  # the last bar is whole, past the last note


def test_a_signature_inside_a_bar_cuts_it_short_and_compound_beats() -> None:
    score = make_score([(60, 0, 1), (60, 9, 10)])
    score.time_signatures.append(symusic.TimeSignature(480 * 6, 6, 8))
    bars = bar_grid(score)
    assert (bars.starts // 240).tolist() == [0, 8, 12, 18]  # in eighths
    assert bars.beats.tolist() == [4, 2, 2, 2]  # 6/8 counts two dotted quarters
    assert bars.beat_ticks.tolist() == [480, 480, 720, 720]


def test_no_signature_is_four_four_and_no_notes_no_bars() -> None:
    bars = bar_grid(make_score([(60, 0, 9)], meter=None))
    assert (bars.starts // 480).tolist() == [0, 4, 8]
    assert len(bar_grid(make_score([]))) == 0
    assert bar_controls(make_score([])) == []


def test_notes_belong_to_the_bar_of_their_onset() -> None:
    score = make_score([(60, 0, 6), (62, 3, 4), (64, 4, 5), (65, 9, 10)])
    per_bar = notes_by_bar(pitched_notes(score), bar_grid(score))
    assert [b.pitch.tolist() for b in per_bar] == [[60, 62], [64], [65]]


def test_more_notes_per_beat_give_a_higher_density_bin() -> None:
    notes = _line(60, 0, 4, 1.0) + _line(60, 4, 8, 0.5) + _line(60, 8, 12, 0.25) + _line(60, 12, 16, 4.0)
    bars = bar_controls(make_score(notes))
    assert [b.onsets for b in bars] == [4, 8, 16, 1]
    assert [b.density for b in bars] == [1.0, 2.0, 4.0, 0.25]
    bins = [b.density_bin for b in bars]
    assert bins[3] < bins[0] < bins[1] < bins[2]
    assert [b.tracks[0].density_bin for b in bars] == bins


def test_density_and_polyphony_bin_edges() -> None:
    assert [density_bin(x) for x in (0, 0.25, 0.5, 1, 1.9, 2, 8, 20)] == [0, 1, 2, 3, 3, 4, 8, 8]
    assert [polyphony_bin(x) for x in (0, 1, 1.5, 2.4, 3, 7)] == [0, 1, 2, 2, 3, 6]


def test_polyphony_counts_the_notes_sounding_at_onsets() -> None:
    line = _line(72, 0, 4, 1.0)
    triads = [(p, 4 + i, 5 + i) for i in range(4) for p in (60, 64, 67)]
    held = [(48, 8, 12), *_line(72, 8, 12, 1.0)]  # a held bass under a line: two sound
    bars = bar_controls(make_score(line + triads + held))
    assert [b.polyphony for b in bars] == [1.0, 3.0, 2.0]
    assert [b.polyphony_bin for b in bars] == [1, 3, 2]


def test_the_chord_of_a_bar() -> None:
    score = make_score(block_chords([[60, 64, 67], [57, 60, 64], [55, 59, 62, 65]]))
    chords = [b.chord for b in bar_controls(score)]
    assert [(c.root, c.quality) for c in chords] == [(0, "maj"), (9, "min"), (7, "7")]
    assert chords[0].label == "C:maj" and chords[0].changes == ("C:maj",)


def test_a_bar_of_two_chords_names_the_first_and_lists_both() -> None:
    halves = block_chords([[60, 64, 67], [53, 57, 60], [55, 59, 62], [60, 64, 67]], beats_each=2)
    chords = [b.chord for b in bar_controls(make_score(halves))]
    assert [c.label for c in chords] == ["C:maj", "G:maj"]
    assert [c.changes for c in chords] == [("C:maj", "F:maj"), ("G:maj", "C:maj")]


def test_an_empty_bar() -> None:
    score = make_score(block_chords([[60, 64, 67]]) + block_chords([[60, 64, 67]], start=8))
    empty = bar_controls(score)[1]
    assert (empty.onsets, empty.density_bin, empty.polyphony_bin, empty.intensity) == (0, 0, 0, 0)
    assert (empty.chord.label, empty.chord.root, empty.chord.quality, empty.chord.changes) == ("N", None, None, ("N",))
    assert all(t.onsets == 0 and t.density_bin == 0 for t in empty.tracks)


def test_intensity_rises_with_density_loudness_and_tracks() -> None:
    soft = _line(60, 0, 4, 2.0, velocity=40)
    loud = _line(60, 4, 8, 0.25, velocity=120)
    full = _line(60, 8, 12, 0.25, velocity=120)
    bass = [(36, 8, 12, 120)]
    levels = [b.intensity for b in bar_controls(make_score(soft + loud + full, extra_tracks=[("bass", bass)]))]
    assert 1 <= levels[0] < levels[1] < levels[2] <= 7


def test_a_drum_only_piece() -> None:
    hits = _line(36, 0, 8, 0.5) + _line(42, 0, 8, 0.25)
    result = piece_controls(make_score(hits, drum=True))
    assert len(result.bars) == 2
    for bar in result.bars:
        assert (bar.onsets, bar.density_bin, bar.polyphony_bin, bar.chord.label) == (0, 0, 0, "N")
        assert bar.intensity > 0
        assert bar.tracks[0].onsets == 24
    assert (result.tracks[0].role, result.tracks[0].register) == ("percussion", None)


def test_controls_are_the_same_after_a_midi_round_trip() -> None:
    score = make_score(
        block_chords([[60, 64, 67], [57, 60, 64]]) + _line(72, 0, 8, 0.5),
        extra_tracks=[("lead", _line(79, 0, 8, 1.0))],
    )
    again = symusic.Score.from_midi(score.dumps_midi())
    assert piece_controls(score) == piece_controls(again)
    assert [t.role for t in piece_controls(score).tracks] == ["harmony", "melody"]
