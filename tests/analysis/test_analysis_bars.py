"""Bars and meter as the file states them: one count for info, analyze and generate."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import symusic
from analysis_scores import block_chords, make_score
from typer.testing import CliRunner

from cadenza.analysis import analyze_score
from cadenza.analysis.bars import bar_count, bar_lines, bar_numbers, meter_changes, music_end
from cadenza.cli import app
from cadenza.io.summary import summarize

TPQ = 480
C, F, G = [60, 64, 67], [60, 65, 69], [59, 62, 67]


def with_meters(score: symusic.Score, *meters: tuple[float, int, int]) -> symusic.Score:
    """``score`` with its time signatures replaced by ``(quarter, numerator, denominator)``."""
    score.time_signatures.clear()
    for quarter, num, den in meters:
        score.time_signatures.append(symusic.TimeSignature(round(quarter * TPQ), num, den))
    return score


def test_bars_of_one_meter_up_to_the_last_note() -> None:
    score = make_score([(60, 0, 1), (62, 10, 12.5)])  # 4/4, the last note ends in bar 4
    assert music_end(score) == 12.5 * TPQ
    assert bar_count(score) == 4
    np.testing.assert_array_equal(bar_lines(score), [0, 4 * TPQ, 8 * TPQ, 12 * TPQ])
    exact = make_score([(60, 0, 8)])  # ending on a bar line opens no new bar
    assert bar_count(exact) == 2


def test_meter_changes_and_a_signature_inside_a_bar() -> None:
    # 3/4 for two bars, then 2/4 arriving in the middle of a bar (quarter 7), then 6/8
    score = with_meters(make_score([(60, 0, 15)]), (0, 3, 4), (7, 2, 4), (9, 6, 8))
    np.testing.assert_array_equal(bar_lines(score) / TPQ, [0, 3, 6, 7, 9, 12])
    assert bar_count(score) == 6
    assert meter_changes(score) == [(0, 3, 4), (7 * TPQ, 2, 4), (9 * TPQ, 6, 8)]
    onsets = np.array([0, 2.9, 3, 6.5, 7, 8.99, 9, 14.9, 20]) * TPQ
    np.testing.assert_array_equal(bar_numbers(score, onsets), [0, 0, 1, 2, 3, 3, 4, 5, 7])
    np.testing.assert_array_equal(bar_numbers(score, bar_lines(score)), np.arange(6))


def test_what_does_not_change_the_bars() -> None:
    # no signature: MIDI's 4/4; a restated meter, an invalid one and one after the music: nothing
    plain = make_score([(60, 0, 9)], meter=None)
    assert bar_count(plain) == 3 and meter_changes(plain) == [(0, 4, 4)]
    busy = with_meters(make_score([(60, 0, 9)]), (0, 4, 4), (2, 4, 4), (3, 0, 4), (20, 3, 4))
    assert bar_count(busy) == 3 and meter_changes(busy) == [(0, 4, 4)]
    assert bar_count(make_score([])) == 0 and bar_lines(make_score([])).size == 0
    drums = make_score([(36, b, b + 0.5) for b in range(6)], drum=True)
    assert bar_count(drums) == 2  # drum notes are music too


def test_many_time_signatures_are_counted_in_linear_time() -> None:
    score = make_score([(60, 0, 200_000)])
    score.time_signatures.clear()
    for bar in range(200_000):
        score.time_signatures.append(symusic.TimeSignature(bar * TPQ, 1 + bar % 2, 4))
    began = time.process_time()
    assert bar_count(score) == 200_000
    assert time.process_time() - began < 5.0


def test_info_and_analyze_count_the_same_bars_and_trust_the_file_meter() -> None:
    """A 4/4 piece whose harmony moves at odd places: the estimate finds bars of 2, 3, 5 or
    6 beats, but the file says 4/4 throughout, and that is what analyze reports."""
    chords = [(C, 4), (F, 2), (G, 3), (C, 5), (F, 6), (G, 2), (C, 4), (G, 3), (C, 3)]
    notes, beat = [], 0
    for chord, length in chords:
        notes += block_chords([chord], beats_each=length, start=beat)
        beat += length
    score = make_score(notes)
    result = analyze_score(score)
    assert [(m["numerator"], m["denominator"]) for m in result["time_signature"]] == [(4, 4)]
    assert result["meter_stated"] and result["estimated_time_signature"] == []
    assert result["bars"] == summarize(score).bars == bar_count(score) == 8 == len(result["downbeats"])
    # the same notes in a file that states no meter: read as 4/4, the estimate given beside it
    bare = analyze_score(make_score(notes, meter=None))
    assert not bare["meter_stated"] and bare["estimated_time_signature"]
    assert bare["bars"] == 8


@pytest.mark.datasets
def test_pop909_bars_agree_between_info_and_analyze(pop909_files: list[Path]) -> None:
    runner = CliRunner()
    for path in pop909_files[:2]:
        score = symusic.Score(str(path))
        result = analyze_score(score)
        assert result["bars"] == summarize(score).bars == bar_count(score)
        meters = {f"{m['numerator']}/{m['denominator']}" for m in result["time_signature"]}
        assert meters == {f"{s.numerator}/{s.denominator}" for s in score.time_signatures}
        info = runner.invoke(app, ["info", str(path)])
        analyze = runner.invoke(app, ["analyze", str(path)])
        assert f"{bar_count(score)} bars" in info.output
        assert f"/ {bar_count(score)} " in analyze.output


@pytest.mark.slow
def test_a_generated_piece_has_the_bars_generate_reports(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "g.mid"
    args = ["generate", "-o", str(out), "--bars", "12", "--seed", "1", "--model", "cadenza-markov"]
    made = runner.invoke(app, args)  # (the estimated downbeats of this piece made 11 bars)
    assert made.exit_code == 0, made.output
    assert "12 bars" in made.output
    score = symusic.Score(str(out))
    assert bar_count(score) == summarize(score).bars == analyze_score(score)["bars"] == 12
    assert "12 bars" in runner.invoke(app, ["info", str(out)]).output
