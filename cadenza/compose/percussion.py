"""A percussion layer written by rule, bar by bar, from the cue's plan.

cadenza's multitrack model learned from POP909, which has no drums, and the project has
no drum corpus to learn from: so the drums are rules, like a session drummer's chart.
Each meter has a groove (where the kick, the backbeat and the felt beats fall) and each
style a kit (which General MIDI percussion keys play those roles); the bar's intensity
picks how much of the kit plays:

====================  ==========================================================
intensity             what plays
====================  ==========================================================
below 0.2             nothing (the pad and the melody carry a quiet passage)
0.2 ..                the pulse (hat, shaker, triangle) on the felt beats
0.4 ..                kick and backbeat, the pulse in eighths
0.6 ..                the full kit: a syncopated kick, an open hat before the bar line
0.8 ..                sixteenths and the ride (or its style's stand-in) on the beats
====================  ==========================================================

The velocity grows with the intensity too. A section's last bar ends with a fill when
the next section is at least as intense (and its drums play): a fill into a calmer or
silent section would announce what does not come. A section's first bar opens with a
crash and a kick, unless its drums are silent (a calm section does not begin with a
cymbal). At each hit point (a tick anywhere, not only on a beat) a crash and a kick
sound exactly there, loud, whatever the intensity. Timing is exact on the grid (hits
must be); only the velocity is humanised, from ``numpy.random.default_rng(seed)``, so
the same bars, style and seed give the same notes.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.compose.arrange import TPQ
from cadenza.compose.bar_grid import GridBar, check_bars
from cadenza.errors import InvalidArgumentError

__all__ = ["GROOVES", "KITS", "LEVELS", "GM_PERCUSSION", "Groove", "Kit", "level", "percussion_track"]

GM_PERCUSSION = range(35, 82)  # the General MIDI percussion keys (channel 10)
LEVELS = (0.2, 0.4, 0.6, 0.8)  # intensities where a level of the table above begins
DRUM_TICKS = TPQ // 8  # a drum note's length (GM drum sounds ignore the note-off)
HIT_VELOCITY = 112
_JITTER = 4  # velocity humanisation: +- this much


@dataclass(frozen=True)
class Groove:
    """Where a meter's roles fall, in units of its denominator's note (6/8: eighths)."""

    beats: tuple[float, ...]  # the felt beats (6/8: two dotted quarters)
    kick: tuple[float, ...]
    snare: tuple[float, ...]  # the backbeat
    extra_kick: tuple[float, ...]  # the full kit's syncopated kick


GROOVES: dict[str, Groove] = {
    "4/4": Groove((0, 1, 2, 3), (0, 2), (1, 3), (2.5,)),
    "3/4": Groove((0, 1, 2), (0,), (1, 2), (2.5,)),
    "2/4": Groove((0, 1), (0,), (1,), (1.5,)),
    "6/8": Groove((0, 3), (0,), (3,), (5,)),
    "12/8": Groove((0, 3, 6, 9), (0, 6), (3, 9), (8,)),
    "3/8": Groove((0,), (0,), (), (2,)),  # one beat a bar: no backbeat
    "5/4": Groove((0, 1, 2, 3, 4), (0, 3), (2, 4), (1.5,)),  # 3 + 2
    "6/4": Groove((0, 1, 2, 3, 4, 5), (0, 3), (2, 5), (4.5,)),  # 3 + 3
}


@dataclass(frozen=True)
class Kit:
    """The GM percussion key of each role in a style (``snare`` None: no backbeat)."""

    kick: int
    snare: int | None
    pulse: int  # the felt beats, then the eighths
    fine: int  # the sixteenths at the top
    accent: int  # the full kit's offbeat before the bar line
    top: int  # the top level's beats
    crash: int
    fill: tuple[int, ...]  # a fill runs through these, high to low


KITS: dict[str, Kit] = {
    # a backbeat kit: kick, snare, hats, ride, crash, toms
    "pop": Kit(36, 38, 42, 42, 46, 51, 49, (50, 48, 45, 41)),
    # acoustic: side stick, shaker, tambourine, hand clap
    "folk": Kit(36, 37, 70, 70, 39, 54, 49, (47, 45, 43, 41)),
    # orchestral: gran cassa, snare (a roll for a fill), triangles, suspended cymbal
    "classical": Kit(35, 38, 80, 80, 81, 51, 49, (38,)),
    # sparse: bass drum and triangle, no backbeat, a low tom roll for a timpani
    "chorale": Kit(35, None, 80, 80, 81, 51, 49, (43, 41)),
    # tabor and frame drum (congas), tambourine, finger cymbals (triangle, splash)
    "early": Kit(64, 63, 54, 54, 81, 81, 55, (62, 63)),
}


def level(intensity: float) -> int:
    """0 (no drums) .. 4 (sixteenths and ride): the row of the module's table."""
    return bisect.bisect_right(LEVELS, intensity)


def _groove_events(bar: GridBar, groove: Groove, kit: Kit, lvl: int) -> list[tuple[int, int, float]]:
    """(tick in the bar, key, weight of the velocity) of the groove at level ``lvl``."""
    unit = TPQ * 4 // bar.denominator
    eighth, sixteenth = TPQ // 2, TPQ // 4
    beat_ticks = {round(b * unit) for b in groove.beats}
    events: list[tuple[int, int, float]] = []
    if lvl == 1:
        events += [(t, kit.pulse, 0.6) for t in sorted(beat_ticks)]
    elif lvl in (2, 3):
        events += [(t, kit.pulse, 0.7 if t in beat_ticks else 0.55) for t in range(0, bar.ticks, eighth)]
    elif lvl == 4:
        events += [(t, kit.fine, 0.7 if t in beat_ticks else 0.5) for t in range(0, bar.ticks, sixteenth)]
        events += [(t, kit.top, 0.8) for t in sorted(beat_ticks)]
    if lvl >= 2:
        events += [(round(k * unit), kit.kick, 1.0) for k in groove.kick]
        if kit.snare is not None:
            events += [(round(s * unit), kit.snare, 0.95) for s in groove.snare]
    if lvl >= 3:
        events += [(round(k * unit), kit.kick, 0.8) for k in groove.extra_kick]
        accent = (bar.ticks - 1) // eighth * eighth  # the last eighth: the open hat takes the closed hat's place
        events = [e for e in events if e[0] != accent or e[1] not in (kit.pulse, kit.fine)]
        events += [(accent, kit.accent, 0.7)]
    return [e for e in events if 0 <= e[0] < bar.ticks]


def _fill(
    bar: GridBar, groove: Groove, kit: Kit, lvl: int, events: list[tuple[int, int, float]]
) -> list[tuple[int, int, float]]:
    """The bar's last felt beat (the last two at the top level) as sixteenths down the
    kit's fill keys, in a crescendo; the backbeat, accent and ride in that span give way
    to it, the pulse and kick go on (so a fill always adds notes)."""
    unit = TPQ * 4 // bar.denominator
    first = groove.beats[-2] if lvl == 4 and len(groove.beats) >= 3 else groove.beats[-1]
    start = round(first * unit)
    ticks = list(range(start, bar.ticks, TPQ // 4))
    if not ticks:
        return events
    gone = {kit.snare, kit.accent, kit.top} - {kit.pulse, kit.fine, kit.kick}
    kept = [e for e in events if e[0] < start or e[1] not in gone]
    keys = kit.fill
    fill = [(t, keys[i * len(keys) // len(ticks)], 0.6 + 0.4 * i / len(ticks)) for i, t in enumerate(ticks)]
    return kept + fill


def percussion_track(bars: Sequence[GridBar], style: str, seed: int, hits: Sequence[int] = ()) -> symusic.Track:
    """A General MIDI drum track (``is_drum``, program 0, name "drums") for ``bars`` in
    ``style`` (a key of :data:`KITS`), with a crash and a kick exactly at each tick of
    ``hits`` (module docstring). Raises :class:`InvalidArgumentError` for an unknown
    style or meter, a grid :func:`check_bars` refuses, or a hit outside the bars."""
    if style not in KITS:
        raise InvalidArgumentError(f"percussion style {style[:40]!r} is not one of {', '.join(KITS)}")
    check_bars(bars)
    kit = KITS[style]
    notes: dict[tuple[int, int], float] = {}  # (tick, key) -> velocity (the louder of two)

    def add(time: int, key: int, velocity: float) -> None:
        notes[time, key] = max(velocity, notes.get((time, key), 0.0))

    for index, bar in enumerate(bars):
        if bar.meter not in GROOVES:
            raise InvalidArgumentError(f"bar {index}: meter {bar.meter} has no groove (meters: {', '.join(GROOVES)})")
        groove, lvl = GROOVES[bar.meter], level(bar.intensity)
        events = _groove_events(bar, groove, kit, lvl)
        after = bars[index + 1] if index + 1 < len(bars) else None
        if bar.section_end and after is not None and after.intensity >= bar.intensity and level(after.intensity) >= 1:
            events = _fill(bar, groove, kit, lvl, events)
        if bar.section_start and lvl >= 1:  # the crash hand leaves the pulse
            events = [e for e in events if e[0] != 0 or e[1] not in (kit.pulse, kit.fine, kit.top)]
            events += [(0, kit.crash, 1.0), (0, kit.kick, 1.0)]
        base = 40 + 70 * bar.intensity
        for offset, key, weight in events:
            add(bar.start + offset, key, base * weight)
    starts = [bar.start for bar in bars]
    span = f"ticks {bars[0].start}..{bars[-1].end}" if bars else "no bars"
    for hit in hits:
        index = bisect.bisect_right(starts, hit) - 1
        if index < 0 or hit >= bars[index].end:
            raise InvalidArgumentError(f"hit point at tick {hit} lies outside the bars ({span})")
        add(hit, kit.crash, HIT_VELOCITY)
        add(hit, kit.kick, HIT_VELOCITY)
    rng = np.random.default_rng(seed)
    track = symusic.Track(name="drums", program=0, is_drum=True)
    for (time, key), velocity in sorted(notes.items()):
        jitter = int(rng.integers(-_JITTER, _JITTER + 1))
        track.notes.append(symusic.Note(time, DRUM_TICKS, key, int(np.clip(round(velocity) + jitter, 1, 127))))
    return track
