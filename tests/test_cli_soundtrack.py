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


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("dup.json", b'{"seconds": 8, "seconds": 10}', "the key 'seconds' is given twice"),
        ("dup.yaml", b"seconds: 8\nseconds: 10\n", "the key 'seconds' is given twice"),
        ("big.yaml", b"seconds: 1" + b"0" * 400 + b"\n", "an integer of more than 300 digits"),
        ("huge.yaml", b"seconds: 1" + b"0" * 5000 + b"\n", "invalid YAML"),
    ],
)
def test_a_cue_sheet_that_says_a_thing_twice_or_an_impossible_number_is_refused(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    result = runner.invoke(app, ["soundtrack", str(path), "-o", str(tmp_path / "out"), "--dry-run"])
    assert result.exit_code == 2 and message in result.output and str(path) in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_json_cue_sheet_may_begin_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b'\xef\xbb\xbf{"seconds": 8}')
    result = runner.invoke(app, ["soundtrack", str(path), "-o", str(tmp_path / "out"), "--dry-run"])
    assert result.exit_code == 0 and "plan: 8 s" in result.output


def test_names_are_printed_as_written_never_as_markup_or_terminal_codes(tmp_path: Path) -> None:
    path = tmp_path / "names.json"
    path.write_text(json.dumps({"seconds": 8, "sections": [{"name": "[/bold] intro\x1b]0;pwned\x07"}]}))
    result = runner.invoke(app, ["soundtrack", str(path), "-o", str(tmp_path / "out"), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "[/bold] intro" in result.output and "\x1b" not in result.output and "\\x1b" in result.output


def test_the_cue_sheet_is_never_overwritten_by_its_own_output(tmp_path: Path) -> None:
    sheet = tmp_path / "cue.json"
    sheet.write_text('{"seconds": 8, "tempo": 120}')
    result = runner.invoke(app, ["soundtrack", str(sheet), "-o", str(tmp_path), "--force"])
    assert result.exit_code == 2 and "would be overwritten" in result.output
    assert sheet.read_text() == '{"seconds": 8, "tempo": 120}'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["generate", "--loop", "--seconds", "8", "-o", "."], "no extension is not supported"),
        (["generate", "--loop", "--seconds", "8", "--temperature", "inf", "-o", "x.mid"], "temperature must be"),
        (["generate", "--prompt", "calm, 8 seconds", "--seconds", "8", "--bars", "4", "--dry-run"], "not both"),
        (["generate", "--mood", "calm-to-tense", "--bars", "1", "--dry-run"], "needs 2 bars or more"),
        (["generate", "--mood", "calm-to-calm", "--dry-run"], "the two moods are the same"),
        (["generate", "--mood", "angry-to-calm", "--dry-run"], "unknown mood 'angry'"),
    ],
)
def test_more_bad_requests_get_one_line(args: list[str], message: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_record_says_what_was_asked_and_which_file_it_vouches_for(tmp_path: Path) -> None:
    out = tmp_path / "calm.mid"
    prompt = "calm piano, 8 seconds"
    result = runner.invoke(app, ["generate", "--prompt", prompt, "-o", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "calm.mid.provenance.json").read_text())
    assert record["conditions"]["asked"]["prompt"] == prompt
    assert record["file"] == {"kind": "score"}
    sheet = json.loads((tmp_path / "calm.cue.json.provenance.json").read_text())
    assert sheet["file"] == {"kind": "cue sheet"}
