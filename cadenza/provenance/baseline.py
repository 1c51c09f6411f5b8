"""The human baseline: how much the pieces of a corpus share with one another.

A generated piece that shares 30 % of its fingerprints with the training set says
little until we know that a human-written piece of the same corpus shares 25 % with
the others (pop melodies are made of stock figures; chorale tunes are harmonised more
than once). Following the "originality report" of Yin, Reuben, Stepney and Collins
(2021), each sampled piece is searched against the rest of its index, leaving itself
out, and we keep the distributions of its share of fingerprints found and of its
longest shared passage (notes and bits). A report then says where a piece stands among
them, as a percentile.
"""

from __future__ import annotations

import numpy as np

from cadenza.provenance.index import DEFAULT_SEARCH, Index, SearchResult, SearchSettings

__all__ = ["QUANTILES", "human_baseline", "percentile_of", "longest"]

QUANTILES = (50, 90, 95, 99)


def longest(result: SearchResult) -> tuple[int, float]:
    """(notes of the longest, bits of the best) shared passage of a search; (0, 0) if none."""
    if not result.matches:
        return 0, 0.0
    return max(m.alignment.query_notes for m in result.matches), max(m.alignment.bits for m in result.matches)


def human_baseline(
    index: Index, *, sample: int = 300, seed: int = 0, settings: SearchSettings = DEFAULT_SEARCH
) -> dict:
    """Leave-one-out search of up to ``sample`` pieces of the index (chosen by ``seed``).

    Returns ``{"pieces": k, "share_found": [...], "longest_notes": [...],
    "longest_bits": [...], "quantiles": {...}}`` with each list sorted ascending, so
    that :func:`percentile_of` can place a new piece among them. An index of fewer than
    two pieces gives ``pieces: 0`` and empty lists.
    """
    rng = np.random.default_rng(seed)
    count = len(index.pieces)
    chosen = np.sort(rng.choice(count, size=min(sample, count), replace=False)) if count >= 2 else np.zeros(0, int)
    shares: list[float] = []
    notes: list[float] = []
    bits: list[float] = []
    for piece in chosen:
        lines = index.piece_lines(int(piece))
        if not lines:
            continue
        result = index.search(lines, exclude=int(piece), settings=settings)
        shares.append(round(result.share_found, 4))
        length, score = longest(result)
        notes.append(length)
        bits.append(round(score, 1))
    table: dict[str, list[float]] = {
        "share_found": sorted(shares),
        "longest_notes": sorted(notes),
        "longest_bits": sorted(bits),
    }
    quantiles = {
        name: {f"p{q}": float(np.percentile(values, q)) for q in QUANTILES} if values else {}
        for name, values in table.items()
    }
    return {"pieces": len(shares), **table, "quantiles": quantiles}


def percentile_of(value: float, sorted_values: list[float]) -> float | None:
    """Share (0-100) of baseline pieces whose value is below ``value`` (ties count half).

    ``None`` when the baseline is empty.
    """
    if not sorted_values:
        return None
    values = np.asarray(sorted_values, dtype=np.float64)
    below = np.searchsorted(values, value, side="left")
    equal = np.searchsorted(values, value, side="right") - below
    return round(100.0 * (below + equal / 2) / values.size, 1)
