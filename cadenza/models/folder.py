"""The model folder: ``config.json`` (with its ``family``), ``model.safetensors``,
``tokenizer.json`` and ``training.json``.

This module is the one writer of ``config.json`` and the one reader of a folder's JSON
and of the weights' header. Everything read is bounded before anything is allocated: a
JSON file by its size and nesting, the weights by their header (JSON, read alone), which
each family compares with the shapes its config implies.

:func:`new_folder` writes a whole folder aside and renames it into place, so that a
folder appears whole or not at all; files rewritten in a living folder (the trainer's
best weights) are each written aside and renamed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from cadenza import jsonfile
from cadenza.errors import InputFileError

__all__ = [
    "CONFIG",
    "WEIGHTS",
    "TRAINING",
    "TensorInfo",
    "read_json",
    "read_config",
    "write_config",
    "write_json",
    "write_file",
    "safetensors_header",
    "check_tensors",
    "new_folder",
]

CONFIG, WEIGHTS, TRAINING = "config.json", "model.safetensors", "training.json"
MAX_JSON_BYTES = 16 * 1024 * 1024
MAX_JSON_DEPTH = 32
MAX_HEADER_BYTES = 100 * 1024 * 1024
TensorInfo = tuple[str, tuple[int, ...]]  # (safetensors dtype, shape)


def read_json(path: Path, what: str = "JSON file", max_bytes: int = MAX_JSON_BYTES) -> Any:
    """A small JSON file, refused with one line naming it when it is missing, not a
    regular file, too large, not UTF-8, malformed or nested deeper than
    :data:`MAX_JSON_DEPTH` (read by :func:`cadenza.jsonfile.read_json`)."""
    if not os.path.lexists(path):
        raise InputFileError(f"is missing (a {what} was expected)", path)
    try:
        return jsonfile.read_json(path, max_bytes=max_bytes, max_depth=MAX_JSON_DEPTH)
    except InputFileError as error:
        raise InputFileError(f"{error.reason} (a {what} was expected)", path) from None


def read_config(folder: Path) -> dict:
    """A model folder's ``config.json``: a JSON object that names its family."""
    folder = Path(folder)
    data = read_json(folder / CONFIG, "model config.json")
    if not isinstance(data, dict) or not isinstance(data.get("family"), str):
        raise InputFileError("is not a model folder (its config.json names no family)", folder)
    return data


def _dumps(data: Any) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True) + "\n").encode()


def write_file(path: Path, write: Callable[[Path], object]) -> None:
    """``write(temporary)`` beside ``path``, then renamed over it: never half a file."""
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def write_json(path: Path, data: Any) -> None:
    write_file(path, lambda temporary: temporary.write_bytes(_dumps(data)))


def write_config(folder: Path, family: str, config: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> None:
    """The one writer of ``config.json``: the family's config, with ``extra`` keys the
    composer reads (``key_normalised``, ``default_style``)."""
    write_json(Path(folder) / CONFIG, {**(extra or {}), **config, "family": family})


def safetensors_header(path: Path) -> dict[str, TensorInfo]:
    """{name: (dtype, shape)} of a safetensors file, from its header alone (no tensor is read)."""
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(8)
            if len(head) < 8:
                raise InputFileError("is not a safetensors file (too short)", path)
            (length,) = struct.unpack("<Q", head)
            if not 2 <= length <= min(MAX_HEADER_BYTES, size - 8):
                raise InputFileError("is not a safetensors file (bad header length); cadenza never unpickles", path)
            header = json.loads(file.read(length).decode("utf-8"))
    except FileNotFoundError:
        raise InputFileError("is missing (model weights were expected)", path) from None
    except OSError as error:
        raise InputFileError(f"cannot be read ({error.strerror or error})", path) from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InputFileError("is not a safetensors file (header is not JSON); cadenza never unpickles", path) from None
    if not isinstance(header, dict):
        raise InputFileError("is not a safetensors file (header is not a JSON object)", path)
    tensors: dict[str, TensorInfo] = {}
    data_bytes = size - 8 - length
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = str(entry["dtype"]), entry["shape"], entry["data_offsets"]
            if not all(type(n) is int and n >= 0 for n in (*shape, begin, end)) or not begin <= end <= data_bytes:
                raise ValueError
        except (KeyError, TypeError, ValueError):
            raise InputFileError(f"is not a safetensors file (bad entry for {name!r})", path) from None
        tensors[name] = (dtype, tuple(shape))
    return tensors


def check_tensors(folder: Path, found: Mapping[str, TensorInfo], expected: Mapping[str, TensorInfo]) -> None:
    """Refuse weights whose names, dtypes or shapes are not those the config implies.
    An expected dtype of ``"float"`` accepts F32, BF16 and F16."""
    missing, unexpected = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
    if missing or unexpected:
        names = ", ".join(missing[:3]) or ", ".join(unexpected[:3])
        why = "lack" if missing else "hold unexpected"
        raise InputFileError(f"does not match its config.json (the weights {why} {names})", folder)
    for name, (dtype, shape) in expected.items():
        found_dtype, found_shape = found[name]
        dtype_ok = found_dtype in ("F32", "BF16", "F16") if dtype == "float" else found_dtype == dtype
        if not dtype_ok or tuple(found_shape) != tuple(shape):
            raise InputFileError(
                f"does not match its config.json ({name} is {found_dtype} {list(found_shape)}, "
                f"the config implies {dtype} {list(shape)})",
                folder,
            )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _leftovers(target: Path) -> Iterator[Path]:
    yield from target.parent.glob(f".{target.name}.partial-*")
    yield from target.parent.glob(f".{target.name}.old-*")


@contextlib.contextmanager
def new_folder(target: Path) -> Iterator[Path]:
    """A hidden sibling folder to write a whole model folder into; it replaces ``target``
    when the block ends, and is removed if the block fails or is interrupted. Leftovers
    of a killed earlier run are removed first."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in _leftovers(target):
        _remove(leftover)
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    partial.mkdir()
    try:
        yield partial
    except BaseException:
        _remove(partial)
        raise
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.rename(target, old)
    os.rename(partial, target)
    _remove(old)


def load_checked(
    folder: Path,
    family: str,
    read: Callable[[dict[str, Any]], Any],
    expected: Callable[[Any], dict[str, tuple[str, tuple[int, ...]]]],
    build: Callable[[Any], Any],
) -> Any:
    """A torch model from a model folder, every check made before anything is allocated:
    the config's family, the config itself (``read``: its typed config, TypeError or
    ValueError when out of bounds), and the weights' header against what the config
    ``expected`` them to be; then ``build(config)`` and its weights. Every refusal is an
    InputFileError naming the folder, in one line."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    data = read_config(folder)
    if data["family"] != family:
        raise InputFileError(f"holds a {data['family']!r} model, not a {family}", folder)
    try:
        config = read(data)
    except (TypeError, ValueError) as error:
        raise InputFileError(f"has an invalid config.json ({error})", folder) from None
    check_tensors(folder, safetensors_header(folder / WEIGHTS), expected(config))
    try:
        model = build(config)
        model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(folder / WEIGHTS)).items()}
        )
    except (OSError, SafetensorError, RuntimeError) as error:
        raise InputFileError(f"is not a cadenza {family} model ({error})", folder) from None
    return model
