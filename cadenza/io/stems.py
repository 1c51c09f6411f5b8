"""Rendering a score as stems: one WAV per layer beside the mix, all at one gain.

Each stem is a group of the score's tracks, rendered on its own through the synthesizer
of :mod:`cadenza.io.audio` to exactly ``round(seconds * sample_rate)`` frames, so the
stems are sample-aligned. The mix is their float sum; one gain, set from the loudest of
the mix and the stems (the mix, unless stems cancel) to -1 dBFS, scales every file, so
the 16-bit stems sum to the 16-bit mix to within rounding: at most one step per stem.

TinySoundFont has no global effects and renders each stem with the whole score's call
boundaries, so the mix equals a render of all tracks together to float rounding.

A loop (``loop=True``) renders each stem :data:`LOOP_TAIL_SECONDS` past its end and mixes
that release tail into its start, and does not fade out: played end to start, the seam
is as continuous as the music inside (:func:`seam_discontinuity` measures it). The score
should stop at the loop end (notes cut there); what it plays after rings into the start.

Raw audio goes to spill files beside the mix and is read back in blocks: memory stays at
a block per stem whatever the length.
"""

from __future__ import annotations

import contextlib
import operator
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from symusic.core import ScoreTick

from cadenza.errors import InvalidArgumentError
from cadenza.io.atomic import atomic_output, check_writable
from cadenza.io.audio import aligned_blocks, frame_count, prepare_render, spill_folder, write_wavs

__all__ = ["LOOP_TAIL_SECONDS", "StemsResult", "render_stems", "seam_discontinuity"]

LOOP_TAIL_SECONDS = 4.0
"""How long a loop's stems ring on past the loop end; that tail is mixed into the start."""


@dataclass(frozen=True)
class StemsResult:
    frames: int
    """Frames in every file written: ``round(seconds * sample_rate)``."""
    sample_rate: int
    gain: float
    """Synth output × gain = the float sample written (times 32767 in 16 bits)."""
    peak: float
    """The synth's peak the gain was set from (the mix's, or a louder stem's)."""
    mix: Path
    stems: dict[str, Path]
    """Stem name -> WAV, in the order of ``stems``; empty when no stem WAV was asked for."""


def render_stems(
    score: ScoreTick,
    stems: Mapping[str, Sequence[int]],
    mix_path: str | os.PathLike[str],
    stem_paths: Mapping[str, str | os.PathLike[str]] | None,
    *,
    seconds: float,
    loop: bool = False,
    soundfont: Path | None = None,
    sample_rate: int = 44100,
    force: bool = False,
) -> StemsResult:
    """Render the stems of ``score`` (name -> indices of its tracks; each track in exactly
    one stem) and their mix to 16-bit stereo WAVs of exactly ``round(seconds *
    sample_rate)`` frames, all at one gain: the mix at ``mix_path`` and, when
    ``stem_paths`` is given (name -> path, one per stem), every stem.

    Everything is checked before anything is rendered: the stem map, every output (none
    may exist without ``force``, none twice), the score's limits, the SoundFont.
    """
    channels = _check_stems(score, stems)
    mix_target, stem_targets = _check_targets(mix_path, stem_paths, stems, force=force)
    _, font, backend = prepare_render(score, mix_target, soundfont=soundfont, sample_rate=sample_rate)
    frames = frame_count(seconds, sample_rate, mix_target)
    if frames < 1:
        raise InvalidArgumentError(f"a length of {seconds:g} s is less than one sample", mix_target)
    tail = round(LOOP_TAIL_SECONDS * sample_rate) if loop else 0
    with contextlib.ExitStack() as stack:
        mix_tmp = stack.enter_context(atomic_output(mix_target, force=force))
        stem_tmps = {name: stack.enter_context(atomic_output(path, force=force)) for name, path in stem_targets.items()}
        work = stack.enter_context(spill_folder(mix_tmp.parent))
        raws = [work / f"stem{number}.f32" for number in range(len(channels))]
        for raw, tracks in zip(raws, channels.values(), strict=True):
            backend(score, font, sample_rate, frames + tail, raw, channels=tracks)
        folds = [_folded_tail(raw, frames, tail) for raw in raws] if loop else []

        def blocks() -> Iterator[list[np.ndarray]]:
            start = 0
            for signals in aligned_blocks(raws, frames):
                for signal, fold in zip(signals, folds, strict=False):  # a loop's tails
                    overlap = fold[start : start + len(signal)]
                    signal[: len(overlap)] += overlap
                mix = signals[0].copy()
                for signal in signals[1:]:
                    mix += signal
                yield [mix, *signals]
                start += len(mix)

        targets = [mix_tmp, *(stem_tmps.get(name) for name in channels)]
        peak, gain = write_wavs(blocks, targets, sample_rate, frames, fade=not loop)
    return StemsResult(frames, sample_rate, gain, peak, mix_target, dict(stem_targets))


def seam_discontinuity(samples: np.ndarray) -> tuple[float, float]:
    """How a loop's seam compares with the music inside: (the jump from the last frame to
    the first, ``max |x[0] - x[-1]|`` over channels; a typical step inside, the 99th
    percentile of ``|x[i+1] - x[i]|`` over frames and channels). A seamless loop's jump
    is no larger than the typical step. ``samples``: (frames,) or (frames, channels);
    fewer than two frames give (0.0, 0.0)."""
    x = np.asarray(samples, dtype=np.float64)
    x = x.reshape(len(x), -1)
    if len(x) < 2:
        return 0.0, 0.0
    jump = float(np.max(np.abs(x[0] - x[-1])))
    return jump, float(np.percentile(np.abs(np.diff(x, axis=0)), 99))


def _check_stems(score: ScoreTick, stems: Mapping[str, Sequence[int]]) -> dict[str, frozenset[int]]:
    """Stem name -> its tracks, or refuse a map in which a track is in no stem, in two,
    or is no track of the score."""
    if not stems:
        raise InvalidArgumentError("no stems to render")
    count = len(score.tracks)
    owner: dict[int, str] = {}
    channels: dict[str, frozenset[int]] = {}
    for name, indices in stems.items():
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"a stem needs a name, not {name!r}")
        mine: set[int] = set()
        for value in indices:
            try:
                if isinstance(value, bool):
                    raise TypeError
                index = operator.index(value)
            except TypeError:
                raise InvalidArgumentError(f"stem {name!r}: {value!r} is not a track number") from None
            if not 0 <= index < count:
                raise InvalidArgumentError(
                    f"stem {name!r}: the score has no track {index} (it has {count}: 0..{count - 1})"
                )
            if index in owner:
                raise InvalidArgumentError(f"track {index} is in stem {owner[index]!r} and in stem {name!r}")
            owner[index] = name
            mine.add(index)
        channels[name] = frozenset(mine)
    missing = [index for index in range(count) if index not in owner]
    if missing:
        listed = ", ".join(map(str, missing[:10])) + (", ..." if len(missing) > 10 else "")
        raise InvalidArgumentError(f"track{'s' if len(missing) > 1 else ''} {listed} in no stem")
    return channels


def _check_targets(
    mix_path: str | os.PathLike[str],
    stem_paths: Mapping[str, str | os.PathLike[str]] | None,
    stems: Mapping[str, Sequence[int]],
    *,
    force: bool,
) -> tuple[Path, dict[str, Path]]:
    """The mix's path and the stems' (in the order of ``stems``), each checked writable
    and none twice; or refuse before anything is rendered."""
    targets: dict[str, Path] = {}
    if stem_paths is not None:
        unknown = [name for name in stem_paths if name not in stems]
        missing = [name for name in stems if name not in stem_paths]
        if unknown or missing:
            raise InvalidArgumentError(
                f"stem paths must name each stem once: no stem {unknown}" if unknown else f"no path for {missing}"
            )
        targets = {name: Path(stem_paths[name]) for name in stems}
    mix = Path(mix_path)
    seen: dict[Path, Path] = {}
    for path in (mix, *targets.values()):
        check_writable(path, force=force)
        key = path.resolve()
        if key in seen:
            raise InvalidArgumentError(f"is the same file as {seen[key]}; every output needs its own path", path)
        seen[key] = path
    return mix, targets


def _folded_tail(raw: Path, frames: int, tail: int) -> np.ndarray:
    """The ``tail`` frames after the loop end, wrapped onto the loop's first frames (more
    than once around a loop shorter than its tail)."""
    rung = [signals[0] for signals in aligned_blocks([raw], tail, first=frames)]
    tail_frames = np.concatenate(rung) if rung else np.zeros((0, 2), np.float32)
    folded = np.zeros((min(len(tail_frames), frames), 2), np.float32)
    for lap in range(0, len(tail_frames), frames):
        chunk = tail_frames[lap : lap + frames]
        folded[: len(chunk)] += chunk
    return folded
