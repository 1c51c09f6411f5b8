"""Reading and writing music: the only package that touches file formats."""

from cadenza.io.formats import Format, format_of
from cadenza.io.limits import DEFAULT_LIMITS, Limits, validate_score
from cadenza.io.loading import load_score, load_scores, save_score
from cadenza.io.midi import midi_bytes, parse_midi_bytes
from cadenza.io.notation import Piece, choose_piece, load_pieces
from cadenza.io.ranges import out_of_range

__all__ = [
    "DEFAULT_LIMITS",
    "Format",
    "Limits",
    "Piece",
    "choose_piece",
    "format_of",
    "load_pieces",
    "load_score",
    "load_scores",
    "midi_bytes",
    "out_of_range",
    "parse_midi_bytes",
    "save_score",
    "validate_score",
]
