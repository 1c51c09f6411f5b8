"""Generation that checks its own originality: any passage that copies a training piece
past the level's threshold is composed again (at most three rounds) before the piece
is written; the report says what was found and what was redone."""

from __future__ import annotations

from dataclasses import replace

import symusic

from cadenza.compose.composer import Composer, Progress
from cadenza.compose.conditions import Conditions
from cadenza.compose.plan import Plan
from cadenza.models.sampling import Sampling
from cadenza.provenance.repair import check_and_repair
from cadenza.provenance.report import Level, OriginalityReport

__all__ = ["generate_original"]

_SEED_STRIDE = 1000  # each repair round draws from another seed, far from the user's next ones


def generate_original(
    composer: Composer,
    conditions: Conditions,
    sampling: Sampling,
    level: Level | str = Level.NORMAL,
    progress: Progress | None = None,
    plan: Plan | None = None,
) -> tuple[symusic.Score, OriginalityReport | None]:
    """The piece and its originality report (``None`` when the model ships no index);
    ``progress`` follows the first composition, bar by bar; ``plan``, when given, is
    the plan the piece follows (see :meth:`Composer.generate`)."""
    score = composer.generate(conditions, sampling, progress, plan=plan)
    index = composer.originality_index
    latest = [score]

    def regenerate(start_bar: int, end_bar: int, attempt: int) -> symusic.Score:
        retry = replace(sampling, seed=sampling.seed + _SEED_STRIDE * attempt)
        latest[0] = composer.regenerate(latest[0], start_bar, end_bar, conditions, retry, plan=plan)
        return latest[0]

    return check_and_repair(score, regenerate, index, level)
