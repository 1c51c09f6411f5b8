"""A cue: what a scene needs, resolved to exact times before any note is written.

A cue sheet (``cadenza soundtrack CUE.yaml``, or what a prompt reads as,
:meth:`cadenza.compose.prompt.PromptReading.cue_dict`) names sections with their own
length, key, tempo, mood and intensity, hit points at given seconds, the layers to
write and whether the cue loops. :func:`read_cue` checks every field (an error names
it: ``cue.sections[1].seconds``) and resolves the rest:

* **Lengths**: a section lasts the seconds it asks for (or its bars at its tempo); at
  most one section leaves its length out and takes what the cue's ``seconds`` leaves.
  A section holds whole bars: its tempo is stretched (at most
  :data:`MAX_TEMPO_STRETCH`) so that they fill it exactly, and the cue lasts exactly
  the seconds asked for.
* **Hit points** land on the grid, exactly at their second: on a beat (an accent or a
  stinger) or on a bar line (a cadence), the tempo between two fixed points (section
  starts, hits, the end) set so that the beat falls there. Film composers place hits
  the same way, by the tempo.
* **Intensity**, one value per bar (0 quiet .. 1 full): a number, a list, a ramp
  ``{from, to}`` or a curve word (:data:`CURVES`); by default a level from the mood.
* **Layers** (:data:`LAYERS`, or the cue's ``layers`` in the order given) enter one
  after another as the intensity passes :data:`ENTRY_LEVELS`: a quiet bar has the
  first alone (the pad), a full one all five. Each pitched
  layer plays one of the instruments asked for, the one that suits it best
  (:data:`SUITS`), or the style's own (:data:`STYLE_LAYERS`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cadenza.compose.conditions import (
    _MOOD_DEFAULTS,
    INSTRUMENTS,
    MAX_BARS,
    SECONDS_RANGE,
    TEMPO_RANGE,
    check_style,
    check_tempo,
    choice,
    parse_meter,
)
from cadenza.compose.fields import list_of, number_of, object_of, optional, string_of
from cadenza.data.labels import MOODS
from cadenza.errors import InvalidArgumentError
from cadenza.theory import key_label, parse_key

__all__ = [
    "CURVES",
    "ENTRY_LEVELS",
    "HIT_KINDS",
    "LAYERS",
    "Cue",
    "CueSection",
    "Hit",
    "Layer",
    "TempoMark",
    "curve",
    "mood_of",
    "read_cue",
]

LAYERS = ("pad", "melody", "bass", "rhythm", "percussion")  # in the order they enter
ENTRY_LEVELS = (0.0, 0.2, 0.35, 0.5, 0.65)  # the first layer plays from intensity 0, the second from 0.2 ...
MOOD_POINTS = {"calm": (0.5, -0.5), "happy": (0.5, 0.5), "sad": (-0.5, -0.5), "tense": (-0.5, 0.5)}
HIT_KINDS = ("accent", "stinger", "cadence")
CURVES = ("steady", "builds", "fades", "swells", "drops")
DRUMS = "drums"
MAX_TEMPO_STRETCH = 0.25  # a section's or a stretch's tempo may move this far from the one asked for
MAX_HITS = 256
MAX_SECTIONS = 100  # each is planned on its own (a form, chords): 1,000 one-bar sections took minutes
MAX_TEXT = 200  # characters of a title or a hit's name
DEFAULT_SECONDS = 60.0
# Instruments by how well they suit each pitched layer, best first.
SUITS = {
    "pad": ("strings", "pad", "choir", "organ", "viola", "cello", "horn", "brass", "electric-piano", "harp", "piano"),
    "melody": ("violin", "flute", "trumpet", "oboe", "clarinet", "saxophone", "horn", "brass", "electric-guitar",
               "piano", "electric-piano", "celesta", "vibraphone", "marimba", "guitar", "choir", "strings", "viola",
               "harp", "harpsichord", "organ", "trombone", "cello", "pad"),
    "bass": ("bass", "contrabass", "cello", "trombone", "piano", "strings", "brass", "horn", "organ", "harp",
             "guitar", "electric-piano", "harpsichord", "marimba", "viola", "pad"),
    "rhythm": ("piano", "guitar", "electric-piano", "harp", "marimba", "harpsichord", "vibraphone",
               "electric-guitar", "strings", "organ", "celesta", "brass", "horn", "viola", "pad", "choir"),
}  # fmt: skip
STYLE_LAYERS = {
    "pop": {"pad": "pad", "melody": "piano", "bass": "bass", "rhythm": "guitar"},
    "classical": {"pad": "strings", "melody": "flute", "bass": "contrabass", "rhythm": "harp"},
    "folk": {"pad": "strings", "melody": "flute", "bass": "contrabass", "rhythm": "guitar"},
    "early": {"pad": "organ", "melody": "oboe", "bass": "cello", "rhythm": "harpsichord"},
    "chorale": {"pad": "organ", "melody": "oboe", "bass": "cello", "rhythm": "strings"},
}
_MOOD_LEVEL = {"calm": 0.35, "sad": 0.35, "happy": 0.6, "tense": 0.75}
_TOP = {"version", "title", "seconds", "style", "key", "tempo", "meter", "mood", "valence", "arousal",
        "instruments", "exclude_instruments", "layers", "loop", "stems", "intensity", "sections", "hits"}  # fmt: skip
_SECTION = {"name", "seconds", "bars", "key", "tempo", "mood", "valence", "arousal", "intensity"}


@dataclass(frozen=True)
class Hit:
    """Something that happens exactly at ``seconds``: an accent, a stinger or a cadence."""

    seconds: float
    kind: str = "accent"
    name: str = ""


@dataclass(frozen=True)
class Layer:
    name: str  # one of LAYERS
    instrument: str  # a name of INSTRUMENTS, or "drums"
    enters_at: float  # the intensity from which it plays


@dataclass(frozen=True)
class CueSection:
    name: str
    start: float  # seconds from the start of the cue
    seconds: float
    bars: int
    key: str  # a key label, "D:min"
    tempo: float  # the tempo asked for (the grid's may be stretched, see Cue.tempo_map)
    mood: str | None
    intensity: tuple[float, ...]  # one per bar

    @property
    def end(self) -> float:
        return self.start + self.seconds


@dataclass(frozen=True)
class TempoMark:
    """From ``quarter`` (quarters from the start) on, the grid runs at ``qpm``; ``seconds`` is when that is."""

    quarter: float
    seconds: float
    qpm: float


@dataclass(frozen=True)
class Cue:
    title: str
    style: str
    meter: str
    sections: tuple[CueSection, ...]
    layers: tuple[Layer, ...]
    hits: tuple[Hit, ...]
    hit_quarters: tuple[float, ...]  # where each hit lands, in quarters from the start
    tempo_map: tuple[TempoMark, ...]
    loop: bool = False
    stems: bool = False

    @property
    def seconds(self) -> float:
        return self.sections[-1].end

    @property
    def bars(self) -> int:
        return sum(s.bars for s in self.sections)

    @property
    def bar_quarters(self) -> float:
        numerator, denominator = parse_meter(self.meter)
        return numerator * 4 / denominator

    @property
    def intensity(self) -> list[float]:
        return [v for s in self.sections for v in s.intensity]

    def seconds_at(self, quarter: float) -> float:
        """When the grid reaches ``quarter`` (quarters from the start)."""
        mark = next(m for m in reversed(self.tempo_map) if m.quarter <= quarter + 1e-9)
        return mark.seconds + (quarter - mark.quarter) * 60 / mark.qpm

    def layer(self, name: str) -> Layer | None:
        return next((layer for layer in self.layers if layer.name == name), None)


def mood_of(valence: float | None, arousal: float | None) -> str | None:
    """The mood of a point of the valence-arousal plane: its quadrant."""
    if valence is None and arousal is None:
        return None
    bright, lively = (valence or 0) >= 0, (arousal or 0) >= 0
    return {(True, False): "calm", (True, True): "happy", (False, False): "sad", (False, True): "tense"}[
        (bright, lively)
    ]


def curve(word: str, bars: int, level: float = 0.5) -> list[float]:
    """One intensity per bar for a curve word of :data:`CURVES` (``level``: a steady one's)."""
    choice(word, CURVES, "intensity curve")
    position = [j / (bars - 1) if bars > 1 else 1.0 for j in range(bars)]
    shapes = {
        "steady": lambda x: level,
        "builds": lambda x: 0.2 + 0.8 * x,
        "fades": lambda x: 0.85 - 0.75 * x,
        "swells": lambda x: 0.3 + 0.65 * math.sin(math.pi * x),
        "drops": lambda x: 0.9 if x < 0.6 else 0.3,
    }
    return [round(float(shapes[word](x)), 3) for x in position]


@dataclass(frozen=True)
class _Asked:
    """What one section asks for, before lengths and the grid are resolved."""

    name: str
    seconds: float | None
    bars: int | None
    key: str
    tempo: float
    mood: str | None
    intensity: object  # as written (None: the cue's)
    level: float  # a steady level from its mood


def _unit(value: float, where: str, low: float = 0.0) -> float:
    if not low <= value <= 1:
        raise InvalidArgumentError(f"{where}: {value:g} is outside {low:g}..1")
    return value


def _feel(obj: dict[str, Any], where: str, inherited: tuple[str | None, float | None, float | None]) -> tuple:
    """(mood, valence, arousal) of a section or the cue: its own, else what it inherits."""
    valence = optional(obj.get("valence"), f"{where}.valence", number_of)
    arousal = optional(obj.get("arousal"), f"{where}.arousal", number_of)
    for value, name in ((valence, "valence"), (arousal, "arousal")):
        if value is not None:
            _unit(value, f"{where}.{name}", -1.0)
    mood = optional(obj.get("mood"), f"{where}.mood", string_of)
    if mood is not None:
        mood = _field(lambda: choice(mood, MOODS, "mood"), f"{where}.mood")
    elif valence is not None or arousal is not None:
        # one of the two given: the other is the inherited one (or its mood's)
        old_mood, old_valence, old_arousal = inherited
        point = MOOD_POINTS.get(old_mood or "", (None, None))
        valence = valence if valence is not None else old_valence if old_valence is not None else point[0]
        arousal = arousal if arousal is not None else old_arousal if old_arousal is not None else point[1]
        mood = mood_of(valence, arousal)
    else:
        return inherited
    return mood, valence, arousal


def _field(read: Any, where: str) -> Any:
    try:
        return read()
    except InvalidArgumentError as error:
        raise InvalidArgumentError(f"{where}: {error.reason}") from None


def _tempo_of(obj: dict[str, Any], where: str, mood: str | None, arousal: float | None, default: float) -> float:
    tempo = optional(obj.get("tempo"), f"{where}.tempo", number_of)
    if tempo is not None:
        return float(_field(lambda: check_tempo(tempo), f"{where}.tempo"))
    if "mood" in obj or "valence" in obj or "arousal" in obj:  # its own feel: its own tempo
        if arousal is not None:
            return round(70 + 60 * (arousal + 1) / 2)
        if mood is not None:
            return _MOOD_DEFAULTS[mood][1]
    return default


def _key_of(obj: dict[str, Any], where: str, mood: str | None, valence: float | None, default: str | None) -> str:
    key = optional(obj.get("key"), f"{where}.key", string_of)
    if key is not None:
        return str(_field(lambda: key_label(*parse_key(key)), f"{where}.key"))
    if default is not None:
        return default
    minor = (valence is not None and valence < 0) or (mood is not None and _MOOD_DEFAULTS[mood][0] == "min")
    return "A:min" if minor else "C:maj"


def _level(mood: str | None, arousal: float | None) -> float:
    if arousal is not None:
        return round(0.5 + 0.35 * arousal, 3)
    return _MOOD_LEVEL.get(mood or "", 0.5)


def read_cue(data: object, where: str = "cue") -> Cue:
    """The cue a cue sheet describes (see the module docstring); InvalidArgumentError names
    the field that is wrong and what is accepted."""
    top = object_of(data, where, _TOP)
    version = top.get("version", 1)
    if isinstance(version, bool) or version != 1:
        raise InvalidArgumentError(
            f"{where}.version: {str(version)[:40]!r} is not known; this cadenza reads version 1 (a number)"
        )
    title = _text(top.get("title", "cue"), f"{where}.title")
    style = _field(lambda: check_style(string_of(top.get("style", "pop"), f"{where}.style")), f"{where}.style")
    meter = string_of(top.get("meter", "4/4"), f"{where}.meter")
    _field(lambda: parse_meter(meter), f"{where}.meter")
    mood, valence, arousal = _feel(top, where, (None, None, None))
    tempo = _tempo_of(top, where, mood, arousal, 100.0) if "tempo" in top else _default_tempo(mood, arousal)
    key = _key_of(top, where, mood, valence, None)
    total = optional(top.get("seconds"), f"{where}.seconds", number_of)
    if total is not None and not SECONDS_RANGE[0] <= total <= SECONDS_RANGE[1]:
        raise InvalidArgumentError(f"{where}.seconds: {total:g} is outside {SECONDS_RANGE[0]:g}..{SECONDS_RANGE[1]:g}")
    raw_sections = list_of(top.get("sections", [{"name": "main"}]), f"{where}.sections")
    if not raw_sections or len(raw_sections) > MAX_SECTIONS:
        raise InvalidArgumentError(f"{where}.sections: {len(raw_sections)} sections; a cue has 1..{MAX_SECTIONS}")
    explicit = (tempo if "tempo" in top else None, key if "key" in top else None)
    asked = [
        _section(item, f"{where}.sections[{i}]", (mood, valence, arousal), tempo, key, explicit)
        for i, item in enumerate(raw_sections)
    ]
    names = [a.name for a in asked]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise InvalidArgumentError(f"{where}.sections: two sections are named {twice[:60]!r}")
    sections = _lengths(asked, total, meter, where)
    sections = _intensities(sections, asked, top.get("intensity"), where)
    hits = tuple(_hit(item, f"{where}.hits[{i}]") for i, item in enumerate(_hits_list(top, where)))
    tempo_map, hit_quarters = _grid(sections, hits, meter, where)
    layers = _layers(top, style, where)
    loop = _flag(top, "loop", where)
    stems = _flag(top, "stems", where)
    return Cue(title, style, meter, tuple(sections), layers, hits, hit_quarters, tempo_map, loop, stems)


def _default_tempo(mood: str | None, arousal: float | None) -> float:
    if arousal is not None:
        return float(round(70 + 60 * (arousal + 1) / 2))
    return _MOOD_DEFAULTS[mood][1] if mood else 100.0


def _text(value: object, where: str) -> str:
    text = string_of(value, where)
    if len(text) > MAX_TEXT:
        raise InvalidArgumentError(f"{where}: {len(text)} characters, more than {MAX_TEXT}")
    return text


def _flag(top: dict[str, Any], name: str, where: str) -> bool:
    value = top.get(name, False)
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{where}.{name}: expected true or false, got {str(value)[:40]!r}")
    return value


def _section(
    data: object, where: str, feel: tuple, tempo: float, key: str, explicit: tuple[float | None, str | None]
) -> _Asked:
    """One section; its tempo and key are its own, else the cue's when the cue states them,
    else those of its own mood, else the cue's."""
    explicit_tempo, explicit_key = explicit
    obj = object_of(data, where, _SECTION)
    name = string_of(obj.get("name"), f"{where}.name").strip()
    if not name or len(name) > 100:
        raise InvalidArgumentError(f"{where}.name: a section needs a name of 1..100 characters")
    mood, valence, arousal = _feel(obj, where, feel)
    seconds = optional(obj.get("seconds"), f"{where}.seconds", number_of)
    bars = obj.get("bars")
    if bars is not None and (isinstance(bars, bool) or not isinstance(bars, int) or not 1 <= bars <= MAX_BARS):
        raise InvalidArgumentError(f"{where}.bars: expected a whole number 1..{MAX_BARS}, got {str(bars)[:40]!r}")
    if seconds is not None and bars is not None:
        raise InvalidArgumentError(f"{where}: give seconds or bars, not both")
    if seconds is not None and seconds <= 0:
        raise InvalidArgumentError(f"{where}.seconds: {seconds:g} is not a length")
    own_tempo = _tempo_of(obj if "tempo" in obj or explicit_tempo is None else {}, where, mood, arousal, tempo)
    if "key" in obj or explicit_key is not None:
        own_key = _key_of(obj, where, mood, valence, explicit_key)
    elif any(name in obj for name in ("mood", "valence", "arousal")):  # its own feel: its own mode
        own_key = _key_of(obj, where, mood, valence, None)
    else:
        own_key = key
    return _Asked(name, seconds, bars, own_key, own_tempo, mood, obj.get("intensity"), _level(mood, arousal))


def _bar_seconds(meter: str, tempo: float) -> float:
    numerator, denominator = parse_meter(meter)
    return numerator * 4 / denominator * 60 / tempo


def _lengths(asked: list[_Asked], total: float | None, meter: str, where: str) -> list[CueSection]:
    """Each section's exact seconds and whole bars (see the module docstring)."""
    given = [a.seconds if a.bars is None else a.bars * _bar_seconds(meter, a.tempo) for a in asked]
    missing = [i for i, s in enumerate(given) if s is None]
    if len(missing) > 1:
        raise InvalidArgumentError(
            f"{where}.sections: {asked[missing[0]].name[:60]!r} and {asked[missing[1]].name[:60]!r} have no length; "
            "at most one section may take the rest"
        )
    known = sum(s for s in given if s is not None)
    if total is None:
        if missing and len(asked) > 1:
            raise InvalidArgumentError(
                f"{where}.sections: {asked[missing[0]].name[:60]!r} has no length and the cue gives no seconds"
            )
        total = known if not missing else DEFAULT_SECONDS
    if missing:
        rest = total - known
        if rest < -1e-6:
            raise InvalidArgumentError(
                f"{where}.sections: those with a length take {known:.3f} s, more than the cue's {total:g} s"
            )
        if rest <= 1e-6:
            raise InvalidArgumentError(
                f"{where}.sections: the others take {known:.3f} s of the cue's {total:g} s; "
                f"nothing is left for {asked[missing[0]].name[:60]!r}"
            )
        given[missing[0]] = rest
    elif abs(known - total) > 1e-6:
        raise InvalidArgumentError(
            f"{where}.sections: they last {known:.3f} s but the cue is {total:g} s "
            "(leave one section's length out to take the rest)"
        )
    sections, start = [], 0.0
    for index, (a, seconds) in enumerate(zip(asked, given, strict=True)):
        assert seconds is not None
        bar = _bar_seconds(meter, a.tempo)
        bars = a.bars if a.bars is not None else _whole_bars(seconds, bar, a.tempo)
        if bars is None:
            low, high = TEMPO_RANGE
            near = sorted({max(1, math.floor(seconds / bar)), max(1, math.ceil(seconds / bar))})
            tempi = " or ".join(f"{n} bar{'s' * (n != 1)} at {n * bar * a.tempo / seconds:.0f} bpm" for n in near)
            raise InvalidArgumentError(
                f"{where}.sections[{index}]: {seconds:.3f} s does not hold whole bars of {meter} near {a.tempo:g} bpm "
                f"({tempi}: more than {MAX_TEMPO_STRETCH:.0%} away, or outside {low:g}..{high:g}); "
                "give it bars, another length or another tempo"
            )
        sections.append(CueSection(a.name, start, seconds, bars, a.key, a.tempo, a.mood, ()))
        start += seconds
    if sum(s.bars for s in sections) > MAX_BARS:
        raise InvalidArgumentError(f"{where}: {sum(s.bars for s in sections)} bars, more than {MAX_BARS}")
    low, high = SECONDS_RANGE
    if not low <= start <= high:
        raise InvalidArgumentError(f"{where}.sections: they last {start:.3f} s in all; a cue lasts {low:g}..{high:g} s")
    return sections


def _whole_bars(seconds: float, bar: float, tempo: float) -> int | None:
    """The whole number of bars nearest to filling ``seconds`` whose fitted tempo stays
    within :data:`MAX_TEMPO_STRETCH` of ``tempo`` and inside :data:`TEMPO_RANGE`; None if none does."""
    fits = []
    for bars in {max(1, math.floor(seconds / bar)), max(1, math.ceil(seconds / bar))}:
        fitted = bars * bar * tempo / seconds
        if abs(fitted / tempo - 1) <= MAX_TEMPO_STRETCH and TEMPO_RANGE[0] <= fitted <= TEMPO_RANGE[1]:
            fits.append((abs(fitted / tempo - 1), bars))
    return min(fits)[1] if fits else None


def _intensity(spec: object, bars: int, level: float, where: str) -> list[float]:
    if spec is None:
        return [level] * bars
    if isinstance(spec, str):
        return _field(lambda: curve(spec, bars, level), where)
    if isinstance(spec, list):
        if len(spec) != bars:
            raise InvalidArgumentError(f"{where}: {len(spec)} values for {bars} bars")
        return [_unit(number_of(v, f"{where}[{i}]"), f"{where}[{i}]") for i, v in enumerate(spec)]
    if isinstance(spec, dict):
        ramp = object_of(spec, where, {"from", "to"})
        low = _unit(number_of(ramp.get("from"), f"{where}.from"), f"{where}.from")
        high = _unit(number_of(ramp.get("to"), f"{where}.to"), f"{where}.to")
        return [round(low + (high - low) * (j / (bars - 1) if bars > 1 else 1.0), 3) for j in range(bars)]
    return [_unit(number_of(spec, where), where)] * bars


def _intensities(sections: list[CueSection], asked: list[_Asked], top: object, where: str) -> list[CueSection]:
    total = sum(s.bars for s in sections)
    whole = None if top is None else _intensity(top, total, 0.5, f"{where}.intensity")
    out, bar = [], 0
    for index, (section, a) in enumerate(zip(sections, asked, strict=True)):
        if a.intensity is not None or whole is None:
            values = _intensity(a.intensity, section.bars, a.level, f"{where}.sections[{index}].intensity")
        else:
            values = whole[bar : bar + section.bars]
        out.append(CueSection(**{**section.__dict__, "intensity": tuple(values)}))
        bar += section.bars
    return out


def _hits_list(top: dict[str, Any], where: str) -> list[Any]:
    hits = list_of(top.get("hits", []), f"{where}.hits")
    if len(hits) > MAX_HITS:
        raise InvalidArgumentError(f"{where}.hits: {len(hits)} hit points, more than {MAX_HITS}")
    return hits


def _hit(data: object, where: str) -> Hit:
    obj = object_of(data, where, {"at", "kind", "name"})
    at = number_of(obj.get("at"), f"{where}.at")
    kind = string_of(obj.get("kind", "accent"), f"{where}.kind")
    _field(lambda: choice(kind, HIT_KINDS, "hit kind"), f"{where}.kind")
    return Hit(at, kind, _text(obj.get("name", ""), f"{where}.name"))


def _pulse(meter: str) -> float:
    """The beat in quarters: a dotted quarter in 6/8, 9/8, 12/8 and 3/8, else the denominator's note."""
    numerator, denominator = parse_meter(meter)
    return 1.5 if denominator == 8 and numerator % 3 == 0 else 4 / denominator


def _grid(
    sections: Sequence[CueSection], hits: Sequence[Hit], meter: str, where: str
) -> tuple[tuple[TempoMark, ...], tuple[float, ...]]:
    """The tempo map that puts every section start, every hit and the end exactly at its
    second, and each hit's place on the grid."""
    bar_q = parse_meter(meter)[0] * 4 / parse_meter(meter)[1]
    end = sections[-1].end
    anchors: list[tuple[float, float, str]] = []  # (quarter, seconds, what)
    hit_quarters: list[float] = []
    quarter = 0.0
    for section in sections:
        anchors.append((quarter, section.start, f"section {section.name[:60]!r}"))
        quarter += section.bars * bar_q
    anchors.append((quarter, end, "the end"))
    for index, hit in enumerate(hits):
        if not 0 <= hit.seconds < end:
            raise InvalidArgumentError(
                f"{where}.hits[{index}].at: {hit.seconds:g} s is outside the cue (0 s up to its end, {end:g} s)"
            )
        section_index = next(i for i, s in enumerate(sections) if s.start <= hit.seconds < s.end)
        section = sections[section_index]
        first = sum(s.bars for s in sections[:section_index]) * bar_q
        unit = bar_q if hit.kind == "cadence" else _pulse(meter)
        span = section.bars * bar_q
        place = round((hit.seconds - section.start) / section.seconds * span / unit) * unit
        hit_quarters.append(first + place)
        anchors.append((first + place, hit.seconds, f"{where}.hits[{index}] ({hit.seconds:g} s)"))
    anchors.sort()
    marks: list[TempoMark] = []
    for (q0, t0, what0), (q1, t1, what1) in itertools.pairwise(anchors):
        if abs(q1 - q0) < 1e-9 and abs(t1 - t0) < 1e-9:
            continue
        section = next(s for s in reversed(sections) if s.start <= t0 + 1e-9)
        if not (t1 > t0 and q1 > q0):  # two fixed points on one beat, or in the wrong order on the grid
            raise InvalidArgumentError(
                f"{what1 if what1.startswith(where) else what0}: lands on the same beat as "
                f"{what0 if what1.startswith(where) else what1}; move it at least a beat away"
            )
        qpm = (q1 - q0) * 60 / (t1 - t0)
        if not (abs(qpm / section.tempo - 1) <= MAX_TEMPO_STRETCH and TEMPO_RANGE[0] <= qpm <= TEMPO_RANGE[1]):
            culprit = what1 if what1.startswith(where) else what0
            raise InvalidArgumentError(
                f"{culprit}: cannot land exactly on the grid: between {t0:g} s and {t1:g} s it would run at "
                f"{qpm:.0f} bpm, more than {MAX_TEMPO_STRETCH:.0%} from the {section.tempo:g} bpm asked for; "
                "move the hit point, or change the section's length or tempo"
            )
        if not marks or abs(marks[-1].qpm - qpm) > 1e-6:
            marks.append(TempoMark(q0, t0, qpm))
    return tuple(marks), tuple(hit_quarters)


def _names(top: dict[str, Any], field: str, accepted: tuple[str, ...] | list[str], what: str, where: str) -> list[str]:
    """A list of names from ``accepted`` (an error names the entry that is not one)."""
    names = []
    for i, value in enumerate(list_of(top.get(field, []), f"{where}.{field}")):
        at = f"{where}.{field}[{i}]"
        names.append(_field(lambda value=value, at=at: choice(string_of(value, at), accepted, what), at))
    return names


def _layers(top: dict[str, Any], style: str, where: str) -> tuple[Layer, ...]:
    known = [*INSTRUMENTS, DRUMS]
    asked = _names(top, "instruments", known, "instrument", where)
    excluded = _names(top, "exclude_instruments", known, "instrument", where)
    both = sorted(set(asked) & set(excluded))
    if both:
        raise InvalidArgumentError(f"{where}: {both[0]!r} is both asked for and excluded")
    wanted = _names(top, "layers", LAYERS, "layer", where) if "layers" in top else list(LAYERS)
    if not wanted:
        raise InvalidArgumentError(f"{where}.layers: a cue needs at least one layer")
    if len(set(wanted)) != len(wanted):
        raise InvalidArgumentError(f"{where}.layers: a layer is named twice")
    pitched = [n for n in asked if n != DRUMS]
    chosen: list[tuple[str, str]] = []
    for name in wanted:
        if name == "percussion":
            if DRUMS in excluded or (asked and DRUMS not in asked and "layers" not in top):
                continue
            chosen.append((name, DRUMS))
            continue
        if asked and not pitched and "layers" not in top:
            continue  # the drums alone were asked for
        if pitched:
            instrument = min(pitched, key=lambda n: SUITS[name].index(n) if n in SUITS[name] else len(SUITS[name]))
        else:
            default = STYLE_LAYERS[style][name]
            found = next((n for n in (default, *SUITS[name]) if n not in excluded), None)
            if found is None:
                raise InvalidArgumentError(
                    f"{where}.exclude_instruments: every instrument for the {name} layer is excluded"
                )
            instrument = found
        chosen.append((name, instrument))
    if not chosen:
        raise InvalidArgumentError(f"{where}: no layer is left to play (drums were excluded and are the only one)")
    return tuple(
        Layer(name, instrument, level) for (name, instrument), level in zip(chosen, ENTRY_LEVELS, strict=False)
    )
