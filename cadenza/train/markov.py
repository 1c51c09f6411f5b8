"""Fitting the Markov model: counting and pruning n-grams (:func:`fit_markov`), and
``cadenza train markov`` from a built corpus (:func:`train_markov`).

Each training piece is moved to tonic C (its key label says how far), so that all keys
pool their statistics; the composer moves the result to the requested key. Pieces are
grouped by style and mode for the conditional part of the model.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from cadenza.data.info import read_manifest
from cadenza.data.labels import key_label, parse_key
from cadenza.data.shards import open_shard
from cadenza.data.tokens import TOKENIZER_FILE, load_tokenizer
from cadenza.errors import InputFileError, InvalidArgumentError
from cadenza.models.folder import TRAINING, new_folder, write_json
from cadenza.models.markov import ALL_GROUP, MarkovConfig, MarkovModel, group_name, mix64, pool_name, window_keys
from cadenza.models.vocabulary import Vocabulary

__all__ = ["fit_markov", "normalise_key", "piece_in_c", "train_markov", "check_vocabulary", "HEAD_TOKENS"]

HEAD_TOKENS = 4  # BOS and the three condition tokens before the music
MIN_GROUP_PIECES = 20


def fit_markov(
    config: MarkovConfig,
    pieces: Sequence[np.ndarray],
    groups: Sequence[str],
    pools: Sequence[str] | None = None,
) -> MarkovModel:
    """Count every n-gram of every piece, in its pool and in its group."""
    pools = list(pools) if pools is not None else [ALL_GROUP] * len(pieces)
    check_vocabulary(pieces, config.vocab_size)
    all_keys, all_next, all_counts = [], [], []
    tables = [(p, config.order) for p in config.pools] + [(g, config.group_order) for g in config.groups]
    for table, longest in tables:
        members = [p for p, g, pool in zip(pieces, groups, pools, strict=True) if table in (g, pool)]
        for length in range(longest):
            keys, successors, counts = _count(config, members, length, table)
            all_keys.append(keys)
            all_next.append(successors)
            all_counts.append(counts)
    return MarkovModel(
        config,
        np.concatenate(all_keys),
        np.concatenate(all_next).astype(np.uint16),
        np.minimum(np.concatenate(all_counts), np.iinfo(np.uint16).max).astype(np.uint16),
    )


def check_vocabulary(pieces: Sequence[np.ndarray], vocab_size: int, source: Path | None = None) -> None:
    """Refuse token ids outside the vocabulary (a corpus built with another tokenizer, a
    replaced shard): a model would learn, or index, tokens that do not exist."""
    for tokens in pieces:
        if len(tokens) == 0:
            continue
        low, high = int(np.min(tokens)), int(np.max(tokens))
        if low < 0 or high >= vocab_size:
            raise InputFileError(
                f"a piece holds token id {high if high >= vocab_size else low}, outside the vocabulary of "
                f"{vocab_size} tokens (built with another tokenizer?); rebuild it",
                source,
            )


def _count(
    config: MarkovConfig, pieces: Sequence[np.ndarray], length: int, group: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(context key, successor, count) of every (context of ``length`` tokens, successor)
    pair, pruned to the pairs in ``min_pieces`` pieces once the context is long enough."""
    keys, successors, piece_ids = [], [], []
    for number, tokens in enumerate(pieces):
        if len(tokens) <= length:
            continue
        keys.append(window_keys(tokens, length, group))
        successors.append(tokens[length:].astype(np.uint64))
        piece_ids.append(np.full(len(tokens) - length, number, dtype=np.int64))
    if not keys:
        empty = np.zeros(0, dtype=np.uint64)
        return empty, empty, empty
    key, succ, piece = np.concatenate(keys), np.concatenate(successors), np.concatenate(piece_ids)
    pair = mix64(key ^ (succ * np.uint64(0x9E3779B97F4A7C15)))
    unique_pairs, first, counts = np.unique(pair, return_index=True, return_counts=True)
    if length >= config.keep_all_below and config.min_pieces > 1:
        # in how many pieces each (context, successor) pair occurs
        order = np.lexsort((piece, pair))
        pair_sorted, piece_sorted = pair[order], piece[order]
        first_in_piece = np.ones(len(order), dtype=bool)
        first_in_piece[1:] = (pair_sorted[1:] != pair_sorted[:-1]) | (piece_sorted[1:] != piece_sorted[:-1])
        in_pieces = np.unique(pair_sorted[first_in_piece], return_counts=True)[1]  # aligned with unique_pairs
        keep = in_pieces >= config.min_pieces
        unique_pairs, first, counts = unique_pairs[keep], first[keep], counts[keep]
    return key[first], succ[first], counts.astype(np.uint64)


def normalise_key(tokens: np.ndarray, tonic: int, vocab: Vocabulary) -> np.ndarray:
    """Move the pitch tokens of a sequence down by ``tonic`` semitones (up an octave
    less, where that keeps more notes in range); notes that would leave the range fold."""
    pitch_ids = np.flatnonzero(vocab.of_kind("Pitch"))
    low_id, high_id = pitch_ids.min(), pitch_ids.max()
    is_pitch = (tokens >= low_id) & (tokens <= high_id)
    pitches = tokens[is_pitch].astype(np.int64)
    moved = min(
        (pitches + shift for shift in (-tonic, 12 - tonic)),
        key=lambda m: int(np.sum((m < low_id) | (m > high_id))),  # the first wins a tie
    )
    while (moved < low_id).any() or (moved > high_id).any():
        moved = np.where(moved < low_id, moved + 12, np.where(moved > high_id, moved - 12, moved))
    out = tokens.astype(np.int64).copy()
    out[is_pitch] = moved
    return out


def piece_in_c(sequence: np.ndarray, tonic: int, mode: str, vocab: Vocabulary) -> np.ndarray:
    """A corpus sequence (BOS, style, key, mood, music) moved to C: its music by
    :func:`normalise_key`, its key token to ``Key_C:maj`` or ``Key_C:min`` (int64)."""
    tokens = np.asarray(sequence, dtype=np.int64).copy()
    tokens[HEAD_TOKENS:] = normalise_key(tokens[HEAD_TOKENS:], tonic, vocab)
    tokens[2] = vocab.id(f"Key_{key_label(0, mode)}")
    return tokens


def train_markov(corpus: Path, out: Path, config: MarkovConfig | None = None) -> Path:
    """Fit a Markov model on a corpus's training split and save it as a model folder."""
    if not (corpus / TOKENIZER_FILE).exists():
        raise InputFileError("is not a built corpus (no tokenizer.json); run `cadenza data build`", corpus)
    rows = read_manifest(corpus)
    tokenizer = load_tokenizer(corpus)
    vocab = Vocabulary.from_tokenizer_vocab(tokenizer.vocab)
    shard = open_shard(corpus, "train")
    pieces: list[np.ndarray] = []
    groups: list[str] = []
    pools: list[str] = []
    sources: Counter[tuple[str, str]] = Counter()
    for i in range(len(shard)):
        row_number, semitones = int(shard.index[i, 2]), int(shard.index[i, 3])
        if semitones != 0:
            continue  # transposed copies add nothing once every piece is moved to C
        row = rows[row_number]
        labels = row["labels"]
        tonic, mode = parse_key(labels["key"]) if labels["key"] != "none" else (0, "maj")
        music = np.asarray(shard.sequence(i)[HEAD_TOKENS:], dtype=np.int64)
        check_vocabulary([music], len(vocab), corpus)
        pieces.append(normalise_key(music, tonic, vocab))
        groups.append(group_name(str(labels["style"]), mode, str(labels["meter"])))
        pools.append(pool_name(str(labels["meter"])))
        sources[(row["source"], row["licence"])] += 1
    if not pieces:
        raise InputFileError("has no training pieces", corpus)
    sizes = Counter(groups)
    # a group of a handful of pieces would only parrot them: they count in the pooled model alone
    styles = Counter(g.split("|")[0] for g in groups)  # of every piece, grouped or not
    groups = [g if sizes[g] >= MIN_GROUP_PIECES else "" for g in groups]
    base = config or MarkovConfig(vocab_size=len(vocab))
    pool_sizes = Counter(pools)
    pools = [p if pool_sizes[p] >= MIN_GROUP_PIECES else pool_name("4/4") for p in pools]
    config = replace(
        base, vocab_size=len(vocab), groups=tuple(sorted(set(groups) - {""})), pools=tuple(sorted(set(pools)))
    )
    try:
        config.check()
    except ValueError as error:
        raise InvalidArgumentError(str(error)) from None
    model = fit_markov(config, pieces, groups, pools)
    # pop, when the corpus has it: a full texture (melody, chords, bass) suits most uses
    default_style = "pop" if "pop" in styles else styles.most_common(1)[0][0]
    training = {
        "corpus": str(corpus),
        "pieces": len(pieces),
        "tokens": int(sum(len(p) for p in pieces)),
        "sources": [
            {"name": name, "licence": licence, "pieces": count} for (name, licence), count in sorted(sources.items())
        ],
        "groups": {g: n for g, n in sorted(Counter(groups).items()) if g},
    }
    with new_folder(out) as folder:  # the folder appears whole, or not at all
        model.save(folder, extra={"key_normalised": True, "default_style": default_style})
        shutil.copy(corpus / TOKENIZER_FILE, folder / TOKENIZER_FILE)
        write_json(folder / TRAINING, training)
    return out
