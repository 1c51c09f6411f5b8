"""Composing with the adversarial family: phrases of piano roll, put in the asked key and length.

A GAN (:mod:`cadenza.models.gan`) writes whole 4-bar phrases of three tracks (melody,
bridge, piano) at once, not tokens. :class:`GanComposer` asks it for as many phrases as
the piece has bars (each drawn :data:`CANDIDATES` times: the draw whose key the analysis
hears in the asked mode is kept, then moved to the asked tonic), joins them, plays them
at the asked tempo on the asked instruments, and ends the piece exactly as long as asked
(the last notes held through the tail). The family learned 4/4 pop phrases only: another
meter or style is refused in one line, and a plan is followed for its length alone.
Sampling settings other than the seed have no meaning for it (it draws a latent vector,
not tokens) and are not used.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import symusic

from cadenza.analysis.key import key_segments, main_key
from cadenza.compose.arrange import TPQ
from cadenza.compose.composer import DEFAULT_SAMPLING, Composer, Progress
from cadenza.compose.conditions import Conditions, Resolved, resolve
from cadenza.compose.plan import Plan
from cadenza.errors import InvalidArgumentError
from cadenza.models.family import family
from cadenza.models.folder import read_config
from cadenza.models.gan import GanModel, phrase_to_score, sample_phrases
from cadenza.models.registry import ModelInfo
from cadenza.models.sampling import Sampling
from cadenza.theory import key_signature, parse_key

__all__ = ["GanComposer", "CANDIDATES"]

CANDIDATES = 4  # draws of each phrase; the one heard in the asked mode is kept
_PHRASE_SEED_STRIDE = 7919
_REGENERATE_SEED = 104_729


def _shift_to(tonic: int, heard: int) -> int:
    step = (tonic - heard) % 12
    return step - 12 if step > 6 else step


class GanComposer(Composer):
    """The :class:`Composer` of a GAN model folder (see the module docstring)."""

    def __init__(self, folder: Path, name: str | None = None) -> None:  # no tokenizer: a GAN writes rolls
        self.info = ModelInfo.read(folder, name)
        self.folder = folder
        self.family = family(self.info.family, folder)
        self.config = read_config(folder)
        self.key_normalised = False
        self.default_style = str(self.config.get("default_style", "pop"))

    def resolve(self, conditions: Conditions) -> Resolved:
        resolved = resolve(conditions, self.default_style)
        name = self.info.name
        if resolved.meter != "4/4":
            raise InvalidArgumentError(f"{name} writes 4/4 phrases only; --meter {resolved.meter} is not one it can")
        if resolved.style != self.default_style:
            raise InvalidArgumentError(
                f"{name} learned {self.default_style} only; --style {resolved.style} is not one it writes"
            )
        if len(resolved.instruments) > 3:
            raise InvalidArgumentError(f"{name} writes three tracks (melody, bridge, piano): at most 3 instruments")
        return resolved

    @property
    def gan(self) -> GanModel:
        model: GanModel = self._model
        return model

    def generate(
        self,
        conditions: Conditions,
        sampling: Sampling = DEFAULT_SAMPLING,
        progress: Progress | None = None,
        plan: Plan | None = None,
    ) -> symusic.Score:
        """A piece of the asked length, key, tempo and instruments (see the module docstring)."""
        resolved = self.resolve(plan.conditions() if plan is not None else conditions)
        bars = resolved.bars
        phrase_bars = self.gan.config.bars
        rolls = []
        for index in range(math.ceil(bars / phrase_bars)):
            rolls.append(self._phrase(resolved, sampling.seed * _PHRASE_SEED_STRIDE + index))
            if progress is not None:
                progress(min(bars, (index + 1) * phrase_bars), bars)
        roll = np.concatenate(rolls, axis=1)[:, :bars]
        return self._score(roll, resolved)

    def _phrase(self, resolved: Resolved, seed: int) -> np.ndarray:
        """One phrase in the asked key: of :data:`CANDIDATES` draws, the first whose key is
        heard in the asked mode (else the first), moved to the asked tonic."""
        drawn = sample_phrases(self.gan, CANDIDATES, seed)
        chosen, heard = drawn[0], None
        for candidate in drawn:
            label = self._key_of(candidate)
            if label is None:
                continue
            tonic, mode = parse_key(label)
            if heard is None:
                chosen, heard = candidate, tonic
            if mode == resolved.mode:
                chosen, heard = candidate, tonic
                break
        shift = 0 if heard is None else _shift_to(resolved.tonic, heard)
        return np.roll(chosen, shift, axis=-1) if shift else chosen

    def _key_of(self, phrase: np.ndarray) -> str | None:
        score = phrase_to_score(phrase, resolution=self.gan.config.resolution, low=self.gan.config.low)
        found = main_key(key_segments(score))
        return None if found is None else found.label

    def _score(self, roll: np.ndarray, resolved: Resolved) -> symusic.Score:
        instruments = list(resolved.instruments)
        programs = [instruments[min(i, len(instruments) - 1)].program for i in range(3)]
        roles = ("melody", "counter", "harmony")  # named as the multitrack family names its tracks
        names = [f"{instruments[min(i, len(instruments) - 1)].name} ({role})" for i, role in enumerate(roles)]
        config = self.gan.config
        score = phrase_to_score(
            roll, resolved.tempo, programs, resolution=config.resolution, low=config.low, tpq=TPQ, names=names
        )
        score.key_signatures.append(
            symusic.KeySignature(0, key_signature(resolved.tonic, resolved.mode), int(resolved.mode == "min"))
        )
        _exact_end(score, resolved)
        return score

    def regenerate(
        self,
        score: symusic.Score,
        start_bar: int,
        end_bar: int,
        conditions: Conditions,
        sampling: Sampling,
        plan: Plan | None = None,
    ) -> symusic.Score:
        """``score`` with bars ``start_bar``..``end_bar - 1`` taken from a piece drawn with
        another seed (an originality repair: the copied bars are drawn again)."""
        fresh = self.generate(conditions, replace(sampling, seed=sampling.seed + _REGENERATE_SEED), plan=plan)
        bar = 4 * score.ticks_per_quarter
        begin, end = start_bar * bar, end_bar * bar
        out = score.copy()
        for mine, theirs in zip(out.tracks, fresh.tracks, strict=True):
            kept = [n for n in mine.notes if not begin <= n.time < end]
            for n in kept:
                if n.time < begin < n.time + n.duration:
                    n.duration = begin - n.time
            mine.notes.clear()
            mine.notes.extend(kept + [n for n in theirs.notes if begin <= n.time < end])
        return out


def _exact_end(score: symusic.Score, resolved: Resolved) -> None:
    """Nothing sounds past the asked end; the notes of the last onset are held to it (the tail)."""
    end = round(resolved.total_quarters * TPQ)
    last = max((n.time for t in score.tracks for n in t.notes), default=None)
    for track in score.tracks:
        kept = [n for n in track.notes if n.time < end]
        for n in kept:
            if n.time == last:
                n.duration = end - n.time
            n.duration = max(1, min(n.duration, end - n.time))
        track.notes.clear()
        track.notes.extend(kept)
