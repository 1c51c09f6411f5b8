"""What the user asks for, checked and completed into something a model can follow.

:class:`Conditions` is what a user may say (all optional); :func:`resolve` fills the
gaps (a mood implies a mode and a tempo), refuses what is unknown or contradictory with
the list of what is accepted, and turns a length in seconds into whole bars plus a
held final chord.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from cadenza.data.labels import MOODS
from cadenza.data.tokens import STYLES
from cadenza.errors import InvalidArgumentError
from cadenza.theory import key_label, parse_key

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


MAX_BARS = 1000
SECONDS_RANGE = (2.0, 1800.0)
TEMPO_RANGE = (30.0, 240.0)


def choice(value: str, accepted: tuple[str, ...] | list[str], what: str) -> str:
    """``value`` if it is one of ``accepted``; else InvalidArgumentError listing them."""
    if value not in accepted:
        raise InvalidArgumentError(f"unknown {what} {str(value)[:60]!r}; accepted: {', '.join(accepted)}")
    return value


def check_style(style: str) -> str:
    if style == "other":  # the label of a folder built without --style: not a style one can ask for
        raise InvalidArgumentError(
            "style 'other' labels the pieces of a folder built without --style; a model trained on them "
            "composes them when no --style is given (accepted: " + ", ".join(s for s in STYLES if s != "other") + ")"
        )
    return choice(style, [s for s in STYLES if s != "other"], "style")


def check_tempo(tempo: float) -> float:
    """A tempo in quarter notes per minute, within :data:`TEMPO_RANGE`."""
    low, high = TEMPO_RANGE
    if not low <= tempo <= high:  # also refuses nan
        raise InvalidArgumentError(f"tempo {tempo:g} bpm is outside {low:g}..{high:g}")
    return float(tempo)


def parse_meter(meter: str) -> tuple[int, int]:
    """``"6/8"`` -> (6, 8), for the meters in :data:`METERS`."""
    numerator, denominator = choice(meter, METERS, "meter").split("/")
    return int(numerator), int(denominator)


def instruments_of(names: tuple[str, ...] | list[str]) -> tuple[Instrument, ...]:
    """Up to four instruments by name (case and spaces ignored); none means piano."""
    chosen = tuple(INSTRUMENTS[choice(n.strip().lower(), list(INSTRUMENTS), "instrument")] for n in names or ("piano",))
    if len(chosen) > 4:
        raise InvalidArgumentError("at most 4 instruments: a lead, an accompaniment, a bass and a doubling")
    return chosen


def _seconds(value: float) -> str:
    return f"{round(value, 3):g} s"


def bars_for_seconds(seconds: float, tempo: float, meter: str) -> tuple[int, float]:
    """Whole bars and the quarters the final chord is held beyond them, so that the piece
    lasts exactly ``seconds`` (to within half a tick: 2.1 ms at 30 bpm).

    A length shorter than one bar, or longer than :data:`MAX_BARS` bars, cannot be met:
    InvalidArgumentError names the nearest length that can, and the tempo that would
    give the length asked for. The length is never silently changed.
    """
    low, high = SECONDS_RANGE
    if not low <= seconds <= high:
        raise InvalidArgumentError(f"--seconds {seconds:g} is outside {low:g}..{high:g}")
    numerator, denominator = parse_meter(meter)
    bar_quarters = numerator * 4 / denominator
    bar_seconds = bar_quarters * 60 / tempo
    bars = math.floor(seconds / bar_seconds + 1e-9)
    if bars < 1:
        needed = math.ceil(bar_quarters * 60 / seconds * 100) / 100  # the tempo at which one bar fits
        faster = f", or --tempo {needed:g} or faster for {_seconds(seconds)}" if needed <= TEMPO_RANGE[1] else ""
        raise InvalidArgumentError(
            f"--seconds {seconds:g} is shorter than one bar of {meter} at {tempo:g} bpm; "
            f"the nearest length that can be met is {_seconds(bar_seconds)} (one bar){faster}"
        )
    if bars > MAX_BARS:
        slower = math.floor(MAX_BARS * bar_quarters * 60 / seconds * 100) / 100
        raise InvalidArgumentError(
            f"--seconds {seconds:g} at {tempo:g} bpm in {meter} needs {bars} bars, more than {MAX_BARS}; "
            f"the nearest length that can be met is {_seconds(MAX_BARS * bar_seconds)}, "
            f"or --tempo {slower:g} or slower for {_seconds(seconds)}"
        )
    return bars, max(0.0, seconds * tempo / 60 - bars * bar_quarters)


def resolve(conditions: Conditions, default_style: str = "pop") -> Resolved:
    """Check and complete conditions; raises InvalidArgumentError naming what is accepted."""
    c = conditions
    style = check_style(c.style) if c.style else default_style
    mood = choice(c.mood, MOODS, "mood") if c.mood else None
    mode, tempo, loudness = _MOOD_DEFAULTS[mood] if mood else ("maj", 100.0, 0.9)
    if c.key:
        tonic, mode = parse_key(c.key)
    else:
        tonic = 0 if mode == "maj" else 9  # C major or A minor
    if c.tempo is not None:
        tempo = check_tempo(c.tempo)
    meter = c.meter or "4/4"
    numerator, denominator = parse_meter(meter)
    if c.bars is not None and c.seconds is not None:
        raise InvalidArgumentError("give either --bars or --seconds, not both")
    tail = 0.0
    if c.seconds is not None:
        bars, tail = bars_for_seconds(c.seconds, tempo, meter)
    else:
        bars = 16 if c.bars is None else c.bars
        if not 1 <= bars <= MAX_BARS:
            raise InvalidArgumentError(f"--bars {bars} is outside 1..{MAX_BARS}")
    instruments = instruments_of(c.instruments)
    return Resolved(style, mood, tonic, mode, tempo, numerator, denominator, bars, tail, instruments, loudness)
