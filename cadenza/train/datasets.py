"""Batches of token windows, for training and for exact evaluation.

A :class:`Sequences` holds whole token sequences (pieces). Training draws windows at
random, as a pure function of ``(seed, step)``: the same step always sees the same
batch, whichever process draws it and however often the run was resumed. Evaluation
covers every target of every sequence exactly once with overlapping windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["Window", "Batch", "Sequences", "token_nll"]


@dataclass(frozen=True)
class Window:
    sequence: int  # which sequence
    start: int  # position of the first input token
    score_from: int  # targets at positions below this are context only


@dataclass(frozen=True)
class Batch:
    inputs: Tensor  # (B, T) int64
    targets: Tensor  # (B, T) int64; -1 where nothing is scored
    starts: Tensor  # (B,) int64: position of inputs[:, 0] in its sequence

    @property
    def scored(self) -> int:
        return int((self.targets >= 0).sum())


class Sequences:
    """Token sequences (each starting with BOS) and, optionally, which tokens may follow
    which: ``successors[a, b]`` is True when token b may come after token a."""

    def __init__(
        self, sequences: Sequence[np.ndarray], successors: np.ndarray | None = None, source: Path | None = None
    ) -> None:
        self.sequences = [np.asarray(s) for s in sequences]  # any integer dtype; memory-mapped shards stay so
        self.source = source  # the file or folder they came from, for error messages
        self.lengths = np.array([len(s) for s in self.sequences], dtype=np.int64)
        if len(self.sequences) == 0 or (self.lengths < 2).all():
            raise ValueError("no sequence of two tokens or more")
        self.successors = None if successors is None else torch.as_tensor(successors, dtype=torch.bool)

    @classmethod
    def from_shard(cls, folder: Path, split: str) -> Sequences:
        from cadenza.data.shards import open_shard

        shard = open_shard(folder, split)
        return cls([shard.sequence(i) for i in range(len(shard))], source=folder)  # views of the memory-mapped tokens

    def check_vocabulary(self, vocab_size: int) -> None:
        """Refuse token ids a model of ``vocab_size`` tokens does not have (InputFileError)."""
        from cadenza.train.markov import check_vocabulary

        check_vocabulary(self.sequences, vocab_size, self.source)

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def targets(self) -> int:
        return int((self.lengths - 1).clip(min=0).sum())

    def draw(self, seed: int, step: int, count: int, window: int, start_share: float = 0.0) -> list[Window]:
        """``count`` random windows of up to ``window`` targets for one optimizer step; a
        sequence is drawn in proportion to its length, its start uniformly, except that a
        ``start_share`` of the windows begin at the sequence's first token.

        Only a window that begins there holds the condition tokens (style, key, mood) and
        the opening that follows them; in a corpus of long pieces a uniform start almost
        never draws one, and the model would not learn what the conditions ask for."""
        rng = np.random.default_rng([seed, step])
        targets = (self.lengths - 1).clip(min=0)
        chosen = rng.choice(len(self.sequences), size=count, p=targets / targets.sum())
        last_start = (targets[chosen] - window).clip(min=0)
        starts = np.floor(rng.random(count) * (last_start + 1)).astype(np.int64)
        if start_share:
            starts[rng.random(count) < start_share] = 0
        return [Window(int(s), int(o), 0) for s, o in zip(chosen, starts, strict=True)]

    def scored_in(self, windows: Sequence[Window], window: int) -> int:
        """How many targets these windows score (without building them)."""
        total = 0
        for w in windows:
            end = min(w.start + window, int(self.lengths[w.sequence]) - 1)  # last target position
            total += max(0, end - max(w.start + 1, w.score_from) + 1)
        return total

    def evaluation_windows(self, window: int, stride: int) -> list[Window]:
        """Windows that score every target once, each with at least ``window - stride``
        tokens of context once the sequence is longer than a window."""
        windows = []
        for number, length in enumerate(self.lengths.tolist()):
            last = length - 1  # position of the last target
            scored, start = 0, 0
            while scored < last:
                start = min(start, max(0, last - window))
                windows.append(Window(number, start, scored + 1))
                scored = min(start + window, last)
                start += stride
        return windows

    def collate(self, windows: Sequence[Window], window: int, device: torch.device | str = "cpu") -> Batch:
        """Inputs and targets of ``window`` tokens each (padded), as tensors on ``device``."""
        inputs = np.zeros((len(windows), window), dtype=np.int64)
        targets = np.full((len(windows), window), -1, dtype=np.int64)
        for row, w in enumerate(windows):
            tokens = self.sequences[w.sequence][w.start : w.start + window + 1]
            n = len(tokens) - 1
            inputs[row, :n], targets[row, :n] = tokens[:-1], tokens[1:]
            skip = max(0, w.score_from - w.start - 1)  # targets before score_from
            targets[row, :skip] = -1
        starts = torch.tensor([w.start for w in windows], dtype=torch.int64)
        as_tensor = torch.from_numpy
        return Batch(as_tensor(inputs).to(device), as_tensor(targets).to(device), starts.to(device))


def token_nll(logits: Tensor, batch: Batch, successors: Tensor | None = None) -> Tensor:
    """Sum of −ln P(target) over the scored targets; with ``successors`` each distribution
    is renormalised over the tokens allowed after the input token."""
    logits = logits.float()  # (B, T, V)
    if successors is not None:
        allowed = successors.to(logits.device)[batch.inputs]  # (B, T, V)
        logits = logits.masked_fill(~allowed, float("-inf"))
    return F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten(), ignore_index=-1, reduction="sum")


def remi_sequences(corpus: Path, split: str, max_tokens: int = 0, key_normalised: bool = True) -> Sequences:
    """A built corpus's split as :class:`Sequences`, each piece moved to C major or minor
    (:func:`~cadenza.train.markov.piece_in_c`) when ``key_normalised``. ``max_tokens``:
    an evenly spread subset of the pieces of about that many tokens in all (0: every piece),
    for a validation pass that fits a CPU budget."""
    from cadenza.data.info import read_manifest
    from cadenza.data.labels import parse_key
    from cadenza.data.shards import open_shard
    from cadenza.data.tokens import load_tokenizer
    from cadenza.models.vocabulary import Vocabulary
    from cadenza.train.markov import piece_in_c

    shard = open_shard(corpus, split)
    order = np.arange(len(shard))
    if max_tokens and int(shard.index[:, 1].sum()) > max_tokens:
        every = int(shard.index[:, 1].sum()) / max_tokens
        order = order[np.unique(np.floor(np.arange(0, len(shard), every)).astype(np.int64))]
    if not key_normalised:
        return Sequences([shard.sequence(int(i)) for i in order], source=corpus)
    rows = read_manifest(corpus)
    vocab = Vocabulary.from_tokenizer_vocab(load_tokenizer(corpus).vocab)
    sequences = []
    for i in order.tolist():
        tokens = shard.sequence(i)
        key = str(rows[int(shard.index[i, 2])]["labels"]["key"])
        if key != "none":  # the label is the untransposed piece's; the shard row says how far it moved
            tonic, mode = parse_key(key)
            tokens = piece_in_c(tokens, (tonic + int(shard.index[i, 3])) % 12, mode, vocab).astype(np.uint16)
        sequences.append(tokens)
    return Sequences(sequences, source=corpus)
