"""The provenance record of a generated piece: where it came from, and how.

It names the cadenza version, the model and the sha256 of its weights, every condition
and sampling setting, the seed, the training sources with their licences, the sha256
of the music, and when it was made. It is written beside each output as
``OUT.provenance.json``; a short form (everything but the time) also goes inside the
MIDI file as a text marker, so that the music carries it wherever it is copied.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import symusic

from cadenza import __version__
from cadenza.io.atomic import atomic_output
from cadenza.models.registry import ModelInfo
from cadenza.models.sampling import Sampling
from cadenza.provenance.music_hash import MARKER_PREFIX, music_sha256, pedal_controls

if TYPE_CHECKING:
    from cadenza.provenance.report import OriginalityReport

__all__ = [
    "provenance_record",
    "embed_marker",
    "marker_text",
    "sidecar_path",
    "write_record",
    "music_sha256",
    "with_originality",
    "MARKER_PREFIX",
    "NO_INDEX",
]


def provenance_record(
    score: symusic.Score,
    model: ModelInfo,
    conditions: Mapping[str, object],
    sampling: Sampling,
    *,
    created: datetime | None = None,
) -> dict[str, object]:
    """The record of ``score``: ``conditions`` are the resolved conditions as plain data
    (``Resolved.to_dict()``), so that provenance needs nothing from ``compose``."""
    training = model.training or {}
    return {
        "cadenza_version": __version__,
        "model": {"name": model.name, "family": model.family, "weights_sha256": model.weights_sha256},
        "conditions": dict(conditions),
        "sampling": asdict(sampling),
        "seed": sampling.seed,
        "training_sources": training.get("sources", []),
        "music_sha256": music_sha256(score),
        "created": (created or datetime.now(UTC)).isoformat(timespec="seconds"),
    }


def embed_marker(score: symusic.Score, record: dict[str, object]) -> symusic.Score:
    """A copy of ``score`` with the record as a text marker at tick 0, less what changes
    from run to run (its creation time, and the signature over it, which the sidecar
    holds), so that the same seed and conditions still give the same bytes."""
    marked = score.copy()
    for track in marked.tracks:  # a MIDI file holds pedals as sustain controllers only
        for time, number, value in pedal_controls(track):
            track.controls.append(symusic.ControlChange(time, number, value))
    marked.markers.append(symusic.TextMeta(0, marker_text(record)))
    return marked


def marker_text(record: dict[str, object]) -> str:
    """The record as a MIDI marker carries it: everything but its creation time and signature."""
    short = {k: v for k, v in record.items() if k not in ("created", "signature")}
    return MARKER_PREFIX + json.dumps(short, sort_keys=True, separators=(",", ":"))


def sidecar_path(output: str | os.PathLike[str]) -> Path:
    path = Path(output)
    return path.with_name(path.name + ".provenance.json")


def write_record(record: dict[str, object], output: str | os.PathLike[str], *, force: bool = False) -> Path:
    path = sidecar_path(output)
    with atomic_output(path, force=force) as tmp:
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path


NO_INDEX = "the model has no originality index"


def with_originality(
    record: dict[str, object], report: OriginalityReport | Mapping[str, object] | None
) -> dict[str, object]:
    """A copy of ``record`` with the originality report (or its dict; ``None`` when the
    model has no index, which the record then says)."""
    if report is None:
        data: dict[str, object] = {"checked": False, "reason": NO_INDEX}
    else:
        data = {"checked": True, **(report if isinstance(report, Mapping) else report.to_dict())}
    return {**record, "originality": data}
