"""Tokens per second of music: the multitrack tokens against today's REMI, on POP909.

    python bench/bench_multitrack_tokens.py [--datasets DIR] [--songs 3]

Each song is read as cadenza's corpus reads it (:func:`cadenza.data.sources.read_file`:
aligned to its annotated 4/4 bars). For each of the first ``--songs`` songs (sorted):
its length in seconds, its notes, and
for each tokenization the tokens, tokens per second and per note. The multitrack count
is split into the note tokens (Pos Pitch Dur Vel) and the per-bar controls (Density
Poly Chord Intensity), which REMI does not carry; REMI's count includes its condition
head (BOS Style Key Mood) as cadenza's corpora write it.
"""

from __future__ import annotations

import argparse
import warnings
from collections import Counter
from pathlib import Path

from cadenza.data.sources import list_files, parse_source_spec, read_file
from cadenza.data.tokens import encode_piece, make_tokenizer
from cadenza.models import multitrack_tokens as mt

NOTE_KINDS = ("Pos", "Pitch", "Dur", "Vel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    parser.add_argument("--songs", type=int, default=3)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    remi = make_tokenizer()
    print(f"vocabulary: multitrack {len(mt.NAMES)}, REMI {len(remi.vocab)}")
    print("song  seconds  notes | multitrack  /s    /note  (notes/note, controls) | REMI    /s    /note")
    totals: Counter[str] = Counter()
    for ref in list_files(parse_source_spec(f"pop909={args.datasets / 'pop909'}"))[: args.songs]:
        score = read_file(ref)[0].score
        seconds = score.to("second").end()
        notes = sum(len(track.notes) for track in score.tracks)
        ids = mt.encode(score, style="pop")
        kinds = Counter(str(mt.KINDS[i]) for i in ids)
        note_tokens = sum(kinds[k] for k in NOTE_KINDS)
        controls = sum(kinds[k] for k in mt.CONTROL_KINDS)
        remi_ids = encode_piece(remi, score, ["Style_pop", "Key_none", "Mood_calm"])
        print(
            f"{Path(ref.path).stem:>4}  {seconds:7.1f}  {notes:5d} | {len(ids):10d} {len(ids) / seconds:5.1f} "
            f"{len(ids) / notes:5.2f}  ({note_tokens / notes:.2f}, {controls:5d})        "
            f"| {len(remi_ids):6d} {len(remi_ids) / seconds:5.1f} {len(remi_ids) / notes:5.2f}"
        )
        totals.update(seconds=seconds, notes=notes, multitrack=len(ids), remi=len(remi_ids))
    if totals["seconds"]:
        print(
            f"all: multitrack {totals['multitrack'] / totals['seconds']:.1f} tokens/s, "
            f"REMI {totals['remi'] / totals['seconds']:.1f} tokens/s "
            f"({totals['multitrack'] / totals['remi'] - 1:+.1%})"
        )


if __name__ == "__main__":
    main()
