"""`cadenza verify` against a forger, and the key files against a planted link.

Each file here is made hostile by the test itself: a signer edited to another studio's,
a record re-signed by a stranger under a known name, a muted or bent MIDI, an edited
seed inside the MIDI marker, a symlink at the key's temporary path, a keys folder anyone
can write, records that are missing, deep or malformed.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import symusic
from typer.testing import CliRunner

from cadenza.io import load_score
from cadenza.io.midi import midi_bytes
from cadenza.provenance.record import MARKER_PREFIX, embed_marker, music_sha256, sidecar_path, write_record
from cadenza.provenance.signing import load_key, sign_record, verify_file

pytest.importorskip("cryptography")

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes, links and FIFOs")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CADENZA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def cadenza(*args: str) -> tuple[int, str]:
    from cadenza.cli import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def two_studios() -> None:
    for name, signer in (("studio-a", "Studio A"), ("studio-b", "Studio B")):
        code, output = cadenza("keys", "new", "--name", name, "--signer", signer)
        assert code == 0, output


def signed_midi(tmp_path: Path, key_name: str, name: str = "piece.mid") -> Path:
    """A MIDI file with its marker and signed sidecar, as `cadenza generate` writes them."""
    score = symusic.Score(480)
    score.tempos.append(symusic.Tempo(0, qpm=96.0))
    for program, pitches in ((0, (60, 64, 67, 72)), (33, (36, 43, 36, 43))):
        track = symusic.Track(f"track {program}", program, False)
        for beat, pitch in enumerate(pitches):
            track.notes.append(symusic.Note(beat * 480, 480, pitch, 80))
        score.tracks.append(track)
    record = {"model": {"name": "test"}, "seed": 7, "music_sha256": music_sha256(score), "created": "2026-01-01"}
    signed = sign_record(record, load_key(key_name))
    path = tmp_path / name
    path.write_bytes(midi_bytes(embed_marker(score, signed)))
    write_record(signed, path)
    return path


def edit_sidecar(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    sidecar = sidecar_path(path)
    record = json.loads(sidecar.read_text())
    change(record)
    sidecar.write_text(json.dumps(record, indent=1))


def public(name: str, home: Path) -> dict:
    return json.loads((home / "keys" / f"{name}.pub.json").read_text())


# 1. who signed: only what the signature covers, the key id computed


def test_a_signer_edited_to_another_studio_is_not_believed(tmp_path: Path, home: Path) -> None:
    two_studios()
    path = signed_midi(tmp_path, "studio-b")
    assert cadenza("verify", str(path))[0] == 0
    studio_a = public("studio-a", home)

    def forge(record: dict) -> None:
        record["signature"]["signer"] = "Studio A"
        record["signature"]["key_id"] = studio_a["key_id"]

    edit_sidecar(path, forge)
    code, output = cadenza("verify", str(path))
    assert code == 1, output
    assert "NOT intact" in output and "Studio A" not in output and studio_a["key_id"] not in output
    result = verify_file(path)
    assert not result.intact and result.signer is None and not result.known_key


def test_the_key_id_is_computed_from_the_public_key(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stranger signs the record with their own key, under Studio A's name."""
    from cadenza.provenance.keys import b64, new_key
    from cadenza.provenance.signing import _message

    two_studios()
    path = signed_midi(tmp_path, "studio-b")
    studio_a = public("studio-a", home)
    monkeypatch.setenv("CADENZA_HOME", str(tmp_path / "stranger"))
    stranger = new_key("mallory", "Studio A")
    monkeypatch.setenv("CADENZA_HOME", str(home))
    record = json.loads(sidecar_path(path).read_text())
    # a block claiming Studio A's key id, validly signed by the stranger's key
    claimed = sign_record(record, stranger)
    claimed["signature"]["key_id"] = studio_a["key_id"]
    claimed["signature"]["value"] = b64(stranger.private.sign(_message(claimed)))  # type: ignore[attr-defined]
    write_record(claimed, path, force=True)
    code, output = cadenza("verify", str(path))
    assert code == 1 and "key id" in output and "Studio A" not in output, output
    # an honest id under a borrowed name: intact, but not Studio A's key, and said so
    write_record(sign_record(record, stranger), path, force=True)
    code, output = cadenza("verify", str(path))
    assert code == 0, output
    assert "does not know" in output and "unconfirmed" in output and "signed by Studio A" not in output
    result = verify_file(path)
    assert result.key_id == stranger.key_id != studio_a["key_id"] and not result.known_key


def test_a_known_key_is_named_by_this_machine(tmp_path: Path, home: Path) -> None:
    two_studios()
    path = signed_midi(tmp_path, "studio-a")
    code, output = cadenza("verify", str(path))
    assert code == 0, output
    assert f"signed by Studio A (key {public('studio-a', home)['key_id']}, a key this machine knows)" in output


# 2. the music hash and the marker


def _rewrite(path: Path, change) -> None:  # type: ignore[no-untyped-def]
    score = load_score(path)
    change(score)
    path.write_bytes(midi_bytes(score))


@pytest.mark.parametrize(
    "change",
    [
        lambda s: [t.controls.append(symusic.ControlChange(0, 7, 0)) for t in s.tracks],  # renders silent
        lambda s: [t.pitch_bends.append(symusic.PitchBend(0, 8191)) for t in s.tracks],  # 2 semitones up
    ],
    ids=["muted", "bent"],
)
def test_a_muted_or_bent_midi_is_not_intact(tmp_path: Path, change) -> None:  # type: ignore[no-untyped-def]
    cadenza("keys", "new")
    path = signed_midi(tmp_path, "default")
    _rewrite(path, change)
    code, output = cadenza("verify", str(path))
    assert code == 1 and "music was changed" in output, output


def _marker(score: symusic.Score) -> dict:
    return json.loads(next(m.text for m in score.markers if m.text.startswith(MARKER_PREFIX))[len(MARKER_PREFIX) :])


def _set_marker(score: symusic.Score, text: str) -> None:
    kept = [m for m in score.markers if not m.text.startswith(MARKER_PREFIX)]
    score.markers.clear()
    score.markers.extend([*kept, symusic.TextMeta(0, MARKER_PREFIX + text)])


def test_an_edited_seed_inside_the_marker_is_not_intact(tmp_path: Path) -> None:
    cadenza("keys", "new")
    path = signed_midi(tmp_path, "default")
    _rewrite(path, lambda s: _set_marker(s, json.dumps({**_marker(s), "seed": 8})))
    code, output = cadenza("verify", str(path))
    assert code == 1 and "marker" in output and "seed" in output, output


def test_a_second_or_deep_marker_is_not_intact_and_does_not_crash(tmp_path: Path) -> None:
    cadenza("keys", "new")
    path = signed_midi(tmp_path, "default")
    _rewrite(path, lambda s: s.markers.append(symusic.TextMeta(10, MARKER_PREFIX + json.dumps({"seed": 8}))))
    code, output = cadenza("verify", str(path))
    assert code == 1 and "2 provenance markers" in output, output
    _rewrite(path, lambda s: _set_marker(s, "[" * 100_000))
    code, output = cadenza("verify", str(path))
    assert code == 1 and "marker inside the file is damaged" in output, output


# 3. key files


@posix_only
def test_a_symlink_planted_at_the_temporary_key_path_does_not_receive_the_key(tmp_path: Path, home: Path) -> None:
    folder = home / "keys"
    folder.mkdir(parents=True, mode=0o700)
    bait = tmp_path / "bait.txt"
    bait.write_text("not yours\n")
    (folder / ".studio.key.tmp").symlink_to(bait)
    (folder / ".studio.pub.json.tmp").symlink_to(tmp_path / "elsewhere.json")
    code, output = cadenza("keys", "new", "--name", "studio")
    assert bait.read_text() == "not yours\n" and not (tmp_path / "elsewhere.json").exists()
    if code == 0:  # the link was set aside: the key is a private regular file of its own
        key = folder / "studio.key"
        assert not key.is_symlink() and stat.S_IMODE(key.lstat().st_mode) == 0o600
        assert b"PRIVATE KEY" in key.read_bytes()
    else:
        assert code == 2 and len(output.strip().splitlines()) == 1, output


@posix_only
def test_a_keys_folder_others_can_write_is_refused_and_trusted_for_nothing(tmp_path: Path, home: Path) -> None:
    cadenza("keys", "new", "--signer", "Ada")
    path = signed_midi(tmp_path, "default")
    folder = home / "keys"
    folder.chmod(0o777)
    code, output = cadenza("keys", "new", "--name", "other")
    assert code == 2 and "writable by others" in output and str(folder) in output, output
    assert not (folder / "other.key").exists()
    code, output = cadenza("verify", str(path))
    assert code == 0 and "writable by others" in output and "does not know" in output, output
    folder.chmod(0o700)
    assert "a key this machine knows" in cadenza("verify", str(path))[1]


# 4. exit codes: 0 intact, 1 not intact, 2 could not check


def test_verify_exit_codes(tmp_path: Path) -> None:
    cadenza("keys", "new")
    path = signed_midi(tmp_path, "default")
    assert cadenza("verify", str(path))[0] == 0
    edit_sidecar(path, lambda r: r.update(seed=9))
    assert cadenza("verify", str(path))[0] == 1
    code, output = cadenza("verify", str(tmp_path / "missing.mid"))
    assert code == 2 and "missing.mid" in output, output
    sidecar_path(path).unlink()
    code, output = cadenza("verify", str(path))
    assert code == 2 and "no provenance record" in output, output


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000, "{" * 50_000, '{"signature": ', "[1, 2]", "\xff\xfe", ""],
    ids=["deep-list", "deep-object", "truncated", "not-an-object", "not-utf8", "empty"],
)
def test_a_malformed_record_cannot_be_checked(tmp_path: Path, text: str) -> None:
    cadenza("keys", "new")
    path = signed_midi(tmp_path, "default")
    sidecar_path(path).write_bytes(text.encode("latin-1"))
    code, output = cadenza("verify", str(path))
    assert code == 2, output
    assert len(output.strip().splitlines()) == 1 and "provenance.json" in output, output
    assert "Traceback" not in output and "RecursionError" not in output


@pytest.mark.parametrize(
    "block",
    [{"public_key": 5, "value": []}, {"public_key": "%%%", "value": "x"}, "signed", {"signer": "\ud800"}],
    ids=["wrong-types", "bad-base64", "not-a-block", "lone-surrogate"],
)
def test_a_damaged_signature_block_is_not_intact(tmp_path: Path, block: object) -> None:
    cadenza("keys", "new")
    path = signed_midi(tmp_path, "default")

    def damage(record: dict) -> None:
        record["signature"] = {**record["signature"], **block} if isinstance(block, dict) else block

    edit_sidecar(path, damage)
    code, output = cadenza("verify", str(path))
    assert code == 1 and "NOT intact" in output, output


@posix_only
def test_a_fifo_for_a_record_is_refused_without_waiting(tmp_path: Path) -> None:
    cadenza("keys", "new")
    path = signed_midi(tmp_path, "default")
    sidecar_path(path).unlink()
    os.mkfifo(sidecar_path(path))
    code, output = cadenza("verify", str(path))
    assert code == 2 and "not a regular file" in output, output


@pytest.mark.parametrize("depth", [900, 990, 998])
def test_a_record_nested_just_within_json_limits_is_a_verdict_not_a_crash(tmp_path: Path, depth: int) -> None:
    cadenza("keys", "new")
    path = signed_midi(tmp_path, "default")
    sidecar = sidecar_path(path)
    text = sidecar.read_text()
    assert '"seed": 7' in text
    sidecar.write_text(text.replace('"seed": 7', '"seed": ' + "[" * depth + "]" * depth))
    code, output = cadenza("verify", str(path))
    assert code in (1, 2) and len(output.strip().splitlines()) == 1, output
    assert "internal error" not in output and "Traceback" not in output


# 5. found in review: a record moved beside another file, a missing record, a key replaced


@pytest.mark.parametrize("name", ["cue.wav", "score.musicxml", "cover.png"])
def test_a_midi_record_beside_another_format_vouches_for_nothing(tmp_path: Path, name: str) -> None:
    cadenza("keys", "new")
    midi = signed_midi(tmp_path, "default")
    other = tmp_path / name
    other.write_bytes(b"anything at all")
    sidecar_path(other).write_bytes(sidecar_path(midi).read_bytes())  # a genuine, signed record
    code, output = cadenza("verify", str(other))
    assert code == 1 and "NOT intact" in output and "holds no hash of this file" in output, output
    result = verify_file(other)
    assert result.record_intact and result.music_intact is False and not result.intact


def test_a_missing_record_is_named_as_the_files_not_as_the_subject(tmp_path: Path) -> None:
    cadenza("keys", "new")
    path = signed_midi(tmp_path, "default")
    sidecar_path(path).unlink()
    code, output = cadenza("verify", str(path))
    assert code == 2 and f"{path}: has no provenance record (piece.mid.provenance.json is missing)" in output, output


def test_replacing_a_key_says_what_becomes_of_what_it_signed(tmp_path: Path) -> None:
    code, output = cadenza("keys", "new", "--name", "studio")
    assert code == 0, output
    code, output = cadenza("keys", "new", "--name", "studio")
    assert code == 2 and "--force" in output and "old signatures stay valid" not in output, output
    assert "unknown key" in " ".join(output.split()), output


def _inserted(path: Path, events: bytes) -> None:
    """``events`` (each with its delta time) put at the start of the file's first track."""
    data = bytearray(path.read_bytes())
    start = data.index(b"MTrk")
    length = int.from_bytes(data[start + 4 : start + 8], "big")
    data[start + 8 : start + 8] = events
    data[start + 4 : start + 8] = (length + len(events)).to_bytes(4, "big")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("events", "named"),
    [
        (bytes([0, 0xF0, 7, 0x7F, 0x7F, 4, 1, 0, 0, 0xF7]), "1 SysEx"),  # master volume 0: silent everywhere
        (bytes([0, 0xD0, 127, 0, 0xD0, 127]), "2 channel aftertouch"),
        (bytes([0, 0xA0, 60, 127]), "1 key aftertouch"),
        (bytes([0, 0xFF, 2, 12]) + b"(c) Studio B", "1 copyright"),
    ],
    ids=["master-volume-sysex", "channel-aftertouch", "key-aftertouch", "copyright"],
)
def test_midi_events_the_hash_cannot_cover_are_not_intact(tmp_path: Path, events: bytes, named: str) -> None:
    cadenza("keys", "new")
    path = signed_midi(tmp_path, "default")
    music = music_sha256(load_score(path))
    _inserted(path, events)
    assert music_sha256(load_score(path)) == music  # symusic does not read them: the hash cannot see them
    code, output = cadenza("verify", str(path))
    assert code == 1 and "NOT intact" in output and named in output, output


def test_a_stranger_key_whose_id_collides_with_a_known_one_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An id is a prefix of a hash (64 bits); trust must come from the whole public key.
    With ids cut to one hex digit, a colliding stranger is found in a few tries."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from cadenza.provenance import keys, signing

    def short(public: bytes) -> str:
        return hashlib.sha256(public).hexdigest()[:1]

    monkeypatch.setattr(keys, "key_id", short)
    monkeypatch.setattr(signing, "key_id", short)
    two_studios()
    known = load_key("studio-a")
    stranger = keys.SigningKey("x", "Studio A", Ed25519PrivateKey.generate())
    while stranger.key_id != known.key_id or stranger.public_bytes == known.public_bytes:
        stranger = keys.SigningKey("x", "Studio A", Ed25519PrivateKey.generate())
    score = symusic.Score(480)
    track = symusic.Track("t", 0, False)
    track.notes.append(symusic.Note(0, 480, 60, 80))
    score.tracks.append(track)
    signed = sign_record({"seed": 1, "music_sha256": music_sha256(score)}, stranger)
    path = tmp_path / "forged.mid"
    path.write_bytes(midi_bytes(embed_marker(score, signed)))
    write_record(signed, path)
    result = verify_file(path)
    assert result.intact and result.key_id == known.key_id  # the ids agree...
    assert not result.known_key and result.known_signer is None  # ...the keys do not
