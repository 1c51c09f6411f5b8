"""Free text to a plan: ``cadenza generate --prompt "tense boss fight, 140 bpm, 2 minutes"``.

:func:`read_prompt` reads a prompt offline with a lexicon and a small grammar (no model,
nothing fetched) into a :class:`PromptReading`; :meth:`PromptReading.cue_dict` turns it
into the cue sheet that ``cadenza soundtrack`` reads, so both paths meet in one place.

Every word of the prompt is either used, a stopword (:data:`STOPWORDS`: articles,
prepositions, "music", "track", "song", "piece", "please", "about" ...), or listed in
``unused``: nothing is dropped silently.

What is read, and how:

* **tempo**: only an explicit number: "140 bpm", "at 90 beats per minute", "tempo 120",
  "bpm: 96". Tempo words ("slow", "fast", "uptempo") are mood words: they move arousal.
* **length**: "2 minutes", "90 seconds", "30s", "1:30", "a minute and a half", "two and a
  half minutes", "16 bars", "8-bar"; "about"/"around"/"roughly" keep the number. Numbers
  may be spelled out ("ninety seconds"). A length inside a section ("an intro of 8 bars
  then a chorus of 16 bars") is that section's; the whole is their sum.
* **key**: "in D minor", "key of F#", "E flat major", "Bb minor", "in the key of E flat"
  (no mode: major), "Am"/"F#m" (capital letter). **meter**: "3/4" ... (only
  :data:`~cadenza.compose.conditions.METERS`; another meter is refused), "waltz" and
  "triple time" give 3/4, "common time" 4/4.
* **instruments**: the names of :data:`~cadenza.compose.conditions.INSTRUMENTS` and
  "drums", plurals too, with synonyms (``INSTRUMENT_SYNONYMS`` in
  :mod:`~cadenza.compose.prompt_words`): percussion, beat, drum kit, timpani -> drums;
  synth, synth pad -> pad; string quartet, pizzicato, low strings -> strings; fiddle ->
  violin; lute, ukulele, banjo -> guitar; upright/double bass -> contrabass; recorder,
  piccolo -> flute; sax -> saxophone; vocals, voices -> choir; tuba, brass band -> brass;
  bells, music box, glockenspiel -> celesta. "orchestra" (the noun) is strings, brass
  and drums, and the classical style; "orchestral" (the adjective) is only the style.
  "no X", "without X", "no X or Y", "no percussion" exclude; an excluded member of a
  group ("orchestra, no drums") is taken out of it, while an instrument both named and
  excluded is refused. An instrument cadenza lacks (bassoon, sitar) is unused.
* **loop**: loop, loops, looping, loopable, seamless(ly) -> true; "no loop", "not
  looping", "one-shot" -> false.
* **style**, by these words (the most named wins, the first on a tie):

  ========= ==========================================================================
  pop       pop, lofi / lo-fi, chillhop, hip hop, rock, metal, punk, edm, electronic,
            synthwave, retrowave, chiptune, 8-bit, house music, techno, trance, dubstep,
            disco
  classical orchestral, orchestra, cinematic, epic, classical, symphonic, symphony
  folk      folk, celtic, irish, acoustic (also "acoustic guitar"), tavern, medieval
            tavern, country, bluegrass, jig, shanty
  early     baroque, renaissance, medieval, early music, madrigal
  chorale   hymn, chorale, church
  ========= ==========================================================================

* **mood**: each mood word (``MOODS`` in :mod:`~cadenza.compose.prompt_words`, 145
  entries: calm, tense, heroic, boss fight, chase, menu, slow, fast ...) gives a valence
  and/or an arousal in -1..1; "very" scales by 1.3, "slightly"/"a bit" by 0.5, "not" by
  -0.5 and "not too" by -0.3; several words average (each of valence and arousal over
  the words that give it).
* **intensity**: a curve word of the cue format: steady | builds | fades | swells |
  drops ("builds to a climax", "fades out", "swells in the middle", "constant").
* **sections**: parts joined by sequence words ("calm, then explosive", "starts quiet
  and ends with a big finale", "X followed by Y", "quiet until the drop"; a part that
  names no mood joins the one before), named parts ("verse chorus verse chorus", "a
  calm intro, a tense middle and an explosive ending", "an intro of 8 bars then a
  chorus of 16 bars"), and letter forms ("ABA form", "A then B"). A section is named
  by its section word, else by its mood words; its intensity is a curve word, a level
  from its mood's arousal, or its section word's usual level (intro 0.3, chorus 0.8,
  finale 0.95 ...). Sections share the length equally unless they give their own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

from cadenza.compose.conditions import MAX_BARS, SECONDS_RANGE, check_tempo, parse_meter
from cadenza.compose.prompt_grammar import Fact, Reader, mean, one, one_number, parts
from cadenza.compose.prompt_words import STOPWORDS
from cadenza.errors import InvalidArgumentError

__all__ = ["CURVES", "MAX_PROMPT_CHARS", "STOPWORDS", "PromptReading", "Section", "read_prompt"]

MAX_PROMPT_CHARS = 2000
CURVES = ("steady", "builds", "fades", "swells", "drops")
DEFAULT_SECONDS = 60.0  # the length the plan assumes when the prompt gives none

# -- the reading ---------------------------------------------------------------------------


class Section(NamedTuple):
    """One part of the prompt's plan: its name, its share of the whole (0..1), its own
    length when the prompt gives one, its mood, and its intensity (a level 0..1, a curve
    word, or None)."""

    name: str
    share: float
    bars: int | None
    seconds: float | None
    valence: float | None
    arousal: float | None
    intensity: float | str | None


@dataclass(frozen=True)
class PromptReading:
    """What a prompt says; None (or empty) where it says nothing. ``key`` is a label of
    :func:`cadenza.theory.key_label` ("D:min"), ``intensity`` a curve word of
    :data:`CURVES`, ``unused`` the words read but not used, in order."""

    tempo: float | None = None
    seconds: float | None = None
    bars: int | None = None
    key: str | None = None
    meter: str | None = None
    instruments: tuple[str, ...] = ()
    exclude_instruments: tuple[str, ...] = ()
    loop: bool | None = None
    style: str | None = None
    valence: float | None = None
    arousal: float | None = None
    intensity: str | None = None  # a curve word of CURVES
    sections: tuple[Section, ...] | None = None
    unused: tuple[str, ...] = ()

    # -- the length, resolved ----------------------------------------------------------------
    def resolved_tempo(self) -> float:
        """The given tempo, else one from arousal (70..130 bpm), else 100."""
        if self.tempo is not None:
            return self.tempo
        if self.arousal is not None:
            return float(round(70 + 60 * (self.arousal + 1) / 2))
        return 100.0

    def resolved_bars(self, default_seconds: float = DEFAULT_SECONDS) -> int:
        """The bars given; else the seconds (given, else ``default_seconds``) in whole bars
        of the meter (default 4/4) at :meth:`resolved_tempo`, at least one."""
        if self.bars is not None:
            return self.bars
        numerator, denominator = parse_meter(self.meter or "4/4")
        bar_seconds = numerator * 4 / denominator * 60 / self.resolved_tempo()
        seconds = self.seconds if self.seconds is not None else default_seconds
        return max(1, math.floor(seconds / bar_seconds + 1e-9))

    # -- intensity ---------------------------------------------------------------------------
    def _level(self) -> float:
        return 0.5 if self.arousal is None else _level_of(self.arousal)

    def intensity_curve(self, bars: int) -> list[float] | None:
        """One intensity 0..1 per bar; None when the prompt says nothing of intensity or mood.

        Curves: steady holds the mood's level (0.5 + 0.35 x arousal, else 0.5); builds rises
        0.2 -> 1.0; fades falls 0.8 -> 0.05; swells rises 0.25 -> 1.0 at the middle and
        falls back; drops holds 0.9 for two thirds then 0.2. Sections each take their
        share of the bars with their own level or curve.
        """
        if bars < 1:
            raise InvalidArgumentError(f"an intensity curve needs at least one bar, not {bars}")
        silent = self.intensity is None and self.valence is None and self.arousal is None
        if silent and all(s.intensity is None for s in self.sections or ()):
            return None
        if self.sections:
            counts = _split(bars, [s.share for s in self.sections])
            values: list[float] = []
            for section, count in zip(self.sections, counts, strict=True):
                shape = section.intensity
                if shape is None:
                    shape = self.intensity or self._level()
                values += _curve(shape, count, self._level())
            return [round(v, 3) for v in values]
        return [round(v, 3) for v in _curve(self.intensity or self._level(), bars, self._level())]

    # -- output ------------------------------------------------------------------------------
    def to_dict(self, default_seconds: float = DEFAULT_SECONDS) -> dict[str, object]:
        """The plan as the CLI prints it for ``--dry-run --json``; null where the prompt is
        silent. ``intensity`` is the per-bar curve over :meth:`resolved_bars`."""
        return {
            "tempo": self.tempo,
            "seconds": self.seconds,
            "bars": self.bars,
            "key": self.key,
            "meter": self.meter,
            "instruments": list(self.instruments) or None,
            "exclude_instruments": list(self.exclude_instruments) or None,
            "loop": self.loop,
            "style": self.style,
            "valence": self.valence,
            "arousal": self.arousal,
            "intensity": self.intensity_curve(self.resolved_bars(default_seconds)),
            "sections": None if self.sections is None else [s._asdict() for s in self.sections],
            "unused": list(self.unused),
        }

    def cue_dict(self, default_seconds: float = DEFAULT_SECONDS) -> dict[str, object]:
        """The cue sheet (formats.md section 1) holding only what the prompt determines."""
        cue: dict[str, object] = {"version": 1}
        given = {
            "seconds": self.seconds,
            "style": self.style,
            "key": self.key,
            "tempo": self.tempo,
            "meter": self.meter,
            "valence": self.valence,
            "arousal": self.arousal,
            "instruments": list(self.instruments) or None,
            "exclude_instruments": list(self.exclude_instruments) or None,
            "loop": self.loop,
        }
        cue.update({k: v for k, v in given.items() if v is not None})
        if self.intensity is not None:
            cue["intensity"] = self.intensity
        elif self.arousal is not None and not self.sections:
            cue["intensity"] = round(self._level(), 3)
        if self.sections:
            cue["sections"] = self._cue_sections(default_seconds)
        elif self.bars is not None:
            cue["sections"] = [{"name": "main", "bars": self.bars}]
        return cue

    def _cue_sections(self, default_seconds: float) -> list[dict[str, object]]:
        assert self.sections
        sections = self.sections
        lengths: list[dict[str, object]]
        if self.seconds is not None and all(s.bars is None for s in sections):
            # seconds summing to the whole: the last takes what the others leave, to the ms
            firsts = [s.seconds if s.seconds is not None else round(s.share * self.seconds, 3) for s in sections[:-1]]
            last = round(self.seconds - sum(firsts), 3)
            lengths = [{"seconds": v} for v in [*firsts, last]]
        elif self.bars is not None or self.seconds is None:
            total = self.resolved_bars(default_seconds)
            counts = _split(total, [s.share for s in sections])
            lengths = [{"bars": c} for c in counts]
            if self.bars is None:  # the whole is the Cue's default: the last one takes the rest
                lengths[-1] = {}
        else:  # sections in bars inside a whole in seconds: as the prompt gave them
            lengths = [{"bars": s.bars} if s.bars is not None else {} for s in sections]
        out = []
        for section, length in zip(sections, lengths, strict=True):
            entry: dict[str, object] = {"name": section.name, **length}
            if section.valence is not None:
                entry["valence"] = section.valence
            if section.arousal is not None:
                entry["arousal"] = section.arousal
            if section.intensity is not None:
                entry["intensity"] = section.intensity
            out.append(entry)
        return out

    def describe(self) -> list[str]:
        """The plan in a few human lines, for the CLI to print before composing."""
        lines = []
        if self.tempo is not None:
            lines.append(f"tempo {self.tempo:g} bpm")
        if self.seconds is not None:
            lines.append(f"length {_clock(self.seconds)} ({self.seconds:g} s)")
        if self.bars is not None:
            lines.append(f"length {self.bars} bars")
        if self.key is not None:
            tonic, mode = self.key.split(":")
            lines.append(f"key {tonic} {'minor' if mode == 'min' else 'major'}")
        if self.meter is not None:
            lines.append(f"meter {self.meter}")
        if self.style is not None:
            lines.append(f"style {self.style}")
        if self.instruments:
            lines.append("instruments " + ", ".join(self.instruments))
        if self.exclude_instruments:
            lines.append("not: " + ", ".join(self.exclude_instruments))
        if self.loop is not None:
            lines.append("a seamless loop" if self.loop else "not a loop")
        if self.valence is not None or self.arousal is not None:
            lines.append(f"mood valence {_signed(self.valence)}, arousal {_signed(self.arousal)}")
        if self.intensity is not None:
            lines.append(f"intensity {self.intensity}")
        if self.sections:
            parts = [f"{s.name} ({round(100 * s.share)} %{_section_level(s)})" for s in self.sections]
            lines.append("sections " + ", ".join(parts))
        if self.unused:
            lines.append("words not used: " + ", ".join(self.unused))
        return lines or ["nothing in the prompt was understood"]


def _clock(seconds: float) -> str:
    """120 -> "2:00", 90.5 -> "1:30.5"."""
    minutes, rest = divmod(seconds, 60)
    text = f"{int(minutes)}:{int(rest):02d}"
    fraction = f"{rest - int(rest):.3f}".rstrip("0").rstrip(".")
    return text + fraction[1:] if fraction not in ("0", "") else text


def _signed(value: float | None) -> str:
    return "not given" if value is None else f"{value:+.2f}"


def _section_level(section: Section) -> str:
    if section.intensity is None:
        return ""
    if isinstance(section.intensity, str):
        return f", {section.intensity}"
    return f", intensity {section.intensity:g}"


def _level_of(arousal: float) -> float:
    """The steady intensity of a mood, as a cue sheet's (:mod:`cadenza.compose.cue`) is:
    0.5 + 0.35 x arousal, so that a calm piece has more than its pad (0.26 at arousal -0.7)."""
    return min(1.0, max(0.05, 0.5 + 0.35 * arousal))


def _curve(shape: float | str, count: int, level: float) -> list[float]:
    """``count`` values of a level or a curve word (see PromptReading.intensity_curve)."""
    ts = [i / (count - 1) if count > 1 else 0.5 for i in range(count)]
    if not isinstance(shape, str):
        return [float(shape)] * count
    if shape == "builds":
        return [0.2 + 0.8 * t for t in ts]
    if shape == "fades":
        return [0.8 - 0.75 * t for t in ts]
    if shape == "swells":
        return [0.25 + 0.75 * (1 - abs(2 * t - 1)) for t in ts]
    if shape == "drops":
        return [0.9 if t < 2 / 3 else 0.2 for t in ts]
    return [level] * count  # steady


def _split(total: int, shares: list[float]) -> list[int]:
    """``total`` bars in parts proportional to ``shares`` (largest remainder), each at
    least one bar while there are bars enough."""
    weight = sum(shares) or 1.0
    exact = [total * s / weight for s in shares]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(shares)), key=lambda i: (counts[i] - exact[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    for i, count in enumerate(counts):  # a part of no bar borrows one from the largest
        largest = max(range(len(counts)), key=lambda j: counts[j])
        if count == 0 and counts[largest] > 1:
            counts[i], counts[largest] = 1, counts[largest] - 1
    return counts


def _sections(reader: Reader) -> tuple[list[Section], set[int]] | None:
    """The sections, and the facts (by id) they own."""
    spans = parts(reader)
    if not spans:
        return None
    owned: set[int] = set()
    sections = []
    seen: dict[str, int] = {}
    for start, end, letter in spans:
        facts = [f for f in reader.facts if start <= f.start < end]
        owned |= {id(f) for f in facts if f.kind in ("mood", "curve", "section", "bars", "seconds")}
        moods = [f for f in facts if f.kind == "mood"]
        valence, arousal = mean(f.mood[0] for f in moods), mean(f.mood[1] for f in moods)
        named = [f for f in facts if f.kind == "section"]
        curves = [f for f in facts if f.kind == "curve"]
        intensity: float | str | None = None
        if curves:
            intensity = str(curves[0].value)
        elif arousal is not None:
            intensity = round(_level_of(arousal), 3)
        elif named:
            intensity = named[0].number
        name = letter or (named[0].text if named else " ".join(f.text for f in [*moods, *curves][:3]))
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:  # names are unique: "verse", "verse 2"
            name = f"{name} {seen[name]}"
        bars = one_number(facts, "bars", "section lengths", " bars")
        seconds = one_number(facts, "seconds", "section lengths", " s")
        sections.append(Section(name, 0.0, None if bars is None else int(bars), seconds, valence, arousal, intensity))
    return sections, owned


def _with_shares(sections: list[Section], whole_bars: int | None, whole_seconds: float | None) -> list[Section]:
    """Each section's share of the whole: from its own length when the sections give
    theirs in one unit (the others share what is left, or take the mean of the given
    ones when the whole is unknown), else equal parts."""
    has_bars = any(s.bars is not None for s in sections)
    has_seconds = any(s.seconds is not None for s in sections)
    if has_bars == has_seconds:
        return [s._replace(share=round(1 / len(sections), 4)) for s in sections]
    unit, whole = ("bars", whole_bars) if has_bars else ("seconds", whole_seconds)
    lengths: list[float | None] = [getattr(s, unit) for s in sections]
    known = sum(v for v in lengths if v is not None)
    missing = lengths.count(None)
    if whole is not None and (known > whole + 1e-9 or (missing == 0 and abs(known - whole) > 1e-9)):
        raise InvalidArgumentError(f"the sections last {known:g} {unit} but the whole is {whole:g} {unit}")
    total = float(whole) if whole is not None else known + missing * known / (len(lengths) - missing)
    rest = (total - known) / missing if missing else 0.0
    return [
        s._replace(share=round((v if v is not None else rest) / total, 4))
        for s, v in zip(sections, lengths, strict=True)
    ]


# -- the entry point -----------------------------------------------------------------------


def read_prompt(text: str) -> PromptReading:
    """Read a free-text prompt into a plan; InvalidArgumentError names what is wrong
    (an empty prompt, one over :data:`MAX_PROMPT_CHARS` characters, an impossible value)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidArgumentError("the prompt is empty; describe the music, e.g. 'calm piano, 90 seconds'")
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidArgumentError(f"the prompt has {len(text):,} characters; at most {MAX_PROMPT_CHARS:,}")
    reader = Reader(text)
    reader.read()
    found = _sections(reader)
    sections, owned = found if found else (None, set())
    if not sections:  # a lone section word ("a YouTube intro") was not used
        for fact in [f for f in reader.facts if f.kind == "section"]:
            reader.unuse(fact.start, fact.end)
            reader.facts.remove(fact)
    whole = [f for f in reader.facts if id(f) not in owned]
    facts = reader.facts

    tempo = one_number(whole, "tempo", "tempos", " bpm")
    if tempo is not None:
        tempo = check_tempo(tempo)
    seconds = one_number(whole, "seconds", "lengths", " s")
    whole_bars = one_number(whole, "bars", "lengths", " bars")
    bars = None if whole_bars is None else int(whole_bars)
    if seconds is not None and bars is not None:
        raise InvalidArgumentError(f"the prompt gives the length twice: {bars} bars and {seconds:g} s; give one")
    if sections:
        section_bars = [s.bars for s in sections]
        section_seconds = [s.seconds for s in sections]
        if seconds is None and bars is None and None not in section_bars:
            bars = sum(b for b in section_bars if b is not None)
        elif seconds is None and bars is None and None not in section_seconds:
            seconds = sum(s for s in section_seconds if s is not None)
        for s in sections:
            _check_length(s.seconds, s.bars, f"section {s.name!r}: ")
        sections = _with_shares(sections, bars, seconds)
    _check_length(seconds, bars)

    named = [str(f.value) for f in facts if f.kind == "instrument"]
    excluded = list(dict.fromkeys(str(f.value) for f in facts if f.kind == "exclude"))
    both = [name for name in dict.fromkeys(named) if name in excluded]
    if both:
        raise InvalidArgumentError(f"the prompt both asks for and excludes {', '.join(both)}")
    members = [str(f.value) for f in facts if f.kind in ("instrument", "member")]
    instruments = [name for name in dict.fromkeys(members) if name not in excluded]
    loops = [bool(f.value) for f in facts if f.kind == "loop"]
    styles = [str(f.value) for f in facts if f.kind == "style"]
    moods = [f for f in facts if f.kind == "mood"]
    curves = [str(f.value) for f in whole if f.kind == "curve"]
    reading = PromptReading(
        tempo=tempo,
        seconds=seconds,
        bars=bars,
        key=_text(one(facts, "key", "keys")),
        meter=_meter(facts),
        instruments=tuple(instruments),
        exclude_instruments=tuple(excluded),
        loop=None if not loops else loops[-1],
        style=max(dict.fromkeys(styles), key=styles.count) if styles else None,
        valence=mean(f.mood[0] for f in moods),
        arousal=mean(f.mood[1] for f in moods),
        intensity=curves[0] if curves else None,
        sections=None if not sections else tuple(sections),
        unused=tuple(t.text for t in reader.tokens if not t.used and t.kind != "punct" and t.text not in STOPWORDS),
    )
    if reading.sections and len(reading.sections) > reading.resolved_bars():
        raise InvalidArgumentError(
            f"the prompt names {len(reading.sections)} sections but only {reading.resolved_bars()} bars; "
            "each section needs a bar at least"
        )
    if reading.seconds is not None and reading.bars is None and reading.resolved_bars() > MAX_BARS:
        raise InvalidArgumentError(
            f"{reading.seconds:g} s at {reading.resolved_tempo():g} bpm in {reading.meter or '4/4'} is "
            f"{reading.resolved_bars()} bars, more than {MAX_BARS}; ask for a slower tempo or a shorter length"
        )
    return reading


def _meter(facts: list[Fact]) -> str | None:
    """An explicit meter wins over a word that implies one ("a waltz in 6/8")."""
    explicit = [f for f in facts if f.kind == "meter" and "/" in f.text]
    return _text(one(explicit or facts, "meter", "meters"))


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _check_length(seconds: float | None, bars: int | None, what: str = "") -> None:
    low, high = SECONDS_RANGE
    if seconds is not None and not low <= seconds <= high:
        raise InvalidArgumentError(f"{what}a length of {seconds:g} s is outside {low:g}..{high:g} s")
    if bars is not None and not 1 <= bars <= MAX_BARS:
        raise InvalidArgumentError(f"{what}a length of {bars} bars is outside 1..{MAX_BARS}")
