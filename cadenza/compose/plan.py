"""A plan: what a piece will be, section by section and bar by bar, before any note is written.

A :class:`Plan` is a list of :class:`Section` s, each with its own length, key, tempo,
meter, mood and intensity (0 quiet and sparse .. 1 full), and what it repeats; each
section may say, bar by bar, the chord, intensity and density it wants
(:class:`BarControl`; ``None`` leaves that to the generator). Today's flat
:class:`~cadenza.compose.conditions.Conditions` resolve to a one-section plan
(:meth:`Plan.from_conditions`), and each section gives back the flat
:class:`~cadenza.compose.conditions.Resolved` that the generator takes
(:meth:`Plan.resolved`), so the two agree exactly. Every value is checked when a plan
is made, with the same checks as the conditions, and an error names the section (and
bar) and what is accepted.

Its JSON form (:meth:`Plan.to_dict` / :meth:`Plan.from_dict`)::

    {"version": 1, "style": "pop", "instruments": ["piano"], "tail_quarters": 0.0,
     "sections": [{"name": "A", "bars": 8, "key": "D:min", "tempo": 100.0, "meter": "4/4",
                   "mood": "sad", "intensity": 0.333333, "repeat_of": null,
                   "controls": [{"chord": "D:min", "intensity": 0.4, "density": null}, ...]}]}
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from os import PathLike
from typing import Any

from cadenza.compose.conditions import (
    MAX_BARS,
    Conditions,
    Resolved,
    check_style,
    check_tempo,
    choice,
    instruments_of,
    parse_meter,
    resolve,
)
from cadenza.compose.fields import list_of, number_of, object_of, optional, string_of
from cadenza.data.labels import MOODS
from cadenza.errors import InputFileError, InvalidArgumentError
from cadenza.jsonfile import parse_json, read_json
from cadenza.theory import key_label, parse_chord, parse_key

__all__ = ["PLAN_VERSION", "BarControl", "Section", "Plan", "loudness_of", "intensity_of"]

PLAN_VERSION = 1
MAX_PLAN_JSON_BYTES = 4_000_000


def loudness_of(intensity: float) -> float:
    """The velocity scale today's arrangement applies: intensity 0 -> 0.5, 1 -> 1.1."""
    return round(0.5 + 0.6 * intensity, 6)


def intensity_of(loudness: float) -> float:
    """The inverse of :func:`loudness_of` (to six decimals, which loudness_of undoes exactly)."""
    return round((loudness - 0.5) / 0.6, 6)


def _unit(value: float | None, what: str) -> None:
    if value is not None and not 0 <= value <= 1:  # also refuses nan
        raise InvalidArgumentError(f"{what} {value!r} is outside 0..1")


@dataclass(frozen=True)
class BarControl:
    """What one bar asks for; ``None`` leaves it to the generator.

    ``chord`` is a Harte label as the analysis writes it (``"A:min"``, ``"G:7/3"``,
    ``"N"`` for none); ``intensity`` (0 quiet .. 1 full) and ``density`` (0 sparse .. 1 busy)
    are in 0..1.
    """

    chord: str | None = None
    intensity: float | None = None
    density: float | None = None

    def __post_init__(self) -> None:
        if self.chord is not None:
            parse_chord(self.chord)
        _unit(self.intensity, "intensity")
        _unit(self.density, "density")


@dataclass(frozen=True)
class Section:
    """A stretch of the piece in one key, tempo and meter.

    ``key`` may be given in any spelling :func:`cadenza.theory.parse_key` reads and is kept
    as its label (``"d minor"`` -> ``"D:min"``). ``controls`` is empty or one
    :class:`BarControl` per bar. ``repeat_of`` names an earlier section whose music this
    one plays again (in its own key, tempo and intensity); where its bar controls differ
    from that section's (another chord: the planner's A′), it is a variation, and those
    bars are written afresh.
    """

    name: str
    bars: int
    key: str
    tempo: float
    meter: str
    mood: str | None = None
    intensity: float = 0.5
    repeat_of: str | None = None
    controls: tuple[BarControl, ...] = ()

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidArgumentError("a section needs a name")
        try:
            if not 1 <= self.bars <= MAX_BARS:
                raise InvalidArgumentError(f"bars {self.bars} is outside 1..{MAX_BARS}")
            object.__setattr__(self, "key", key_label(*parse_key(self.key)))
            object.__setattr__(self, "tempo", check_tempo(self.tempo))
            parse_meter(self.meter)
            if self.mood is not None:
                choice(self.mood, MOODS, "mood")
            _unit(self.intensity, "intensity")
            if self.controls and len(self.controls) != self.bars:
                raise InvalidArgumentError(f"{len(self.controls)} bar controls for {self.bars} bars")
        except InvalidArgumentError as error:
            raise InvalidArgumentError(f"section {self.name[:60]!r}: {error.reason}") from None

    @property
    def tonic(self) -> int:
        return parse_key(self.key)[0]

    @property
    def mode(self) -> str:
        return parse_key(self.key)[1]

    @property
    def bar_quarters(self) -> float:
        numerator, denominator = parse_meter(self.meter)
        return numerator * 4 / denominator

    @property
    def seconds(self) -> float:
        return self.bars * self.bar_quarters * 60 / self.tempo


@dataclass(frozen=True)
class Plan:
    """The sections of a piece in order, its style and instruments, and how long the final
    chord is held past the last bar (``tail_quarters``, so a length in seconds is met)."""

    sections: tuple[Section, ...]
    style: str
    instruments: tuple[str, ...] = ("piano",)
    tail_quarters: float = 0.0

    def __post_init__(self) -> None:
        if not self.sections:
            raise InvalidArgumentError("a plan needs at least one section")
        check_style(self.style)
        object.__setattr__(self, "instruments", tuple(i.name for i in instruments_of(self.instruments)))
        if self.bars > MAX_BARS:  # first: what follows takes time with the number of sections
            raise InvalidArgumentError(f"the plan has {self.bars} bars, more than {MAX_BARS}")
        names: dict[str, Section] = {}
        for section in self.sections:
            if section.name in names:
                raise InvalidArgumentError(f"two sections are named {section.name[:60]!r}")
            if section.repeat_of is not None:
                self._check_repeat(section, names)
            names[section.name] = section
        last = self.sections[-1]
        if not 0 <= self.tail_quarters < last.bar_quarters:  # also refuses nan
            raise InvalidArgumentError(
                f"tail_quarters {self.tail_quarters!r} is outside 0..{last.bar_quarters:g} (one bar of {last.meter})"
            )

    def _check_repeat(self, section: Section, earlier: dict[str, Section]) -> None:
        original = earlier.get(section.repeat_of or "")
        if original is None:
            names = ", ".join(earlier)
            raise InvalidArgumentError(
                f"section {section.name[:60]!r} repeats {str(section.repeat_of)[:60]!r}, which is not an earlier "
                f"section; earlier: {names[:300] or 'none'}"
            )
        if (original.bars, original.meter) != (section.bars, section.meter):
            raise InvalidArgumentError(
                f"section {section.name[:60]!r} repeats {original.name[:60]!r} but has {section.bars} bars of "
                f"{section.meter} where {original.name[:60]!r} has {original.bars} bars of {original.meter}"
            )

    @property
    def bars(self) -> int:
        return sum(s.bars for s in self.sections)

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.sections) + self.tail_quarters * 60 / self.sections[-1].tempo

    @classmethod
    def from_conditions(cls, conditions: Conditions, default_style: str = "pop") -> Plan:
        """Today's flat conditions as a one-section plan (checked as :func:`resolve` checks them)."""
        return cls.from_resolved(resolve(conditions, default_style))

    @classmethod
    def from_resolved(cls, resolved: Resolved) -> Plan:
        section = Section(
            name="A",
            bars=resolved.bars,
            key=resolved.key,
            tempo=resolved.tempo,
            meter=resolved.meter,
            mood=resolved.mood,
            intensity=intensity_of(resolved.loudness),
        )
        instruments = tuple(i.name for i in resolved.instruments)
        return cls((section,), resolved.style, instruments, resolved.tail_quarters)

    def conditions(self) -> Conditions:
        """The flat conditions closest to this plan: its style and instruments, its first
        section's key, tempo, meter and mood, and its bars in all (what a family that
        does not follow plans composes; its sections, chords and repeats are lost)."""
        first = self.sections[0]
        return Conditions(
            style=self.style,
            mood=first.mood,
            key=first.key,
            tempo=first.tempo,
            meter=first.meter,
            bars=self.bars,
            instruments=self.instruments,
        )

    def resolved(self, index: int = 0) -> Resolved:
        """Section ``index`` as the flat conditions today's generator takes; the tail is
        the last section's. ``Plan.from_conditions(c).resolved() == resolve(c)``."""
        position = range(len(self.sections))[index]  # IndexError past either end
        section = self.sections[position]
        numerator, denominator = parse_meter(section.meter)
        tail = self.tail_quarters if position == len(self.sections) - 1 else 0.0
        return Resolved(
            self.style,
            section.mood,
            section.tonic,
            section.mode,
            section.tempo,
            numerator,
            denominator,
            section.bars,
            tail,
            instruments_of(self.instruments),
            loudness_of(section.intensity),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PLAN_VERSION,
            "style": self.style,
            "instruments": list(self.instruments),
            "tail_quarters": self.tail_quarters,
            "sections": [_section_dict(s) for s in self.sections],
        }

    @classmethod
    def from_dict(cls, data: object) -> Plan:
        """A plan from its JSON form; InvalidArgumentError names the field that is wrong."""
        where = "plan"
        obj = object_of(data, where, {"version", "style", "instruments", "tail_quarters", "sections"})
        version = obj.get("version", PLAN_VERSION)
        if isinstance(version, bool) or version != PLAN_VERSION:
            shown = repr(version)[:40]
            raise InvalidArgumentError(f"plan version {shown} is not known; this cadenza reads {PLAN_VERSION}")
        sections = list_of(obj.get("sections"), f"{where}.sections")
        if len(sections) > MAX_BARS:  # refused before each is built and checked
            raise InvalidArgumentError(
                f"{where}.sections: {len(sections)} sections, more than {MAX_BARS} (the most bars a plan may have)"
            )
        instruments = list_of(obj.get("instruments", ["piano"]), f"{where}.instruments")
        return cls(
            sections=_sections(sections, f"{where}.sections"),
            style=string_of(obj.get("style"), f"{where}.style"),
            instruments=tuple(string_of(n, f"{where}.instruments[{i}]") for i, n in enumerate(instruments)),
            tail_quarters=number_of(obj.get("tail_quarters", 0.0), f"{where}.tail_quarters"),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes, path: str | PathLike[str] | None = None) -> Plan:
        """A plan from JSON text; with ``path``, errors are InputFileError naming that file."""
        try:
            if len(text) > MAX_PLAN_JSON_BYTES:
                raise InvalidArgumentError(f"a plan of {len(text)} bytes is larger than {MAX_PLAN_JSON_BYTES}")
            try:
                data = parse_json(text)
            except ValueError as error:
                raise InvalidArgumentError(f"not a plan: {error}") from None
            return cls.from_dict(data)
        except InvalidArgumentError as error:
            if path is None:
                raise
            raise InputFileError(error.reason, path) from None

    @classmethod
    def read(cls, path: str | PathLike[str]) -> Plan:
        """The plan in a JSON file; InputFileError naming the file when it is not one."""
        data = read_json(path, max_bytes=MAX_PLAN_JSON_BYTES)
        try:
            return cls.from_dict(data)
        except InvalidArgumentError as error:
            raise InputFileError(error.reason, path) from None


def _section_dict(section: Section) -> dict[str, Any]:
    data = {f.name: getattr(section, f.name) for f in fields(Section)}
    data["controls"] = [{f.name: getattr(c, f.name) for f in fields(BarControl)} for c in section.controls]
    return data


def _sections(data: list[Any], where: str) -> tuple[Section, ...]:
    """The sections, refused as soon as they pass MAX_BARS in all (before the rest are built)."""
    built: list[Section] = []
    total = 0
    for i, item in enumerate(data):
        built.append(_section(item, f"{where}[{i}]"))
        total += built[-1].bars
        if total > MAX_BARS:
            raise InvalidArgumentError(f"{where}[{i}]: the plan reaches {total} bars here, more than {MAX_BARS}")
    return tuple(built)


def _section(data: object, where: str) -> Section:
    obj = object_of(data, where, {f.name for f in fields(Section)})
    bars = obj.get("bars")
    if isinstance(bars, bool) or not isinstance(bars, int):
        raise InvalidArgumentError(f"{where}.bars: expected a whole number, got {bars!r}"[:300])
    controls = list_of(obj.get("controls", []), f"{where}.controls")
    if len(controls) > max(bars, 0):  # refused before each is built
        raise InvalidArgumentError(f"{where}.controls: {len(controls)} bar controls for {bars} bars")
    return Section(
        name=string_of(obj.get("name"), f"{where}.name"),
        bars=bars,
        key=string_of(obj.get("key"), f"{where}.key"),
        tempo=number_of(obj.get("tempo"), f"{where}.tempo"),
        meter=string_of(obj.get("meter"), f"{where}.meter"),
        mood=optional(obj.get("mood"), f"{where}.mood", string_of),
        intensity=number_of(obj.get("intensity", 0.5), f"{where}.intensity"),
        repeat_of=optional(obj.get("repeat_of"), f"{where}.repeat_of", string_of),
        controls=tuple(_control(c, f"{where}.controls[{i}]") for i, c in enumerate(controls)),
    )


def _control(data: object, where: str) -> BarControl:
    obj = object_of(data, where, {f.name for f in fields(BarControl)})
    try:
        return BarControl(
            chord=optional(obj.get("chord"), f"{where}.chord", string_of),
            intensity=optional(obj.get("intensity"), f"{where}.intensity", number_of),
            density=optional(obj.get("density"), f"{where}.density", number_of),
        )
    except InvalidArgumentError as error:
        if error.reason.startswith(where):
            raise
        raise InvalidArgumentError(f"{where}: {error.reason}") from None
