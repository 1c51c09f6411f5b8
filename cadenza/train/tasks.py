"""What a model family gives the shared training loop: its batches, its loss and its
validation (:class:`TrainingTask`), and the one the Transformer family uses,
next-token prediction over token sequences (:class:`NextTokenTask`).

The loop (:mod:`cadenza.train.trainer`) owns everything else: the optimizer and its
schedule, gradient accumulation and clipping, checkpoints, exact resume, early stopping,
logging and DistributedDataParallel. A family with another objective (a GAN's) gives its
own task and keeps all of that.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import Tensor, nn

from cadenza.train.datasets import Batch, Sequences, token_nll
from cadenza.train.distributed import Process, all_sum, setup

if TYPE_CHECKING:
    from cadenza.train.trainer import TrainConfig

__all__ = ["TrainingTask", "StepPlan", "NextTokenTask", "evaluate", "autocast"]


@dataclass(frozen=True)
class StepPlan:
    """One optimizer step's data, as a task plans it."""

    batches: Sequence[Any]  # this process's micro-batches, in order
    units: int  # what the whole step scores over every process (the summed loss is divided by it)


class TrainingTask(Protocol):
    def plan(self, seed: int, step: int, micro: int, process: Process) -> StepPlan:
        """The micro-batches of optimizer step ``step`` for this process. A pure function
        of ``(seed, step)``: a resumed run sees the batches the first run would have."""
        ...

    def loss(self, model: nn.Module, batch: Any) -> Tensor:
        """The summed loss of one micro-batch (divided by the plan's units by the loop)."""
        ...

    def validation_loss(self, model: nn.Module, batch_size: int, process: Process, bf16: bool) -> float:
        """The mean validation loss per unit over every process; lower is better."""
        ...


class NextTokenTask:
    """Next-token prediction: windows of ``window`` tokens drawn at random from the
    training sequences (a ``start_share`` of them at a piece's first token), the summed
    −ln P of their targets as the loss, and the exact mean over every validation target
    (overlapping windows, ``stride`` apart) as the validation loss."""

    def __init__(
        self,
        train_data: Sequences,
        valid_data: Sequences,
        vocab_size: int,
        window: int,
        *,
        batch_size: int,
        start_share: float = 0.0,
        stride: int = 0,
    ) -> None:
        train_data.check_vocabulary(vocab_size)
        valid_data.check_vocabulary(vocab_size)
        self.train_data, self.valid_data = train_data, valid_data
        self.window, self.batch_size, self.start_share = window, batch_size, start_share
        self.stride = stride or max(1, window // 2)

    @classmethod
    def from_settings(
        cls, train_data: Sequences, valid_data: Sequences, vocab_size: int, config: TrainConfig
    ) -> NextTokenTask:
        """The task with a run's window, batch size, start share and evaluation stride."""
        return cls(
            train_data,
            valid_data,
            vocab_size,
            config.window,
            batch_size=config.batch_size,
            start_share=config.start_share,
            stride=config.eval_stride,
        )

    def plan(self, seed: int, step: int, micro: int, process: Process) -> StepPlan:
        data, window = self.train_data, self.window
        windows = data.draw(seed, step, self.batch_size, window, self.start_share)
        mine = [
            windows[first : first + micro] for first in range(process.rank * micro, len(windows), process.world * micro)
        ]
        return StepPlan([data.collate(part, window, process.device) for part in mine], data.scored_in(windows, window))

    def loss(self, model: nn.Module, batch: Batch) -> Tensor:
        return token_nll(model(batch.inputs, batch.starts), batch, self.train_data.successors)

    def validation_loss(self, model: nn.Module, batch_size: int, process: Process, bf16: bool) -> float:
        nll, targets = evaluate(model, self.valid_data, self.window, self.stride, batch_size, process, bf16)
        return nll / targets


def autocast(process: Process, bf16: bool) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on a GPU when asked; the CPU always computes in float32."""
    if process.device.type == "cuda" and bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    data: Sequences,
    window: int,
    stride: int,
    batch_size: int,
    process: Process | None = None,
    bf16: bool = False,
) -> tuple[float, int]:
    """(sum of −ln P, number of targets) over every target of ``data``, spread over the
    processes; each target is predicted from up to ``window`` tokens of context."""
    process = process or setup()
    was_training = model.training
    model.eval()
    windows = data.evaluation_windows(window, stride)[process.rank :: process.world]
    total = 0.0
    for begin in range(0, len(windows), batch_size):
        batch = data.collate(windows[begin : begin + batch_size], window, process.device)
        with autocast(process, bf16):
            logits = model(batch.inputs, batch.starts)
        total += float(token_nll(logits, batch, data.successors))
    model.train(was_training)
    return all_sum(total, process), data.targets
