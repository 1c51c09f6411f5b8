"""The JSB chorale benchmarks, from the committed checkpoints, beside the published figures.

1. jsb16: 16th-note S A T B (Coconet / Music Transformer), nats per token over every
   token of the validation and test pieces.
2. jsb-frames: quarter-note frames (Boulanger-Lewandowski 2012), nats per frame over
   every test frame, the exact likelihood of each frame's set of pitches.

    python bench/bench_jsb.py [--datasets ../shared/datasets]

Prints two Markdown tables; docs/benchmarks.md holds the same lines (a test checks it).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHECKPOINTS = REPO / "bench" / "checkpoints"

# (model, parameters, valid, test), as published
PUBLISHED_JSB16 = [
    ("Coconet (Huang et al. 2017)", "", "0.436", ""),
    ("Music Transformer, relative attention (Huang et al. 2018, Table 1)", "", "≈0.34–0.35", ""),
]
PUBLISHED_FRAMES = [
    ("RNN-NADE (Boulanger-Lewandowski et al. 2012)", "", "", "5.19"),
    ("SRNN (Fraccaro et al. 2016)", "", "", "4.74"),
]
# (folder under bench/checkpoints, task, splits, data file)
OURS = [
    ("jsb16", "jsb16", ("valid", "test"), "Jsb16thSeparated.json"),
    ("jsb-frames", "jsb-frames", ("valid", "test"), "jsb-chorales-quarter.json"),
]
HEADER = "| model | parameters | weights | trained on | training | valid | test |\n|---|---|---|---|---|---|---|"


def _row(cells: tuple[str, ...]) -> str:
    return "| " + " | ".join(cells) + " |"


def training_runs(training: dict) -> list[dict]:
    """The result of each run behind a model, earliest first (a run may start from another's weights)."""
    runs: list[dict] = []
    record: dict | None = training
    while record:
        runs.append(record.get("result", {}))
        record = record.get("init")
    return runs[::-1]


def our_rows(jsb: Path, task: str | None = None) -> list[str]:
    """One Markdown row per committed checkpoint (of ``task``, or all), scored now."""
    from cadenza.models.transformer import TransformerModel
    from cadenza.train.jsb import evaluate_jsb

    rows = []
    for folder_name, kind, splits, data_file in OURS:
        if task is not None and kind != task:
            continue
        folder = CHECKPOINTS / folder_name
        model = TransformerModel.load(folder)
        runs = training_runs(json.loads((folder / "training.json").read_text()))
        scores = {split: f"{evaluate_jsb(model, kind, jsb / data_file, split).nll:.4f}" for split in splits}
        weights_mb = (folder / "model.safetensors").stat().st_size / 1e6
        minutes = " + ".join(f"{r['training_seconds'] / 60:.0f}" for r in runs)
        training = f"{minutes} min, {' + '.join(str(r['step']) for r in runs)} steps"
        hardware = runs[-1]["hardware"]  # every run of a committed model was on one machine (docs say which)
        cells = (
            f"cadenza Transformer (`bench/checkpoints/{folder_name}`)",
            f"{model.num_parameters() / 1e6:.2f} M",
            f"{weights_mb:.1f} MB",
            hardware,
            training,
            scores.get("valid", ""),
            scores.get("test", ""),
        )
        rows.append(_row(cells))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=REPO.parent / "shared" / "datasets")
    args = parser.parse_args()
    jsb = args.datasets / "jsb-chorales"
    if not (jsb / "Jsb16thSeparated.json").exists():
        raise SystemExit(f"no JSB chorales under {jsb}")
    started = time.perf_counter()
    tables = (
        ("## JSB chorales, 16th-note S A T B: nats per token (every token)", PUBLISHED_JSB16, "jsb16"),
        ("## JSB chorales, quarter-note frames: nats per frame (exact set likelihood)", PUBLISHED_FRAMES, "jsb-frames"),
    )
    for number, (title, published, task) in enumerate(tables):
        print(("\n" if number else "") + title + "\n")
        print(HEADER)
        for cells in published:
            print(_row((cells[0], cells[1], "", "", "", cells[2], cells[3])))
        for line in our_rows(jsb, task):
            print(line)
    print(f"\n(evaluated in {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
