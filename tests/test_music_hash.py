"""The music hash covers everything that sounds or is shown, and survives a MIDI round trip."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import symusic

from cadenza.io import load_score
from cadenza.io.midi import midi_bytes, parse_midi_bytes
from cadenza.provenance.record import MARKER_PREFIX, embed_marker, music_sha256


def rich_score() -> symusic.Score:
    """A piece with one of everything a MIDI file holds: notes on three instruments and
    a drum kit, volume, pan and sustain controllers, a pedal held only in memory, pitch
    bends, lyrics, a section marker, two tempi, a meter and a key signature."""
    score = symusic.Score(480)
    score.tempos.extend([symusic.Tempo(0, qpm=100.0), symusic.Tempo(1920, qpm=140.0)])
    score.time_signatures.append(symusic.TimeSignature(0, 3, 4))
    score.key_signatures.append(symusic.KeySignature(0, -1, 1))
    score.markers.append(symusic.TextMeta(960, "Chorus"))
    for name, program, drum in [("piano", 0, False), ("bass", 33, False), ("drums", 0, True), ("pad", 48, False)]:
        track = symusic.Track(name, program, drum)
        for beat, pitch in enumerate((60, 64, 67, 72) if not drum else (36, 38, 36, 38)):
            track.notes.append(symusic.Note(beat * 480, 480, pitch - (24 if name == "bass" else 0), 70 + beat))
        score.tracks.append(track)
    piano, bass, _, pad = score.tracks
    piano.controls.extend(
        [symusic.ControlChange(0, 7, 100), symusic.ControlChange(0, 10, 40), symusic.ControlChange(10, 64, 127)]
    )
    piano.controls.append(symusic.ControlChange(900, 64, 0))
    piano.lyrics.extend([symusic.TextMeta(0, "la"), symusic.TextMeta(480, "lu")])
    bass.pitch_bends.extend([symusic.PitchBend(240, -4096), symusic.PitchBend(400, 0)])
    pad.pedals.append(symusic.Pedal(0, 1200))  # in memory only: no CC64 behind it
    return score


def _read_back(score: symusic.Score) -> symusic.Score:
    return parse_midi_bytes(midi_bytes(score))


def test_a_score_and_its_midi_file_read_back_give_the_same_hash() -> None:
    score = rich_score()
    marked = embed_marker(score, {"seed": 3, "music_sha256": music_sha256(score)})
    back = _read_back(marked)
    assert back.note_num() == score.note_num() and len(back.markers) == 2
    assert music_sha256(back) == music_sha256(score) == music_sha256(marked)
    assert music_sha256(_read_back(back)) == music_sha256(score)
    assert music_sha256(score.to("quarter")) == music_sha256(score)


def test_real_files_keep_their_hash_through_a_round_trip(pop909_files: list[Path]) -> None:
    for path in pop909_files[:5]:
        score = load_score(path)
        assert sum(len(t.controls) for t in score.tracks), path  # POP909 has its pedal controllers
        assert music_sha256(_read_back(score)) == music_sha256(score), path
        assert music_sha256(_read_back(embed_marker(score, {"seed": 1}))) == music_sha256(score), path


def _track(name: str) -> Callable[[symusic.Score], symusic.core.TrackTick]:
    return lambda score: next(t for t in score.tracks if t.name == name)


def _mute(score: symusic.Score) -> None:
    for track in score.tracks:
        track.controls.append(symusic.ControlChange(0, 7, 0))


def _bend(score: symusic.Score) -> None:
    for track in score.tracks:
        track.pitch_bends.append(symusic.PitchBend(0, 8191))


EDITS: dict[str, Callable[[symusic.Score], object]] = {
    "volume 0 everywhere": _mute,
    "bent 2 semitones everywhere": _bend,
    "a controller value": lambda s: setattr(_track("piano")(s).controls[1], "value", 127),
    "a pitch bend": lambda s: setattr(_track("bass")(s).pitch_bends[0], "value", 4096),
    "a sustain pedal (CC64) released later": lambda s: setattr(_track("piano")(s).controls[3], "time", 1800),
    "a pedal held in memory": lambda s: setattr(_track("pad")(s).pedals[0], "duration", 100),
    "a program": lambda s: setattr(_track("bass")(s), "program", 34),
    "the drum flag": lambda s: setattr(_track("drums")(s), "is_drum", False),
    "a tempo": lambda s: setattr(s.tempos[1], "qpm", 150.0),
    "a meter": lambda s: s.time_signatures.append(symusic.TimeSignature(1440, 4, 4)),
    "a key signature": lambda s: setattr(s.key_signatures[0], "key", 2),
    "a track name": lambda s: setattr(_track("pad")(s), "name", "strings"),
    "a lyric": lambda s: setattr(_track("piano")(s).lyrics[1], "text", "li"),
    "a marker": lambda s: setattr(s.markers[0], "text", "Verse"),
    "a note's velocity": lambda s: setattr(_track("piano")(s).notes[0], "velocity", 1),
}


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_every_part_that_sounds_or_is_shown_changes_the_hash(edit: str) -> None:
    score = rich_score()
    edited = score.copy()
    EDITS[edit](edited)
    assert music_sha256(edited) != music_sha256(score)
    # and the edit survives the file: what verify reads is the file read back
    assert music_sha256(_read_back(embed_marker(edited, {}))) != music_sha256(score)


def test_the_provenance_marker_alone_is_left_out() -> None:
    score = rich_score()
    marked = score.copy()
    marked.markers.append(symusic.TextMeta(0, MARKER_PREFIX + "{}"))
    assert music_sha256(marked) == music_sha256(score)
    marked.markers.append(symusic.TextMeta(0, "cadenza-provenance-ish"))
    assert music_sha256(marked) != music_sha256(score)
