"""Writing outputs without ever leaving a half-written or clobbered file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cadenza.errors import CadenzaError, OutputExistsError

__all__ = ["atomic_output", "check_writable"]


def check_writable(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Refuse an existing output unless ``force``; refuse a missing parent folder."""
    target = Path(path)
    if target.exists() and not force:
        raise OutputExistsError("exists already; pass --force to overwrite it", target)
    if target.is_dir():
        raise OutputExistsError("is a folder, not a file", target)
    if not target.parent.exists():
        raise CadenzaError(f"folder {target.parent} does not exist", target)
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    The temporary file lives in the same folder so that the final ``os.replace`` is
    atomic. On any exception the temporary file is removed and ``path`` is untouched.
    """
    target = check_writable(path, force=force)
    # The temporary name keeps the extension: some writers pick the format by it.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give outputs the usual mode
    try:
        yield tmp
        if not force and target.exists():
            raise OutputExistsError("appeared while writing; pass --force to overwrite it", target)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
