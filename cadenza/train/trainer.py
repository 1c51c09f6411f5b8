"""The training loop every neural family shares.

AdamW with a linear warm-up and a cosine decay, gradient accumulation and clipping,
bf16 autocast on GPUs, evaluation of the validation loss over every validation target,
early stopping, a CSV log and a progress bar, DistributedDataParallel under ``torchrun``.

The output folder is a model folder (the best weights by validation loss:
``config.json`` + ``model.safetensors``, and ``training.json`` with both configurations
and the result) plus ``checkpoint.safetensors`` (the latest state) and ``log.csv``.
Running again into the same folder resumes from the checkpoint and continues the run
exactly as if it had never stopped: batches are a pure function of (seed, step), and the
checkpoint holds the weights, the optimizer, every process's random state and the
early-stopping state. A checkpoint is written at every evaluation, every
``checkpoint_minutes`` and when Ctrl-C stops the run (after the step under way).
Configurations are typed dataclasses; JSON files hold them.

The family's objective comes from a :class:`~cadenza.train.tasks.TrainingTask` (its
batches and loss); the loop here is the same for every family.
"""

from __future__ import annotations

import contextlib
import csv
import math
import platform
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from cadenza.errors import InvalidArgumentError
from cadenza.models.folder import TRAINING, write_json
from cadenza.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from cadenza.train.distributed import Process, agree, all_gather, all_sum, setup
from cadenza.train.tasks import TrainingTask, autocast

__all__ = ["TrainConfig", "TrainResult", "learning_rate", "train", "CHECKPOINT", "LOG"]

CHECKPOINT = "checkpoint.safetensors"
LOG = "log.csv"
_LOG_COLUMNS = ("step", "lr", "train_loss", "valid_loss", "grad_norm", "tokens", "seconds")


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 5000  # optimizer steps
    batch_size: int = 32  # windows per optimizer step, over all processes
    micro_batch: int = 0  # windows per forward pass and process; 0: batch_size / processes
    window: int = 512  # tokens per window (at most the model's block_size)
    start_share: float = 0.0  # windows that begin at a piece's first token, its condition tokens
    lr: float = 1e-3
    min_lr: float = 1e-4  # where the cosine ends
    warmup: int = 100  # steps of linear warm-up
    weight_decay: float = 0.1
    beta2: float = 0.95
    clip: float = 1.0  # gradient norm limit; 0: none
    eval_every: int = 250
    eval_stride: int = 0  # evaluation windows overlap; 0: window // 2
    patience: int = 0  # evaluations without a better validation loss before stopping; 0: never
    checkpoint_every: int = 0  # steps; 0: at every evaluation
    checkpoint_minutes: float = 10.0  # also when this long has passed since the last one; 0: never
    max_minutes: float = 0.0  # stop (evaluated and checkpointed) after this long; 0: no limit
    seed: int = 0
    bf16: bool = True  # autocast to bfloat16 on GPUs (the CPU always trains in float32)
    compile: bool = False  # torch.compile the model (GPUs)
    save_dtype: str = "float32"  # of the saved best weights: "bfloat16" halves the file

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        defaults = cls().to_dict()
        unknown = set(data) - set(defaults)
        if unknown:
            raise InvalidArgumentError(f"unknown training settings: {', '.join(sorted(unknown))}")
        for name, value in data.items():
            kind = type(defaults[name])
            accepted = (int, float) if kind is float else (kind,)
            if type(value) not in accepted:
                raise InvalidArgumentError(f"training setting {name} must be a {kind.__name__}, got {value!r}")
        return cls(**data)


@dataclass(frozen=True)
class TrainResult:
    step: int
    best_valid: float  # mean nats per validation target
    seconds: float
    stopped: str  # "steps", "early stopping", "time limit" or "interrupted"


@dataclass
class _RunState:
    """What changes as a run goes, besides weights, optimizer and random state."""

    step: int = 0
    best: float = math.inf  # best validation loss so far
    bad_evals: int = 0  # evaluations since it last improved
    seconds: float = 0.0
    tokens: int = 0  # training targets seen
    stopped: str = ""  # why the run ended, once it has


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up to ``lr`` over ``warmup`` steps, then a cosine down to ``min_lr``."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = min(1.0, (step - config.warmup) / max(1, config.steps - config.warmup))
    return config.min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (config.lr - config.min_lr)


def _optimizer(model: nn.Module, config: TrainConfig, process: Process) -> torch.optim.AdamW:
    decay = [p for p in model.parameters() if p.dim() >= 2]  # matrices and embeddings
    rest = [p for p in model.parameters() if p.dim() < 2]  # norms
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    fused = process.device.type == "cuda"
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, config.beta2), fused=fused)


class _Log:
    """``log.csv``, one row per step; on resume the rows after the checkpoint go."""

    def __init__(self, path: Path, resumed_step: int, enabled: bool) -> None:
        self.path, self.enabled = path, enabled
        if not enabled:
            return
        rows = []
        if resumed_step and path.exists():
            with path.open(newline="") as file:
                rows = [r for r in csv.DictReader(file) if int(r["step"]) <= resumed_step]
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, _LOG_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, **row: float | int | str) -> None:
        if self.enabled:
            with self.path.open("a", newline="") as file:
                csv.DictWriter(file, _LOG_COLUMNS).writerow(row)


def _hardware(process: Process) -> str:
    if process.device.type == "cuda":
        return f"{process.world} × {torch.cuda.get_device_name(process.device)}"
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    threads = torch.get_num_threads()
    return f"{process.world} × CPU ({name}, {threads} thread{'s' if threads > 1 else ''})"


_ESTIMATE_AFTER = 5  # steps timed before the first estimate of the time left


def _estimate(seconds: float, steps: int, left: int) -> str:
    each = seconds / steps
    total = each * left
    hours, minutes = divmod(round(total / 60), 60)
    return f"{each:.2f} s per step: the {left:,} steps left take about {hours} h {minutes:02d} min, evaluations aside"


class _StopRequest:
    """Ctrl-C (SIGINT) during training: the first asks the loop to stop after the current
    step and write a checkpoint; a second one interrupts at once. Only the main thread
    can take signals; elsewhere Ctrl-C raises KeyboardInterrupt as usual."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) in (
            signal.default_int_handler,
            signal.SIG_DFL,
        ):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C: KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _batch_shape(config: TrainConfig, process: Process) -> tuple[int, int]:
    """(micro-batch, accumulation steps) per process for the global ``batch_size``."""
    micro = config.micro_batch or config.batch_size // process.world
    accumulation = config.batch_size // (micro * process.world) if micro > 0 else 0
    if micro < 1 or accumulation * micro * process.world != config.batch_size:
        raise InvalidArgumentError(
            f"batch_size {config.batch_size} is not a multiple of micro_batch {micro} × {process.world} processes"
        )
    return micro, accumulation


def _check_settings(config: TrainConfig, family: Any) -> None:
    if config.save_dtype not in ("float32", "bfloat16", "float16"):
        raise InvalidArgumentError(f"save_dtype must be float32, bfloat16 or float16, got {config.save_dtype!r}")
    block = getattr(family.config, "block_size", config.window)
    if config.window > block:
        raise InvalidArgumentError(f"window {config.window} exceeds the model's block_size {block}")
    if config.steps < 1 or config.eval_every < 1:
        raise InvalidArgumentError("steps and eval_every must be at least 1")


def train(
    model: nn.Module,
    task: TrainingTask,
    config: TrainConfig,
    out: Path,
    *,
    notes: dict | None = None,
    folder_config: dict | None = None,
    process: Process | None = None,
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train ``model`` (a module with ``config`` and ``save(folder, dtype, extra)``) on
    ``task`` (its batches and loss) into ``out``, resuming from its checkpoint.

    ``notes`` go into ``training.json`` (sources, licences), ``folder_config`` into
    ``config.json`` (what the composer reads: ``key_normalised``, ``default_style``).
    ``on_step(step)`` is called after every optimizer step. Ctrl-C stops after the
    current step with a checkpoint (``stopped`` is then "interrupted"); a
    KeyboardInterrupt raised by ``on_step`` writes the checkpoint, then propagates."""
    run = _Run(model, task, config, out, process or setup(), notes, folder_config)
    return run.loop(progress, on_step)


class _Run:
    """One training run: the model, its optimizer and the run state, and the steps."""

    def __init__(
        self,
        model: nn.Module,
        task: TrainingTask,
        config: TrainConfig,
        out: Path,
        process: Process,
        notes: dict | None,
        folder_config: dict | None,
    ) -> None:
        self.family = cast(Any, model)  # the family's own API: its config, and save(folder, dtype, extra)
        _check_settings(config, self.family)
        self.micro, self.accumulation = _batch_shape(config, process)
        self.model, self.task, self.config, self.out, self.process = model, task, config, out, process
        self.notes, self.folder_config = notes, folder_config
        out.mkdir(parents=True, exist_ok=True)
        model.to(process.device)
        self.optimizer = _optimizer(model, config, process)
        self.model_config = self.family.config.to_dict()
        self.state = _RunState()
        torch.manual_seed(config.seed * 7919 + process.rank)  # dropout; the weights came from the caller
        if (out / CHECKPOINT).exists():
            self._resume(load_checkpoint(out / CHECKPOINT))
        self.log = _Log(out / LOG, self.state.step, process.main)
        self.runner = self._runner()
        self.started = time.perf_counter() - self.state.seconds
        self.last_checkpoint = time.perf_counter()

    def _runner(self) -> nn.Module:
        """The module that runs the steps: compiled and wrapped for DDP as asked."""
        runner: nn.Module = self.model
        if self.config.compile:
            runner = torch.compile(runner)  # type: ignore[assignment]
        if self.process.world > 1:
            cuda = self.process.device.type == "cuda"
            runner = DistributedDataParallel(runner, device_ids=[self.process.device] if cuda else None)
        return runner

    def _resume(self, checkpoint: Checkpoint) -> None:
        saved = checkpoint.state
        budget = ("max_minutes", "checkpoint_minutes")  # how long to run, not what is computed
        defaults = TrainConfig().to_dict()  # a setting added since the checkpoint was written
        current = {k: v for k, v in self.config.to_dict().items() if k not in budget}
        earlier = {k: v for k, v in {**defaults, **saved["train_config"]}.items() if k not in budget}
        if saved["model_config"] != self.model_config or earlier != current:
            raise InvalidArgumentError(
                "the output folder holds a checkpoint of another configuration; use another --out, or the same settings"
            )
        self.model.load_state_dict(checkpoint.model)
        self.optimizer.load_state_dict(checkpoint.optimizer)
        for field in fields(_RunState):
            setattr(self.state, field.name, saved[field.name])
        if self.state.stopped in ("interrupted", "time limit"):
            self.state.stopped = ""  # a run stopped for want of time goes on
        rank, process = self.process.rank, self.process
        if rank < len(checkpoint.rng_torch):  # the same processes: the same random streams
            torch.set_rng_state(checkpoint.rng_torch[rank])
            if process.device.type == "cuda" and rank < len(checkpoint.rng_cuda):
                torch.cuda.set_rng_state(checkpoint.rng_cuda[rank], process.device)

    # ------------------------------------------------------------------ the loop
    def loop(self, progress: bool, on_step: Callable[[int], None] | None) -> TrainResult:
        config, state = self.config, self.state
        bar = _progress(progress and self.process.main, config.steps, state.step)
        self.runner.train()
        first, clock = state.step, time.perf_counter()
        with bar, _StopRequest() as stop:
            while state.step < config.steps and not state.stopped:
                train_loss, norm, lr = self._step(state.step)
                state.step += 1
                if state.step == first + _ESTIMATE_AFTER:
                    bar.log(_estimate(time.perf_counter() - clock, _ESTIMATE_AFTER, config.steps - state.step))
                valid = self._after_step(stop)
                self.log.write(
                    step=state.step,
                    lr=f"{lr:.6g}",
                    train_loss=f"{train_loss:.6f}",
                    valid_loss=valid,
                    grad_norm=f"{norm:.4f}",
                    tokens=state.tokens,
                    seconds=f"{self._seconds():.1f}",
                )
                if valid or state.stopped or self._checkpoint_due():
                    self._save_checkpoint()
                bar.advance(state.step, train_loss, valid, state.best)
                self._call(on_step)
        return TrainResult(state.step, state.best, self._seconds(), state.stopped or "steps")

    def _step(self, step: int) -> tuple[float, float, float]:
        """One optimizer step: (mean training loss, gradient norm, learning rate)."""
        lr = learning_rate(self.config, step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        plan = self.task.plan(self.config.seed, step, self.micro, self.process)
        total = 0.0
        for number, batch in enumerate(plan.batches):
            last = number == len(plan.batches) - 1
            sync = self.process.world == 1 or last
            accumulate = contextlib.nullcontext() if sync else cast(DistributedDataParallel, self.runner).no_sync()
            with accumulate, autocast(self.process, self.config.bf16):
                loss = self.task.loss(self.runner, batch)
                (loss * self.process.world / plan.units).backward()  # DDP averages over processes
            total += loss.item()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip or math.inf)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.state.tokens += plan.units
        return all_sum(total, self.process) / plan.units, float(norm), lr

    def _after_step(self, stop: _StopRequest) -> str:
        """Evaluate when due and decide whether to stop; the validation loss, or ""."""
        config, state = self.config, self.state
        out_of_time = config.max_minutes > 0 and self._seconds() > 60 * config.max_minutes
        interrupted = agree(stop.requested, self.process)
        if agree(out_of_time, self.process) and not interrupted:
            state.stopped = "time limit"
        valid = ""
        if state.step % config.eval_every == 0 or state.step == config.steps or state.stopped:
            valid = f"{self._validate():.6f}"
            if config.patience and state.bad_evals >= config.patience:
                state.stopped = "early stopping"
        if interrupted:
            state.stopped = "interrupted"
        return valid

    def _validate(self) -> float:
        """The validation loss; the model folder is written when it is the best so far."""
        loss = self.task.validation_loss(self.runner, self.micro, self.process, self.config.bf16)
        state = self.state
        if loss < state.best:
            state.best, state.bad_evals = loss, 0
            if self.process.main:
                self._save_model()
        else:
            state.bad_evals += 1
        return loss

    def _save_model(self) -> None:
        dtype = getattr(torch, self.config.save_dtype)
        self.family.save(self.out, dtype, self.folder_config)
        result = {
            "step": self.state.step,
            "best_valid_loss": self.state.best,
            "training_seconds": round(self._seconds(), 1),
            "tokens_seen": self.state.tokens,
            "hardware": _hardware(self.process),
            "torch": torch.__version__,
        }
        training = {**(self.notes or {}), "model": self.model_config, "train": self.config.to_dict(), "result": result}
        write_json(self.out / TRAINING, training)

    def _checkpoint_due(self) -> bool:
        config, step = self.config, self.state.step
        every = config.checkpoint_every or config.eval_every
        since = time.perf_counter() - self.last_checkpoint
        minutes = config.checkpoint_minutes > 0 and since > 60 * config.checkpoint_minutes
        return step % every == 0 or step == config.steps or agree(minutes, self.process)

    def _save_checkpoint(self) -> None:
        process = self.process
        states = all_gather(torch.get_rng_state(), process)
        cuda = all_gather(torch.cuda.get_rng_state(process.device), process) if process.device.type == "cuda" else []
        self.state.seconds = self._seconds()
        self.last_checkpoint = time.perf_counter()
        if process.main:
            snapshot = {**asdict(self.state), "model_config": self.model_config, "train_config": self.config.to_dict()}
            checkpoint = Checkpoint(self.model.state_dict(), self.optimizer.state_dict(), states, cuda, snapshot)
            save_checkpoint(self.out / CHECKPOINT, checkpoint)

    def _call(self, on_step: Callable[[int], None] | None) -> None:
        """``on_step`` after a whole step; a KeyboardInterrupt from it keeps that step."""
        if on_step is None:
            return
        try:
            on_step(self.state.step)
        except KeyboardInterrupt:
            if self.process.world == 1:
                self.state.stopped = "interrupted"
                self._save_checkpoint()
            raise

    def _seconds(self) -> float:
        return time.perf_counter() - self.started


class _Bar:
    """A rich progress bar on the main process; on other processes, nothing."""

    def __init__(self, progress: object | None, total: int, done: int) -> None:
        self.progress, self.task = progress, None
        if progress is not None:
            self.task = progress.add_task("training", total=total, completed=done)  # type: ignore[attr-defined]

    def __enter__(self) -> _Bar:
        if self.progress is not None:
            self.progress.__enter__()  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(*exc)  # type: ignore[attr-defined]

    def log(self, text: str) -> None:
        if self.progress is not None:
            self.progress.console.print(text, soft_wrap=True, highlight=False, markup=False)  # type: ignore[attr-defined]

    def advance(self, step: int, train_loss: float, valid: str, best: float) -> None:
        if self.progress is None:
            return
        text = f"loss {train_loss:.4f} · best valid {best:.4f}"
        self.progress.update(self.task, completed=step, description=text)  # type: ignore[attr-defined]
        if valid:
            self.progress.console.log(f"step {step}: train {train_loss:.4f}, valid {valid}")  # type: ignore[attr-defined]


def _progress(enabled: bool, total: int, done: int) -> _Bar:
    if not enabled:
        return _Bar(None, total, done)
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    return _Bar(Progress(*columns, console=Console(stderr=True)), total, done)
