"""Held-out likelihood of a corpus split, the same tokens for every model family.

The protocol (``cadenza evaluate markov`` / ``cadenza evaluate transformer``): up to
``pieces_per_style`` pieces of each style from the split (untransposed, with a key), each
moved to C as the models learn it, its first ``tokens_per_piece`` music tokens (0: all of
them; 300 by default, which keeps a CPU run short); every music token after the first is
scored, in nats. A split with nothing to score is refused with the reason. The Markov
model sees the music only (its group carries the conditions); the Transformer sees the
condition tokens before it as well.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cadenza.data.info import read_manifest
from cadenza.data.labels import parse_key
from cadenza.data.shards import open_shard
from cadenza.data.tokens import load_tokenizer
from cadenza.errors import InputFileError
from cadenza.models.markov import group_name, pool_name
from cadenza.models.vocabulary import Vocabulary
from cadenza.train.markov import HEAD_TOKENS, piece_in_c

__all__ = ["EvaluationPiece", "evaluation_pieces", "evaluate_markov", "evaluate_transformer"]


@dataclass(frozen=True)
class EvaluationPiece:
    style: str
    mode: str
    meter: str
    head: np.ndarray  # BOS and the condition tokens, the key as C major or minor
    music: np.ndarray  # the scored music tokens, moved to C


def evaluation_pieces(
    corpus: Path, split: str, pieces_per_style: int = 30, tokens_per_piece: int = 300
) -> Iterator[EvaluationPiece]:
    rows = read_manifest(corpus)
    vocab = Vocabulary.from_tokenizer_vocab(load_tokenizer(corpus).vocab)
    shard = open_shard(corpus, split)
    if len(shard) == 0:
        raise InputFileError(
            f"has no pieces in its {split!r} split (too few pieces were given to set some aside); "
            "evaluate another split with --split, or build the corpus from more pieces",
            corpus,
        )
    taken: Counter[str] = Counter()
    for i in range(len(shard)):
        if int(shard.index[i, 3]) != 0:
            continue
        labels = rows[int(shard.index[i, 2])]["labels"]
        style = str(labels["style"])
        if taken[style] >= pieces_per_style or labels["key"] == "none":
            continue
        taken[style] += 1
        tonic, mode = parse_key(labels["key"])
        tokens = piece_in_c(shard.sequence(i), tonic, mode, vocab)
        music = tokens[HEAD_TOKENS : HEAD_TOKENS + tokens_per_piece] if tokens_per_piece else tokens[HEAD_TOKENS:]
        yield EvaluationPiece(style, mode, str(labels["meter"]), tokens[:HEAD_TOKENS], music)


def _per_style(scores: Iterator[tuple[str, float, int]], corpus: Path, split: str) -> dict[str, tuple[float, int]]:
    totals: dict[str, list[float]] = {}
    for style, nll, count in scores:
        entry = totals.setdefault(style, [0.0, 0])
        entry[0] += nll
        entry[1] += count
    results = {style: (total / count, int(count)) for style, (total, count) in sorted(totals.items()) if count}
    if not results:
        raise InputFileError(
            f"has nothing to score in its {split!r} split (no untransposed piece with a key label and two "
            "music tokens or more)",
            corpus,
        )
    return results


def evaluate_markov(
    model_folder: Path, corpus: Path, split: str = "valid", pieces_per_style: int = 30, tokens_per_piece: int = 300
) -> dict[str, tuple[float, int]]:
    """{style: (nats per token, tokens)} under a Markov model (see the module docstring)."""
    from cadenza.models.markov import MarkovModel

    model = MarkovModel.load(model_folder)

    def scores() -> Iterator[tuple[str, float, int]]:
        for piece in evaluation_pieces(corpus, split, pieces_per_style, tokens_per_piece):
            if len(piece.music) < 2:
                continue
            group, pool = group_name(piece.style, piece.mode, piece.meter), pool_name(piece.meter)
            nll = -model.log_likelihood(list(piece.music), group if group in model.config.groups else None, pool)
            yield piece.style, nll, len(piece.music) - 1

    return _per_style(scores(), corpus, split)


def evaluate_transformer(
    model_folder: Path, corpus: Path, split: str = "valid", pieces_per_style: int = 30, tokens_per_piece: int = 300
) -> dict[str, tuple[float, int]]:
    """{style: (nats per token, tokens)} under a Transformer trained key-normalised."""
    import torch

    from cadenza.models.transformer import TransformerModel
    from cadenza.train.datasets import Sequences, token_nll

    model = TransformerModel.load(model_folder)
    window = model.config.block_size

    def scores() -> Iterator[tuple[str, float, int]]:
        for piece in evaluation_pieces(corpus, split, pieces_per_style, tokens_per_piece):
            if len(piece.music) < 2:
                continue
            sequence = Sequences([np.concatenate([piece.head, piece.music])])
            windows = sequence.evaluation_windows(window, stride=window // 2)
            batch = sequence.collate(windows, window)
            # the same targets as the Markov model's: the music after its first token
            positions = torch.tensor([w.start for w in windows])[:, None] + torch.arange(window) + 1
            batch.targets[positions < len(piece.head) + 1] = -1
            with torch.inference_mode():
                nll = token_nll(model(batch.inputs), batch)
            yield piece.style, float(nll), batch.scored

    return _per_style(scores(), corpus, split)
