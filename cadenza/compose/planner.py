"""The planner: the user's conditions -> a :class:`~cadenza.compose.plan.Plan` with a form,
a chord and an intensity for every bar.

**Form** (:func:`form`), from the length in bars: under 12 bars one section (A); under
24, two halves (A A′); from 24 bars, phrases of 4 bars (8 bars from 32 on) in a pattern
of verses and choruses (4 phrases: A A′ B A′, so 32 bars are A A′ B A″), with an intro
of 4 bars from 48 bars on; bars left over after the last whole phrase close the piece as
an outro. A varied section names its original in ``repeat_of``, a plain repeat the
section it copies; the bars where its chords differ from that section's are the ones to
write afresh (the piece's final cadence may make a repeat into such a variation).

**Chords** (:func:`make_plan`), from a :class:`~cadenza.models.progression.ProgressionModel`
in the section's key, style and mode: a new section draws its chords, continuing from the
bars before it, with a cadence every 4 bars in a section of 8 or more (the piece opens on
a chord of the tonic; a B or C section opens away from the tonic and ends on a dominant, to
lead back); a varied section (A′) copies its original and changes the cadence (to V -> I
when the original did not end so) or else one bar; a plain repeat copies the latest
version of its letter. The piece ends on a full cadence: a chord of dominant function
then the tonic.

**Intensity** per bar (0..1): the conditions' level (from the mood) shaped by the
section — lower in an intro and a verse, higher in a chorus, growing with each return,
rising across a section and into a louder one, falling over the last two bars — with a
wider arc for a tense or happy mood than for a calm or sad one.

The same conditions, model and seed give the same plan. :func:`load_plan` reads a plan
file (JSON, or YAML when PyYAML is installed) for ``--plan FILE``.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from cadenza.compose.conditions import Conditions, Resolved, resolve
from cadenza.compose.plan import MAX_PLAN_JSON_BYTES, BarControl, Plan, Section, intensity_of
from cadenza.errors import InputFileError, InvalidArgumentError
from cadenza.io.documents import DOCUMENT_SUFFIXES, read_document
from cadenza.models.progression import (
    DOMINANTS,
    ProgressionModel,
    absolute_chord,
    default_progressions,
    relative_chord,
    tonic_chord,
)
from cadenza.theory import key_label

__all__ = ["Part", "form", "make_plan", "bar_sources", "load_plan", "PLAN_SUFFIXES"]

PLAN_SUFFIXES = DOCUMENT_SUFFIXES
INTRO_FROM_BARS = 48
PHRASE_BARS = 4  # a section of 8 bars or more closes a phrase every 4 bars
_LEVEL = {"Intro": -0.15, "A": -0.08, "B": 0.12, "C": 0.02, "Outro": -0.1}  # offset from the mood's level
_RETURN_STEP = 0.03  # each return of a letter is a little fuller
_ARC = {"calm": 0.6, "sad": 0.7, "happy": 1.0, "tense": 1.2}
_PATTERNS = {
    1: "A",
    2: "A A~",
    3: "A B A~",
    4: "A A~ B A",
    5: "A A~ B B~ A",
    6: "A A~ B B~ A B",
    7: "A A~ B B~ C B B",
}


@dataclass(frozen=True)
class Part:
    """A section of the form: its letter (or ``Intro``/``Outro``), its length, and how it
    relates to the earlier ones of its letter: ``"new"``, ``"vary"`` or ``"same"``."""

    letter: str
    bars: int
    copies: str = "new"


def _pattern(phrases: int) -> list[str]:
    if phrases in _PATTERNS:
        return _PATTERNS[phrases].split()
    head, extra = ["A", "A~", "B", "B~", "A", "B"], phrases - 8
    middle = ["A", "B"] * (extra // 2)
    return [*head, *middle, "C", "B", *(["B"] if extra % 2 else [])]


def form(bars: int) -> list[Part]:
    """The sections of a piece of ``bars`` bars (see the module docstring)."""
    if bars < 1:
        raise InvalidArgumentError(f"a piece needs at least one bar, got {bars}")
    if bars < 12:
        return [Part("A", bars)]
    parts: list[Part] = []
    rest = bars
    if bars >= INTRO_FROM_BARS:
        parts.append(Part("Intro", 4))
        rest -= 4
    phrase = rest // 2 if bars < 24 else 8 if bars >= 32 else 4
    seen: set[str] = set()
    for token in _pattern(rest // phrase):
        letter = token.rstrip("~")
        copies = "new" if letter not in seen else "vary" if token.endswith("~") else "same"
        seen.add(letter)
        parts.append(Part(letter, phrase, copies))
    if rest % phrase:
        parts.append(Part("Outro", rest % phrase))
    return parts


def _names(parts: Sequence[Part]) -> list[str]:
    """A, A', A'', A4, A5 ... B ... (an Intro and an Outro as they are)."""
    count: dict[str, int] = {}
    names = []
    for part in parts:
        n = count.get(part.letter, 0)
        count[part.letter] = n + 1
        names.append(part.letter + "'" * n if n < 3 else f"{part.letter}{n + 1}")
    return names


class _Chords:
    """Draws the chords of the sections in order, in one key, style and mode."""

    def __init__(self, model: ProgressionModel, style: str, mode: str, rng: np.random.Generator) -> None:
        self.model, self.style, self.mode, self.rng = model, style, mode, rng
        self.tonic = tonic_chord(mode)
        self.vocabulary = set(model.vocabulary(style, mode))
        other_third = ("0:maj", "0:maj7", "0:7") if mode == "min" else ("0:min", "0:min7")
        self.home = {c for c in self.vocabulary if c.startswith("0:") and c not in other_third} | {self.tonic}

    def draw(
        self, bars: int, history: Sequence[str], allowed: dict[int, set[str]], ends: Collection[int] | None = None
    ) -> list[str]:
        return self.model.sample(self.style, self.mode, bars, self.rng, history=history, allowed=allowed, ends=ends)

    def new(self, part: Part, history: Sequence[str], leads_back: bool) -> list[str]:
        allowed: dict[int, set[str]] = {}
        if not history:  # the piece opens at home, so that its key is heard from the start
            allowed[0] = self.home
        if part.letter in ("B", "C") and part.bars > 1:
            allowed[0] = self.vocabulary - {self.tonic}  # open away from home
        if leads_back and part.bars > 1:
            allowed[part.bars - 1] = set(DOMINANTS)  # a half cadence into what returns
        phrase_ends = {j for j in range(PHRASE_BARS - 1, part.bars, PHRASE_BARS)} if part.bars >= 8 else set()
        return self.draw(part.bars, history, allowed, phrase_ends | {part.bars - 1})

    def vary(self, original: list[str], history: Sequence[str]) -> list[str]:
        n = len(original)
        if n >= 2 and not self.closes(original):
            return original[:-2] + self.cadence([*history, *original[:-2]])
        chords = list(original)
        i = max(0, n // 2 - 1)
        before = [*history, *original[:i]]
        others = self.vocabulary - {original[i]}
        if i + 1 < n:
            chords[i] = self.draw(2, before, {0: others, 1: {original[i + 1]}}, ())[0]
        else:
            chords[i] = self.draw(1, before, {0: others}, ())[0]
        return chords

    def closes(self, chords: Sequence[str]) -> bool:
        return len(chords) >= 2 and chords[-2] in DOMINANTS and chords[-1] == self.tonic

    def cadence(self, history: Sequence[str]) -> list[str]:
        """A dominant-function chord, then the tonic."""
        return self.draw(2, history, {0: set(DOMINANTS), 1: {self.tonic}})


def _chords(parts: Sequence[Part], drawer: _Chords) -> list[list[str]]:
    out: list[list[str]] = []
    latest: dict[str, list[str]] = {}
    first: dict[str, list[str]] = {}
    for index, part in enumerate(parts):
        history = [c for chords in out for c in chords][-2:]
        following = parts[index + 1] if index + 1 < len(parts) else None
        leads_back = following is not None and following.copies != "new" and following.letter != part.letter
        if part.copies == "new":
            chords = drawer.new(part, history, leads_back)
            first[part.letter] = chords
        elif part.copies == "vary":
            chords = drawer.vary(first[part.letter], history)
        else:
            chords = list(latest[part.letter])
        latest[part.letter] = chords
        out.append(chords)
    flat = [c for chords in out for c in chords]
    if len(flat) == 1:
        out[-1][-1] = drawer.tonic
    elif not drawer.closes(flat):
        last = out[-1]
        ending = drawer.cadence(flat[-4:-2])
        if len(last) >= 2:
            out[-1] = last[:-2] + ending
        else:  # a one-bar outro: the section before it takes the dominant
            out[-2] = out[-2][:-1] + ending[:1]
            out[-1] = ending[1:]
    return out


def _intensities(parts: Sequence[Part], base: float, mood: str | None) -> list[list[float]]:
    arc = _ARC.get(mood or "", 1.0)
    returns: dict[str, int] = {}
    levels = []
    for part in parts:
        levels.append(_LEVEL.get(part.letter, 0.0) + _RETURN_STEP * returns.get(part.letter, 0))
        returns[part.letter] = returns.get(part.letter, 0) + 1
    total = sum(p.bars for p in parts)
    out, bar = [], 0
    for index, part in enumerate(parts):
        values = []
        for j in range(part.bars):
            shape = levels[index] + (0.08 * j / (part.bars - 1) - 0.04 if part.bars > 1 else 0.0)
            if j == part.bars - 1 and index + 1 < len(parts) and levels[index + 1] > levels[index]:
                shape += 0.05  # build into a fuller section
            if bar >= total - 2 and total > 2:
                shape -= 0.06 * (bar - (total - 3))  # fall over the last two bars
            values.append(round(float(np.clip(base + arc * shape, 0.05, 1.0)), 3))
            bar += 1
        out.append(values)
    return out


def make_plan(
    conditions: Conditions | Resolved,
    progressions: ProgressionModel | None = None,
    seed: int = 0,
    default_style: str = "pop",
) -> Plan:
    """A plan for these conditions: form, a chord and an intensity per bar (see the module
    docstring); ``progressions`` defaults to the shipped model."""
    resolved = resolve(conditions, default_style) if isinstance(conditions, Conditions) else conditions
    model = progressions or default_progressions()
    rng = np.random.default_rng(seed)
    parts = form(resolved.bars)
    drawer = _Chords(model, resolved.style, resolved.mode, rng)
    chords = _chords(parts, drawer)
    intensity = _intensities(parts, intensity_of(resolved.loudness), resolved.mood)
    names = _names(parts)
    source: list[str | None] = []  # a variation names its original; a plain repeat, what it copies
    latest: dict[str, str] = {}
    first: dict[str, str] = {}
    for part, name in zip(parts, names, strict=True):
        source.append({"new": None, "vary": first.get(part.letter), "same": latest.get(part.letter)}[part.copies])
        first.setdefault(part.letter, name)
        latest[part.letter] = name
    key = key_label(resolved.tonic, resolved.mode)
    sections = []
    for i, part in enumerate(parts):
        controls = tuple(
            BarControl(chord=absolute_chord(c, resolved.tonic), intensity=v)
            for c, v in zip(chords[i], intensity[i], strict=True)
        )
        sections.append(
            Section(
                name=names[i],
                bars=part.bars,
                key=key,
                tempo=resolved.tempo,
                meter=f"{resolved.numerator}/{resolved.denominator}",
                mood=resolved.mood,
                intensity=round(sum(intensity[i]) / part.bars, 6),
                repeat_of=source[i],
                controls=controls,
            )
        )
    instruments = tuple(i.name for i in resolved.instruments)
    return Plan(tuple(sections), resolved.style, instruments, resolved.tail_quarters)


def bar_sources(plan: Plan) -> list[int | None]:
    """For every bar of the plan (0-based, across sections), the earlier bar whose music it
    plays again, or None where it is to be written afresh.

    A bar of a section with ``repeat_of`` copies the same bar of that section, unless both
    give a chord there and the chords differ (a variation); a copy of a copy points to the
    bar first written. A section with another key plays its copy moved to that key.
    """
    starts: dict[str, int] = {}
    sources: list[int | None] = []
    for section in plan.sections:
        starts[section.name] = len(sources)
        original = next((s for s in plan.sections if s.name == section.repeat_of), None)
        for j in range(section.bars):
            if original is None:
                sources.append(None)
                continue
            mine = section.controls[j].chord if section.controls else None
            theirs = original.controls[j].chord if original.controls else None
            if (
                mine is not None
                and theirs is not None
                and relative_chord(mine, section.tonic) != relative_chord(theirs, original.tonic)
            ):
                sources.append(None)
                continue
            bar = starts[original.name] + j
            sources.append(bar if sources[bar] is None else sources[bar])
    return sources


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """A plan file for ``--plan FILE``: ``.json``, or ``.yaml``/``.yml`` when PyYAML is
    installed. Every refusal is an InputFileError naming the file, in one line."""
    data = read_document(path, "plan", MAX_PLAN_JSON_BYTES)
    try:
        return Plan.from_dict(data)
    except InvalidArgumentError as error:
        raise InputFileError(error.reason, path) from None
