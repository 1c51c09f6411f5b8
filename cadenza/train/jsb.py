"""The two JSB chorale benchmarks: how pieces become tokens, and the exact likelihoods.

**jsb16** (Coconet, Music Transformer): ``Jsb16thSeparated.json``, every 16th-note step
four tokens, soprano alto tenor bass, a MIDI pitch or ``REST`` (the file's -1). A piece
is ``BOS`` then its steps; the score is the mean −ln P in nats over *every* token of
every piece of the split (all 4 × steps of each; BOS is given, never scored).

**jsb-frames** (Boulanger-Lewandowski 2012): ``jsb-chorales-quarter.json``, one frame
per quarter note, a set of sounding pitches. A frame is its pitches in ascending order
then ``END``; a piece is ``BOS`` then its frames. The model may only put a pitch above
the frame's last one or ``END`` next (:data:`FRAME_SUCCESSORS`), so each set of pitches
has exactly one token sequence and P(set) = P(sequence): the score, the mean −ln P(set)
in nats per frame over every frame of the split, is an exact likelihood. (Without that
mask the same factorisation would only bound the set's NLL from above.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cadenza.errors import InputFileError, InvalidArgumentError
from cadenza.models.folder import read_json
from cadenza.train.datasets import Sequences

__all__ = [
    "PITCHES",
    "REST",
    "END",
    "BOS",
    "VOCAB_SIZE",
    "FRAME_SUCCESSORS",
    "JsbScore",
    "load_jsb",
    "jsb16_sequence",
    "frames_sequence",
    "jsb_sequences",
    "evaluate_jsb",
]

PITCHES = 128  # ids 0..127 are MIDI pitches
REST = 128  # jsb16: a silent voice
END = 128  # jsb-frames: end of a frame
BOS = 129
VOCAB_SIZE = 130
TASKS = ("jsb16", "jsb-frames")
SPLITS = ("train", "valid", "test")


def _frame_successors() -> np.ndarray:
    allowed = np.zeros((VOCAB_SIZE, VOCAB_SIZE), dtype=bool)
    allowed[:, END] = True
    allowed[np.triu_indices(PITCHES, k=1)] = True  # after pitch p: any pitch above p
    allowed[[END, BOS], :PITCHES] = True  # a new frame: any pitch
    return allowed


FRAME_SUCCESSORS = _frame_successors()  # (V, V): may token b follow token a


@dataclass(frozen=True)
class JsbScore:
    task: str
    split: str
    nll: float  # nats per token (jsb16) or per frame (jsb-frames)
    units: int  # tokens or frames averaged over
    pieces: int


def load_jsb(path: Path, split: str) -> list[list]:
    """The pieces of one split of a JSB JSON file (a list of steps per piece)."""
    if split not in SPLITS:
        raise InvalidArgumentError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    data = read_json(Path(path), "JSB chorales JSON file", max_bytes=256 * 1024 * 1024)
    try:
        pieces = data[split]
    except (KeyError, TypeError) as error:
        raise InputFileError(f"is not a JSB chorales JSON file with a {split!r} split ({error})", path) from None
    if not isinstance(pieces, list) or not pieces:
        raise InputFileError(f"has no pieces in its {split!r} split", path)
    return pieces


def jsb16_sequence(piece: list, shift: int = 0) -> np.ndarray | None:
    """BOS then S A T B per 16th step; None when ``shift`` leaves the MIDI range."""
    steps = np.asarray(piece, dtype=np.int64)
    if steps.ndim != 2 or steps.shape[1] != 4:
        raise ValueError(f"a jsb16 piece has four voices per step, got shape {steps.shape}")
    sounding = steps >= 0
    moved = steps + shift
    if (moved[sounding] < 0).any() or (moved[sounding] >= PITCHES).any():
        return None
    tokens = np.where(sounding, moved, REST).reshape(-1)
    return np.concatenate([[BOS], tokens])


def frames_sequence(piece: list, shift: int = 0) -> np.ndarray | None:
    """BOS then each frame's pitches ascending and END; None when out of range."""
    tokens = [BOS]
    for frame in piece:
        pitches = sorted({int(p) + shift for p in frame})
        if pitches and (pitches[0] < 0 or pitches[-1] >= PITCHES):
            return None
        tokens += [*pitches, END]
    return np.asarray(tokens, dtype=np.int64)


def jsb_sequences(task: str, path: Path, split: str, transpositions: tuple[int, ...] = ()) -> Sequences:
    """A split as token sequences; ``transpositions`` (semitones) add shifted copies,
    which only the training split may have."""
    if task not in TASKS:
        raise InvalidArgumentError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if transpositions and split != "train":
        raise InvalidArgumentError("only the training split may be transposed")
    encode = jsb16_sequence if task == "jsb16" else frames_sequence
    sequences = []
    for number, piece in enumerate(load_jsb(path, split)):
        for shift in (0, *(s for s in transpositions if s != 0)):
            try:
                tokens = encode(piece, shift)
            except (TypeError, ValueError) as error:
                raise InputFileError(
                    f"piece {number} of its {split!r} split is not a chorale ({error})", path
                ) from None
            if tokens is not None:
                sequences.append(tokens)
    return Sequences(sequences, FRAME_SUCCESSORS if task == "jsb-frames" else None, source=path)


def evaluate_jsb(model, task: str, path: Path, split: str, batch_size: int = 8) -> JsbScore:
    """The benchmark score of ``model`` (a TransformerModel trained for ``task``).

    Every target is predicted from up to ``block_size`` tokens: a piece that fits is
    scored in one pass, a longer one with windows that overlap by half."""
    from cadenza.train.tasks import evaluate

    if getattr(model.config, "tokens", None) != task:
        raise InvalidArgumentError(f"the model was trained for {model.config.tokens!r} tokens, not {task!r}")
    data = jsb_sequences(task, path, split)
    window = model.config.block_size
    nll, targets = evaluate(model, data, window, window // 2, batch_size)
    units = targets if task == "jsb16" else sum(int((s == END).sum()) for s in data.sequences)
    return JsbScore(task, split, nll / units, units, len(data))
