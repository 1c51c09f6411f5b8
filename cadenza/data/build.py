"""``cadenza data build``: sources -> clean, labelled, split, tokenized shards + manifest.

The output folder holds:

- ``manifest.jsonl``: one row per piece, kept or dropped (with the reason), sorted by id;
- ``{split}.tokens.npy`` / ``{split}.index.npy``: the shards (see :mod:`cadenza.data.shards`);
- ``tokenizer.json``: the vocabulary;
- ``build.json``: the sources with their licences, the options and the counts;
- ``cache/``: per-file results, so an unchanged input is not parsed again.

Everything but the cache is a pure function of the inputs and options: two builds give
byte-identical files.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cadenza.data.content import SPLITS
from cadenza.data.process import BuildOptions, FileResult, process_file, shared_tokenizer
from cadenza.data.shards import ShardWriter
from cadenza.data.sources import FileRef, SourceSpec, list_files
from cadenza.data.tokens import save_tokenizer

__all__ = ["build_corpus", "BuildSummary", "MANIFEST_FILE", "BUILD_FILE"]

MANIFEST_FILE = "manifest.jsonl"
BUILD_FILE = "build.json"


@dataclass(frozen=True)
class BuildSummary:
    pieces: int
    kept: int
    dropped: int
    from_cache: int
    tokens: dict[str, int]


def _run_pool(refs: list[FileRef], options: BuildOptions, cache: Path, workers: int) -> Iterator[FileResult]:
    if workers <= 1:
        for ref in refs:
            yield process_file(ref, options, cache)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(process_file, refs, [options] * len(refs), [cache] * len(refs), chunksize=4)


def _run_ray(refs: list[FileRef], options: BuildOptions, cache: Path) -> Iterator[FileResult]:
    import ray  # optional: only when asked for and installed

    ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    remote = ray.remote(process_file)
    futures = [remote.remote(ref, options, cache) for ref in refs]
    for future in futures:
        yield ray.get(future)


def _manifest_rows(refs: list[FileRef], results: list[FileResult]) -> list[tuple[dict, dict]]:
    """(manifest row, tokens by shift) for every piece and every unreadable file."""
    rows: list[tuple[dict, dict]] = []
    for ref, result in zip(refs, results, strict=True):
        base = {"source": ref.source, "path": ref.path, "licence": ref.licence, "sha256": result.sha256}
        if result.error is not None or not result.pieces:
            reason = result.error or "holds no pieces"
            rows.append(({"id": ref.piece_id, **base, "status": "dropped", "reason": reason}, {}))
            continue
        for piece in result.pieces:
            row = {
                "id": piece.piece_id,
                **base,
                "content_hash": piece.content_hash,
                "labels": piece.labels,
                "split": piece.split,
                "notes": piece.note_count,
                # The music21 corpus's Bach chorales are the JSB chorales: an evaluation
                # on JSB must leave them out of training.
                "jsb_overlap": ref.kind == "jsb" or (ref.kind == "music21" and ref.collection == "bach"),
            }
            if piece.error:
                row.update(status="dropped", reason=piece.error)
            rows.append((row, piece.tokens))
    rows.sort(key=lambda item: str(item[0]["id"]))
    return rows


def _dedupe(rows: list[tuple[dict, dict]]) -> None:
    first_of: dict[str, str] = {}
    for row, _ in rows:
        if row.get("status") == "dropped":
            continue
        owner = first_of.setdefault(row["content_hash"], row["id"])
        if owner != row["id"]:
            row.update(status="dropped", reason=f"duplicate of {owner}")
        else:
            row["status"] = "kept"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def build_corpus(
    sources: Iterable[SourceSpec],
    out: Path,
    *,
    options: BuildOptions | None = None,
    workers: int = 2,
    use_ray: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> BuildSummary:
    """Build (or incrementally rebuild) a corpus in ``out``."""
    specs = list(sources)
    options = options or BuildOptions()
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "cache"
    refs = [ref for spec in specs for ref in list_files(spec)]
    # Made before the pool forks, so that workers inherit it (and the 2-4 s import of
    # miditok and torch) instead of each paying for it again.
    tokenizer = shared_tokenizer()
    results: list[FileResult] = []
    runner = _run_ray(refs, options, cache) if use_ray else _run_pool(refs, options, cache, workers)
    for result in runner:
        results.append(result)
        if progress is not None:
            progress(len(results), len(refs))
    rows = _manifest_rows(refs, results)
    _dedupe(rows)
    writers = {split: ShardWriter() for split in SPLITS}
    token_counts: Counter[str] = Counter()
    for number, (row, tokens) in enumerate(rows):
        if row["status"] != "kept":
            continue
        row["tokens"] = len(tokens[0])
        for shift, ids in sorted(tokens.items()):
            writers[row["split"]].add(ids, number, shift)
    for split, writer in writers.items():
        token_counts[split] = writer.write(out, split)
    save_tokenizer(tokenizer, out)
    _write_atomic(out / MANIFEST_FILE, "".join(json.dumps(r, sort_keys=True) + "\n" for r, _ in rows))
    kept = sum(r["status"] == "kept" for r, _ in rows)
    description = {
        "sources": [{"name": s.name, "kind": s.kind, "location": s.location, "licence": s.licence} for s in specs],
        "options": {"transpositions": list(options.transpositions), "valid_percent": options.valid_percent,
                    "test_percent": options.test_percent},
        "pieces": len(rows),
        "kept": kept,
        "tokens": dict(token_counts),
    }  # fmt: skip
    _write_atomic(out / BUILD_FILE, json.dumps(description, sort_keys=True, indent=1) + "\n")
    return BuildSummary(len(rows), kept, len(rows) - kept, sum(r.cached for r in results), dict(token_counts))
