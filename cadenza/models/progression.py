"""Chord progressions: which chord a bar takes, given the bars before it, in a style and mode.

A chord is written relative to the key's tonic, ``"INTERVAL:QUALITY"`` with the root's
interval in semitones above the tonic (0..11) and a quality of
:data:`cadenza.theory.QUALITIES`: in C major ``G:7`` is ``"7:7"``, in A minor ``D:min``
is ``"5:min"`` (:func:`relative_chord`, :func:`absolute_chord`).

The model is a trigram over bars with interpolated add-k smoothing, one table per
style and mode (``"pop/maj"``, ``"chorale/min"``, ``"all/maj"`` pooled, for any other
style)::

    P(c | a, b) = w3 (n(a,b,c) + k) / (n(a,b) + kV) + w2 (n(b,c) + k) / (n(b) + kV)
                + w1 (n(c) + k) / (N + kV)

over the table's V chords plus one slot for a chord the table never saw (so a held-out
song has a finite likelihood; sampling never draws it). A context never seen gives its
weight to the lower orders. Positions in a section change the estimate: the first bar
of a piece is drawn from the counts of first bars (``start``), and the last bar of a
section mixes in the counts of what followed the previous chord at the end of a section
(``cadence``, weight :attr:`ProgressionConfig.cadence_weight`), so sections close as the
corpus closes them (V -> I, IV -> I, a half cadence on V).

The fitted counts are plain JSON (:meth:`ProgressionModel.to_dict`); the fitting itself
is :mod:`cadenza.train.chords`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.errors import InputFileError, InvalidArgumentError
from cadenza.models.folder import read_json, write_json
from cadenza.theory import MODES, PITCH_NAMES, QUALITIES, parse_chord

__all__ = [
    "PROGRESSIONS_VERSION",
    "POSITIONS",
    "DOMINANTS",
    "ProgressionConfig",
    "ProgressionTable",
    "ProgressionModel",
    "relative_chord",
    "absolute_chord",
    "tonic_chord",
    "default_progressions",
]

PROGRESSIONS_VERSION = 1
POSITIONS = ("start", "body", "cadence")
POOLED = "all"
UNSEEN = "?"
# Chords of dominant function, relative to the tonic: V, V7, Vsus4, vii°, viiø7, vii°7.
DOMINANTS = ("7:maj", "7:7", "7:sus4", "11:dim", "11:hdim7", "11:dim7")
SHIPPED = Path(__file__).resolve().parents[1] / "pretrained" / "progressions" / "progressions.json"


def relative_chord(label: str, tonic: int) -> str | None:
    """A Harte label in a key with this tonic -> ``"INTERVAL:QUALITY"``; ``"N"`` -> None.
    An inversion is left out: ``relative_chord("G:7/3", 0) == "7:7"``."""
    parsed = parse_chord(label)
    if parsed is None:
        return None
    root, quality = parsed
    return f"{(root - tonic) % 12}:{quality}"


def _parse_relative(token: str) -> tuple[int, str]:
    interval, sep, quality = token.partition(":")
    if not sep or not interval.isdigit() or not 0 <= int(interval) <= 11 or quality not in QUALITIES:
        raise InvalidArgumentError(f"relative chord {token!r} is not INTERVAL:QUALITY (0..11, e.g. '7:7')")
    return int(interval), quality


def absolute_chord(token: str, tonic: int) -> str:
    """``"INTERVAL:QUALITY"`` in a key with this tonic -> a Harte label: ``("7:7", 2) -> "A:7"``."""
    interval, quality = _parse_relative(token)
    return f"{PITCH_NAMES[(tonic + interval) % 12]}:{quality}"


def tonic_chord(mode: str) -> str:
    """The tonic triad of a mode, relative: ``"0:maj"`` or ``"0:min"``."""
    return "0:min" if mode == "min" else "0:maj"


@dataclass(frozen=True)
class ProgressionConfig:
    # chosen on held-out POP909 songs and the JSB valid split (docs in training.json)
    k: float = 0.05  # add-k
    weights: tuple[float, float, float] = (0.3, 0.5, 0.2)  # trigram, bigram, unigram
    cadence_weight: float = 0.3  # share of the cadence counts in a section's last bar

    def __post_init__(self) -> None:
        w = self.weights
        if not (self.k > 0 and len(w) == 3 and all(x >= 0 for x in w) and sum(w) > 0):
            raise InvalidArgumentError(f"progression config: k must be > 0 and 3 weights >= 0, got {self}")
        if not 0 <= self.cadence_weight <= 1:
            raise InvalidArgumentError(f"progression config: cadence_weight {self.cadence_weight} is outside 0..1")


Counts = dict[str, int]


@dataclass
class ProgressionTable:
    """The counts of one style and mode. Keys of ``trigram`` are ``"A B"`` (two chords)."""

    unigram: Counts = field(default_factory=dict)
    bigram: dict[str, Counts] = field(default_factory=dict)
    trigram: dict[str, Counts] = field(default_factory=dict)
    start: Counts = field(default_factory=dict)
    cadence: dict[str, Counts] = field(default_factory=dict)

    def add(self, chords: Sequence[str], ends: Collection[int] = ()) -> None:
        """Count one run of bar chords; ``ends`` are the indices of bars that end a section."""
        for i, chord in enumerate(chords):
            _bump(self.unigram, chord)
            if i == 0:
                _bump(self.start, chord)
                continue
            _bump(self.bigram.setdefault(chords[i - 1], {}), chord)
            if i >= 2:
                _bump(self.trigram.setdefault(f"{chords[i - 2]} {chords[i - 1]}", {}), chord)
            if i in ends:
                _bump(self.cadence.setdefault(chords[i - 1], {}), chord)

    def merge(self, other: ProgressionTable) -> None:
        for mine, theirs in ((self.unigram, other.unigram), (self.start, other.start)):
            for chord, n in theirs.items():
                _bump(mine, chord, n)
        for nested, their_nested in ((self.bigram, other.bigram), (self.trigram, other.trigram)):
            for context, counts in their_nested.items():
                for chord, n in counts.items():
                    _bump(nested.setdefault(context, {}), chord, n)
        for context, counts in other.cadence.items():
            for chord, n in counts.items():
                _bump(self.cadence.setdefault(context, {}), chord, n)

    @property
    def vocabulary(self) -> tuple[str, ...]:
        """The chords seen, most frequent first (ties by name): the sampling order."""
        return tuple(sorted(self.unigram, key=lambda c: (-self.unigram[c], c)))

    def to_dict(self) -> dict[str, Any]:
        return {name: _sorted(getattr(self, name)) for name in ("unigram", "bigram", "trigram", "start", "cadence")}

    @classmethod
    def from_dict(cls, data: object, where: str) -> ProgressionTable:
        if not isinstance(data, dict) or set(data) - {"unigram", "bigram", "trigram", "start", "cadence"}:
            raise InvalidArgumentError(f"{where}: expected an object of unigram, bigram, trigram, start, cadence")
        table = cls(
            unigram=_counts(data.get("unigram", {}), f"{where}.unigram"),
            bigram=_nested(data.get("bigram", {}), f"{where}.bigram"),
            trigram=_nested(data.get("trigram", {}), f"{where}.trigram"),
            start=_counts(data.get("start", {}), f"{where}.start"),
            cadence=_nested(data.get("cadence", {}), f"{where}.cadence"),
        )
        for context in table.trigram:
            if len(context.split(" ")) != 2:
                raise InvalidArgumentError(f"{where}.trigram: context {context[:40]!r} is not two chords")
        return table


def _bump(counts: Counts, chord: str, n: int = 1) -> None:
    counts[chord] = counts.get(chord, 0) + n


def _sorted(value: Any) -> Any:
    return {k: _sorted(value[k]) for k in sorted(value)} if isinstance(value, dict) else value


def _counts(data: object, where: str) -> Counts:
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"{where}: expected an object of counts")
    for chord, n in data.items():
        _parse_relative(chord)
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InvalidArgumentError(f"{where}[{chord!r}]: expected a count >= 0, got {n!r}"[:200])
    return dict(data)


def _nested(data: object, where: str) -> dict[str, Counts]:
    if not isinstance(data, dict):
        raise InvalidArgumentError(f"{where}: expected an object")
    return {context: _counts(counts, f"{where}[{context[:40]!r}]") for context, counts in data.items()}


class ProgressionModel:
    """Tables keyed ``"STYLE/MODE"``; a style without its own table uses the pooled ``"all/MODE"``."""

    def __init__(self, tables: Mapping[str, ProgressionTable], config: ProgressionConfig | None = None) -> None:
        self.config = config or ProgressionConfig()
        self.tables = dict(tables)
        for mode in MODES:
            key = f"{POOLED}/{mode}"
            if key not in self.tables:
                pooled = ProgressionTable()
                for name, table in sorted(self.tables.items()):
                    if name.endswith(f"/{mode}"):
                        pooled.merge(table)
                self.tables[key] = pooled
        self._vocab = {name: t.vocabulary for name, t in self.tables.items()}

    @property
    def styles(self) -> tuple[str, ...]:
        return tuple(sorted({name.split("/")[0] for name in self.tables} - {POOLED}))

    def table_name(self, style: str, mode: str) -> str:
        if mode not in MODES:
            raise InvalidArgumentError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        name = f"{style}/{mode}"
        return name if self.tables.get(name, ProgressionTable()).unigram else f"{POOLED}/{mode}"

    def vocabulary(self, style: str, mode: str) -> tuple[str, ...]:
        return self._vocab[self.table_name(style, mode)]

    def probabilities(
        self, style: str, mode: str, history: Sequence[str] = (), position: str = "body"
    ) -> dict[str, float]:
        """P(next bar's chord) over the table's chords and :data:`UNSEEN`, the mass left
        for a chord the table never saw (the values sum to 1)."""
        name = self.table_name(style, mode)
        vector = self._vector(name, tuple(history[-2:]), position)
        out = dict(zip(self._vocab[name], vector[:-1].tolist(), strict=True))
        out[UNSEEN] = float(vector[-1])
        return out

    def _vector(self, name: str, history: tuple[str, ...], position: str) -> np.ndarray:
        if position not in POSITIONS:
            raise InvalidArgumentError(f"position {position!r} is not one of {', '.join(POSITIONS)}")
        table, vocab, k = self.tables[name], self._vocab[name], self.config.k
        if position == "start" or not history:
            return _add_k(table.start, vocab, k)
        w3, w2, w1 = self.config.weights
        parts = [(w1, _add_k(table.unigram, vocab, k))]
        previous = history[-1]
        if table.bigram.get(previous):
            parts.append((w2, _add_k(table.bigram[previous], vocab, k)))
        if len(history) == 2 and table.trigram.get(" ".join(history)):
            parts.append((w3, _add_k(table.trigram[" ".join(history)], vocab, k)))
        weights = np.array([w for w, _ in parts])
        if weights.sum() <= 0:  # only orders weighted 0 were seen: the unigram decides
            weights[0] = 1.0
        body = weights @ np.stack([p for _, p in parts]) / weights.sum()
        if position == "body":
            return body
        cadence_all: Counts = {}
        for counts in table.cadence.values():
            for chord, n in counts.items():
                _bump(cadence_all, chord, n)
        cadence = _add_k(cadence_all, vocab, k)
        if table.cadence.get(previous):
            cadence = 0.5 * cadence + 0.5 * _add_k(table.cadence[previous], vocab, k)
        c = self.config.cadence_weight
        return c * cadence + (1 - c) * body

    def log_likelihood(self, style: str, mode: str, chords: Sequence[str], ends: Collection[int] = ()) -> float:
        """ln P of a run of bar chords (nats): the first from the start counts, bars in
        ``ends`` as a section's last bar, the others in the body of a section."""
        name = self.table_name(style, mode)
        index = {c: i for i, c in enumerate(self._vocab[name])}
        total = 0.0
        for i, chord in enumerate(chords):
            position = "start" if i == 0 else "cadence" if i in ends else "body"
            vector = self._vector(name, tuple(chords[max(0, i - 2) : i]), position)
            total += math.log(float(vector[index.get(chord, len(index))]))
        return total

    def sample(
        self,
        style: str,
        mode: str,
        bars: int,
        rng: np.random.Generator,
        *,
        history: Sequence[str] = (),
        allowed: Mapping[int, Collection[str]] | None = None,
        ends: Collection[int] | None = None,
    ) -> list[str]:
        """``bars`` chords following ``history`` (none: the piece starts here).

        ``allowed`` restricts bar i to a set of chords; a bar before a restricted one is
        drawn in proportion to P(chord) × P(next bar lands in its set), so the run walks
        into the restriction instead of jumping (a V before a required I). A set that the
        table never saw is met with its first chord. The bars in ``ends`` (default: the last)
        are drawn as the last bar of a section or phrase.
        """
        name = self.table_name(style, mode)
        vocab = self._vocab[name]
        if not vocab:
            raise InvalidArgumentError(f"the chord progression model has no chords for {style} in {mode}")
        allowed = allowed or {}
        ends = {bars - 1} if ends is None else set(ends)
        out = list(history)
        for i in range(bars):
            position = "start" if not out else "cadence" if i in ends else "body"
            p = self._vector(name, tuple(out[-2:]), position)[:-1].copy()
            p *= _mask(vocab, allowed.get(i))
            if i + 1 in allowed and p.sum() > 0:
                after = "cadence" if i + 1 in ends else "body"
                reach = _mask(vocab, allowed[i + 1])
                for j in np.flatnonzero(p):
                    p[j] *= float(self._vector(name, (*out[-1:], vocab[j]), after)[:-1] @ reach) + 1e-12
            if p.sum() <= 0:  # a restriction the table never saw
                out.append(sorted(allowed[i])[0])
                continue
            out.append(vocab[int(rng.choice(len(vocab), p=p / p.sum()))])
        return out[len(history) :]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PROGRESSIONS_VERSION,
            "config": asdict(self.config),
            "tables": {
                name: self.tables[name].to_dict() for name in sorted(self.tables) if not name.startswith(POOLED)
            },
        }

    @classmethod
    def from_dict(cls, data: object) -> ProgressionModel:
        if not isinstance(data, dict) or data.get("version") != PROGRESSIONS_VERSION:
            raise InvalidArgumentError(f"not a chord progression model of version {PROGRESSIONS_VERSION}")
        config = data.get("config", {})
        tables = data.get("tables")
        if not isinstance(config, dict) or not isinstance(tables, dict):
            raise InvalidArgumentError("a chord progression model needs a config object and a tables object")
        try:
            parsed = ProgressionConfig(**{**config, "weights": tuple(config.get("weights", ProgressionConfig.weights))})
        except TypeError as error:
            raise InvalidArgumentError(f"progression config: {error}") from None
        for name in tables:
            style, sep, mode = str(name).partition("/")
            if not sep or not style or mode not in MODES:
                raise InvalidArgumentError(f"table {str(name)[:40]!r} is not STYLE/MODE (maj or min)")
        return cls({name: ProgressionTable.from_dict(t, f"tables[{name!r}]") for name, t in tables.items()}, parsed)

    def save(self, path: str | Path) -> None:
        write_json(Path(path), self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> ProgressionModel:
        """A fitted model from its JSON file; InputFileError names the file when it is not one."""
        data = read_json(Path(path), "chord progression model")
        try:
            return cls.from_dict(data)
        except InvalidArgumentError as error:
            raise InputFileError(error.reason, path) from None

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def _add_k(counts: Counts, vocab: Sequence[str], k: float) -> np.ndarray:
    """(V + 1,) add-k estimate over ``vocab`` and the unseen slot."""
    n = np.array([counts.get(c, 0) for c in vocab] + [0], dtype=np.float64) + k
    return n / n.sum()


def _mask(vocab: Sequence[str], allowed: Collection[str] | None) -> np.ndarray:
    if allowed is None:
        return np.ones(len(vocab))
    return np.array([c in allowed for c in vocab], dtype=np.float64)


@cache
def default_progressions() -> ProgressionModel:
    """The model shipped in the package (fitted on POP909 and the JSB chorales)."""
    return ProgressionModel.load(SHIPPED)
