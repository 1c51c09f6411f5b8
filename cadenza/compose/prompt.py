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
  "drums", plurals too, with synonyms (:data:`_INSTRUMENT_SYNONYMS`): percussion, beat,
  drum kit, timpani -> drums; synth, synth pad -> pad; string quartet, pizzicato, low
  strings -> strings; fiddle -> violin; lute, ukulele, banjo -> guitar; upright/double
  bass -> contrabass; recorder, piccolo -> flute; sax -> saxophone; vocals, voices ->
  choir; tuba, brass band -> brass; bells, music box, glockenspiel -> celesta.
  "orchestra" (the noun) is strings, brass and drums, and the classical style;
  "orchestral" (the adjective) is only the style. "no X", "without X", "no X or Y",
  "no percussion" exclude. An instrument cadenza lacks (bassoon, sitar) is unused.
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

* **mood**: each mood word (:data:`_MOODS`, 90 entries: calm, tense, heroic, boss
  fight, chase, menu, slow, fast ...) gives a valence and/or an arousal in -1..1; "very"
  scales by 1.3, "slightly"/"a bit" by 0.5, "not" by -0.5 and "not too" by -0.3;
  several words average (each of valence and arousal over the words that give it).
* **intensity**: a curve word of the cue format: steady | builds | fades | swells |
  drops ("builds to a climax", "fades out", "swells in the middle", "constant").
* **sections**: "calm, then explosive", "starts quiet and ends with a big finale",
  "X followed by Y", "mysterious then heroic", named parts ("verse chorus verse
  chorus", "intro ... outro"), and letter forms ("ABA form", "A then B"). A section is
  named by its section word, else by its mood words; its intensity is a curve word, a
  level from its mood's arousal, or its section word's usual level (intro 0.3, chorus
  0.8, finale 0.95 ...).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from cadenza.compose.conditions import INSTRUMENTS, MAX_BARS, METERS, SECONDS_RANGE, check_tempo, parse_meter
from cadenza.errors import InvalidArgumentError
from cadenza.theory import key_label, parse_key

__all__ = ["CURVES", "MAX_PROMPT_CHARS", "STOPWORDS", "PromptReading", "Section", "read_prompt"]

MAX_PROMPT_CHARS = 2000
CURVES = ("steady", "builds", "fades", "swells", "drops")
DEFAULT_SECONDS = 60.0  # the length the plan assumes when the prompt gives none

STOPWORDS = frozenset(
    """a an the and or but nor with of for to in on at by from into as so some any over plus
    music track song piece tune cue sound sounds soundtrack something like that which who
    is are be it its this these those i we me my our you your want need would should could
    please make create write generate compose give get can will have has long length lasting
    duration about around roughly approximately approx nearly almost just only also very really
    quite too solo full type style vibe vibes feel feeling mood tone time signature""".split()
)

# -- the lexicon ---------------------------------------------------------------------------

_INSTRUMENT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "grand piano": ("piano",),
    "upright piano": ("piano",),
    "keyboard": ("piano",),
    "electric piano": ("electric-piano",),
    "e piano": ("electric-piano",),
    "epiano": ("electric-piano",),
    "rhodes": ("electric-piano",),
    "wurlitzer": ("electric-piano",),
    "celeste": ("celesta",),
    "glockenspiel": ("celesta",),
    "bells": ("celesta",),
    "music box": ("celesta",),
    "vibes": ("vibraphone",),
    "xylophone": ("marimba",),
    "church organ": ("organ",),
    "pipe organ": ("organ",),
    "hammond": ("organ",),
    "acoustic guitar": ("guitar",),
    "classical guitar": ("guitar",),
    "nylon guitar": ("guitar",),
    "lute": ("guitar",),
    "ukulele": ("guitar",),
    "banjo": ("guitar",),
    "mandolin": ("guitar",),
    "electric guitar": ("electric-guitar",),
    "distorted guitar": ("electric-guitar",),
    "rock guitar": ("electric-guitar",),
    "bass guitar": ("bass",),
    "electric bass": ("bass",),
    "synth bass": ("bass",),
    "bassline": ("bass",),
    "bass line": ("bass",),
    "fiddle": ("violin",),
    "violoncello": ("cello",),
    "double bass": ("contrabass",),
    "upright bass": ("contrabass",),
    "string bass": ("contrabass",),
    "string": ("strings",),
    "string section": ("strings",),
    "string quartet": ("strings",),
    "string ensemble": ("strings",),
    "string orchestra": ("strings",),
    "low strings": ("strings",),
    "pizzicato strings": ("strings",),
    "pizzicato": ("strings",),
    "voice": ("choir",),
    "voices": ("choir",),
    "vocals": ("choir",),
    "vocal": ("choir",),
    "singers": ("choir",),
    "singing": ("choir",),
    "french horn": ("horn",),
    "brass section": ("brass",),
    "brass band": ("brass",),
    "tuba": ("brass",),
    "sax": ("saxophone",),
    "recorder": ("flute",),
    "piccolo": ("flute",),
    "pan flute": ("flute",),
    "panflute": ("flute",),
    "tin whistle": ("flute",),
    "synth": ("pad",),
    "synths": ("pad",),
    "synthesizer": ("pad",),
    "synth pad": ("pad",),
    "drum": ("drums",),
    "drum kit": ("drums",),
    "drum machine": ("drums",),
    "percussion": ("drums",),
    "beat": ("drums",),
    "timpani": ("drums",),
    "taiko": ("drums",),
    "rhythm section": ("bass", "drums"),
    "orchestra": ("strings", "brass", "drums"),
    "full orchestra": ("strings", "brass", "drums"),
    "symphony orchestra": ("strings", "brass", "drums"),
}

_STYLES: dict[str, str] = {
    **dict.fromkeys(
        "pop lofi chillhop hiphop rock metal punk edm electronic electronica synthwave retrowave chiptune "
        "techno trance dubstep disco".split(),
        "pop",
    ),
    **dict.fromkeys(["lo fi", "hip hop", "8 bit", "16 bit", "synth wave", "house music", "deep house"], "pop"),
    **dict.fromkeys("orchestral orchestra cinematic epic classical symphonic symphony".split(), "classical"),
    **dict.fromkeys("folk celtic irish acoustic tavern country bluegrass jig shanty".split(), "folk"),
    "medieval tavern": "folk",
    **dict.fromkeys(["baroque", "renaissance", "medieval", "madrigal", "early music"], "early"),
    **dict.fromkeys(["hymn", "chorale", "church"], "chorale"),
}

_V = float | None
# word -> (valence, arousal); None where the word says nothing about that axis
_MOODS: dict[str, tuple[_V, _V]] = {
    # calm, positive
    "calm": (0.3, -0.7),
    "peaceful": (0.5, -0.8),
    "relaxing": (0.5, -0.7),
    "relaxed": (0.5, -0.7),
    "serene": (0.5, -0.8),
    "tranquil": (0.5, -0.8),
    "soothing": (0.4, -0.7),
    "gentle": (0.3, -0.5),
    "chill": (0.3, -0.5),
    "chilled": (0.3, -0.5),
    "mellow": (0.2, -0.5),
    "cozy": (0.5, -0.5),
    "cosy": (0.5, -0.5),
    "warm": (0.5, -0.3),
    "dreamy": (0.3, -0.5),
    "meditative": (0.3, -0.8),
    "meditation": (0.3, -0.8),
    "lullaby": (0.4, -0.8),
    "sleepy": (0.1, -0.8),
    "tender": (0.5, -0.5),
    "romantic": (0.6, -0.3),
    "sweet": (0.6, -0.2),
    "thoughtful": (0.1, -0.4),
    "reflective": (0.0, -0.4),
    "contemplative": (0.0, -0.5),
    "nostalgic": (0.1, -0.3),
    "bittersweet": (0.0, -0.3),
    "ambient": (None, -0.5),
    # happy, bright
    "happy": (0.8, 0.5),
    "joyful": (0.9, 0.6),
    "joyous": (0.9, 0.6),
    "cheerful": (0.8, 0.5),
    "upbeat": (0.7, 0.6),
    "bright": (0.6, 0.3),
    "fun": (0.7, 0.5),
    "playful": (0.6, 0.4),
    "whimsical": (0.5, 0.3),
    "quirky": (0.4, 0.3),
    "silly": (0.6, 0.4),
    "cute": (0.7, 0.2),
    "lively": (0.6, 0.6),
    "hopeful": (0.6, 0.1),
    "uplifting": (0.7, 0.4),
    "optimistic": (0.6, 0.3),
    "light": (0.4, -0.1),
    "friendly": (0.6, None),
    "wonder": (0.6, None),
    "magical": (0.6, 0.1),
    "love": (0.7, -0.2),
    "menu": (0.2, -0.3),
    "main menu": (0.2, -0.3),
    "exploration": (0.3, None),
    "adventure": (0.5, 0.6),
    "adventurous": (0.5, 0.6),
    # heroic, big
    "heroic": (0.7, 0.7),
    "triumphant": (0.8, 0.8),
    "victory": (0.8, 0.7),
    "victorious": (0.8, 0.7),
    "epic": (0.5, 0.8),
    "majestic": (0.6, 0.4),
    "grand": (0.5, 0.5),
    "proud": (0.6, 0.5),
    "noble": (0.5, 0.2),
    "energetic": (0.5, 0.8),
    "exciting": (0.6, 0.8),
    "excited": (0.6, 0.8),
    "powerful": (0.3, 0.8),
    # sad
    "sad": (-0.7, -0.4),
    "melancholic": (-0.6, -0.4),
    "melancholy": (-0.6, -0.4),
    "sorrowful": (-0.8, -0.4),
    "mournful": (-0.8, -0.5),
    "somber": (-0.6, -0.4),
    "sombre": (-0.6, -0.4),
    "gloomy": (-0.6, -0.3),
    "lonely": (-0.6, -0.4),
    "depressing": (-0.8, -0.5),
    "tragic": (-0.8, 0.0),
    "grief": (-0.8, -0.4),
    "funeral": (-0.8, -0.6),
    "rainy": (-0.3, -0.3),
    "game over": (-0.6, -0.3),
    # tense, dark
    "tense": (-0.6, 0.7),
    "tension": (-0.6, 0.6),
    "suspense": (-0.5, 0.5),
    "suspenseful": (-0.5, 0.5),
    "nervous": (-0.5, 0.6),
    "anxious": (-0.6, 0.6),
    "uneasy": (-0.5, 0.3),
    "scary": (-0.8, 0.6),
    "creepy": (-0.7, 0.3),
    "spooky": (-0.5, 0.3),
    "horror": (-0.9, 0.5),
    "haunted": (-0.6, 0.2),
    "eerie": (-0.5, 0.1),
    "sinister": (-0.7, 0.3),
    "ominous": (-0.6, 0.2),
    "dark": (-0.6, None),
    "dread": (-0.8, 0.3),
    "menacing": (-0.7, 0.5),
    "threatening": (-0.7, 0.5),
    "dangerous": (-0.6, 0.7),
    "danger": (-0.6, 0.7),
    "mysterious": (-0.2, -0.2),
    "mystery": (-0.2, -0.2),
    "stealth": (-0.3, 0.3),
    "sneaky": (None, 0.2),
    "dissonant": (-0.5, None),
    "noir": (-0.4, -0.2),
    # angry, action
    "angry": (-0.7, 0.8),
    "aggressive": (-0.5, 0.9),
    "furious": (-0.8, 0.9),
    "rage": (-0.8, 0.9),
    "chaotic": (-0.4, 0.9),
    "frantic": (-0.4, 0.9),
    "urgent": (-0.4, 0.8),
    "intense": (None, 0.8),
    "action": (None, 0.8),
    "driving": (None, 0.6),
    "boss": (-0.5, 0.8),
    "boss fight": (-0.6, 0.9),
    "boss battle": (-0.6, 0.9),
    "fight": (-0.5, 0.8),
    "battle": (-0.4, 0.8),
    "war": (-0.7, 0.8),
    "combat": (-0.4, 0.8),
    "chase": (-0.3, 0.9),
    # energy and loudness alone
    "slow": (None, -0.6),
    "slowly": (None, -0.4),
    "fast": (None, 0.6),
    "fast paced": (None, 0.7),
    "uptempo": (None, 0.6),
    "up tempo": (None, 0.6),
    "quick": (None, 0.5),
    "brisk": (None, 0.5),
    "quiet": (None, -0.7),
    "soft": (None, -0.5),
    "loud": (None, 0.6),
    "big": (None, 0.6),
    "huge": (None, 0.9),
    "massive": (None, 0.9),
    "explosive": (None, 1.0),
    "explodes": (None, 1.0),
    "explode": (None, 1.0),
    "explosion": (None, 1.0),
}

_CURVE_WORDS: dict[str, str] = {
    **dict.fromkeys(
        [
            "build",
            "builds",
            "building",
            "build up",
            "builds up",
            "building up",
            "buildup",
            "crescendo",
            "rising",
            "rises",
            "ramps up",
            "ramp up",
            "grows",
            "growing",
            "escalating",
            "escalates",
            "gets louder",
            "getting louder",
            "intensifies",
            "intensifying",
            "climax",
            "to a climax",
        ],
        "builds",
    ),
    **dict.fromkeys(
        [
            "fade",
            "fades",
            "fading",
            "fade out",
            "fades out",
            "fading out",
            "fades away",
            "dies down",
            "dies away",
            "winds down",
            "decrescendo",
            "diminuendo",
            "gets quieter",
        ],
        "fades",
    ),
    **dict.fromkeys(["swell", "swells", "swelling", "rises and falls", "peaks in the middle"], "swells"),
    **dict.fromkeys(["drop", "drops", "drops out", "breaks down", "cuts out"], "drops"),
    **dict.fromkeys(["steady", "constant", "consistent", "unchanging", "even intensity", "stays the same"], "steady"),
}

# section words and the intensity each usually has
_SECTION_WORDS: dict[str, float] = {
    "intro": 0.3,
    "introduction": 0.3,
    "verse": 0.5,
    "pre chorus": 0.65,
    "prechorus": 0.65,
    "chorus": 0.8,
    "refrain": 0.8,
    "bridge": 0.6,
    "interlude": 0.4,
    "breakdown": 0.3,
    "outro": 0.3,
    "coda": 0.3,
    "finale": 0.95,
}

_LOOP_WORDS = ["loop", "loops", "loopable", "looping", "looped", "seamless", "seamlessly", "loop it"]
_NO_LOOP_WORDS = ["no loop", "not looping", "not a loop", "non looping", "one shot", "no looping"]
_METER_WORDS = {"waltz": "3/4", "triple time": "3/4", "triple meter": "3/4", "common time": "4/4"}
_FILLERS = ["at first", "at the start", "at the beginning", "in the middle", "at the end", "towards the end"]
_START_MARKERS = {"starts", "start", "starting", "begins", "begin", "opens", "opening"}
_CONTINUATIONS = [
    "and then",
    "then",
    "followed by",
    "later",
    "finally",
    "and ends with",
    "and ends",
    "ends with",
    "ending with",
    "ends on",
    "ends",
    "ending",
    "after that",
    "until",
]
_NEGATORS = {"no", "without", "minus", "excluding", "exclude", "except", "avoid", "not"}
_MODIFIERS: dict[tuple[str, ...], float] = {
    ("not", "too"): -0.3,
    ("not", "so"): -0.3,
    ("not", "overly"): -0.3,
    ("a", "bit"): 0.5,
    ("a", "little"): 0.5,
    ("kind", "of"): 0.5,
    ("sort", "of"): 0.5,
    ("a", "touch"): 0.5,
    ("very",): 1.3,
    ("really",): 1.3,
    ("extremely",): 1.3,
    ("super",): 1.3,
    ("so",): 1.3,
    ("incredibly",): 1.3,
    ("highly",): 1.3,
    ("quite",): 1.0,
    ("slightly",): 0.5,
    ("somewhat",): 0.5,
    ("mildly",): 0.5,
    ("kinda",): 0.5,
    ("fairly",): 0.5,
    ("rather",): 0.5,
    ("not",): -0.5,
}
_APPROX = {"about", "around", "roughly", "approximately", "approx", "circa", "nearly", "almost", "some", "like"}

_ONES = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen".split()
    )
}
_TENS = {w: 10 * i for i, w in enumerate("_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()) if i >= 2}
_UNITS = {
    **dict.fromkeys(["minute", "minutes", "min", "mins", "m"], ("seconds", 60.0)),
    **dict.fromkeys(["second", "seconds", "sec", "secs", "s"], ("seconds", 1.0)),
    **dict.fromkeys(["hour", "hours", "hr", "hrs", "h"], ("seconds", 3600.0)),
    **dict.fromkeys(["bar", "bars", "measure", "measures"], ("bars", 1.0)),
}


def _phrases() -> dict[tuple[str, ...], list[tuple[str, object]]]:
    """Every lexicon phrase (as a tuple of words) -> what it says."""
    table: dict[tuple[str, ...], list[tuple[str, object]]] = {}

    def add(phrase: str, kind: str, value: object) -> None:
        table.setdefault(tuple(phrase.split()), []).append((kind, value))

    for name in INSTRUMENTS:
        add(name.replace("-", " "), "instrument", (name,))
    add("drums", "instrument", ("drums",))
    for phrase, names in _INSTRUMENT_SYNONYMS.items():
        add(phrase, "instrument", names)
        if phrase.endswith(" orchestra") and phrase != "string orchestra":
            add(phrase, "style", "classical")
        if phrase.startswith("acoustic "):
            add(phrase, "style", "folk")
    for phrase, style in _STYLES.items():
        add(phrase, "style", style)
    for phrase, mood in _MOODS.items():
        add(phrase, "mood", mood)
    for phrase, curve in _CURVE_WORDS.items():
        add(phrase, "curve", curve)
    for phrase, level in _SECTION_WORDS.items():
        add(phrase, "section", level)
    for phrase in _LOOP_WORDS:
        add(phrase, "loop", True)
    for phrase in _NO_LOOP_WORDS:
        add(phrase, "loop", False)
    for phrase, meter in _METER_WORDS.items():
        add(phrase, "meter", meter)
    for phrase in _FILLERS:
        add(phrase, "filler", None)
    return table


_PHRASES = _phrases()
_LONGEST = max(len(p) for p in _PHRASES)

# -- tokens --------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"(?P<time>\d{1,2}:[0-5]\d)(?!\d)"
    r"|(?P<meter>\d{1,2}/\d{1,2})(?![\d/])"
    r"|(?P<num>(?<![\w.])-\d+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"|(?P<word>[a-z]+(?:'[a-z]+)?#?)"
    r"|(?P<punct>[,;:.!?()\[\]]|--|[–—])",
    re.IGNORECASE,
)


@dataclass
class _Token:
    text: str  # lower case
    raw: str  # as written
    kind: str  # time | meter | num | word | punct
    used: bool = False


def _tokens(text: str) -> list[_Token]:
    text = text.replace("♭", "b").replace("♯", "#").replace("’", "'").replace("~", " about ").replace("&", " and ")
    return [_Token(m.group().lower(), m.group(), m.lastgroup or "") for m in _TOKEN.finditer(text)]


# -- the reading ---------------------------------------------------------------------------

Number = float | int


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

        Curves: steady holds the mood's level ((arousal + 1) / 2, else 0.5); builds rises
        0.2 -> 1.0; fades falls 0.8 -> 0.05; swells rises 0.25 -> 1.0 at the middle and
        falls back; drops holds 0.9 for two thirds then 0.2. Sections each take their
        share of the bars with their own level or curve.
        """
        if bars < 1:
            raise InvalidArgumentError(f"an intensity curve needs at least one bar, not {bars}")
        if self.sections:
            counts = _split(bars, [s.share for s in self.sections])
            values: list[float] = []
            for section, count in zip(self.sections, counts, strict=True):
                shape = section.intensity
                if shape is None:
                    shape = self.intensity or self._level()
                values += _curve(shape, count, self._level())
            return [round(v, 3) for v in values]
        if self.intensity is None and self.valence is None and self.arousal is None:
            return None
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
    return min(1.0, max(0.05, (arousal + 1) / 2))


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


# -- the reader ----------------------------------------------------------------------------


@dataclass
class _Fact:
    kind: str  # tempo | seconds | bars | key | meter | instrument | exclude | loop | style | mood | curve | section
    value: object
    start: int  # token span
    end: int
    text: str = ""


class _Reader:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.facts: list[_Fact] = []

    # token helpers
    def _text(self, i: int) -> str:
        return self.tokens[i].text if 0 <= i < len(self.tokens) else ""

    def _free(self, i: int) -> bool:
        return 0 <= i < len(self.tokens) and not self.tokens[i].used

    def _use(self, start: int, end: int) -> None:
        for t in self.tokens[start:end]:
            t.used = True

    def _use_not(self, start: int, end: int) -> None:
        for t in self.tokens[start:end]:
            t.used = False

    def _add(self, kind: str, value: object, start: int, end: int) -> None:
        self._use(start, end)
        text = " ".join(t.text for t in self.tokens[start:end])
        self.facts.append(_Fact(kind, value, start, end, text))

    def _mark_approx(self, start: int) -> None:
        """"about" / "around" before a number: read (the number stays as it is)."""
        j = start - 1
        if self._text(j) in ("a", "an"):
            j -= 1
        if self._free(j) and self._text(j) in _APPROX:
            self.tokens[j].used = True

    # numbers
    def _number(self, i: int) -> tuple[float, int] | None:
        """A number written in digits or words at token i -> (value, next token)."""
        token = self.tokens[i] if self._free(i) else None
        if token is None:
            return None
        if token.kind == "num":
            value, j = float(token.text), i + 1
        elif token.text in _ONES or token.text in _TENS or (token.text in ("a", "an") and self._text(i + 1) == "hundred"):
            value, j = float(_ONES.get(token.text, _TENS.get(token.text, 1))), i + 1
            if self._text(j) == "hundred" and value < 10:
                value, j = value * 100, j + 1
                if self._text(j) == "and" and (self._text(j + 1) in _ONES or self._text(j + 1) in _TENS):
                    j += 1
                if self._text(j) in _TENS:
                    value, j = value + _TENS[self._text(j)], j + 1
                if self._text(j) in _ONES:
                    value, j = value + _ONES[self._text(j)], j + 1
            elif token.text in _TENS and self._text(j) in _ONES and 0 < _ONES[self._text(j)] < 10:
                value, j = value + _ONES[self._text(j)], j + 1
        else:
            return None
        if [self._text(j), self._text(j + 1), self._text(j + 2)] == ["and", "a", "half"]:
            value, j = value + 0.5, j + 3
        return value, j

    def _read_number_at(self, i: int) -> bool:
        """A tempo or a length starting at token i; True when one was read."""
        token = self.tokens[i]
        if token.kind == "time":
            minutes, seconds = token.text.split(":")
            self._mark_approx(i)
            self._add("seconds", int(minutes) * 60 + int(seconds), i, i + 1)
            return True
        if token.text in ("tempo", "bpm") and self.tokens[i + 1 : i + 2]:
            j = i + 1
            while self._text(j) in (":", "of", "at", "is"):
                j += 1
            found = self._number(j)
            if found is None:
                return False
            end = found[1] + 1 if self._text(found[1]) == "bpm" else found[1]
            self._add("tempo", found[0], i, end)
            return True
        if token.text == "half" and self._text(i + 1) in ("a", "an") and self._text(i + 2) in _UNITS:
            unit, scale = _UNITS[self._text(i + 2)]
            self._mark_approx(i)
            self._add(unit, 0.5 * scale, i, i + 3)
            return True
        number: tuple[float, int] | None
        if token.text in ("a", "an") and self._text(i + 1) in _UNITS and self._text(i + 1) not in ("m", "s", "h"):
            number = (1.0, i + 1)  # "a minute", "a minute and a half"
        else:
            number = self._number(i)
        if number is None:
            return False
        value, j = number
        if self._text(j) == "bpm" or [self._text(j), self._text(j + 1), self._text(j + 2)] in (
            ["beats", "per", "minute"],
            ["beats", "a", "minute"],
        ):
            end = j + 1 if self._text(j) == "bpm" else j + 3
            self._mark_approx(i)
            self._add("tempo", value, i, end)
            return True
        if self._text(j) == "bit" and value in (8, 16):
            self._add("style", "pop", i, j + 1)
            return True
        if self._text(j) not in _UNITS or not self._free(j):
            return False
        unit, scale = _UNITS[self._text(j)]
        value, j = value * scale, j + 1
        if unit == "seconds" and scale == 60:
            if [self._text(j), self._text(j + 1), self._text(j + 2)] == ["and", "a", "half"]:
                value, j = value + 30, j + 3
            else:
                k = j + 1 if self._text(j) == "and" else j
                more = self._number(k) if self._free(k) else None
                if more is not None and self._text(more[1]) in ("second", "seconds", "sec", "secs", "s"):
                    value, j = value + more[0], more[1] + 1
        self._mark_approx(i)
        if unit == "bars":
            if value != int(value):
                raise InvalidArgumentError(f"a length of {value:g} bars: bars are whole")
            self._add("bars", int(value), i, j)
        else:
            self._add("seconds", value, i, j)
        return True

    def _read_key_at(self, i: int) -> bool:
        token = self.tokens[i]
        match = re.fullmatch(r"([a-g])(#|b)?(m)?", token.text)
        if not match or token.kind != "word":
            return False
        letter, accidental, minor_m = match.groups()
        j = i + 1
        if minor_m and not token.raw[0].isupper():
            return False
        if accidental is None and self._text(j) in ("sharp", "flat"):
            accidental, j = ("#" if self._text(j) == "sharp" else "b"), j + 1
        mode = "min" if minor_m else None
        if mode is None and self._text(j) in ("major", "minor", "maj", "min"):
            mode, j = self._text(j)[:3], j + 1
        start = i
        context = False
        if self._text(i - 1) == "of" and self._text(i - 2) == "key":
            context, start = True, i - 2
            if self._text(start - 1) == "the" and self._text(start - 2) == "in":
                start -= 2
        elif self._text(i - 1) == "key" or (self._text(i - 1) == ":" and self._text(i - 2) == "key"):
            context, start = True, i - 1 if self._text(i - 1) == "key" else i - 2
        elif self._text(i - 1) == "in":
            context, start = accidental is not None or token.raw[0].isupper(), i - 1
        if not (mode or context or (accidental and token.raw[0].isupper() and token.text != "ab")):
            return False
        tonic, found = parse_key(f"{letter}{accidental or ''} {'minor' if mode == 'min' else 'major'}")
        start = start if all(self._free(k) for k in range(start, i)) else i
        self._add("key", key_label(tonic, found), start, j)
        return True

    def _read_meter_at(self, i: int) -> bool:
        token = self.tokens[i]
        if token.kind != "meter":
            return False
        numerator, denominator = (int(x) for x in token.text.split("/"))
        if token.text not in METERS:
            if denominator in (1, 2, 4, 8, 16, 32) and 1 <= numerator <= 32:
                raise InvalidArgumentError(f"meter {token.text} is not one cadenza writes; accepted: {', '.join(METERS)}")
            return False
        end = i + 1
        while self._text(end) in ("time", "signature", "meter"):
            end += 1
        self._add("meter", token.text, i, end)
        return True

    def _lexicon_at(self, i: int) -> tuple[int, list[tuple[str, object]]] | None:
        """The longest lexicon phrase at token i (the last word may be a plural)."""
        for n in range(min(_LONGEST, len(self.tokens) - i), 0, -1):
            span = self.tokens[i : i + n]
            if any(t.used or t.kind != "word" for t in span):
                continue
            words = [t.text for t in span]
            for last in _singulars(words[-1]):
                found = _PHRASES.get((*words[:-1], last))
                if found:
                    return i + n, found
        return None

    def _read_negation_at(self, i: int) -> bool:
        """"no drums", "without piano or bass", "no percussion"; "no loop" is in the lexicon."""
        if self._text(i) not in _NEGATORS:
            return False
        j = i + 1
        while self._text(j) in ("any", "the", "a"):
            j += 1
        found = self._lexicon_at(j)
        if not found or not any(kind == "instrument" for kind, _ in found[1]):
            return False
        self._use(i, j)
        while found and any(kind == "instrument" for kind, _ in found[1]):
            end, what = found
            for kind, names in what:
                if kind == "instrument":
                    for name in names:  # type: ignore[attr-defined]
                        self._add("exclude", name, j, end)
            if self._text(end) in ("or", "nor") and self._free(end):
                self.tokens[end].used = True
                j = end + 1
                found = self._lexicon_at(j)
            else:
                break
        return True

    def _modifier(self, start: int) -> float:
        """The scale of the modifier words just before a mood phrase (marked used)."""
        for words, scale in _MODIFIERS.items():
            first = start - len(words)
            if first >= 0 and all(self._free(first + k) and self._text(first + k) == w for k, w in enumerate(words)):
                self._use(first, start)
                return scale
        return 1.0

    def read(self) -> None:
        for i in range(len(self.tokens)):
            if not self._free(i) or self.tokens[i].kind == "punct":
                continue
            if self._read_number_at(i) or self._read_key_at(i) or self._read_meter_at(i):
                continue
            if self._read_negation_at(i):
                continue
            found = self._lexicon_at(i)
            if found is None:
                continue
            end, what = found
            for kind, value in what:
                if kind == "mood":
                    scale = self._modifier(i)
                    valence, arousal = value  # type: ignore[misc]
                    value = (_scaled(valence, scale), _scaled(arousal, scale))
                if kind == "instrument":
                    for name in value:  # type: ignore[attr-defined]
                        self._add("instrument", name, i, end)
                elif kind != "filler":
                    self._add(kind, value, i, end)
            self._use(i, end)


def _singulars(word: str) -> list[str]:
    forms = [word]
    if word.endswith("es") and len(word) > 4:
        forms.append(word[:-2])
    if word.endswith("s") and len(word) > 3:
        forms.append(word[:-1])
    return forms


def _scaled(value: float | None, scale: float) -> float | None:
    return None if value is None else max(-1.0, min(1.0, value * scale))


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return None if not known else round(sum(known) / len(known), 3)


def _one(facts: list[_Fact], kind: str, what: str, unit: str = "") -> object:
    """The single value the prompt gives for ``kind``, None if none; two different ones
    are refused."""
    values = list(dict.fromkeys(f.value for f in facts if f.kind == kind))
    if len(values) > 1:
        shown = " and ".join(f"{v:g}{unit}" if isinstance(v, (int, float)) else str(v) for v in values)
        raise InvalidArgumentError(f"the prompt gives two {what}: {shown}; give one")
    return values[0] if values else None


# -- sections ------------------------------------------------------------------------------


def _segments(reader: _Reader) -> list[tuple[int, int, str, list[int]]]:
    """The prompt cut at punctuation and at sequence words: (start, end, how it is joined
    to the one before: "cont" | "other", the sequence-word tokens before it)."""
    tokens = reader.tokens
    segments: list[tuple[int, int, str, list[int]]] = []
    start, joined, markers = 0, "other", []
    i = 0
    while i < len(tokens):
        if tokens[i].kind == "punct":
            segments.append((start, i, joined, markers))
            start, joined, markers = i + 1, "other", []
            i += 1
            continue
        cont = _continuation_at(reader, i)
        if cont or (reader._free(i) and tokens[i].text in _START_MARKERS):
            if start < i:
                segments.append((start, i, joined, markers))
                start, joined, markers = i, "other", []
            length = cont or 1
            markers = [*markers, *range(i, i + length)]
            joined = "cont" if cont else joined
            start = i + length
            i += length
            continue
        i += 1
    segments.append((start, len(tokens), joined, markers))
    return segments


def _continuation_at(reader: _Reader, i: int) -> int:
    for phrase in _CONTINUATIONS:
        words = phrase.split()
        if all(reader._free(i + k) and reader._text(i + k) == w for k, w in enumerate(words)):
            return len(words)
    return 0


def _letters(reader: _Reader) -> list[tuple[int, int, str]] | None:
    """An "ABA form" / "AABA": the letters, each as a part of no span."""
    for i, token in enumerate(reader.tokens):
        if not reader._free(i) or not re.fullmatch(r"[abcd]{2,6}", token.text):
            continue
        if token.raw.isupper() or reader._text(i + 1) in ("form", "structure"):
            end = i + 2 if reader._text(i + 1) in ("form", "structure") else i + 1
            reader._use(i, end)
            return [(i, i, letter.upper()) for letter in token.text]
    return None


def _content(reader: _Reader, start: int, end: int) -> list[_Fact]:
    return [f for f in reader.facts if start <= f.start < end and f.kind in ("mood", "curve", "section")]


def _letter_at(reader: _Reader, start: int, end: int) -> str | None:
    """A part that is just a capital letter ("A then B")."""
    if end - start == 1 and re.fullmatch(r"[A-D]", reader.tokens[start].raw):
        return reader.tokens[start].raw
    return None


def _parts(reader: _Reader) -> list[tuple[int, int, str | None]] | None:
    """The spans of the prompt's parts, with a name when it is a bare letter; None when
    the prompt has no parts."""
    segments = _segments(reader)
    for k in range(1, len(segments)):
        if segments[k][2] != "cont":
            continue
        run = [segments[k - 1]]
        while k < len(segments) and segments[k][2] == "cont":
            run.append(segments[k])
            k += 1
        spans = [(s, e, _letter_at(reader, s, e)) for s, e, _, _ in run]
        if all(name or _content(reader, s, e) for s, e, name in spans):
            for _, _, _, markers in run:
                for m in markers:
                    reader.tokens[m].used = True
            for s, e, name in spans:
                if name:
                    reader._use(s, e)
            return spans
    named = [f for f in reader.facts if f.kind == "section"]
    if len(named) >= 2:
        # each name's part: from up to three words before it ("a 4-bar intro") to the
        # next name, within its clause
        punct = [i for i, t in enumerate(reader.tokens) if t.kind == "punct"]
        spans: list[tuple[int, int, str | None]] = []
        for n, fact in enumerate(named):
            start = max([fact.start - 3, 0 if n == 0 else named[n - 1].end, *(p + 1 for p in punct if p < fact.start)])
            ends = [p for p in punct if p >= fact.end] + ([named[n + 1].start] if n + 1 < len(named) else [])
            spans.append((start, min(ends, default=len(reader.tokens)), None))
        return spans
    letters = _letters(reader)
    return None if letters is None else [(s, e, name) for s, e, name in letters]


def _sections(reader: _Reader) -> tuple[list[Section], set[int]] | None:
    """The sections, and the facts (by id) they own."""
    spans = _parts(reader)
    if not spans:
        return None
    owned: set[int] = set()
    drafts = []
    for start, end, letter in spans:
        facts = [f for f in reader.facts if start <= f.start < end and start < end]
        owned |= {id(f) for f in facts if f.kind in ("mood", "curve", "section", "bars", "seconds")}
        moods = [f for f in facts if f.kind == "mood"]
        valence = _mean(f.value[0] for f in moods)  # type: ignore[index]
        arousal = _mean(f.value[1] for f in moods)  # type: ignore[index]
        named = [f for f in facts if f.kind == "section"]
        curves = [f for f in facts if f.kind == "curve"]
        intensity: float | str | None = None
        if curves:
            intensity = str(curves[0].value)
        elif arousal is not None:
            intensity = round(_level_of(arousal), 3)
        elif named:
            intensity = float(named[0].value)  # type: ignore[arg-type]
        name = letter or (named[0].text if named else " ".join(f.text for f in [*moods, *curves][:3]))
        bars = _one([f for f in facts if f.kind == "bars"], "bars", "section lengths", " bars")
        seconds = _one([f for f in facts if f.kind == "seconds"], "seconds", "section lengths", " s")
        drafts.append([name, bars, seconds, valence, arousal, intensity])
    seen: dict[str, int] = {}
    for draft in drafts:  # names are unique: "verse", "verse 2"
        base = str(draft[0])
        seen[base] = seen.get(base, 0) + 1
        if seen[base] > 1:
            draft[0] = f"{base} {seen[base]}"
    sections = [Section(str(d[0]), 0.0, d[1], d[2], d[3], d[4], d[5]) for d in drafts]  # type: ignore[arg-type]
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
    reader = _Reader(text)
    reader.read()
    found = _sections(reader)
    sections, owned = found if found else (None, set())
    if not sections:  # a lone section word ("a YouTube intro") was not used
        for fact in [f for f in reader.facts if f.kind == "section"]:
            reader._use_not(fact.start, fact.end)
            reader.facts.remove(fact)
    whole = [f for f in reader.facts if id(f) not in owned]
    facts = reader.facts

    tempo = _one(whole, "tempo", "tempos", " bpm")
    if tempo is not None:
        tempo = check_tempo(float(tempo))  # type: ignore[arg-type]
    seconds = _one(whole, "seconds", "lengths", " s")
    bars = _one(whole, "bars", "lengths", " bars")
    if seconds is not None and bars is not None:
        raise InvalidArgumentError(f"the prompt gives the length twice: {bars} bars and {seconds:g} s; give one")
    if sections:
        section_bars = [s.bars for s in sections]
        section_seconds = [s.seconds for s in sections]
        if seconds is None and bars is None and None not in section_bars:
            bars = sum(section_bars)  # type: ignore[arg-type]
        elif seconds is None and bars is None and None not in section_seconds:
            seconds = sum(section_seconds)  # type: ignore[arg-type]
        for s in sections:
            _check_length(s.seconds, s.bars, f"section {s.name!r}: ")
        sections = _with_shares(sections, bars, seconds)  # type: ignore[arg-type]
    _check_length(seconds, bars)  # type: ignore[arg-type]

    instruments = list(dict.fromkeys(str(f.value) for f in facts if f.kind == "instrument"))
    excluded = list(dict.fromkeys(str(f.value) for f in facts if f.kind == "exclude"))
    both = [name for name in instruments if name in excluded]
    if both:
        raise InvalidArgumentError(f"the prompt both asks for and excludes {', '.join(both)}")
    loops = [bool(f.value) for f in facts if f.kind == "loop"]
    styles = [str(f.value) for f in facts if f.kind == "style"]
    moods = [f for f in facts if f.kind == "mood"]
    curves = [str(f.value) for f in whole if f.kind == "curve"]
    reading = PromptReading(
        tempo=tempo,  # type: ignore[arg-type]
        seconds=None if seconds is None else float(seconds),  # type: ignore[arg-type]
        bars=bars,  # type: ignore[arg-type]
        key=_one(facts, "key", "keys"),  # type: ignore[arg-type]
        meter=_meter(facts),
        instruments=tuple(instruments),
        exclude_instruments=tuple(excluded),
        loop=None if not loops else loops[-1],
        style=max(dict.fromkeys(styles), key=styles.count) if styles else None,
        valence=_mean(f.value[0] for f in moods),  # type: ignore[index]
        arousal=_mean(f.value[1] for f in moods),  # type: ignore[index]
        intensity=curves[0] if curves else None,
        sections=None if not sections else tuple(sections),
        unused=tuple(t.text for t in reader.tokens if not t.used and t.kind != "punct" and t.text not in STOPWORDS),
    )
    if reading.seconds is not None and reading.bars is None:
        _check_bars(reading.resolved_bars(), f"{reading.seconds:g} s at {reading.resolved_tempo():g} bpm")
    return reading


def _meter(facts: list[_Fact]) -> str | None:
    """An explicit meter wins over a word that implies one ("a waltz in 6/8")."""
    explicit = [f for f in facts if f.kind == "meter" and "/" in f.text]
    return _one(explicit or facts, "meter", "meters")  # type: ignore[return-value]


def _check_length(seconds: float | None, bars: int | None, what: str = "") -> None:
    low, high = SECONDS_RANGE
    if seconds is not None and not low <= seconds <= high:
        raise InvalidArgumentError(f"{what}a length of {seconds:g} s is outside {low:g}..{high:g} s")
    if bars is not None:
        _check_bars(bars, f"{what}{bars} bars")


def _check_bars(bars: int, what: str) -> None:
    if not 1 <= bars <= MAX_BARS:
        raise InvalidArgumentError(f"{what} is outside 1..{MAX_BARS} bars")
