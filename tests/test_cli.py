"""The command line as a stranger and a script meet it: text from files printed as text,
every failure one line with exit code 2, distinct verdict codes, whole lines when piped,
help on every option, and a progress bar that only a terminal sees."""

from __future__ import annotations

import io
import os
from pathlib import Path

import click
import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.cli_output import progress, shown
from tests.helpers import make_score

runner = CliRunner()
HOSTILE = "[/bold]\x1b[31m"


def midi(path: Path, name: str = "piano", notes: int = 8) -> Path:
    make_score([(60 + i % 12, i, i + 1) for i in range(notes)], name=name).dump_midi(str(path))
    return path


def one_line_error(result: click.testing.Result, *, names: str) -> str:
    """The failure was one line naming ``names``, exit code 2, no traceback."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not an escaped exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert names in lines[0] and "Traceback" not in result.output
    return lines[0]


# -- text from files is text -------------------------------------------------------------


def test_markup_and_escape_sequences_in_a_track_name_are_printed_as_text(tmp_path: Path) -> None:
    path = midi(tmp_path / "song.mid", name=HOSTILE)
    result = runner.invoke(app, ["info", str(path)])
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output  # no escape sequence reaches the terminal
    assert "[/bold]\\x1b[31m" in result.output  # the name, shown as what it is


def test_markup_in_a_path_is_printed_as_text(tmp_path: Path) -> None:
    folder = tmp_path / "[/bold]"  # the folders "[" and "bold]"
    folder.mkdir(parents=True)
    path = midi(folder / "x.mid")
    for command in ("info", "analyze"):
        result = runner.invoke(app, [command, str(path)])
        assert result.exit_code == 0, result.output
        assert str(path) in result.output
    one_line_error(runner.invoke(app, ["info", str(folder / "missing.mid")]), names=str(folder / "missing.mid"))


def test_an_error_line_escapes_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "\x1b[2Jgone.mid"
    line = one_line_error(runner.invoke(app, ["info", str(path)]), names="\\x1b[2Jgone.mid")
    assert "\x1b" not in line


def test_shown_keeps_ordinary_text_and_escapes_the_rest() -> None:
    assert shown("Piano – right hand") == "Piano – right hand"
    assert shown("a\tb\nc\u202ed") == "a\\x09b\\x0ac\\u202ed"
    assert shown("[red]x[/red]") == "\\[red]x\\[/red]"


# -- every failure is one line and exit 2 ------------------------------------------------------


def test_a_negative_seed_is_refused_in_one_line(tmp_path: Path) -> None:
    out = tmp_path / "x.mid"
    one_line_error(runner.invoke(app, ["generate", "-o", str(out), "--seed", "-1", "--bars", "2"]), names="--seed")
    assert not out.exists()


def test_the_same_output_twice_is_refused_before_composing(tmp_path: Path) -> None:
    out = tmp_path / "a.mid"
    args = ["generate", "-o", str(out), "-o", str(tmp_path / "." / "a.mid"), "--bars", "2", "--model", "cadenza-markov"]
    one_line_error(runner.invoke(app, args), names=str(out))
    assert not out.exists()


def test_an_unreadable_index_is_could_not_check_not_flagged(tmp_path: Path) -> None:
    """Exit 1 means FLAGGED to a script; a crash while reading the index must not look like it."""
    index = tmp_path / "index"
    index.mkdir()
    (index / "index.json").write_text("[" * 100_000)
    (index / "index.npz").write_bytes(b"")
    result = runner.invoke(app, ["originality", str(midi(tmp_path / "x.mid")), "--index", str(index)])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.datasets
def test_originality_exit_code_says_flagged(pop909_files: list[Path]) -> None:
    """A POP909 song is in the default model's training set: FLAGGED, exit 1."""
    result = runner.invoke(app, ["originality", str(pop909_files[0])])
    assert result.exit_code == 1, result.output
    assert "FLAGGED" in result.output


def test_exit_codes_are_documented() -> None:
    for args in (["--help"], ["originality", "--help"]):
        text = " ".join(runner.invoke(app, args, env={"COLUMNS": "200"}).output.split())
        assert "1 FLAGGED" in text or "1 a negative verdict (originality FLAGGED" in text
        assert "2 could not" in text


# -- output for scripts: whole lines ------------------------------------------------------------


def test_captured_output_is_neither_wrapped_nor_cut() -> None:
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    assert "cadenza-transformer" in result.output


def test_a_long_track_name_stays_on_one_line(tmp_path: Path) -> None:
    name = "the very long name of a track that a DAW wrote into this file, " * 3
    result = runner.invoke(app, ["info", str(midi(tmp_path / "long.mid", name=name.strip()))])
    assert result.exit_code == 0, result.output
    assert name.strip() in result.output


# -- help ---------------------------------------------------------------------------------------


def _commands(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found += _commands(sub, (*path, name))
    return found


def test_every_option_has_help_and_no_flag_shows_a_type() -> None:
    commands = _commands(typer.main.get_command(app))
    assert len(commands) > 15
    for path, command in commands:
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"cadenza {' '.join(path)} {param.opts[0]} has no help"
        for columns in ("40", "200"):
            result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": columns})
            assert result.exit_code == 0, result.output
            assert "<bool>" not in result.output, f"cadenza {' '.join(path)} --help at {columns} columns"
    text = runner.invoke(app, ["info", "--help"], env={"COLUMNS": "200"}).output
    assert "--json" in text and "<int>" in text  # types stay on options that take a value


# -- progress -----------------------------------------------------------------------------------


def test_progress_is_drawn_on_a_terminal_only() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True, width=100)
    with progress("composing", on=terminal) as update:
        update(3, 16)
    assert "composing" in terminal.file.getvalue() and "3/16" in terminal.file.getvalue()  # type: ignore[attr-defined]
    piped = Console(file=io.StringIO(), width=100)
    with progress("composing", on=piped) as update:
        update(3, 16)
    assert piped.file.getvalue() == ""  # type: ignore[attr-defined]


def test_progress_by_default_stays_off_captured_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with progress("composing") as update:
        for done in range(5):
            update(done, 5)
    assert capsys.readouterr().err == ""


@pytest.mark.skipif(os.name != "posix", reason="file names with control characters")
def test_convert_line_names_the_output_as_text(tmp_path: Path) -> None:
    source = midi(tmp_path / "in.mid")
    (tmp_path / "[/red]").mkdir(parents=True)
    target = tmp_path / "[/red]" / "\x07out.mid"
    result = runner.invoke(app, ["convert", str(source), str(target)])
    assert result.exit_code == 0, result.output
    assert "\x07" not in result.output and "[/red]/\\x07out.mid" in result.output
    assert target.exists()


def test_usage_errors_are_one_line_too(tmp_path: Path) -> None:
    line = one_line_error(
        runner.invoke(app, ["generate", "--bogus", "1", "-o", str(tmp_path / "x.mid")]), names="--bogus"
    )
    assert line.startswith("error:") and "cadenza generate --help" in line and "╭" not in line
    one_line_error(runner.invoke(app, ["info"]), names="path")
    assert not (tmp_path / "x.mid").exists()
