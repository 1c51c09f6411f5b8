"""render_wav: real renders, checked by reading the WAV back.

Tests that make sound need a synthesizer (tinysoundfont or the fluidsynth program);
without one they are skipped, with the reason and how to install one.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import symusic

from cadenza.errors import (
    InputFileError,
    InvalidArgumentError,
    LimitExceededError,
    MissingDependencyError,
    OutputExistsError,
)
from cadenza.io import audio
from cadenza.io.atomic import SPILL_PREFIX, STALE_AFTER_S
from cadenza.io.audio import INSTALL_HINT, default_soundfont, render_wav, synthesizer
from tests.helpers import make_score

TPQ = 480

needs_synth = pytest.mark.skipif(synthesizer() is None, reason=f"no synthesizer installed; {INSTALL_HINT}")


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """(frames x 2 float array in -1..1, sample rate); asserts 16-bit stereo."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 2
        assert wav.getsampwidth() == 2
        data = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        return data.reshape(-1, 2).astype(np.float64) / 32768, wav.getframerate()


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


@needs_synth
def test_notes_render_audible_wav_exactly_as_long_as_the_music(tmp_path: Path) -> None:
    score = make_score([(60, 0, 1), (64, 1, 2), (67, 2, 4)])  # 4 beats at 120 bpm: 2 s
    out = render_wav(score, tmp_path / "out.wav")
    samples, rate = read_wav(out)
    assert rate == 44100
    assert len(samples) == 2 * 44100  # to the sample: no release tail added
    assert rms(samples) > 0.02
    assert np.abs(samples).max() == pytest.approx(10 ** (-1 / 20), abs=0.01)  # -1 dBFS
    assert not samples[-1].any()  # the end fades out to silence: no click
    assert rms(samples[-100:]) < rms(samples) / 20


@needs_synth
def test_an_odd_length_is_met_to_the_sample(tmp_path: Path) -> None:
    score = make_score([(60, 0, 3), (67, 3, 45 * 2 + 1 / 3)])  # 45 1/6 s at 120 bpm
    seconds = score.to("second").end()
    samples, rate = read_wav(render_wav(score, tmp_path / "cue.wav", sample_rate=8000))
    assert rate == 8000
    assert len(samples) == round(seconds * 8000)


@needs_synth
def test_tempo_changes_set_the_length(tmp_path: Path) -> None:
    score = make_score([(60, 0, 8)])  # 4 beats at 120 bpm (2 s), then 4 at 30 (8 s)
    score.tempos.append(symusic.Tempo(4 * TPQ, 30.0))
    seconds = score.to("second").end()
    assert seconds == pytest.approx(10.0)
    samples, rate = read_wav(render_wav(score, tmp_path / "slow.wav", sample_rate=22050))
    assert rate == 22050
    assert len(samples) == 10 * 22050


@needs_synth
def test_empty_score_gives_silence(tmp_path: Path) -> None:
    samples, rate = read_wav(render_wav(symusic.Score(TPQ), tmp_path / "empty.wav"))
    assert len(samples) / rate <= 1.0
    assert not samples.any()


@needs_synth
def test_drums_use_the_drum_kit(tmp_path: Path) -> None:
    """A closed hi-hat (42) on the drum kit is noise; on a piano it is F#2."""

    def centroid_hz(is_drum: bool) -> float:
        score = make_score([(42, 0, 1)])
        score.tracks[0].is_drum = is_drum
        samples, rate = read_wav(render_wav(score, tmp_path / f"drum-{is_drum}.wav"))
        half_second = samples[: rate // 2].mean(axis=1)
        spectrum = np.abs(np.fft.rfft(half_second))
        frequencies = np.fft.rfftfreq(len(half_second), 1 / rate)
        return float((spectrum * frequencies).sum() / spectrum.sum())

    assert centroid_hz(is_drum=True) > 3000 > centroid_hz(is_drum=False)


@needs_synth
def test_sustain_pedal_holds_notes(tmp_path: Path) -> None:
    def after_release(pedal: bool) -> float:
        score = make_score([(60, 0, 0.5), (72, 7.5, 8)])  # the last note sets the length
        if pedal:
            score.tracks[0].pedals.append(symusic.Pedal(0, 4 * TPQ))
        samples, rate = read_wav(render_wav(score, tmp_path / f"pedal-{pedal}.wav"))
        return rms(samples[int(0.75 * rate) : int(1.75 * rate)])  # 0.5..1.5 s after release

    assert after_release(pedal=True) > 3 * after_release(pedal=False)


@needs_synth
def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "out.wav"
    target.write_bytes(b"keep me")
    score = make_score([(60, 0, 1)])
    with pytest.raises(OutputExistsError):
        render_wav(score, target)
    assert target.read_bytes() == b"keep me"
    render_wav(score, target, force=True)
    assert read_wav(target)[0].any()


def test_failure_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("synth crashed")

    monkeypatch.setattr(audio, "_pick_backend", lambda: broken)
    with pytest.raises(RuntimeError):
        render_wav(make_score([(60, 0, 1)]), tmp_path / "out.wav")
    assert list(tmp_path.iterdir()) == []


def test_refuses_music_longer_than_the_cap(tmp_path: Path) -> None:
    score = make_score([(60, 0, 10_000)], qpm=60.0)  # one note of 2.8 hours
    with pytest.raises(LimitExceededError, match="hours"):
        render_wav(score, tmp_path / "long.wav")
    assert list(tmp_path.iterdir()) == []


def test_refuses_absurd_note_counts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audio, "MAX_RENDER_NOTES", 10)
    with pytest.raises(LimitExceededError, match="notes"):
        render_wav(make_score([(60, i, i + 1) for i in range(11)]), tmp_path / "many.wav")


def test_rejects_a_bad_sample_rate(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError):
        render_wav(make_score([(60, 0, 1)]), tmp_path / "out.wav", sample_rate=100)


def test_no_synth_names_how_to_install_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tinysoundfont", None)  # import fails
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(MissingDependencyError) as error:
        audio._pick_backend()
    assert "pip install --no-deps tinysoundfont==0.3.7" in str(error.value)
    assert "apt-get install --no-install-recommends fluidsynth" in str(error.value)


def test_default_soundfont_is_timgm6mb() -> None:
    font = default_soundfont()
    assert font.name == "TimGM6mb.sf2"
    assert font.read_bytes()[:4] == b"RIFF"


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth is not installed")
def test_fluidsynth_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tinysoundfont", None)
    score = make_score([(60, 0, 2), (67, 2, 4)])
    samples, rate = read_wav(render_wav(score, tmp_path / "fs.wav"))
    assert abs(len(samples) / rate - 2.0) <= 1.0
    assert rms(samples) > 0.02


@needs_synth
def test_a_file_that_is_no_soundfont_is_refused(tmp_path: Path) -> None:
    score = make_score([(60, 0, 1)])
    junk = tmp_path / "junk.sf2"
    junk.write_bytes(b"not a soundfont")
    with pytest.raises(InputFileError, match="not a SoundFont"):
        render_wav(score, tmp_path / "out.wav", soundfont=junk)
    junk.write_bytes(b"RIFF\x10\x00\x00\x00sfbk" + bytes(16))  # the header, then nothing
    with pytest.raises(InputFileError, match="cannot load SoundFont"):
        render_wav(score, tmp_path / "out.wav", soundfont=junk)
    with pytest.raises(InputFileError, match="not found"):
        render_wav(score, tmp_path / "out.wav", soundfont=tmp_path / "no.sf2")
    assert [p.name for p in tmp_path.iterdir()] == ["junk.sf2"]


@pytest.mark.datasets
@needs_synth
def test_pop909_song_renders_full_length(datasets: Path, tmp_path: Path) -> None:
    score = symusic.Score(datasets / "pop909" / "001" / "001.mid")
    samples, rate = read_wav(render_wav(score, tmp_path / "001.wav"))
    assert abs(len(samples) / rate - score.to("second").end()) <= 1.0
    assert rms(samples) > 0.05


def test_a_killed_runs_leftovers_are_cleaned_by_the_next_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGKILL leaves the temporary WAV and the spill folder; the next render removes
    them once they are stale, and leaves fresh ones (a run in progress) and other files alone."""
    stale_file = tmp_path / ".cue.cadenza-tmp-k2j4x9q1.wav"
    stale_folder = tmp_path / f"{SPILL_PREFIX}a81kq0zz"
    fresh_file = tmp_path / ".other.cadenza-tmp-abcdefgh.mid"
    unrelated = tmp_path / ".cue.tmp.wav"
    stale_folder.mkdir()
    (stale_folder / "audio.f32").write_bytes(bytes(4096))
    for path in (stale_file, fresh_file, unrelated):
        path.write_bytes(b"half-written")
    old = time.time() - STALE_AFTER_S - 60
    for path in (stale_file, stale_folder / "audio.f32", stale_folder, unrelated):
        os.utime(path, (old, old))

    def silence(score: object, font: Path, rate: int, frames: int, raw: Path) -> None:
        raw.write_bytes(bytes(8 * frames))  # the backend's part; no synthesizer needed

    monkeypatch.setattr(audio, "_pick_backend", lambda: silence)
    render_wav(make_score([(60, 0, 1)]), tmp_path / "cue.wav")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(["cue.wav", fresh_file.name, unrelated.name])


def test_a_soundfont_that_is_a_named_pipe_is_refused_unopened(tmp_path: Path) -> None:
    pipe = tmp_path / "font.sf2"
    os.mkfifo(pipe)
    with pytest.raises(InputFileError, match="named pipe"):
        render_wav(make_score([(60, 0, 1)]), tmp_path / "out.wav", soundfont=pipe)


@needs_synth
def test_a_controller_flood_renders_as_its_last_settings(tmp_path: Path) -> None:
    """900,000 volume changes in the first quarter note (1,000 on each tick, under the
    content limit) sound exactly like the last change on each tick, and render as fast."""
    flood = make_score([(60, 0, 1)])
    ticks = np.repeat(np.arange(TPQ, dtype=np.int32), 900_000 // TPQ)
    values = (np.arange(ticks.size) * 7 % 128).astype(np.uint8)
    flood.tracks[0].controls = symusic.ControlChange.from_numpy(ticks, np.full(ticks.size, 7, np.uint8), values)
    last = make_score([(60, 0, 1)])
    final = np.r_[np.flatnonzero(np.diff(ticks)), ticks.size - 1]
    volume = np.full(final.size, 7, np.uint8)
    last.tracks[0].controls = symusic.ControlChange.from_numpy(ticks[final], volume, values[final])
    flooded = render_wav(flood, tmp_path / "flood.wav", sample_rate=8000).read_bytes()
    assert flooded == render_wav(last, tmp_path / "last.wav", sample_rate=8000).read_bytes()
