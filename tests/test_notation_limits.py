"""Notation files under hostile and real conditions: CPU-time limits, a busy machine,
UTF-16 MusicXML, tune books, bounded and reproducible MusicXML export."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import symusic
from music21 import converter, corpus
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.errors import InputFileError, LimitExceededError
from cadenza.io import Limits, load_score, load_scores, save_score
from cadenza.io.formats import Format
from cadenza.io.notation import read_notation
from cadenza.io.sandbox import run_isolated
from tests.helpers import make_score, music21_notes
from tests.malformed_inputs import valid_musicxml

runner = CliRunner()


def _tune(number: int, title: str, notes: str) -> str:
    return f"X:{number}\nT:{title}\nM:4/4\nL:1/8\nK:C\n{notes}|\n"


_BOOK = "\n".join(
    [
        _tune(1, "Low Tune", "C2 D2 E2 F2"),
        _tune(2, "High Tune", "c2 d2 e2 f2 g2 a2 b2 c'2"),
        _tune(3, "Middle Tune", "G2 A2 B2"),
    ]
)


@pytest.fixture()
def book(tmp_path: Path) -> Path:
    path = tmp_path / "book.abc"
    path.write_text(_BOOK)
    return path


# 1. Limits are CPU time, not wall-clock time.


def _burn() -> list[bytes]:
    while True:
        pass


def test_a_child_burning_cpu_past_its_limit_is_refused_naming_the_file_and_limit() -> None:
    start = time.monotonic()
    with pytest.raises(LimitExceededError) as caught:
        run_isolated(_burn, path="spin.abc", cpu_seconds=1, memory_bytes=1 << 30)
    assert str(caught.value) == "spin.abc: needs more than 1 s of CPU time to parse"
    assert time.monotonic() - start < 30  # one CPU second, however busy the machine


@pytest.fixture()
def busy_cpu() -> Iterator[None]:
    """Six processes spinning on the one CPU this test (and the children it forks) may
    use: a parse gets about a seventh of the CPU, as on a loaded machine."""
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("needs CPU affinity (Linux)")
    saved = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(saved)})
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(6)]
    try:
        time.sleep(0.3)
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
        os.sched_setaffinity(0, saved)


def test_a_valid_file_is_read_while_other_processes_load_the_cpu(tmp_path: Path, busy_cpu: None) -> None:
    # About half a second of CPU for music21 (here), several seconds of wall clock on this
    # busy CPU: a one-second wall-clock limit refused it, a CPU-time limit reads it.
    tunes = "\n".join(_tune(i, f"Tune {i}", "GAB cde|d2B G3 A|gfe dcB|A2G F3 E") for i in range(1, 33))
    path = tmp_path / "book.abc"
    path.write_text(tunes)
    converter.parseData(_tune(1, "warm-up", "C"), format="abc")  # music21's imports, before the clock starts
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    scores = read_notation(path, Format.ABC, Limits(parse_timeout_s=1.0))
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert len(scores) == 32 and all(score.note_num() == 20 for score in scores)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    assert wall > 3 * cpu  # the machine was busy indeed: the parse waited far longer than it worked


# 2. MusicXML in UTF-16 (and other declared encodings) is read; its XML is still checked.


def test_a_monteverdi_madrigal_in_utf16_from_music21s_corpus_is_read() -> None:
    paths = [p for p in corpus.getPaths() if p.name == "madrigal.3.10.mxl"]
    if not paths:
        pytest.skip("music21's corpus has no madrigal.3.10.mxl")
    with zipfile.ZipFile(paths[0]) as archive:
        assert archive.read("madrigal.3.10.xml")[:2] == b"\xff\xfe"  # UTF-16, little-endian
    score = load_score(paths[0])
    sounding = [n for n in music21_notes(converter.parse(paths[0])) if n[1] > 0]  # grace notes have no length
    assert score.note_num() == len(sounding) == 865
    assert len(score.tracks) == 5


@pytest.mark.parametrize(
    ("encoding", "declared"),
    [("utf-16", "UTF-16"), ("utf-16-be", "UTF-16"), ("latin-1", "ISO-8859-1"), ("utf-8", "UTF-16")],  # the last lies
)
def test_musicxml_in_another_encoding_is_read(tmp_path: Path, encoding: str, declared: str) -> None:
    text = valid_musicxml(measures=3).decode().replace('encoding="UTF-8"', f'encoding="{declared}"')
    text = text.replace("<part-name>Music</part-name>", "<part-name>Chœur à 5</part-name>" if "utf" in encoding else
                        "<part-name>Chor für 5</part-name>")  # fmt: skip
    path = tmp_path / "score.musicxml"
    path.write_bytes(text.encode(encoding))
    score = load_score(path)
    assert score.note_num() == 3
    assert score.tracks[0].name in ("Chœur à 5", "Chor für 5")


def test_entity_tricks_in_utf16_are_still_refused(tmp_path: Path) -> None:
    laughs = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    laughs += "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    path = tmp_path / "laughs.musicxml"
    path.write_bytes((laughs + "]><score-partwise>&lol9;</score-partwise>").encode("utf-16"))
    with pytest.raises(InputFileError, match="unsafe"):
        load_score(path)


# 3. A tune book is many pieces.


def test_info_lists_the_pieces_of_a_tune_book(book: Path) -> None:
    result = runner.invoke(app, ["info", str(book)])
    assert result.exit_code == 0, result.output
    assert "(abc): 3 pieces" in " ".join(result.output.split())
    lines = result.output.splitlines()
    for index, (title, notes) in enumerate([("Low Tune", 4), ("High Tune", 8), ("Middle Tune", 3)]):
        row = next(line for line in lines if title in line)
        assert row.split()[1] == str(index) and f" {notes} " in row
    listing = json.loads(runner.invoke(app, ["info", str(book), "--json"]).output)
    assert [(p["index"], p["title"], p["notes"]) for p in listing["pieces"]] == [
        (0, "Low Tune", 4),
        (1, "High Tune", 8),
        (2, "Middle Tune", 3),
    ]
    one = json.loads(runner.invoke(app, ["info", str(book), "--json", "--index", "1"]).output)
    assert one["title"] == "High Tune" and one["notes"] == 8


def test_convert_takes_the_piece_index_names_and_refuses_a_book_without_it(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mid"
    result = runner.invoke(app, ["convert", str(book), str(out)])
    assert result.exit_code == 2
    assert f"{book}: holds 3 pieces; choose one with --index 0..2" in result.output
    assert not out.exists()
    result = runner.invoke(app, ["convert", str(book), str(out), "--index", "1"])
    assert result.exit_code == 0, result.output
    assert [n.pitch for n in load_score(out).tracks[0].notes] == [72, 74, 76, 77, 79, 81, 83, 84]
    result = runner.invoke(app, ["convert", str(book), str(tmp_path / "none.mid"), "--index", "3"])
    assert result.exit_code == 2 and "there is no piece 3" in result.output


def test_a_corpus_build_takes_every_tune_of_a_book(book: Path, tmp_path: Path) -> None:
    from cadenza.data.build import build_corpus
    from cadenza.data.sources import parse_source_spec

    folder = tmp_path / "tunes"
    folder.mkdir()
    book = book.rename(folder / "book.abc")
    out = tmp_path / "corpus"
    build_corpus([parse_source_spec(f"tunes={folder}", {"tunes": "CC0"})], out, workers=1)
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert sorted(row["id"] for row in rows) == ["tunes/book.abc#0", "tunes/book.abc#1", "tunes/book.abc#2"]
    assert len(load_scores(book)) == 3


# 4. MusicXML export is bounded.


def _held_notes_midi(path: Path) -> Path:
    """500 notes, each held 1,000 quarters: a few KB of MIDI within the reading limits
    (25 notes at once, 500,000 quarters of notes, under 3 hours), but 125,000 tied notes
    in MusicXML. (2,000 notes held 28,000 quarters, the file that never finished, is now
    refused when it is read.)"""
    score = symusic.Score(1)
    score.tempos.append(symusic.Tempo(0, qpm=120.0))
    track = symusic.Track(name="held", program=0)
    for i in range(500):
        track.notes.append(symusic.Note(i * 40, 1000, 36 + i % 60, 64))
    score.tracks.append(track)
    score.dump_midi(str(path))
    return path


def test_converting_notes_held_for_thousands_of_bars_to_musicxml_is_refused_quickly(tmp_path: Path) -> None:
    source = _held_notes_midi(tmp_path / "held.mid")
    assert source.stat().st_size < 16_000
    target = tmp_path / "held.musicxml"
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "cadenza.cli", "convert", str(source), str(target)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {source}: cannot be written as {target}")
    assert "more than 100,000" in lines[0]
    assert not target.exists()
    assert time.monotonic() - start < 60


def test_a_track_needing_too_many_voices_is_refused(tmp_path: Path) -> None:
    # 65 notes, each starting a 16th after the last and all ending together: every one
    # overlaps every other with its own length, so each needs its own voice.
    score = make_score([(60 + i % 12, i / 4, 20.0) for i in range(65)])
    with pytest.raises(LimitExceededError, match="more than 64 voices"):
        save_score(score, tmp_path / "voices.musicxml")
    save_score(make_score([(60 + i % 12, i / 4, 20.0) for i in range(8)]), tmp_path / "fine.musicxml")


# 5. MusicXML output is byte-reproducible.


@pytest.mark.parametrize("extension", [".musicxml", ".mxl"])
def test_the_same_score_converts_to_the_same_bytes(tmp_path: Path, extension: str) -> None:
    score = load_score(corpus.getWork("bach/bwv66.6"))
    first = save_score(score, tmp_path / f"first{extension}").read_bytes()
    second = save_score(score, tmp_path / f"second{extension}").read_bytes()
    assert first == second
    if extension == ".mxl":
        with zipfile.ZipFile(tmp_path / f"first{extension}") as archive:
            assert archive.namelist()[0] == "mimetype"
            assert {entry.date_time for entry in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
            xml = archive.read("score.musicxml")
    else:
        xml = first
    assert b"<encoding-date>" not in xml  # not the day it was written
    assert b'<score-part id="P1">' in xml and b'<score-part id="P4">' in xml
