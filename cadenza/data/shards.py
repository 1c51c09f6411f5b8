"""Token shards: one flat, memory-mappable array of token ids per split.

``{split}.tokens.npy`` holds every sequence of the split back to back (uint16), and
``{split}.index.npy`` one row per sequence: offset, length, manifest row, transposition
in semitones (0 for the original; augmented copies follow their original).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cadenza.data.corpus import check_corpus
from cadenza.errors import InputFileError

__all__ = ["ShardWriter", "Shard", "open_shard"]

INDEX_COLUMNS = ("offset", "length", "row", "semitones")


class ShardWriter:
    def __init__(self) -> None:
        self._sequences: list[np.ndarray] = []
        self._rows: list[tuple[int, int]] = []

    def add(self, tokens: np.ndarray, row: int, semitones: int = 0) -> None:
        self._sequences.append(np.asarray(tokens, dtype=np.uint16))
        self._rows.append((row, semitones))

    def write(self, folder: Path, split: str) -> int:
        """Write the shard; returns the number of tokens."""
        lengths = np.array([len(s) for s in self._sequences], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64) if len(lengths) else lengths
        index = np.zeros((len(lengths), len(INDEX_COLUMNS)), dtype=np.int64)
        if len(lengths):
            index[:, 0], index[:, 1] = offsets, lengths
            index[:, 2:] = np.array(self._rows, dtype=np.int64)
        tokens = np.concatenate(self._sequences) if self._sequences else np.zeros(0, dtype=np.uint16)
        np.save(folder / f"{split}.tokens.npy", tokens)
        np.save(folder / f"{split}.index.npy", index)
        return int(tokens.size)


@dataclass(frozen=True)
class Shard:
    tokens: np.ndarray  # memory-mapped uint16
    index: np.ndarray  # (sequences, 4) int64

    def __len__(self) -> int:
        return len(self.index)

    def sequence(self, i: int) -> np.ndarray:
        offset, length = self.index[i, 0], self.index[i, 1]
        return self.tokens[offset : offset + length]


def open_shard(folder: Path, split: str) -> Shard:
    """Open a split's shard memory-mapped (nothing is read until it is used), once the
    corpus is known to be whole (:func:`~cadenza.data.corpus.check_corpus`)."""
    check_corpus(folder)
    arrays = []
    for path in (folder / f"{split}.tokens.npy", folder / f"{split}.index.npy"):
        try:  # memory-mapped: a header that claims more than the file holds is refused, not allocated
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as error:
            raise InputFileError(f"is not a shard cadenza wrote ({error})", path) from None
        if not np.issubdtype(array.dtype, np.integer):
            raise InputFileError(f"is not a shard cadenza wrote (it holds {array.dtype}, not integers)", path)
        arrays.append(array)
    tokens, index = arrays[0], np.array(arrays[1])
    ends = index[:, 0] + index[:, 1] if index.ndim == 2 and index.shape[1] == len(INDEX_COLUMNS) else None
    if ends is None or tokens.ndim != 1 or (len(ends) and (index[:, :2].min() < 0 or ends.max() > len(tokens))):
        raise InputFileError("is not a shard index cadenza wrote (its rows point outside the tokens)", path)
    return Shard(tokens, index)
