"""Training the Markov model from a built corpus: ``cadenza train markov``.

Each training piece is moved to tonic C (its key label says how far), so that all keys
pool their statistics; the composer moves the result to the requested key. Pieces are
grouped by style and mode for the conditional part of the model.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from cadenza.data.info import read_manifest
from cadenza.data.labels import key_label, parse_key
from cadenza.data.shards import open_shard
from cadenza.data.tokens import TOKENIZER_FILE, load_tokenizer
from cadenza.errors import InputFileError
from cadenza.models.markov import MarkovConfig, MarkovModel
from cadenza.models.vocabulary import Vocabulary

__all__ = ["beat_unit", "group_name", "pool_name", "normalise_key", "piece_in_c", "train_markov", "HEAD_TOKENS"]

HEAD_TOKENS = 4  # BOS and the three condition tokens before the music
MIN_GROUP_PIECES = 20


def beat_unit(meter: str) -> str:
    """The denominator of a meter ("6/8" -> "8"); "4" for a piece without one."""
    return meter.split("/")[-1] if "/" in meter else "4"


def pool_name(meter: str) -> str:
    """The pooled model of every piece with the same beat unit (see :func:`group_name`)."""
    return f"*|{beat_unit(meter)}"


def group_name(style: str, mode: str, meter: str) -> str:
    """Pieces are grouped by style, mode and the beat unit of their meter: REMI counts
    positions and durations in beats of the time signature's denominator, so a quarter
    note in 6/8 and in 4/4 are different tokens, and must not share statistics."""
    return f"{style}|{mode}|{beat_unit(meter)}"


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
    model = MarkovModel.fit(config, pieces, groups, pools)
    model.save(out)
    shutil.copy(corpus / TOKENIZER_FILE, out / TOKENIZER_FILE)
    model_config = json.loads((out / "config.json").read_text())
    # pop, when the corpus has it: a full texture (melody, chords, bass) suits most uses
    default_style = "pop" if "pop" in styles else styles.most_common(1)[0][0]
    model_config.update(key_normalised=True, default_style=default_style)
    (out / "config.json").write_text(json.dumps(model_config, indent=1, sort_keys=True) + "\n")
    training = {
        "corpus": str(corpus),
        "pieces": len(pieces),
        "tokens": int(sum(len(p) for p in pieces)),
        "sources": [
            {"name": name, "licence": licence, "pieces": count} for (name, licence), count in sorted(sources.items())
        ],
        "groups": {g: n for g, n in sorted(Counter(groups).items()) if g},
    }
    (out / "training.json").write_text(json.dumps(training, indent=1, sort_keys=True) + "\n")
    return out
