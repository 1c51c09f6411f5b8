"""Small files that imply enormous work, and files that are no files: each is refused
with one line naming it and the limit, exit 2, in seconds and little memory.

The commands run in a child process under a memory cap, so that a regression shows up
as a failed test instead of a machine out of memory.
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import symusic

from cadenza.errors import InputFileError, LimitExceededError
from cadenza.io import load_score, validate_score
from cadenza.io.summary import summarize
from cadenza.provenance.index import Index
from tests.conftest import REPO
from tests.helpers import make_score
from tests.malformed_inputs import END_OF_TRACK, midi_file, vlq

MEMORY_CAP = 1 << 30  # `cadenza analyze` of a POP909 song peaks near 100 MB
SECONDS = 15.0  # the refusals take about one; the defects took minutes, or hung


def _midi(events: bytes, division: int) -> bytes:
    """A one-track MIDI file of ``events`` (delta-time encoded), ended."""
    return midi_file([events + END_OF_TRACK], division=division, fmt=0)


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def cadenza(
    *args: str | Path, timeout: float = 60.0, cap: bool = True
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the CLI in a child under the memory cap; the result and the seconds it took."""
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "cadenza.cli", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_cap_memory if cap else None,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    return run, time.monotonic() - started


def assert_refused(run: subprocess.CompletedProcess[str], seconds: float, path: Path, *words: str) -> None:
    assert run.returncode == 2, run.stderr[-2000:]
    line = run.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert str(path) in line
    for word in words:
        assert word in line
    assert seconds < SECONDS


def test_a_44_byte_file_lasting_twenty_million_quarters_is_refused(tmp_path: Path) -> None:
    """Ticks per quarter 1, tempo 1 µs: 20 s of music, but twenty million beats to lay out."""
    events = b"\x00\xff\x51\x03\x00\x00\x01" + b"\x00\x90\x3c\x40" + vlq(20_000_000) + b"\x80\x3c\x00"
    path = tmp_path / "tiny.mid"
    path.write_bytes(_midi(events, division=1))
    assert path.stat().st_size < 64
    for command in ("info", "analyze"):
        assert_refused(*cadenza(command, path), path, "20,000,000 quarter notes", "100,000")


def test_notes_held_over_each_other_are_refused(tmp_path: Path) -> None:
    """2,000 notes, each held 28,000 quarters: a 12 KB file, 56 million (note, beat) pairs."""
    score = symusic.Score(480)
    track = symusic.Track(program=0)
    for i in range(2000):
        track.notes.append(symusic.Note(i * 10, 28_000 * 480, 40 + i % 60, 64))
    score.tracks.append(track)
    path = tmp_path / "held.mid"
    score.dump_midi(str(path))
    assert path.stat().st_size < 16_000
    assert_refused(*cadenza("analyze", path), path, "56,000,000 quarter notes together", "2,000,000")


def test_300000_notes_piled_on_one_key_are_refused(tmp_path: Path) -> None:
    """Note-ons on one key a tick apart, all released at the end: 94 million pairs."""
    n = 300_000
    events = b"\x00\x90\x3c\x40" + b"\x01\x3c\x40" * (n - 1) + b"\x00\x80\x3c\x00" + b"\x00\x3c\x00" * (n - 1)
    path = tmp_path / "piled.mid"
    path.write_bytes(_midi(events, division=480))
    assert_refused(*cadenza("analyze", path), path, "held over each other")


def in_a_child(code: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run Python ``code`` in a child under the memory cap; the result and its seconds."""
    started = time.monotonic()
    capped = f"import resource\nresource.setrlimit(resource.RLIMIT_AS, ({MEMORY_CAP}, {MEMORY_CAP}))\n{code}"
    run = subprocess.run([sys.executable, "-c", capped], cwd=REPO, capture_output=True, text=True, timeout=120)
    return run, time.monotonic() - started


HELD_NOTES_IN_CODE = """
import sys, symusic
from cadenza.analysis import analyze_score
from cadenza.errors import LimitExceededError
score = symusic.Score(480)
track = symusic.Track(program=0)
for i in range(2000):
    track.notes.append(symusic.Note(i * 10, 28_000 * 480, 40 + i % 60, 64))
score.tracks.append(track)
try:
    analyze_score(score)
except LimitExceededError as error:
    sys.exit(str(error))
"""


def test_analysis_of_a_score_made_in_code_is_bounded_too() -> None:
    """The same held notes, handed to the library without a file: refused before any
    per-beat array exists (it took 4.4 GB)."""
    run, seconds = in_a_child(HELD_NOTES_IN_CODE)
    assert run.returncode == 1, run.stderr[-2000:]
    assert run.stderr.strip() == "notes last 56,000,000 quarter notes together, more than 2,000,000 to analyse"
    assert seconds < SECONDS


TWELVE_THOUSAND_BARS = """
import numpy as np, symusic
from cadenza.analysis.structure import sections
score = symusic.Score(4)
score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
track = symusic.Track(program=0)
starts = np.arange(48_000, dtype=np.int32) * 4
pitches = (60 + np.arange(48_000) * 7 % 12).astype(np.int8)
durations, velocities = np.full(starts.size, 4, np.int32), np.full(starts.size, 80, np.int8)
track.notes = symusic.Note.from_numpy(starts, durations, pitches, velocities)
score.tracks.append(track)
print(len(sections(score)))
"""


def test_sections_of_a_long_piece_need_no_bar_by_bar_matrix() -> None:
    """12,000 bars: the bar-by-bar similarity matrix alone was 1.15 GB."""
    run, seconds = in_a_child(TWELVE_THOUSAND_BARS)
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout) == 1500  # phrases of 8 bars
    assert seconds < 4 * SECONDS


def test_too_many_notes_at_once_are_refused() -> None:
    score = make_score([(36 + i % 60, 0, 1) for i in range(2049)])  # a 2,049-note chord
    with pytest.raises(LimitExceededError, match="2,049 notes sound at once, more than 2,048"):
        validate_score(score, "chord.mid")
    validate_score(make_score([(36 + i % 60, 0, 1) for i in range(2048)]), "chord.mid")


def test_200000_time_signatures_are_refused_quickly(tmp_path: Path) -> None:
    score = make_score([(60, 0, 1)])
    for i in range(200_000):
        score.time_signatures.append(symusic.TimeSignature(i * 4, 3 + i % 2, 4))
    path = tmp_path / "meters.mid"
    score.dump_midi(str(path))
    assert_refused(*cadenza("info", path), path, "200,001 time signatures", "100,000")


def test_bars_of_100000_meter_changes_are_counted() -> None:
    """100,000 meter changes, under the limit (symusic's get_downbeats took 11 s here:
    quadratic in the number of signatures; analysis.bars counts per meter segment)."""
    score = make_score([(60, 0, 400_000)], tpq=4)  # 4/4 from tick 0, then...
    for i in range(100_000):  # ...every 4 quarters, 3/4 (two bars: 3 + 1) or 4/4 (one)
        score.time_signatures.append(symusic.TimeSignature(i * 16, 3 + i % 2, 4))
    summary = summarize(score)
    assert summary.bars == 50_000 * 2 + 50_000 * 1
    assert summary.time_signatures == ["3/4", "4/4"]  # of two signatures at tick 0 the last counts


def test_a_flood_of_controllers_is_refused_before_rendering(tmp_path: Path) -> None:
    """1.1 million controller events in a tenth of a second of music."""
    n = 1_100_000
    events = b"\x00\xb0\x07\x40" + b"\x00\x07\x40" * (n - 1) + b"\x00\x90\x3c\x40\x60\x80\x3c\x00"
    path = tmp_path / "knob.mid"
    path.write_bytes(_midi(events, division=480))
    out = tmp_path / "knob.wav"
    assert_refused(*cadenza("render", path, "-o", out), path, "1,100,000 controller", "1,000,000")
    assert not out.exists()


# --- files that are no files -------------------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.mid"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    "command", [("info",), ("analyze",), ("convert", "{out}.musicxml"), ("render", "-o", "{out}.wav")]
)
def test_a_named_pipe_is_refused_unopened(fifo: Path, command: tuple[str, ...]) -> None:
    args = [part.format(out=fifo.with_suffix("")) for part in command]
    run, seconds = cadenza(args[0], fifo, *args[1:], timeout=30)
    assert_refused(run, seconds, fifo, "named pipe (FIFO)")


def test_a_device_or_a_folder_is_refused(tmp_path: Path) -> None:
    device = tmp_path / "zero.mid"
    device.symlink_to("/dev/zero")
    with pytest.raises(InputFileError, match="is a device"):
        load_score(device)
    folder = tmp_path / "folder.mid"
    folder.mkdir()
    with pytest.raises(InputFileError, match="is a folder"):
        load_score(folder)


# --- the originality index ---------------------------------------------------------


def _index_folder(tmp_path: Path, arrays: bytes) -> Path:
    folder = tmp_path / "index"
    folder.mkdir()
    meta = {"format": "cadenza-originality-index", "version": 1, "config": {}, "pieces": [], "baseline": None}
    (folder / "index.json").write_text(json.dumps(meta))
    (folder / "index.npz").write_bytes(arrays)
    return folder


def test_an_index_that_inflates_past_the_limit_is_refused_before_inflating(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, pitches=np.zeros(64 << 20, np.uint8))  # 64 MB of zeros in 64 KB
    folder = _index_folder(tmp_path, buffer.getvalue())
    assert (folder / "index.npz").stat().st_size < 1 << 20
    with pytest.raises(LimitExceededError, match=r"inflates to 67,108,\d+ bytes, more than 16,777,216"):
        Index.load(folder, max_bytes=16 << 20)


def test_an_index_array_header_cannot_claim_more_than_its_entry(tmp_path: Path) -> None:
    """A header that declares a terabyte of pitches over 16 bytes of data: np.load would
    allocate what the header says."""
    array = io.BytesIO()
    np.lib.format.write_array_header_1_0(array, {"descr": "|u1", "fortran_order": False, "shape": (1 << 40,)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("pitches.npy", array.getvalue() + bytes(16))
    folder = _index_folder(tmp_path, buffer.getvalue())
    with pytest.raises(InputFileError, match="claims 1,099,511,627,776 bytes"):
        Index.load(folder)


def test_an_index_array_of_python_objects_is_never_loaded(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, archive.open("pitches.npy", "w") as member:
        np.save(member, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    folder = _index_folder(tmp_path, buffer.getvalue())
    with pytest.raises(InputFileError, match="Python objects"):
        Index.load(folder)


def test_an_index_that_is_a_named_pipe_is_refused(tmp_path: Path) -> None:
    folder = _index_folder(tmp_path, b"")
    (folder / "index.npz").unlink()
    os.mkfifo(folder / "index.npz")
    with pytest.raises(InputFileError, match="named pipe"):
        Index.load(folder)


# --- real music still passes -------------------------------------------------------


@pytest.mark.datasets
def test_pop909_songs_pass_the_limits_with_room_to_spare(pop909_files: list[Path]) -> None:
    for path in pop909_files[::45]:  # 21 songs across the collection
        score = load_score(path)
        summary = summarize(score)
        assert summary.notes > 0 and summary.bars > 0
