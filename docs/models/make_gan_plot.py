"""Draw the critic's Wasserstein estimate over the shipped GAN's training.

    python docs/models/make_gan_plot.py [LOG.jsonl] [-o docs/models/images/cadenza-gan-wasserstein.png]

LOG.jsonl is the log `cadenza train gan` writes into its output folder (one line per
generator step: step, wasserstein, generator_loss, seconds); the shipped model's is
docs/models/cadenza-gan-training.jsonl.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", nargs="?", type=Path, default=HERE / "cadenza-gan-training.jsonl")
    parser.add_argument("-o", "--output", type=Path, default=HERE / "images" / "cadenza-gan-wasserstein.png")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.log.read_text().splitlines() if line.strip()]
    steps = [row["step"] for row in rows]
    window = 25
    estimate = [row["wasserstein"] for row in rows]
    smooth = [
        sum(estimate[max(0, i - window + 1) : i + 1]) / len(estimate[max(0, i - window + 1) : i + 1])
        for i in range(len(rows))
    ]
    figure, axis = plt.subplots(figsize=(8, 3.5), dpi=100)
    axis.plot(steps, estimate, color="#9ecae1", linewidth=0.8, label="critic(real) - critic(fake), each step")
    axis.plot(steps, smooth, color="#08519c", linewidth=1.6, label=f"mean of the last {window} steps")
    axis.set_xlabel("generator step")
    axis.set_ylabel("Wasserstein estimate")
    axis.set_title("cadenza-gan: the critic's Wasserstein estimate over training (WGAN-GP)")
    axis.grid(alpha=0.3)
    axis.legend(loc="upper right", fontsize=8)
    figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
