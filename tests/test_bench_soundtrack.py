"""bench/bench_soundtrack.py --quick: every table of issue 15's measures, from files it wrote."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from cadenza.io.audio import synthesizer

REPO = Path(__file__).resolve().parents[1]


def _bench():
    spec = importlib.util.spec_from_file_location("bench_soundtrack", REPO / "bench" / "bench_soundtrack.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # its dataclass looks itself up there
    spec.loader.exec_module(bench)
    return bench


def test_an_out_folder_with_files_in_it_is_refused(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit, match="give a new or empty folder"):
        _bench().main(["--quick", "--out", str(tmp_path)])
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.mark.slow
@pytest.mark.skipif(synthesizer() is None, reason="no synthesizer installed")
def test_quick_prints_every_measure_and_keeps_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench = _bench()
    out = tmp_path / "out"
    bench.main(["--quick", "--out", str(out)])
    printed = capsys.readouterr().out
    for title in ("1. Intensity following", "2. Exact lengths", "3. Hit points", "4a. Loops", "4b. Loops",
                  "5a. Stems", "5b. Each layer", "5c. Per cue", "6. Speed"):  # fmt: skip
        assert title in printed
    for name in bench.QUICK:
        folder = out / name
        assert (folder / "mix.wav").stat().st_size > 0 and (folder / "cue.mid").is_file()
        assert len(list((folder / "stems").glob("*.wav"))) == 5
        assert len(list((folder / "layers").glob("*.mid"))) == 5
        assert name in printed
    loop = next(name for name, sheet in bench.QUICK.items() if sheet.get("loop"))
    seam_rows = [line for line in printed.splitlines() if "first bar, after the last" in line]
    assert any(line.lstrip("│ ").startswith(loop) for line in seam_rows)
