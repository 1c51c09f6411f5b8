"""JSON that cadenza reads back (records, key files, build descriptions, plans), bounded.

The text may come from anyone, so reading it is bounded: a file must be a regular file
(a FIFO is never waited on) of at most ``max_bytes``, and the value may nest at most
``max_depth`` levels, so that nothing that walks it later (a signature check writing
it back, a repr in an error) can run out of stack. Every failure is one line: a
:class:`~cadenza.errors.InputFileError` naming the file, or a :class:`ValueError` whose
message is the reason when there is no file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from cadenza.errors import InputFileError

__all__ = ["MAX_DEPTH", "parse_json", "read_json"]

MAX_DEPTH = 64  # far deeper than anything cadenza writes, far shallower than the stack


def _too_deep(value: object, max_depth: int) -> bool:
    """Whether lists and objects nest more than ``max_depth`` levels (a walk level by
    level: each value is looked at once)."""
    level = [value]
    for _ in range(max_depth + 1):
        containers = [item for item in level if isinstance(item, dict | list)]
        if not containers:
            return False
        level = [child for item in containers for child in (item.values() if isinstance(item, dict) else item)]
    return True


def parse_json(text: str | bytes, *, max_depth: int = MAX_DEPTH) -> object:
    """``text`` parsed; ValueError with a one-line reason when it is not JSON (or not
    UTF-8) or nests more than ``max_depth`` levels of lists and objects."""
    try:
        value = json.loads(text.decode("utf-8") if isinstance(text, bytes) else text)
    except RecursionError:
        raise ValueError(f"is not valid JSON: it nests too deeply (more than {max_depth} levels)") from None
    except ValueError as error:  # JSONDecodeError, not UTF-8, an integer of too many digits
        raise ValueError(f"is not valid JSON ({str(error).splitlines()[0][:200]})") from None
    if _too_deep(value, max_depth):
        raise ValueError(f"is not valid JSON: it nests too deeply (more than {max_depth} levels)")
    return value


def read_json(path: str | os.PathLike[str], *, max_bytes: int, max_depth: int = MAX_DEPTH) -> object:
    """The JSON value in ``path``: a regular file of at most ``max_bytes`` bytes (opened
    without blocking, checked once open), parsed as :func:`parse_json` does;
    InputFileError naming ``path`` otherwise."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as error:
        raise InputFileError(f"cannot be read ({error.strerror or error})", path) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
        os.close(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputFileError("is not a regular file", path)
        raise InputFileError(f"is {info.st_size:,} bytes, more than the {max_bytes:,} allowed", path)
    with os.fdopen(fd, "rb") as file:
        try:
            data = file.read(max_bytes + 1)
        except OSError as error:
            raise InputFileError(f"cannot be read ({error.strerror or error})", path) from None
    if len(data) > max_bytes:  # it grew while we read it
        raise InputFileError(f"is more than the {max_bytes:,} bytes allowed", path)
    try:
        return parse_json(data, max_depth=max_depth)
    except ValueError as error:
        raise InputFileError(str(error), path) from None
