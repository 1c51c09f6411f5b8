"""Training the multitrack family: examples with random infill masks (:class:`MultitrackTask`).

Each example is a window of consecutive bars of one piece (as many as fit in the
context), transposed by a random interval, with a random set of ``(track, bar)`` holes
drawn from a :class:`MaskMix`: a block of bars × some tracks, a whole track, the last
bars of every track (a continuation), everything (composing from the track heads and
bar count alone) or nothing. The loss is next-token −ln P over the whole sequence, as
in MMM: the filled content at the end is what infilling learns, the rest keeps the
model a good left-to-right one. Examples are a pure function of ``(seed, step)``, so a
resumed run sees what the first would have.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from cadenza.errors import InvalidArgumentError
from cadenza.models import multitrack_tokens as mt
from cadenza.theory import PITCH_NAMES
from cadenza.train.datasets import Batch, token_nll
from cadenza.train.distributed import Process, all_sum
from cadenza.train.tasks import StepPlan, autocast

if TYPE_CHECKING:
    from cadenza.data.sources import SourceSpec
    from cadenza.models.multitrack import MultitrackModel
    from cadenza.models.transformer import TransformerModel
    from cadenza.train.trainer import TrainResult

__all__ = [
    "MaskMix",
    "MultitrackTask",
    "fill_nll",
    "window_piece",
    "transposed",
    "draw_holes",
    "pieces_from_sources",
    "run",
    "main",
    "PRESETS",
]


@dataclass(frozen=True)
class MaskMix:
    """Relative weights of the kinds of holes an example gets."""

    block: float = 0.4  # a run of bars × a random subset of the tracks
    track: float = 0.2  # one whole track
    continuation: float = 0.2  # the last bars of every track
    everything: float = 0.1  # every bar of every track
    nothing: float = 0.1  # no hole: the plain sequence
    transpose: int = 5  # examples move by a random interval in -transpose..transpose semitones (0: never)

    def weights(self) -> np.ndarray:
        w = np.array([self.block, self.track, self.continuation, self.everything, self.nothing], dtype=np.float64)
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError("mask weights must be non-negative with a positive sum")
        return w / w.sum()


def window_piece(piece: mt.Piece, bars: range) -> mt.Piece:
    """The bars ``bars`` of ``piece`` as a piece of their own."""
    controls = [track[bars.start : bars.stop] for track in piece.controls]
    notes = [track[bars.start : bars.stop] for track in piece.notes]
    return mt.Piece(piece.head, piece.tracks, controls, notes, piece.meter, piece.tempo)


@cache
def _transpose_table(shift: int) -> np.ndarray:
    """Token id -> its id ``shift`` semitones away (pitches and chord roots), -1 where
    that falls outside the vocabulary; other tokens map to themselves."""
    table = np.arange(len(mt.NAMES))
    for index, name in enumerate(mt.NAMES):
        kind, _, value = name.partition("_")
        if kind == "Pitch":
            table[index] = mt.IDS.get(f"Pitch_{int(value) + shift}", -1)
        elif kind == "Chord" and value != "N":
            root, quality = value.split(":")
            moved = PITCH_NAMES[(PITCH_NAMES.index(root) + shift) % 12]
            table[index] = mt.IDS[f"Chord_{moved}:{quality}"]
    return table


def transposed(piece: mt.Piece, shift: int) -> mt.Piece | None:
    """``piece`` moved ``shift`` semitones (drum tracks stay), or None when a note would leave the range."""
    if shift == 0:
        return piece
    table = _transpose_table(shift)
    notes = []
    for head, track in zip(piece.tracks, piece.notes, strict=True):
        if head.is_drum:
            notes.append(track)
            continue
        moved = [table[np.asarray(bar, dtype=np.int64)] if bar else np.zeros(0, np.int64) for bar in track]
        if any((bar < 0).any() for bar in moved):
            return None
        notes.append([bar.tolist() for bar in moved])
    controls = [[table[np.asarray(bar, dtype=np.int64)].tolist() for bar in track] for track in piece.controls]
    return mt.Piece(piece.head, piece.tracks, controls, notes, piece.meter, piece.tempo)


def draw_holes(rng: np.random.Generator, tracks: int, bars: int, mix: MaskMix) -> list[tuple[int, int]]:
    """A random set of ``(track, bar)`` holes in a piece of ``tracks`` × ``bars``."""
    kind = int(rng.choice(5, p=mix.weights()))
    if kind == 0:
        length = int(rng.integers(1, max(1, bars // 2) + 1))
        first = int(rng.integers(0, bars - length + 1))
        chosen = np.flatnonzero(rng.random(tracks) < 0.5)
        which = chosen.tolist() if len(chosen) else [int(rng.integers(tracks))]
        return [(t, b) for t in which for b in range(first, first + length)]
    if kind == 1:
        track = int(rng.integers(tracks))
        return [(track, b) for b in range(bars)]
    if kind == 2:
        length = int(rng.integers(1, max(1, bars // 2) + 1))
        return [(t, b) for t in range(tracks) for b in range(bars - length, bars)]
    if kind == 3:
        return [(t, b) for t in range(tracks) for b in range(bars)]
    return []


class MultitrackTask:
    """The :class:`~cadenza.train.tasks.TrainingTask` of the multitrack family."""

    def __init__(
        self,
        train_pieces: Sequence[mt.Piece],
        valid_pieces: Sequence[mt.Piece],
        window: int,
        *,
        batch_size: int,
        mix: MaskMix | None = None,
        start_share: float = 0.25,
        valid_examples: int = 4,
    ) -> None:
        if not train_pieces or not valid_pieces:
            raise ValueError("the multitrack task needs training and validation pieces")
        self.train, self.valid = list(train_pieces), list(valid_pieces)
        self.window, self.batch_size, self.mix = window, batch_size, mix or MaskMix()
        self.start_share = start_share  # windows that begin at the piece's first bar
        self.sizes = [self._sizes(piece) for piece in self.train]
        weights = np.array([s.sum() for s in self.sizes], dtype=np.float64)
        self.weights = weights / weights.sum()
        rng = np.random.default_rng(12345)  # the same validation examples in every run
        self.valid_batches = [
            self._example(piece, self._sizes(piece), rng) for piece in self.valid for _ in range(valid_examples)
        ]

    @staticmethod
    def _sizes(piece: mt.Piece) -> np.ndarray:
        """Tokens of each bar over every track."""
        return np.array(
            [
                sum(1 + len(c[b]) + len(n[b]) for c, n in zip(piece.controls, piece.notes, strict=True))
                for b in range(piece.bars)
            ]
        )

    def _example(self, piece: mt.Piece, sizes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One training sequence: a window of bars that fits, transposed, with random holes."""
        fixed = len(piece.head) + 4 * len(piece.tracks) + 1
        room = self.window + 1 - fixed
        first = 0 if rng.random() < self.start_share else int(rng.integers(piece.bars))
        last = first + 1
        while last < piece.bars and sizes[first : last + 1].sum() + 3 * len(piece.tracks) * (last + 1 - first) <= room:
            last += 1
        part = window_piece(piece, range(first, last))
        shift = int(rng.integers(-self.mix.transpose, self.mix.transpose + 1)) if self.mix.transpose else 0
        part = transposed(part, shift) or part
        holes = draw_holes(rng, len(part.tracks), part.bars, self.mix)
        return np.asarray(part.tokens(holes)[: self.window + 1], dtype=np.int64)

    def _collate(self, examples: Sequence[np.ndarray], device: torch.device) -> Batch:
        inputs = np.zeros((len(examples), self.window), dtype=np.int64)
        targets = np.full((len(examples), self.window), -1, dtype=np.int64)
        for row, tokens in enumerate(examples):
            n = len(tokens) - 1
            inputs[row, :n], targets[row, :n] = tokens[:-1], tokens[1:]
        starts = torch.zeros(len(examples), dtype=torch.int64)
        return Batch(torch.from_numpy(inputs).to(device), torch.from_numpy(targets).to(device), starts.to(device))

    def plan(self, seed: int, step: int, micro: int, process: Process) -> StepPlan:
        rng = np.random.default_rng([seed, step])
        chosen = rng.choice(len(self.train), size=self.batch_size, p=self.weights)
        examples = [self._example(self.train[i], self.sizes[i], rng) for i in chosen.tolist()]
        mine = [
            examples[first : first + micro]
            for first in range(process.rank * micro, len(examples), process.world * micro)
        ]
        units = sum(len(e) - 1 for e in examples)
        return StepPlan([self._collate(part, process.device) for part in mine], units)

    def loss(self, model: nn.Module, batch: Batch) -> torch.Tensor:
        return token_nll(model(batch.inputs, batch.starts), batch)

    @torch.no_grad()
    def validation_loss(self, model: nn.Module, batch_size: int, process: Process, bf16: bool) -> float:
        was_training = model.training
        model.eval()
        mine = self.valid_batches[process.rank :: process.world]
        total = 0.0
        for first in range(0, len(mine), batch_size):
            batch = self._collate(mine[first : first + batch_size], process.device)
            with autocast(process, bf16):
                total += float(token_nll(model(batch.inputs, batch.starts), batch))
        model.train(was_training)
        targets = sum(len(e) - 1 for e in self.valid_batches)
        return all_sum(total, process) / targets


def pieces_from_sources(
    specs: Sequence[SourceSpec], counts: dict[str, int] | None = None
) -> tuple[dict[str, list[mt.Piece]], list[str]]:
    """The pieces of cadenza's corpus sources (POP909 aligned to its annotated bars, the
    chorales as four voices, music21's collections, a folder) as multitrack pieces by
    split (the split a source imposes, else the corpus's own: a function of the notes'
    content hash, so duplicates land together), and the ids of those skipped
    (unreadable, or without a note). ``counts`` gets the pieces read from each source."""
    from cadenza.data.content import content_hash, split_of
    from cadenza.data.sources import list_files, read_file, style_of
    from cadenza.errors import CadenzaError

    splits: dict[str, list[mt.Piece]] = {"train": [], "valid": [], "test": []}
    skipped = []
    for spec in specs:
        for ref in list_files(spec):
            try:
                read = read_file(ref)
            except (CadenzaError, RuntimeError, ValueError):
                skipped.append(ref.piece_id)
                continue
            for source in read:
                piece = mt.tokenize(source.score, style=style_of(ref))
                if any(bar for track in piece.notes for bar in track):
                    splits[source.split or split_of(content_hash(source.score))].append(piece)
                    if counts is not None:
                        counts[spec.name] = counts.get(spec.name, 0) + 1
                else:
                    skipped.append(source.piece_id)
    return splits, skipped


@torch.no_grad()
def fill_nll(
    model: TransformerModel, piece: mt.Piece, holes: Sequence[tuple[int, int]], bars: range
) -> tuple[float, int]:
    """(−ln P of the holes' content, notes in it): the ``holes`` of ``piece`` written
    after the bars ``bars`` as context. With ``bars`` ending at the holes' last bar the
    model sees only the past (a continuation); with bars after them it sees the future
    too (an infill). Per note, the two compare, and so do other tokenizations. A sequence
    longer than the model's context is read with a sliding window of ``block_size``."""
    window = window_piece(piece, bars)
    moved = sorted((t, b - bars.start) for t, b in holes)
    tokens = window.tokens(moved)
    first = len(window.tokens(moved, fills=False))  # the first FillStart: the holes' content follows
    was_training = model.training
    model.eval()
    inputs = torch.tensor([tokens[:-1]], dtype=torch.int64, device=next(model.parameters()).device)
    longer = inputs.shape[1] > model.config.block_size
    logits = model(inputs, cache=model.new_cache()) if longer else model(inputs)
    log_p = torch.log_softmax(logits[0].double(), dim=-1).cpu()
    targets = torch.tensor(tokens[1:])
    scored = torch.arange(first, len(tokens) - 1)  # from the first hole's controls to EOS
    nll = -float(log_p[scored, targets[scored]].sum())
    model.train(was_training)
    notes = sum(int((mt.KINDS[np.asarray(window.notes[t][b], dtype=np.int64)] == "Pitch").sum()) for t, b in moved)
    return nll, notes


PRESETS: dict[str, dict[str, dict]] = {
    "tiny": {  # tests: seconds on a CPU
        "model": {"block_size": 256, "n_layer": 2, "n_head": 2, "d_model": 64, "dropout": 0.0},
        "train": {"batch_size": 4, "window": 256, "steps": 20, "eval_every": 10, "warmup": 5, "lr": 3e-3},
    },
    "cpu": {  # 4.9 M parameters: about as big as a CPU session can train
        "model": {"block_size": 512, "n_layer": 6, "n_head": 4, "d_model": 256, "dropout": 0.0},
        "train": {"batch_size": 16, "window": 512, "steps": 3000, "eval_every": 250, "warmup": 100, "lr": 5e-4},
    },
    "gpu": {  # 7.6 M parameters, 15 MB as bfloat16: the shipped size limit; one GPU, about 10 minutes
        "model": {"block_size": 1024, "n_layer": 6, "n_head": 5, "d_model": 320, "dropout": 0.1},
        "train": {
            "batch_size": 64,
            "window": 1024,
            "steps": 4000,
            "eval_every": 500,
            "warmup": 200,
            "lr": 1e-3,
            "min_lr": 1e-4,
            "max_minutes": 10.0,
            "save_dtype": "bfloat16",
        },
    },
}


def run(
    specs: Sequence[SourceSpec],
    out: Path,
    preset: str = "cpu",
    *,
    init: Path | None = None,
    progress: bool = True,
    **train_overrides: Any,
) -> tuple[MultitrackModel, TrainResult]:
    """Read the sources, train a multitrack model of ``preset`` size into ``out`` (a model
    folder; a checkpoint there is resumed) and return the best model and the result.
    ``init`` is a model folder of the preset's shape to start from instead of random
    weights: fine-tuning a trained model on a user's collection, or a run continued on
    more data with a schedule of its own."""
    from cadenza.models.multitrack import MultitrackModel
    from cadenza.models.transformer import TransformerConfig
    from cadenza.train.distributed import setup
    from cadenza.train.trainer import TrainConfig, train

    settings = PRESETS[preset]
    counts: dict[str, int] = {}
    splits, skipped = pieces_from_sources(specs, counts)
    valid = splits["valid"] or splits["train"][:1]
    if not splits["train"]:
        raise InvalidArgumentError("the sources hold no piece for training")
    config = TrainConfig.from_dict({**settings["train"], **train_overrides})
    process = setup()
    torch.manual_seed(config.seed)
    model = MultitrackModel(TransformerConfig(len(mt.NAMES), tokens="multitrack", **settings["model"]))
    if init is not None:
        start = MultitrackModel.load(init)
        if start.config != model.config:
            raise InvalidArgumentError(f"--init {init}: the model there is not of the {preset!r} preset's shape")
        model.load_state_dict(start.state_dict())
    task = MultitrackTask(splits["train"], valid, config.window, batch_size=config.batch_size)
    notes = {
        "sources": [
            {"name": s.name, "kind": s.kind, "licence": s.licence, "pieces": counts.get(s.name, 0)} for s in specs
        ],
        "pieces": {split: len(pieces) for split, pieces in splits.items()},
        "skipped": skipped[:100],
        "task": "multitrack infilling (cadenza.train.multitrack.MultitrackTask)",
        "init": None if init is None else _init_record(Path(init)),
    }
    result = train(model, task, config, out, notes=notes, process=process, progress=progress)
    return MultitrackModel.load(out), result


def _init_record(folder: Path) -> dict[str, Any]:
    """What a run started from: the weights' digest and that model's own training record."""
    from cadenza.io.files import regular_sha256
    from cadenza.models.folder import read_json

    training = folder / "training.json"
    return {
        "weights_sha256": regular_sha256(folder / "model.safetensors"),
        "training": read_json(training, "training.json") if training.is_file() else None,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m cadenza.train.multitrack --source pop909=DIR --out FOLDER [--preset gpu]``."""
    import argparse

    from cadenza.data.sources import parse_source_spec
    from cadenza.errors import CadenzaError

    parser = argparse.ArgumentParser(prog="python -m cadenza.train.multitrack", description=main.__doc__)
    parser.add_argument("--source", action="append", required=True, help="NAME=PATH as for `cadenza data build`")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--steps", type=int, default=0, help="instead of the preset's")
    parser.add_argument("--max-minutes", type=float, default=-1.0, help="instead of the preset's")
    parser.add_argument("--lr", type=float, help="peak learning rate, instead of the preset's")
    parser.add_argument("--warmup", type=int, default=-1, help="warm-up steps, instead of the preset's")
    parser.add_argument("--save-dtype", choices=("float32", "bfloat16", "float16"), help="of the saved weights")
    parser.add_argument("--init", type=Path, help="a model folder of the preset's shape to start from")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {}
    if args.steps:
        overrides["steps"] = args.steps
    if args.max_minutes >= 0:
        overrides["max_minutes"] = args.max_minutes
    if args.lr is not None:
        if not args.lr > 0:
            parser.error(f"--lr must be above 0, got {args.lr}")
        overrides["lr"] = args.lr
    if args.warmup >= 0:
        overrides["warmup"] = args.warmup
    if args.save_dtype:
        overrides["save_dtype"] = args.save_dtype
    try:
        specs = [parse_source_spec(text) for text in args.source]
        _, result = run(specs, args.out, args.preset, init=args.init, **overrides)
    except CadenzaError as error:
        parser.exit(2, f"error: {error}\n")
    print(
        f"step {result.step} ({result.stopped}), best validation loss {result.best_valid:.4f}, {result.seconds:.0f} s"
    )


if __name__ == "__main__":
    main()
