"""bench/bench_service.py: a real ``cadenza serve`` under a small load, every table printed."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_service", REPO / "bench" / "bench_service.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # its dataclasses look themselves up there
    spec.loader.exec_module(bench)
    return bench


@pytest.mark.parametrize("flag", ["--requests", "--workers", "--concurrency"])
def test_a_count_below_one_is_refused_before_anything_starts(flag: str) -> None:
    with pytest.raises(SystemExit, match=f"{flag} must be at least 1"):
        _bench().main([flag, "0"])


def test_nearest_rank_percentiles() -> None:
    bench = _bench()
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert bench.nearest_rank(values, 0.5) == 10.0
    assert bench.nearest_rank(values, 0.95) == 19.0
    assert bench.nearest_rank([3.0], 0.95) == 3.0


@pytest.mark.slow
def test_a_small_run_serves_every_request_and_refuses_the_overflow_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CADENZA_HOME", str(tmp_path / "home"))  # the bench sets its own; restored after
    argv = ["--requests", "2", "--single", "0", "--peer-runs", "1", "--workers", "1", "--queue-limit", "0"]
    _bench().main([*argv, "--max-seconds", "300"])
    printed = capsys.readouterr().out
    for title in ("0. The peer", "1. Generate 30 s of music over HTTP", "2. Overload", "3. Memory"):
        assert title in printed
    rows = [line for line in printed.splitlines() if "1 at a time" in line]
    assert len(rows) == 2  # cadenza-markov, and the default model
    for row in rows:
        cells = [cell.strip() for cell in row.strip("│ ").split("│")]
        asked, done, errors, cut = cells[2:6]
        assert (asked, done, errors, cut) == ("2", "2", "0", "0"), row
        assert cells[-1] == "1/1", row  # seed 0's music.mid over HTTP is the in-process one's bytes
    sent = int(re.search(r"sent at once\s*│\s*(\d+)", printed).group(1))  # type: ignore[union-attr]
    assert sent == 10  # max(10 x 1 worker, 0 + 1 + 4)
    accepted = int(re.search(r"accepted \(202\)\s*│\s*(\d+)", printed).group(1))  # type: ignore[union-attr]
    refused = int(re.search(r"refused: 503\s*│\s*(\d+)", printed).group(1))  # type: ignore[union-attr]
    assert accepted >= 1 and refused >= 1 and accepted + refused == sent
    assert f"one JSON error + Retry-After │ {refused}/{refused}" in re.sub(r" +│ +", " │ ", printed)
    assert re.search(r"other answers \(errors\)\s*│\s*0\s", printed)
    assert "exit code 0; of its" in printed and ", 0 alive 5 s later" in printed


def test_queue_positions_are_shown_with_how_many_answers_showed_each() -> None:
    bench = _bench()
    assert bench._positions([0, 0, 0, *range(1, 20)]) == "0 (x3), 1..19 (x1)"
    assert bench._positions([3, 1, 0, 1]) == "0 (x1), 1 (x2), 3 (x1)"
    assert bench._positions([]) == "—"
