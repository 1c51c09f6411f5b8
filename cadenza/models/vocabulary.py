"""What each REMI token id means: its type and value, as arrays a sampler can index.

miditok names tokens ``Type_Value`` (``Pitch_60``, ``Position_8``, ``Duration_1.2.8``,
``TimeSig_3/4``). Constraints need those values as numbers; this reads them once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

__all__ = ["Vocabulary", "POSITIONS_PER_BEAT"]

POSITIONS_PER_BEAT = 8  # the tokenizer's resolution in the first 4 beats of a note


@dataclass(frozen=True)
class Vocabulary:
    names: tuple[str, ...]
    ids: dict[str, int]
    kinds: np.ndarray  # (V,) object: "Pitch", "Position", ...
    values: np.ndarray  # (V,) float: pitch, position, duration in beats, tempo, program; NaN otherwise

    @classmethod
    def from_tokenizer_vocab(cls, vocab: Mapping[str, int]) -> Vocabulary:
        names = [""] * len(vocab)
        for name, index in vocab.items():
            names[index] = name
        kinds = np.array([n.split("_", 1)[0] for n in names], dtype=object)
        values = np.full(len(names), np.nan)
        for index, name in enumerate(names):
            kind, _, value = name.partition("_")
            if kind in ("Pitch", "PitchDrum", "Position", "Program", "Velocity") or kind == "Tempo":
                values[index] = float(value)
            elif kind == "Duration":
                beats, fraction, resolution = (int(v) for v in value.split("."))
                values[index] = beats + fraction / resolution
        return cls(tuple(names), dict(vocab), kinds, values)

    def __len__(self) -> int:
        return len(self.names)

    def of_kind(self, kind: str) -> np.ndarray:
        """Boolean mask of the tokens of one kind."""
        return self.kinds == kind

    def id(self, name: str) -> int:
        return self.ids[name]

    def time_signature(self, meter: str) -> int | None:
        return self.ids.get(f"TimeSig_{meter}")

    def nearest_tempo(self, bpm: float) -> int:
        tempos = np.flatnonzero(self.of_kind("Tempo"))
        return int(tempos[np.argmin(np.abs(self.values[tempos] - bpm))])

    def program(self, program: int) -> int | None:
        return self.ids.get(f"Program_{program}")
