"""The public API: ``Composer.from_pretrained(...).generate(conditions, sampling)``.

A folder of a multitrack model gets a
:class:`~cadenza.compose.multitrack_composer.MultitrackComposer`, which plans every
piece and follows its plan; the REMI families here write one texture left to right.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import symusic

from cadenza.compose.arrange import TPQ, arrange, notes_of, orchestrate, score_of, voiced, within
from cadenza.compose.conditions import Conditions, Resolved, resolve
from cadenza.compose.plan import Plan
from cadenza.data.labels import key_label
from cadenza.data.tokens import condition_tokens, load_tokenizer
from cadenza.errors import InputFileError, InvalidArgumentError
from cadenza.models.constraints import (
    Cadence,
    Constraint,
    Continuity,
    ExactBars,
    FixedTempo,
    Grammar,
    Meter,
    PitchClasses,
    PitchRange,
    Programs,
)
from cadenza.models.family import Family, Generate, Request, family
from cadenza.models.folder import read_config
from cadenza.models.registry import DEFAULT_MODEL, ModelInfo, locate
from cadenza.models.sampling import Sampling
from cadenza.models.vocabulary import Vocabulary
from cadenza.theory import KEY_SCALES as SCALES

__all__ = ["Composer", "Progress", "SCALES"]

Progress = Callable[[int, int], None]
"""``(done, total)``: how far a long piece has come, for a progress bar."""

_TOKENS_PER_BAR_LIMIT = 600
DEFAULT_SAMPLING = Sampling()


class Composer:
    """Composes music with one model; sampling settings are given on every call."""

    follows_plans = False  # whether a plan's sections, chords and repeats are followed

    def __new__(cls, folder: Path, name: str | None = None) -> Composer:
        """A family that follows plans gets :class:`MultitrackComposer` (decided from the
        config alone: the weights are hashed once, by ``__init__``)."""
        if cls is Composer:
            kind = family(str(read_config(folder).get("family", "?")), folder)
            if kind.follows_plans:
                from cadenza.compose.multitrack_composer import MultitrackComposer

                return super().__new__(MultitrackComposer)
            if kind.writes_scores:
                from cadenza.compose.gan_composer import GanComposer

                return super().__new__(GanComposer)
        return super().__new__(cls)

    def __init__(self, folder: Path, name: str | None = None) -> None:
        self.info = ModelInfo.read(folder, name)
        self.folder = folder
        self.family: Family = family(self.info.family, folder)  # an unknown family is refused here
        if not self.family.composes:
            raise InputFileError(
                f"holds a {self.info.family} model, which `generate` does not compose with yet", folder
            )
        self.config = read_config(folder)
        self.tokenizer = load_tokenizer(folder)
        self.vocab = Vocabulary.from_tokenizer_vocab(self.tokenizer.vocab)
        # A model trained on pieces moved to tonic C writes in C; the arrangement moves it.
        self.key_normalised = bool(self.config.get("key_normalised", False))
        self.default_style = str(self.config.get("default_style", "pop"))

    @classmethod
    def from_pretrained(cls, name_or_path: str | Path = DEFAULT_MODEL) -> Composer:
        """A shipped model by name (``default``, see ``cadenza models``) or a model folder."""
        folder = locate(name_or_path)
        return cls(folder, folder.name)

    @cached_property
    def _model(self) -> Any:  # loaded on first use
        return self.family.load(self.folder)

    @cached_property
    def originality_index(self):  # -> Index | None; loaded once, however many pieces are checked
        """The index of the pieces the model learned from, shipped in its ``index/`` folder."""
        from cadenza.provenance.repair import model_index

        return model_index(self.folder)

    def resolve(self, conditions: Conditions) -> Resolved:
        return resolve(conditions, self.default_style)

    def _generator(self, resolved: Resolved) -> Generate:
        request = Request(resolved.style, resolved.mode, resolved.meter, head=len(self._head(resolved)))
        return self.family.generator(self._model, self.info, request, self.vocab)

    def _shift(self, resolved: Resolved) -> int:
        """Semitones from the key the model writes in to the requested key."""
        if not self.key_normalised:
            return 0
        return resolved.tonic if resolved.tonic <= 6 else resolved.tonic - 12

    def _head(self, resolved: Resolved) -> list[int]:
        tonic = 0 if self.key_normalised else resolved.tonic
        key = key_label(tonic, resolved.mode)
        conditions = condition_tokens(resolved.style, key, resolved.mood or "calm")
        return [self.vocab.id("BOS_None")] + [self.vocab.id(t) for t in conditions]

    def _decode(
        self,
        resolved: Resolved,
        sampling: Sampling,
        prefix: list[int],
        until_bar: int,
        progress: Progress | None = None,
    ) -> list[int]:
        """Tokens after ``prefix`` up to the end of bar ``until_bar`` (1-based); ``progress``
        is told ``(bars done, until_bar)`` as each bar is finished."""
        vocab = self.vocab
        tonic = 0 if self.key_normalised else resolved.tonic
        shift = self._shift(resolved)
        low = min(i.low for i in resolved.instruments) - shift
        high = max(i.high for i in resolved.instruments) - shift
        constraints: list[Constraint] = [
            Grammar(vocab),
            Meter(vocab, resolved.meter),
            FixedTempo(vocab, resolved.tempo),
            Programs(vocab, [0]),  # one keyboard texture; the arrangement gives it instruments
            PitchClasses(vocab, [(tonic + p) % 12 for p in SCALES[resolved.mode]]),
            PitchRange(vocab, max(low, 21), min(high, 108)),
            ExactBars(vocab, until_bar),
            Continuity(vocab),
        ]
        if until_bar == resolved.bars:
            constraints.append(Cadence(vocab, tonic, resolved.mode == "min", last_bar=resolved.bars))
        limit = len(prefix) + (until_bar + 1) * _TOKENS_PER_BAR_LIMIT
        generate = self._generator(resolved)
        if progress is None:
            return generate(prefix, constraints, sampling, limit)
        tokens = generate(prefix, constraints, sampling, limit, on_bar=lambda bar: progress(bar - 1, until_bar))
        progress(until_bar, until_bar)
        return tokens

    def generate(
        self,
        conditions: Conditions,
        sampling: Sampling = DEFAULT_SAMPLING,
        progress: Progress | None = None,
        plan: Plan | None = None,
    ) -> symusic.Score:
        """A new piece that follows ``conditions``; the same seed gives the same piece.
        ``progress(bars done, bars)`` is called as the piece grows (it changes nothing).
        With ``plan``, this family follows only :meth:`Plan.conditions` (its first
        section and its bars in all): see :attr:`follows_plans`."""
        resolved = self.resolve(conditions if plan is None else plan.conditions())
        tokens = self._decode(resolved, sampling, self._head(resolved), resolved.bars, progress)
        return arrange(self.tokenizer.decode(tokens), resolved, self._shift(resolved))

    def regenerate(
        self,
        score: symusic.Score,
        start_bar: int,
        end_bar: int,
        conditions: Conditions,
        sampling: Sampling,
        plan: Plan | None = None,
    ) -> symusic.Score:
        """``score`` (made by :meth:`generate` with ``conditions`` or ``plan``) with bars
        ``start_bar``..``end_bar - 1`` (0-based) composed anew; every other note is kept."""
        resolved = self.resolve(conditions if plan is None else plan.conditions())
        if not 0 <= start_bar < end_bar <= resolved.bars:
            raise InvalidArgumentError(f"bars {start_bar}..{end_bar} are outside the piece's {resolved.bars} bars")
        if len(score.tracks) != len(resolved.instruments):
            raise InvalidArgumentError(
                f"regenerate rewrites a piece this composer made (one track per instrument, here "
                f"{len(resolved.instruments)}), not one of {len(score.tracks)} tracks; for your own music use "
                "cadenza.compose.tasks.infill_sketch (`cadenza infill`)"
            )
        bar_ticks = round(resolved.bar_quarters * TPQ)
        begin, end = start_bar * bar_ticks, end_bar * bar_ticks
        shift = self._shift(resolved)
        context = notes_of(score)
        context = context[context[:, 0] < begin]
        context[:, 2] -= shift  # into the key the model writes in
        prefix_score = score_of(context[(context[:, 2] >= 21) & (context[:, 2] <= 108)], resolved)
        prefix_score.tracks[0].program = 0
        prefix = self._head(resolved)
        if len(context):
            prefix += list(self.tokenizer.encode(prefix_score).ids)
        bar_id = self.vocab.id("Bar_None")
        meter_id = self.vocab.id(f"TimeSig_{resolved.meter}")
        while prefix.count(bar_id) < start_bar:  # bars with nothing in them still count
            prefix += [bar_id, meter_id]
        tokens = self._decode(resolved, sampling, prefix, end_bar)
        fresh = voiced(within(notes_of(self.tokenizer.decode(tokens)), begin, end), shift, resolved.loudness)
        result = score.copy()
        for track, part in zip(result.tracks, orchestrate(fresh, resolved.instruments), strict=True):
            kept = [n for n in track.notes if not begin <= n.time < end]
            track.notes = type(track.notes)()
            # a new note may not strike a key that a kept note still holds
            held = [(n.pitch, n.time, n.time + n.duration) for n in kept]
            new = [n for n in part if not any(p == n.pitch and a <= n.time < b for p, a, b in held)]
            for note in sorted([*kept, *new], key=lambda n: (n.time, n.pitch)):
                track.notes.append(note)
        return result
