"""Rendering a Score to a WAV file through a General MIDI SoundFont.

Two backends, tried in this order:

* **tinysoundfont** (PyPI, MIT): a SoundFont synth in a small C extension. We drive it
  ourselves from the Score's notes, controls, pedals and pitch bends, one synth channel
  per track, so there is no 16-channel limit and no MIDI file in between. It has no
  sustain pedal (CC64), so the pedal is played here by holding back note-offs.
* **the ``fluidsynth`` program** (Debian's ``fluidsynth``, LGPL): the Score is written
  to a temporary MIDI file and rendered with ``fluidsynth -F``.

Both write raw float32 stereo frames to a spill file beside the output, so memory stays
at one block whatever the length; a second pass peak-normalises to -1 dBFS and writes a
16-bit stereo WAV through :func:`cadenza.io.atomic.atomic_output`.

The WAV lasts exactly as long as the music, to the sample: ``--seconds 45`` gives 45 s;
a length asked of :func:`render_wav` is met to the sample whatever the score's end.
Releases still sounding at the end are faded out over the last 0.1 s, not rung out past
it. :mod:`cadenza.io.stems` renders a score as several WAVs at one gain through the
same backends. Before any audio is made, the score goes through the content limits of
:mod:`cadenza.io.limits`: rendering costs seconds × voices, so the voice-seconds,
the polyphony and the controller events are bounded, not only the length.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol, cast

import numpy as np
from symusic.core import ScoreSecond, ScoreTick, TrackTickList

from cadenza.errors import (
    CadenzaError,
    InputFileError,
    InvalidArgumentError,
    LimitExceededError,
    MissingDependencyError,
)
from cadenza.io.atomic import SPILL_PREFIX, atomic_output
from cadenza.io.files import require_regular_file
from cadenza.io.limits import validate_score

__all__ = ["MAX_RENDER_NOTES", "MAX_RENDER_SECONDS", "default_soundfont", "render_wav", "synthesizer"]

MAX_RENDER_SECONDS = 2 * 3600.0
"""Longest music we render: two hours of 44.1 kHz float32 stereo is a 2.5 GB spill file."""
MAX_RENDER_NOTES = 1_000_000
MAX_RENDER_TRACKS = 1024
FADE_SECONDS = 0.1
"""The last 0.1 s fades to silence, so that a release cut by the end makes no click."""
PEAK_DBFS = -1.0
BLOCK_FRAMES = 16384

INSTALL_HINT = (
    "install a synthesizer: `pip install --no-deps tinysoundfont==0.3.7` "
    "(--no-deps: it declares pyaudio, which rendering does not need) "
    "or `apt-get install --no-install-recommends fluidsynth`"
)

# Event kinds, in the order they are applied when they fall on the same sample: a
# note-off before a note-on lets a repeated pitch restart cleanly.
_CONTROL, _BEND, _NOTE_OFF, _NOTE_ON = 0, 1, 2, 3
_SUSTAIN, _RESET_CONTROLLERS = 64, 121  # MIDI controller numbers


def default_soundfont() -> Path:
    """TimGM6mb.sf2 (GPL-2, Tim Brechbill), the 6 MB GM SoundFont inside pretty_midi."""
    try:
        import pretty_midi
    except ImportError:
        raise MissingDependencyError(
            "no SoundFont: `pip install pretty_midi` ships TimGM6mb.sf2, or pass a .sf2 file"
        ) from None
    path = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
    if not path.is_file():
        raise MissingDependencyError(
            "pretty_midi is installed without TimGM6mb.sf2; reinstall it or pass a .sf2 file",
            path,
        )
    return path


def render_wav(
    score: ScoreTick,
    path: str | os.PathLike[str],
    *,
    soundfont: Path | None = None,
    sample_rate: int = 44100,
    force: bool = False,
    seconds: float | None = None,
) -> Path:
    """Render ``score`` to a 16-bit stereo WAV at ``path``, peak-normalised to -1 dBFS.

    The WAV lasts exactly as long as the music: ``round(score.to("second").end() *
    sample_rate)`` frames, its last 0.1 s faded out. With ``seconds`` it has exactly
    ``round(seconds * sample_rate)`` frames instead: music past that is cut (and faded),
    a shorter score rings out into silence. A score without audible notes gives
    silence. Raises :class:`LimitExceededError` for music longer than two hours, with more
    than a million notes, or past a content limit of :mod:`cadenza.io.limits`, before
    any audio is allocated.
    """
    music_seconds, font, backend = prepare_render(score, path, soundfont=soundfont, sample_rate=sample_rate)
    frames = frame_count(music_seconds if seconds is None else seconds, sample_rate, path)
    with atomic_output(path, force=force) as tmp, spill_folder(tmp.parent) as work:
        raw = work / "audio.f32"
        backend(score, font, sample_rate, frames, raw)
        write_wavs(lambda: aligned_blocks([raw], frames), [tmp], sample_rate, frames, fade=True)
    return Path(path)


def prepare_render(
    score: ScoreTick, path: str | os.PathLike[str], *, soundfont: Path | None, sample_rate: int
) -> tuple[float, Path, Backend]:
    """Check everything a render needs before any audio is made: the sample rate, the
    score's limits, the SoundFont and a synthesizer. Return (the music's length in
    seconds, the SoundFont, the backend)."""
    if not 8000 <= sample_rate <= 192000:
        raise InvalidArgumentError(f"sample rate {sample_rate} Hz is outside 8000..192000", path)
    seconds = _check_limits(score, path)
    font = Path(soundfont) if soundfont is not None else default_soundfont()
    if not font.exists():
        raise InputFileError("SoundFont not found", font)
    require_regular_file(font)  # a pipe would block the read below
    with font.open("rb") as header:
        riff = header.read(12)
    if riff[:4] != b"RIFF" or riff[8:12] != b"sfbk":  # SF2 and SF3 alike
        raise InputFileError("is not a SoundFont (no RIFF sfbk header)", font)
    return seconds, font, _pick_backend()


def frame_count(seconds: float, sample_rate: int, path: str | os.PathLike[str]) -> int:
    """``round(seconds * sample_rate)``, for a length from 0 up to two hours."""
    if not 0 <= seconds <= MAX_RENDER_SECONDS:  # also catches NaN
        raise InvalidArgumentError(f"a length of {seconds:g} s is outside 0..{MAX_RENDER_SECONDS:g} s to render", path)
    return round(seconds * sample_rate)


@contextlib.contextmanager
def spill_folder(parent: Path) -> Iterator[Path]:
    """A temporary folder beside the output for raw audio, removed afterwards (and swept
    by the next run's :func:`~cadenza.io.atomic.clean_stale` if this one is killed)."""
    with tempfile.TemporaryDirectory(dir=parent, prefix=SPILL_PREFIX) as work:
        yield Path(work)


def _in_seconds(score: ScoreTick) -> ScoreSecond:
    return cast(ScoreSecond, score.to("second"))  # symusic's stub says `object`


def _check_limits(score: ScoreTick, path: str | os.PathLike[str]) -> float:
    """Return the music's length in seconds, or refuse a score too big to render."""
    validate_score(score, path)
    if len(score.tracks) > MAX_RENDER_TRACKS:
        raise LimitExceededError(f"{len(score.tracks)} tracks, more than {MAX_RENDER_TRACKS}", path)
    notes = score.note_num()
    if notes > MAX_RENDER_NOTES:
        raise LimitExceededError(f"{notes} notes, more than {MAX_RENDER_NOTES} to render", path)
    seconds = float(_in_seconds(score).end())
    if not seconds <= MAX_RENDER_SECONDS:  # also catches NaN
        raise LimitExceededError(
            f"music lasts {seconds / 3600:.1f} hours, more than {MAX_RENDER_SECONDS / 3600:g} to render",
            path,
        )
    return max(seconds, 0.0)


# --- backends: each writes `frames` float32 stereo frames (or about that many) to `raw` ---


class Backend(Protocol):
    """Renders ``score`` (only the tracks in ``channels`` when given) to ``raw``."""

    def __call__(
        self,
        score: ScoreTick,
        font: Path,
        sample_rate: int,
        frames: int,
        raw: Path,
        /,
        *,
        channels: Collection[int] | None = None,
    ) -> None: ...


def synthesizer() -> str | None:
    """The synthesizer rendering would use (``"tinysoundfont"`` or ``"fluidsynth"``), or None."""
    try:
        import tinysoundfont  # noqa: F401
    except ImportError:
        pass
    else:
        return "tinysoundfont"
    return "fluidsynth" if shutil.which("fluidsynth") else None


def _pick_backend() -> Backend:
    name = synthesizer()
    if name is None:
        raise MissingDependencyError(f"no synthesizer to render audio; {INSTALL_HINT}")
    return _render_tinysoundfont if name == "tinysoundfont" else _render_fluidsynth


def _events(score: ScoreTick, sample_rate: int) -> np.ndarray:
    """All timed events of the score as int64 rows (sample, kind, channel, a, b), in order.

    Channel i is track i. Notes give note-on (a=pitch, b=velocity) and note-off rows; a
    note-off falls at least one sample after its note-on. Pedals become CC64 rows for
    tracks that do not carry CC64 themselves (symusic reads CC64 into both lists).
    """
    rows: list[np.ndarray] = []

    def add(time: np.ndarray, kind: int, channel: int, a: np.ndarray, b: np.ndarray) -> None:
        sample = np.maximum(np.rint(time * sample_rate), 0).astype(np.int64)
        kinds, channels = np.full_like(sample, kind), np.full_like(sample, channel)
        rows.append(np.stack([sample, kinds, channels, a, b], axis=1))

    for channel, track in enumerate(_in_seconds(score).tracks):
        notes = track.notes.numpy()
        if len(notes["time"]):
            start, pitch = notes["time"], notes["pitch"].astype(np.int64)
            add(start, _NOTE_ON, channel, pitch, notes["velocity"].astype(np.int64))
            end = np.maximum(start + notes["duration"], start + 1 / sample_rate)
            add(end, _NOTE_OFF, channel, pitch, np.zeros_like(pitch))
        controls = track.controls.numpy()
        if len(controls["time"]):
            number = controls["number"].astype(np.int64)
            add(controls["time"], _CONTROL, channel, number, controls["value"].astype(np.int64))
        pedals = track.pedals.numpy()
        if len(pedals["time"]) and not np.any(controls["number"] == 64):
            n = len(pedals["time"])
            cc64, down, up = np.full(n, 64), np.full(n, 127), np.zeros(n, np.int64)
            add(pedals["time"], _CONTROL, channel, cc64, down)
            add(pedals["time"] + pedals["duration"], _CONTROL, channel, cc64, up)
        bends = track.pitch_bends.numpy()
        if len(bends["time"]):
            value = np.clip(bends["value"].astype(np.int64) + 8192, 0, 16383)
            add(bends["time"], _BEND, channel, value, np.zeros_like(value))
    if not rows:
        return np.zeros((0, 5), np.int64)
    events = np.concatenate(rows)
    events = events[np.lexsort((events[:, 1], events[:, 0]))]
    return events[_last_word(events)]


def _last_word(events: np.ndarray) -> np.ndarray:
    """Which events to play: a controller (or a pitch bend) set again on the same channel
    at the same sample is overridden before a sample is made, so only its last setting
    is played, as if the file held only that one. The work then follows the music's
    length in samples instead of the event count: a million volume changes in a tenth of
    a second become 4,410. The pedal (CC64) and reset (CC121) act on other events and
    are all kept."""
    kind, number = events[:, 1], events[:, 3]
    settable = (kind == _BEND) | ((kind == _CONTROL) & (number != _SUSTAIN) & (number != _RESET_CONTROLLERS))
    keep = np.ones(len(events), dtype=bool)
    rows = np.flatnonzero(settable)
    if rows.size < 2:
        return keep
    keys = events[rows][:, :4].copy()
    keys[keys[:, 1] == _BEND, 3] = 0  # a bend's value is no part of what it sets
    order = np.lexsort((rows, keys[:, 3], keys[:, 2], keys[:, 1], keys[:, 0]))
    ordered = keys[order]
    overridden = np.all(ordered[1:] == ordered[:-1], axis=1)  # the same setting comes again
    keep[rows[order[:-1][overridden]]] = False
    return keep


def _render_tinysoundfont(
    score: ScoreTick,
    font: Path,
    sample_rate: int,
    frames: int,
    raw: Path,
    /,
    *,
    channels: Collection[int] | None = None,
) -> None:
    """Play the score's events into TinySoundFont, one synth channel per track.

    With ``channels``, only those tracks sound, but the synth still renders up to every
    event of the others: TinySoundFont updates envelopes and filters on a grid of 64
    samples counted from the start of each render call, so a track rendered with other
    call boundaries sounds slightly different (up to -50 dB of the peak). Rendered this
    way, the tracks of a score rendered in parts sum to the whole to float rounding.
    """
    import tinysoundfont

    sounding = range(len(score.tracks)) if channels is None else frozenset(channels)

    synth = tinysoundfont.Synth(samplerate=sample_rate)
    try:
        sfid = synth.sfload(str(font))
    except Exception as error:
        raise InputFileError(f"cannot load SoundFont ({error})", font) from None
    playable: set[int] = set()
    for channel, track in enumerate(score.tracks):
        # An unknown preset falls back to the SoundFont's first piano (or standard kit).
        for program in dict.fromkeys((int(track.program) & 127, 0)):
            try:
                synth.program_select(channel, sfid, 0, program, is_drums=bool(track.is_drum))
            except RuntimeError:
                continue
            playable.add(channel)
            break

    block = np.zeros((BLOCK_FRAMES, 2), np.float32)
    filled = 0  # frames of `block` holding audio not yet written
    done = 0  # frames rendered in all
    with raw.open("wb") as out:

        def advance_to(target: int) -> None:
            nonlocal filled, done
            while done < target:
                n = min(target - done, BLOCK_FRAMES - filled)
                synth.generate_simple(n, buffer=block[filled : filled + n].data.cast("B"))
                filled, done = filled + n, done + n
                if filled == BLOCK_FRAMES:
                    out.write(block.tobytes())
                    filled = 0

        # TinySoundFont ignores CC64, so the sustain pedal is played here: a key released
        # while the pedal is down keeps sounding until the pedal comes up.
        pedal_down: set[int] = set()
        held: dict[int, list[int]] = {}  # channel -> keys released under the pedal

        def pedal_up(channel: int) -> None:
            pedal_down.discard(channel)
            for key in held.pop(channel, []):
                synth.noteoff(channel, key)  # ends the oldest voice of that key

        events = _events(score, sample_rate)
        for sample, kind, channel, a, b in (
            row  # through Python lists of a bounded size
            for start in range(0, len(events), 65536)
            for row in events[start : start + 65536].tolist()
        ):
            if channel not in playable:
                continue
            advance_to(min(sample, frames))
            if channel not in sounding:
                continue
            if kind == _NOTE_ON:
                synth.noteon(channel, a, min(b, 127))
            elif kind == _NOTE_OFF:
                if channel in pedal_down:
                    held.setdefault(channel, []).append(a)
                else:
                    synth.noteoff(channel, a)
            elif kind == _CONTROL and a in (_SUSTAIN, _RESET_CONTROLLERS):
                if a == _SUSTAIN and b >= 64:
                    pedal_down.add(channel)
                else:
                    pedal_up(channel)
                if a == _RESET_CONTROLLERS:
                    synth.control_change(channel, a, 0)
            elif kind == _CONTROL:
                synth.control_change(channel, a & 127, b & 127)
            else:
                synth.pitchbend(channel, a)
        for channel in list(pedal_down):
            pedal_up(channel)  # a pedal still down at the end lets go
        advance_to(frames)
        out.write(block[:filled].tobytes())


def _render_fluidsynth(
    score: ScoreTick,
    font: Path,
    sample_rate: int,
    frames: int,
    raw: Path,
    /,
    *,
    channels: Collection[int] | None = None,
) -> None:
    if channels is not None:
        keep = set(channels)
        score = score.copy(False)  # shallow: the tracks kept are copied below
        score.tracks = TrackTickList([track.copy() for index, track in enumerate(score.tracks) if index in keep])
    midi = raw.with_name(f"{raw.stem}.mid")
    score.dump_midi(str(midi))
    command = [
        "fluidsynth", "-ni", "-q", "-g", "0.5", "-r", str(sample_rate),
        "-T", "raw", "-O", "float", "-E", "little", "-F", str(raw), str(font), str(midi),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    # A SoundFont it cannot read is an error message, exit code 0 and another sound.
    if "not a SoundFont" in result.stderr or "Failed to load" in result.stderr:
        raise InputFileError("fluidsynth cannot load this SoundFont", font)
    if result.returncode != 0 or not raw.is_file():
        lines = (result.stderr or result.stdout or f"exit code {result.returncode}").splitlines()
        raise CadenzaError(f"fluidsynth failed: {lines[-1].strip()}")


def write_wavs(
    blocks: Callable[[], Iterable[list[np.ndarray]]],
    targets: Sequence[Path | None],
    sample_rate: int,
    frames: int,
    *,
    fade: bool,
) -> tuple[float, float]:
    """Write aligned float32 stereo signals as 16-bit WAVs, all at one gain.

    ``blocks()`` yields, block after block, one (n, 2) array per target, ``frames`` in
    all; it is called twice: once to find the peak over every signal, then to scale so
    that this peak sits at -1 dBFS and write. A target of None counts for the peak but is
    not written. With ``fade`` the last 0.1 s fade to exactly 0 on the last frame.
    Returns (the peak, the gain).
    """
    peak = 0.0
    for signals in blocks():
        peak = max([peak, *(float(np.max(np.abs(signal), initial=0.0)) for signal in signals)])
    # Below about -140 dBFS it is numerical dust, not music: keep it silent.
    gain = np.float32(10 ** (PEAK_DBFS / 20) / peak if peak > 1e-7 else 0.0)
    ramp = max(min(round(FADE_SECONDS * sample_rate), frames), 1) if fade else 0
    with contextlib.ExitStack() as stack:
        outs = [None if target is None else stack.enter_context(wave.open(str(target), "wb")) for target in targets]
        for out in outs:
            if out is not None:
                out.setnchannels(2)
                out.setsampwidth(2)
                out.setframerate(sample_rate)
        start = 0
        for signals in blocks():
            n = len(signals[0])
            index = np.arange(start, start + n)
            envelope = None
            if ramp and index[-1] >= frames - ramp:  # down to exactly 0 on the last frame
                envelope = np.clip((frames - 1 - index) / max(ramp - 1, 1), 0, 1).astype(np.float32)[:, None]
            for out, signal in zip(outs, signals, strict=True):
                if out is not None:
                    scaled = signal * gain
                    if envelope is not None:
                        scaled *= envelope
                    out.writeframes(np.rint(scaled * 32767).clip(-32768, 32767).astype("<i2").tobytes())
            start += n
    return peak, float(gain)


def aligned_blocks(raws: Sequence[Path], frames: int, *, first: int = 0) -> Iterator[list[np.ndarray]]:
    """Yield, block after block, one (n, 2) float32 array per raw spill file: frames
    ``first`` to ``first + frames`` of each, at most BLOCK_FRAMES at a time; a file that
    ends early is padded with silence."""
    with contextlib.ExitStack() as stack:
        sources = [stack.enter_context(raw.open("rb")) for raw in raws]
        for source in sources:
            source.seek(first * 8)
        done = 0
        while done < frames:
            n = min(frames - done, BLOCK_FRAMES)
            yield [_read_frames(source, n) for source in sources]
            done += n


def _read_frames(source: BinaryIO, n: int) -> np.ndarray:
    data = source.read(n * 8)
    block = np.zeros((n, 2), np.float32)
    got = len(data) // 8
    block[:got] = np.frombuffer(data[: got * 8], np.float32).reshape(-1, 2)
    return block
