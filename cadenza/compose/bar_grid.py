"""The bar grid that the rule-based layers (percussion, pad) are written on.

A cue's plan comes down, bar by bar, to what these layers need to know: where the bar
lies in ticks (``cadenza.compose.arrange.TPQ`` per quarter), its meter, the plan's
intensity there, its chord and key, and whether it opens or closes a section. The
layers read nothing else, so they can be written beside the model's tracks (or alone,
for a stem) without the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cadenza.errors import InvalidArgumentError
from cadenza.theory import MODES

__all__ = ["GridBar", "check_bars"]


@dataclass(frozen=True)
class GridBar:
    """One bar of the cue, as the rule-based layers see it."""

    start: int  # tick of the bar's first beat
    ticks: int  # length of the bar in ticks (a cue's last bar may be cut short)
    numerator: int  # the meter, e.g. 4, 4 / 6, 8 / 3, 4
    denominator: int
    intensity: float  # 0..1, the plan's intensity of this bar
    chord: str | None  # Harte label ("A:min", "G:7", "N" or None)
    tonic: int  # key of the bar: pitch class 0..11
    mode: str  # "maj" | "min"
    section_start: bool  # first bar of a section (a crash; a fill in the bar before)
    section_end: bool  # last bar of a section (a fill into the next)

    @property
    def end(self) -> int:
        return self.start + self.ticks

    @property
    def meter(self) -> str:
        return f"{self.numerator}/{self.denominator}"


def check_bars(bars: Sequence[GridBar]) -> None:
    """Refuse a grid the layers cannot be written on: bars that are empty, overlap or
    leave a gap (a pad must sound through every bar), or whose intensity, key or mode is
    out of range. Raises :class:`InvalidArgumentError` naming the first bad bar."""
    previous_end: int | None = None
    for index, bar in enumerate(bars):
        where = f"bar {index} (tick {bar.start})"
        if bar.ticks <= 0 or bar.start < 0:
            raise InvalidArgumentError(f"{where}: a bar must start at a tick >= 0 and last at least one tick")
        if previous_end is not None and bar.start != previous_end:
            raise InvalidArgumentError(f"{where}: bars must follow each other (the previous ends at {previous_end})")
        if not 0.0 <= bar.intensity <= 1.0:
            raise InvalidArgumentError(f"{where}: intensity {bar.intensity!r} is not within 0..1")
        if not 0 <= bar.tonic <= 11 or bar.mode not in MODES:
            raise InvalidArgumentError(
                f"{where}: key {bar.tonic!r} {bar.mode!r} is not a pitch class 0..11 and maj|min"
            )
        previous_end = bar.end
