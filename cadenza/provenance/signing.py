"""Ed25519 signatures on provenance records, and checking a file against its record.

A signature covers the whole record, its own block included, less the signature value:
the canonical JSON (sorted keys, no spaces, UTF-8) of the record whose ``signature``
block has no ``value``. So the music hash (``music_sha256``), every condition, the
signer's name, the key id and the public key are all signed: changing one note or one
character anywhere breaks it. The key id is computed from the public key when
checking, never read, and only a key whose public key is in this machine's keys folder
is "known" (:mod:`cadenza.provenance.keys`). The public key travels in the record, so
anyone can sign a record with a key of their own and any signer name: trust the name
only when the key is known.

:func:`verify_file` also checks the music against ``music_sha256``
(:mod:`cadenza.provenance.music_hash`), or a non-MIDI file's bytes against
``file_sha256`` (a record without one vouches for no other format), that a MIDI file
holds nothing the music hash cannot cover, and that its own provenance marker says
exactly what the record says.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cadenza.errors import InputFileError
from cadenza.io.files import regular_sha256
from cadenza.io.formats import is_midi
from cadenza.jsonfile import parse_json, read_json
from cadenza.provenance.keys import (
    ALGORITHM,
    DEFAULT_KEY,
    SigningKey,
    b64,
    default_key,
    key_id,
    keys_dir,
    known_keys,
    known_public_keys,
    load_key,
    new_key,
    signing_key,
)
from cadenza.provenance.music_hash import MARKER_PREFIX, music_sha256, unread_events

if TYPE_CHECKING:
    import symusic

__all__ = [
    "DEFAULT_KEY",
    "SCHEME",
    "SigningKey",
    "Verification",
    "default_key",
    "keys_dir",
    "known_keys",
    "load_key",
    "new_key",
    "sign_record",
    "signing_key",
    "verify_file",
    "verify_record",
]

SCHEME = "cadenza-provenance-v2"  # v1 left the signer and key id unsigned
RECORD_BYTES = 16 * 1024 * 1024  # a record larger than this is not one cadenza wrote
_CONTEXT = SCHEME.encode("ascii") + b"\n"


def _message(record: dict) -> bytes:
    """What is signed: the record, its signature block less the value, canonical JSON."""
    block = {k: v for k, v in record["signature"].items() if k != "value"}
    covered = {**record, "signature": block}
    return _CONTEXT + json.dumps(covered, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def sign_record(record: dict, key: SigningKey, *, file: str | os.PathLike[str] | None = None) -> dict:
    """A copy of ``record`` with a ``signature`` block over all of it.

    ``file``: an output that is not MIDI (MusicXML, WAV, PNG) whose bytes the record
    cannot otherwise vouch for; its sha256 goes into the record (``file_sha256``)
    before signing. A MIDI file is checked through ``music_sha256`` instead.
    """
    signed = {k: v for k, v in record.items() if k != "signature"}
    if file is not None and not is_midi(file):
        signed["file_sha256"] = regular_sha256(file)
    signed["signature"] = {
        "scheme": SCHEME,
        "algorithm": ALGORITHM,
        "signer": key.signer,
        "key_id": key.key_id,
        "public_key": b64(key.public_bytes),
    }
    signed["signature"]["value"] = b64(key.private.sign(_message(signed)))  # type: ignore[attr-defined]
    return signed


@dataclass(frozen=True)
class _Signature:
    holds: bool
    problem: str  # why it does not hold ("" when it does)
    signer: str | None = None  # the signer named in the signed block, when it holds
    key_id: str | None = None  # computed from the public key, when it holds
    public: bytes | None = None  # the raw public key that signed, when it holds


def _check_signature(record: dict) -> _Signature:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    block = record.get("signature")
    if not isinstance(block, dict):
        return _Signature(False, "the record is not signed")
    if block.get("scheme") != SCHEME:
        return _Signature(False, "the record is signed by an older cadenza whose signature leaves out the signer")
    if block.get("algorithm") != ALGORITHM:
        return _Signature(False, "the record names an unknown signature algorithm")
    try:
        public = base64.b64decode(block["public_key"], validate=True)
        value = base64.b64decode(block["value"], validate=True)
        Ed25519PublicKey.from_public_bytes(public).verify(value, _message(record))
    except (KeyError, ValueError, TypeError):  # UnicodeEncodeError (a lone surrogate) is a ValueError
        return _Signature(False, "the signature block is damaged")
    except InvalidSignature:
        return _Signature(False, "the record was changed after it was signed")
    computed = key_id(public)
    if block.get("key_id") != computed:
        return _Signature(False, "the key id in the record is not that of the key that signed it")
    signer = block.get("signer")
    if not isinstance(signer, str):
        return _Signature(False, "the signature block is damaged")
    return _Signature(True, "", signer, computed, public)


def verify_record(record: dict) -> tuple[bool, str]:
    """(whether the signature holds over the record as it is now, why not)."""
    checked = _check_signature(record)
    return checked.holds, checked.problem


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_file` found. ``signer`` and ``key_id`` are filled only when
    the signature holds: the signer as the signed record names it, the key id as
    computed from its public key."""

    path: str
    record_path: str
    record_intact: bool
    music_intact: bool  # the music (MIDI) or the file's bytes (other formats) are those the record vouches for
    signer: str | None
    key_id: str | None
    known_key: bool  # the public key that signed is one in this machine's keys folder
    known_signer: str | None = None  # the signer this machine's key file names, when known
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.record_intact and self.music_intact and not self.problems


def _music_intact(path: Path, score: symusic.Score | None, record: dict) -> tuple[bool, list[str]]:
    """``score``: the file read back when it is MIDI (None otherwise). A file that is not
    MIDI is vouched for only by the sha256 of its bytes: a record without one (a MIDI
    file's record, put beside another file) vouches for nothing in it."""
    if score is not None:
        same = music_sha256(score) == record.get("music_sha256")
        return same, [] if same else ["the music was changed after the record was made"]
    if "file_sha256" not in record:
        return False, ["the record holds no hash of this file's bytes (it was made for a MIDI file, not this one)"]
    same = regular_sha256(path) == record["file_sha256"]
    return same, [] if same else ["the file was changed after the record was made"]


def _json_text(part: dict, key: str) -> str | None:
    """``part[key]`` as JSON text (so that a NaN equals itself), None when absent."""
    return json.dumps(part[key], sort_keys=True) if key in part else None


def _unread_problems(path: Path) -> list[str]:
    """A MIDI file that holds what the music hash cannot cover (a SysEx master volume of 0
    mutes it) was changed: cadenza writes none of it."""
    found = unread_events(path.read_bytes())  # read once already, within the MIDI size limit
    if not found:
        return []
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(found.items()))
    return [f"the file holds MIDI events the record cannot vouch for and cadenza never writes ({kinds})"]


def _marker_problems(score: symusic.Score, record: dict) -> list[str]:
    """A MIDI file's own provenance marker must say what the record says (all of it
    but the creation time and the signature, which the marker leaves out)."""
    markers = [m.text for m in score.markers if m.text.startswith(MARKER_PREFIX)]
    if not markers:
        return []
    if len(markers) > 1:
        return [f"the file holds {len(markers)} provenance markers, not one"]
    try:
        embedded = parse_json(markers[0][len(MARKER_PREFIX) :])
    except ValueError:
        return ["the provenance marker inside the file is damaged"]
    if not isinstance(embedded, dict):
        return ["the provenance marker inside the file is damaged"]
    expected = {k: v for k, v in record.items() if k not in ("created", "signature")}
    differ = sorted(k for k in {*expected, *embedded} if _json_text(embedded, k) != _json_text(expected, k))
    if differ:
        return [f"the provenance marker inside the file differs from the record ({', '.join(differ[:5])})"]
    return []


def verify_file(path: str | os.PathLike[str]) -> Verification:
    """Check a generated file against its ``FILE.provenance.json`` record.

    Intact means: the record's signature holds, the music (MIDI: see
    :mod:`~cadenza.provenance.music_hash`; other formats: the file's bytes when the
    record holds their hash) is what the record describes, and a provenance marker
    inside a MIDI file says what the record says. InputFileError (could not check) when
    the file or its record is missing, unreadable or malformed.
    """
    from cadenza.provenance.record import sidecar_path

    path = Path(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise InputFileError("is not a regular file", path)
    except FileNotFoundError:
        raise InputFileError("does not exist", path) from None
    except OSError as error:
        raise InputFileError(f"cannot be read ({error.strerror or error})", path) from None
    record_path = sidecar_path(path)
    if not os.path.lexists(record_path):
        raise InputFileError(f"has no provenance record ({record_path.name} is missing)", path)
    record = read_json(record_path, max_bytes=RECORD_BYTES)
    if not isinstance(record, dict):
        raise InputFileError("is not a provenance record (not a JSON object)", record_path)
    score = None
    if is_midi(path):
        from cadenza.io import load_score

        score = load_score(path)
    signature = _check_signature(record)  # the record nests at most MAX_DEPTH levels: it can be written back
    problems = [signature.problem] if signature.problem else []
    if score is not None:
        problems += _marker_problems(score, record) + _unread_problems(path)
    music_ok, music_problems = _music_intact(path, score, record)
    warnings: list[str] = []
    try:
        known = known_public_keys()  # trust decided from the whole public key, not its 64-bit id
    except InputFileError as error:
        known, warnings = {}, [f"{error}: no key is trusted"]
    return Verification(
        str(path),
        str(record_path),
        signature.holds,
        music_ok,
        signature.signer,
        signature.key_id,
        signature.public in known,
        known.get(signature.public) if signature.public else None,
        problems + music_problems,
        warnings,
    )
