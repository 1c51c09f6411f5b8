"""cadenza.provenance: fingerprints, index, originality report, repair loop, CLI.

The music: small tunes written here (seeded random walks in a major scale with mixed
rhythms, one line over a simple bass) for tests that run everywhere, and POP909 songs
for the ones marked ``datasets``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import symusic
import typer
from typer.testing import CliRunner

from cadenza.provenance.baseline import human_baseline, percentile_of
from cadenza.provenance.build import build_index
from cadenza.provenance.fingerprint import FingerprintConfig, Line, bar_numbers, lines_of
from cadenza.provenance.index import Index, TrainingPiece
from cadenza.provenance.repair import check_and_repair, copied_bars
from cadenza.provenance.report import Level, originality_report

SCALE = (0, 2, 4, 5, 7, 9, 11)
RHYTHMS = ((1.0,), (0.5, 0.5), (1.5, 0.5), (0.5, 0.25, 0.25), (2.0,), (0.75, 0.25))
TPQ = 480


def tune(seed: int, bars: int = 16) -> list[tuple[int, float, float]]:
    """(pitch, onset, duration) in quarters of a 4/4 tune, each bar filled by rhythm cells."""
    rng = np.random.default_rng(seed)
    degree, notes = 7, []
    for bar in range(bars):
        beat = 0.0
        while beat < 4.0:
            cell = RHYTHMS[rng.integers(len(RHYTHMS))]
            if beat + sum(cell) > 4.0:
                cell = (4.0 - beat,)
            for length in cell:
                degree = int(np.clip(degree + rng.choice((-2, -1, -1, 1, 1, 2, 3, -3, 0)), 0, 14))
                pitch = 60 + 12 * (degree // 7) + SCALE[degree % 7]
                notes.append((pitch, bar * 4 + beat, length))
                beat += length
    return notes


def score_of(melody: list[tuple[int, float, float]], bars: int, qpm: float = 100.0) -> symusic.Score:
    """A two-track score: the tune (track "melody") over a bass on every half bar."""
    score = symusic.Score(TPQ)
    score.tempos.append(symusic.Tempo(0, qpm=qpm))
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    lead, low = symbolic_track("melody"), symbolic_track("bass")
    for pitch, onset, duration in melody:
        lead.notes.append(symusic.Note(round(onset * TPQ), max(round(duration * TPQ), 1), int(pitch), 90))
    for half in range(bars * 2):
        low.notes.append(symusic.Note(half * 2 * TPQ, 2 * TPQ, 36 + (0, 5, 7, 3)[half % 4], 70))
    score.tracks.append(lead)
    score.tracks.append(low)
    return score


def symbolic_track(name: str) -> symusic.Track:
    return symusic.Track(name=name, program=0)


def piece(i: int) -> TrainingPiece:
    return TrainingPiece(f"demo/{i:03d}", "demo", f"{i:03d}.mid", "CC0", f"hash-{i}")


@pytest.fixture(scope="module")
def corpus() -> dict[str, symusic.Score]:
    return {piece(i).id: score_of(tune(i), 16) for i in range(40)}


@pytest.fixture(scope="module")
def index(corpus: dict[str, symusic.Score]) -> Index:
    pieces = [(piece(i), f"/nowhere/{i:03d}.mid") for i in range(40)]

    def read(wanted):
        for p, _ in wanted:
            yield p.id, lines_of(corpus[p.id])

    built, summary = build_index(pieces, read, baseline_sample=40)
    assert summary.pieces == 40 and summary.read == 40
    return built


def plant(
    host: list[tuple[int, float, float]], source: list[tuple[int, float, float]], bars: tuple[int, int],
    at_bar: int, *, shift: int, scale: float, seed: int,
) -> list[tuple[int, float, float]]:  # fmt: skip
    """``host`` with ``source``'s bars ``[first, last]`` (1-based) transposed by ``shift``,
    note values scaled by ``scale``, one note in ten moved a step, placed at ``at_bar``."""
    first, last = bars
    cut = [(p, o - (first - 1) * 4, d) for p, o, d in source if (first - 1) * 4 <= o < last * 4]
    rng = np.random.default_rng(seed)
    edited = {int(i) for i in rng.choice(len(cut), size=max(1, len(cut) // 10), replace=False)}
    moved = [(p + shift + (2 if i in edited else 0), o * scale, d * scale) for i, (p, o, d) in enumerate(cut)]
    start = (at_bar - 1) * 4
    end = start + (last - first + 1) * 4 * scale
    kept = [n for n in host if not start <= n[1] < end]
    return sorted(kept + [(p, o + start, d) for p, o, d in moved], key=lambda n: n[1])


# -- fingerprints ---------------------------------------------------------------------------


def test_fingerprints_are_the_same_transposed_and_at_another_tempo() -> None:
    notes = tune(5, 8)
    original = lines_of(score_of(notes, 8))[0]
    moved = lines_of(score_of([(p - 5, o * 2, d * 2) for p, o, d in notes], 16, qpm=60))[0]
    assert original.name == moved.name == "melody"
    assert np.array_equal(original.symbols, moved.symbols)


def test_a_changed_note_changes_only_the_steps_around_it() -> None:
    notes = tune(6, 8)
    changed = list(notes)
    changed[10] = (notes[10][0] + 1, *notes[10][1:])
    a, b = (lines_of(score_of(n, 8))[0].symbols for n in (notes, changed))
    assert np.flatnonzero(a != b).tolist() == [9, 10]


def test_bar_numbers_follow_time_signature_changes() -> None:
    score = symusic.Score(TPQ)
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    score.time_signatures.append(symusic.TimeSignature(2 * 4 * TPQ, 3, 4))  # 3/4 from bar 3
    ticks = np.array([0, 4 * TPQ, 8 * TPQ, 11 * TPQ, 14 * TPQ])
    assert bar_numbers(score, ticks).tolist() == [0, 1, 2, 3, 4]
    assert bar_numbers(score, np.zeros(0)).size == 0


def test_empty_and_tiny_pieces_have_no_lines(index: Index) -> None:
    assert lines_of(symusic.Score(TPQ)) == []
    report = originality_report(score_of([(60, 0, 1), (62, 1, 1)], 1), index)
    assert report.share_found == 0 and not report.flagged and report.longest_shared is None


# -- the report -----------------------------------------------------------------------------


def test_planted_copy_is_found_with_its_source_and_bars(index: Index) -> None:
    host = tune(1000, 24)
    source = tune(17, 16)
    planted = plant(host, source, (5, 10), at_bar=9, shift=-3, scale=1.5, seed=1)
    report = originality_report(score_of(planted, 24), index, Level.NORMAL)
    assert report.flagged
    copy = max(report.copies, key=lambda c: c.identical)
    assert copy.id == "demo/017" and copy.licence == "CC0" and copy.line == "melody"
    # the planted six bars, at 1.5 times the note values, cover host bars 9-17
    assert 9 <= copy.bars[0] <= 10 and 16 <= copy.bars[1] <= 17
    assert 5 <= copy.training_bars[0] <= 6 and copy.training_bars[1] == 10
    assert report.nearest[0]["id"] == "demo/017"
    assert report.longest_shared is not None and report.longest_shared.id == "demo/017"


def test_unrelated_piece_is_not_flagged(index: Index) -> None:
    report = originality_report(score_of(tune(2024, 24), 24), index, Level.STRICT)
    assert not report.flagged
    assert report.copies == []
    assert report.share_found < 0.5


def test_off_reports_but_never_flags(index: Index, corpus: dict[str, symusic.Score]) -> None:
    report = originality_report(corpus["demo/003"], index, "off")
    assert report.level == "OFF" and not report.flagged
    assert report.nearest[0]["id"] == "demo/003" and report.share_found == 1.0


def test_report_json_has_the_promised_fields(index: Index, corpus: dict[str, symusic.Score]) -> None:
    data = json.loads(json.dumps(originality_report(corpus["demo/004"], index).to_dict()))
    for key in ("flagged", "share_found", "human_baseline", "longest_shared", "nearest"):
        assert key in data
    assert set(data["nearest"][0]) >= {"id", "source", "path", "licence", "shared_notes"}
    assert data["human_baseline"]["pieces"] == 40


def test_human_baseline_leaves_each_piece_out(index: Index) -> None:
    baseline = human_baseline(index, sample=10)
    assert baseline["pieces"] == 10
    # random tunes share stock steps but no passage as long as a planted copy
    assert max(baseline["longest_notes"]) < 20
    assert percentile_of(1.0, [0.1, 0.2, 0.3]) == 100.0
    assert percentile_of(0.2, [0.1, 0.2, 0.3]) == 50.0
    assert percentile_of(0.5, []) is None


# -- the index on disk ------------------------------------------------------------------------


def test_index_saves_and_loads_without_pickle(index: Index, tmp_path: Path) -> None:
    index.save(tmp_path)
    again = Index.load(tmp_path)
    assert again.pieces == index.pieces and again.baseline == index.baseline
    assert np.array_equal(again.pitches, index.pitches) and np.array_equal(again.bars, index.bars)
    assert np.allclose(again.onsets, index.onsets)
    assert np.array_equal(again.symbols, index.symbols)
    with np.load(tmp_path / "index.npz", allow_pickle=False) as arrays:
        assert all(arrays[name].dtype != object for name in arrays.files)


def test_rebuild_reads_only_new_pieces(index: Index, corpus: dict[str, symusic.Score]) -> None:
    read_ids: list[str] = []

    def read(wanted):
        for p, _ in wanted:
            read_ids.append(p.id)
            yield p.id, lines_of(corpus.get(p.id) or score_of(tune(99), 16))

    pieces = [(piece(i), "x") for i in range(1, 40)] + [(piece(99), "x")]  # one gone, one new
    rebuilt, summary = build_index(pieces, read, previous=index, baseline_sample=5)
    assert read_ids == ["demo/099"]
    assert (summary.reused, summary.read, summary.pieces) == (39, 1, 40)
    assert [p.id for p in rebuilt.pieces][-1] == "demo/099"


def test_damaged_index_is_refused(tmp_path: Path) -> None:
    from cadenza.errors import InputFileError

    (tmp_path / "index.json").write_text("{}")
    (tmp_path / "index.npz").write_bytes(b"not an npz")
    with pytest.raises(InputFileError):
        Index.load(tmp_path)


# -- the repair loop --------------------------------------------------------------------------


def test_repair_regenerates_exactly_the_copied_bars(index: Index) -> None:
    host = tune(1001, 24)
    planted = plant(host, tune(21, 16), (3, 8), at_bar=13, shift=4, scale=1.0, seed=2)
    calls: list[tuple[int, int, int]] = []

    def regenerate(start_bar: int, end_bar: int, attempt: int) -> symusic.Score:
        calls.append((start_bar, end_bar, attempt))
        fresh = [n for n in tune(5000 + attempt, 24) if start_bar * 4 <= n[1] < end_bar * 4]
        kept = [n for n in planted if not start_bar * 4 <= n[1] < end_bar * 4]
        return score_of(sorted(kept + fresh, key=lambda n: n[1]), 24)

    score, report = check_and_repair(score_of(planted, 24), regenerate, index, Level.NORMAL)
    assert report is not None and not report.flagged
    assert len(calls) >= 1 and calls[0][2] == 1
    start, end, _ = calls[0]
    assert 11 <= start <= 13 and 17 <= end <= 19  # the planted bars 13-18, 0-based from 12
    assert report.repairs[0]["copied"] == ["demo/021"]
    kept_notes = score.tracks[0].notes.numpy()
    assert (kept_notes["time"] < start * 4 * TPQ).any()  # the bars before were kept


def test_repair_at_off_or_without_index_changes_nothing(index: Index, corpus: dict[str, symusic.Score]) -> None:
    def refuse(*_: int) -> symusic.Score:
        raise AssertionError("must not regenerate")

    score = corpus["demo/005"]
    same, report = check_and_repair(score, refuse, index, Level.OFF)
    assert same is score and report is not None and not report.flagged
    assert check_and_repair(score, refuse, None, Level.NORMAL) == (score, None)


def test_copied_bar_ranges_merge_when_they_overlap() -> None:
    class P:  # a SharedPassage needs only bars here
        def __init__(self, bars: tuple[int, int]) -> None:
            self.bars = bars

    assert copied_bars([P((3, 6)), P((5, 9)), P((12, 12))]) == [(2, 9), (11, 12)]  # type: ignore[list-item]


# -- the command line -------------------------------------------------------------------------


def test_cli_originality_json_and_exit_code(index: Index, tmp_path: Path) -> None:
    from cadenza.cli_provenance import register

    app = typer.Typer()
    register(app)
    index.save(tmp_path / "index")
    copy = score_of(plant(tune(1002, 24), tune(30, 16), (1, 6), at_bar=5, shift=2, scale=0.5, seed=3), 24)
    copy.dump_midi(str(tmp_path / "copy.mid"))
    score_of(tune(2025, 24), 24).dump_midi(str(tmp_path / "fresh.mid"))
    runner = CliRunner()
    index_dir = str(tmp_path / "index")
    flagged = runner.invoke(app, ["originality", str(tmp_path / "copy.mid"), "--index", index_dir, "--json"])
    assert flagged.exit_code == 1, flagged.output
    data = json.loads(flagged.output)
    assert data["flagged"] and data["nearest"][0]["id"] == "demo/030"
    fresh = runner.invoke(app, ["originality", str(tmp_path / "fresh.mid"), "--index", index_dir])
    assert fresh.exit_code == 0, fresh.output
    assert "not flagged" in " ".join(fresh.output.split())


# -- real music -------------------------------------------------------------------------------


@pytest.mark.datasets
def test_pop909_planted_chorus_is_found_and_another_song_is_not(pop909_files: list[Path]) -> None:
    from cadenza.data.sources import FileRef, read_file

    refs = [FileRef("pop909", "pop909", str(p), "MIT", "pop909", f"pop909/{p.stem}") for p in pop909_files[:60]]
    scores = {ref.piece_id: read_file(ref)[0].score for ref in refs}
    pieces = [(TrainingPiece(i, "pop909", f"{i[7:]}/{i[7:]}.mid", "MIT", i), "") for i in scores if i != "pop909/060"]

    def read(wanted):
        for p, _ in wanted:
            yield p.id, lines_of(scores[p.id])

    index, _ = build_index(pieces, read, baseline_sample=20)
    source = lines_of(scores["pop909/012"])[0]
    assert source.name == "melody"
    # bars 17-22 of song 012's melody, up a fourth, in halved note values, one note in ten moved
    cut = (source.bars >= 16) & (source.bars <= 21)
    pitches, onsets = source.pitches[cut] + 5, (source.onsets[cut] - source.onsets[cut][0]) / 2
    pitches[::10] += 1
    host = scores["pop909/060"].copy()  # a song left out of the index
    bar = 4 * host.tpq
    start = 8 * bar  # host bar 9
    lowest = int(pitches.min())
    for track in host.tracks:
        track.notes.filter(lambda n: not (start <= n.time < start + 3 * bar and n.pitch >= lowest - 1), inplace=True)
    melody = next(t for t in host.tracks if t.name.upper() == "MELODY")
    for p, o in zip(pitches, onsets, strict=True):
        melody.notes.append(symusic.Note(start + round(o * host.tpq), host.tpq // 4, int(p), 90))
    melody.notes.sort()
    report = originality_report(host, index, Level.NORMAL)
    assert report.flagged
    copy = max(report.copies, key=lambda c: c.identical)
    assert copy.id == "pop909/012" and copy.licence == "MIT"
    assert copy.bars[0] == 9 and copy.bars[1] in (10, 11)
    assert 17 <= copy.training_bars[0] <= 18 and 21 <= copy.training_bars[1] <= 22
    untouched = originality_report(scores["pop909/060"], index, Level.NORMAL)
    assert not untouched.flagged
    assert isinstance(untouched.human_baseline["share_found_percentile"], float)


def test_line_dataclass_lengths_agree() -> None:
    line = lines_of(score_of(tune(8, 4), 4), FingerprintConfig())[0]
    assert isinstance(line, Line)
    assert len(line) == line.symbols.size == line.onsets.size == line.bars.size
