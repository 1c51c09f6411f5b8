"""The rule-based layers of a soundtrack: percussion (no drum corpus to learn from) and pad."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from cadenza.compose.arrange import TPQ
from cadenza.compose.bar_grid import GridBar
from cadenza.compose.conditions import METERS
from cadenza.compose.pad import movement, pad_track
from cadenza.compose.percussion import GM_PERCUSSION, GROOVES, KITS, percussion_track
from cadenza.data.tokens import STYLES
from cadenza.errors import InvalidArgumentError
from cadenza.theory import chord_pitch_classes


def grid(meter="4/4", intensities=(0.5,) * 4, chords=None, starts=(), ends=(), key=(0, "maj"), last_ticks=None):
    numerator, denominator = map(int, meter.split("/"))
    bar_ticks = numerator * TPQ * 4 // denominator
    bars, start = [], 0
    for i, intensity in enumerate(intensities):
        ticks = last_ticks if last_ticks is not None and i == len(intensities) - 1 else bar_ticks
        chord = chords[i] if chords is not None else "C:maj"
        bars.append(
            GridBar(start, ticks, numerator, denominator, float(intensity), chord, *key, i in starts, i in ends)
        )
        start += ticks
    return bars


def per_bar(track, bars):
    counts = Counter(next(i for i, b in enumerate(bars) if b.start <= n.time < b.end) for n in track.notes)
    return [counts.get(i, 0) for i in range(len(bars))]


def test_every_meter_has_a_groove_and_every_style_a_kit():
    assert set(GROOVES) == set(METERS)
    assert set(KITS) == {s for s in STYLES if s != "other"}


@pytest.mark.parametrize("style", sorted(KITS))
@pytest.mark.parametrize("meter", METERS)
def test_drums_grow_with_intensity(meter, style):
    bars = grid(meter, np.linspace(0.1, 1.0, 8))
    track = percussion_track(bars, style, seed=3)
    assert track.is_drum and track.program == 0 and track.name == "drums"
    assert all(n.pitch in GM_PERCUSSION for n in track.notes)
    counts = per_bar(track, bars)
    assert counts[0] == 0  # below 0.2: the drums rest
    assert all(a <= b for a, b in itertools.pairwise(counts)), counts
    assert counts[-1] > counts[1] > 0
    loudness = [np.mean([n.velocity for n in track.notes if b.start <= n.time < b.end]) for b in bars[1:]]
    assert loudness[-1] > loudness[0] + 20


@pytest.mark.parametrize("meter", ["4/4", "6/8", "5/4"])
def test_crash_at_section_starts_and_exactly_at_hits(meter):
    bars = grid(meter, [0.5] * 8, starts=(0, 4))
    hits = [1234, bars[5].start + 7, bars[7].end - 1]  # off the beat grid, to the tick
    crash, kick = KITS["pop"].crash, KITS["pop"].kick
    track = percussion_track(bars, "pop", seed=0, hits=hits)
    crashes = sorted(n.time for n in track.notes if n.pitch == crash)
    assert crashes == sorted([bars[0].start, bars[4].start, *hits])
    kicks = {n.time for n in track.notes if n.pitch == kick}
    assert set(hits) <= kicks
    assert all(n.velocity >= 100 for n in track.notes if n.time in hits)


def test_a_hit_sounds_even_where_the_drums_rest():
    bars = grid("4/4", [0.0] * 2)
    track = percussion_track(bars, "chorale", seed=0, hits=[2000])
    assert sorted((n.time, n.pitch) for n in track.notes) == [(2000, 35), (2000, 49)]


@pytest.mark.parametrize("style", sorted(KITS))
@pytest.mark.parametrize("meter", METERS)
@pytest.mark.parametrize("intensity", [0.3, 0.5, 0.7, 0.9])
def test_fill_into_a_section_at_least_as_intense(meter, style, intensity):
    bars = grid(meter, [intensity] * 3, starts=(2,), ends=(1,))
    counts = per_bar(percussion_track(bars, style, seed=1), bars)
    assert counts[1] > counts[0]
    calmer = grid(meter, [intensity, intensity, intensity - 0.25], starts=(2,), ends=(1,))
    counts = per_bar(percussion_track(calmer, style, seed=1), calmer)
    assert counts[1] == counts[0]  # no fill into a calmer section


def test_same_input_same_notes_and_the_seed_moves_only_velocities():
    bars = grid("12/8", np.linspace(0.2, 1.0, 6), starts=(0, 3), ends=(2,))
    one, again, other = (percussion_track(bars, "folk", seed=s, hits=[100]) for s in (7, 7, 8))
    assert list(one.notes) == list(again.notes)
    assert [(n.time, n.pitch) for n in one.notes] == [(n.time, n.pitch) for n in other.notes]
    assert [n.velocity for n in one.notes] != [n.velocity for n in other.notes]


def test_a_short_last_bar_keeps_its_notes_inside_it():
    bars = grid("4/4", [0.7, 0.7], last_ticks=700)
    track = percussion_track(bars, "pop", seed=0)
    assert max(n.time for n in track.notes) < bars[-1].end
    assert all(n.time % (TPQ // 2) == 0 for n in track.notes)  # on the eighths' grid, the open hat too


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: percussion_track(grid(), "polka", 0), "polka"),
        (lambda: percussion_track(grid(), "pop", 0, hits=[4 * 1920]), "outside"),
        (lambda: percussion_track(grid("7/8"), "pop", 0), "7/8"),
        (lambda: percussion_track([*grid()[:1], grid()[2]], "pop", 0), "follow"),
        (lambda: pad_track(grid(intensities=[1.5]), 89), "intensity"),
        (lambda: pad_track(grid(), 89, low=60, high=70), "octave"),
        (lambda: pad_track(grid(chords=["C:maj", "H:min", "C:maj", "C:maj"]), 89), "H:min"),
    ],
)
def test_bad_input_is_refused_in_one_line(call, words):
    with pytest.raises(InvalidArgumentError, match=words):
        call()


def sounding(track, tick):
    return sorted(n.pitch for n in track.notes if n.time <= tick < n.time + n.duration)


def check_pad(track, bars, low, high):
    """Each bar: its chord's tones sound from its first tick to its last, in range."""
    for bar in bars:
        whole = sorted(n.pitch for n in track.notes if n.time <= bar.start and n.time + n.duration >= bar.end)
        assert whole == sounding(track, bar.start) == sounding(track, bar.end - 1)
        assert 3 <= len(whole) <= 4 and all(low <= p <= high for p in whole)
        if bar.chord not in (None, "N"):
            assert {p % 12 for p in whole} == chord_pitch_classes(bar.chord)


def test_pad_i_iv_v_i_is_held_and_moves_little():
    bars = grid("4/4", [0.2, 0.4, 0.6, 0.8], chords=["C:maj", "F:maj", "G:maj", "C:maj"])
    track = pad_track(bars, 89)
    assert track.program == 89 and track.name == "pad" and not track.is_drum
    check_pad(track, bars, 48, 79)
    voicings = [sounding(track, b.start) for b in bars]
    assert all(movement(tuple(a), tuple(b)) <= 6 for a, b in itertools.pairwise(voicings))
    velocities = [n.velocity for n in track.notes]
    assert 40 <= min(velocities) < max(velocities) <= 90
    assert list(pad_track(bars, 89).notes) == list(track.notes)


@pytest.mark.parametrize("meter", METERS)
def test_pad_covers_every_bar_of_a_longer_progression(meter):
    chords = ["A:min", "D:min7", "G:7", "C:maj7", "F:maj", "B:hdim7", "E:7", "A:min", "N", None]
    bars = grid(meter, np.linspace(0, 1, len(chords)), chords=chords, key=(9, "min"), last_ticks=333)
    track = pad_track(bars, 48, name="strings pad", low=55, high=76)
    check_pad(track, bars, 55, 76)
    voicings = [tuple(sounding(track, b.start)) for b in bars]
    assert all(movement(a, b) <= 7 for a, b in itertools.pairwise(voicings)), voicings
    assert voicings[-1] == voicings[-2] == voicings[-3]  # "N" and None hold the A minor before


def test_pad_holds_a_repeated_chord_as_one_note_but_strikes_again_at_a_section():
    bars = grid("3/4", [0.5] * 5, chords=["D:min", "D:min", "D:min", "D:min", "G:maj"], starts=(0, 3))
    track = pad_track(bars, 89)
    starts = Counter(n.time for n in track.notes)
    assert starts == {bars[0].start: 3, bars[3].start: 3, bars[4].start: 3}
    assert {n.duration for n in track.notes if n.time == 0} == {3 * bars[0].ticks}


def test_pad_without_any_chord_plays_the_tonic_triad():
    bars = grid("4/4", [0.5] * 2, chords=["N", None], key=(9, "min"))
    track = pad_track(bars, 89)
    assert {n.pitch % 12 for n in track.notes} == {9, 0, 4}
    assert len(track.notes) == 3 and all(n.duration == 2 * 1920 for n in track.notes)


@pytest.mark.parametrize("meter", METERS)
def test_the_open_hat_takes_the_closed_hats_place(meter):
    bars = grid(meter, [0.7, 0.9])
    track = percussion_track(bars, "pop", seed=0)
    hats = Counter(n.time for n in track.notes if n.pitch in (42, 46))
    opens = [n.time for n in track.notes if n.pitch == 46]
    assert len(opens) == 2 and all(hats[t] == 1 for t in opens)
