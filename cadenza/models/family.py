"""Model families behind one interface, and the registry the composer asks.

A family says how to load a model folder and how to compose from a :class:`Request`:
it returns a :data:`Generate`, ``(prefix, constraints, sampling, max_tokens) -> tokens``.
Families whose model gives the next token's distribution (Markov, Transformer) share
one decoding loop (:class:`NextTokenFamily`); a family that has no such distribution (a
GAN makes a whole passage at once) implements :meth:`Family.generator` itself.

A new family registers itself with :func:`register`; ``config.json``'s ``family``
names the one that reads a folder.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from cadenza.errors import InputFileError
from cadenza.models.constraints import Constraint
from cadenza.models.registry import ModelInfo
from cadenza.models.sampling import Sampling, decode
from cadenza.models.vocabulary import Vocabulary

__all__ = [
    "SAMPLING_THREADS",
    "Family",
    "Generate",
    "NextDistribution",
    "NextTokenFamily",
    "Request",
    "family",
    "family_names",
    "register",
    "torch_threads",
]


class Generate(Protocol):
    """``(prefix, constraints, sampling, max_tokens, on_bar) -> prefix + new tokens``,
    ending at EOS or at ``max_tokens``; the same sampling seed gives the same tokens.
    ``on_bar(n)``, when given, is told as bar ``n`` begins (progress only)."""

    def __call__(
        self,
        prefix: Sequence[int],
        constraints: Sequence[Constraint],
        sampling: Sampling,
        max_tokens: int,
        on_bar: Callable[[int], None] | None = None,
    ) -> list[int]: ...


NextDistribution = Callable[[Sequence[int]], np.ndarray]

SAMPLING_THREADS = 1
"""Torch intra-op threads while drawing one token at a time. A small model's step is
dispatch-bound: more threads only wait on each other, and on a busy machine they wait
for cores that other programs hold (4-14x slower; ``bench/bench_threads.py``). Batch
work (training, evaluation) keeps torch's default."""


@dataclass(frozen=True)
class Request:
    """What the composer asks a family for, in plain data."""

    style: str
    mode: str  # "maj" or "min"
    meter: str  # e.g. "6/8"
    head: int  # how many tokens at the start of every prefix are the condition head


class Family(ABC):
    """A model family: how to read its folder and how to compose with it."""

    name: ClassVar[str]
    composes: ClassVar[bool] = True  # whether the composer (``cadenza generate``) can use it
    follows_plans: ClassVar[bool] = False  # composes a plan's sections, chords and repeats bar by bar
    writes_scores: ClassVar[bool] = False  # writes whole phrases of notes itself (no tokens, no tokenizer)

    @abstractmethod
    def load(self, folder: Path) -> Any:
        """The model in ``folder`` (checked to be safetensors by :func:`~cadenza.models.registry.locate`)."""

    @abstractmethod
    def generator(self, model: Any, info: ModelInfo, request: Request, vocab: Vocabulary) -> Generate:
        """A fresh :data:`Generate` for one piece (or one passage) of ``request``."""


class NextTokenFamily(Family):
    """A family whose model gives the next token's distribution: every such family
    draws through the same constrained loop, :func:`cadenza.models.sampling.decode`."""

    @abstractmethod
    def distribution(self, model: Any, info: ModelInfo, request: Request) -> NextDistribution:
        """``tokens -> probabilities`` of the next token, for one decoding run."""

    def threads(self) -> contextlib.AbstractContextManager[object]:
        """The thread setting decoding runs under (none needed by default)."""
        return contextlib.nullcontext()

    def generator(self, model: Any, info: ModelInfo, request: Request, vocab: Vocabulary) -> Generate:
        next_distribution = self.distribution(model, info, request)

        def generate(
            prefix: Sequence[int],
            constraints: Sequence[Constraint],
            sampling: Sampling,
            max_tokens: int,
            on_bar: Callable[[int], None] | None = None,
        ) -> list[int]:
            with self.threads():
                return decode(next_distribution, vocab, prefix, constraints, sampling, max_tokens, on_bar)

        return generate


@contextlib.contextmanager
def torch_threads(count: int = SAMPLING_THREADS) -> Iterator[None]:
    """Torch's intra-op threads set to ``count`` inside the block, restored after it.
    The setting is process-wide: a server decoding on several threads at once should
    set it once for the process instead."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class MarkovFamily(NextTokenFamily):
    name = "markov"

    def load(self, folder: Path) -> Any:
        from cadenza.models.markov import MarkovModel

        return MarkovModel.load(folder)

    @staticmethod
    def group(info: ModelInfo, request: Request, groups: Sequence[str]) -> str | None:
        """The closest group the model knows: same style, mode and beat unit; else the
        same style and beat unit; else the largest group with that beat unit."""
        from cadenza.models.markov import beat_unit, group_name

        wanted = group_name(request.style, request.mode, request.meter)
        unit = beat_unit(request.meter)
        sizes = info.training.get("groups", {})
        same_unit = sorted((g for g in groups if g.endswith(f"|{unit}")), key=lambda g: -sizes.get(g, 0))
        for candidates in ([wanted], [g for g in same_unit if g.startswith(f"{request.style}|")], same_unit):
            if candidates and candidates[0] in groups:
                return candidates[0]
        return None

    def distribution(self, model: Any, info: ModelInfo, request: Request) -> NextDistribution:
        from cadenza.models.markov import pool_name

        group = self.group(info, request, model.config.groups)
        pool = pool_name(request.meter)
        window = max(model.config.order, model.config.group_order) - 1  # tokens of context it can use
        head = request.head
        return lambda tokens: model.next_distribution(tokens[max(head, len(tokens) - window) :], group, pool)


class TransformerFamily(NextTokenFamily):
    name = "transformer"

    def load(self, folder: Path) -> Any:
        from cadenza.models.transformer import TransformerModel

        return TransformerModel.load(folder)

    def distribution(self, model: Any, info: ModelInfo, request: Request) -> NextDistribution:
        return model.stepper()  # KV-cached: one per decoding run

    def threads(self) -> contextlib.AbstractContextManager[object]:
        return torch_threads(SAMPLING_THREADS)


class MultitrackFamily(TransformerFamily):
    """The Transformer over multitrack tokens (:mod:`cadenza.models.multitrack`): it composes
    through :func:`~cadenza.models.multitrack.infill` and :func:`~cadenza.models.multitrack.fill`,
    which :class:`~cadenza.compose.multitrack_composer.MultitrackComposer` drives from a
    plan, not through the composer's REMI requests (:meth:`generator`)."""

    name = "multitrack"
    follows_plans = True

    def load(self, folder: Path) -> Any:
        from cadenza.models.multitrack import MultitrackModel

        return MultitrackModel.load(folder)


class GanFamily(Family):
    """The adversarial family (:mod:`cadenza.models.gan`): it writes whole phrases of piano
    roll (:func:`~cadenza.models.gan.sample_phrases`), not tokens; its composer is
    :class:`~cadenza.compose.gan_composer.GanComposer`."""

    name = "gan"
    writes_scores = True

    def load(self, folder: Path) -> Any:
        from cadenza.models.gan import GanModel

        return GanModel.load(folder)

    def generator(self, model: Any, info: ModelInfo, request: Request, vocab: Vocabulary) -> Generate:
        raise InputFileError("holds a gan model, which writes piano-roll phrases, not tokens", info.folder)


_FAMILIES: dict[str, Family] = {}


def register(new: Family) -> Family:
    """Make ``new`` the family that reads folders whose ``config.json`` names ``new.name``."""
    _FAMILIES[new.name] = new
    return new


def family(name: str, folder: Path | None = None) -> Family:
    """The registered family called ``name``; InputFileError (naming ``folder``) if none."""
    found = _FAMILIES.get(name)
    if found is None:
        raise InputFileError(f"unknown model family {name!r}; known: {', '.join(family_names())}", folder)
    return found


def family_names() -> list[str]:
    return sorted(_FAMILIES)


register(MarkovFamily())
register(TransformerFamily())
register(MultitrackFamily())
register(GanFamily())
