"""The GAN's critic as a judge for the other families: of N candidates, keep the most real.

:func:`realness` reads a piece as the critic reads POP909: every 4-bar phrase of it as a
piano roll of melody, bridge and piano (:func:`~cadenza.models.gan.score_to_phrases`),
scored by the critic (higher: more like the music it learned); the piece's realness is
the mean over its phrases. :func:`choose` gives the index of the candidate the critic
finds most real, with every score, for the record. The critic learned 4/4 pop phrases: a
piece in another meter is read in 4/4 bars all the same, and the score says less.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import symusic
import torch

from cadenza.models.gan import GanModel, as_channels, score_to_phrases

__all__ = ["Judge", "realness", "choose"]

RERANK_SEED_STRIDE = 100_003  # candidate k draws with seed + k x this


@dataclass(frozen=True)
class Judge:
    """A critic and how many candidates it chooses among (``cadenza generate --rerank N``)."""

    critic: GanModel
    name: str  # the critic's model, as the record names it
    weights_sha256: str
    candidates: int

    def seeds(self, seed: int) -> list[int]:
        return [seed + k * RERANK_SEED_STRIDE for k in range(self.candidates)]


@torch.no_grad()
def realness(critic: GanModel, score: symusic.Score) -> float:
    """The critic's mean score over the piece's 4-bar phrases (-inf for a piece without notes)."""
    phrases = score_to_phrases(score, critic.config)
    if len(phrases) == 0:
        return float("-inf")
    if critic.config.chords:  # a critic that judges phrases with their chords: the chords it hears
        from cadenza.models.gan import bar_chords

        chords = torch.as_tensor(bar_chords(phrases), dtype=torch.int64)
        values = critic.critic(as_channels(phrases), chords)
    else:
        values = critic.critic(as_channels(phrases))
    return float(values.mean())


def choose(critic: GanModel, candidates: Sequence[symusic.Score]) -> tuple[int, list[float]]:
    """(index of the most real candidate, every candidate's realness); the first on a tie."""
    scores = [realness(critic, score) for score in candidates]
    return int(np.argmax(scores)), [round(s, 6) for s in scores]
