"""Compare two collections of pieces feature by feature (Yang & Lerch, ISMIR 2018).

For one feature with values ``x`` (a number or a vector per piece):

* intra-set distances: Euclidean distances between all pairs of pieces of one set;
* inter-set distances: between every piece of the reference and every candidate;
* each set of distances becomes a density by Gaussian kernel density estimation
  (Scott's bandwidth, σ·n^(−1/5)), evaluated on a common grid;
* overlapping area ``OA = ∫ min(p_intra(d), p_inter(d)) dd`` (1 = the same distribution)
  and Kullback–Leibler divergence ``KL = ∫ p_intra(d) log(p_intra(d) / p_inter(d)) dd``
  (0 = the same), for the reference set's intra-set distances against the inter-set
  ones, and again for the candidate set's.

A candidate set that resembles the reference has a high OA and a low KL. Pieces whose
feature is undefined (nan, e.g. the entropy of an empty piece) are left out of that
feature; a feature with fewer than two usable pieces in a set gives nan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import symusic

from cadenza.analysis import metrics

__all__ = ["DEFAULT_FEATURES", "FeatureComparison", "compare_collections", "compare_values"]

DEFAULT_FEATURES: dict[str, Callable[[symusic.Score], float | np.ndarray]] = {
    "pitch_range": metrics.pitch_range,
    "pitch_class_entropy": metrics.pitch_class_entropy,
    "scale_consistency": metrics.scale_consistency,
    "polyphony_rate": metrics.polyphony_rate,
    "empty_beat_rate": metrics.empty_beat_rate,
    "groove_consistency": metrics.groove_consistency,
    "note_density": metrics.note_density,
    "pitch_class_histogram": metrics.pitch_class_histogram,
}
_GRID = 512


@dataclass(frozen=True)
class FeatureComparison:
    """Distances and their agreement for one feature (see the module docstring)."""

    intra_reference_mean: float
    intra_reference_std: float
    intra_candidate_mean: float
    intra_candidate_std: float
    inter_mean: float
    inter_std: float
    overlap_area: float  # reference intra vs inter
    kl_divergence: float  # KL(reference intra || inter)
    candidate_overlap_area: float
    candidate_kl_divergence: float


def _pairwise(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distances: all pairs i < j within ``a``, or all of ``a`` × ``b``."""
    if b is None:
        i, j = np.triu_indices(a.shape[0], k=1)
        return np.linalg.norm(a[i] - a[j], axis=1)
    return np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2).ravel()


def _integrate(y: np.ndarray, x: np.ndarray) -> float:
    """Trapezoidal rule."""
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2.0)


def _density(d: np.ndarray, grid: np.ndarray, width: float) -> np.ndarray:
    """Gaussian KDE of ``d`` on ``grid`` with Scott's bandwidth.

    All distances equal (no spread) gives a narrow Gaussian of width/100 at that value.
    """
    sigma = float(np.std(d)) * d.size ** (-0.2) if d.size >= 2 else 0.0
    if sigma <= 1e-12:
        sigma = width / 100.0
    p = np.zeros(grid.size)
    for chunk in np.array_split(d, max(1, d.size // 4096)):
        p += np.exp(-0.5 * ((grid[:, None] - chunk[None, :]) / sigma) ** 2).sum(1)
    return p / (_integrate(p, grid) or 1.0)


def _oa_kl(p: np.ndarray, q: np.ndarray, grid: np.ndarray) -> tuple[float, float]:
    oa = _integrate(np.minimum(p, q), grid)
    eps = 1e-12
    kl = _integrate(p * np.log((p + eps) / (q + eps)), grid)
    return min(max(oa, 0.0), 1.0), max(kl, 0.0)


def compare_values(reference: np.ndarray, candidate: np.ndarray) -> FeatureComparison:
    """Compare feature values, shape (N, D) or (N,), of a reference and a candidate set."""
    ref = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    cand = np.asarray(candidate, dtype=np.float64).reshape(len(candidate), -1)
    ref = ref[~np.isnan(ref).any(axis=1)]
    cand = cand[~np.isnan(cand).any(axis=1)]
    if ref.shape[0] < 2 or cand.shape[0] < 2:
        nan = float("nan")
        return FeatureComparison(*(nan,) * 10)
    intra_r, intra_c, inter = _pairwise(ref), _pairwise(cand), _pairwise(ref, cand)
    allv = np.r_[intra_r, intra_c, inter]
    span = max(float(np.ptp(allv)), 1e-6)
    grid = np.linspace(allv.min() - 0.5 * span, allv.max() + 0.5 * span, _GRID)
    p_r, p_c, p_i = (_density(d, grid, span) for d in (intra_r, intra_c, inter))
    oa_r, kl_r = _oa_kl(p_r, p_i, grid)
    oa_c, kl_c = _oa_kl(p_c, p_i, grid)
    return FeatureComparison(
        float(intra_r.mean()),
        float(intra_r.std()),
        float(intra_c.mean()),
        float(intra_c.std()),
        float(inter.mean()),
        float(inter.std()),
        oa_r,
        kl_r,
        oa_c,
        kl_c,
    )


def compare_collections(
    reference: Sequence[symusic.Score],
    candidate: Sequence[symusic.Score],
    features: Mapping[str, Callable[[symusic.Score], float | np.ndarray]] | None = None,
) -> dict[str, FeatureComparison]:
    """Per feature, how the candidate collection's distances compare with the reference's.

    ``features`` maps names to functions of a Score (default :data:`DEFAULT_FEATURES`).
    """
    features = DEFAULT_FEATURES if features is None else features
    out: dict[str, FeatureComparison] = {}
    for name, fn in features.items():
        ref = np.array([np.atleast_1d(np.asarray(fn(s), dtype=np.float64)) for s in reference])
        cand = np.array([np.atleast_1d(np.asarray(fn(s), dtype=np.float64)) for s in candidate])
        out[name] = compare_values(ref, cand)
    return out
