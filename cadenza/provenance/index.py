"""The originality index: every training piece's lines, and an inverted index over them.

On disk an index is a folder of two files, both safe to open (no pickle):

- ``index.json``: the format version, the fingerprint config, the pieces (id, source,
  path, licence, content hash) and the human baseline;
- ``index.npz``: the pitch, onset (in 48ths of a quarter) and bar of every note of every
  indexed line, end to end, and which piece and line each run of them belongs to.

That is the compact form (under a byte per note after compression) that ships with a
model. The symbols and the inverted index (every n-gram key, sorted, with where it
occurs, and in how many pieces it occurs) are rebuilt from it on first use: sorting a
few million keys takes well under a second, much less than storing them would cost.

Searching (:meth:`Index.search`): look up every n-gram of the query's lines; count the
hits per training line and diagonal (training position minus query position, in bands,
so that a copy with a note added or dropped still gathers its hits); take the best few
clusters and confirm each with an exact alignment of the notes
(:mod:`cadenza.provenance.align`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from cadenza.errors import InputFileError
from cadenza.io.atomic import atomic_output
from cadenza.io.files import read_npz, read_regular_bytes
from cadenza.jsonfile import parse_json
from cadenza.provenance.align import Alignment, align
from cadenza.provenance.fingerprint import END, LINE_NAMES, FingerprintConfig, Line, encode_lines, ngram_keys

__all__ = [
    "DEFAULT_SEARCH",
    "INDEX_JSON",
    "INDEX_NPZ",
    "Index",
    "Match",
    "SearchResult",
    "SearchSettings",
    "TrainingPiece",
]

INDEX_JSON = "index.json"
INDEX_NPZ = "index.npz"
FORMAT = "cadenza-originality-index"
VERSION = 1
_SYMBOLS = 1 << 9
ONSET_STEPS_PER_QUARTER = 48  # stored onsets: 16ths, triplets and 32nds are exact
MAX_INDEX_BYTES = 1 << 30
"""Largest index read, its arrays inflated: 70 times the shipped one (14 MB, 1.5 M notes)."""
MAX_INDEX_JSON_BYTES = 64 << 20
"""Largest ``index.json``: 25 times the shipped one (2.7 MB for 1,700 pieces)."""


@dataclass(frozen=True)
class TrainingPiece:
    """What the report says about a training piece: where it is and under which licence."""

    id: str
    source: str
    path: str  # relative to its source's folder, so that it means something on any machine
    licence: str
    content_hash: str


@dataclass(frozen=True)
class SearchSettings:
    """How hard a search looks.

    ``band``: diagonal band width in notes (hits whose diagonals differ by less are one
    cluster: a few notes added or dropped). ``candidates``: clusters confirmed by
    alignment. ``common``: an n-gram found in more than this share of the pieces is a
    stock figure; it counts for the share found but does not seed candidates.
    ``min_hits``: hits a cluster needs to be confirmed. Clusters are ranked by the sum
    of their hits' inverse document frequency, log2(pieces / pieces with the n-gram), so
    that a few rare shared n-grams outrank many stock ones.
    """

    band: int = 8
    candidates: int = 8
    min_hits: int = 1
    common: float = 0.1


DEFAULT_SEARCH = SearchSettings()


@dataclass(frozen=True)
class Match:
    """A confirmed shared passage between query line and training line."""

    piece: int  # index into Index.pieces
    query_line: int  # index into the query's lines
    target_line: int  # index into the index's lines
    alignment: Alignment  # note positions within each line


@dataclass(frozen=True)
class SearchResult:
    fingerprints: int  # n-grams in the query
    found: int  # of them, how many occur in some (other) training piece
    matches: list[Match] = field(default_factory=list)  # best first

    @property
    def share_found(self) -> float:
        """found / fingerprints (0 for a query too short to have fingerprints)."""
        return self.found / self.fingerprints if self.fingerprints else 0.0


class Index:
    """Training pieces' lines with an inverted index of their n-gram fingerprints."""

    def __init__(
        self,
        config: FingerprintConfig,
        pieces: Sequence[TrainingPiece],
        pitches: np.ndarray,
        onsets: np.ndarray,
        bars: np.ndarray,
        line_offsets: np.ndarray,
        line_piece: np.ndarray,
        line_kind: np.ndarray,
        baseline: dict | None = None,
    ) -> None:
        self.config = config
        self.pieces = list(pieces)
        self.pitches = np.asarray(pitches, dtype=np.int16)  # (N,) every line end to end
        self.onsets = np.asarray(onsets, dtype=np.float64)  # (N,) quarters
        self.bars = np.asarray(bars, dtype=np.int32)  # (N,) 0-based bar of each note
        self.line_offsets = np.asarray(line_offsets, dtype=np.int64)  # (lines + 1,)
        self.line_piece = np.asarray(line_piece, dtype=np.int64)  # (lines,)
        self.line_kind = np.asarray(line_kind, dtype=np.int64)  # (lines,) into LINE_NAMES
        self.baseline = baseline
        self.digest: str | None = None  # sha256 of the files it was loaded from

    # -- building ----------------------------------------------------------------------

    @classmethod
    def from_lines(cls, config: FingerprintConfig, entries: Sequence[tuple[TrainingPiece, Sequence[Line]]]) -> Index:
        """An index of these pieces, in the order given (no baseline yet)."""
        pitches: list[np.ndarray] = []
        onsets: list[np.ndarray] = []
        bars: list[np.ndarray] = []
        offsets, owner, kind = [0], [], []
        pieces: list[TrainingPiece] = []
        for piece, lines in entries:
            number = len(pieces)
            pieces.append(piece)
            for line in lines:
                pitches.append(line.pitches)
                onsets.append(line.onsets)
                bars.append(line.bars)
                offsets.append(offsets[-1] + len(line))
                owner.append(number)
                kind.append(LINE_NAMES.index(line.name))
        join = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
        return cls(
            config, pieces, join(pitches, np.int16), join(onsets, np.float64), join(bars, np.int32),
            np.array(offsets), np.array(owner, dtype=np.int64), np.array(kind, dtype=np.int64),
        )  # fmt: skip

    def piece_lines(self, piece: int) -> list[Line]:
        """The stored lines of one training piece."""
        lines = []
        first, end = np.searchsorted(self.line_piece, [piece, piece + 1])  # lines are stored piece by piece
        for line in range(first, end):
            a, b = self.line_offsets[line], self.line_offsets[line + 1]
            lines.append(Line(LINE_NAMES[self.line_kind[line]], self.pitches[a:b].astype(np.int64),
                              self.onsets[a:b], self.bars[a:b].astype(np.int64)))  # fmt: skip
        return lines

    @property
    def notes(self) -> int:
        return int(self.pitches.size)

    # -- saving and loading ------------------------------------------------------------

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``index.json`` and ``index.npz`` into ``folder`` (each atomically)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        # Onsets and bars only grow along a line: their steps compress well.
        onset_steps = np.diff(np.rint(self.onsets * ONSET_STEPS_PER_QUARTER).astype(np.int64), prepend=0)
        with atomic_output(folder / INDEX_NPZ, force=True) as tmp, tmp.open("wb") as file:
            np.savez_compressed(
                file,
                pitches=self.pitches.astype(np.uint8),
                onset_steps=onset_steps.astype(np.int32),
                bar_steps=np.diff(self.bars.astype(np.int64), prepend=0).astype(np.int32),
                line_offsets=self.line_offsets,
                line_piece=self.line_piece.astype(np.int32),
                line_kind=self.line_kind.astype(np.uint8),
            )
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "config": asdict(self.config),
            "pieces": [asdict(p) for p in self.pieces],
            "baseline": self.baseline,
        }
        with atomic_output(folder / INDEX_JSON, force=True) as tmp:
            tmp.write_text(json.dumps(meta, separators=(",", ":")) + "\n")
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str], *, max_bytes: int = MAX_INDEX_BYTES) -> Index:
        """Read an index folder; raises InputFileError when it is missing or damaged, or
        when its arrays would inflate past ``max_bytes`` (refused before inflating)."""
        folder = Path(folder)
        for name in (INDEX_JSON, INDEX_NPZ):
            if not (folder / name).exists():
                raise InputFileError(f"no originality index here ({name} missing)", folder)
        try:
            meta_bytes = read_regular_bytes(folder / INDEX_JSON, MAX_INDEX_JSON_BYTES)
            arrays_bytes = read_regular_bytes(folder / INDEX_NPZ, max_bytes)
            meta = parse_json(meta_bytes)
            if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
                raise InputFileError(f"is not a version-{VERSION} originality index", folder)
            data = read_npz(arrays_bytes, folder / INDEX_NPZ, max_bytes)
            index = cls(
                FingerprintConfig(**meta["config"]),
                [TrainingPiece(**p) for p in meta["pieces"]],
                data["pitches"],
                np.cumsum(data["onset_steps"].astype(np.int64)) / ONSET_STEPS_PER_QUARTER,
                np.cumsum(data["bar_steps"].astype(np.int64)),
                data["line_offsets"],
                data["line_piece"],
                data["line_kind"],
                meta.get("baseline"),
            )
            index.digest = hashlib.sha256(hashlib.sha256(meta_bytes).digest() + arrays_bytes).hexdigest()
            return index
        except FileNotFoundError as error:
            raise InputFileError(f"no originality index here ({Path(error.filename).name} missing)", folder) from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InputFileError(f"damaged originality index ({error})", folder) from None

    # -- the inverted index ------------------------------------------------------------

    @cached_property
    def symbols(self) -> np.ndarray:
        """(N,) uint16 step symbols of every note (END at each line's last)."""
        return encode_lines(self.pitches, self.onsets, self.line_offsets)

    @cached_property
    def _postings(self) -> tuple[np.ndarray, np.ndarray]:
        """(keys, positions): every n-gram key, sorted, and where it starts."""
        keys = ngram_keys(self.symbols, self.config.n)
        positions = np.flatnonzero(keys)
        keys = keys[positions]
        order = np.argsort(keys, kind="stable")
        return keys[order], positions[order]

    @cached_property
    def _documents(self) -> tuple[np.ndarray, np.ndarray]:
        """(distinct keys, in how many pieces each occurs)."""
        keys, positions = self._postings
        if keys.size == 0:
            return keys, np.zeros(0, dtype=np.int64)
        piece = self.line_piece[np.searchsorted(self.line_offsets, positions, side="right") - 1]
        first = np.r_[True, (keys[1:] != keys[:-1]) | (piece[1:] != piece[:-1])]
        # within one key, positions are in increasing order and so are pieces
        distinct_keys = keys[first]
        unique, counts = np.unique(distinct_keys, return_counts=True)
        return unique, counts

    @cached_property
    def weights(self) -> np.ndarray:
        """(512,) bits of a match on each symbol: -log2 of its frequency (add-one smoothing);
        END (a line's last note, with no step after it) gets the mean bits of a step."""
        counts = np.bincount(self.symbols[self.symbols != END].astype(np.int64), minlength=_SYMBOLS)
        counts[END] = 0
        p = (counts + 1.0) / (counts.sum() + _SYMBOLS)
        bits = -np.log2(p)
        bits[END] = float((p * bits).sum() / p.sum())  # a line's last note: the average step
        return bits

    def prepare(self) -> Index:
        """Build the inverted index now rather than on the first search (for timing)."""
        _ = self._postings, self._documents, self.weights
        return self

    # -- searching ---------------------------------------------------------------------

    def search(
        self, lines: Sequence[Line], *, exclude: int | None = None, settings: SearchSettings = DEFAULT_SEARCH
    ) -> SearchResult:
        """Shared fingerprints and confirmed shared passages between ``lines`` and the
        index; ``exclude`` leaves out one training piece (to measure the corpus itself)."""
        n = self.config.n
        keys, positions = self._postings
        doc_keys, doc_counts = self._documents
        cap = max(2, int(settings.common * max(len(self.pieces), 1)))
        total = found = 0
        q_lines, q_pos, t_pos, idf = [], [], [], []
        for number, line in enumerate(lines):
            q_keys = ngram_keys(line.symbols, n)
            where = np.flatnonzero(q_keys)
            q_keys = q_keys[where]
            total += q_keys.size
            slot = np.minimum(np.searchsorted(doc_keys, q_keys), max(doc_keys.size - 1, 0))
            pieces_with = np.where(doc_keys[slot] == q_keys, doc_counts[slot], 0) if doc_keys.size else 0 * q_keys
            found += int(np.count_nonzero(pieces_with > (1 if exclude is not None else 0)))
            lo = np.searchsorted(keys, q_keys, side="left")
            hi = np.searchsorted(keys, q_keys, side="right")
            use = (hi > lo) & (pieces_with <= cap)
            count = (hi - lo)[use]
            if count.sum() == 0:
                continue
            step = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
            t_pos.append(positions[np.repeat(lo[use], count) + step])
            q_pos.append(np.repeat(where[use], count))
            q_lines.append(np.full(int(count.sum()), number, dtype=np.int64))
            idf.append(np.repeat(np.log2(len(self.pieces) / np.maximum(pieces_with[use], 1)), count))
        if not t_pos:
            return SearchResult(total, found)
        hits = self._hits(np.concatenate(q_lines), np.concatenate(q_pos), np.concatenate(t_pos), exclude)
        weights = np.concatenate(idf)[hits[1]]
        return SearchResult(total, found, self._confirm(lines, hits[0], weights, settings))

    def _hits(
        self, q_line: np.ndarray, q_pos: np.ndarray, t_pos: np.ndarray, exclude: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(H, 4) int64 rows: query line, query position, target line, target position;
        and which of the given hits they are (those of the excluded piece left out)."""
        t_line = np.searchsorted(self.line_offsets, t_pos, side="right") - 1
        keep = np.flatnonzero(self.line_piece[t_line] != exclude) if exclude is not None else np.arange(t_line.size)
        t_local = t_pos - self.line_offsets[t_line]
        return np.stack([q_line, q_pos, t_line, t_local], axis=1)[keep], keep

    def _confirm(
        self, lines: Sequence[Line], hits: np.ndarray, idf: np.ndarray, settings: SearchSettings
    ) -> list[Match]:
        """Align the lines of the best clusters of hits; best alignment first."""
        if hits.size == 0:
            return []
        diagonal = hits[:, 3] - hits[:, 1]
        cluster = np.stack([hits[:, 0], hits[:, 2], np.floor_divide(diagonal, settings.band)], axis=1)
        groups, inverse, counts = np.unique(cluster, axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.reshape(-1)
        order = np.argsort(-np.bincount(inverse, weights=idf), kind="stable")
        weights = [self.weights[line.symbols.astype(np.int64)] for line in lines]
        matches: dict[tuple, Match] = {}
        for g in order[: settings.candidates]:
            if counts[g] < settings.min_hits:
                break
            q_line, t_line = int(groups[g][0]), int(groups[g][1])
            match = self._align(lines[q_line], weights[q_line], q_line, t_line, hits[inverse == g])
            if match is not None:
                a = match.alignment
                matches.setdefault((q_line, t_line, a.query_first, a.target_first), match)
        return sorted(matches.values(), key=lambda m: -m.alignment.bits)

    def _align(self, query: Line, weights: np.ndarray, q_line: int, t_line: int, hits: np.ndarray) -> Match | None:
        start, stop = self.line_offsets[t_line], self.line_offsets[t_line + 1]
        found = align(
            query.pitches, query.onsets, weights,
            self.pitches[start:stop].astype(np.int64), self.onsets[start:stop],
            hits[:, 1], hits[:, 3], self.config.n,
        )  # fmt: skip
        return None if found is None else Match(int(self.line_piece[t_line]), q_line, t_line, found)

    def target_bars(self, t_line: int, alignment: Alignment) -> tuple[int, int]:
        """1-based first and last bar of an aligned passage in the training line."""
        start = self.line_offsets[t_line]
        return int(self.bars[start + alignment.target_first]) + 1, int(self.bars[start + alignment.target_last]) + 1
