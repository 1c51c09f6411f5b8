"""What the user asks for, checked and completed into something a model can follow.

:class:`Conditions` is what a user may say (all optional); :func:`resolve` fills the
gaps (a mood implies a mode and a tempo), refuses what is unknown or contradictory with
the list of what is accepted, and turns a length in seconds into whole bars plus a
held final chord.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from cadenza.data.labels import MOODS, key_label, parse_key
from cadenza.data.tokens import STYLES
from cadenza.errors import InvalidArgumentError

__all__ = ["Conditions", "Resolved", "Instrument", "INSTRUMENTS", "METERS", "resolve"]

METERS = ("4/4", "3/4", "2/4", "6/8", "12/8", "3/8", "5/4", "6/4")


@dataclass(frozen=True)
class Instrument:
    name: str
    program: int
    low: int  # lowest and highest MIDI pitch it plays well
    high: int


INSTRUMENTS = {
    i.name: i
    for i in (
        Instrument("piano", 0, 21, 108),
        Instrument("electric-piano", 4, 28, 103),
        Instrument("harpsichord", 6, 29, 89),
        Instrument("celesta", 8, 60, 108),
        Instrument("vibraphone", 11, 53, 89),
        Instrument("marimba", 12, 45, 96),
        Instrument("organ", 19, 36, 96),
        Instrument("guitar", 24, 40, 84),
        Instrument("electric-guitar", 27, 40, 86),
        Instrument("bass", 33, 28, 67),
        Instrument("violin", 40, 55, 103),
        Instrument("viola", 41, 48, 91),
        Instrument("cello", 42, 36, 76),
        Instrument("contrabass", 43, 28, 67),
        Instrument("harp", 46, 24, 103),
        Instrument("strings", 48, 28, 103),
        Instrument("choir", 52, 40, 81),
        Instrument("trumpet", 56, 54, 86),
        Instrument("trombone", 57, 40, 77),
        Instrument("horn", 60, 34, 77),
        Instrument("brass", 61, 34, 86),
        Instrument("saxophone", 65, 49, 81),
        Instrument("oboe", 68, 58, 91),
        Instrument("clarinet", 71, 50, 94),
        Instrument("flute", 73, 60, 96),
        Instrument("pad", 88, 36, 96),
    )
}

# mood -> (mode, tempo in bpm, loudness scale)
_MOOD_DEFAULTS = {
    "calm": ("maj", 72.0, 0.75),
    "happy": ("maj", 120.0, 1.0),
    "sad": ("min", 66.0, 0.7),
    "tense": ("min", 140.0, 1.1),
}


@dataclass(frozen=True)
class Conditions:
    style: str | None = None
    mood: str | None = None
    key: str | None = None  # "D minor", "F#:min", "Bb"
    tempo: float | None = None  # quarter notes per minute
    meter: str | None = None  # "3/4"
    bars: int | None = None
    seconds: float | None = None
    instruments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resolved:
    style: str
    mood: str | None
    tonic: int  # pitch class
    mode: str  # "maj" | "min"
    tempo: float
    numerator: int
    denominator: int
    bars: int  # whole bars the model writes
    tail_quarters: float  # the final chord is held this much longer (for --seconds)
    instruments: tuple[Instrument, ...]
    loudness: float

    @property
    def key(self) -> str:
        return key_label(self.tonic, self.mode)

    @property
    def meter(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    @property
    def bar_quarters(self) -> float:
        return self.numerator * 4 / self.denominator

    @property
    def total_quarters(self) -> float:
        return self.bars * self.bar_quarters + self.tail_quarters

    @property
    def seconds(self) -> float:
        return self.total_quarters * 60 / self.tempo

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["instruments"] = [i.name for i in self.instruments]
        data.update(key=self.key, meter=self.meter, seconds=round(self.seconds, 3))
        return data


def _choice(value: str, accepted: tuple[str, ...] | list[str], what: str) -> str:
    if value not in accepted:
        raise InvalidArgumentError(f"unknown {what} {value!r}; accepted: {', '.join(accepted)}")
    return value


def resolve(conditions: Conditions, default_style: str = "pop") -> Resolved:
    """Check and complete conditions; raises InvalidArgumentError naming what is accepted."""
    c = conditions
    style = _choice(c.style, [s for s in STYLES if s != "other"], "style") if c.style else default_style
    mood = _choice(c.mood, MOODS, "mood") if c.mood else None
    mode, tempo, loudness = _MOOD_DEFAULTS[mood] if mood else ("maj", 100.0, 0.9)
    if c.key:
        tonic, mode = parse_key(c.key)
    else:
        tonic = 0 if mode == "maj" else 9  # C major or A minor
    if c.tempo is not None:
        if not 30 <= c.tempo <= 240:
            raise InvalidArgumentError(f"tempo {c.tempo:g} bpm is outside 30..240")
        tempo = float(c.tempo)
    numerator, denominator = (int(x) for x in _choice(c.meter or "4/4", METERS, "meter").split("/"))
    bar_quarters = numerator * 4 / denominator
    if c.bars is not None and c.seconds is not None:
        raise InvalidArgumentError("give either --bars or --seconds, not both")
    tail = 0.0
    if c.seconds is not None:
        if not 2 <= c.seconds <= 1800:
            raise InvalidArgumentError(f"--seconds {c.seconds:g} is outside 2..1800")
        quarters = c.seconds * tempo / 60
        bars = max(1, math.floor(quarters / bar_quarters + 1e-9))
        tail = max(0.0, quarters - bars * bar_quarters)
    else:
        bars = 16 if c.bars is None else c.bars
        if not 1 <= bars <= 1000:
            raise InvalidArgumentError(f"--bars {bars} is outside 1..1000")
    names = c.instruments or ("piano",)
    instruments = tuple(INSTRUMENTS[_choice(n.strip().lower(), list(INSTRUMENTS), "instrument")] for n in names)
    if len(instruments) > 4:
        raise InvalidArgumentError("at most 4 instruments: a lead, an accompaniment, a bass and a doubling")
    return Resolved(style, mood, tonic, mode, tempo, numerator, denominator, bars, tail, instruments, loudness)
