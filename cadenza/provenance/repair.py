"""Check a generated piece before it is written, and regenerate the bars that copy.

:func:`check_and_repair` is what ``cadenza generate --originality`` calls: it reports
on the piece, and while the report finds a copy it asks the composer to regenerate the
bars of each copied passage (only those: the rest of the piece stays as it was), up
to ``max_rounds`` times. The final report, with the list of repairs made, goes into the
provenance record; a piece still flagged after the last round is returned flagged, for
the caller to refuse or to write with that report.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import symusic

from cadenza.provenance.index import INDEX_JSON, Index
from cadenza.provenance.report import Level, OriginalityReport, SharedPassage, originality_report

__all__ = ["RegenerateBars", "check_and_repair", "copied_bars", "model_index"]

RegenerateBars = Callable[[int, int, int], symusic.Score]
"""``(start_bar, end_bar, attempt) -> score``: the whole piece with bars
``start_bar <= bar < end_bar`` (0-based, end excluded, as in a slice) composed again;
``attempt`` counts from 1, so that each call can use another seed."""


def model_index(model_folder: str | os.PathLike[str]) -> Index | None:
    """The originality index shipped in a model folder (``index/``), or ``None``."""
    folder = Path(model_folder) / "index"
    return Index.load(folder) if (folder / INDEX_JSON).exists() else None


def copied_bars(copies: list[SharedPassage]) -> list[tuple[int, int]]:
    """The 0-based ``[start, end)`` bar ranges of the passages, overlapping ones merged."""
    spans = sorted((p.bars[0] - 1, p.bars[1]) for p in copies)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def check_and_repair(
    score: symusic.Score,
    regenerate_bars: RegenerateBars,
    index: Index | None,
    level: Level | str = Level.NORMAL,
    *,
    max_rounds: int = 3,
) -> tuple[symusic.Score, OriginalityReport | None]:
    """The piece to write and its originality report (``None`` without an index).

    At OFF the report is made and nothing is regenerated. Otherwise, while the piece is
    flagged and rounds are left, every copied bar range is regenerated (one call per
    range). The report's ``repairs`` lists each range regenerated, the training piece it
    copied, and the round.
    """
    if index is None:
        return score, None
    level = Level.parse(level)
    report = originality_report(score, index, level)
    repairs: list[dict] = []
    for round_number in range(1, max_rounds + 1):
        if not report.flagged:
            break
        for start, end in copied_bars(report.copies):
            sources = sorted({p.id for p in report.copies if p.bars[0] - 1 < end and p.bars[1] > start})
            score = regenerate_bars(start, end, round_number)
            repairs.append({"round": round_number, "bars": [start + 1, end], "copied": sources})
        report = originality_report(score, index, level)
    return score, replace(report, repairs=repairs)
