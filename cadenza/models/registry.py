"""Model folders: the models shipped inside the package, or a folder on disk.

A model folder holds ``config.json`` (with its ``family``), ``model.safetensors``,
``tokenizer.json`` and ``training.json`` (the sources it learned from, with licences).
Weights are only ever read as safetensors; anything else is refused before loading.
Which family reads a folder, and how it composes, is :mod:`cadenza.models.family`.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path

from cadenza.errors import InputFileError, InvalidArgumentError
from cadenza.models.folder import read_config, read_json

__all__ = ["ModelInfo", "PRETRAINED", "installed_models", "locate", "check_safetensors", "DEFAULT_MODEL"]

PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained"
DEFAULT_MODEL = "default"
_MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class ModelInfo:
    name: str
    folder: Path
    family: str
    weights_sha256: str
    weights_bytes: int
    training: dict  # sources, licences, pieces

    @classmethod
    def read(cls, folder: Path, name: str | None = None) -> ModelInfo:
        config = read_config(folder)
        weights = folder / "model.safetensors"
        training_path = folder / "training.json"
        training = read_json(training_path, "training.json") if training_path.exists() else {}
        if not isinstance(training, dict):
            raise InputFileError("is not a training record (not a JSON object)", training_path)
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
        return cls(name or folder.name, folder, config.get("family", "?"), digest, weights.stat().st_size, training)


def check_safetensors(path: Path) -> None:
    """Refuse a weights file that is not safetensors (a pickle, a zip, garbage)."""
    try:
        with path.open("rb") as file:
            head = file.read(8)
            if len(head) < 8:
                raise InputFileError("is not a safetensors file (too short)", path)
            (length,) = struct.unpack("<Q", head)
            if not 2 <= length <= _MAX_HEADER:
                raise InputFileError("is not a safetensors file (bad header length); cadenza never unpickles", path)
            header = file.read(length)
        json.loads(header)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputFileError("is not a safetensors file (header is not JSON); cadenza never unpickles", path) from None
    except OSError as error:
        raise InputFileError(f"cannot be read ({error.strerror or error})", path) from None


def _default_name() -> str:
    marker = PRETRAINED / "DEFAULT"
    return marker.read_text().strip() if marker.exists() else ""


def installed_models() -> list[ModelInfo]:
    """Every model shipped inside the package."""
    if not PRETRAINED.is_dir():
        return []
    return [ModelInfo.read(p) for p in sorted(PRETRAINED.iterdir()) if (p / "config.json").exists()]


def locate(name_or_path: str | Path) -> Path:
    """The folder of a model: a shipped model's name, ``default``, or a path."""
    text = str(name_or_path)
    if text == DEFAULT_MODEL:
        text = _default_name()
        if not text:
            raise InvalidArgumentError("no default model is installed")
    shipped = PRETRAINED / text
    if (shipped / "config.json").exists():
        folder = shipped
    else:
        folder = Path(name_or_path)
        if folder.is_file():
            check_safetensors(folder)  # a weights file given directly: its folder is the model
            folder = folder.parent
        if not folder.exists():
            names = ", ".join(m.name for m in installed_models()) or "none"
            raise InvalidArgumentError(f"no model {text!r}; installed: {names}; or give a model folder")
    for needed in (
        "config.json",
        "model.safetensors",
    ):  # a tokenizer.json too for a family of tokens (its composer reads it)
        if not (folder / needed).exists():
            raise InputFileError(f"is not a model folder (no {needed})", folder)
    check_safetensors(folder / "model.safetensors")
    return folder
