"""Corpus builds that are killed, caches that are replaced, folders that are not what a
build expects, files that are not files: a corpus is whole or refused, never mixed."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.data.build import build_corpus
from cadenza.data.info import read_manifest
from cadenza.data.shards import open_shard
from cadenza.data.sources import parse_source_spec
from cadenza.errors import CadenzaError, InputFileError
from cadenza.io import save_score
from tests.helpers import make_score

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()


def _melody(seed: int, length: int = 16):
    rng = np.random.default_rng(seed)
    pitches = 60 + np.cumsum(rng.integers(-2, 3, size=length))
    return make_score([(int(p), i * 0.5, i * 0.5 + 0.5) for i, p in enumerate(pitches)])


def _tunes(folder: Path, seeds: range) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        save_score(_melody(seed), folder / f"tune{seed:03d}.mid")
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of a corpus but its cache, by name."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _beside(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


def _one_line_error(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert "Traceback" not in result.output and "RecursionError" not in result.output
    for word in words:
        assert word in lines[0], result.output


@contextmanager
def _unblocking(fifos: Callable[[], Iterable[Path]]) -> Iterator[list[str]]:
    """While it runs, unblock any reader of the FIFOs that ``fifos()`` finds (so that a
    failing test fails instead of hanging) and list the names of those that were opened."""
    opened: list[str] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                found = list(fifos())
            except OSError:  # a folder moved while it was listed (a build renames its cache)
                found = []
            for fifo in found:
                try:
                    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # succeeds only while a reader waits
                except OSError:
                    continue
                opened.append(fifo.name)
                os.write(fd, b"x")
                os.close(fd)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield opened
    finally:
        done.set()
        watcher.join()


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    out = tmp_path / "corpus"
    build_corpus([parse_source_spec(f"mine={_tunes(tmp_path / 'music', range(12))}")], out, workers=1)
    return out


# 1. Nothing half-written


def test_a_build_that_fails_after_its_shards_leaves_the_previous_corpus(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _snapshot(corpus)
    _tunes(tmp_path / "music", range(100, 110))  # the next build has other pieces, other rows

    def killed(*args: object) -> None:  # runs after the shards are written, before the manifest
        raise KeyboardInterrupt

    monkeypatch.setattr("cadenza.data.build.save_tokenizer", killed)
    with pytest.raises(KeyboardInterrupt):
        build_corpus([parse_source_spec(f"mine={tmp_path / 'music'}")], corpus, workers=1)
    assert _snapshot(corpus) == before  # the old corpus, whole
    assert len(read_manifest(corpus)) == 12 and (corpus / "cache").is_dir()
    assert _beside(corpus) == []


_KILLED_BUILD = """
import os, signal, sys
from pathlib import Path
import cadenza.data.build as build
from cadenza.data.sources import parse_source_spec

build.save_tokenizer = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # after the shards
build.build_corpus([parse_source_spec("mine=" + sys.argv[1])], Path(sys.argv[2]), workers=1)
"""


def test_a_build_killed_between_shards_and_manifest_and_the_next_build(corpus: Path, tmp_path: Path) -> None:
    before = _snapshot(corpus)
    music = _tunes(tmp_path / "music", range(100, 110))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    killed = subprocess.run([sys.executable, "-c", _KILLED_BUILD, str(music), str(corpus)], env=env, timeout=240)
    assert killed.returncode == -9
    assert _snapshot(corpus) == before  # the old corpus, whole, and readers take it
    assert len(read_manifest(corpus)) == 12 and len(open_shard(corpus, "train")) > 0
    left = [corpus.parent / name for name in _beside(corpus) if ".build-" in name]
    assert len(left) == 1  # what the kill left, its cache with it
    stray = next((left[0] / "cache").glob("*/*.npy")).with_suffix(".tmp.npy")
    stray.write_bytes(b"half an array")  # as a worker killed mid-write leaves it

    summary = build_corpus([parse_source_spec(f"mine={music}")], corpus, workers=1)
    assert _beside(corpus) == []  # cleaned by the next run
    assert not list((corpus / "cache").glob("*/*.tmp*"))
    assert summary.kept == 22 and summary.from_cache == 22  # the killed build's cache was taken, entries checked
    again = tmp_path / "again"
    build_corpus([parse_source_spec(f"mine={music}")], again, workers=1)
    assert _snapshot(again) == _snapshot(corpus)  # the same bytes as a build that was never killed


def test_readers_refuse_shards_of_another_build(corpus: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    build_corpus([parse_source_spec(f"mine={_tunes(tmp_path / 'more', range(200, 230))}")], other, workers=1)
    for name in ("train.tokens.npy", "train.index.npy"):
        (corpus / name).write_bytes((other / name).read_bytes())
    with pytest.raises(InputFileError, match=r"inconsistent corpus: train\.tokens\.npy"):
        read_manifest(corpus)
    with pytest.raises(InputFileError, match="inconsistent corpus"):
        open_shard(corpus, "train")
    _one_line_error(runner.invoke(app, ["data", "info", str(corpus)]), str(corpus), "inconsistent")
    trained = runner.invoke(app, ["train", "markov", "--data", str(corpus), "--out", str(tmp_path / "m")])
    _one_line_error(trained, "inconsistent")
    assert not (tmp_path / "m").exists()


def _vouch(corpus: Path) -> None:
    """Make build.json list the files as they are now (as a hostile corpus would)."""
    from cadenza.data.corpus import digests

    description = json.loads((corpus / "build.json").read_text())
    description["files"] = digests(corpus)
    (corpus / "build.json").write_text(json.dumps(description))


def _cache_entries(corpus: Path) -> list[Path]:
    return sorted((corpus / "cache").glob("*/*.npy"))


def test_a_replaced_cache_array_is_detected_and_built_again(corpus: Path, tmp_path: Path) -> None:
    before = _snapshot(corpus)
    entries = _cache_entries(corpus)
    assert len(entries) == 12
    # another piece's tokens under this entry's name: a valid array, the wrong one
    entries[0].write_bytes(entries[1].read_bytes())
    summary = build_corpus([parse_source_spec(f"mine={tmp_path / 'music'}")], corpus, workers=1)
    assert summary.from_cache == 11
    assert _snapshot(corpus) == before
    assert entries[0].read_bytes() != entries[1].read_bytes()  # rebuilt


def test_a_damaged_or_deep_cache_entry_is_built_again(corpus: Path, tmp_path: Path) -> None:
    before = _snapshot(corpus)
    metas = sorted((corpus / "cache").glob("*/*.json"))
    metas[0].write_text("[" * 100_000)
    text = metas[1].read_text()
    assert '"note_count": 16' in text
    metas[1].write_text(text.replace('"note_count": 16', '"note_count": 17'))  # its own hash no longer matches
    summary = build_corpus([parse_source_spec(f"mine={tmp_path / 'music'}")], corpus, workers=1)
    assert summary.from_cache == 10 and _snapshot(corpus) == before


def test_a_cache_entry_is_not_taken_for_another_style(corpus: Path, tmp_path: Path) -> None:
    build_corpus([parse_source_spec(f"mine={tmp_path / 'music'}", styles={"mine": "folk"})], corpus, workers=1)
    assert {r["labels"]["style"] for r in read_manifest(corpus) if r["status"] == "kept"} == {"folk"}


def test_deep_or_malformed_json_in_a_corpus_is_one_line(corpus: Path) -> None:
    build = (corpus / "build.json").read_text()
    (corpus / "build.json").write_text("[" * 100_000)
    _one_line_error(runner.invoke(app, ["data", "info", str(corpus)]), "build.json", "nests too deeply")
    (corpus / "build.json").write_text(build)
    (corpus / "manifest.jsonl").write_text("[" * 100_000 + "\n")
    _one_line_error(runner.invoke(app, ["data", "info", str(corpus)]), "manifest.jsonl")
    # a manifest that its build.json vouches for, with a row that is not one
    (corpus / "manifest.jsonl").write_text("[1]\n")
    _vouch(corpus)
    _one_line_error(runner.invoke(app, ["data", "info", str(corpus)]), "manifest.jsonl", "line 1")


def test_data_info_on_what_is_not_a_corpus(tmp_path: Path) -> None:
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "manifest.jsonl").write_text("")  # as a build killed before its build.json leaves it
    _one_line_error(runner.invoke(app, ["data", "info", str(unfinished)]), str(unfinished), "not a corpus")
    _one_line_error(runner.invoke(app, ["data", "info", str(tmp_path / "absent")]), "absent")
    (tmp_path / "a-file").write_text("x")
    _one_line_error(runner.invoke(app, ["data", "info", str(tmp_path / "a-file")]), "a-file")


def test_a_build_never_replaces_a_folder_that_is_not_a_corpus(tmp_path: Path) -> None:
    mine = tmp_path / "documents"
    mine.mkdir()
    (mine / "letter.txt").write_text("dear")
    music = _tunes(tmp_path / "music", range(3))
    result = runner.invoke(app, ["data", "build", "--source", f"mine={music}", "--out", str(mine)])
    _one_line_error(result, "letter.txt", "not part of a corpus")
    assert [p.name for p in mine.iterdir()] == ["letter.txt"]


# 3. A newcomer's folder


def test_a_wrong_folder_layout_says_what_was_expected(tmp_path: Path) -> None:
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    for name in ("a.wav", "b.wav", "notes.txt"):
        (sounds / name).write_bytes(b"x")
    out = tmp_path / "out"
    result = runner.invoke(app, ["data", "build", "--source", f"mine={sounds}", "--out", str(out)])
    _one_line_error(result, ".mid", ".abc", "found 3 files: 2 .wav, 1 .txt")
    flat = _tunes(tmp_path / "flat", range(2))  # POP909's files without their song folders
    result = runner.invoke(app, ["data", "build", "--source", f"pop909={flat}", "--out", str(out)])
    _one_line_error(result, "001/001.mid", "2 .mid")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.mid").write_bytes(b"MThd")
    result = runner.invoke(app, ["data", "build", "--source", f"mine={broken}", "--out", str(out)])
    _one_line_error(result, "x.mid", "no piece could be kept")
    assert not out.exists() and _beside(out) == []


def test_a_folder_of_ones_own_builds_trains_and_composes(tmp_path: Path) -> None:
    music = _tunes(tmp_path / "music", range(12))
    corpus, model = tmp_path / "corpus", tmp_path / "model"
    built = runner.invoke(app, ["data", "build", "--source", f"mine={music}", "--out", str(corpus)])
    assert built.exit_code == 0, built.output
    assert {r["labels"]["style"] for r in read_manifest(corpus) if r["status"] == "kept"} == {"other"}
    info = runner.invoke(app, ["data", "info", str(corpus)])
    assert info.exit_code == 0 and "style other:" in info.output and "--style NAME=STYLE" in info.output
    assert runner.invoke(app, ["train", "markov", "--data", str(corpus), "--out", str(model)]).exit_code == 0
    composed = runner.invoke(app, ["generate", "--model", str(model), "--bars", "2", "-o", str(tmp_path / "a.mid")])
    assert composed.exit_code == 0, composed.output

    labelled, folk = tmp_path / "labelled", tmp_path / "folk"
    args = ["data", "build", "--source", f"mine={music}", "--style", "mine=folk", "--out", str(labelled)]
    assert runner.invoke(app, args).exit_code == 0
    assert {r["labels"]["style"] for r in read_manifest(labelled) if r["status"] == "kept"} == {"folk"}
    assert runner.invoke(app, ["train", "markov", "--data", str(labelled), "--out", str(folk)]).exit_code == 0
    args = ["generate", "--model", str(folk), "--style", "folk", "--bars", "2", "-o", str(tmp_path / "b.mid")]
    composed = runner.invoke(app, args)
    assert composed.exit_code == 0, composed.output

    for style in (["--style", "mine=jazz"], ["--style", "yours=folk"]):
        refused = runner.invoke(app, ["data", "build", "--source", f"mine={music}", *style, "--out", str(folk)])
        _one_line_error(refused, "--style")


# 4. Files that are not files


def test_a_fifo_in_a_source_is_dropped_without_being_opened(tmp_path: Path) -> None:
    pop = tmp_path / "pop909"
    for number in (1, 2):
        (pop / f"{number:03d}").mkdir(parents=True)
    save_score(_melody(2), pop / "002" / "002.mid")
    os.mkfifo(pop / "001" / "001.mid")
    os.mkfifo(pop / "002" / "key_audio.txt")  # an annotation beside a readable song
    music = _tunes(tmp_path / "music", range(3))
    os.mkfifo(music / "pipe.mid")
    out = tmp_path / "out"
    fifos = [pop / "001" / "001.mid", pop / "002" / "key_audio.txt", music / "pipe.mid"]
    with _unblocking(lambda: fifos) as opened:
        try:
            summary = build_corpus([parse_source_spec(f"pop909={pop}"), parse_source_spec(f"mine={music}")], out)
        except CadenzaError:
            summary = None
    assert opened == []
    assert summary is not None and summary.kept == 3
    rows = {r["id"]: r for r in read_manifest(out)}
    assert "FIFO" in rows["pop909/001"]["reason"] and "FIFO" in rows["mine/pipe.mid"]["reason"]
    assert "key_audio.txt" in rows["pop909/002"]["reason"] and "FIFO" in rows["pop909/002"]["reason"]


# 4. Found in review: hidden files, links in a cache


def test_a_folder_holding_only_hidden_files_is_not_replaced(tmp_path: Path) -> None:
    mine = tmp_path / "project"
    (mine / ".git").mkdir(parents=True)
    (mine / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    music = _tunes(tmp_path / "music", range(3))
    result = runner.invoke(app, ["data", "build", "--source", f"mine={music}", "--out", str(mine)])
    _one_line_error(result, ".git", "not part of a corpus")
    assert (mine / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"


@pytest.mark.skipif(os.name != "posix", reason="symbolic links and FIFOs")
def test_links_in_a_corpus_cache_are_never_followed(corpus: Path, tmp_path: Path) -> None:
    victim = tmp_path / "documents"
    victim.mkdir()
    (victim / "draft.tmp").write_text("mine")
    (victim / "letter.txt").write_text("dear")
    entries = _cache_entries(corpus)
    prefix = entries[0].parent
    other = next(entry for entry in entries if entry.parent != prefix)
    shutil.rmtree(prefix)
    prefix.symlink_to(victim)  # a corpus made by someone else: its cache points into our files
    fifo = other.with_suffix(".json")
    fifo.unlink()
    os.mkfifo(fifo)  # read, it would wait forever
    with _unblocking(lambda: [p for p in tmp_path.rglob("*") if p.is_fifo()]) as opened:  # moved with its cache
        summary = build_corpus([parse_source_spec(f"mine={tmp_path / 'music'}")], corpus, workers=1)
    assert opened == []
    assert summary.kept == 12 and summary.from_cache < 12
    assert sorted(p.name for p in victim.iterdir()) == ["draft.tmp", "letter.txt"]
    assert (victim / "draft.tmp").read_text() == "mine"
    cache = corpus / "cache"
    assert not any(p.is_symlink() or not (p.is_dir() or p.is_file()) for p in cache.rglob("*"))


@pytest.mark.parametrize(
    "header",
    [
        {"descr": "<i8", "fortran_order": False, "shape": (10**10, 4)},
        {"descr": "<f8", "fortran_order": False, "shape": (1, 4)},
    ],
    ids=["claims-300-GB", "floats"],
)
def test_a_shard_index_whose_header_lies_is_refused_not_allocated(corpus: Path, header: dict) -> None:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    (corpus / "train.index.npy").write_bytes(buffer.getvalue() + bytes(32))
    _vouch(corpus)
    with pytest.raises(InputFileError) as error:
        open_shard(corpus, "train")
    assert "train.index.npy: is not a shard cadenza wrote" in str(error.value)


def test_a_build_too_small_for_a_split_says_so(tmp_path: Path) -> None:
    music = _tunes(tmp_path / "music", range(3))
    built = runner.invoke(app, ["data", "build", "--source", f"mine={music}", "--out", str(tmp_path / "c")])
    assert built.exit_code == 0, built.output
    tokens = json.loads((tmp_path / "c" / "build.json").read_text())["tokens"]
    empty = [split for split in ("valid", "test") if not tokens[split]]
    assert empty  # three pieces cannot fill every split
    said = " ".join(built.output.split())
    assert f"no piece fell in the {' or '.join(empty)} split (3 pieces kept" in said, built.output
    assert "`cadenza evaluate` has nothing to score" in said


def test_a_jsb_source_that_is_deep_or_not_an_object_is_dropped_in_one_line(tmp_path: Path) -> None:
    music = _tunes(tmp_path / "music", range(3))
    for name, text in (("deep.json", "[" * 100_000), ("list.json", "[1, 2]")):
        path = tmp_path / name
        path.write_text(text)
        out = tmp_path / f"out-{name}"
        build_corpus([parse_source_spec(f"jsb={path}"), parse_source_spec(f"mine={music}")], out, workers=1)
        row = next(r for r in read_manifest(out) if r["source"] == "jsb")
        assert row["status"] == "dropped" and "RecursionError" not in row["reason"], row
        assert "nests too deeply" in row["reason"] or "not a JSB chorales file" in row["reason"], row


def test_a_tokenizer_from_elsewhere_is_refused_before_miditok_reads_it(corpus: Path, tmp_path: Path) -> None:
    """miditok allocates the vocabulary its settings ask for (beat_res {"0_4": 10**7} is
    tens of millions of tokens): a corpus's tokenizer must be the one cadenza makes."""
    path = corpus / "tokenizer.json"
    saved = json.loads(path.read_text())
    saved["config"]["beat_res"] = {"0_4": 10_000_000}
    path.write_text(json.dumps(saved))
    _vouch(corpus)
    trained = runner.invoke(app, ["train", "markov", "--data", str(corpus), "--out", str(tmp_path / "m")])
    _one_line_error(trained, "tokenizer.json: is not the tokenizer this cadenza makes")
    path.write_text("[" * 100_000)
    _vouch(corpus)
    trained = runner.invoke(app, ["train", "markov", "--data", str(corpus), "--out", str(tmp_path / "m")])
    _one_line_error(trained, "tokenizer.json", "nests too deeply")
    assert not (tmp_path / "m").exists()
