"""Conditions: what a user asks for, checked and completed (key names, exact lengths)."""

from __future__ import annotations

from pathlib import Path

import pytest
import symusic
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.compose import Composer, Conditions, Sampling
from cadenza.compose.conditions import resolve
from cadenza.errors import InvalidArgumentError

runner = CliRunner()


@pytest.mark.parametrize(
    ("key", "tonic", "mode"),
    [("D Minor", 2, "min"), ("d minor", 2, "min"), ("bb minor", 10, "min"), ("F#", 6, "maj"), ("f# m", 6, "min")],
)
def test_key_names_are_read_whatever_their_case(key: str, tonic: int, mode: str) -> None:
    resolved = resolve(Conditions(key=key))
    assert (resolved.tonic, resolved.mode) == (tonic, mode)


@pytest.mark.parametrize(("seconds", "tempo", "meter"), [(45, None, None), (13.37, 97, "3/4"), (10, 73.3, "6/8")])
def test_seconds_give_exactly_that_much_music(seconds: float, tempo: float | None, meter: str | None) -> None:
    conditions = Conditions(seconds=seconds, tempo=tempo, meter=meter)
    resolved = resolve(conditions)
    assert resolved.seconds == pytest.approx(seconds, abs=1e-9)
    score = Composer.from_pretrained().generate(conditions, Sampling(seed=5))
    written = symusic.Score.from_midi(score.dumps_midi())  # what a user's file holds
    half_tick = 60 / resolved.tempo / written.tpq / 2
    assert abs(written.to("second").end() - seconds) <= half_tick + 1e-4


def test_a_length_shorter_than_one_bar_is_refused_with_the_nearest_that_can_be_met() -> None:
    with pytest.raises(InvalidArgumentError) as error:
        resolve(Conditions(seconds=2, tempo=30))  # one bar of 4/4 at 30 bpm lasts 8 s
    assert "8 s" in str(error.value) and "--tempo 120" in str(error.value)
    with pytest.raises(InvalidArgumentError, match="12 s"):
        resolve(Conditions(seconds=7, tempo=30, meter="6/4"))
    with pytest.raises(InvalidArgumentError, match=r"3\.636 s"):
        resolve(Conditions(seconds=3, mood="sad"))  # the mood's own tempo, 66 bpm
    assert resolve(Conditions(seconds=8, tempo=30)).bars == 1  # exactly one bar is fine


def test_a_length_of_more_bars_than_allowed_is_refused_not_shortened() -> None:
    with pytest.raises(InvalidArgumentError) as error:
        resolve(Conditions(seconds=1800, tempo=240, meter="3/8"))  # 4800 bars
    assert "1000" in str(error.value) and "375 s" in str(error.value) and "--tempo 50" in str(error.value)


def test_the_cli_refuses_an_unmeetable_length_in_one_line_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "x.mid"
    result = runner.invoke(app, ["generate", "--seconds", "2", "--tempo", "30", "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "8 s" in result.output and "Traceback" not in result.output
    assert not out.exists()
