"""Training speed of the REMI Transformer: tokens per second and model FLOPs utilisation.

    python bench/bench_train.py --data CORPUS [--config training.json] [--steps 60] [--set train.batch_size=64]

Runs the real trainer (``cadenza.train.trainer.train``: the same data pipeline, AdamW,
bf16 autocast and, with ``--set train.compile=true``, torch.compile on a GPU) for
``--steps`` optimizer steps of the shipped model's settings on a corpus built by
``cadenza data build``, and reads its log. The first ``--skip`` steps (allocation, compilation)
are left out of the rate.

Model FLOPs per token follow PaLM (Chowdhery et al. 2022, appendix B): 6·N for the
weights (N parameters) plus 12·L·d·T for attention (L layers, width d, window T).
Utilisation divides the achieved FLOP/s by the accelerator's dense bf16 peak (H100 and
H200 SXM: 989 TFLOP/s; A100: 312); on a CPU it prints the achieved rate only.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import tempfile
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}


def _peak(device: str) -> tuple[str, float | None]:
    if device != "cuda":
        return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)", None
    name = torch.cuda.get_device_name()
    return name, next((peak for key, peak in PEAK_BF16.items() if key in name), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="A corpus folder from `cadenza data build`.")
    parser.add_argument("--config", type=Path, default=REPO / "cadenza/pretrained/cadenza-transformer/training.json")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--skip", type=int, default=10)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()

    from cadenza.cli_neural import resolve_settings
    from cadenza.data.tokens import load_tokenizer
    from cadenza.models.transformer import TransformerModel
    from cadenza.train.datasets import remi_sequences
    from cadenza.train.tasks import NextTokenTask
    from cadenza.train.trainer import train

    vocab_size = len(load_tokenizer(args.data).vocab)
    overrides = [f"train.steps={args.steps}", f"train.eval_every={args.steps}", "train.max_minutes=0"]
    settings = overrides + args.overrides
    model_config, train_config = resolve_settings(vocab_size, "remi", "default", args.config, settings)
    data = remi_sequences(args.data, "train")
    valid = remi_sequences(args.data, "valid", max_tokens=20_000)
    torch.manual_seed(0)
    model = TransformerModel(model_config)
    with tempfile.TemporaryDirectory() as folder:
        task = NextTokenTask.from_settings(data, valid, model_config.vocab_size, train_config)
        train(model, task, train_config, Path(folder), progress=False)
        with open(Path(folder) / "log.csv") as file:
            rows = [r for r in csv.DictReader(file) if r["train_loss"]]
    first, last = rows[args.skip - 1], rows[-1]
    tokens = float(last["tokens"]) - float(first["tokens"])
    seconds = float(last["seconds"]) - float(first["seconds"])
    rate = tokens / seconds
    parameters = model.num_parameters()
    c = model_config
    flops_per_token = 6 * parameters + 12 * c.n_layer * c.d_model * train_config.window
    device = "cuda" if torch.cuda.is_available() else "cpu"
    name, peak = _peak(device)
    table = Table(title=f"Training the REMI Transformer on {name}; torch {torch.__version__}")
    for column in ("parameters", "batch × window", "steps timed", "tokens/s", "model TFLOP/s", "MFU"):
        table.add_column(column)
    achieved = rate * flops_per_token
    table.add_row(
        f"{parameters:,}",
        f"{train_config.batch_size} × {train_config.window}",
        str(len(rows) - args.skip),
        f"{rate:,.0f}",
        f"{achieved / 1e12:.3f}",
        f"{achieved / peak:.1%}" if peak else "—",
    )
    Console().print(table)
    settings = {"model": model_config.to_dict(), "train": train_config.to_dict()}
    Console().print(f"settings: {json.dumps(settings, sort_keys=True)}")


if __name__ == "__main__":
    main()
