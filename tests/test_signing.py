"""Signing provenance records with ed25519, and `cadenza verify`."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import symusic
import typer
from typer.testing import CliRunner

from cadenza.errors import InputFileError, OutputExistsError
from cadenza.io import load_score
from cadenza.io.midi import midi_bytes
from cadenza.provenance.record import embed_marker, music_sha256, with_originality, write_record
from cadenza.provenance.signing import (
    default_key,
    keys_dir,
    known_keys,
    load_key,
    new_key,
    sign_record,
    verify_file,
    verify_record,
)
from tests.helpers import make_score

pytest.importorskip("cryptography")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keys go to a fresh CADENZA_HOME, never to the user's own folder."""
    monkeypatch.setenv("CADENZA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _piece() -> symusic.Score:
    return make_score([(60, 0, 1), (64, 1, 2), (67, 2, 3), (72, 3, 4), (67, 4, 6)])


def _write_signed(tmp_path: Path, name: str = "piece.mid") -> Path:
    """A MIDI file with its marker and signed sidecar, as `cadenza generate` writes them."""
    score = _piece()
    record = {"model": {"name": "test"}, "seed": 7, "music_sha256": music_sha256(score), "created": "2025-01-01"}
    signed = sign_record(record, load_key() if (keys_dir() / "default.key").exists() else default_key())
    path = tmp_path / name
    path.write_bytes(midi_bytes(embed_marker(score, signed)))
    write_record(signed, path)
    return path


def test_new_key_is_private_to_its_owner_and_loads_again(home: Path) -> None:
    key = new_key("studio", "Ada <ada@example.org>")
    assert keys_dir() == home / "keys"
    mode = stat.S_IMODE(os.stat(home / "keys" / "studio.key").st_mode)
    assert mode == 0o600
    again = load_key("studio")
    assert again.key_id == key.key_id and again.signer == "Ada <ada@example.org>"
    assert known_keys() == {key.key_id: "Ada <ada@example.org>"}
    with pytest.raises(OutputExistsError):
        new_key("studio")
    with pytest.raises(InputFileError):
        load_key("nobody")


def test_signed_midi_verifies_and_names_its_signer(tmp_path: Path) -> None:
    new_key("default", "Ada <ada@example.org>")
    path = _write_signed(tmp_path)
    result = verify_file(path)
    assert result.intact and result.record_intact and result.music_intact
    assert result.signer == "Ada <ada@example.org>" and result.known_key
    assert result.key_id == load_key().key_id


def test_a_changed_note_makes_verify_fail(tmp_path: Path) -> None:
    path = _write_signed(tmp_path)
    score = load_score(path)
    score.tracks[0].notes[2].pitch += 1  # G -> G#, marker kept
    path.write_bytes(midi_bytes(score))
    result = verify_file(path)
    assert not result.intact
    assert result.record_intact and result.music_intact is False
    assert "music was changed" in " ".join(result.problems)


def test_a_changed_record_makes_verify_fail(tmp_path: Path) -> None:
    path = _write_signed(tmp_path)
    sidecar = path.with_name(path.name + ".provenance.json")
    record = json.loads(sidecar.read_text())
    record["seed"] = 8
    sidecar.write_text(json.dumps(record))
    result = verify_file(path)
    assert not result.intact and not result.record_intact
    assert "changed after it was signed" in " ".join(result.problems)


def test_a_record_for_other_music_fails_even_if_signed(tmp_path: Path) -> None:
    path = _write_signed(tmp_path)
    other = make_score([(50, 0, 1), (52, 1, 2)])
    record = json.loads(path.with_name(path.name + ".provenance.json").read_text())
    resigned = sign_record({**record, "music_sha256": music_sha256(other)}, load_key())
    write_record(resigned, path, force=True)
    result = verify_file(path)
    assert result.record_intact and result.music_intact is False and not result.intact


def test_unsigned_record_and_missing_record(tmp_path: Path) -> None:
    path = tmp_path / "plain.mid"
    score = _piece()
    path.write_bytes(midi_bytes(score))
    with pytest.raises(InputFileError, match="no provenance record"):
        verify_file(path)
    write_record({"music_sha256": music_sha256(score)}, path)
    result = verify_file(path)
    assert not result.intact and result.music_intact
    assert verify_record({"music_sha256": "x"}) == (False, "the record is not signed")


def test_a_key_this_machine_does_not_know_is_said_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write_signed(tmp_path)
    monkeypatch.setenv("CADENZA_HOME", str(tmp_path / "elsewhere"))
    result = verify_file(path)
    assert result.intact and not result.known_key


def test_other_formats_are_checked_by_their_bytes(tmp_path: Path) -> None:
    path = tmp_path / "piece.musicxml"
    path.write_text("<score-partwise/>")
    record = sign_record({"music_sha256": music_sha256(_piece())}, default_key(), file=path)
    write_record(record, path)
    assert verify_file(path).intact
    path.write_text("<score-partwise></score-partwise>")
    assert not verify_file(path).intact


def test_originality_report_goes_into_the_signed_record() -> None:
    record = with_originality({"music_sha256": "abc"}, {"flagged": False, "share_found": 0.1})
    assert record["originality"] == {"checked": True, "flagged": False, "share_found": 0.1}
    assert with_originality({}, None)["originality"]["checked"] is False
    signed = sign_record(record, default_key())
    assert verify_record(signed) == (True, "")
    signed["originality"]["flagged"] = True
    assert not verify_record(signed)[0]


def test_cli_keys_new_and_verify(tmp_path: Path) -> None:
    from cadenza.cli_provenance import register

    app = typer.Typer()
    register(app)
    runner = CliRunner()
    made = runner.invoke(app, ["keys", "new", "--signer", "Ada <ada@example.org>"])
    assert made.exit_code == 0, made.output
    path = _write_signed(tmp_path)
    good = runner.invoke(app, ["verify", str(path)])
    assert good.exit_code == 0, good.output
    assert "intact" in good.output and "Ada" in good.output
    score = load_score(path)
    score.tracks[0].notes[0].duration += 60
    path.write_bytes(midi_bytes(score))
    bad = runner.invoke(app, ["verify", str(path), "--json"])
    assert bad.exit_code == 1
    assert json.loads(bad.output)["intact"] is False


def test_generate_writes_a_report_and_a_signed_record_for_every_output(tmp_path: Path) -> None:
    from cadenza.cli import app

    outputs = [tmp_path / "a.mid", tmp_path / "a.musicxml"]
    args = ["generate", "--bars", "4", "--count", "2", "--originality", "NORMAL"]
    result = CliRunner().invoke(app, [*args, *(x for o in outputs for x in ("-o", str(o)))])
    assert result.exit_code == 0, result.output
    for written in (tmp_path / n for n in ("a-1.mid", "a-2.mid", "a-1.musicxml", "a-2.musicxml")):
        record = json.loads(written.with_name(written.name + ".provenance.json").read_text())
        assert record["originality"]["level"] == "NORMAL" and "share_found" in record["originality"]
        assert verify_file(written).intact


def test_signing_key_by_name_is_never_made_on_the_fly(home: Path) -> None:
    from cadenza.provenance.signing import signing_key

    with pytest.raises(InputFileError, match="keys new --name studio"):
        signing_key("studio")
    assert not (home / "keys" / "studio.key").exists()
    made = new_key("studio", "Ada")
    assert signing_key("studio").key_id == made.key_id
    assert signing_key(None).name == "default" and (home / "keys" / "default.key").exists()


def test_a_public_key_file_that_is_not_its_private_keys_is_refused(home: Path) -> None:
    new_key("studio", "Ada")
    other = new_key("other", "Bob")
    pub = home / "keys" / "studio.pub.json"
    data = json.loads(pub.read_text())
    pub.write_text(
        json.dumps({**data, "public_key": json.loads((home / "keys" / "other.pub.json").read_text())["public_key"]})
    )
    with pytest.raises(InputFileError, match=r"not the public key of studio\.key"):
        load_key("studio")
    assert other.key_id in known_keys()
