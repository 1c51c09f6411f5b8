"""Writing outputs without ever leaving a half-written or clobbered file behind.

An output is written to a temporary file beside it and renamed into place. A run that
is killed (SIGKILL, a power cut) cannot remove its temporary file, nor a render's spill
folder, so every write first sweeps its folder for ones that a killed run left: names
of cadenza's own pattern, untouched for :data:`STALE_AFTER_S`. A run in progress keeps
touching its files as it writes them, so the sweep never takes them from under it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from cadenza.errors import CadenzaError, OutputExistsError

__all__ = ["STALE_AFTER_S", "TEMP_MARK", "SPILL_PREFIX", "atomic_output", "check_writable", "clean_stale"]

TEMP_MARK = ".cadenza-tmp-"
"""In the name of every temporary output: ``.song.cadenza-tmp-k2j4x9q1.mid``."""
SPILL_PREFIX = ".cadenza-render-"
"""Starts the name of a render's spill folder (raw audio, a temporary MIDI file)."""
STALE_AFTER_S = 3600.0
"""A temporary untouched for an hour belongs to no live run: a render writes its spill
file block by block, and every other output is written in one go."""


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


def _newest_change(entry: os.DirEntry[str]) -> float:
    """The latest modification time of an entry and, for a folder, of what it holds."""
    newest = entry.stat(follow_symlinks=False).st_mtime
    if entry.is_dir(follow_symlinks=False):
        for root, folders, files in os.walk(entry.path):
            for name in folders + files:
                with contextlib.suppress(OSError):
                    newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
    return newest


def clean_stale(folder: str | os.PathLike[str], *, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the temporary files and render spill folders that killed runs left in
    ``folder`` (only cadenza's own names, only untouched for ``older_than_s``); return them."""
    removed: list[Path] = []
    cutoff = time.time() - older_than_s
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        ours = entry.name.startswith(".") and (
            (TEMP_MARK in entry.name and entry.is_file(follow_symlinks=False))
            or (entry.name.startswith(SPILL_PREFIX) and entry.is_dir(follow_symlinks=False))
        )
        try:
            if not ours or _newest_change(entry) >= cutoff:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            continue  # another run removed it first, or it is not ours to remove
        removed.append(Path(entry.path))
    return removed


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    The temporary file lives in the same folder so that the final ``os.replace`` is
    atomic. On any exception the temporary file is removed and ``path`` is untouched.
    """
    target = check_writable(path, force=force)
    clean_stale(target.parent)
    # The temporary name keeps the extension: some writers pick the format by it.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.stem}{TEMP_MARK}", suffix=target.suffix, dir=target.parent)
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
