"""`cadenza generate` with a prompt, a loop, stems or a changing mood: the plan printed back, bad requests refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.io.audio import synthesizer

runner = CliRunner()


def _plan(*args: str) -> dict:
    result = runner.invoke(app, ["generate", *args, "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_mood_that_changes_is_two_sections_each_in_its_mood() -> None:
    plan = _plan("--mood", "calm-to-tense", "--seconds", "20")["plan"]
    assert [(s["name"], s["mood"], s["seconds"]) for s in plan["sections"]] == [
        ("calm", "calm", 10.0),
        ("tense", "tense", 10.0),
    ]
    assert plan["seconds"] == 20.0
    by_bars = _plan("--mood", "sad-to-happy", "--bars", "9")["plan"]
    assert [(s["mood"], s["bars"]) for s in by_bars["sections"]] == [("sad", 4), ("happy", 5)]


def test_the_prompt_is_read_into_the_plan_and_options_say_more_than_the_prompt() -> None:
    plan = _plan("--prompt", "tense boss fight, 140 bpm, 2 minutes, strings and brass, builds to a climax")
    assert plan["tempo"] == 140 and plan["seconds"] == 120
    assert sorted(plan["instruments"]) == ["brass", "strings"]
    assert plan["valence"] < 0 < plan["arousal"]
    intensity = plan["intensity"]
    assert len(intensity) == plan["bars"] and intensity[-1] > intensity[0]
    assert plan["plan"]["seconds"] == 120.0
    faster = _plan("--prompt", "tense boss fight, 140 bpm, 1 minute", "--tempo", "90")
    assert {s["tempo"] for s in faster["plan"]["sections"]} == {90}


def test_words_the_prompt_reader_did_not_use_are_reported(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--prompt", "calm flibbertigibbet music, 20 seconds", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "words not used: flibbertigibbet" in result.output
    assert "plan: 20 s" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prompt", "battle music at 0 bpm", "--dry-run"], "tempo"),
        (["--prompt", "   ", "--dry-run"], "prompt"),
        (["--mood", "calm-to-furious", "--dry-run"], "unknown mood 'furious'"),
        (["--mood", "calm-to-", "--dry-run"], "give one mood, or two as FROM-to-TO"),
        (["--loop", "--instruments", "kazoo", "--dry-run"], "unknown instrument 'kazoo'"),
        (["--mood", "calm", "--seconds", "10", "--json", "-o", "x.mid"], "--json goes with --dry-run"),
        (["--loop", "--count", "2", "-o", "x.mid"], "--plan and --count are not for a cue"),
        (["--loop", "--seconds", "10"], "give an output with -o"),
    ],
)
def test_a_bad_request_gets_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) <= 2
    assert "Traceback" not in result.output


@pytest.mark.skipif(synthesizer() is None, reason="no synthesizer installed")
def test_stems_with_only_a_midi_output_write_the_mix_the_stems_and_the_cue_sheet_beside_it(tmp_path: Path) -> None:
    out = tmp_path / "scene.mid"
    result = runner.invoke(app, ["generate", "--mood", "happy", "--seconds", "8", "--stems", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "scene.wav").is_file() and (tmp_path / "scene.cue.json").is_file()
    sheet = json.loads((tmp_path / "scene.cue.json").read_text())
    assert sheet["files"]["midi"] == "scene.mid" and sheet["files"]["mix"] == "scene.wav"
    stems = {layer["name"]: layer["file"] for layer in sheet["layers"]}
    assert all((tmp_path / file).is_file() for file in stems.values())
    again = runner.invoke(app, ["generate", "--mood", "happy", "--seconds", "8", "--stems", "-o", str(out)])
    assert again.exit_code == 2 and "exists already" in again.output
