"""Composing: the user-level tasks, built on the models."""

from cadenza.compose.composer import Composer
from cadenza.compose.conditions import Conditions, Resolved
from cadenza.compose.pipeline import Piece, compose_piece
from cadenza.models.sampling import Sampling

__all__ = ["Composer", "Conditions", "Piece", "Resolved", "Sampling", "compose_piece"]
