"""A variable-order Markov model over REMI tokens, with Witten–Bell interpolation.

Every context of 0 to ``order - 1`` tokens that the corpus holds is hashed (with the
group it belongs to: all music, or one style-and-mode group) into a 64-bit key; the
table maps each key to the successors seen after it and their counts. The probability
of the next token interpolates from the longest context found down to the unigram:

    P(x | h_L) = (c(h_L, x) + u(h_L) · P(x | h_{L-1})) / (c(h_L) + u(h_L))

where c(h_L) is how often the context occurred and u(h_L) how many distinct tokens
followed it (Witten–Bell). The unigram backs off to a uniform distribution, so no token
ever has probability zero and constrained decoding never runs dry.

Pruning: a successor of a context longer than ``keep_all_below`` tokens is kept only when
it occurs in at least ``min_pieces`` different pieces. Patterns shared by several pieces
are style; a long pattern found in one piece only would be a quotation of it.

Fitting (counting and pruning) lives in :mod:`cadenza.train.markov`; this module holds
the model, its hashing and its groups. Saved as safetensors (the table) + JSON (the
config, written by :mod:`cadenza.models.folder`); never pickle.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from cadenza.errors import InputFileError
from cadenza.models.folder import WEIGHTS, check_tensors, read_config, safetensors_header, write_config, write_file

__all__ = [
    "MarkovConfig",
    "MarkovModel",
    "ALL_GROUP",
    "beat_unit",
    "group_name",
    "pool_name",
    "window_keys",
    "mix64",
    "context_key",
    "suffix_keys",
]

ALL_GROUP = "*"
_BASE = np.uint64(0x100000001B3)
_BASE_INT = 0x100000001B3
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True)
class MarkovConfig:
    vocab_size: int
    # The groups (style and mode) carry the long contexts, so that a style is learned
    # from its own pieces; the pooled model of all music is a short-context backoff.
    order: int = 4  # longest n-gram of all music pooled: order - 1 tokens of context
    group_order: int = 8  # longest n-gram within a style-and-mode group
    min_pieces: int = 4
    keep_all_below: int = 3  # contexts shorter than this keep every successor
    groups: tuple[str, ...] = ()
    pools: tuple[str, ...] = (ALL_GROUP,)  # the pooled models (e.g. one per beat unit)

    @classmethod
    def tiny(cls, vocab_size: int) -> MarkovConfig:
        """A small model that trains in a fraction of a second, for tests."""
        return cls(vocab_size=vocab_size, order=4, group_order=3, min_pieces=1)

    def check(self) -> None:
        """Raise ValueError for settings outside sane bounds (a hostile config.json)."""
        for name, low, high in _BOUNDS:
            value = getattr(self, name)
            if type(value) is not int or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}, got {value!r}")
        for name in ("groups", "pools"):
            names = getattr(self, name)
            if len(names) > _MAX_GROUPS or not all(isinstance(g, str) and len(g) <= 200 for g in names):
                raise ValueError(f"{name} must be at most {_MAX_GROUPS} names")
        if not self.pools:
            raise ValueError("pools must name at least one pooled model")

    @classmethod
    def from_dict(cls, data: dict[str, Any], folder: Path) -> MarkovConfig:
        """The config of a model folder's ``config.json``, checked against sane bounds."""
        known = {f.name for f in fields(cls)}  # the composer keeps its own keys there too
        values = {k: v for k, v in data.items() if k in known}
        for name in ("groups", "pools"):
            if name in values:
                if not isinstance(values[name], list):
                    raise InputFileError(f"has an invalid config.json ({name} must be a list)", folder)
                values[name] = tuple(values[name])
        try:
            config = cls(**values)
            config.check()
        except (TypeError, ValueError) as error:
            raise InputFileError(f"has an invalid config.json ({error})", folder) from None
        return config


_BOUNDS = (
    ("vocab_size", 1, 65536),  # token ids are stored as uint16
    ("order", 1, 64),
    ("group_order", 1, 64),
    ("min_pieces", 1, 1_000_000),
    ("keep_all_below", 0, 64),
)
_MAX_GROUPS = 10_000


def beat_unit(meter: str) -> str:
    """The denominator of a meter ("6/8" -> "8"); "4" for a piece without one."""
    return meter.split("/")[-1] if "/" in meter else "4"


def pool_name(meter: str) -> str:
    """The pooled model of every piece with the same beat unit (see :func:`group_name`)."""
    return f"*|{beat_unit(meter)}"


def group_name(style: str, mode: str, meter: str) -> str:
    """Pieces are grouped by style, mode and the beat unit of their meter: REMI counts
    positions and durations in beats of the time signature's denominator, so a quarter
    note in 6/8 and in 4/4 are different tokens, and must not share statistics."""
    return f"{style}|{mode}|{beat_unit(meter)}"


def mix64(values: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser over a uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = values + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _group_salt(group: str) -> np.uint64:
    value = 1469598103934665603
    for byte in group.encode():
        value = ((value ^ byte) * 1099511628211) & _MASK64
    return np.uint64(value)


def window_keys(tokens: np.ndarray, length: int, group: str) -> np.ndarray:
    """Key of the ``length`` tokens before each position ``i >= length`` of ``tokens``."""
    shifted = tokens.astype(np.uint64) + np.uint64(1)
    count = len(tokens) - length
    rolling = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(length):  # rolling = sum of t[i-length+j] * BASE^(length-1-j)
            rolling = rolling * _BASE + shifted[j : j + count]
        salt = _group_salt(group) ^ np.uint64(length << 56)
    return mix64(rolling ^ salt)


def context_key(context: Sequence[int], group: str) -> int:
    """The key of one context (the last tokens before the one to predict)."""
    return suffix_keys(context, group, len(context) + 1)[len(context)]


@functools.lru_cache(maxsize=256)
def _salts(group: str, count: int) -> tuple[int, ...]:
    return tuple(int(_group_salt(group)) ^ (length << 56) for length in range(count))


def _mix_int(value: int) -> int:
    """splitmix64 finaliser on a Python int; the same numbers as :func:`mix64`."""
    z = (value + 0x9E3779B97F4A7C15) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def suffix_keys(context: Sequence[int], group: str, count: int) -> list[int]:
    """Keys of the last 0, 1, ..., count-1 tokens of ``context`` (as in training).

    Sampling asks for these once per token; plain integer arithmetic is several times
    faster than numpy on a handful of values.
    """
    salts = _salts(group, count)
    keys = [_mix_int(salts[0])]
    rolling, power = 0, 1
    for length in range(1, count):
        rolling = (rolling + (int(context[-length]) + 1) * power) & _MASK64
        power = (power * _BASE_INT) & _MASK64
        keys.append(_mix_int(rolling ^ salts[length]))
    return keys


class MarkovModel:
    """Counts of successors by hashed context; see the module docstring."""

    def __init__(self, config: MarkovConfig, keys: np.ndarray, successors: np.ndarray, counts: np.ndarray) -> None:
        self.config = config
        order = np.argsort(keys, kind="stable")
        self.keys, self.successors, self.counts = keys[order], successors[order], counts[order]
        self.context_keys, self.starts, self.widths = np.unique(self.keys, return_index=True, return_counts=True)
        self.totals = np.add.reduceat(self.counts.astype(np.int64), self.starts) if len(self.keys) else np.zeros(0)

    # --------------------------------------------------------------- prediction
    def _lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each key: its row in the context table and whether it was found."""
        rows = np.searchsorted(self.context_keys, keys)
        rows = np.minimum(rows, max(len(self.context_keys) - 1, 0))
        found = self.context_keys[rows] == keys if len(self.context_keys) else np.zeros(len(keys), bool)
        return rows, found

    def _chain(self, context: Sequence[int], group: str, longest: int) -> tuple[np.ndarray, int]:
        """Witten–Bell interpolation up the longest found context; returns (p, depth)."""
        vocab = self.config.vocab_size
        count = min(longest, len(context) + 1)
        rows, found = self._lookup(np.array(suffix_keys(context, group, count), dtype=np.uint64))
        depth = int(np.argmin(found)) if not found.all() else count  # a longer context is unknown if this one is
        if depth == 0:
            return np.full(vocab, 1.0 / vocab), 0
        # Unrolled recursion: P = λ_0…λ_d · uniform + Σ_n λ_{n+1}…λ_d · c_n / (T_n + u_n),
        # with λ_n = u_n / (T_n + u_n): one bincount instead of a pass per level.
        levels = rows[:depth]
        widths, totals = self.widths[levels].astype(np.float64), self.totals[levels].astype(np.float64)
        escapes = widths / (totals + widths)
        later = np.concatenate([np.cumprod(escapes[::-1])[::-1][1:], [1.0]])  # λ_{n+1}…λ_d
        spans = [np.arange(self.starts[r], self.starts[r] + self.widths[r]) for r in levels]
        entries = np.concatenate(spans)
        weights = np.repeat(later / (totals + widths), [len(span) for span in spans])
        probabilities = np.bincount(self.successors[entries], weights * self.counts[entries], minlength=vocab)
        probabilities += np.prod(escapes) / vocab
        return probabilities, depth

    def next_distribution(
        self, context: Sequence[int], group: str | None = None, pool: str | None = None
    ) -> np.ndarray:
        """P(next token | context, group) over the vocabulary: the group's chain mixed with
        its pool's (weighted by how deep a context each found)."""
        longest = max(self.config.order, self.config.group_order)
        history = list(context[-(longest - 1) :]) if longest > 1 else []
        pool = pool if pool in self.config.pools else self.config.pools[0]
        p_all, depth_all = self._chain(history, pool, self.config.order)
        if not group or group not in self.config.groups:
            return p_all
        p_group, depth_group = self._chain(history, group, self.config.group_order)
        if depth_group == 0:
            return p_all
        weight = depth_group / (depth_group + depth_all)
        return weight * p_group + (1 - weight) * p_all

    def log_likelihood(
        self, tokens: Sequence[int], group: str | None = None, pool: str | None = None, start: int = 1
    ) -> float:
        """Sum of ln P(token | what came before) from position ``start`` on."""
        total = 0.0
        window = max(self.config.order, self.config.group_order) - 1  # the context next_distribution uses
        for i in range(start, len(tokens)):
            context = tokens[max(0, i - window) : i]
            total += float(np.log(self.next_distribution(context, group, pool)[tokens[i]]))
        return total

    # ---------------------------------------------------------------- save/load
    def save(self, folder: Path, extra: dict | None = None) -> Path:
        """The table and ``config.json`` (with ``extra`` keys for the composer)."""
        from safetensors.numpy import save_file

        folder.mkdir(parents=True, exist_ok=True)
        weights = folder / WEIGHTS
        tensors = {"keys": self.keys, "successors": self.successors, "counts": self.counts}
        write_file(weights, lambda path: save_file(tensors, str(path), metadata={"family": "markov"}))
        write_config(folder, "markov", asdict(self.config), extra)
        return weights

    @classmethod
    def load(cls, folder: Path) -> MarkovModel:
        """A model folder, its config and the weights' header checked before the table is read."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        folder = Path(folder)
        data = read_config(folder)
        if data["family"] != "markov":
            raise InputFileError(f"holds a {data['family']!r} model, not a Markov model", folder)
        config = MarkovConfig.from_dict(data, folder)
        weights = folder / WEIGHTS
        found = safetensors_header(weights)
        rows = found.get("keys", ("", (0,)))[1][:1]
        expected = {"keys": ("U64", rows), "successors": ("U16", rows), "counts": ("U16", rows)}
        check_tensors(folder, found, expected)
        try:
            tensors = load_file(str(weights))
        except (OSError, SafetensorError) as error:
            raise InputFileError(f"is not a cadenza Markov model ({error})", folder) from None
        if len(tensors["successors"]) and int(tensors["successors"].max()) >= config.vocab_size:
            beyond = f"a token beyond vocab_size {config.vocab_size}"
            raise InputFileError(f"does not match its config.json ({beyond})", folder)
        return cls(config, tensors["keys"], tensors["successors"], tensors["counts"])
