"""render_stems and render_wav(seconds=...): real renders, read back from the WAVs.

Tests that make sound need a synthesizer (tinysoundfont or the fluidsynth program);
without one they are skipped, with the reason and how to install one.
"""

from __future__ import annotations

import shutil
import sys
import tracemalloc
import wave
from pathlib import Path

import numpy as np
import pytest
import symusic

from cadenza.errors import CadenzaError, InvalidArgumentError, OutputExistsError
from cadenza.io import audio
from cadenza.io.audio import INSTALL_HINT, render_wav, synthesizer
from cadenza.io.stems import LOOP_TAIL_SECONDS, render_stems, seam_discontinuity
from tests.helpers import make_score

TPQ = 480
RATE = 22050
LAYERS = ["pad", "bass", "melody", "drums"]

needs_synth = pytest.mark.skipif(synthesizer() is None, reason=f"no synthesizer installed; {INSTALL_HINT}")


def pcm(path: Path) -> np.ndarray:
    """The WAV's frames as an (n, 2) int64 array; asserts 16-bit stereo."""
    with wave.open(str(path), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (2, 2)
        return np.frombuffer(wav.readframes(wav.getnframes()), "<i2").reshape(-1, 2).astype(np.int64)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0


def add_track(score: symusic.Score, notes: list[tuple[int, float, float]], program: int, drum: bool = False) -> None:
    track = symusic.Track(name=f"track{len(score.tracks)}", program=program, is_drum=drum)
    for pitch, start, end in notes:
        track.notes.append(symusic.Note(round(start * TPQ), round((end - start) * TPQ), pitch, 90))
    score.tracks.append(track)


def layered(beats: int = 8) -> symusic.Score:
    """Four tracks of different rhythms at 120 bpm (a beat is 0.5 s): strings, bass,
    a piano melody in eighths and triplets, drums."""
    score = make_score([(p, 0, beats) for p in (60, 64, 67)], program=48)  # a held string chord
    add_track(score, [(36 + 7 * (b % 2), b, b + 0.9) for b in range(beats)], program=33)
    melody = [(72 + (i * 5) % 12, i / 2, i / 2 + 0.4) for i in range(beats)]
    melody += [(76 + i % 3, beats / 2 + i / 3, beats / 2 + i / 3 + 0.3) for i in range(3 * beats // 2)]
    add_track(score, melody, program=0)
    add_track(
        score,
        [(36 if b % 2 == 0 else 38, b, b + 0.25) for b in range(beats)]
        + [(42, b + 0.5, b + 0.6) for b in range(beats)],
        0,
        drum=True,
    )
    return score


def outputs(tmp_path: Path, names: list[str] = LAYERS) -> tuple[Path, dict[str, Path]]:
    return tmp_path / "mix.wav", {name: tmp_path / f"{name}.wav" for name in names}


@needs_synth
def test_stems_are_sample_aligned_and_sum_to_the_mix(tmp_path: Path) -> None:
    mix_path, paths = outputs(tmp_path)
    seconds = 3.3337  # shorter than the music (4 s): cut and faded
    result = render_stems(
        layered(), {n: [i] for i, n in enumerate(LAYERS)}, mix_path, paths, seconds=seconds, sample_rate=RATE
    )
    frames = round(seconds * RATE)
    assert result.frames == frames and result.sample_rate == RATE
    assert result.mix == mix_path and result.stems == paths
    mix, stems = pcm(mix_path), [pcm(path) for path in paths.values()]
    assert [len(stem) for stem in stems] == [frames] * 4 and len(mix) == frames
    assert all(rms(stem) > 30 for stem in stems)  # every layer sounds
    error = np.abs(sum(stems) - mix)
    assert error.max() <= len(stems)  # rounding of each stem only
    assert np.abs(mix).max() == pytest.approx(32767 * 10 ** (-1 / 20), rel=0.01)  # the mix at -1 dBFS
    assert result.peak * result.gain == pytest.approx(10 ** (-1 / 20), rel=1e-6)
    assert not mix[-1].any() and not any(stem[-1].any() for stem in stems)  # faded to silence
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["mix.wav", *(f"{n}.wav" for n in LAYERS)])


@needs_synth
def test_the_mix_equals_all_tracks_rendered_together(tmp_path: Path) -> None:
    """The synthesizer updates envelopes on a grid counted from each render call; a stem
    rendered with its own call boundaries differs from its part of the whole by up to
    -50 dB. Rendered with the whole score's boundaries, the sum is the whole."""
    score = layered()
    mix_path, _ = outputs(tmp_path)
    stems = {"low": [0, 1], "melody": [2], "drums": [3]}
    render_stems(score, stems, mix_path, None, seconds=4.0, sample_rate=RATE)
    whole = render_wav(score, tmp_path / "whole.wav", sample_rate=RATE, seconds=4.0)
    assert np.abs(pcm(mix_path) - pcm(whole)).max() <= 1  # float rounding only


@needs_synth
def test_a_single_stem_is_render_wav(tmp_path: Path) -> None:
    score = layered()
    mix_path, paths = outputs(tmp_path, ["all"])
    result = render_stems(score, {"all": [0, 1, 2, 3]}, mix_path, paths, seconds=3.0, sample_rate=RATE)
    alone = render_wav(score, tmp_path / "alone.wav", sample_rate=RATE, seconds=3.0)
    assert alone.read_bytes() == mix_path.read_bytes() == paths["all"].read_bytes()
    assert result.frames == 3 * RATE


@needs_synth
def test_stems_share_the_mix_gain(tmp_path: Path) -> None:
    """A quiet layer stays quiet: it is not normalised on its own."""
    score = make_score([(60, 0, 4, 127), (64, 0, 4, 127)])
    add_track(score, [(72, 0, 4)], program=0)
    score.tracks[1].notes[0].velocity = 20
    mix_path, paths = outputs(tmp_path, ["loud", "quiet"])
    render_stems(score, {"loud": [0], "quiet": [1]}, mix_path, paths, seconds=2.0, sample_rate=RATE)
    quiet, mix = pcm(paths["quiet"]), pcm(mix_path)
    assert 0 < np.abs(quiet).max() < np.abs(mix).max() / 4


@needs_synth
def test_a_loop_rings_into_its_start_and_its_seam_is_smooth(tmp_path: Path) -> None:
    """Strings held to the loop end (cut there) release into the start; the first beat
    of the score is silent but for that tail, and the last 0.1 s are not faded."""
    beats = 8
    score = make_score([(p, 0.5, beats) for p in (55, 62, 67)], program=48)
    add_track(score, [(43, b, b + 1) for b in range(1, beats)], program=33)
    stems = {"strings": [0], "bass": [1]}
    seconds = beats / 2
    (tmp_path / "loop").mkdir()
    loop_path, loop_stems = outputs(tmp_path / "loop", list(stems))
    loop = render_stems(score, stems, loop_path, loop_stems, seconds=seconds, loop=True, sample_rate=RATE)
    once = render_stems(score, stems, tmp_path / "once.wav", None, seconds=seconds, sample_rate=RATE)
    samples, plain = pcm(loop.mix), pcm(once.mix)
    assert len(samples) == loop.frames == round(seconds * RATE)
    jump, step = seam_discontinuity(samples)
    assert jump <= step
    beat_start = slice(0, RATE // 5)  # before the first note (0.25 s)
    assert rms(plain[beat_start]) < 1 < 30 < rms(samples[beat_start])  # the released chord rings in
    last = samples[-RATE // 10 :]
    assert rms(last) > rms(samples) / 4 and samples[-1].any()  # no fade-out
    assert not plain[-1].any()  # which a piece that is no loop has
    parts = [pcm(path) for path in loop_stems.values()]
    assert np.abs(sum(parts) - samples).max() <= len(parts)
    for part in parts:  # each layer loops on its own too
        assert len(part) == loop.frames
        part_jump, part_step = seam_discontinuity(part)
        assert part_jump <= part_step


@needs_synth
def test_a_loop_shorter_than_its_tail(tmp_path: Path) -> None:
    """A one-beat loop of a held chord: the tail wraps around it several times."""
    score = make_score([(p, 0, 1) for p in (60, 64, 67)], program=48)
    seconds = 0.5
    assert seconds < LOOP_TAIL_SECONDS
    result = render_stems(score, {"pad": [0]}, tmp_path / "pad.wav", None, seconds=seconds, loop=True, sample_rate=RATE)
    samples = pcm(result.mix)
    assert len(samples) == round(seconds * RATE)
    jump, step = seam_discontinuity(samples)
    assert jump <= step


def test_seam_discontinuity_measures_the_jump_and_the_typical_step() -> None:
    ramp = np.stack([np.arange(101.0), -np.arange(101.0)], axis=1)  # steps of 1
    assert seam_discontinuity(ramp) == (100.0, 1.0)
    sine = np.sin(2 * np.pi * np.arange(400) / 100)  # four whole periods: loops cleanly
    jump, step = seam_discontinuity(sine)
    assert jump == pytest.approx(step)  # the seam is a zero crossing, the steepest step
    jump, step = seam_discontinuity(sine[:325])  # cut at a crest
    assert jump > 10 * step
    assert seam_discontinuity(np.zeros((1, 2))) == (0.0, 0.0)


@needs_synth
@pytest.mark.parametrize("seconds", [1.2345, 7.0])
def test_render_wav_meets_an_asked_length_to_the_sample(tmp_path: Path, seconds: float) -> None:
    score = make_score([(60, 0, 2), (67, 2, 6)])  # 3 s of music
    samples = pcm(render_wav(score, tmp_path / "cue.wav", sample_rate=RATE, seconds=seconds))
    assert len(samples) == round(seconds * RATE)
    assert not samples[-1].any()  # faded out, or silent
    if seconds > 3:
        after = samples[3 * RATE :]
        assert rms(after[: RATE // 10]) > 0  # the release rings on past the music
        assert not after[-RATE:].any()  # then silence pads it


def test_render_wav_refuses_a_bad_length(tmp_path: Path) -> None:
    for seconds in (-1.0, float("nan"), 3 * 3600.0):
        with pytest.raises(InvalidArgumentError, match="length"):
            render_wav(make_score([(60, 0, 1)]), tmp_path / "out.wav", seconds=seconds)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("stems", "message"),
    [
        ({"a": [0, 1], "b": [1, 2, 3]}, "track 1 is in stem 'a' and in stem 'b'"),
        ({"a": [0, 1], "b": [3]}, "track 2 in no stem"),
        ({"a": [0, 1, 2, 3], "b": [4]}, "no track 4"),
        ({"a": [0, 1, 2, -1]}, "no track -1"),
        ({"a": [0, 1, 2, 3.0]}, "not a track number"),
        ({"a": [0, 1, 2, True]}, "not a track number"),
        ({}, "no stems"),
    ],
)
def test_bad_stem_maps_are_refused(tmp_path: Path, stems: dict[str, list[int]], message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        render_stems(layered(), stems, tmp_path / "mix.wav", None, seconds=1.0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("paths", "error", "message"),
    [
        ({"a": "a.wav"}, InvalidArgumentError, "no path for"),
        ({"a": "a.wav", "b": "b.wav", "c": "c.wav"}, InvalidArgumentError, "no stem"),
        ({"a": "a.wav", "b": "a.wav"}, InvalidArgumentError, "same file"),
        ({"a": "mix.wav", "b": "b.wav"}, InvalidArgumentError, "same file"),
        ({"a": "a.wav", "b": "missing/b.wav"}, CadenzaError, "does not exist"),
    ],
)
def test_bad_stem_paths_are_refused(
    tmp_path: Path, paths: dict[str, str], error: type[CadenzaError], message: str
) -> None:
    stems = {"a": [0, 1], "b": [2, 3]}
    with pytest.raises(error, match=message):
        render_stems(layered(), stems, tmp_path / "mix.wav", {k: tmp_path / v for k, v in paths.items()}, seconds=1.0)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("existing", ["mix.wav", "drums.wav"])
def test_an_existing_output_is_refused_before_any_rendering(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: str
) -> None:
    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("rendered although an output exists")

    monkeypatch.setattr(audio, "_pick_backend", lambda: never)
    (tmp_path / existing).write_bytes(b"keep me")
    mix_path, paths = outputs(tmp_path)
    with pytest.raises(OutputExistsError, match="exists already"):
        render_stems(layered(), {n: [i] for i, n in enumerate(LAYERS)}, mix_path, paths, seconds=1.0)
    assert [p.name for p in tmp_path.iterdir()] == [existing]
    assert (tmp_path / existing).read_bytes() == b"keep me"


@needs_synth
def test_force_overwrites_every_output(tmp_path: Path) -> None:
    mix_path, paths = outputs(tmp_path, ["a", "b"])
    for path in (mix_path, *paths.values()):
        path.write_bytes(b"old")
    render_stems(layered(), {"a": [0, 1], "b": [2, 3]}, mix_path, paths, seconds=1.0, sample_rate=RATE, force=True)
    assert all(len(pcm(path)) == RATE for path in (mix_path, *paths.values()))


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth is not installed")
def test_fluidsynth_stems_are_aligned_and_sum_to_the_mix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tinysoundfont", None)
    mix_path, paths = outputs(tmp_path, ["low", "high"])
    render_stems(layered(), {"low": [0, 1, 3], "high": [2]}, mix_path, paths, seconds=2.5, sample_rate=RATE)
    mix, stems = pcm(mix_path), [pcm(path) for path in paths.values()]
    assert len(mix) == round(2.5 * RATE) and all(len(stem) == len(mix) for stem in stems)
    assert all(rms(stem) > 30 for stem in stems)
    assert np.abs(sum(stems) - mix).max() <= len(stems)


@needs_synth
def test_memory_stays_at_blocks_whatever_the_length(tmp_path: Path) -> None:
    """A minute of four stems: raw audio goes through spill files, so Python holds less
    than one cue-length float32 array (10.6 MB here) at any time, loop tails included."""
    score = layered(beats=120)
    frames_bytes = 60 * RATE * 2 * 4
    mix_path, paths = outputs(tmp_path)
    tracemalloc.start()
    try:
        render_stems(
            score, {n: [i] for i, n in enumerate(LAYERS)}, mix_path, paths, seconds=60.0, sample_rate=RATE, loop=True
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < frames_bytes
    assert len(pcm(mix_path)) == 60 * RATE


def test_a_length_under_one_sample_is_refused(tmp_path: Path) -> None:
    for seconds in (0.0, 1e-6, -2.0):
        with pytest.raises(InvalidArgumentError, match="length"):
            render_stems(layered(), {"all": [0, 1, 2, 3]}, tmp_path / "mix.wav", None, seconds=seconds)
    assert list(tmp_path.iterdir()) == []
