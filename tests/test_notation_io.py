"""MusicXML, ABC and Humdrum: reading from the music21 corpus and writing MusicXML back."""

from __future__ import annotations

from pathlib import Path

import pytest
from music21 import converter, corpus

from cadenza.errors import InvalidArgumentError
from cadenza.io import load_score, load_scores, save_score
from cadenza.io.notation_grid import notation_grid
from tests.helpers import make_score, music21_notes


def test_musicxml_chorale_loads_with_parts_and_key() -> None:
    score = load_score(corpus.getWork("bach/bwv66.6"))  # a compressed .mxl
    assert [t.name for t in score.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert score.note_num() == 163
    assert score.key_signatures[0].key == 3 and score.key_signatures[0].tonality == 1  # F# minor
    # the pick-up quarter is a bar of its own, 1/4, before the 4/4 bars (as MIDI states a pickup)
    assert [(t.time, t.numerator, t.denominator) for t in score.time_signatures] == [(0, 1, 4), (score.tpq, 4, 4)]
    soprano = score.tracks[0].notes
    assert soprano[0].pitch == 73 and soprano[0].duration == score.tpq // 2  # C#5 pick-up eighth


def test_humdrum_chorale_loads() -> None:
    path = next(p for p in corpus.getPaths(fileExtensions=["krn"]) if p.name == "bwv277.krn")
    score = load_score(path)
    assert len(score.tracks) >= 4
    assert score.note_num() > 50
    assert all(0 < n.pitch < 128 for t in score.tracks for n in t.notes)


def test_abc_book_loads_every_tune(tmp_path: Path) -> None:
    tunes = "\n".join(f"X:{i}\nT:Tune {i}\nM:6/8\nL:1/8\nK:G\n|:GAB cde|d2B G3:|\n" for i in range(1, 4))
    path = tmp_path / "book.abc"
    path.write_text(tunes)
    scores = load_scores(path)
    assert len(scores) == 3
    first = scores[0]
    assert [n.pitch for n in first.tracks[0].notes[:6]] == [67, 69, 71, 72, 74, 76]
    assert (first.time_signatures[0].numerator, first.time_signatures[0].denominator) == (6, 8)
    assert first.key_signatures[0].key == 1  # G major: one sharp
    with pytest.raises(InvalidArgumentError):
        load_score(path, index=3)


def test_abc_from_the_corpus_loads() -> None:
    path = next(p for p in corpus.getPaths(fileExtensions=["abc"]) if p.stat().st_size < 20_000)
    scores = load_scores(path)
    assert scores and scores[0].note_num() > 10


@pytest.mark.parametrize("extension", [".musicxml", ".xml", ".mxl"])
def test_written_musicxml_loads_back_in_music21_with_same_notes(tmp_path: Path, extension: str) -> None:
    source = corpus.getWork("bach/bwv66.6")
    original = converter.parse(source)
    out = save_score(load_score(source), tmp_path / f"chorale{extension}")
    back = converter.parse(out)
    assert len(back.parts) == 4
    assert music21_notes(back) == music21_notes(original)


def test_overlapping_notes_of_one_track_survive_musicxml(tmp_path: Path) -> None:
    # a held bass note under a moving line, and a two-note chord: needs two voices
    score = make_score([(48, 0, 4), (60, 0, 1), (64, 0, 1), (62, 1, 2), (64, 2, 4)])
    out = save_score(score, tmp_path / "voices.musicxml")
    back = converter.parse(out)
    assert music21_notes(back) == [(0.0, 1.0, 60), (0.0, 1.0, 64), (0.0, 4.0, 48), (1.0, 1.0, 62), (2.0, 2.0, 64)]
    assert load_score(out).note_num() == 5


def _grid_notes(score) -> list[tuple[int, int, int, int]]:
    """(track, start, length, pitch) of every note on a grid of 1/12 quarter."""
    quarter = score.to("quarter")
    return sorted(
        (index, round(n.time * 12), round(n.duration * 12), n.pitch)
        for index, track in enumerate(quarter.tracks)
        for n in track.notes
    )


def test_ties_across_bar_lines_in_interleaved_voices_come_back_whole(tmp_path: Path) -> None:
    # Two notes held across the bar line under a held bass: three voices, each tied.
    # music21's stripTies on the flattened part joined B2's tie chain to F#3's notes.
    score = make_score([(40, 0, 8), (47, 17 / 4, 39 / 4), (54, 9 / 2, 10)])
    back = load_score(save_score(score, tmp_path / "tied.musicxml"))
    assert _grid_notes(back) == _grid_notes(score)


@pytest.mark.slow
@pytest.mark.datasets
def test_a_pop909_song_comes_back_from_musicxml_note_for_note(datasets: Path, tmp_path: Path) -> None:
    score = load_score(datasets / "pop909" / "001" / "001.mid")
    out = save_score(score, tmp_path / "001.musicxml")
    assert out.stat().st_size > 1_000_000  # (2.7 MB on a 1/12-quarter grid, which a 30 s wall-clock limit refused)
    assert _grid_notes(load_score(out)) == _grid_notes(notation_grid(score))  # the notes on their notation grid
