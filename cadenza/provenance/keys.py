"""Signing keys: made, kept and found again.

Keys live in ``$CADENZA_HOME/keys`` when ``CADENZA_HOME`` is set, else in
``$XDG_CONFIG_HOME/cadenza/keys`` (``~/.config/cadenza/keys``): ``NAME.key`` (the
private key, PKCS#8 PEM, mode 0600) and ``NAME.pub.json`` (name, signer, public key,
key id). A key's id is the start of the sha256 of its public key, always computed,
never read from a file.

The folder decides whom this machine trusts, so a folder that the owner's group or
others can write (or that another user owns) is refused for making and loading keys,
and trusts no key when verifying. Key files are created with ``O_EXCL | O_NOFOLLOW``
(mode 0600 for the private key), so nothing planted at their path receives them.
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import hashlib
import json
import os
import socket
import stat
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cadenza.errors import InputFileError, InvalidArgumentError, OutputExistsError
from cadenza.jsonfile import read_json

__all__ = [
    "ALGORITHM",
    "DEFAULT_KEY",
    "SigningKey",
    "b64",
    "check_keys_dir",
    "default_key",
    "key_id",
    "keys_dir",
    "known_keys",
    "known_public_keys",
    "load_key",
    "new_key",
    "signing_key",
]

ALGORITHM = "ed25519"
DEFAULT_KEY = "default"
_PUBLIC_JSON_BYTES = 64 * 1024


def keys_dir() -> Path:
    """Where keys are kept (see the module docstring); not created here."""
    home = os.environ.get("CADENZA_HOME")
    if home:
        return Path(home) / "keys"
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "cadenza" / "keys"


def key_id(public: bytes) -> str:
    """The id of a raw ed25519 public key: the first 16 hex digits of its sha256."""
    return hashlib.sha256(public).hexdigest()[:16]


def b64(data: bytes) -> str:
    """Standard base64 text of ``data``, as keys and signatures are written."""
    return base64.b64encode(data).decode("ascii")


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
        return key_id(self.public_bytes)


def check_keys_dir(folder: Path) -> Path:
    """``folder``, refused (InputFileError) when its group or others may write it or
    another user owns it: then anyone could plant a key this machine would trust."""
    if os.name != "posix" or not folder.exists():
        return folder
    info = folder.stat()
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise InputFileError(
            f"keys folder is writable by others (mode {stat.S_IMODE(info.st_mode):o}); run `chmod go-w` on it", folder
        )
    if info.st_uid != os.getuid():
        raise InputFileError("keys folder belongs to another user", folder)
    return folder


def _check_name(name: str) -> str:
    if not name or not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise InvalidArgumentError(f"key name {name!r}: use letters, digits, '-', '_' or '.'")
    return name


def _write_exclusive(path: Path, data: bytes, mode: int) -> None:
    """Write ``path`` through a temporary file made with O_EXCL | O_NOFOLLOW, renamed
    over ``path`` (a rename replaces a link at ``path``, it never writes through it)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with contextlib.suppress(OSError):
        tmp.unlink()  # a leftover of a killed run, or something planted: removed, never followed
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(tmp, flags, mode)
    except OSError as error:
        raise InputFileError(f"cannot create the key file ({error.strerror})", tmp) from None
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def new_key(name: str = DEFAULT_KEY, signer: str | None = None, *, force: bool = False) -> SigningKey:
    """Make a key pair and save it in :func:`keys_dir` (private key mode 0600)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder = keys_dir()
    private_path = folder / f"{_check_name(name)}.key"
    if os.path.lexists(private_path) and not force:
        raise OutputExistsError(
            "a key of this name exists; choose another --name, or pass --force to replace it "
            "(what it signed still verifies, but as signed by an unknown key)",
            private_path,
        )
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    check_keys_dir(folder)
    key = SigningKey(name, signer or f"{getpass.getuser()}@{socket.gethostname()}", Ed25519PrivateKey.generate())
    pem = key.private.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = {
        "name": name,
        "signer": key.signer,
        "algorithm": ALGORITHM,
        "public_key": b64(key.public_bytes),
        "key_id": key.key_id,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _write_exclusive(private_path, pem, 0o600)
    _write_exclusive(folder / f"{name}.pub.json", (json.dumps(public, indent=1) + "\n").encode("utf-8"), 0o644)
    return key


def _public_file(path: Path) -> tuple[bytes, str]:
    """(raw public key, signer) of a ``NAME.pub.json``; InputFileError when damaged."""
    data = read_json(path, max_bytes=_PUBLIC_JSON_BYTES)
    if not isinstance(data, dict):
        raise InputFileError("is not a cadenza public key file", path)
    try:
        public = base64.b64decode(data["public_key"], validate=True)
    except (KeyError, TypeError, ValueError):
        raise InputFileError("is not a cadenza public key file", path) from None
    signer = data.get("signer", path.name.removesuffix(".pub.json"))
    if len(public) != 32 or not isinstance(signer, str):
        raise InputFileError("is not a cadenza public key file", path)
    return public, signer


def load_key(name: str = DEFAULT_KEY) -> SigningKey:
    """A saved key by name; InputFileError when it is missing, unreadable or kept in a
    folder others can write."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder = check_keys_dir(keys_dir())
    private_path = folder / f"{_check_name(name)}.key"
    if not private_path.exists():
        raise InputFileError(f"no key named {name!r}; make one with `cadenza keys new --name {name}`", private_path)
    if not private_path.is_file():
        raise InputFileError("is not a regular file", private_path)
    try:
        private = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    except OSError as error:
        raise InputFileError(f"cannot be read ({error.strerror})", private_path) from None
    except (ValueError, TypeError) as error:
        raise InputFileError(f"not a readable private key ({error})", private_path) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise InputFileError("not an ed25519 key", private_path)
    signer = name
    public_path = folder / f"{name}.pub.json"
    if public_path.exists():
        public, signer = _public_file(public_path)
        key = SigningKey(name, signer, private)
        if key.public_bytes != public:
            raise InputFileError(f"is not the public key of {private_path.name}", public_path)
        return key
    return SigningKey(name, signer, private)


def default_key(create: bool = True) -> SigningKey:
    """The ``default`` key, made on first use when ``create`` (so that every record can
    be signed on a fresh install; `cadenza keys new --force` replaces it with a named
    signer)."""
    if (keys_dir() / f"{DEFAULT_KEY}.key").exists() or not create:
        return load_key(DEFAULT_KEY)
    return new_key(DEFAULT_KEY)


def signing_key(name: str | None = None) -> SigningKey:
    """The key to sign with: the one named (never made here: InputFileError when it is
    missing), else the ``default`` key, made on first use."""
    return default_key() if name is None else load_key(name)


def known_public_keys() -> dict[bytes, str]:
    """Raw public key -> signer of every public key in :func:`keys_dir`; files that are
    not key files are skipped. InputFileError when others can write the folder."""
    known = {}
    folder = check_keys_dir(keys_dir())
    if folder.is_dir():
        for path in sorted(folder.glob("*.pub.json")):
            try:
                public, signer = _public_file(path)
            except InputFileError:
                continue  # not a key file of ours: ignore it
            known[public] = signer
    return known


def known_keys() -> dict[str, str]:
    """Computed key id -> signer of every public key in :func:`keys_dir` (see
    :func:`known_public_keys`, which trust is decided from: an id is only 64 bits)."""
    return {key_id(public): signer for public, signer in known_public_keys().items()}
