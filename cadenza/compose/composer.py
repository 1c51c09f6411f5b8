"""The public API: ``Composer.from_pretrained(...).generate(conditions, sampling)``."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path

import numpy as np
import symusic

from cadenza.compose.arrange import arrange
from cadenza.compose.conditions import Conditions, Resolved, resolve
from cadenza.compose.models import DEFAULT_MODEL, ModelInfo, locate
from cadenza.data.labels import key_label
from cadenza.data.tokens import condition_tokens, load_tokenizer
from cadenza.errors import InputFileError
from cadenza.models.constraints import Cadence, ExactBars, FixedTempo, Grammar, Meter, PitchClasses, PitchRange, Programs
from cadenza.models.sampling import Sampling, decode
from cadenza.models.vocabulary import Vocabulary

__all__ = ["Composer", "SCALES"]

SCALES = {
    "maj": (0, 2, 4, 5, 7, 9, 11),
    "min": (0, 2, 3, 5, 7, 8, 10, 9, 11),  # natural minor with the raised 6th and 7th
}
_TOKENS_PER_BAR_LIMIT = 600


class Composer:
    """Composes music with one model; sampling settings are given on every call."""

    def __init__(self, folder: Path, name: str | None = None) -> None:
        self.info = ModelInfo.read(folder, name)
        self.folder = folder
        self.config = json.loads((folder / "config.json").read_text())
        self.tokenizer = load_tokenizer(folder)
        self.vocab = Vocabulary.from_tokenizer_vocab(self.tokenizer.vocab)
        # A model trained on pieces moved to tonic C writes in C; the arrangement moves it.
        self.key_normalised = bool(self.config.get("key_normalised", False))
        self.default_style = str(self.config.get("default_style", "pop"))

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path = DEFAULT_MODEL) -> Composer:
        """A shipped model by name (``default``, see ``cadenza models``) or a model folder."""
        folder = locate(name_or_path)
        name = folder.name if Path(str(name_or_path)).name != DEFAULT_MODEL else folder.name
        return cls(folder, name)

    @cached_property
    def _model(self):  # loaded on first use: the family decides the class
        family = self.info.family
        if family == "markov":
            from cadenza.models.markov import MarkovModel

            return MarkovModel.load(self.folder)
        if family == "transformer":
            from cadenza.models.transformer import TransformerModel

            return TransformerModel.load(self.folder)
        raise InputFileError(f"unknown model family {family!r}", self.folder)

    def resolve(self, conditions: Conditions) -> Resolved:
        return resolve(conditions, self.default_style)

    def _distribution(self, resolved: Resolved, head: int) -> Callable[[Sequence[int]], np.ndarray]:
        model = self._model
        if self.info.family == "markov":
            group = f"{resolved.style}|{resolved.mode}"
            return lambda tokens: model.next_distribution(tokens[head:], group)
        return model.stepper()

    def generate(self, conditions: Conditions, sampling: Sampling = Sampling()) -> symusic.Score:
        """A new piece that follows ``conditions``; the same seed gives the same piece."""
        resolved = self.resolve(conditions)
        tonic = 0 if self.key_normalised else resolved.tonic
        shift = resolved.tonic if resolved.tonic <= 6 else resolved.tonic - 12
        if not self.key_normalised:
            shift = 0
        vocab = self.vocab
        head = [vocab.id("BOS_None")] + [
            vocab.id(t) for t in condition_tokens(resolved.style, key_label(tonic, resolved.mode), resolved.mood or "calm")
        ]
        low = min(i.low for i in resolved.instruments) - shift
        high = max(i.high for i in resolved.instruments) - shift
        constraints = [
            Grammar(vocab),
            Meter(vocab, resolved.meter),
            FixedTempo(vocab, resolved.tempo),
            Programs(vocab, [0]),  # one keyboard texture; the arrangement gives it instruments
            PitchClasses(vocab, [(tonic + p) % 12 for p in SCALES[resolved.mode]]),
            PitchRange(vocab, max(low, 21), min(high, 108)),
            ExactBars(vocab, resolved.bars),
            Cadence(vocab, tonic, resolved.mode == "min", last_bar=resolved.bars),
        ]
        tokens = decode(
            self._distribution(resolved, len(head)),
            vocab,
            head,
            constraints,
            sampling,
            max_tokens=len(head) + resolved.bars * _TOKENS_PER_BAR_LIMIT,
        )
        decoded = self.tokenizer.decode(tokens)
        return arrange(decoded, resolved, shift)
