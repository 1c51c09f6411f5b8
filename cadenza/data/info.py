"""What a built corpus holds: counts per source, split and label, and its tokens."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cadenza.data.build import BUILD_FILE, MANIFEST_FILE
from cadenza.errors import InputFileError

__all__ = ["CorpusInfo", "corpus_info", "read_manifest"]


def read_manifest(folder: Path) -> list[dict]:
    path = folder / MANIFEST_FILE
    if not path.exists():
        raise InputFileError(f"no {MANIFEST_FILE}: not a corpus built by `cadenza data build`", folder)
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise InputFileError(f"damaged manifest ({error})", path) from None


@dataclass
class CorpusInfo:
    pieces: int = 0
    kept: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    by_split: Counter[str] = field(default_factory=Counter)
    dropped_by_reason: Counter[str] = field(default_factory=Counter)
    labels: dict[str, Counter[str]] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    licences: Counter[str] = field(default_factory=Counter)


def corpus_info(folder: Path) -> CorpusInfo:
    rows = read_manifest(folder)
    info = CorpusInfo(pieces=len(rows))
    for label in ("style", "key", "mode", "meter", "mood"):
        info.labels[label] = Counter()
    for row in rows:
        if row["status"] != "kept":
            info.dropped_by_reason[row["reason"].split(" of ")[0].split(":")[0]] += 1
            continue
        info.kept += 1
        info.by_source[row["source"]] += 1
        info.by_split[row["split"]] += 1
        info.licences[row["licence"]] += 1
        for label, counter in info.labels.items():
            counter[str(row["labels"].get(label))] += 1
    build = folder / BUILD_FILE
    if build.exists():
        info.tokens = json.loads(build.read_text()).get("tokens", {})
    return info
