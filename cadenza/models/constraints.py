"""Constraints on decoding: small filters that say which next tokens are allowed.

Each constraint looks at the :class:`DecodingState` (where the music stands: which bar,
which position, what came last) and returns a boolean mask over the vocabulary; the
sampler keeps only the tokens every constraint allows. The :class:`Grammar` alone
guarantees a well-formed REMI sequence, and always leaves at least one token open, so
decoding never fails. They work on any model's distribution, Markov or neural.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np

from cadenza.models.vocabulary import POSITIONS_PER_BEAT, Vocabulary

__all__ = [
    "DecodingState",
    "Constraint",
    "Grammar",
    "Meter",
    "FixedTempo",
    "PitchClasses",
    "PitchRange",
    "Programs",
    "ExactBars",
    "Cadence",
    "Continuity",
    "fixed_mask",
]


@dataclass
class DecodingState:
    """Where a REMI sequence stands after the tokens seen so far."""

    vocab: Vocabulary
    bars: int = 0  # Bar tokens seen; the current bar is number ``bars`` (1-based)
    position: int = -1  # position in the current bar, -1 before the first
    positions_per_bar: int = 4 * POSITIONS_PER_BEAT
    last_kind: str = "BOS"
    program: int = 0
    ended: bool = False
    notes: int = 0
    notes_at_position: int = 0
    sounding_until: int = 0  # where the longest note so far ends, in positions from the piece's start
    history: list[int] = field(default_factory=list)

    @property
    def bar_start(self) -> int:
        """The current bar's first position, counted from the piece's start."""
        return (self.bars - 1) * self.positions_per_bar

    def advance(self, token: int) -> None:
        kind = self.vocab.kinds[token]
        value = self.vocab.values[token]
        if kind == "Bar":
            self.bars += 1
            self.position = -1
        elif kind == "TimeSig":
            numerator = self.vocab.names[token].split("_", 1)[1].split("/")[0]
            self.positions_per_bar = int(numerator) * POSITIONS_PER_BEAT
        elif kind == "Position":
            self.position = int(value)
            self.notes_at_position = 0
        elif kind == "Program":
            self.program = int(value)
        elif kind in ("Pitch", "PitchDrum"):
            self.notes += 1
            self.notes_at_position += 1
        elif kind == "Duration":
            end = self.bar_start + max(self.position, 0) + round(value * POSITIONS_PER_BEAT)
            self.sounding_until = max(self.sounding_until, end)
        elif kind == "EOS":
            self.ended = True
        self.last_kind = kind
        self.history.append(token)


class Constraint(Protocol):
    def allowed(self, state: DecodingState) -> np.ndarray: ...


def fixed_mask(constraint: Constraint) -> np.ndarray | None:
    """The mask of a constraint that allows the same tokens whatever the state (a meter,
    a tempo, a range), or None: the decoding loop combines those once, not at every token."""
    mask = getattr(constraint, "mask", None)
    return mask if getattr(constraint, "fixed", False) else None


def _mask(vocab: Vocabulary, kinds: Iterable[str]) -> np.ndarray:
    mask = np.zeros(len(vocab), dtype=bool)
    for kind in kinds:
        mask |= vocab.of_kind(kind)
    return mask


class Grammar:
    """Only well-formed REMI successions: Bar TimeSig (Position [Tempo] (Program Pitch
    Velocity Duration)+)* ... EOS, with positions rising inside a bar."""

    _NEXT: ClassVar[dict[str, tuple[str, ...]]] = {
        "Bar": ("TimeSig",),
        "TimeSig": ("Position", "Bar", "EOS"),
        "Position": ("Tempo", "Program"),
        "Tempo": ("Program",),
        "Pitch": ("Velocity",),
        "PitchDrum": ("Velocity",),
        "Velocity": ("Duration",),
        "Duration": ("Program", "Position", "Bar", "EOS"),
    }

    MAX_NOTES_AT_ONCE = 10

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self._program = vocab.of_kind("Program")
        self._after = {kind: _mask(vocab, nxt) for kind, nxt in self._NEXT.items()}
        self._start = _mask(vocab, ("Bar",))
        self._pitch = _mask(vocab, ("Pitch",))
        self._drum = _mask(vocab, ("PitchDrum",))
        self._positions = vocab.of_kind("Position")

    def allowed(self, state: DecodingState) -> np.ndarray:
        if state.last_kind == "Program":
            return self._drum if state.program == -1 else self._pitch
        mask = self._after.get(state.last_kind, self._start).copy()
        if state.last_kind == "Duration" and state.notes_at_position >= self.MAX_NOTES_AT_ONCE:
            mask &= ~self._program
        if mask[self._positions].any():
            values = self.vocab.values
            mask &= ~self._positions | ((values > state.position) & (values < state.positions_per_bar))
        return mask


class Meter:
    """Every bar in one time signature, e.g. ``Meter(vocab, "3/4")``."""

    fixed = True

    def __init__(self, vocab: Vocabulary, meter: str) -> None:
        token = vocab.time_signature(meter)
        if token is None:
            raise ValueError(f"time signature {meter} is not in the vocabulary")
        self.mask = ~vocab.of_kind("TimeSig")
        self.mask[token] = True

    def allowed(self, state: DecodingState) -> np.ndarray:
        return self.mask


class FixedTempo:
    """No tempo token but the one nearest the requested tempo."""

    fixed = True

    def __init__(self, vocab: Vocabulary, bpm: float) -> None:
        self.mask = ~vocab.of_kind("Tempo")
        self.mask[vocab.nearest_tempo(bpm)] = True

    def allowed(self, state: DecodingState) -> np.ndarray:
        return self.mask


class PitchClasses:
    """Pitched notes only from a set of pitch classes (a scale, a chord)."""

    def __init__(self, vocab: Vocabulary, classes: Iterable[int], bars: Sequence[int] | None = None) -> None:
        pitches = vocab.of_kind("Pitch")
        in_set = np.isin(np.nan_to_num(vocab.values).astype(int) % 12, list(classes))
        self.mask = ~pitches | in_set
        self.bars = None if bars is None else set(bars)
        self.fixed = bars is None

    def allowed(self, state: DecodingState) -> np.ndarray:
        if self.bars is not None and state.bars not in self.bars:
            return np.ones_like(self.mask)
        return self.mask


class PitchRange:
    fixed = True

    def __init__(self, vocab: Vocabulary, low: int, high: int) -> None:
        pitches = vocab.of_kind("Pitch")
        values = np.nan_to_num(vocab.values)
        self.mask = ~pitches | ((values >= low) & (values <= high))

    def allowed(self, state: DecodingState) -> np.ndarray:
        return self.mask


class Programs:
    """Only these General MIDI programs (-1 for drums)."""

    fixed = True

    def __init__(self, vocab: Vocabulary, programs: Iterable[int]) -> None:
        self.mask = ~vocab.of_kind("Program")
        for program in programs:
            token = vocab.program(program)
            if token is not None:
                self.mask[token] = True

    def allowed(self, state: DecodingState) -> np.ndarray:
        return self.mask


class ExactBars:
    """Exactly ``bars`` bars, and no note sounding past the end of the last one."""

    def __init__(self, vocab: Vocabulary, bars: int) -> None:
        self.vocab = vocab
        self.bars = bars
        self._bar = vocab.of_kind("Bar")
        self._eos = vocab.of_kind("EOS")
        self._durations = vocab.of_kind("Duration")
        self._values = np.nan_to_num(vocab.values)

    def allowed(self, state: DecodingState) -> np.ndarray:
        mask = np.ones(len(self.vocab), dtype=bool)
        if state.bars >= self.bars:
            mask &= ~self._bar
        else:
            mask &= ~self._eos
        if state.last_kind == "Velocity":
            # positions and durations count beats of the time signature's denominator
            bars_left = self.bars - state.bars
            room = (bars_left * state.positions_per_bar + state.positions_per_bar - state.position) / POSITIONS_PER_BEAT
            too_long = self._durations & (self._values > room + 1e-9)
            if (self._durations & ~too_long).any():
                mask &= ~too_long
        return mask


class Cadence:
    """A dominant in the next-to-last bar and the tonic chord in the last: the piece
    closes instead of stopping."""

    def __init__(self, vocab: Vocabulary, tonic: int, minor: bool, last_bar: int) -> None:
        third = 3 if minor else 4
        tonic_chord = {tonic % 12, (tonic + third) % 12, (tonic + 7) % 12}
        dominant = {(tonic + 7) % 12, (tonic + 11) % 12, (tonic + 2) % 12, (tonic + 5) % 12}
        self.final = PitchClasses(vocab, tonic_chord, bars=[last_bar])
        self.before = PitchClasses(vocab, dominant, bars=[last_bar - 1]) if last_bar > 1 else None

    def allowed(self, state: DecodingState) -> np.ndarray:
        mask = self.final.allowed(state)
        return mask & self.before.allowed(state) if self.before is not None else mask


class Continuity:
    """No silence longer than ``max_gap_beats``: the next onset comes at most that long
    after the last note ends, and a bar closes only once its music reaches near its end.

    A short-context model cannot see the time signature or how far into the bar it is;
    without this it ends bars early and leaves holes that no style in the corpus has.
    """

    def __init__(self, vocab: Vocabulary, max_gap_beats: float = 1.0) -> None:
        self.vocab = vocab
        self.gap = round(max_gap_beats * POSITIONS_PER_BEAT)
        self._values = np.nan_to_num(vocab.values, nan=-1)
        self._positions = vocab.of_kind("Position")
        self._bar = vocab.of_kind("Bar")
        self._eos = vocab.of_kind("EOS")

    def allowed(self, state: DecodingState) -> np.ndarray:
        mask = np.ones(len(self.vocab), dtype=bool)
        if state.bars == 0 or state.last_kind not in ("Duration", "TimeSig", "Tempo"):
            return mask
        reach = state.sounding_until - state.bar_start  # relative to this bar's start
        latest_onset = reach + self.gap
        mask &= ~self._positions | (self._values <= latest_onset)
        if reach < state.positions_per_bar - self.gap:
            open_positions = mask & self._positions & (self.vocab.values > state.position)
            open_positions &= self.vocab.values < state.positions_per_bar
            if open_positions.any():
                mask &= ~(self._bar | self._eos)
        return mask
