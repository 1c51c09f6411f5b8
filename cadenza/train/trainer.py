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
early-stopping state. Configurations are typed dataclasses; JSON files hold them.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from cadenza.errors import InvalidArgumentError
from cadenza.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from cadenza.train.datasets import Sequences, token_nll
from cadenza.train.distributed import Process, agree, all_gather, all_sum, setup

__all__ = ["TrainConfig", "TrainResult", "learning_rate", "evaluate", "train", "CHECKPOINT", "LOG"]

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
    max_minutes: float = 0.0  # stop (evaluated and checkpointed) after this long; 0: no limit
    seed: int = 0
    bf16: bool = True  # autocast to bfloat16 on GPUs (the CPU always trains in float32)
    compile: bool = False  # torch.compile the model (GPUs)
    save_dtype: str = "float32"  # of the saved best weights: "bfloat16" halves the file

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise InvalidArgumentError(f"unknown training settings: {', '.join(sorted(unknown))}")
        return cls(**data)


@dataclass(frozen=True)
class TrainResult:
    step: int
    best_valid: float  # mean nats per validation target
    seconds: float
    stopped: str  # "steps", "early stopping" or "time limit"


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
        with _autocast(process, bf16):
            logits = model(batch.inputs, batch.starts)
        total += float(token_nll(logits, batch, data.successors))
    model.train(was_training)
    return all_sum(total, process), data.targets


def _autocast(process: Process, bf16: bool) -> contextlib.AbstractContextManager:
    if process.device.type == "cuda" and bf16:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


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


def train(
    model: nn.Module,
    train_data: Sequences,
    valid_data: Sequences,
    config: TrainConfig,
    out: Path,
    *,
    notes: dict | None = None,
    process: Process | None = None,
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> TrainResult:
    """Train ``model`` (a module with ``config``, ``save(folder)`` and
    ``forward(idx, starts) -> logits``) into ``out``, resuming from its checkpoint.

    ``notes`` go into ``training.json`` (sources, licences). ``on_step(step)`` is called
    after every optimizer step (a test interrupts the run with it)."""
    process = process or setup()
    out.mkdir(parents=True, exist_ok=True)
    micro = config.micro_batch or config.batch_size // process.world
    accumulation = config.batch_size // (micro * process.world)
    if micro < 1 or accumulation * micro * process.world != config.batch_size:
        raise InvalidArgumentError(
            f"batch_size {config.batch_size} is not a multiple of micro_batch {micro} × {process.world} processes"
        )
    if config.save_dtype not in ("float32", "bfloat16", "float16"):
        raise InvalidArgumentError(f"save_dtype must be float32, bfloat16 or float16, got {config.save_dtype!r}")
    family: Any = model  # the family's own API: its config, and save(folder, dtype)
    block = getattr(family.config, "block_size", config.window)
    if config.window > block:
        raise InvalidArgumentError(f"window {config.window} exceeds the model's block_size {block}")
    model.to(process.device)
    optimizer = _optimizer(model, config, process)
    model_config = family.config.to_dict()
    state = _RunState()
    torch.manual_seed(config.seed * 7919 + process.rank)  # dropout; the weights came from the caller
    checkpoint_path = out / CHECKPOINT
    if checkpoint_path.exists():
        _resume(load_checkpoint(checkpoint_path), model, optimizer, config, model_config, state, process)
    log = _Log(out / LOG, state.step, process.main)
    runner: nn.Module = model
    if config.compile:
        runner = torch.compile(model)  # type: ignore[assignment]
    if process.world > 1:
        runner = DistributedDataParallel(runner, device_ids=[process.device] if process.device.type == "cuda" else None)
    stride = config.eval_stride or max(1, config.window // 2)
    started = time.perf_counter() - state.seconds

    def save(step: int) -> None:
        states = all_gather(torch.get_rng_state(), process)
        cuda = all_gather(torch.cuda.get_rng_state(process.device), process) if process.device.type == "cuda" else []
        state.seconds = time.perf_counter() - started
        if process.main:
            snapshot = {**asdict(state), "step": step, "model_config": model_config, "train_config": config.to_dict()}
            save_checkpoint(
                checkpoint_path, Checkpoint(model.state_dict(), optimizer.state_dict(), states, cuda, snapshot)
            )

    def validate(step: int) -> float:
        nll, targets = evaluate(runner, valid_data, config.window, stride, micro, process, config.bf16)
        loss = nll / targets
        if loss < state.best:
            state.best, state.bad_evals = loss, 0
            if process.main:
                family.save(out, getattr(torch, config.save_dtype))
                _write_training(out, model_config, config, state, step, time.perf_counter() - started, process, notes)
        else:
            state.bad_evals += 1
        return loss

    bar = _progress(progress and process.main, config.steps, state.step)
    runner.train()
    step = state.step
    with bar:
        while step < config.steps and not state.stopped:
            lr = learning_rate(config, step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            windows = train_data.draw(config.seed, step, config.batch_size, config.window, config.start_share)
            scored = train_data.scored_in(windows, config.window)
            nll = 0.0
            for m in range(accumulation):
                first = (m * process.world + process.rank) * micro
                batch = train_data.collate(windows[first : first + micro], config.window, process.device)
                sync = process.world == 1 or m == accumulation - 1
                accumulate = contextlib.nullcontext() if sync else cast(DistributedDataParallel, runner).no_sync()
                with accumulate, _autocast(process, config.bf16):
                    loss = token_nll(runner(batch.inputs, batch.starts), batch, train_data.successors)
                    (loss * process.world / scored).backward()  # DDP averages over processes
                nll += loss.item()
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip or math.inf)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            state.tokens += scored
            train_loss = all_sum(nll, process) / scored
            out_of_time = config.max_minutes > 0 and time.perf_counter() - started > 60 * config.max_minutes
            out_of_time = agree(out_of_time, process)
            valid = ""
            if step % config.eval_every == 0 or step == config.steps or out_of_time:
                valid_loss = validate(step)
                valid = f"{valid_loss:.6f}"
                if config.patience and state.bad_evals >= config.patience:
                    state.stopped = "early stopping"
            if out_of_time and not state.stopped:
                state.stopped = "time limit"
            seconds = time.perf_counter() - started
            log.write(
                step=step,
                lr=f"{lr:.6g}",
                train_loss=f"{train_loss:.6f}",
                valid_loss=valid,
                grad_norm=f"{float(norm):.4f}",
                tokens=state.tokens,
                seconds=f"{seconds:.1f}",
            )
            every = config.checkpoint_every or config.eval_every
            if valid or step % every == 0 or state.stopped or step == config.steps:
                save(step)
            bar.advance(step, train_loss, valid, state.best)
            if on_step is not None:
                on_step(step)
    return TrainResult(step, state.best, time.perf_counter() - started, state.stopped or "steps")


def _resume(
    checkpoint: Checkpoint,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    model_config: dict,
    state: _RunState,
    process: Process,
) -> None:
    saved = checkpoint.state
    budget_free = {k: v for k, v in config.to_dict().items() if k != "max_minutes"}
    saved_train = {k: v for k, v in saved["train_config"].items() if k != "max_minutes"}
    if saved["model_config"] != model_config or saved_train != budget_free:
        raise InvalidArgumentError(
            "the output folder holds a checkpoint of another configuration; use another --out, or the same settings"
        )
    model.load_state_dict(checkpoint.model)
    optimizer.load_state_dict(checkpoint.optimizer)
    for field in fields(_RunState):
        setattr(state, field.name, saved[field.name])
    if process.rank < len(checkpoint.rng_torch):  # the same processes: the same random streams
        torch.set_rng_state(checkpoint.rng_torch[process.rank])
        if process.device.type == "cuda" and process.rank < len(checkpoint.rng_cuda):
            torch.cuda.set_rng_state(checkpoint.rng_cuda[process.rank], process.device)


def _write_training(
    out: Path,
    model_config: dict,
    config: TrainConfig,
    state: _RunState,
    step: int,
    seconds: float,
    process: Process,
    notes: dict | None,
) -> None:
    result = {
        "step": step,
        "best_valid_loss": state.best,
        "training_seconds": round(seconds, 1),
        "tokens_seen": state.tokens,
        "hardware": _hardware(process),
        "torch": torch.__version__,
    }
    training = {**(notes or {}), "model": model_config, "train": config.to_dict(), "result": result}
    (out / "training.json").write_text(json.dumps(training, indent=1, sort_keys=True) + "\n")


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
