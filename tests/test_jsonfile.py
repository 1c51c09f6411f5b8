"""The one reader of JSON that cadenza reads back: bounded in bytes and depth, never
waiting on a FIFO, one line naming the file for everything it refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cadenza.errors import InputFileError
from cadenza.jsonfile import MAX_DEPTH, parse_json, read_json

REPO = Path(__file__).resolve().parents[1]
posix_only = pytest.mark.skipif(os.name != "posix", reason="FIFOs")


def _refused(path: Path, *words: str, **limits: int) -> None:
    with pytest.raises(InputFileError) as error:
        read_json(path, **{"max_bytes": 1000, **limits})
    message = str(error.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    for word in words:
        assert word in message, message


def test_a_small_regular_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"a": [1, {"b": None}], "c": "é"}))
    assert read_json(path, max_bytes=1000) == {"a": [1, {"b": None}], "c": "é"}
    link = tmp_path / "link.json"
    link.symlink_to(path)  # reading through a link harms nothing
    assert read_json(link, max_bytes=1000) == read_json(path, max_bytes=1000)


def test_what_is_too_large_deep_or_not_json_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text(" " * 1001 + "1")
    _refused(path, "1,002 bytes, more than the 1,000 allowed")
    path.write_text("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))  # json reads it; later walks might not
    _refused(path, "nests too deeply", max_bytes=10_000)
    path.write_text("[" * 100_000)
    _refused(path, "nests too deeply", max_bytes=1_000_000)
    path.write_bytes(b'{"a": "\xff"}')
    _refused(path, "not valid JSON")
    path.write_text('{"a": ')
    _refused(path, "not valid JSON")
    path.write_text("1" * 5000)  # an integer of more digits than Python converts
    _refused(path, "not valid JSON", max_bytes=10_000)
    _refused(tmp_path / "absent.json", "cannot be read")
    _refused(tmp_path, "not a regular file")
    assert parse_json("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None


@posix_only
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    _refused(fifo, "not a regular file")


@posix_only
def test_data_info_on_a_corpus_whose_build_json_is_a_fifo_does_not_hang(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    os.mkfifo(corpus / "build.json")
    script = "import sys; from cadenza.cli import app; app(['data', 'info', sys.argv[1]])"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(corpus)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr + done.stdout
    assert "build.json: is not a regular file" in done.stderr + done.stdout
