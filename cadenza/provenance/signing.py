"""Ed25519 signatures on provenance records, and checking a file against its record.

A signature covers the sha256 of the music (``music_sha256``, already in the record)
and the sha256 of the whole record less its signature (canonical JSON: sorted keys, no
spaces), so that changing one note or one character of the record breaks it. The
signature block carries the public key, so anyone can check it; who signed is only as
trustworthy as the key: :func:`verify_file` says whether the key is one this machine
knows (its own keys, or public keys put in the keys folder).

Keys live in ``$CADENZA_HOME/keys`` when ``CADENZA_HOME`` is set, else in
``$XDG_CONFIG_HOME/cadenza/keys`` (``~/.config/cadenza/keys``): ``NAME.key`` (the
private key, PKCS#8 PEM, readable by the owner only) and ``NAME.pub.json`` (name,
signer, public key, key id).
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cadenza.errors import InputFileError, InvalidArgumentError, OutputExistsError
from cadenza.io.formats import is_midi

if TYPE_CHECKING:
    import symusic

__all__ = [
    "SigningKey",
    "Verification",
    "default_key",
    "keys_dir",
    "known_keys",
    "load_key",
    "new_key",
    "sign_record",
    "verify_file",
    "verify_record",
]

ALGORITHM = "ed25519"
DEFAULT_KEY = "default"
_CONTEXT = b"cadenza-provenance-v1\n"


def keys_dir() -> Path:
    """Where keys are kept (see the module docstring); not created here."""
    home = os.environ.get("CADENZA_HOME")
    if home:
        return Path(home) / "keys"
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "cadenza" / "keys"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _key_id(public: bytes) -> str:
    return hashlib.sha256(public).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    name: str
    signer: str  # who signs with it, e.g. "Ada <ada@example.org>"
    private: object  # cryptography's Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.private.public_key().public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def key_id(self) -> str:
        return _key_id(self.public_bytes)


def _check_name(name: str) -> str:
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise InvalidArgumentError(f"key name {name!r}: use letters, digits, '-', '_' or '.'")
    return name


def new_key(name: str = DEFAULT_KEY, signer: str | None = None, *, force: bool = False) -> SigningKey:
    """Make a key pair and save it in :func:`keys_dir` (private key mode 0600)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder = keys_dir()
    private_path = folder / f"{_check_name(name)}.key"
    if private_path.exists() and not force:
        raise OutputExistsError(
            "a key of this name exists; pass --force to replace it (old signatures stay valid)", private_path
        )
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = SigningKey(name, signer or f"{getpass.getuser()}@{socket.gethostname()}", Ed25519PrivateKey.generate())
    pem = key.private.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tmp = private_path.with_name(f".{private_path.name}.tmp")
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    os.replace(tmp, private_path)
    public = {
        "name": name,
        "signer": key.signer,
        "algorithm": ALGORITHM,
        "public_key": _b64(key.public_bytes),
        "key_id": key.key_id,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (folder / f"{name}.pub.json").write_text(json.dumps(public, indent=1) + "\n")
    return key


def load_key(name: str = DEFAULT_KEY) -> SigningKey:
    """A saved key by name; InputFileError when it is missing or unreadable."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder = keys_dir()
    private_path = folder / f"{_check_name(name)}.key"
    if not private_path.exists():
        raise InputFileError("no such key; make one with `cadenza keys new`", private_path)
    try:
        private = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise InputFileError(f"not a readable private key ({error})", private_path) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise InputFileError("not an ed25519 key", private_path)
    public_path = folder / f"{name}.pub.json"
    signer = json.loads(public_path.read_text()).get("signer", name) if public_path.exists() else name
    return SigningKey(name, signer, private)


def default_key(create: bool = True) -> SigningKey:
    """The ``default`` key, made on first use when ``create`` (so that every record can
    be signed on a fresh install; `cadenza keys new --force` replaces it with a named
    signer)."""
    if (keys_dir() / f"{DEFAULT_KEY}.key").exists() or not create:
        return load_key(DEFAULT_KEY)
    return new_key(DEFAULT_KEY)


def known_keys() -> dict[str, str]:
    """key id -> signer of every public key in :func:`keys_dir`."""
    known = {}
    folder = keys_dir()
    if folder.is_dir():
        for path in sorted(folder.glob("*.pub.json")):
            try:
                data = json.loads(path.read_text())
                known[_key_id(base64.b64decode(data["public_key"]))] = str(data.get("signer", path.stem))
            except (ValueError, KeyError, TypeError):
                continue  # not a key file of ours: ignore it
    return known


def _canonical(record: dict) -> bytes:
    unsigned = {k: v for k, v in record.items() if k != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _message(record: dict) -> tuple[bytes, str]:
    record_sha = hashlib.sha256(_canonical(record)).hexdigest()
    music_sha = str(record.get("music_sha256", ""))
    return _CONTEXT + f"{music_sha}\n{record_sha}\n".encode("ascii"), record_sha


def sign_record(record: dict, key: SigningKey, *, file: str | os.PathLike[str] | None = None) -> dict:
    """A copy of ``record`` with a ``signature`` block over its music hash and itself.

    ``file``: an output that is not MIDI (MusicXML, WAV, PNG) whose bytes the record
    cannot otherwise vouch for; its sha256 goes into the record (``file_sha256``)
    before signing. A MIDI file is checked through ``music_sha256`` instead.
    """
    signed = {k: v for k, v in record.items() if k != "signature"}
    if file is not None and not is_midi(file):
        signed["file_sha256"] = hashlib.sha256(Path(file).read_bytes()).hexdigest()
    message, record_sha = _message(signed)
    signed["signature"] = {
        "algorithm": ALGORITHM,
        "signer": key.signer,
        "key_id": key.key_id,
        "public_key": _b64(key.public_bytes),
        "record_sha256": record_sha,
        "value": _b64(key.private.sign(message)),  # type: ignore[attr-defined]
    }
    return signed


def verify_record(record: dict) -> tuple[bool, str]:
    """(whether the signature holds over the record as it is now, why not)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    block = record.get("signature")
    if not isinstance(block, dict):
        return False, "the record is not signed"
    if block.get("algorithm") != ALGORITHM:
        return False, f"unknown signature algorithm {block.get('algorithm')!r}"
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(block["public_key"]))
        public.verify(base64.b64decode(block["value"]), _message(record)[0])
    except (KeyError, ValueError, TypeError):
        return False, "the signature block is damaged"
    except InvalidSignature:
        return False, "the record was changed after it was signed"
    return True, ""


@dataclass(frozen=True)
class Verification:
    """What :func:`verify_file` found."""

    path: str
    record_path: str
    record_intact: bool
    music_intact: bool | None  # None: this format cannot be checked
    signer: str | None
    key_id: str | None
    known_key: bool  # the signing key is in this machine's keys folder
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.record_intact and self.music_intact is not False and not self.problems


def _music_intact(path: Path, score: symusic.Score | None, record: dict) -> tuple[bool | None, list[str]]:
    """``score``: the file read back when it is MIDI (None otherwise)."""
    if score is not None:
        from cadenza.provenance.record import music_sha256

        same = music_sha256(score) == record.get("music_sha256")
        return same, [] if same else ["the music was changed after the record was made"]
    if "file_sha256" in record:
        same = hashlib.sha256(path.read_bytes()).hexdigest() == record["file_sha256"]
        return same, [] if same else ["the file was changed after the record was made"]
    return None, []


def verify_file(path: str | os.PathLike[str]) -> Verification:
    """Check a generated file against its ``FILE.provenance.json`` record.

    Intact means: the record's signature holds, the music (MIDI: the notes, markers
    aside; other formats: the file's bytes when the record holds their hash) is what
    the record describes, and a provenance marker inside a MIDI file, if any, says the
    same as the record. InputFileError when the file or its record is missing.
    """
    from cadenza.provenance.record import sidecar_path

    path = Path(path)
    if not path.exists():
        raise InputFileError("does not exist", path)
    record_path = sidecar_path(path)
    if not record_path.exists():
        raise InputFileError(f"has no provenance record ({record_path.name} is missing)", path)
    try:
        record = json.loads(record_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputFileError(f"damaged provenance record ({error})", record_path) from None
    if not isinstance(record, dict):
        raise InputFileError("damaged provenance record (not an object)", record_path)
    record_ok, why = verify_record(record)
    problems = [why] if why else []
    score = None
    if is_midi(path):
        from cadenza.io import load_score

        score = load_score(path)
    music_ok, music_problems = _music_intact(path, score, record)
    problems += music_problems + (_marker_problems(score, record) if score is not None else [])
    block = record.get("signature") if isinstance(record.get("signature"), dict) else {}
    key_id = block.get("key_id") if block else None
    return Verification(str(path), str(record_path), record_ok, music_ok, block.get("signer") if block else None,
                        key_id, key_id in known_keys(), problems)  # fmt: skip


def _marker_problems(score: symusic.Score, record: dict) -> list[str]:
    """A MIDI file's own provenance marker must agree with the record it sits beside."""
    from cadenza.provenance.record import MARKER_PREFIX

    for marker in score.markers:
        if marker.text.startswith(MARKER_PREFIX):
            try:
                embedded = json.loads(marker.text[len(MARKER_PREFIX) :])
            except json.JSONDecodeError:
                return ["the provenance marker inside the file is damaged"]
            if embedded.get("music_sha256") != record.get("music_sha256"):
                return ["the provenance marker inside the file names other music than the record"]
    return []
