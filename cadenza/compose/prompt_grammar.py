"""The prompt reader's grammar: the prompt as tokens, and what each run of tokens says.

:class:`Reader` walks the tokens once, left to right; at each unread token it tries, in
order, a tempo or a length (numbers in digits or words with their unit), a key, a meter,
an excluded instrument ("no drums"), then the longest phrase of the lexicon
(:mod:`cadenza.compose.prompt_words`), and records what it found as :class:`Fact`\\ s with
their token span. :func:`parts` then finds the prompt's parts ("calm, then explosive",
"verse chorus verse chorus", "ABA form"). :mod:`cadenza.compose.prompt` makes the plan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from cadenza.compose.conditions import METERS
from cadenza.compose.prompt_words import phrases
from cadenza.errors import InvalidArgumentError
from cadenza.theory import key_label, parse_key

__all__ = ["Fact", "Mood", "Reader", "mean", "one", "one_number", "parts"]

# -- the grammar's own words (the lexicon is in prompt_words) ------------------------

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
    "ending on",
    "ending in",
    "ends in",
    "ends on",
    "ends",
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

_NUMBER_WORDS = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen"
_ONES = {w: i for i, w in enumerate([*_NUMBER_WORDS.split(), "sixteen", "seventeen", "eighteen", "nineteen"])}
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety"
_TENS = {w: 20 + 10 * i for i, w in enumerate(_TENS_WORDS.split())}
_LARGEST = 1e9  # no tempo, length or count of bars comes near
_UNITS = {
    **dict.fromkeys(["minute", "minutes", "min", "mins", "m"], ("seconds", 60.0)),
    **dict.fromkeys(["second", "seconds", "sec", "secs", "s"], ("seconds", 1.0)),
    **dict.fromkeys(["hour", "hours", "hr", "hrs", "h"], ("seconds", 3600.0)),
    **dict.fromkeys(["bar", "bars", "measure", "measures"], ("bars", 1.0)),
}


_PHRASES = phrases()
_LONGEST = max(len(p) for p in _PHRASES)

# -- tokens --------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"(?P<time>\d{1,2}:[0-5]\d)(?!\d)"
    r"|(?P<meter>\d{1,2}/\d{1,2})(?![\d/])"
    r"|(?P<num>(?<![\w.])-\d+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"|(?P<word>[^\W\d_]+(?:'[^\W\d_]+)?#?)"  # letters, accented ones too
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


# -- the reader ----------------------------------------------------------------------------


Mood = tuple[float | None, float | None]  # valence, arousal


@dataclass
class Fact:
    # tempo | seconds | bars | key | meter | instrument | member (of a group) | exclude | loop | style | mood |
    # curve | section
    kind: str
    value: object
    start: int  # token span
    end: int
    text: str = ""

    @property
    def number(self) -> float:
        return float(cast(float, self.value))

    @property
    def mood(self) -> Mood:
        return cast(Mood, self.value)

    @property
    def names(self) -> tuple[str, ...]:
        return cast(tuple[str, ...], self.value)


class Reader:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.facts: list[Fact] = []

    # token helpers
    def _text(self, i: int) -> str:
        return self.tokens[i].text if 0 <= i < len(self.tokens) else ""

    def _free(self, i: int) -> bool:
        return 0 <= i < len(self.tokens) and not self.tokens[i].used

    def _use(self, start: int, end: int) -> None:
        for t in self.tokens[start:end]:
            t.used = True

    def unuse(self, start: int, end: int) -> None:
        for t in self.tokens[start:end]:
            t.used = False

    def _add(self, kind: str, value: object, start: int, end: int) -> None:
        self._use(start, end)
        text = " ".join(t.text for t in self.tokens[start:end])
        self.facts.append(Fact(kind, value, start, end, text))

    def _mark_approx(self, start: int) -> None:
        """ "about" / "around" before a number: read (the number stays as it is)."""
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
            if abs(value) > _LARGEST:
                raise InvalidArgumentError(f"the number {token.text[:12]}... ({len(token.text)} digits) is too large")
        elif (
            token.text in _ONES or token.text in _TENS or (token.text in ("a", "an") and self._text(i + 1) == "hundred")
        ):
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
            if token.raw == "a" and self._text(j + 1) in ("key", "mode", "feel", "tonality"):
                return False  # "in a minor key": an article, and a mode without a tonic
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
                raise InvalidArgumentError(
                    f"meter {token.text} is not one cadenza writes; accepted: {', '.join(METERS)}"
                )
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
        """ "no drums", "without piano or bass", "no percussion"; "no loop" is in the lexicon."""
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
                    for name in cast(tuple[str, ...], names):
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
            if self._text(i) == "ending" and self._text(end) in ("with", "on", "in"):
                continue  # "ending with ...": a sequence word, not the section "ending"
            for kind, value in what:
                if kind == "mood":
                    scale = self._modifier(i)
                    valence, arousal = cast(Mood, value)
                    value = (_scaled(valence, scale), _scaled(arousal, scale))
                if kind == "instrument":
                    names = cast(tuple[str, ...], value)
                    for name in names:  # a group ("orchestra") gives members an exclusion may take out
                        self._add("instrument" if len(names) == 1 else "member", name, i, end)
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


def mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return None if not known else round(sum(known) / len(known), 3)


def one(facts: list[Fact], kind: str, what: str, unit: str = "") -> object:
    """The single value the prompt gives for ``kind``, None if none; two different ones
    are refused."""
    values = list(dict.fromkeys(f.value for f in facts if f.kind == kind))
    if len(values) > 1:
        shown = " and ".join(f"{v:g}{unit}" if isinstance(v, int | float) else str(v) for v in values)
        raise InvalidArgumentError(f"the prompt gives two {what}: {shown}; give one")
    return values[0] if values else None


def one_number(facts: list[Fact], kind: str, what: str, unit: str = "") -> float | None:
    value = one(facts, kind, what, unit)
    return None if value is None else float(cast(float, value))


# -- sections ------------------------------------------------------------------------------


def _segments(reader: Reader) -> list[tuple[int, int, str, list[int]]]:
    """The prompt cut at punctuation and at sequence words: (start, end, how it is joined
    to the one before: "cont" | "other", the sequence-word tokens before it)."""
    tokens = reader.tokens
    segments: list[tuple[int, int, str, list[int]]] = []
    start, joined = 0, "other"
    markers: list[int] = []
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


def _continuation_at(reader: Reader, i: int) -> int:
    for phrase in _CONTINUATIONS:
        words = phrase.split()
        if all(reader._free(i + k) and reader._text(i + k) == w for k, w in enumerate(words)):
            return len(words)
    return 0


def _letters(reader: Reader) -> list[tuple[int, int, str]] | None:
    """An "ABA form" / "AABA": the letters, each as a part of no span."""
    for i, token in enumerate(reader.tokens):
        if not reader._free(i) or not re.fullmatch(r"[abcd]{2,6}", token.text):
            continue
        if token.raw.isupper() or reader._text(i + 1) in ("form", "structure"):
            end = i + 2 if reader._text(i + 1) in ("form", "structure") else i + 1
            reader._use(i, end)
            return [(i, i, letter.upper()) for letter in token.text]
    return None


def _content(reader: Reader, start: int, end: int) -> list[Fact]:
    return [f for f in reader.facts if start <= f.start < end and f.kind in ("mood", "curve", "section")]


def _letter_at(reader: Reader, start: int, end: int) -> str | None:
    """A part that is just a capital letter ("A then B")."""
    if end - start == 1 and re.fullmatch(r"[A-D]", reader.tokens[start].raw):
        return reader.tokens[start].raw
    return None


def parts(reader: Reader) -> list[tuple[int, int, str | None]] | None:
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
        spans: list[tuple[int, int, str | None]] = []
        for s, e, _, _ in run:
            name = _letter_at(reader, s, e)
            if name or _content(reader, s, e):
                spans.append((s, e, name))
            elif spans:  # a part that names no mood joins the one before ("then full band")
                spans[-1] = (spans[-1][0], e, spans[-1][2])
        if len(spans) >= 2:
            for _, _, _, markers in run:
                for m in markers:
                    reader.tokens[m].used = True
            for s, e, name in spans:
                if name:
                    reader._use(s, e)
            return spans
    named = [f for f in reader.facts if f.kind == "section"]
    if len(named) >= 2:
        # each name's part: from up to three words before it ("a 4-bar intro", "a tense
        # middle") to where the next one's starts, within its clause
        punct = [i for i, t in enumerate(reader.tokens) if t.kind == "punct"]
        starts = [
            max([fact.start - 3, 0 if n == 0 else named[n - 1].end, *(p + 1 for p in punct if p < fact.start)])
            for n, fact in enumerate(named)
        ]
        named_spans: list[tuple[int, int, str | None]] = []
        for n, fact in enumerate(named):
            ends = [p for p in punct if p >= fact.end] + starts[n + 1 : n + 2]
            named_spans.append((starts[n], min(ends, default=len(reader.tokens)), None))
        return named_spans
    letters = _letters(reader)
    return None if letters is None else [(s, e, name) for s, e, name in letters]
