"""Corpus builds: determinism, stable splits, bad files reported, labels and tokens."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from cadenza.cli import app
from cadenza.data.build import build_corpus
from cadenza.data.content import content_hash, split_of
from cadenza.data.process import BuildOptions
from cadenza.data.shards import open_shard
from cadenza.data.sources import parse_source_spec
from cadenza.data.tokens import load_tokenizer
from cadenza.io import save_score
from tests.helpers import make_score


def _melody(seed: int, length: int = 16):
    rng = np.random.default_rng(seed)
    pitches = 60 + np.cumsum(rng.integers(-2, 3, size=length))
    return make_score([(int(p), i * 0.5, i * 0.5 + 0.5) for i, p in enumerate(pitches)])


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    music = tmp_path / "music"
    music.mkdir()
    for i in range(12):
        save_score(_melody(i), music / f"tune{i:02d}.mid")
    save_score(_melody(3), music / "tune03_copy.mid")  # a duplicate
    (music / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\xff\xff")
    (music / "notes.txt").write_text("not music, not part of the corpus")
    return music


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file()}


def _rows(out: Path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, (out / "manifest.jsonl").read_text().splitlines())}


def test_two_builds_are_byte_identical(folder: Path, tmp_path: Path) -> None:
    spec = parse_source_spec(f"mine={folder}", {"mine": "CC0"})
    first, second = tmp_path / "a", tmp_path / "b"
    build_corpus([spec], first, workers=2)
    build_corpus([spec], second, workers=1)
    assert _outputs(first) == _outputs(second)
    assert set(_outputs(first)) >= {
        "manifest.jsonl",
        "train.tokens.npy",
        "train.index.npy",
        "tokenizer.json",
        "build.json",
    }


def test_bad_file_and_duplicate_are_reported_and_the_build_finishes(folder: Path, tmp_path: Path) -> None:
    summary = build_corpus([parse_source_spec(f"mine={folder}")], tmp_path / "out", workers=2)
    rows = _rows(tmp_path / "out")
    assert summary.kept == 12 and summary.dropped == 2
    assert rows["mine/broken.mid"]["status"] == "dropped"
    assert "not a valid MIDI file" in rows["mine/broken.mid"]["reason"]
    copy = rows["mine/tune03_copy.mid"]
    assert copy["status"] == "dropped" and copy["reason"] == "duplicate of mine/tune03.mid"
    assert copy["content_hash"] == rows["mine/tune03.mid"]["content_hash"]
    assert copy["split"] == rows["mine/tune03.mid"]["split"]  # duplicates land together
    kept = rows["mine/tune00.mid"]
    assert kept["licence"] == "unknown" and len(kept["sha256"]) == 64
    assert kept["labels"]["meter"] == "4/4" and kept["labels"]["tempo_bpm"] == 120.0
    assert kept["tokens"] > 16 * 3  # every note is at least pitch, velocity, duration


def test_adding_files_moves_no_piece_to_another_split(folder: Path, tmp_path: Path) -> None:
    spec = parse_source_spec(f"mine={folder}")
    build_corpus([spec], tmp_path / "out", workers=1)
    before = {k: r.get("split") for k, r in _rows(tmp_path / "out").items()}
    for i in range(100, 130):
        save_score(_melody(i), folder / f"new{i}.mid")
    summary = build_corpus([spec], tmp_path / "out", workers=1)
    after = _rows(tmp_path / "out")
    assert summary.from_cache == 14  # the unchanged files were not parsed again
    assert all(after[k].get("split") == split for k, split in before.items())
    assert {r.get("split") for r in after.values()} >= {"train"}


def test_shards_hold_the_manifest_tokens_and_decode_to_the_notes(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build_corpus([parse_source_spec(f"mine={folder}")], out, options=BuildOptions(transpositions=(-2, 2)))
    manifest = list(map(json.loads, (out / "manifest.jsonl").read_text().splitlines()))
    tokenizer = load_tokenizer(out)
    shard = open_shard(out, "train")
    originals = [i for i in range(len(shard)) if shard.index[i, 3] == 0]
    assert len(shard) == 3 * len(originals)  # each training piece and its two transpositions
    for i in originals:
        row = manifest[shard.index[i, 2]]
        ids = shard.sequence(i)
        assert len(ids) == row["tokens"]
        assert tokenizer[int(ids[0])] == "BOS_None" and tokenizer[int(ids[-1])] == "EOS_None"
        assert tokenizer[int(ids[2])] == f"Key_{row['labels']['key']}"
        decoded = tokenizer.decode(ids.tolist())
        assert decoded.note_num() == 16
    up_index = next(i for i in range(len(shard)) if shard.index[i, 3] == 2)
    original_index = next(i for i in originals if shard.index[i, 2] == shard.index[up_index, 2])
    up = tokenizer.decode(shard.sequence(up_index).tolist())
    original = tokenizer.decode(shard.sequence(original_index).tolist())
    assert [n.pitch for n in up.tracks[0].notes] == [n.pitch + 2 for n in original.tracks[0].notes]


def test_split_depends_only_on_content() -> None:
    score = _melody(7)
    assert content_hash(score) == content_hash(score.copy())
    assert content_hash(score) != content_hash(score.shift_pitch(1))
    fractions = [split_of(f"{i:08x}" + "0" * 56) for i in range(0, 2**32, 2**32 // 1000)]
    assert 0.85 < fractions.count("train") / len(fractions) < 0.95


@pytest.mark.datasets
def test_pop909_and_jsb_build_with_their_annotations(datasets: Path, tmp_path: Path) -> None:
    pop = tmp_path / "pop909"
    for song in ("001", "002", "003"):
        shutil.copytree(datasets / "pop909" / song, pop / song)
    jsb = datasets / "jsb-chorales" / "Jsb16thSeparated.json"
    result = CliRunner().invoke(
        app, ["data", "build", "--source", f"pop909={pop}", "--source", f"jsb={jsb}", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    rows = _rows(tmp_path / "o")
    assert rows["pop909/001"]["labels"]["key"] == "F#:maj"  # key_audio.txt says Gb:maj
    assert rows["pop909/001"]["licence"] == "MIT"
    splits = {r["split"] for k, r in rows.items() if k.startswith("jsb/test/")}
    assert splits == {"test"} and sum(k.startswith("jsb/") for k in rows) == 229 + 76 + 77
    assert all(r["jsb_overlap"] for k, r in rows.items() if k.startswith("jsb/"))
    info = CliRunner().invoke(app, ["data", "info", str(tmp_path / "o")])
    assert info.exit_code == 0 and "pop909 3" in info.output and "jsb 382" in info.output


def test_saved_tokenizer_has_the_same_vocabulary(tmp_path: Path) -> None:
    from cadenza.data.tokens import make_tokenizer, save_tokenizer

    tokenizer = make_tokenizer()
    save_tokenizer(tokenizer, tmp_path)
    assert load_tokenizer(tmp_path).vocab == tokenizer.vocab  # ids, not just names
