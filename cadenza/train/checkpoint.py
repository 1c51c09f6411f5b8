"""Training checkpoints as one safetensors file: everything a resumed run needs.

Tensors: ``model.<name>`` (the weights), ``optimizer.<param>.<key>`` (AdamW moments and
step counts, flattened), ``rng.torch.<rank>`` and ``rng.cuda.<rank>`` (every process's
random generator state). Metadata (strings): ``state`` (JSON: step, best validation
loss, evaluations without improvement, elapsed seconds, and the model and training
configurations) and ``param_groups`` (JSON: the optimizer's hyper-parameters).

Written to a temporary file and renamed, so a kill never leaves a torn checkpoint.
Read with safetensors only: a checkpoint never runs code, and is never unpickled.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from cadenza.errors import InputFileError

__all__ = ["Checkpoint", "save_checkpoint", "load_checkpoint"]


@dataclass
class Checkpoint:
    model: dict[str, Tensor]
    optimizer: dict  # a torch optimizer state_dict
    rng_torch: list[Tensor]  # one per rank
    rng_cuda: list[Tensor]  # one per rank, empty without CUDA
    state: dict  # step, best, bad_evals, seconds, model_config, train_config


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    from safetensors.torch import save_file

    tensors = {f"model.{name}": t.detach().cpu().contiguous() for name, t in checkpoint.model.items()}
    optimizer = checkpoint.optimizer
    for param, values in optimizer["state"].items():
        for key, value in values.items():
            tensors[f"optimizer.{param}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    for rank, state in enumerate(checkpoint.rng_torch):
        tensors[f"rng.torch.{rank}"] = state.contiguous()
    for rank, state in enumerate(checkpoint.rng_cuda):
        tensors[f"rng.cuda.{rank}"] = state.contiguous()
    metadata = {"state": json.dumps(checkpoint.state), "param_groups": json.dumps(optimizer["param_groups"])}
    temporary = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(temporary), metadata=metadata)
    os.replace(temporary, path)


def load_checkpoint(path: Path) -> Checkpoint:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as file:
            metadata = file.metadata() or {}
            tensors = {name: file.get_tensor(name) for name in file.keys()}  # noqa: SIM118 - not a dict
        state = json.loads(metadata["state"])
        param_groups = json.loads(metadata["param_groups"])
    except (OSError, SafetensorError, KeyError, json.JSONDecodeError, RecursionError) as error:
        raise InputFileError(f"is not a cadenza training checkpoint ({type(error).__name__})", path) from None
    if not isinstance(state, dict) or not set(state) >= _STATE_KEYS or not isinstance(param_groups, list):
        raise InputFileError("is not a cadenza training checkpoint (its state is incomplete)", path)
    try:
        return _unflatten(tensors, param_groups, state)
    except (ValueError, KeyError) as error:
        raise InputFileError(f"is not a cadenza training checkpoint (tensor names: {error})", path) from None


_STATE_KEYS = {"step", "best", "bad_evals", "seconds", "tokens", "stopped", "model_config", "train_config"}


def _unflatten(tensors: dict[str, Tensor], param_groups: list, state: dict) -> Checkpoint:
    model: dict[str, Tensor] = {}
    optimizer_state: dict[int, dict[str, Tensor]] = {}
    rng_torch: dict[int, Tensor] = {}
    rng_cuda: dict[int, Tensor] = {}
    for name, tensor in tensors.items():
        kind, _, rest = name.partition(".")
        if kind == "model":
            model[rest] = tensor
        elif kind == "optimizer":
            param, key = rest.split(".", 1)
            optimizer_state.setdefault(int(param), {})[key] = tensor
        elif kind == "rng":
            device, rank = rest.split(".")
            (rng_torch if device == "torch" else rng_cuda)[int(rank)] = tensor
    optimizer = {"state": optimizer_state, "param_groups": param_groups}
    return Checkpoint(
        model,
        optimizer,
        [rng_torch[r] for r in sorted(rng_torch)],
        [rng_cuda[r] for r in sorted(rng_cuda)],
        state,
    )
