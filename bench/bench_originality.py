"""Benchmark of cadenza.provenance: query time, planted-copy detection, false flags.

    python bench/bench_originality.py --corpus CORPUS --model MODEL [--hosts 300]
        [--sizes 1000,10000,100000] [--seed 0] [--cache DIR]

CORPUS is a folder from ``cadenza data build``; MODEL a model folder that was trained
on it (it writes the "fresh generated pieces"). Three tables:

1. **Query time.** The full report (line extraction, search, alignment) of generated
   pieces against the real index and against synthetic indexes of 1k, 10k and 100k
   pieces. Synthetic pieces are mosaics of 4-16-note runs cut from random real lines
   (lengths of real pieces), so that stock figures are as common as in real music and
   queries meet as many candidates as they would in a large real corpus.
2. **Planted copies.** A training melody of 4-8 bars is cut from a random indexed
   piece, transposed (1-6 semitones up or down, then put in the host's melody
   register), tempo-changed (note values scaled by 0.5, 0.75, 1.5 or 2), and 10 % of
   its notes changed (of those: 60 % pitch moved 1-2 semitones, 20 % deleted, 20 %
   split in two with a new pitch), then placed as the top line of a generated host
   piece at a random bar (host notes at or above its lowest pitch in those bars are
   removed; the accompaniment below stays). Detected: the report is flagged with a
   copy of that training piece overlapping the planted bars in both pieces.
3. **Fresh pieces.** The same hosts without a plant: the share flagged.

Hosts, plants and synthetic pieces come from ``--seed``; the thresholds were chosen
on other seeds (see docs/originality.md), never on these.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import symusic

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cadenza.analysis.melody import melody
from cadenza.provenance.build import index_corpus, read_pieces
from cadenza.provenance.fingerprint import bar_numbers, lines_of
from cadenza.provenance.index import Index, TrainingPiece
from cadenza.provenance.report import Level, originality_report

STYLES = ("pop", "chorale")
MOODS = ("calm", "happy", "sad", "tense")
SCALES = (0.5, 0.75, 1.5, 2.0)


# -- hosts: fresh generated pieces --------------------------------------------------------


def hosts(model: Path, count: int, seed: int, cache: Path, bars: int = 24) -> list[symusic.Score]:
    """``count`` generated pieces (seeds seed*100000 + i), cached as MIDI files."""
    from cadenza.compose import Composer, Conditions, Sampling

    cache.mkdir(parents=True, exist_ok=True)
    composer = None
    pieces = []
    for i in range(count):
        number = seed * 100_000 + i
        path = cache / f"host-{number}.mid"
        if not path.exists():
            composer = composer or Composer.from_pretrained(model)
            rng = np.random.default_rng(number)
            conditions = Conditions(style=str(rng.choice(STYLES)), mood=str(rng.choice(MOODS)), bars=bars)
            composer.generate(conditions, Sampling(seed=number)).dump_midi(str(path))
        pieces.append(symusic.Score(str(path)))
    return pieces


# -- planting a copy ----------------------------------------------------------------------


@dataclass(frozen=True)
class Plant:
    score: symusic.Score
    source: str  # training piece id
    source_bars: tuple[int, int]  # 1-based, inclusive
    host_bars: tuple[int, int]
    notes: int


def _cut(score: symusic.Score, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]] | None:
    """(rows of onset, duration in quarters and pitch, 1-based bars) of 4-8 bars of melody."""
    line = melody(score)
    notes = line.notes.numpy()
    if notes["time"].size < 16:
        return None
    bars = bar_numbers(score, notes["time"])
    length = int(rng.integers(4, 9))
    for _ in range(20):
        first = int(rng.integers(0, max(int(bars.max()) - length + 2, 1)))
        inside = (bars >= first) & (bars < first + length)
        if inside.sum() >= 3 * length:  # a melody, not a held chord or a rest
            break
    else:
        return None
    tpq = score.ticks_per_quarter
    start = notes["time"][inside][0]
    rows = np.stack(
        [(notes["time"][inside] - start) / tpq, notes["duration"][inside] / tpq, notes["pitch"][inside]], axis=1
    ).astype(np.float64)
    return rows, (first + 1, first + length)


def _edit(rows: np.ndarray, rng: np.random.Generator, share: float = 0.1) -> np.ndarray:
    """Change ``share`` of the notes: move the pitch, delete the note or split it."""
    rows = rows.copy()
    chosen = rng.choice(len(rows), size=max(1, round(share * len(rows))), replace=False)
    extra, dropped = [], []
    for i in chosen:
        kind = rng.random()
        if kind < 0.6:
            rows[i, 2] += rng.choice((-2, -1, 1, 2))
        elif kind < 0.8:
            dropped.append(i)
        else:
            half = rows[i, 1] / 2
            rows[i, 1] = half
            extra.append((rows[i, 0] + half, half, rows[i, 2] + rng.choice((-2, 2))))
    rows = np.delete(rows, dropped, axis=0)
    if extra:
        rows = np.vstack([rows, np.array(extra)])
    return rows[np.argsort(rows[:, 0], kind="stable")]


def plant(host: symusic.Score, source_id: str, source: symusic.Score, rng: np.random.Generator) -> Plant | None:
    """``host`` with 4-8 bars of ``source``'s melody, transposed, re-timed and edited."""
    cut = _cut(source, rng)
    if cut is None:
        return None
    rows, source_bars = cut
    rows[:, :2] *= rng.choice(SCALES)
    rows = _edit(rows, rng)
    rows[:, 2] += rng.choice([s for s in range(-6, 7) if s])
    rows[:, 2] += 12 * np.round((74 - np.median(rows[:, 2])) / 12)  # the host's melody register
    signature = host.time_signatures[0] if len(host.time_signatures) else symusic.TimeSignature(0, 4, 4)
    tpq = host.ticks_per_quarter
    bar = round(tpq * 4 * signature.numerator / signature.denominator)
    end_ticks = max(n.end for t in host.tracks for n in t.notes)
    host_bars = int(np.ceil(end_ticks / bar))
    span_bars = int(np.ceil((rows[-1, 0] + rows[-1, 1]) * tpq / bar))
    if span_bars >= host_bars:
        return None
    first = int(rng.integers(0, host_bars - span_bars))
    start, stop, lowest = first * bar, (first + span_bars) * bar, int(rows[:, 2].min())
    score = host.copy()
    for track in score.tracks:
        track.notes.filter(lambda n: not (start <= n.time < stop and n.pitch >= lowest), inplace=True)
    lead = score.tracks[0]
    for onset, duration, pitch in rows:
        lead.notes.append(symusic.Note(int(start + round(onset * tpq)), max(round(duration * tpq), 1), int(pitch), 90))
    lead.notes.sort()
    last_bar = first + int(np.ceil((rows[-1, 0]) * tpq / bar + 1e-9))
    return Plant(score, source_id, source_bars, (first + 1, max(last_bar, first + 1)), len(rows))


# -- synthetic indexes ----------------------------------------------------------------------


def mosaic_index(real: Index, pieces: int, seed: int) -> Index:
    """``pieces`` synthetic pieces: each takes the line count and lengths of a random real
    piece and fills its lines with 4-16-note runs cut from random real lines, each run
    moved to a random pitch and placed a beat after the previous one."""
    rng = np.random.default_rng(seed)
    real_lengths = np.diff(real.line_offsets)
    per_piece = np.bincount(real.line_piece, minlength=len(real.pieces))
    first_line = np.r_[0, np.cumsum(per_piece)[:-1]]
    models = rng.integers(0, len(real.pieces), size=pieces)
    counts = per_piece[models]
    line_models = np.repeat(first_line[models], counts) + (
        np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    lengths = real_lengths[line_models]
    total = int(lengths.sum())
    # runs: cut until every line is full
    run_lengths = rng.integers(4, 17, size=total // 4 + 16)
    ends = np.cumsum(run_lengths)
    run_lengths = run_lengths[: int(np.searchsorted(ends, total)) + 1]
    run_lengths[-1] -= int(run_lengths.sum()) - total
    eligible = np.flatnonzero(real_lengths >= 16)
    source_line = eligible[rng.integers(0, eligible.size, size=run_lengths.size)]
    start = real.line_offsets[source_line] + (
        rng.random(run_lengths.size) * (real_lengths[source_line] - run_lengths + 1)
    ).astype(np.int64)
    within = np.arange(total) - np.repeat(np.cumsum(run_lengths) - run_lengths, run_lengths)
    take = np.repeat(start, run_lengths) + within
    run_of = np.repeat(np.arange(run_lengths.size), run_lengths)
    pitches = (
        real.pitches[take].astype(np.int64)
        - real.pitches[start].astype(np.int64)[run_of]
        + rng.integers(55, 80, size=run_lengths.size)[run_of]
    )
    local = real.onsets[take] - real.onsets[start][run_of]
    span = real.onsets[start + run_lengths - 1] - real.onsets[start] + 1.0
    onsets = local + np.r_[0.0, np.cumsum(span)[:-1]][run_of]
    offsets = np.r_[0, np.cumsum(lengths)]
    onsets -= np.repeat(onsets[offsets[:-1]], lengths)  # every line from time 0
    bars = np.floor(onsets / 4).astype(np.int64)
    names = [TrainingPiece(f"synthetic/{i:06d}", "synthetic", f"{i:06d}", "none", f"s{i}") for i in range(pieces)]
    return Index(real.config, names, np.clip(pitches, 0, 127), onsets, bars, offsets,
                 np.repeat(np.arange(pieces), counts), real.line_kind[line_models])  # fmt: skip


def time_queries(index: Index, queries: list[symusic.Score]) -> tuple[float, float, float]:
    """(seconds to build the inverted index, ms per full report, ms per search only)."""
    start = time.perf_counter()
    index.prepare()
    prepare = time.perf_counter() - start
    lines = [lines_of(q, index.config) for q in queries]
    start = time.perf_counter()
    for q in queries:
        originality_report(q, index, Level.NORMAL)
    full = (time.perf_counter() - start) / len(queries) * 1000
    start = time.perf_counter()
    for line in lines:
        index.search(line)
    search = (time.perf_counter() - start) / len(queries) * 1000
    return prepare, full, search


# -- detection ------------------------------------------------------------------------------


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def detected(report, plant: Plant) -> bool:
    return any(
        c.id == plant.source and overlaps(c.bars, plant.host_bars) and overlaps(c.training_bars, plant.source_bars)
        for c in report.copies
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--index", type=Path, help="index folder (built from --corpus when missing)")
    parser.add_argument("--hosts", type=int, default=300)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("out/bench-originality"))
    args = parser.parse_args()

    index_dir = args.index or args.cache / "index"
    if not (index_dir / "index.json").exists():
        index_corpus(args.corpus, index_dir, workers=2)
    real = Index.load(index_dir)
    size = sum(p.stat().st_size for p in index_dir.iterdir())
    print(f"index: {len(real.pieces)} pieces, {real.notes:,} notes, {size / 1e6:.2f} MB on disk\n")
    pieces = hosts(args.model, args.hosts, args.seed, args.cache / "hosts")

    print("| index | pieces | notes | build inverted index (s) | report per piece (ms) | search per piece (ms) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    queries = pieces[:100]
    prepare, full, search = time_queries(real, queries)
    print(f"| real | {len(real.pieces):,} | {real.notes:,} | {prepare:.2f} | {full:.1f} | {search:.1f} |")
    for count in (int(s) for s in args.sizes.split(",") if s):
        synthetic = mosaic_index(real, count, args.seed)
        prepare, full, search = time_queries(synthetic, queries)
        print(f"| synthetic | {count:,} | {synthetic.notes:,} | {prepare:.2f} | {full:.1f} | {search:.1f} |")
        del synthetic

    rng = np.random.default_rng(args.seed + 7)
    ids = [real.pieces[i].id for i in rng.choice(len(real.pieces), args.hosts, replace=False)]
    sources = read_pieces(args.corpus, ids)
    levels = (Level.NORMAL, Level.STRICT)
    found = {level: 0 for level in levels}
    flagged = {level: 0 for level in levels}
    planted = 0
    for host, source_id in zip(pieces, ids, strict=True):
        for level in levels:
            flagged[level] += originality_report(host, real, level).flagged
        copy = plant(host, source_id, sources[source_id], rng)
        if copy is None:
            continue
        planted += 1
        for level in levels:
            found[level] += detected(originality_report(copy.score, real, level), copy)
    baseline = [i for i in np.random.default_rng(args.seed).choice(len(real.pieces), 300, replace=False)]
    human = {level: 0 for level in levels}
    for i in baseline:
        for level in levels:
            human[level] += _report_without(real, int(i), level).flagged
    print(
        f"\n| level | planted copies detected (of {planted}) | fresh generated pieces flagged (of {len(pieces)}) "
        f"| corpus pieces flagged against the rest (of {len(baseline)}) |"
    )
    print("| --- | ---: | ---: | ---: |")
    for level in levels:
        print(
            f"| {level.value} | {found[level] / planted:.1%} | {flagged[level] / len(pieces):.1%} "
            f"| {human[level] / len(baseline):.1%} |"
        )


def _report_without(index: Index, piece: int, level: Level):
    from cadenza.provenance.report import report_for_lines

    return report_for_lines(index, index.piece_lines(piece), level, exclude=piece)


if __name__ == "__main__":
    main()
