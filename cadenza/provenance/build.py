"""Build the originality index of a corpus made by ``cadenza data build``.

Every kept piece of the manifest is indexed (all splits: a piece held out of training
may still be someone's work, and a user wants to know about it). The build is
incremental by content hash: a piece whose content hash is already in the index in
``out`` keeps its lines and is not read again; pieces gone from the manifest leave the
index. Files are read in a process pool, as the corpus build does.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import symusic

from cadenza.data.build import BUILD_FILE
from cadenza.data.corpus import check_corpus
from cadenza.data.info import read_manifest
from cadenza.data.sources import FileRef, SourceSpec, list_files, read_file
from cadenza.errors import CadenzaError, InputFileError
from cadenza.provenance.baseline import human_baseline
from cadenza.provenance.fingerprint import DEFAULT_CONFIG, FingerprintConfig, Line, lines_of
from cadenza.provenance.index import INDEX_JSON, Index, TrainingPiece

__all__ = ["IndexSummary", "build_index", "index_corpus", "read_pieces", "training_pieces"]


@dataclass(frozen=True)
class IndexSummary:
    pieces: int  # indexed
    reused: int  # taken from the previous index unchanged
    read: int  # read from their files
    failed: int  # could not be read now (left out)
    notes: int  # notes on the indexed lines


def _relative(path: str, spec: SourceSpec) -> str:
    """The piece's path relative to its source's folder (the music21 corpus for music21)."""
    if spec.kind == "music21":
        import music21

        root = Path(music21.__file__).parent / "corpus"
    else:
        root = Path(spec.location)
    try:
        return Path(path).resolve().relative_to(root.resolve() if root.is_dir() else root.resolve().parent).as_posix()
    except ValueError:
        return Path(path).name


def _specs(corpus: Path) -> dict[str, SourceSpec]:
    path = corpus / BUILD_FILE
    if not path.exists():
        raise InputFileError(f"no {BUILD_FILE}: not a corpus built by `cadenza data build`", corpus)
    try:
        sources = check_corpus(corpus)["sources"]
        return {s["name"]: SourceSpec(s["name"], s["kind"], s["location"], s["licence"]) for s in sources}
    except (KeyError, TypeError):
        raise InputFileError("does not list its sources as a corpus build does", path) from None


def training_pieces(corpus: str | os.PathLike[str]) -> list[tuple[TrainingPiece, str]]:
    """(piece, absolute file path) for every kept piece of a corpus's manifest, by id."""
    corpus = Path(corpus)
    specs = _specs(corpus)
    pieces = []
    for row in read_manifest(corpus):
        if row.get("status") != "kept":
            continue
        spec = specs.get(row["source"])
        relative = _relative(row["path"], spec) if spec else Path(row["path"]).name
        piece = TrainingPiece(row["id"], row["source"], relative, row["licence"], row["content_hash"])
        pieces.append((piece, row["path"]))
    return pieces


def _read_lines(ref: FileRef, wanted: frozenset[str], config: FingerprintConfig) -> list[tuple[str, list[Line]]]:
    """The lines of the wanted pieces of one file (runs in a worker process)."""
    try:
        return [(p.piece_id, lines_of(p.score, config)) for p in read_file(ref) if p.piece_id in wanted]
    except CadenzaError:
        return []


Reader = Callable[[list[tuple[TrainingPiece, str]]], Iterator[tuple[str, list[Line]]]]
"""Given (piece, file path) pairs, yields (piece id, lines) for those it can read."""


def _corpus_reader(corpus: Path, config: FingerprintConfig, workers: int) -> Reader:
    specs = _specs(corpus)

    def read(pieces: list[tuple[TrainingPiece, str]]) -> Iterator[tuple[str, list[Line]]]:
        by_file: dict[tuple[str, str], set[str]] = defaultdict(set)
        for piece, path in pieces:
            by_file[(piece.source, path)].add(piece.id)
        refs = [
            ref
            for name in sorted({source for source, _ in by_file})
            if name in specs
            for ref in list_files(specs[name])
            if (name, ref.path) in by_file
        ]
        wanted = [frozenset(by_file[(ref.source, ref.path)]) for ref in refs]
        if workers <= 1 or len(refs) < 8:
            for ref, ids in zip(refs, wanted, strict=True):
                yield from _read_lines(ref, ids, config)
            return
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for found in pool.map(_read_lines, refs, wanted, [config] * len(refs), chunksize=4):
                yield from found

    return read


def build_index(
    pieces: list[tuple[TrainingPiece, str]],
    read: Reader,
    *,
    previous: Index | None = None,
    config: FingerprintConfig = DEFAULT_CONFIG,
    baseline_sample: int = 300,
) -> tuple[Index, IndexSummary]:
    """An index of ``pieces`` (with their file paths), in id order, with its human baseline.

    ``read`` yields ``(piece id, lines)`` for the pieces it is given; it is only given
    those whose content hash the ``previous`` index (same config) does not hold.
    """
    known: dict[str, list[Line]] = {}
    if previous is not None and previous.config == config:
        for number, piece in enumerate(previous.pieces):
            known.setdefault(piece.content_hash, previous.piece_lines(number))
    missing = [(piece, path) for piece, path in pieces if piece.content_hash not in known]
    fresh = dict(read(missing)) if missing else {}
    entries = []
    for piece, _ in sorted(pieces, key=lambda item: item[0].id):
        lines = known.get(piece.content_hash, fresh.get(piece.id))
        if lines is not None:
            entries.append((piece, lines))
    index = Index.from_lines(config, entries)
    index.baseline = human_baseline(index, sample=baseline_sample)
    failed = sum(1 for piece, _ in missing if piece.id not in fresh)
    summary = IndexSummary(len(entries), len(pieces) - len(missing), len(fresh), failed, index.notes)
    return index, summary


def index_corpus(
    corpus: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    workers: int = 1,
    config: FingerprintConfig = DEFAULT_CONFIG,
    baseline_sample: int = 300,
) -> IndexSummary:
    """Build (or incrementally rebuild) the index of ``corpus`` in the folder ``out``."""
    corpus, out = Path(corpus), Path(out)
    previous = Index.load(out) if (out / INDEX_JSON).exists() else None
    index, summary = build_index(
        training_pieces(corpus),
        _corpus_reader(corpus, config, workers),
        previous=previous,
        config=config,
        baseline_sample=baseline_sample,
    )
    index.save(out)
    return summary


def read_pieces(corpus: str | os.PathLike[str], ids: list[str]) -> dict[str, symusic.Score]:
    """The scores of some kept pieces of a corpus, read from their files, by id."""
    corpus = Path(corpus)
    specs = _specs(corpus)
    chosen = set(ids)
    wanted = [(piece, path) for piece, path in training_pieces(corpus) if piece.id in chosen]
    by_source: dict[str, set[str]] = defaultdict(set)
    for piece, path in wanted:
        by_source[piece.source].add(path)
    scores: dict[str, symusic.Score] = {}
    for spec in specs.values():
        for ref in list_files(spec):
            if ref.path in by_source.get(spec.name, ()):
                scores.update((p.piece_id, p.score) for p in read_file(ref) if p.piece_id in chosen)
    return scores
