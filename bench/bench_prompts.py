"""How often the prompt reader takes the plan a human reader takes.

    python bench/bench_prompts.py [--prompts bench/prompts.json] [--all]

``bench/prompts.json`` holds realistic prompts (game, film, ad, app, podcast, trailer,
meditation ...) each with the plan written by a person before the reader was tuned:
tempo, seconds, bars, key, meter, instruments and excluded instruments (sorted lists,
empty when silent), loop, style, the signs of valence and arousal (-1 / 0 / 1, 0 when
|value| < 0.1; null when silent), the intensity curve word and the number of sections
(null when silent). The script reads each prompt with
:func:`cadenza.compose.prompt.read_prompt` and prints the share of prompts right per
field, the share of all fields right (goal >= 0.9), and every wrong field (expected vs
read). A prompt the reader refuses counts as wrong on every field. No model, no
randomness: the same figures on every run.

The first prompts were written before the reader, but by the same hand as its lexicon,
so they flatter it; the prompts marked ``"heldout": true`` were written after the
lexicon and committed before the reader was first run on them, and their share is
printed on its own: it is the fairer figure for prompts the reader has not seen.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cadenza.compose.prompt import PromptReading, read_prompt
from cadenza.errors import CadenzaError

FIELDS = (
    "tempo",
    "seconds",
    "bars",
    "key",
    "meter",
    "instruments",
    "exclude_instruments",
    "loop",
    "style",
    "valence_sign",
    "arousal_sign",
    "intensity",
    "sections",
)
GOAL = 0.9


def _sign(value: float | None) -> int | None:
    if value is None:
        return None
    return 0 if abs(value) < 0.1 else (1 if value > 0 else -1)


def plan_of(reading: PromptReading) -> dict[str, object]:
    """The reading in the benchmark's terms."""
    return {
        "tempo": reading.tempo,
        "seconds": reading.seconds,
        "bars": reading.bars,
        "key": reading.key,
        "meter": reading.meter,
        "instruments": sorted(reading.instruments),
        "exclude_instruments": sorted(reading.exclude_instruments),
        "loop": reading.loop,
        "style": reading.style,
        "valence_sign": _sign(reading.valence),
        "arousal_sign": _sign(reading.arousal),
        "intensity": reading.intensity,
        "sections": None if reading.sections is None else len(reading.sections),
    }


def _same(expected: object, read: object) -> bool:
    if isinstance(expected, float | int) and isinstance(read, float | int) and not isinstance(expected, bool):
        return abs(float(expected) - float(read)) < 1e-6
    return expected == read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=Path, default=Path(__file__).with_name("prompts.json"))
    parser.add_argument("--all", action="store_true", help="print every prompt's reading, not only the wrong fields")
    args = parser.parse_args()
    cases = json.loads(args.prompts.read_text(encoding="utf-8"))
    console = Console()

    right = dict.fromkeys(FIELDS, 0)
    heldout = [0, 0]  # fields right, fields
    wrong_rows: list[tuple[str, str, str, str]] = []
    for case in cases:
        expected = case["expect"]
        try:
            plan: dict[str, object] = plan_of(read_prompt(case["prompt"]))
        except CadenzaError as error:
            plan = dict.fromkeys(FIELDS, f"refused: {error}")
        if args.all:
            console.print(case["prompt"], plan)
        for name in FIELDS:
            good = _same(expected[name], plan[name])
            right[name] += good
            if case.get("heldout"):
                heldout[0] += good
                heldout[1] += 1
            if not good:
                wrong_rows.append((case["prompt"], name, json.dumps(expected[name]), json.dumps(plan[name])))

    n = len(cases)
    table = Table(title=f"prompt reader: share of fields right over {n} prompts")
    table.add_column("field")
    table.add_column("right", justify="right")
    table.add_column("share", justify="right")
    for name in FIELDS:
        table.add_row(name, f"{right[name]}/{n}", f"{right[name] / n:.3f}")
    total = sum(right.values())
    overall = total / (n * len(FIELDS))
    table.add_row("[b]all fields[/b]", f"{total}/{n * len(FIELDS)}", f"[b]{overall:.3f}[/b]")
    if heldout[1]:
        table.add_row(
            f"held-out prompts only ({heldout[1] // len(FIELDS)})",
            f"{heldout[0]}/{heldout[1]}",
            f"{heldout[0] / heldout[1]:.3f}",
        )
    console.print(table)

    if wrong_rows:
        wrong = Table(title=f"wrong fields ({len(wrong_rows)})")
        for column in ("prompt", "field", "expected", "read"):
            wrong.add_column(column, overflow="fold")
        for row in wrong_rows:
            wrong.add_row(*row)
        console.print(wrong)
    verdict = "meets" if overall >= GOAL else "misses"
    console.print(f"overall {overall:.3f} of fields right: {verdict} the goal of {GOAL:.2f}")


if __name__ == "__main__":
    main()
