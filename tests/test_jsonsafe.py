"""cadenza.jsonsafe: every damaged or hostile JSON file is one InputFileError naming it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from cadenza.errors import InputFileError
from cadenza.jsonsafe import parse_json, read_bounded, read_json


def refused(path: Path, match: str, **limits: object) -> InputFileError:
    with pytest.raises(InputFileError, match=match) as caught:
        read_json(path, **limits)  # type: ignore[arg-type]
    assert caught.value.path == str(path)  # the one line names the file
    return caught.value


def test_a_good_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"model": {"n_layer": 4, "names": ["a", "b"]}}')
    assert read_json(path) == {"model": {"n_layer": 4, "names": ["a", "b"]}}
    assert read_json(path, max_depth=3)["model"]["n_layer"] == 4


@pytest.mark.parametrize("depth", [65, 100_000])
def test_deep_nesting_is_refused(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "record.json"
    path.write_text("[" * depth + "]" * depth)
    refused(path, "deeper than 64 levels")


def test_nesting_within_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "ok.json"
    path.write_text('{"a":' * 63 + "1" + "}" * 63)
    assert read_json(path) is not None
    refused(path, "deeper than 10 levels", max_depth=10)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"a": 1,', "is not valid JSON .* line 1"),
        ("", "is not valid JSON"),
        ("[1, 2]", "holds an array where an object was expected"),
        ("null", "holds null where an object was expected"),
        ('{"n": ' + "9" * 5000 + "}", "is not valid JSON"),
    ],
)
def test_malformed_json_is_refused(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(text)
    refused(path, match)


def test_bytes_that_are_no_text_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    path.write_bytes(b'{"a": "\xff\xfe\xfa"}')
    refused(path, "is not valid JSON")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text('{"a": "' + "x" * 2000 + '"}')
    refused(path, "more than the 1,000", max_bytes=1000)


def test_missing_and_folder_are_refused(tmp_path: Path) -> None:
    refused(tmp_path / "nothing.json", "does not exist")
    refused(tmp_path, "is a folder")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "config.json"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            read_json(fifo)
        except BaseException as error:  # handed to the test thread
            outcome.append(error)

    worker = threading.Thread(target=read, daemon=True)
    worker.start()
    worker.join(timeout=10)
    if worker.is_alive():  # unblock the reader before failing
        with open(fifo, "w"):
            pass
        pytest.fail("read_json waited on a FIFO")
    assert isinstance(outcome[0], InputFileError) and "not a regular file" in str(outcome[0])


def test_parse_json_names_where_text_came_from() -> None:
    with pytest.raises(InputFileError, match=r"^model\.safetensors: is not valid JSON"):
        parse_json(b"{oops", "model.safetensors")
    assert parse_json("[1]", None, expect=list) == [1]
    assert parse_json("3", None, expect=object) == 3


def test_read_bounded_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"abc")
    assert read_bounded(tmp_path / "a") == b"abc"
    with pytest.raises(InputFileError, match="is a folder"):
        read_bounded(tmp_path)
