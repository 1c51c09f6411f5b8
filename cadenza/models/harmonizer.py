"""A melody harmonizer: the chords under a tune, learned from music whose tune and harmony
are both there (POP909's MELODY over its arrangement, the chorales' soprano over their
four voices).

A hidden Markov model over spans of a bar (a bar, or half of one where it has four
beats, :func:`spans_per_bar`). The hidden state is a chord; the observation is the
tune's weight on each pitch class in the span (:func:`cadenza.analysis.melody.span_weights`).

* emission: for each chord quality, the share of the tune's weight on each interval
  above the root, counted in training (add-``k`` smoothed): ln P(tune | chord) is the
  tune's weights times the log of those shares;
* transitions: from chord to chord of the next span, relative to the key (``"7:maj"`` is
  V in any major key), one table per style and mode: the bigram mixed with the
  unigram (:attr:`HarmonizerConfig.bigram_weight`), and the counts of first spans for the
  first;
* Viterbi finds the likeliest run of chords.

The counts are plain JSON (:meth:`Harmonizer.to_dict`); the fitting is
:mod:`cadenza.train.harmonizer`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.errors import InputFileError
from cadenza.models.folder import read_json, write_json
from cadenza.theory import PITCH_NAMES, QUALITIES, parse_chord

__all__ = ["Harmonizer", "HarmonizerConfig", "HarmonizerTable", "default_harmonizer", "spans_per_bar", "SHIPPED"]

HARMONIZER_VERSION = 1
SHIPPED = Path(__file__).resolve().parents[1] / "pretrained" / "harmonizer" / "harmonizer.json"


def spans_per_bar(meter: str) -> int:
    """Chords a bar takes: two in a bar of four beats (or two dotted beats, 6/8 and 12/8),
    where songs change chord every half bar; else one."""
    numerator = int(meter.split("/")[0])
    return 2 if numerator in (4, 6, 12) else 1


@dataclass(frozen=True)
class HarmonizerConfig:
    k: float = 0.5  # add-k smoothing of every count
    bigram_weight: float = 0.9  # the rest goes to the unigram
    min_count: int = 5  # chords seen fewer times in a table are left out of its states
    emission_weight: float = 1.0  # how loud the tune speaks against the progression (chosen on held-out music)


@dataclass
class HarmonizerTable:
    """The counts of one style and mode: relative chords (``"INTERVAL:QUALITY"``)."""

    start: dict[str, float] = field(default_factory=dict)
    unigram: dict[str, float] = field(default_factory=dict)
    bigram: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, chords: Sequence[str]) -> None:
        for i, chord in enumerate(chords):
            self.unigram[chord] = self.unigram.get(chord, 0) + 1
            if i == 0:
                self.start[chord] = self.start.get(chord, 0) + 1
            else:
                row = self.bigram.setdefault(chords[i - 1], {})
                row[chord] = row.get(chord, 0) + 1


class Harmonizer:
    """Chords for a tune (module docstring)."""

    def __init__(
        self,
        emission: Mapping[str, Sequence[float]],
        tables: Mapping[str, HarmonizerTable],
        config: HarmonizerConfig | None = None,
    ) -> None:
        self.emission = {q: np.asarray(v, dtype=np.float64) for q, v in emission.items()}
        self.tables = dict(tables)
        self.config = config or HarmonizerConfig()

    # ------------------------------------------------------------------ fitting
    @classmethod
    def empty(cls, config: HarmonizerConfig | None = None) -> Harmonizer:
        return cls({q: [0.0] * 12 for q in QUALITIES}, {}, config)

    def add(self, style: str, keys: Sequence[tuple[int, str]], chords: Sequence[str], weights: np.ndarray) -> None:
        """Count one run of spans: the key, the chord heard and the tune's weights of each;
        a span without a chord ("N") breaks the run."""
        run: list[tuple[str, str]] = []  # (mode, relative chord)
        for (tonic, mode), label, weight in zip(keys, chords, weights, strict=True):
            parsed = parse_chord(label)
            if parsed is None:
                self._add_run(style, run)
                run = []
                continue
            root, quality = parsed
            self.emission.setdefault(quality, np.zeros(12))
            self.emission[quality] += np.roll(weight, -root)
            if run and run[-1][0] != mode:
                self._add_run(style, run)
                run = []
            run.append((mode, f"{(root - tonic) % 12}:{quality}"))
        self._add_run(style, run)

    def _add_run(self, style: str, run: list[tuple[str, str]]) -> None:
        if run:
            self.tables.setdefault(f"{style}/{run[0][0]}", HarmonizerTable()).add([c for _, c in run])

    # ----------------------------------------------------------------- decoding
    def table_name(self, style: str, mode: str) -> str:
        name = f"{style}/{mode}"
        if name in self.tables:
            return name
        pooled = [n for n in self.tables if n.endswith(f"/{mode}")]
        if not pooled:
            raise InputFileError(f"the harmonizer has no table for {mode}", SHIPPED)
        return max(pooled, key=lambda n: sum(self.tables[n].unigram.values()))

    def _log_emission(self) -> dict[str, np.ndarray]:
        out = {}
        for quality, counts in self.emission.items():
            smoothed = counts + self.config.k
            out[quality] = np.log(smoothed / smoothed.sum())
        return out

    def _log_vector(self, table: HarmonizerTable, relatives: Sequence[str], history: str | None) -> np.ndarray:
        k = self.config.k

        def normalised(counts: Mapping[str, float]) -> np.ndarray:
            values = np.array([counts.get(r, 0.0) for r in relatives]) + k
            return values / values.sum()

        if history is None:
            return np.log(normalised(table.start))
        w = self.config.bigram_weight
        row = table.bigram.get(history, {})
        mixed = (w * normalised(row) + (1 - w) * normalised(table.unigram)) if row else normalised(table.unigram)
        return np.log(mixed)

    def chords(self, weights: np.ndarray, keys: Sequence[tuple[int, str]], style: str = "pop") -> list[str]:
        """The likeliest chord (a Harte label) for each span: ``weights`` (spans, 12) of the
        tune (:func:`cadenza.analysis.melody.span_weights`), ``keys`` (tonic, mode) of each."""
        n = len(weights)
        if n == 0:
            return []
        names = sorted({self.table_name(style, mode) for _, mode in keys})
        relatives = sorted(
            {c for name in names for c, count in self.tables[name].unigram.items() if count >= self.config.min_count}
        )
        log_emission = self._log_emission()
        # the states: every relative chord in the key of its span, as (root pitch class, quality)
        states = sorted(
            {((tonic + int(r.split(":")[0])) % 12, r.split(":")[1]) for tonic, _ in set(keys) for r in relatives}
        )
        emit = self.config.emission_weight * np.stack(
            [[float(np.roll(weights[i], -root) @ log_emission[quality]) for root, quality in states] for i in range(n)]
        )
        transitions: dict[tuple[int, str], np.ndarray] = {}

        def relative_of(state: tuple[int, str], tonic: int) -> str:
            return f"{(state[0] - tonic) % 12}:{state[1]}"

        def matrix(tonic: int, mode: str) -> np.ndarray:
            if (tonic, mode) not in transitions:
                table = self.tables[self.table_name(style, mode)]
                rows = []
                for s in states:
                    vector = self._log_vector(table, relatives, relative_of(s, tonic))
                    rows.append(self._spread(vector, relatives, states, tonic))
                transitions[(tonic, mode)] = np.stack(rows)
            return transitions[(tonic, mode)]

        tonic, mode = keys[0]
        first = self._log_vector(self.tables[self.table_name(style, mode)], relatives, None)
        score = self._spread(first, relatives, states, tonic) + emit[0]
        back = np.zeros((n, len(states)), dtype=np.int64)
        for i in range(1, n):
            tonic, mode = keys[i]
            total = score[:, None] + matrix(tonic, mode)
            back[i] = total.argmax(axis=0)
            score = total.max(axis=0) + emit[i]
        path = [int(score.argmax())]
        for i in range(n - 1, 0, -1):
            path.append(int(back[i, path[-1]]))
        path.reverse()
        return [f"{PITCH_NAMES[states[j][0]]}:{states[j][1]}" for j in path]

    @staticmethod
    def _spread(
        vector: np.ndarray, relatives: Sequence[str], states: Sequence[tuple[int, str]], tonic: int
    ) -> np.ndarray:
        """A vector over ``relatives`` (in the key of ``tonic``) laid out over ``states``;
        a state the key's table does not hold is impossible."""
        lookup = dict(zip(relatives, vector, strict=True))
        return np.array([lookup.get(f"{(root - tonic) % 12}:{quality}", -np.inf) for root, quality in states])

    # ------------------------------------------------------------------- files
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": HARMONIZER_VERSION,
            "config": asdict(self.config),
            "emission": {q: [round(float(x), 3) for x in v] for q, v in sorted(self.emission.items()) if v.sum() > 0},
            "tables": {name: asdict(table) for name, table in sorted(self.tables.items())},
        }

    @classmethod
    def from_dict(cls, data: object, where: Path = SHIPPED) -> Harmonizer:
        if not isinstance(data, dict) or data.get("version") != HARMONIZER_VERSION:
            raise InputFileError(f"is not a harmonizer of version {HARMONIZER_VERSION}", where)
        try:
            config = HarmonizerConfig(**data["config"])
            emission = {str(q): [float(x) for x in v] for q, v in data["emission"].items()}
            if any(len(v) != 12 for v in emission.values()):
                raise ValueError("an emission row is not 12 values")
            tables = {
                str(name): HarmonizerTable(
                    {str(c): float(n) for c, n in t["start"].items()},
                    {str(c): float(n) for c, n in t["unigram"].items()},
                    {str(a): {str(c): float(n) for c, n in row.items()} for a, row in t["bigram"].items()},
                )
                for name, t in data["tables"].items()
            }
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise InputFileError(f"is not a harmonizer ({error})", where) from None
        return cls(emission, tables, config)

    def save(self, path: Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> Harmonizer:
        return cls.from_dict(read_json(path, "harmonizer"), path)


@cache
def default_harmonizer() -> Harmonizer:
    """The harmonizer shipped in the package (fitted on POP909 and the JSB chorales)."""
    return Harmonizer.load(SHIPPED)
