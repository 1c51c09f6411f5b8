"""What a built corpus holds: counts per source, split and label, and its tokens."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cadenza.data.content import SPLITS
from cadenza.data.corpus import MANIFEST_FILE, check_corpus
from cadenza.errors import InputFileError
from cadenza.jsonfile import parse_json

__all__ = ["CorpusInfo", "corpus_info", "read_manifest"]

_TEXT_FIELDS = {"kept": ("id", "source", "licence", "split", "content_hash"), "dropped": ("id", "reason")}


def _row(line: str, number: int, path: Path) -> dict:
    try:
        row: Any = parse_json(line)
    except ValueError as error:
        raise InputFileError(f"line {number}: {error}", path) from None
    status = row.get("status") if isinstance(row, dict) else None
    fields = _TEXT_FIELDS.get(status) if isinstance(status, str) else None
    if (
        fields is None
        or not all(isinstance(row.get(name), str) for name in fields)
        or (status == "kept" and (row["split"] not in SPLITS or not isinstance(row.get("labels"), dict)))
    ):
        raise InputFileError(f"line {number}: not a manifest row cadenza wrote", path)
    return row


def read_manifest(folder: Path) -> list[dict]:
    """The rows of a complete, consistent corpus (one line naming the folder or the file otherwise)."""
    check_corpus(folder)
    path = folder / MANIFEST_FILE
    return [_row(line, number, path) for number, line in enumerate(path.read_text().splitlines(), 1) if line.strip()]


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
    tokens = check_corpus(folder).get("tokens", {})
    info.tokens = {str(k): v for k, v in tokens.items() if isinstance(v, int)} if isinstance(tokens, dict) else {}
    return info
