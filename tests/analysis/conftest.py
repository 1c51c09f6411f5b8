"""Fixtures of the analysis tests: a Bach chorale from music21's corpus."""

from __future__ import annotations

import pytest
import symusic


@pytest.fixture(scope="session")
def chorale() -> symusic.Score:
    """BWV 66.6 (F# minor, 4/4, one-beat pickup), read through cadenza.io."""
    music21 = pytest.importorskip("music21")
    from cadenza.io import load_score

    return load_score(music21.corpus.getWork("bach/bwv66.6"))
