"""render_pianoroll: images read back and checked pixel by pixel."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import symusic
from PIL import Image
from symusic.core import ScoreTick

from cadenza.errors import InvalidArgumentError, LimitExceededError, OutputExistsError
from cadenza.io import pianoroll
from cadenza.io.pianoroll import (
    BACKGROUND,
    BAR_LINE,
    STRONG_BAR_LINE,
    TRACK_COLOURS,
    render_pianoroll,
)
from tests.helpers import make_score

TPQ = 480
Notes = Sequence[tuple[int, float, float]]  # (pitch, start beat, end beat)


def make_tracks(*tracks: Notes, drums: tuple[int, ...] = (), velocity: int = 127) -> ScoreTick:
    """A score with one track per list of notes; the tracks listed in ``drums`` are drums."""
    score = make_score([])
    score.tracks.clear()  # keep its tempo and 4/4 time signature
    for index, notes in enumerate(tracks):
        track = make_score([(p, a, b, velocity) for p, a, b in notes]).tracks[0]
        track.name, track.is_drum = f"t{index}", index in drums
        score.tracks.append(track)
    return score


def render(score: ScoreTick, path: Path, *, max_width: int = 4000) -> np.ndarray:
    """Render to ``path`` (a folder gets roll.png) and read the pixels back."""
    out = render_pianoroll(score, path / "roll.png" if path.is_dir() else path, max_width=max_width, force=True)
    with Image.open(out) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def where(pixels: np.ndarray, colour: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(rows, columns) of the pixels that have exactly ``colour``."""
    rows, columns = np.nonzero(np.all(pixels == colour, axis=-1))
    return rows, columns


def notes_of(pixels: np.ndarray, colour: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`where`, but only inside the plot, below the legend and bar numbers."""
    top = where(pixels, STRONG_BAR_LINE)[0].min()  # bar lines span the plot only
    rows, cols = where(pixels[top:], colour)
    return rows + top, cols


def bar_columns(pixels: np.ndarray, row: int) -> tuple[list[int], list[int]]:
    """Columns of the thin and of the strong bar lines crossing ``row``."""
    return (
        where(pixels[row : row + 1], BAR_LINE)[1].tolist(),
        where(pixels[row : row + 1], STRONG_BAR_LINE)[1].tolist(),
    )


def test_each_track_has_its_colour_where_its_notes_are(tmp_path: Path) -> None:
    high_early = [(72, 0, 4)]
    low_late = [(48, 8, 12)]
    pixels = render(make_tracks(high_early, low_late), tmp_path)
    rows0, cols0 = notes_of(pixels, TRACK_COLOURS[0])
    rows1, cols1 = notes_of(pixels, TRACK_COLOURS[1])
    assert rows0.size and rows1.size
    assert rows0.max() < rows1.min()  # higher pitch is higher up
    assert cols0.max() < cols1.min()  # earlier is further left
    # the notes line up with the bars: one 4/4 bar is 4 beats
    thin, strong = bar_columns(pixels, rows0.max() + 2)
    lines = sorted(thin + strong)
    assert cols0.min() == lines[0]  # beat 0 starts on the first bar line
    assert cols0.max() < lines[1] <= cols0.max() + 2  # and ends (less a 1 px gap) at the next
    assert cols1.min() == lines[2]  # beat 8 starts on the third


def test_bar_lines_follow_the_time_signatures(tmp_path: Path) -> None:
    # 2 bars of 4/4 (8 beats), then 14 bars of 3/4 (42 beats): 16 bars in all
    score = make_tracks([(60, 0, 1), (64, 49, 50)])
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    score.time_signatures.append(symusic.TimeSignature(8 * TPQ, 3, 4))
    pixels = render(score, tmp_path)
    rows, _ = notes_of(pixels, TRACK_COLOURS[0])
    empty_row = rows.max() + 6  # below the lowest note, inside the plot's margin
    thin, strong = bar_columns(pixels, empty_row)
    lines = sorted(thin + strong)
    assert len(lines) == 16
    assert strong == [lines[0], lines[4], lines[8], lines[12]]  # every 4th bar
    gaps = np.diff(lines)
    per_beat = (lines[-1] - lines[0]) / (8 + 13 * 3)
    assert gaps[0] == pytest.approx(4 * per_beat, abs=1)  # a 4/4 bar
    assert np.allclose(gaps[2:], 3 * per_beat, atol=1)  # 3/4 bars
    assert abs(gaps[0] / gaps[5] - 4 / 3) < 0.05


def test_velocity_sets_brightness_and_drums_are_short_marks(tmp_path: Path) -> None:
    loud = make_tracks([(60, 0, 8)], velocity=127)
    soft = make_tracks([(60, 0, 8)], velocity=30)
    bright = render(loud, tmp_path / "loud.png").astype(int)
    dim = render(soft, tmp_path / "soft.png").astype(int)
    assert bright.sum() > dim.sum()

    melodic = make_tracks([(60, 0, 8)], [(36, 0, 8)], drums=(1,))
    pixels = render(melodic, tmp_path / "drums.png")
    _, piano_cols = notes_of(pixels, TRACK_COLOURS[0])
    _, drum_cols = notes_of(pixels, TRACK_COLOURS[1])
    assert drum_cols.size and drum_cols.max() - drum_cols.min() < 12  # a mark, not 8 beats
    assert piano_cols.max() - piano_cols.min() > 100


def test_size_is_bounded_for_a_note_lasting_days(tmp_path: Path) -> None:
    score = make_tracks([(60, 0, 1)])
    score.tracks[0].notes.append(symusic.Note(0, 2**31 - 10, 61, 100))  # ~ 52 days at 120
    pixels = render(score, tmp_path)
    assert pixels.shape[1] <= 4000 and pixels.shape[0] <= 600
    pixels = render(score, tmp_path, max_width=1000)
    assert pixels.shape[1] <= 1000


def test_empty_score_gives_a_blank_image(tmp_path: Path) -> None:
    pixels = render(symusic.Score(TPQ), tmp_path)
    assert 100 < pixels.shape[0] <= 600 and 300 < pixels.shape[1] <= 4000
    for colour in TRACK_COLOURS:
        assert where(pixels, colour)[0].size == 0
    assert where(pixels, BACKGROUND)[0].size > pixels.shape[0] * pixels.shape[1] // 2


def test_many_tracks_and_the_whole_pitch_range_keep_the_height_small(tmp_path: Path) -> None:
    score = make_tracks(*[[(3 * i, i, i + 1)] for i in range(43)])  # pitches 0..126
    pixels = render(score, tmp_path)
    assert pixels.shape[0] <= 600
    for colour in TRACK_COLOURS:  # all ten colours are in use
        assert notes_of(pixels, colour)[0].size


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "roll.png"
    target.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError):
        render_pianoroll(make_tracks([(60, 0, 1)]), target)
    assert target.read_bytes() == b"keep me"
    render_pianoroll(make_tracks([(60, 0, 1)]), target, force=True)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_failure_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_save(self: Image.Image, path: Path, format: str) -> None:
        Path(path).write_bytes(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError):
        render_pianoroll(make_tracks([(60, 0, 1)]), tmp_path / "roll.png")
    assert list(tmp_path.iterdir()) == []


def test_refuses_bad_arguments_and_absurd_note_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidArgumentError):
        render_pianoroll(make_tracks([(60, 0, 1)]), tmp_path / "a.png", max_width=10)
    monkeypatch.setattr(pianoroll, "MAX_ROLL_NOTES", 5)
    with pytest.raises(LimitExceededError):
        render_pianoroll(make_tracks([(60, i, i + 1) for i in range(6)]), tmp_path / "b.png")
    assert list(tmp_path.iterdir()) == []
