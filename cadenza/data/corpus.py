"""A built corpus folder as one thing: its files, their digests, and the check that they
belong together.

``build.json`` is the last file a build writes, and it lists the sha256 of every other
file of the corpus. A reader (training, evaluation, ``cadenza data info``) refuses a
folder whose files are missing or are not the ones listed there: shards from one build
beside the manifest of another point at other pieces' rows.
"""

from __future__ import annotations

import os
from pathlib import Path

from cadenza.data.content import SPLITS
from cadenza.data.tokens import TOKENIZER_FILE
from cadenza.errors import InputFileError
from cadenza.io.files import not_regular, regular_sha256
from cadenza.jsonfile import read_json

__all__ = [
    "MANIFEST_FILE",
    "BUILD_FILE",
    "CACHE_FOLDER",
    "corpus_files",
    "digests",
    "check_corpus",
    "regular_sha256",
    "not_regular",
]

MANIFEST_FILE = "manifest.jsonl"
BUILD_FILE = "build.json"
CACHE_FOLDER = "cache"
BUILD_JSON_BYTES = 16 * 1024 * 1024  # a description and a digest per file: a few kB
REBUILD = "rebuild it with `cadenza data build` (unchanged files come from its cache)"

# folder -> (the stat of its files when last checked, its build.json): a folder is
# hashed again only when one of its files changed
_checked: dict[str, tuple[tuple, dict]] = {}


def corpus_files() -> tuple[str, ...]:
    """The files of a corpus that ``build.json`` vouches for."""
    shards = (f"{split}.{part}.npy" for split in SPLITS for part in ("tokens", "index"))
    return (MANIFEST_FILE, TOKENIZER_FILE, *shards)


def digests(folder: Path) -> dict[str, str]:
    return {name: regular_sha256(folder / name) for name in corpus_files()}


def _state(folder: Path) -> tuple:
    state: list[tuple] = []
    for name in (BUILD_FILE, *corpus_files()):
        try:
            found = os.stat(folder / name)
        except OSError:
            state.append((name, None))
            continue
        state.append((name, found.st_ino, found.st_size, found.st_mtime_ns, found.st_mode))
    return tuple(state)


def check_corpus(folder: Path) -> dict:
    """The ``build.json`` of a complete, consistent corpus; one line naming the folder otherwise."""
    if not folder.is_dir():
        raise InputFileError("is not a corpus folder made by `cadenza data build`", folder)
    if not (folder / BUILD_FILE).exists():
        raise InputFileError(
            f"is not a corpus made by `cadenza data build` (no {BUILD_FILE}; a build writes it last)", folder
        )
    key, state = str(folder.resolve()), _state(folder)
    if key in _checked and _checked[key][0] == state:
        return _checked[key][1]
    description = read_json(folder / BUILD_FILE, max_bytes=BUILD_JSON_BYTES)
    if not isinstance(description, dict):
        raise InputFileError("is not the build.json of a corpus", folder / BUILD_FILE)
    listed = description.get("files")
    if not isinstance(listed, dict):
        raise InputFileError(f"its {BUILD_FILE} lists no file digests (an older cadenza built it); {REBUILD}", folder)
    for name in corpus_files():
        reason = not_regular(folder / name)
        if reason is not None:
            raise InputFileError(f"is an incomplete corpus: {name} is missing or {reason}; {REBUILD}", folder)
        if regular_sha256(folder / name) != listed.get(name):
            raise InputFileError(
                f"is an inconsistent corpus: {name} is not the file its {BUILD_FILE} lists "
                f"(an interrupted build or a replaced file); {REBUILD}",
                folder,
            )
    _checked[key] = (state, description)
    return description
