"""Sampling settings and the decoding loop shared by every model family.

A model is anything with ``next_distribution(tokens) -> probabilities``; the loop masks
the distribution with the constraints, reshapes it with the sampling settings and draws
with a seeded generator, so the same seed gives the same tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from cadenza.errors import InvalidArgumentError
from cadenza.models.constraints import Constraint, DecodingState, fixed_mask
from cadenza.models.vocabulary import Vocabulary

__all__ = ["Sampling", "decode", "reshape"]


@dataclass(frozen=True)
class Sampling:
    """How to draw each token; passed on every call, never stored in the model."""

    temperature: float = 1.0
    top_k: int = 0  # 0: no limit
    top_p: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.temperature < float("inf"):
            raise InvalidArgumentError(f"temperature must be a number above 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InvalidArgumentError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise InvalidArgumentError(f"top_k must be 0 or more, got {self.top_k}")


def reshape(probabilities: np.ndarray, sampling: Sampling) -> np.ndarray:
    """Temperature, then top-k, then top-p (nucleus); returns a normalised distribution."""
    p = probabilities.astype(np.float64)
    if sampling.temperature != 1.0:
        with np.errstate(divide="ignore"):
            logits = np.log(p) / sampling.temperature
        p = np.exp(logits - logits.max())
    p /= p.sum()
    if sampling.top_k and sampling.top_k < np.count_nonzero(p):
        cutoff = np.partition(p, -sampling.top_k)[-sampling.top_k]
        p = np.where(p >= cutoff, p, 0.0)
        p /= p.sum()
    if sampling.top_p < 1.0:
        candidates = np.flatnonzero(p)  # sorting only these keeps the same order: zeros sort last
        order = candidates[np.argsort(-p[candidates], kind="stable")]
        cumulative = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cumulative, sampling.top_p) + 1)]
        trimmed = np.zeros_like(p)
        trimmed[keep] = p[keep]
        p = trimmed / trimmed.sum()
    return p


def decode(
    next_distribution: Callable[[Sequence[int]], np.ndarray],
    vocab: Vocabulary,
    prefix: Sequence[int],
    constraints: Sequence[Constraint],
    sampling: Sampling,
    max_tokens: int,
    on_bar: Callable[[int], None] | None = None,
) -> list[int]:
    """Draw tokens after ``prefix`` until EOS or ``max_tokens``; returns all tokens.

    ``constraints[0]`` must be the :class:`~cadenza.models.constraints.Grammar`.
    ``on_bar(n)`` is told each time bar ``n`` (1-based, counted from the piece's start)
    begins, so that a caller can show progress; it does not change what is drawn.
    """
    rng = np.random.default_rng(sampling.seed)
    state = DecodingState(vocab)
    tokens = list(prefix)
    for token in prefix:
        state.advance(token)
    fixed = np.ones(len(vocab), dtype=bool)
    changing = []
    for constraint in constraints:
        mask = fixed_mask(constraint)
        if mask is None:
            changing.append(constraint)
        else:
            fixed &= mask
    while not state.ended and len(tokens) < max_tokens:
        allowed = fixed.copy()
        for constraint in changing:
            allowed &= constraint.allowed(state)
        if not allowed.any():  # constraints that contradict here: the grammar (first) wins
            allowed = constraints[0].allowed(state)
        p = np.where(allowed, next_distribution(tokens), 0.0)
        if p.sum() <= 0:  # the model gives no weight to anything allowed
            p = allowed.astype(np.float64)
        p = reshape(p, sampling)
        token = int(rng.choice(len(p), p=p))
        tokens.append(token)
        bars = state.bars
        state.advance(token)
        if on_bar is not None and state.bars != bars:
            on_bar(state.bars)
    return tokens
