"""``cadenza data build``: sources -> clean, labelled, split, tokenized shards + manifest.

The output folder holds:

- ``manifest.jsonl``: one row per piece, kept or dropped (with the reason), sorted by id;
- ``{split}.tokens.npy`` / ``{split}.index.npy``: the shards (see :mod:`cadenza.data.shards`);
- ``tokenizer.json``: the vocabulary;
- ``build.json``: the sources with their licences and styles, the options, the counts,
  and the sha256 of every file above (see :mod:`cadenza.data.corpus`);
- ``cache/``: per-file results, so an unchanged input is not parsed again.

Everything but the cache is a pure function of the inputs and options: two builds give
byte-identical files.

A build is written aside, in a folder beside ``out`` (``.NAME.build-TOKEN``), and renamed
into place when it is whole: ``out`` is the previous corpus or the new one, never a mix.
A build that was killed leaves its folder behind; the next build into ``out`` takes its
cache (every entry is checked before use) and removes it. A lock file beside it, held
while its build runs, tells a leftover from the work of a build still running.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import secrets
import shutil
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cadenza.data.content import SPLITS
from cadenza.data.corpus import BUILD_FILE, CACHE_FOLDER, MANIFEST_FILE, corpus_files, digests
from cadenza.data.process import BuildOptions, FileResult, process_file, shared_tokenizer
from cadenza.data.shards import ShardWriter
from cadenza.data.sources import FileRef, SourceSpec, list_files
from cadenza.data.tokens import save_tokenizer
from cadenza.errors import InputFileError, InvalidArgumentError

__all__ = ["build_corpus", "BuildSummary", "MANIFEST_FILE", "BUILD_FILE"]

_ASIDE_KINDS = ("build", "old", "lock")  # .NAME.build-TOKEN, .NAME.old-TOKEN, .NAME.lock-TOKEN


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


def _write_manifest(folder: Path, rows: list[tuple[dict, dict]]) -> None:
    (folder / MANIFEST_FILE).write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r, _ in rows))


def _nothing_kept(rows: list[tuple[dict, dict]]) -> InputFileError:
    reasons = Counter(str(row.get("reason", "")).split(" (")[0] for row, _ in rows)
    first = rows[0][0] if rows else {}
    return InputFileError(
        f"no piece could be kept of {len(rows)} read ("
        + ", ".join(f"{n} {reason}" for reason, n in reasons.most_common(3))
        + f"); nothing written. First: {first.get('id')}: {first.get('reason')}",
        first.get("path"),
    )


def _build_into(
    folder: Path,
    specs: list[SourceSpec],
    refs: list[FileRef],
    options: BuildOptions,
    workers: int,
    progress: Callable[[int, int], None] | None,
) -> BuildSummary:
    # Made before the pool forks, so that workers inherit it (and the 2-4 s import of
    # miditok and torch) instead of each paying for it again.
    tokenizer = shared_tokenizer()
    results: list[FileResult] = []
    for result in _run_pool(refs, options, folder / CACHE_FOLDER, workers):
        results.append(result)
        if progress is not None:
            progress(len(results), len(refs))
    rows = _manifest_rows(refs, results)
    _dedupe(rows)
    kept = sum(r["status"] == "kept" for r, _ in rows)
    if not kept:
        raise _nothing_kept(rows)
    writers = {split: ShardWriter() for split in SPLITS}
    token_counts: Counter[str] = Counter()
    for number, (row, tokens) in enumerate(rows):
        if row["status"] != "kept":
            continue
        row["tokens"] = len(tokens[0])
        for shift, ids in sorted(tokens.items()):
            writers[row["split"]].add(ids, number, shift)
    for split, writer in writers.items():
        token_counts[split] = writer.write(folder, split)
    save_tokenizer(tokenizer, folder)
    _write_manifest(folder, rows)
    description = {
        "sources": [{"name": s.name, "kind": s.kind, "location": s.location, "licence": s.licence,
                     "style": s.style} for s in specs],
        "options": {"transpositions": list(options.transpositions), "valid_percent": options.valid_percent,
                    "test_percent": options.test_percent},
        "pieces": len(rows),
        "kept": kept,
        "tokens": dict(token_counts),
        "files": digests(folder),
    }  # fmt: skip
    # written last: it vouches for the files above
    (folder / BUILD_FILE).write_text(json.dumps(description, sort_keys=True, indent=1) + "\n")
    return BuildSummary(len(rows), kept, len(rows) - kept, sum(r.cached for r in results), dict(token_counts))


def _check_out(out: Path) -> None:
    """``out`` is replaced whole: it must be new, empty or a corpus, never a folder of the user's."""
    if out.exists() and not out.is_dir():
        raise InvalidArgumentError(f"--out {out}: is a file, not a corpus folder")
    if not out.is_dir():
        return
    ours = {*corpus_files(), BUILD_FILE, CACHE_FOLDER, ".DS_Store"}  # what a file browser leaves is no loss
    strangers = sorted(p.name for p in out.iterdir() if p.name not in ours)  # ".git" and ".env" too
    if strangers:
        raise InvalidArgumentError(
            f"--out {out}: holds {strangers[0]!r}, which is not part of a corpus; a build replaces "
            "its --out folder whole, so give a new or empty folder (or a corpus to rebuild)"
        )


def _leftovers(out: Path) -> Iterator[tuple[str, str, Path]]:
    """(kind, token, path) of what builds into ``out`` put beside it."""
    prefix = f".{out.name}."
    for path in sorted(out.parent.glob(glob.escape(prefix) + "*-*")):
        kind, _, token = path.name[len(prefix) :].partition("-")
        if kind in _ASIDE_KINDS and token and not path.is_symlink():  # a link is not what a build left
            yield kind, token, path


def _is_running(lock: Path) -> bool:
    """Whether the build that holds ``lock`` is still running (its lock is held)."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _take_cache(out: Path, work: Path) -> None:
    """Move the cache of the corpus in ``out``, or else of a killed build, into ``work``;
    remove what killed builds left (their temporary files included)."""
    found = list(_leftovers(out))
    running = {t for kind, t, path in found if kind == "lock" and _is_running(path)}
    dead = [(kind, path) for kind, token, path in found if token not in running]  # our own lock is held too
    candidates = [out / CACHE_FOLDER] + [path / CACHE_FOLDER for kind, path in dead if kind != "lock"]
    for cache in candidates:
        if cache.is_dir() and not cache.is_symlink():
            os.rename(cache, work / CACHE_FOLDER)
            break
    for kind, path in dead:
        if kind == "lock":
            path.unlink(missing_ok=True)
        else:
            shutil.rmtree(path, ignore_errors=True)
    _clean_cache(work / CACHE_FOLDER)


def _clean_cache(cache: Path) -> None:
    """Keep in ``cache`` only real folders and regular files, less the temporary files a
    kill left: a link in a corpus someone else made (``cache/ab -> ~/Documents``) would
    otherwise have entries written, and temporary files removed, where it points."""
    for root, folders, files in os.walk(cache):  # links to folders are listed, never entered
        for name in [*folders, *files]:
            path = Path(root) / name
            if path.is_symlink() or (name in files and (not path.is_file() or ".tmp" in name)):
                path.unlink(missing_ok=True)


@contextmanager
def _aside(out: Path) -> Iterator[tuple[Path, str]]:
    """A new folder beside ``out`` and its token, locked while the build runs."""
    token = f"{os.getpid()}{secrets.token_hex(4)}"
    lock = out.parent / f".{out.name}.lock-{token}"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        raise InvalidArgumentError(f"--out {out}: cannot write beside it ({error.strerror or error})") from None
    work = out.parent / f".{out.name}.build-{token}"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        work.mkdir()
        yield work, token
    finally:
        shutil.rmtree(work, ignore_errors=True)  # gone already when the build was renamed into place
        os.close(fd)
        lock.unlink(missing_ok=True)


def _put_in_place(work: Path, out: Path, token: str) -> None:
    """Rename the finished build to ``out``; a kill in between leaves ``out`` absent, never mixed."""
    old = out.parent / f".{out.name}.old-{token}"
    if out.exists():
        os.rename(out, old)
    os.rename(work, out)
    shutil.rmtree(old, ignore_errors=True)


def build_corpus(
    sources: Iterable[SourceSpec],
    out: Path,
    *,
    options: BuildOptions | None = None,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
) -> BuildSummary:
    """Build (or incrementally rebuild) a corpus in ``out``, which appears whole or not at all."""
    specs = list(sources)
    options = options or BuildOptions()
    out = Path(out).absolute()
    if out.is_symlink():
        out = out.resolve()  # the folder it names is replaced, not the link
    refs = [ref for spec in specs for ref in list_files(spec)]
    _check_out(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _aside(out) as (work, token):
        try:
            _take_cache(out, work)
            summary = _build_into(work, specs, refs, options, workers, progress)
        except BaseException:
            if out.is_dir() and not (out / CACHE_FOLDER).exists() and (work / CACHE_FOLDER).is_dir():
                os.rename(work / CACHE_FOLDER, out / CACHE_FOLDER)  # the corpus keeps its cache
            raise
        _put_in_place(work, out, token)
    return summary
