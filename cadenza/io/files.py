"""Opening input files without hanging on them.

Opening a named pipe (FIFO) for reading blocks until a writer appears, which may be
never; a character device can stream forever. So an input is stat-ed first and only a
regular file is opened, and it is opened with ``O_NONBLOCK`` and checked again on the
open descriptor, so that a file swapped for a pipe between the two checks still cannot
block the read.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import stat
import zipfile

import numpy as np

from cadenza.errors import InputFileError, LimitExceededError

__all__ = ["require_regular_file", "read_regular_bytes", "read_npz", "regular_sha256"]


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _refuse(mode: int, path: str | os.PathLike[str]) -> InputFileError:
    return InputFileError(f"is {_kind(mode)}, not a regular file; only regular files are read", path)


def require_regular_file(path: str | os.PathLike[str]) -> os.stat_result:
    """The file's status, if ``path`` is a regular file (symbolic links followed); never opens it."""
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise InputFileError("does not exist", path) from None
    except OSError as error:
        raise InputFileError(f"cannot be read ({error.strerror or error})", path) from None
    if not stat.S_ISREG(status.st_mode):
        raise _refuse(status.st_mode, path)
    return status


def not_regular(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` is not a regular file (a FIFO, a device, a folder), or None if it is.
    Decided from its status alone: a FIFO is never opened (opening one blocks)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        return f"unreadable: {error.strerror or error}"
    if stat.S_ISREG(mode):
        return None
    kinds = {stat.S_ISFIFO: "a FIFO", stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
             stat.S_ISSOCK: "a socket", stat.S_ISDIR: "a folder"}  # fmt: skip
    kind = next((name for test, name in kinds.items() if test(mode)), "not a plain file")
    return f"not a regular file ({kind}): skipped without opening it"


def read_regular_bytes(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; anything else is refused unopened."""
    require_regular_file(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise InputFileError(f"cannot be opened ({error.strerror or error})", path) from None
    with contextlib.closing(os.fdopen(descriptor, "rb")) as file:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):  # replaced between the stat and the open
            raise _refuse(status.st_mode, path)
        if status.st_size > max_bytes:
            raise LimitExceededError(f"is {status.st_size} bytes, more than {max_bytes}", path)
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew while being read
        raise LimitExceededError(f"is more than {max_bytes} bytes", path)
    return data


def read_npz(data: bytes, path: str | os.PathLike[str], max_bytes: int) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` archive held in ``data``, never more than ``max_bytes``
    of them, and never an object array (no unpickling).

    ``np.load`` trusts both the zip directory and each array's header: a few megabytes
    of zeros deflate to gigabytes, and a header may declare any shape at all. Here the
    sizes the directory declares are added up and refused past ``max_bytes`` before
    anything is inflated, and each array's header must account for exactly the bytes
    its entry holds. ``zipfile`` stops an entry at its declared size and checks its CRC.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as error:
        raise InputFileError(f"is not an .npz archive ({error})", path) from None
    with archive:
        entries = archive.infolist()
        declared = sum(entry.file_size for entry in entries)
        if declared > max_bytes:
            raise LimitExceededError(f"inflates to {declared:,} bytes, more than {max_bytes:,}", path)
        arrays = {}
        for entry in entries:
            name = entry.filename.removesuffix(".npy")
            try:
                with archive.open(entry) as member:
                    major, _ = np.lib.format.read_magic(member)
                    read_header = (
                        np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                    )
                    shape, fortran, dtype = read_header(member)
                    if dtype.hasobject:
                        raise InputFileError(f"array {name!r} holds Python objects, which are never loaded", path)
                    size = math.prod(shape) * dtype.itemsize
                    if size > entry.file_size:
                        raise InputFileError(
                            f"array {name!r} claims {size:,} bytes in an entry of {entry.file_size:,}", path
                        )
                    buffer = member.read(size)
            except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
                raise InputFileError(f"damaged array {name!r} ({error})", path) from None
            if len(buffer) != size:
                raise InputFileError(f"array {name!r} is cut short", path)
            flat = np.frombuffer(buffer, dtype=dtype)
            arrays[name] = flat.reshape(shape, order="F" if fortran else "C").copy()
    return arrays


def regular_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a regular file's bytes, read in blocks. Opened without blocking and
    checked once open, so that a file swapped for a FIFO after it was listed cannot hang
    us (OSError then)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        digest = hashlib.sha256()
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
