"""A user's sketch as the composer commands see it: its bar grid, keys, tracks and roles.

The bars are those of the file: counted from tick 0 in the meter the file states there
(the one the multitrack tokens write; where it states none, or one they do not write,
the meter the analysis hears), so that bar 1 is the file's first bar, lead-in included.
Keys come from the analysis (:func:`cadenza.analysis.key_segments`), bar by bar; a bar
past the end takes the last key. Roles: the one a track's name or program states (a
Soprano, a MELODY, a bass), else the one the analysis hears from its notes.

Requests a user writes (``--bars 9-12``, ``--tracks Piano,2``) are checked here, and
refused in one line naming what is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import numpy as np
import symusic

from cadenza.errors import InvalidArgumentError
from cadenza.models import multitrack_tokens as mt
from cadenza.theory import KEY_SCALES

__all__ = ["Sketch", "parse_bars", "pickup_padding", "without_padding"]

_BARS = re.compile(r"\s*(\d{1,7})\s*(?:(?:-|\.\.)\s*(\d{1,7}))?\s*")


def parse_bars(text: str) -> range:
    """``"9-12"`` (bars 9 to 12, counted from 1) or ``"5"`` -> ``range(8, 12)`` / ``range(4, 5)``."""
    match = _BARS.fullmatch(text)
    if not match:
        raise InvalidArgumentError(f"--bars {text[:40]!r} is not a bar or a range of bars like 9-12")
    first = int(match.group(1))
    last = int(match.group(2) or first)
    if first < 1 or last < first:
        raise InvalidArgumentError(f"--bars {text[:40]!r}: bars count from 1, the first no later than the last")
    return range(first - 1, last)


@dataclass(frozen=True)
class Sketch:
    """A user's score (tick time, its own ticks per quarter) and what the commands need to know of it."""

    score: symusic.Score

    @classmethod
    def of(cls, score: symusic.Score) -> Sketch:
        score = score if type(score).__name__ == "ScoreTick" else score.to("tick")
        if not any(len(t.notes) for t in score.tracks):
            raise InvalidArgumentError("the file has no notes to work from")
        return cls(score)

    @cached_property
    def meter(self) -> str:
        return mt._meter(self.score)

    @cached_property
    def bar_ticks(self) -> float:
        """Ticks of the score per bar (not a whole number at some ticks per quarter)."""
        return mt.bar_ticks(self.meter) * self.score.ticks_per_quarter / mt.RESOLUTION

    def bar_start(self, bar: int) -> int:
        return round(bar * self.bar_ticks)

    @cached_property
    def bars(self) -> int:
        """Bars up to the bar of the last note's end (a held last chord counts)."""
        end = max((n.time + n.duration for t in self.score.tracks for n in t.notes), default=1)
        return max(1, int(np.ceil(end / self.bar_ticks - 1e-9)))

    @cached_property
    def roles(self) -> list[str]:
        return mt._track_roles(self.score)

    def pitched(self) -> list[int]:
        """The tracks that are not drums."""
        return [i for i, t in enumerate(self.score.tracks) if not t.is_drum]

    @cached_property
    def melody(self) -> int | None:
        """The track that carries the tune: one whose role is melody (the first), else
        the only pitched track with notes; None when there is none."""
        with_notes = [i for i in self.pitched() if len(self.score.tracks[i].notes)]
        named = [i for i in with_notes if self.roles[i] == "melody"]
        if named:
            return named[0]
        return with_notes[0] if len(with_notes) == 1 else None

    @cached_property
    def keys(self) -> list[tuple[int, str]]:
        """(tonic, mode) of every bar, as the analysis hears it (:func:`cadenza.analysis.key.bar_keys`)."""
        from cadenza.analysis.key import bar_keys

        return bar_keys(self.score, self.bar_ticks, self.bars)

    @cached_property
    def beats_per_bar(self) -> int:
        return int(self.meter.split("/")[0])

    @cached_property
    def beat_chords(self) -> list[str]:
        """The chord the analysis hears on each beat of the bar grid (Harte labels, "N": none)."""
        from cadenza.analysis.chords import grid_chords

        return grid_chords(self.score, self.bar_ticks, self.beats_per_bar, self.bars)

    def key_at(self, bar: int) -> tuple[int, str]:
        return self.keys[min(bar, len(self.keys) - 1)]

    def scale_at(self, bar: int) -> frozenset[int]:
        """The pitch classes a melody in the bar's key may use (:data:`cadenza.theory.KEY_SCALES`)."""
        tonic, mode = self.key_at(bar)
        return frozenset((tonic + step) % 12 for step in KEY_SCALES[mode])

    def check_bars(self, bars: range, *, past_end: int = 0) -> range:
        """``bars`` if they lie in the piece (or up to ``past_end`` bars after it)."""
        if bars.start >= self.bars + past_end or bars.stop > self.bars + past_end:
            raise InvalidArgumentError(
                f"bars {bars.start + 1}-{bars.stop} are outside the piece, which has {self.bars} bars of {self.meter}"
            )
        return bars

    def track(self, name: str) -> int:
        """A track by name (case ignored) or by number counted from 1."""
        wanted = name.strip()
        names = [t.name.strip().lower() for t in self.score.tracks]
        same = [i for i, n in enumerate(names) if n == wanted.lower()]
        if len(same) > 1:
            numbers = ", ".join(str(i + 1) for i in same)
            raise InvalidArgumentError(
                f"tracks {numbers} are all named {wanted[:40]!r}; give the track's number instead"
            )
        if same:
            return same[0]
        if wanted.isdigit() and 1 <= int(wanted) <= len(names):
            return int(wanted) - 1
        listed = ", ".join(f"{i + 1} {t.name or '(unnamed)'}" for i, t in enumerate(self.score.tracks))
        raise InvalidArgumentError(f"no track {wanted[:40]!r} in the file; its tracks are: {listed}")

    def tracks(self, names: Sequence[str]) -> list[int]:
        return sorted({self.track(n) for n in names})

    def notes_in(self, track: int, bars: range) -> int:
        notes = self.score.tracks[track].notes.numpy()["time"]
        return int(((notes >= self.bar_start(bars.start)) & (notes < self.bar_start(bars.stop))).sum())


def pickup_padding(score: symusic.Score) -> tuple[symusic.Score, int]:
    """A score that begins with a pickup (a short first bar in its own meter, as a MIDI
    file or cadenza's MusicXML reader states one) moved right by the ticks that make the
    pickup the end of a whole bar in the piece's meter, stated from tick 0; and those
    ticks (0, and the score itself, where there is no pickup). The bar grid then has the
    pickup as its bar 1 and every later bar line where the music has it."""
    from cadenza.io.notation_grid import Meter

    score = score if type(score).__name__ == "ScoreTick" else score.to("tick")
    pickup = Meter.of(score).pickup()
    signatures = sorted(score.time_signatures, key=lambda ts: ts.time)
    if pickup is None or len(signatures) < 2:
        return score, 0
    main = signatures[1]
    tpq = score.ticks_per_quarter
    pad = round((Fraction(4 * main.numerator, main.denominator) - pickup) * tpq)
    if pad <= 0:
        return score, 0
    padded = score.shift_time(pad)
    padded.time_signatures.clear()
    padded.time_signatures.append(symusic.TimeSignature(0, main.numerator, main.denominator))
    for ts in signatures[2:]:
        padded.time_signatures.append(symusic.TimeSignature(ts.time + pad, ts.numerator, ts.denominator))
    for events, copy in ((padded.tempos, score.tempos), (padded.key_signatures, score.key_signatures)):
        first = [e for e in copy if e.time == 0]
        for event in first:  # what holds from the start holds over the padding too
            moved = event.copy()
            moved.time = 0
            events.append(moved)
    return padded, pad


def without_padding(result: symusic.Score, original: symusic.Score, pad: int) -> symusic.Score:
    """``result`` (written on :func:`pickup_padding`'s score) moved back onto the user's
    timeline, with the user's own tempo, meter, key and marker events; notes written
    before the music begins are left out."""
    if pad == 0:
        return result
    out = original.copy()
    out.tracks.clear()
    for track in result.tracks:
        moved = track.shift_time(-pad)
        kept = [n for n in moved.notes if n.time >= 0]
        moved.notes.clear()
        moved.notes.extend(kept)
        out.tracks.append(moved)
    return out
