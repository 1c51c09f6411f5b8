"""Tokens: miditok's REMI vocabulary plus condition tokens for the labels.

A sequence is ``BOS Style_x Key_y Mood_z`` followed by REMI tokens (which carry the
time signature and tempo themselves) and ``EOS``. The tokenizer's parameters are saved
as JSON beside the shards, so a model knows exactly which vocabulary it learned.
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import symusic

from cadenza.data.labels import MOODS
from cadenza.errors import InputFileError
from cadenza.jsonfile import read_json
from cadenza.theory import MODES, key_label

__all__ = ["STYLES", "make_tokenizer", "load_tokenizer", "condition_tokens", "encode_piece", "TOKENIZER_FILE"]

TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_BYTES = 1024 * 1024  # cadenza's is 10 kB
STYLES = ("pop", "chorale", "folk", "early", "classical", "other")
_KEYS = (*(key_label(tonic, mode) for mode in MODES for tonic in range(12)), "none")


def _condition_vocabulary() -> list[str]:
    return [f"Style_{s}" for s in STYLES] + [f"Key_{k}" for k in _KEYS] + [f"Mood_{m}" for m in MOODS]


def make_tokenizer():  # -> miditok.REMI (imported lazily: miditok imports torch)
    """The REMI tokenizer every corpus and model in cadenza shares."""
    from miditok import REMI, TokenizerConfig

    config = TokenizerConfig(
        pitch_range=(21, 109),
        beat_res={(0, 4): 8, (4, 12): 4},
        num_velocities=16,
        # The condition tokens ride along as special tokens so that they are part of
        # the saved configuration and come back when the tokenizer is loaded.
        special_tokens=["PAD", "BOS", "EOS", *_condition_vocabulary()],
        use_tempos=True,
        num_tempos=32,
        tempo_range=(40, 250),
        use_time_signatures=True,
        use_programs=True,
        one_token_stream_for_programs=True,
        use_sustain_pedals=False,
        use_pitch_bends=False,
        use_rests=False,
        use_chords=False,
    )
    return REMI(config)


def save_tokenizer(tokenizer, folder: Path) -> Path:
    """Save the tokenizer's parameters as JSON. Key order matters: miditok builds the
    vocabulary from the order of its time-signature table, so it is kept as written."""
    path = folder / TOKENIZER_FILE
    tokenizer.save(path)
    return path


@functools.cache
def _made_config() -> str:
    """The JSON text of :func:`make_tokenizer`'s settings, as :func:`save_tokenizer` writes them."""
    with tempfile.TemporaryDirectory() as folder:
        saved = read_json(save_tokenizer(make_tokenizer(), Path(folder)), max_bytes=TOKENIZER_BYTES)
    return json.dumps(saved["config"])  # type: ignore[index]


def load_tokenizer(folder: Path):
    """The tokenizer saved beside a corpus or a model: it must be the one
    :func:`make_tokenizer` makes (every corpus and model in cadenza shares it), and then
    that one is returned. A file from elsewhere is never handed to miditok, whose
    settings decide how large a vocabulary it allocates; InputFileError when it differs."""
    path = folder / TOKENIZER_FILE
    saved = read_json(path, max_bytes=TOKENIZER_BYTES)
    if (
        not isinstance(saved, dict)
        or saved.get("tokenization") != "REMI"
        or json.dumps(saved.get("config")) != _made_config()
    ):
        raise InputFileError(
            "is not the tokenizer this cadenza makes (its settings differ); rebuild the corpus with "
            "`cadenza data build`, or retrain the model",
            path,
        )
    return make_tokenizer()


def condition_tokens(style: str, key: str, mood: str) -> list[str]:
    return [f"Style_{style if style in STYLES else 'other'}", f"Key_{key if key in _KEYS else 'none'}", f"Mood_{mood}"]


def encode_piece(tokenizer, score: symusic.Score, conditions: Sequence[str]) -> np.ndarray:
    """Token ids of one piece: BOS, conditions, REMI events, EOS (uint16)."""
    events = tokenizer.encode(score)
    ids = events.ids if hasattr(events, "ids") else events[0].ids
    vocab = tokenizer.vocab
    head = [vocab["BOS_None"], *(vocab[c] for c in conditions)]
    return np.asarray([*head, *ids, vocab["EOS_None"]], dtype=np.uint16)
