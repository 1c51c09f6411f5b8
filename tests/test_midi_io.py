"""MIDI reading and writing: lossless round trips on hand-made and real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import symusic
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.errors import OutputExistsError
from cadenza.io import load_score, midi_bytes, parse_midi_bytes, save_score
from tests.helpers import make_score


def _fingerprint(score: symusic.Score) -> dict[str, object]:
    """Everything the round trip must keep, in comparable form."""
    tracks = []
    for track in score.tracks:
        notes = track.notes.numpy()
        order = np.lexsort((notes["pitch"], notes["time"]))
        tracks.append(
            (
                track.name,
                track.program,
                track.is_drum,
                tuple(tuple(int(v) for v in notes[k][order]) for k in ("time", "duration", "pitch", "velocity")),
            )
        )
    return {
        "tpq": score.tpq,
        "tracks": tracks,
        "tempos": [(t.time, t.mspq) for t in score.tempos],
        "time_signatures": [(s.time, s.numerator, s.denominator) for s in score.time_signatures],
        "key_signatures": [(k.time, k.key, k.tonality) for k in score.key_signatures],
    }


def test_hand_made_round_trip_keeps_everything(tmp_path: Path) -> None:
    score = make_score([(60, 0, 1, 100), (64, 1, 1.5, 70), (67, 1.5, 4, 30)], program=40, meter=(3, 4))
    bass = symusic.Track(name="bass", program=33)
    bass.notes.append(symusic.Note(0, 1920, 36, 90))
    score.tracks.append(bass)
    score.tempos.append(symusic.Tempo(960, qpm=90.0))
    score.time_signatures.append(symusic.TimeSignature(1440, 6, 8))
    score.key_signatures.append(symusic.KeySignature(0, -3, 1))
    out = save_score(score, tmp_path / "x.mid")
    back = load_score(out)
    assert _fingerprint(back) == _fingerprint(score)
    assert [n.pitch for n in back.tracks[0].notes] == [60, 64, 67]
    assert back.tracks[1].program == 33
    assert back.key_signatures[0].key == -3


def test_writing_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "keep.mid"
    target.write_bytes(b"user's work")
    with pytest.raises(OutputExistsError):
        save_score(make_score([(60, 0, 1)]), target)
    assert target.read_bytes() == b"user's work"
    save_score(make_score([(60, 0, 1)]), target, force=True)
    assert load_score(target).tracks[0].notes[0].pitch == 60
    assert [p.name for p in tmp_path.iterdir()] == ["keep.mid"]  # no temporary file left behind


@pytest.mark.datasets
def test_pop909_round_trip_is_lossless_on_all_files(pop909_files: list[Path]) -> None:
    assert len(pop909_files) == 909
    for path in pop909_files:
        score = load_score(path)
        back = parse_midi_bytes(midi_bytes(score))
        assert _fingerprint(back) == _fingerprint(score), path
        assert back.note_num() == score.note_num() > 0


@pytest.mark.datasets
def test_info_succeeds_on_every_pop909_file(pop909_files: list[Path]) -> None:
    runner = CliRunner()
    for path in pop909_files:
        result = runner.invoke(app, ["info", "--json", str(path)])
        assert result.exit_code == 0, (path, result.output)
        assert '"notes"' in result.output


def test_info_reports_tracks_and_signatures(tmp_path: Path) -> None:
    score = make_score([(60 + i, i, i + 1) for i in range(8)], program=40, qpm=100, meter=(3, 4))
    score.key_signatures.append(symusic.KeySignature(0, 2, 0))
    path = save_score(score, tmp_path / "v.mid")
    result = CliRunner().invoke(app, ["info", str(path)])
    assert result.exit_code == 0
    for expected in ("8 notes", "3/4", "D major", "Violin", "100 bpm"):
        assert expected in result.output
