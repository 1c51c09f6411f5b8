"""The README's soundtrack examples run as written and write what the README says."""

from __future__ import annotations

import json
import re
import shlex
import wave
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.io.audio import synthesizer

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Music for a picture: prompts, loops, stems and cue sheets"
PLAN_FIELDS = {"tempo", "seconds", "bars", "key", "meter", "instruments", "exclude_instruments", "loop", "style"}
PLAN_FIELDS |= {"valence", "arousal", "intensity", "sections"}


def section_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert SECTION in text
    block = re.search(r"```bash\n(.*?)```", text.split(SECTION, 1)[1], re.DOTALL)
    assert block is not None
    lines = [shlex.split(line, comments=True) for line in block.group(1).replace("\\\n", " ").splitlines()]
    return [words[1:] for words in lines if words and words[0] == "cadenza"]


def test_the_section_shows_a_prompt_a_loop_stems_and_a_cue_sheet() -> None:
    commands = section_commands()
    assert any("--prompt" in c for c in commands) and any("--loop" in c for c in commands)
    assert any("--stems" in c for c in commands) and any(c[0] == "soundtrack" for c in commands)


@pytest.mark.skipif(synthesizer() is None, reason="no synthesizer installed")
@pytest.mark.parametrize("index", range(5))
def test_each_readme_soundtrack_command_runs_as_written(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    command = section_commands()[index]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "docs").symlink_to(REPO / "docs")
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    if "--dry-run" in command:
        plan = json.loads(result.stdout)
        assert set(plan) >= PLAN_FIELDS
        assert plan["seconds"] == 30 and plan["exclude_instruments"] == ["drums"]
        assert not list(tmp_path.glob("*.wav"))
        return
    wavs = [Path(command[i + 1]) for i, word in enumerate(command) if word == "-o"]
    if command[0] == "soundtrack":
        wavs = [wavs[0] / "mix.wav", *sorted((wavs[0] / "stems").glob("*.wav"))]
        assert len(wavs) == 6
    from cadenza.schemas import validate

    for path in wavs:
        with wave.open(str(path)) as audio:
            frames = audio.getnframes()
        sheet_path = path.with_suffix(".cue.json") if command[0] == "generate" else wavs[0].parent / "cue.json"
        sheet = json.loads(sheet_path.read_text())
        assert validate(sheet, "cue-sheet") == []  # every cue sheet written validates against the published schema
        assert frames == sheet["samples"] == round(sheet["seconds"] * 44100)
    if "--stems" in command and command[0] == "generate":
        stems = sorted((tmp_path / "scene-stems").glob("*.wav"))
        assert [p.stem for p in stems] == sorted(["pad", "melody", "bass", "rhythm", "percussion"])
        assert (tmp_path / "scene.mid").is_file()
