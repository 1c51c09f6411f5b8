"""Reading JSON that a user, a download or another program hands us.

Records, model configs, corpus manifests, caches and index metadata are all JSON files
that may be damaged or hostile. :func:`read_json` reads one with bounds, and turns every
way it can fail into an :class:`~cadenza.errors.InputFileError` naming the file, so that
the command line prints one line and exits with code 2:

* only a regular file is opened (a FIFO or a device would block or never end), without
  following the file's type after the check (the file is opened first, then examined);
* at most ``max_bytes`` are read;
* nesting deeper than ``max_depth`` is refused (Python's parser would otherwise raise
  ``RecursionError`` a thousand levels down, or build a structure no caller expects);
* the top level must be of the expected type (an object, unless told otherwise).
"""

from __future__ import annotations

import json
import os
import stat
from typing import Any

from cadenza.errors import InputFileError

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_DEPTH", "parse_json", "read_bounded", "read_json"]

DEFAULT_MAX_BYTES = 64 * 2**20  # larger than any index, manifest or record cadenza writes
DEFAULT_MAX_DEPTH = 64  # cadenza's own files nest 6 levels at most

_TYPE_NAMES = {
    bool: "a boolean",
    dict: "an object",
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
}


def read_bounded(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; InputFileError otherwise."""
    try:
        # O_NONBLOCK: opening a FIFO for reading returns at once instead of waiting for a writer
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise InputFileError("does not exist", path) from None
    except OSError as error:
        raise InputFileError(f"cannot be read ({error.strerror or error})", path) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise InputFileError(f"is {kind}", path)
        if info.st_size > max_bytes:
            raise InputFileError(f"is {info.st_size:,} bytes, more than the {max_bytes:,} accepted", path)
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(max_bytes + 1)
    except OSError as error:
        raise InputFileError(f"cannot be read ({error.strerror or error})", path) from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # it grew while we read it
        raise InputFileError(f"is more than the {max_bytes:,} bytes accepted", path)
    return data


def _depth(value: Any, limit: int) -> int:
    """Nesting depth of a parsed value (a scalar is 0), counted without recursion up to ``limit + 1``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if deepest > limit:
            break
        stack.extend((child, level) for child in children)
    return deepest


def parse_json(
    data: str | bytes,
    path: str | os.PathLike[str] | None,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    expect: type | tuple[type, ...] = dict,
) -> Any:
    """JSON text already in memory (``path`` names where it came from, for the message)."""
    try:
        value = json.loads(data)
    except json.JSONDecodeError as error:
        raise InputFileError(
            f"is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})", path
        ) from None
    except RecursionError:
        raise InputFileError(f"nests JSON deeper than {max_depth} levels", path) from None
    except (ValueError, TypeError) as error:  # undecodable bytes, a number of more than 4300 digits
        raise InputFileError(f"is not valid JSON ({error})", path) from None
    if _depth(value, max_depth) > max_depth:
        raise InputFileError(f"nests JSON deeper than {max_depth} levels", path)
    if not isinstance(value, expect):
        wanted = expect if isinstance(expect, tuple) else (expect,)
        names = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in wanted)
        found = "null" if value is None else _TYPE_NAMES.get(type(value), type(value).__name__)
        raise InputFileError(f"holds {found} where {names} was expected", path)
    return value


def read_json(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    expect: type | tuple[type, ...] = dict,
) -> Any:
    """The parsed content of a JSON file, bounded; InputFileError naming the file on any failure.

    ``expect`` is the type the top level must have (``dict`` by default; ``object``
    accepts anything).
    """
    return parse_json(read_bounded(path, max_bytes=max_bytes), path, max_depth=max_depth, expect=expect)
