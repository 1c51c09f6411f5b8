"""Hostile and broken files: a clear one-line error each, never a traceback, crash or hang."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.malformed_inputs import write_all

EXPECTED_ERRORS = {
    "tpq_zero.mid": "ticks per quarter",
    "smpte_division.mid": "SMPTE",
    "tempo_zero.mid": "tempo",
    "ten_thousand_tracks.mid": "10000 tracks",
    "note_lasts_days.mid": "longer than",
    "billion_laughs.musicxml": "unsafe",
    "external_entity.musicxml": "unsafe",
    "quadratic_blowup.xml": "unsafe",
    "zip_bomb.mxl": "decompresses to more than",
    "twenty_thousand_measures.musicxml": "measures",
    "spines.krn": "spines",
    "empty.mid": "is empty",
    "text.mid": "not a MIDI file",
    "binary.abc": "binary",
    "not_musicxml_root.xml": "not MusicXML",
    "huge_duration.musicxml": "longest time",
    "long_note.abc": "longest time",
    "json.abc": "holds no notes",
    "int32_tick_overflow.mid": "overflowing",
    "twenty_million_quarters.mid": "20,000,000 quarter notes, longer than",
    "piled_on_one_key.mid": "held over each other",
    "three_thousand_note_chord.mid": "sound at once",
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    folder = tmp_path_factory.mktemp("malformed")
    paths = write_all(folder)
    assert len(paths) >= 300
    run = subprocess.run(
        [sys.executable, "-m", "tests.fuzz_driver", *map(str, paths)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, f"the loader crashed (exit {run.returncode}): {run.stderr[-2000:]}"
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(results) == len(paths), "the loader stopped before the last file"
    return {Path(r["path"]).name: r for r in results}


def test_no_traceback_and_every_error_names_its_file(outcomes: dict[str, dict]) -> None:
    bugs = {name: r["message"] for name, r in outcomes.items() if r["outcome"] == "bug"}
    assert not bugs
    for name, result in outcomes.items():
        if result["outcome"] == "error":
            assert name in result["message"]
            assert "\n" not in result["message"] and "Traceback" not in result["message"]


def test_most_malformed_files_are_refused(outcomes: dict[str, dict]) -> None:
    refused = sum(r["outcome"] == "error" for r in outcomes.values())
    assert refused >= 250  # some byte flips still make valid music; the rest must be refused


def test_no_file_hangs(outcomes: dict[str, dict]) -> None:
    slow = {name: r["seconds"] for name, r in outcomes.items() if r["seconds"] > 35}
    assert not slow


@pytest.mark.parametrize(("name", "reason"), sorted(EXPECTED_ERRORS.items()))
def test_named_attacks_get_the_right_reason(outcomes: dict[str, dict], name: str, reason: str) -> None:
    assert outcomes[name]["outcome"] == "error"
    assert reason in outcomes[name]["message"]


def test_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "song.mid"
    bad.write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x00")
    run = subprocess.run(
        [sys.executable, "-m", "cadenza.cli", "info", str(bad)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0
    assert "song.mid" in run.stderr and "Traceback" not in run.stderr


def test_cli_usage_errors_are_usage_errors_not_internal_errors() -> None:
    command = [sys.executable, "-m", "cadenza.cli", "generate", "--no-such-option"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "No such option" in run.stderr and "internal error" not in run.stderr
