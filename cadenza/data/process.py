"""The work done on one input file, in a worker process: read, hash, label, tokenize.

The result is cached on disk under what produced it (the file's sha256, its reader, its
style label, the build options, the library and cadenza versions), so an unchanged input
is never parsed again. The cache holds JSON and a .npy of tokens, nothing that needs
unpickling; an entry records what produced it and the sha256 of its own content, and an
entry that does not match both is built again, never used.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from cadenza import __version__
from cadenza.data.content import content_hash, split_of
from cadenza.data.corpus import not_regular, regular_sha256
from cadenza.data.labels import compute_labels
from cadenza.data.sources import FileRef, read_file, style_of
from cadenza.data.tokens import condition_tokens, encode_piece, make_tokenizer
from cadenza.errors import CadenzaError, InputFileError, InvalidArgumentError
from cadenza.jsonfile import read_json

__all__ = [
    "BuildOptions",
    "PieceResult",
    "FileResult",
    "process_file",
    "file_sha256",
    "parse_shifts",
    "shared_tokenizer",
]

_LOWEST_PITCH, _HIGHEST_PITCH = 21, 108
# Bump when reading, labelling or tokenizing changes, so that old cache entries are not
# reused: CACHE_FORMAT for everything, READER_VERSION for one kind of source.
CACHE_FORMAT = 2
READER_VERSION = {"pop909": 3}
_CACHE_META_BYTES = 64 * 1024 * 1024  # a row per piece: a tune book of thousands stays far below


@dataclass(frozen=True)
class BuildOptions:
    transpositions: tuple[int, ...] = ()  # semitone shifts added to training pieces, e.g. (-2, -1, 1, 2)
    valid_percent: int = 5
    test_percent: int = 5

    def fingerprint(self) -> str:
        """Changes whenever the options or a library that shapes the output change."""
        text = json.dumps(
            {"options": asdict(self), "libraries": _library_versions(), "format": CACHE_FORMAT}, sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@functools.cache
def _library_versions() -> dict[str, str]:
    from importlib.metadata import version

    return {name: version(name) for name in ("symusic", "miditok", "music21")}


@dataclass
class PieceResult:
    piece_id: str
    content_hash: str = ""
    split: str = ""
    labels: dict[str, object] = field(default_factory=dict)
    note_count: int = 0
    error: str | None = None
    # semitones -> token ids; 0 is the piece as written
    tokens: dict[int, np.ndarray] = field(default_factory=dict)


@dataclass
class FileResult:
    sha256: str
    pieces: list[PieceResult]
    error: str | None = None
    cached: bool = False


def parse_shifts(text: str) -> tuple[int, ...]:
    """Semitone shifts from ``-3..3`` (a range, ends included) or ``-2,2`` (a list)."""
    if not text.strip():
        return ()
    try:
        if ".." in text:
            low, high = (int(x) for x in text.split(".."))
            return tuple(range(low, high + 1))
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise InvalidArgumentError(f"--transpose {text!r}: expected a range like -3..3 or a list like -2,2") from None


def file_sha256(path: str) -> str:
    return regular_sha256(path)


_tokenizer = None


def shared_tokenizer():
    """This process's tokenizer, made once."""
    global _tokenizer
    if _tokenizer is None:
        _tokenizer = make_tokenizer()
    return _tokenizer


def _process_piece(ref: FileRef, piece, options: BuildOptions) -> PieceResult:
    result = PieceResult(piece.piece_id)
    score = piece.score
    result.note_count = score.note_num()
    if result.note_count == 0:
        result.error = "empty: no notes"
        return result
    result.content_hash = content_hash(score)
    result.split = piece.split or split_of(result.content_hash, options.valid_percent, options.test_percent)
    known_key = piece.annotations.get("key")
    labels = compute_labels(score, known_key if isinstance(known_key, str) else None)
    result.labels = {**labels.to_dict(), "style": style_of(ref), "collection": ref.collection}
    conditions = condition_tokens(str(result.labels["style"]), labels.key, labels.mood)
    tokenizer = shared_tokenizer()
    try:
        result.tokens[0] = encode_piece(tokenizer, score, conditions)
        if result.split == "train":
            pitches = [n.pitch for t in score.tracks if not t.is_drum for n in t.notes]
            low, high = min(pitches, default=60), max(pitches, default=60)
            for shift in options.transpositions:
                if shift and low + shift >= _LOWEST_PITCH and high + shift <= _HIGHEST_PITCH:
                    shifted = score.shift_pitch(shift)
                    result.tokens[shift] = encode_piece(tokenizer, shifted, conditions_for_shift(conditions, shift))
    except Exception as error:  # miditok refuses some content (e.g. a time signature outside its vocabulary)
        result.tokens.clear()
        result.error = f"cannot be tokenized ({type(error).__name__}: {str(error)[:200]})"
    return result


def conditions_for_shift(conditions: list[str], shift: int) -> list[str]:
    """Transposing a piece moves its key token with it."""
    from cadenza.data.labels import key_label, parse_key

    out = []
    for token in conditions:
        if token.startswith("Key_") and token != "Key_none":
            pc, mode = parse_key(token[4:])
            token = f"Key_{key_label(pc + shift, mode)}"
        out.append(token)
    return out


def _produced_by(sha: str, ref: FileRef, options: BuildOptions) -> dict[str, str]:
    """Everything a cache entry depends on."""
    reader = READER_VERSION.get(ref.kind, 1)
    return {
        "sha256": sha,
        "reader": ref.kind if reader == 1 else f"{ref.kind}@{reader}",
        "piece_id": ref.piece_id,
        "style": style_of(ref),
        "options": options.fingerprint(),
        "cadenza": __version__,
    }


def _cache_paths(cache: Path, produced_by: dict[str, str]) -> tuple[Path, Path]:
    key = _digest(produced_by)[:32]
    folder = cache / key[:2]
    return folder / f"{key}.json", folder / f"{key}.npy"


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _save_cache(result: FileResult, produced_by: dict[str, str], meta_path: Path, tokens_path: Path) -> None:
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    arrays, pieces = [], []
    offset = 0
    for piece in result.pieces:
        spans = {}
        for shift, ids in sorted(piece.tokens.items()):
            spans[str(shift)] = [offset, len(ids)]
            arrays.append(ids)
            offset += len(ids)
        row = {k: v for k, v in asdict(piece).items() if k != "tokens"}
        pieces.append({**row, "spans": spans})
    buffer = io.BytesIO()
    np.save(buffer, np.concatenate(arrays) if arrays else np.zeros(0, dtype=np.uint16))
    tmp = tokens_path.with_suffix(".tmp.npy")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, tokens_path)
    meta = {
        "produced_by": produced_by,
        "tokens_sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
        "sha256": result.sha256,
        "error": result.error,
        "pieces": pieces,
    }
    tmp_meta = meta_path.with_suffix(".tmp")
    tmp_meta.write_text(json.dumps({**meta, "check": _digest(meta)}))
    os.replace(tmp_meta, meta_path)


def _load_cache(produced_by: dict[str, str], meta_path: Path, tokens_path: Path) -> FileResult | None:
    """The entry, if it is whole and was produced by exactly this; None otherwise (it is then rebuilt)."""
    try:
        meta: Any = read_json(meta_path, max_bytes=_CACHE_META_BYTES)
        check = meta.pop("check")
        data = tokens_path.read_bytes()
        if check != _digest(meta) or meta["produced_by"] != produced_by:
            return None
        if meta["tokens_sha256"] != hashlib.sha256(data).hexdigest():
            return None
        tokens = np.load(io.BytesIO(data), allow_pickle=False)
        pieces = []
        for row in meta["pieces"]:
            spans = row.pop("spans")
            piece = PieceResult(**row)
            piece.tokens = {int(s): np.asarray(tokens[o : o + n]) for s, (o, n) in spans.items()}
            pieces.append(piece)
        return FileResult(meta["sha256"], pieces, meta["error"], cached=True)
    except (InputFileError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing, damaged or of another format: built again


def process_file(ref: FileRef, options: BuildOptions, cache: Path | None) -> FileResult:
    """Everything the build needs from one file; never raises for a bad file."""
    reason = not_regular(ref.path)
    if reason is not None:
        return FileResult("", [], reason)
    try:
        sha = file_sha256(ref.path)
    except OSError as error:
        return FileResult("", [], f"unreadable: {error.strerror or error}")
    produced_by = _produced_by(sha, ref, options)
    paths = _cache_paths(cache, produced_by) if cache is not None else None
    if paths is not None and (hit := _load_cache(produced_by, *paths)) is not None:
        return hit
    try:
        pieces = read_file(ref)
        result = FileResult(sha, [_process_piece(ref, piece, options) for piece in pieces])
    except CadenzaError as error:
        result = FileResult(sha, [], f"unreadable: {error.reason}")
    except Exception as error:  # one bad file never stops a build
        result = FileResult(sha, [], f"unreadable: {type(error).__name__}: {str(error)[:200]}")
    if paths is not None:
        _save_cache(result, produced_by, *paths)
    return result
